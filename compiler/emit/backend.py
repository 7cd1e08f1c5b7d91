"""The backend contract, and discovery of backends through the `d2lc.targets` entry-point group.

A backend is mostly data: a name, its imports, an op table (IR op -> emission rule), dtype
spellings, capability flags, its parameter and activation layouts, and the environment its code
runs in. Behaviour that differs beyond the table lives in its `Emitter` subclass.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable

from d2lc.core.types import DType

if TYPE_CHECKING:
    from d2lc.core import ir
    from d2lc.emit.files import FileSpelling
    from d2lc.emit.rules import Rule


@dataclass(frozen=True)
class Layouts:
    """How a framework stores parameters and activations, relative to the IR's canonical layout."""

    dense_weight: str = "out_in"  # "out_in" (torch, MXNet) | "in_out" (Keras, flax)
    conv_kernel: str = "OIHW"  # "OIHW" | "HWIO"
    activations: str = "NCHW"  # "NCHW" | "NHWC"
    recurrent: str = "torch"  # RNN/GRU/LSTM parameters: "torch" | "keras" | "flax" (compiler/harness/canonical.py RECURRENT_LAYOUTS)


@dataclass(frozen=True)
class Environment:
    """Where a backend's generated code runs: a virtual environment made from a requirements file."""

    name: str  # "main" | "mxnet" | ...
    requirements: str  # path relative to the repository root
    packages: tuple[str, ...]  # modules whose import proves the framework is installed


@dataclass(frozen=True)
class HarnessAdapter:
    """Snippets the equivalence workers run: converting NumPy arrays to and from framework tensors."""

    setup: str  # code run once in the worker; may read DEVICE ("cpu" | "gpu")
    to_native: str  # expression over `a` (a NumPy array)
    to_numpy: str  # expression over `t` (a framework tensor)
    env: tuple[tuple[str, str], ...] = ()  # environment variables of the target's worker, set before any import


@dataclass(frozen=True)
class CreationDevice:
    """How a tensor made inside a model's forward is put on its input's device (compiler/emit/devices.py):
    `keyword=<input>.attribute` on each call of `functions` (dotted paths: "torch.zeros", "np.random.normal")."""

    keyword: str  # "device" (PyTorch), "ctx" (MXNet)
    attribute: str  # the input tensor's attribute naming its device
    functions: frozenset[str]


@dataclass
class Backend:
    name: str
    display_name: str
    ops: dict[str, "Rule"]
    dtypes: dict[DType, str]
    imports: dict[str, str]  # root name used in emitted code -> the import statement providing it
    emitter: type  # its `d2lc.emit.base.Emitter` subclass (the emitter reads the backend, not the other way round)
    environment: Environment
    harness: HarnessAdapter
    kernelspec: dict[str, str] = field(default_factory=lambda: {"name": "python3", "display_name": "Python 3", "language": "python"})
    layouts: Layouts = field(default_factory=Layouts)
    aliases: tuple[str, ...] = ()
    # Capabilities: what the shared emitter does differently for this backend.
    cast_operands: frozenset[str] = frozenset()  # ops whose tensor operands are cast to the op's dtype first
    functional_updates: bool = False  # X[i] = v becomes a new array (JAX) instead of an in-place write
    members_are_locals: bool = False  # model members become local names of the forward (flax), not attributes
    member_names: frozenset[str] = frozenset()  # public attributes of its layer base class: no model member takes one
    emitted_names: frozenset[str] = frozenset()  # names its code binds inside functions and models (JAX's `key`)
    # its harness glue lists a model's parameters in the IR's canonical order and layout (`d2lc_describe`): the
    # model checks read that order off it (PyTorch's layout is the IR's)
    describes_models: bool = False
    natural_dtype: Callable[["ir.Op"], DType | None] = lambda op: None  # a creation op's dtype without `dtype=`
    # The dtype each IR dtype is computed in unless the chapter asks for 64-bit dtypes (JAX: int64 -> int32)
    narrow_dtypes: dict[DType, DType] = field(default_factory=dict)
    # A tensor `{x}` as a NumPy array, in the framework's idiom (what figures hand to matplotlib)
    numpy_of: str = "numpy.asarray({x})"
    # How it saves and loads tensors and model parameters (compiler/emit/files.py; None: not supported)
    files: "FileSpelling | None" = None
    # Creation calls that take a device, for tensors a forward makes (None: the framework has a global device)
    creation_device: CreationDevice | None = None

    def supports(self, op: str) -> bool:
        from d2lc.emit.generic import GENERIC  # here, not above: a rebuild from the cache loads no libcst
        from d2lc.emit.rules import Unsupported
        if op in GENERIC:
            return True
        rule = self.ops.get(op)
        return rule is not None and not isinstance(rule, Unsupported)

    def derive(self, **changes: Any) -> "Backend":
        """A backend that inherits everything from this one except what `changes` overrides."""
        return replace(self, **changes)


ENTRY_POINT_GROUP = "d2lc.targets"


def _entry_points_in_order():
    """The installed backends' entry points, built-in ones first, then by name."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (not e.value.startswith("d2lc_targets."), e.name))


@lru_cache(maxsize=1)
def registry() -> dict[str, Backend]:
    """Every installed backend by name, in entry-point order (built-in ones first)."""
    found: dict[str, Backend] = {}
    for ep in _entry_points_in_order():
        try:
            backend = ep.load()
        except Exception as exc:  # a broken plug-in must not take the compiler down with it
            print(f"d2lc: warning: backend '{ep.name}' ({ep.value}) failed to load: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if callable(backend) and not isinstance(backend, Backend):
            backend = backend()
        found[backend.name] = backend
    return found


def get_backend(name: str) -> Backend:
    reg = registry()
    if name in reg:
        return reg[name]
    for b in reg.values():
        if name in b.aliases:
            return b
    raise KeyError(name)


BOOK_ORDER = ("pytorch", "tensorflow", "jax", "mxnet")


def _book_order(names) -> list[str]:
    return sorted(names, key=lambda n: (BOOK_ORDER.index(n) if n in BOOK_ORDER else len(BOOK_ORDER), n))


def target_names() -> list[str]:
    return _book_order(registry())


def entry_point_names() -> list[str]:
    """The names target_names() gives when every backend loads, without loading any (cheap)."""
    return _book_order(ep.name for ep in _entry_points_in_order())
