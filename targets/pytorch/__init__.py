"""PyTorch: eager tensors, `requires_grad_` + `backward()`, channels-first, (out, in) weights."""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.files import FileSpelling
from pathlib import Path

from d2lc.emit.backend import Backend, CreationDevice, Environment, HarnessAdapter, Layouts

from .emitter import PyTorchEmitter
from .members import MEMBER_NAMES
from .ops import OPS, natural_dtype

# The device: try_gpu() picks it in the notebooks, and the harness's --device=gpu setup runs the same helper.
TRY_GPU = (Path(__file__).parent / "snippets" / "try_gpu.py").read_text(encoding="utf-8")
CREATION = frozenset(f"torch.{f}" for f in ("tensor", "arange", "zeros", "ones", "full", "linspace", "eye", "empty",
                                             "normal", "rand", "randn", "randint"))

backend = Backend(
    name="pytorch",
    display_name="PyTorch",
    aliases=("torch",),
    ops=OPS,
    dtypes=dtype_names("torch"),
    imports={"gzip": "import gzip", "hashlib": "import hashlib", "os": "import os",
             "collections": "import collections", "re": "import re", "time.time": "import time", "math": "import math", "pathlib": "import pathlib", "urllib": "import urllib.request", "zipfile": "import zipfile", "pd": "import pandas as pd",
             "numpy": "import numpy", "torch": "import torch",
             "nn": "from torch import nn", "plt": "from matplotlib import pyplot as plt"},
    emitter=PyTorchEmitter,
    member_names=MEMBER_NAMES,
    describes_models=True,
    environment=Environment("main", "envs/main.txt", ("torch",)),
    harness=HarnessAdapter(
        setup="import torch\n"
              "torch.backends.cuda.matmul.allow_tf32 = False\n"
              "torch.backends.cudnn.allow_tf32 = False\n"
              + TRY_GPU + "DEV = try_gpu() if DEVICE == 'gpu' else torch.device('cpu')",
        to_native="torch.from_numpy(a).to(DEV)",
        to_numpy="t.detach().cpu().numpy()",
    ),
    layouts=Layouts(dense_weight="out_in", conv_kernel="OIHW", activations="NCHW", recurrent="torch"),
    cast_operands=frozenset({"mean", "var", "norm", "gelu"}),  # torch has no integer gelu kernel
    natural_dtype=natural_dtype,
    numpy_of="{x}.detach().numpy()",
    creation_device=CreationDevice("device", "device", CREATION),
    files=FileSpelling(
        save="torch.save({x}, {path})", load="torch.load({path})",
        save_seq="torch.save({xs}, {path})", load_seq="torch.load({path})", seq_keeps_tuples=True,
        save_params="torch.save({net}.state_dict(), {path})", load_params="{net}.load_state_dict(torch.load({path}))"),
)
