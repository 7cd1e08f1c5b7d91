"""MXNet (1.9, numpy interface): `np`/`npx` with `npx.set_np()`, `attach_grad` + `autograd.record()`."""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.backend import Backend, Environment, HarnessAdapter, Layouts

from .emitter import MXNetEmitter
from .members import MEMBER_NAMES
from .ops import CAST_OPERANDS, OPS, natural_dtype

backend = Backend(
    name="mxnet",
    display_name="MXNet",
    aliases=("mx",),
    ops=OPS,
    dtypes=dtype_names("np", bool_name="bool_"),
    imports={"gzip": "import gzip", "hashlib": "import hashlib", "os": "import os",
             "re": "import re", "pathlib": "import pathlib", "urllib": "import urllib.request",
             "numpy": "import numpy",
             "np": "from mxnet import np, npx", "npx": "from mxnet import np, npx", "autograd": "from mxnet import autograd",
             "gluon": "from mxnet import gluon", "init": "from mxnet import init", "nn": "from mxnet.gluon import nn", "rnn": "from mxnet.gluon import rnn",
             "plt": "from matplotlib import pyplot as plt"},
    emitter=MXNetEmitter,
    member_names=MEMBER_NAMES,
    environment=Environment("mxnet", "envs/mxnet.txt", ("mxnet",)),
    harness=HarnessAdapter(
        setup="import mxnet as mx\nfrom mxnet import np, npx\nnpx.set_np()\n"
              "CTX = mx.gpu() if DEVICE == 'gpu' else mx.cpu()",
        to_native="np.array(a, dtype=a.dtype, ctx=CTX)",
        to_numpy="t.asnumpy()",
    ),
    layouts=Layouts(dense_weight="out_in", conv_kernel="OIHW", activations="NCHW", recurrent="torch"),
    cast_operands=CAST_OPERANDS,
    natural_dtype=natural_dtype,
    numpy_of="{x}.asnumpy()",
)
