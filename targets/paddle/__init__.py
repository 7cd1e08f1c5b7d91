"""PaddlePaddle 3.x: PyTorch-like eager tensors, `stop_gradient` + `backward()`, channels-first, (in, out) weights.

Derived from the PyTorch backend; the op table is the shared base table plus Paddle's differences
(see ops.py); names, dtypes, imports, gradients, layouts and the environment are Paddle's own.
"""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.files import FileSpelling
from d2lc.emit.backend import Environment, HarnessAdapter, Layouts
from d2lc_targets.pytorch import backend as torch_backend

from .emitter import PaddleEmitter
from .members import MEMBER_NAMES
from .ops import CAST_OPERANDS, OPS, natural_dtype

backend = torch_backend.derive(
    name="paddle",
    display_name="PaddlePaddle",
    aliases=("paddlepaddle",),
    ops=OPS,
    dtypes=dtype_names("paddle"),
    imports={"gzip": "import gzip", "hashlib": "import hashlib", "os": "import os",
             "pathlib": "import pathlib", "urllib": "import urllib.request", "zipfile": "import zipfile", "pd": "import pandas as pd",
             "collections": "import collections", "re": "import re", "time.time": "import time", "math": "import math", "numpy": "import numpy", "paddle": "import paddle",
             "nn": "from paddle import nn", "plt": "from matplotlib import pyplot as plt"},
    emitter=PaddleEmitter,
    member_names=MEMBER_NAMES,
    describes_models=False,  # its dense weights are (in, out), not the IR's layout
    environment=Environment("paddle", "envs/paddle.txt", ("paddle",)),
    harness=HarnessAdapter(
        setup="import paddle\npaddle.set_device('gpu' if DEVICE == 'gpu' else 'cpu')",
        to_native="paddle.to_tensor(a)",
        to_numpy="t.numpy()",
    ),
    # nn.Linear stores its weight as [in_features, out_features]; Conv2D's as [out, in, kh, kw].
    layouts=Layouts(dense_weight="in_out", conv_kernel="OIHW", activations="NCHW", recurrent="torch"),
    cast_operands=CAST_OPERANDS,
    natural_dtype=natural_dtype,
    numpy_of="{x}.numpy()",
    files=FileSpelling(
        save="paddle.save({x}, {path})", load="paddle.load({path})",
        save_seq="paddle.save({xs}, {path})", load_seq="paddle.load({path})", seq_keeps_tuples=True,
        save_params="paddle.save({net}.state_dict(), {path})", load_params="{net}.set_state_dict(paddle.load({path}))"),
)
