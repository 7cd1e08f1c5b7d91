"""The lowering's shared state: scopes and symbols, reserved names, and the base every lowering concern builds on.

The `Lowerer` (front/lower.py) is composed of one mixin per concern (statements, expressions, indexing, calls,
models); each reads and writes the state kept here and calls the others through the hooks declared below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from d2lc.front import ast as A
from d2lc.core import ir
from d2lc.core.diagnostics import DiagnosticBag, Loc
from d2lc.core.layers import DATASETS, LAYERS, LOSSES, OPTIMIZERS, SCHEDULES
from d2lc.core.plots import PLOTS
from d2lc.core.ops import FUNCTIONS
from d2lc.core.types import ANY, DTYPE_NAMES, Type

BUILTIN_NAMES = set(FUNCTIONS) | {"grad", "range", "float", "int", "print"} | set(DTYPE_NAMES) \
    | set(DATASETS) | set(LAYERS) | set(LOSSES) | set(OPTIMIZERS) | set(SCHEDULES) | set(PLOTS) | {"param", "train"}
# Names the emitted code or the DSL itself relies on; other built-ins (mean, var, max, ...) may be shadowed.
RESERVED_BUILTINS = {"print", "range", "len", "float", "int", "grad", "train", "param", "seed"} | set(DTYPE_NAMES) \
    | set(DATASETS) | set(LAYERS) | set(LOSSES) | set(OPTIMIZERS) | set(SCHEDULES) | set(PLOTS)
# the hint of every error that finds a table where a tensor is needed
TO_TENSOR = "convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns"
RESERVED = {"model", "def", "for", "while", "in", "if", "elif", "else", "return", "pass", "break", "continue", "and", "or", "not"}


@dataclass
class Symbol:
    type: Type
    const: Any = None  # a statically known Python value, if any
    func: ir.FuncDef | None = None
    layer: ir.Layer | None = None  # the built-in layer a name holds (`pool = MaxPool2d(3)`), for calls outside models
    instance: ir.NewModel | None = None  # the model instance a top-level name holds, for reading its parameters


@dataclass
class Scope:
    symbols: dict[str, Symbol] = field(default_factory=dict)
    parent: "Scope | None" = None
    func: ir.FuncDef | None = None

    def lookup(self, name: str) -> Symbol | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.symbols:
                return scope.symbols[name]
            scope = scope.parent
        return None

    def names(self) -> set[str]:
        out: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            out |= set(scope.symbols)
            scope = scope.parent
        return out


def article(word: object) -> str:
    """`word` with its indefinite article: "an int64 tensor", "a float32 tensor"."""
    text = str(word)
    return ("an " if text[:1].lower() in "aeiou" and text[:1] else "a ") + text

class LowererBase:
    """The state of lowering one chapter (all cells share one top-level scope, as in a notebook)."""

    def __init__(self, diags: DiagnosticBag):
        self.diags = diags
        self.globals = Scope()
        self.scope = self.globals
        self.functions: dict[str, ir.FuncDef] = {}
        self.models: dict[str, ir.ModelDef] = {}
        self.current_model: ir.ModelDef | None = None
        self._in_loop = 0
        self._loop_scopes: list = []  # the scope of each `for`/`while` being lowered, innermost last (`break`)
        self.bound_optimizers: dict[str, ir.BoundOptimizer] = {}  # top-level names holding one (lower_loops)
        self.model_asts: dict[str, A.ModelDef] = {}  # for shape checking through model boundaries (models.probe_forward)
        self.probe_depth = 0
        self.layer_inputs: dict[int, tuple] = {}  # id(layer) -> (input size, loc, layer) of its first use
        self.func_asts: dict[str, tuple] = {}  # def name -> (its AST, the scope it was defined in), for specialisation
        self.lambdas: dict[str, tuple] = {}  # a lambda's FuncType name -> (its AST, the scope it closes over)
        self.specialising: list[str] = []  # the calls being specialised now (lower_funcs), innermost last
        self.lambda_nodes: dict[str, tuple] = {}  # a lambda's FuncType name -> (its IR node, (types, call) once typed)
        self.untyped_bodies: dict[str, tuple] = {}  # untyped def name -> (its body's types, the body, the def) (lower_funcs)
        self.specialised: dict[str, tuple] = {}  # def name -> (the types its emitted body has, the call that set them)
        self.saved: dict[str, Loc] = {}  # `@save` definitions: name -> the marker's place
        self.files: dict[str, tuple] = {}  # a file `save`d or `save_params`d -> (kind, type, loc of the save), lower_files
        self.importing = False  # lowering another section's saved definitions (read.lower_chapter's `saved`)

    # ---- errors ------------------------------------------------------------------------------
    def error(self, loc: Loc, message: str, expected: str | None = None, hint: str | None = None) -> ir.Expr:
        self.diags.error(loc, message, expected, hint)
        return ir.Const(ANY, loc, None)

    def save_marker(self, s: "A.FuncDef | A.ModelDef") -> bool:
        """Whether a definition carries `@save` (it goes into the book's library); misplaced or unknown markers are errors."""
        kind = "model" if isinstance(s, A.ModelDef) else "def"
        save = False
        if self.importing:  # saved by its own section, which checked the marker
            return False
        for name, loc in s.decorators:
            if name != "save":
                self.error(loc, f"unknown marker `@{name}` on `{kind} {s.name}`", expected="`@save`",
                           hint="`@save` is the one marker: it puts the definition into the book's helper library")
            elif save:
                self.error(loc, f"`@save` given twice on `{kind} {s.name}`", expected="one `@save` line",
                           hint="remove the second marker")
            elif self.scope is not self.globals or self.current_model is not None:
                self.error(loc, f"`@save` on `{kind} {s.name}`, which is not at the top level of its cell",
                           expected="a marker on a top-level `def` or `model`",
                           hint="only whole top-level definitions go into the library; move the marker to the outermost one")
            elif self.saved.get(s.name) == loc:  # the same definition lowered again (a model probed for sizes)
                save = True
            elif s.name in self.saved:
                first = self.saved[s.name]
                self.error(loc, f"`{s.name}` is saved twice in this chapter (first at line {first.line})",
                           expected="one saved definition per name",
                           hint="remove one of the `@save` markers, or rename one of the definitions")
            else:
                save = True
                self.saved[s.name] = loc
        return save

    # ---- hooks, each provided by one concern's mixin -------------------------------------------------
    def block(self, stmts: list[A.Node]) -> list[ir.Stmt]:
        raise NotImplementedError  # statements (lower_stmts.py)

    def reserved_word(self, name: str, loc: Loc) -> bool:
        raise NotImplementedError  # statements

    def stmt_FuncDef(self, s: A.FuncDef, scope_parent: "Scope | None" = None, register: bool = True) -> ir.Stmt | None:
        raise NotImplementedError  # statements

    def ann_type(self, ann: A.TypeAnn, default: ir.Expr | None = None) -> Type:
        raise NotImplementedError  # statements (a bare `tuple` takes its default's type)

    def expr(self, e: A.Node) -> ir.Expr:
        raise NotImplementedError  # expressions (lower_exprs.py)

    def index_assign(self, target: A.Subscript, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        raise NotImplementedError  # indexing (lower_index.py)

    def call_op(self, op: str, pos: list[ir.Expr], e: A.Call, shown: str) -> ir.Expr:
        raise NotImplementedError  # op binding and typing (lower.py)

    def apply(self, op: str, args: dict[str, Any], loc: Loc) -> ir.Expr:
        raise NotImplementedError  # op binding and typing

    def _call_user(self, fdef: ir.FuncDef, e: A.Call, lowered: list[ir.Expr] | None = None) -> ir.Expr:
        raise NotImplementedError  # calls (lower_calls.py)

    def specialise(self, fdef: ir.FuncDef, args: list[ir.Expr], e: A.Call, result: Type, keep: bool = True) -> Type:
        raise NotImplementedError  # function values (lower_funcs.py)

    def settle_untyped_bodies(self) -> None:
        raise NotImplementedError  # lower_funcs.py

    def call_value(self, callee: ir.Expr, e: A.Call) -> ir.Expr:
        raise NotImplementedError  # function values
