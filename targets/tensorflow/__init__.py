"""TensorFlow 2: eager tensors, `tf.GradientTape`, `tf.Variable` for element writes, channels-last."""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.files import FileSpelling
from d2lc.emit.backend import Backend, Environment, HarnessAdapter, Layouts

from .emitter import TensorFlowEmitter
from .members import MEMBER_NAMES
from .ops import CAST_OPERANDS, OPS, natural_dtype

backend = Backend(
    name="tensorflow",
    display_name="TensorFlow",
    aliases=("tf",),
    ops=OPS,
    dtypes=dtype_names("tf"),
    imports={"gzip": "import gzip", "hashlib": "import hashlib", "os": "import os",
             "collections": "import collections", "re": "import re", "time.time": "import time", "pathlib": "import pathlib", "urllib": "import urllib.request", "zipfile": "import zipfile", "pd": "import pandas as pd",
             "numpy": "import numpy", "tf": "import tensorflow as tf",
             "plt": "from matplotlib import pyplot as plt"},
    emitter=TensorFlowEmitter,
    member_names=MEMBER_NAMES,
    emitted_names=frozenset({"training"}),  # Keras's call(training=...)
    environment=Environment("main", "envs/main.txt", ("tensorflow",)),
    harness=HarnessAdapter(
        setup="import os\nos.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')\nimport tensorflow as tf\n"
              "tf.config.experimental.enable_tensor_float_32_execution(False)",
        to_native="tf.constant(a)",
        to_numpy="t.numpy()",
    ),
    layouts=Layouts(dense_weight="in_out", conv_kernel="HWIO", activations="NHWC", recurrent="keras"),
    cast_operands=CAST_OPERANDS,
    natural_dtype=natural_dtype,
    numpy_of="{x}.numpy()",
    files=FileSpelling(
        save="numpy.save({path}, {x})", load="tf.constant(numpy.load({path}))", tensor_suffix=".npy",
        save_seq="numpy.savez({path})", seq_as_args=True, seq_suffix=".npz",
        load_seq="[tf.constant({a}) for {a} in numpy.load({path}).values()]",
        save_params="{net}.save_weights({path})", load_params="{net}.load_weights({path})",
        params_suffix=".weights.h5"),
)
