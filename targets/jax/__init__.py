"""JAX: `jax.numpy`, pure functions with `jax.grad`, `.at[].set` updates, explicit PRNG keys, channels-last."""
from d2lc.emit.dtypes import dtype_names
from d2lc.emit.files import FileSpelling
from d2lc.emit.backend import Backend, Environment, HarnessAdapter, Layouts
from d2lc.core.types import DType

from .emitter import JaxEmitter
from .members import MEMBER_NAMES
from .ops import CAST_OPERANDS, OPS

backend = Backend(
    name="jax",
    display_name="JAX",
    ops=OPS,
    dtypes=dtype_names("jnp", bool_name="bool_"),
    imports={"functools": "import functools", "gzip": "import gzip", "hashlib": "import hashlib", "os": "import os",
             "collections": "import collections", "re": "import re", "time.time": "import time", "pathlib": "import pathlib", "urllib": "import urllib.request", "zipfile": "import zipfile", "pd": "import pandas as pd",
             "numpy": "import numpy", "jax": "import jax",
             "jnp": "from jax import numpy as jnp", "nn": "from flax import linen as nn", "optax": "import optax",
             "traverse_util": "from flax import traverse_util", "serialization": "from flax import serialization",
             "plt": "from matplotlib import pyplot as plt"},
    emitter=JaxEmitter,
    member_names=MEMBER_NAMES,
    # the PRNG key threading and the training flag of the emitted flax code
    emitted_names=frozenset({"key", "subkey", "subkey2", "subkey3", "subkey4", "init_key", "dropout_key", "rng",
                             "training"}),
    environment=Environment("main", "envs/main.txt", ("jax", "flax", "optax")),
    harness=HarnessAdapter(
        setup="import jax\nfrom jax import numpy as jnp\n"
              "jax.config.update('jax_default_matmul_precision', 'highest')\n"
              "jax.config.update('jax_platforms', 'cuda' if DEVICE == 'gpu' else 'cpu')",
        to_native="jnp.asarray(a)",
        to_numpy="__import__('numpy').asarray(t)",
    ),
    layouts=Layouts(dense_weight="in_out", conv_kernel="HWIO", activations="NHWC", recurrent="flax"),
    cast_operands=CAST_OPERANDS,
    functional_updates=True, members_are_locals=True,
    # Without 64-bit mode (off by default, and only switched on for chapters that ask for 64-bit
    # dtypes explicitly) JAX computes int64 as int32 and float64 as float32.
    narrow_dtypes={DType.int64: DType.int32, DType.float64: DType.float32},
    files=FileSpelling(
        save="jnp.save({path}, {x})", load="jnp.load({path})", tensor_suffix=".npy",
        save_seq="numpy.savez({path})", seq_as_args=True, seq_suffix=".npz",
        load_seq="[jnp.asarray({a}) for {a} in numpy.load({path}).values()]",
        # the model's flax variables (JaxParams.params_file passes them as {net})
        save_params="pathlib.Path({path}).write_bytes(serialization.to_bytes({net}))",
        load_params="serialization.from_bytes({net}, pathlib.Path({path}).read_bytes())"),
)
