"""MXNet (1.9, numpy interface): `np`/`npx` with `npx.set_np()`, `attach_grad` + `autograd.record()`."""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.files import FileSpelling
from pathlib import Path

from d2lc.emit.backend import Backend, CreationDevice, Environment, HarnessAdapter, Layouts

from .emitter import MXNetEmitter
from .members import MEMBER_NAMES
from .ops import CAST_OPERANDS, OPS, natural_dtype

# The device: try_gpu() picks it in the notebooks, and the harness's --device=gpu setup runs the same helper.
TRY_GPU = (Path(__file__).parent / "snippets" / "try_gpu.py").read_text(encoding="utf-8")
CREATION = frozenset({*(f"np.{f}" for f in ("array", "arange", "zeros", "ones", "full", "linspace", "eye")),
                      *(f"np.random.{f}" for f in ("normal", "uniform", "randint"))})

backend = Backend(
    name="mxnet",
    display_name="MXNet",
    aliases=("mx",),
    ops=OPS,
    dtypes=dtype_names("np", bool_name="bool_"),
    imports={"gzip": "import gzip", "hashlib": "import hashlib", "mx": "import mxnet as mx", "os": "import os",
             "collections": "import collections", "re": "import re", "time.time": "import time", "pathlib": "import pathlib", "urllib": "import urllib.request", "zipfile": "import zipfile", "pd": "import pandas as pd",
             "numpy": "import numpy",
             "np": "from mxnet import np, npx", "npx": "from mxnet import np, npx", "autograd": "from mxnet import autograd",
             "gluon": "from mxnet import gluon", "init": "from mxnet import init", "nn": "from mxnet.gluon import nn", "rnn": "from mxnet.gluon import rnn",
             "plt": "from matplotlib import pyplot as plt"},
    emitter=MXNetEmitter,
    member_names=MEMBER_NAMES,
    environment=Environment("mxnet", "envs/mxnet.txt", ("mxnet",)),
    harness=HarnessAdapter(
        setup="import mxnet as mx\nfrom mxnet import np, npx\nnpx.set_np()\n"
              + TRY_GPU + "CTX = try_gpu() if DEVICE == 'gpu' else mx.cpu()",
        to_native="np.array(a, dtype=a.dtype, ctx=CTX)",
        to_numpy="t.asnumpy()",
        # The threaded engine hands every op to another thread and syncs each input's copy (1.6 ms of an
        # example's 2.5 ms); the naive engine runs ops where they are called, to the same values.
        env=(("MXNET_ENGINE_TYPE", "NaiveEngine"),),
    ),
    layouts=Layouts(dense_weight="out_in", conv_kernel="OIHW", activations="NCHW", recurrent="torch"),
    cast_operands=CAST_OPERANDS,
    natural_dtype=natural_dtype,
    numpy_of="{x}.asnumpy()",
    creation_device=CreationDevice("ctx", "ctx", CREATION),
    files=FileSpelling(
        save="npx.save({path}, {x})", load="npx.load({path})[0]",  # npx.load gives back a list
        save_seq="npx.save({path}, {xs})", load_seq="npx.load({path})",
        save_params="{net}.save_parameters({path})", load_params="{net}.load_parameters({path})"),
)
