"""The typed IR. Every expression carries its static type (dtype + symbolic shape for tensors).

Statements keep the author's structure and variable names, so that each backend can emit code
that reads like hand-written code; ops are named, framework-neutral operations whose
semantics are defined once in `d2lc.core.ops`.

Over 500 lines: the node types are one vocabulary that every stage reads as `ir.X`, and the walkers
must know every node kind; splitting them would make the walkers import the nodes back (a cycle).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from d2lc.core.diagnostics import Loc
from d2lc.core.types import ScalarType, Type


@dataclass(eq=False)
class Expr:
    type: Type
    loc: Loc


@dataclass(eq=False)
class Const(Expr):
    value: Any  # int | float | bool | str | None | DType


@dataclass(eq=False)
class Var(Expr):
    name: str


@dataclass(eq=False)
class Seq(Expr):
    items: list[Expr]
    kind: str = "tuple"  # "tuple" | "list"


@dataclass(eq=False)
class Op(Expr):
    """A framework-neutral operation; `args` maps the op's parameter names to values (None = default)."""

    op: str
    args: dict[str, Any]

    def arg(self, name: str) -> Any:
        return self.args.get(name)

    def tensor_args(self) -> Iterator[Expr]:
        for value in self.args.values():
            if isinstance(value, Expr):
                yield value
            elif isinstance(value, (list, tuple)):
                yield from (v for v in value if isinstance(v, Expr))


@dataclass(eq=False)
class IndexSlice:
    start: Expr | None
    stop: Expr | None
    step: Expr | None


@dataclass(eq=False)
class IndexEllipsis:
    pass


IndexItem = Any  # Expr | IndexSlice | IndexEllipsis


@dataclass(eq=False)
class CallFunc(Expr):
    """A call of a function defined in the chapter."""

    func: str
    args: list[Expr]


@dataclass(eq=False)
class Lambda(Expr):
    """`lambda x, y: body`, a function value (type FuncType). Its body is typed again at each call through it."""

    params: list[str]
    body: Expr


@dataclass(eq=False)
class Grad(Expr):
    """d y / d wrt. `slice` (filled by the autodiff pass) recomputes y from wrt, in order."""

    y: Expr
    wrt: Var
    slice: list["Stmt"] = field(default_factory=list)
    # Set by the autodiff pass when the slice is a run of consecutive statements in one block that no
    # earlier grad claimed: a backend may then record it where it stands (a tape, autograd.record())
    # instead of recomputing it at the grad site.
    inplace: bool = False


# ---- statements -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Comments:
    """The author's comments around one statement (or model member, layer loop or append), as written
    (`# ...`): whole lines above it, the end of its own line, and, for a cell's last statement, whole lines after it."""

    before: tuple[str, ...] = ()
    trailing: str | None = None
    after: tuple[str, ...] = ()


@dataclass(eq=False)
class Stmt:
    loc: Loc
    comments: Comments | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class Assign(Stmt):
    name: str
    value: Expr


@dataclass(eq=False)
class Unpack(Stmt):
    """`a, b = value`: binds each name to one item of a tuple value (its arity checked when lowering)."""

    names: list[str]
    value: Expr


@dataclass(eq=False)
class IndexAssign(Stmt):
    name: str
    target_type: Type
    index: list[IndexItem]
    value: Expr
    slot_type: Type | None = None  # the type of X[index]
    may_alias: bool = False  # set by the aliasing pass: another name may share this tensor's memory


@dataclass(eq=False)
class ExprStmt(Stmt):
    value: Expr


@dataclass(eq=False)
class Param:
    name: str
    type: Type
    default: Expr | None
    loc: Loc


@dataclass(eq=False)
class FuncDef(Stmt):
    name: str
    params: list[Param]
    result: Type
    body: list[Stmt]
    save: bool = False


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class For(Stmt):
    """`for var in range(...)` (iter: a `range` Op), or `for var in xs` / `for a, b in pairs` over a tuple, a list,
    `enumerate(xs)` or `zip(xs, ys)` (iter: that value; `names`: the unpacked loop variables, var = names[0])."""

    var: str
    iter: Expr
    body: list[Stmt]
    names: list[str] = field(default_factory=list)

    @property
    def over_range(self) -> bool:
        return isinstance(self.iter, Op) and self.iter.op == "range"

    @property
    def loop_vars(self) -> list[str]:
        return self.names or [self.var]


@dataclass(eq=False)
class While(For):
    """`while cond:`: a loop whose `iter` is its condition (a bool, or a rank-0 bool tensor, read as `if` reads one),
    with no loop variable; every pass that handles a `for` loop's body handles it as one (`var` is empty)."""

    @property
    def over_range(self) -> bool:
        return False

    @property
    def loop_vars(self) -> list[str]:
        return []


def bound_names(s: "Stmt") -> list[str]:
    """The names one statement binds itself (not those of the statements in its body)."""
    if isinstance(s, (Assign, IndexAssign)):
        return [s.name]
    if isinstance(s, Unpack):
        return list(s.names)
    if isinstance(s, For):
        return s.loop_vars
    return []


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    body: list[Stmt]
    orelse: list[Stmt]


@dataclass(eq=False)
class Pass(Stmt):
    pass


@dataclass(eq=False)
class Jump(Stmt):
    """`break` or `continue` (kind) in a loop at the top level or in a function."""
    kind: str


# ---- a chapter ---------------------------------------------------------------------------------
@dataclass
class Cell:
    """One notebook cell: Markdown prose, or DSL code lowered to IR statements."""

    kind: str  # "markdown" | "code"
    source: str
    stmts: list[Stmt] = field(default_factory=list)
    only: tuple[str, ...] | None = None  # targets this cell is for; None = every target
    line: int = 1
    tags: tuple[str, ...] = ()
    saved_from: str | None = None  # a definition another section saved (`@save`), seen here so this one can use it


@dataclass
class Module:
    """A compiled chapter (or a standalone set of functions, for the equivalence harness)."""

    path: str
    title: str
    cells: list[Cell]
    functions: dict[str, FuncDef] = field(default_factory=dict)
    features: set[str] = field(default_factory=set)  # e.g. "random", "x64", "grad" (set by passes)
    renamed: dict[str, str] = field(default_factory=dict)  # author's name -> emitted name (names.rename_reserved)

    def stmts(self) -> Iterator[Stmt]:
        for cell in self.cells:
            yield from cell.stmts


def walk_exprs(node: Any) -> Iterator[Expr]:
    """Every expression inside a statement or expression, depth first."""
    if isinstance(node, Expr):
        yield node
        if isinstance(node, Op):
            for v in node.args.values():
                yield from walk_exprs(v)
        elif isinstance(node, Seq):
            for v in node.items:
                yield from walk_exprs(v)
        elif isinstance(node, CallFunc):
            for v in node.args:
                yield from walk_exprs(v)
        elif isinstance(node, Grad):
            yield from walk_exprs(node.y)
            yield from walk_exprs(node.wrt)
        elif isinstance(node, Lambda):
            yield from walk_exprs(node.body)
        elif isinstance(node, (Layer, Construct)):
            for v in node.args.values():
                yield from walk_exprs(v)
            if isinstance(node, BoundOptimizer):
                yield from walk_exprs(node.net)
            yield from walk_exprs(getattr(node, "children", []))
        elif isinstance(node, LayerList):
            for st in list_steps(node.steps):
                yield from walk_exprs(st.value if isinstance(st, LayerAppend) else st.iter)
        elif isinstance(node, (SubLayer, ParamRef, NumParams, ShowModel, ParamsFile)):
            yield from walk_exprs(node.root)
        elif isinstance(node, ParamGrad):
            yield from walk_exprs(node.y)
            yield from walk_exprs(node.param)
        elif isinstance(node, (ApplyLayer, NewModel, CallModel)):
            yield from walk_exprs(node.args)
            if isinstance(node, NewModel):
                yield from walk_exprs(list(node.kwargs.values()))
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from walk_exprs(v)
    elif isinstance(node, IndexSlice):
        for v in (node.start, node.stop, node.step):
            yield from walk_exprs(v)
    elif isinstance(node, Stmt):
        for name in ("target", "value", "index", "cond", "iter", "net", "data", "epochs"):
            if hasattr(node, name):
                yield from walk_exprs(getattr(node, name))
        for name in ("body", "orelse"):
            for s in getattr(node, name, []) or []:
                yield from walk_exprs(s)


def own_exprs(stmt: Stmt) -> Iterator[Expr]:
    """The expressions of one statement, not those of the statements nested in its body or orelse
    (with walk_stmts, every expression once: walk_exprs on each statement would revisit the bodies)."""
    for name in ("target", "value", "index", "cond", "iter", "net", "data", "epochs"):
        if hasattr(stmt, name):
            yield from walk_exprs(getattr(stmt, name))


def walk_stmts(stmts: list[Stmt]) -> Iterator[Stmt]:
    for s in stmts:
        yield s
        for name in ("body", "orelse"):
            yield from walk_stmts(getattr(s, name, []) or [])


# ---- models and training ---------------------------------------------------------------------
@dataclass(eq=False)
class Init:
    """A parameter initialiser: normal(mean, std), uniform(low, high), zeros, ones, xavier, constant(value)."""

    kind: str
    args: dict[str, Any] = field(default_factory=dict)
    loc: Loc | None = None


@dataclass(eq=False)
class Layer(Expr):
    """A layer constructor, e.g. Linear(10), Conv2d(6, kernel=5, padding=2), Sequential(a, b).

    `init` and `bias_init` are the initialisers the source states (None: not stated); see `inits()`."""

    kind: str
    args: dict[str, Any]
    children: list["Layer | Expr"] = field(default_factory=list)
    init: Init | None = None
    bias_init: Init | None = None

    @property
    def stated(self) -> bool:
        """Whether the source states an initialiser for this layer (else the language's defaults apply)."""
        return self.init is not None or self.bias_init is not None

    @property
    def has_bias(self) -> bool:
        bias = self.args.get("bias")
        return self.kind in ("Linear", "Conv2d") and not (isinstance(bias, Const) and bias.value is False)

    def inits(self, zero_bias_default: bool = True) -> dict[str, Init]:
        """{"weight": ..., "bias": ...}: the initialisers a backend must emit for this layer: the stated ones, else
        the language's defaults (layers.DEFAULT_INITS). A zero bias, stated or by default, is left out where the
        framework's layers start their biases at zero (`zero_bias_default`)."""
        from d2lc.core.layers import DEFAULT_INITS
        defaults = DEFAULT_INITS.get(self.kind, {})
        out: dict[str, Init] = {}
        weight = self.init or (Init(defaults["weight"][0], _consts(defaults["weight"][1], self.loc), self.loc)
                               if "weight" in defaults else None)
        if weight is not None:
            out["weight"] = weight
        if self.bias_init is not None:
            out["bias"] = self.bias_init
        elif self.has_bias and not zero_bias_default and (self.init is not None or "bias" in defaults):
            out["bias"] = Init("zeros", {}, self.loc)  # stated init= implies a zero bias; so does the default
        return out


def _consts(args: dict[str, float], loc: Loc | None) -> dict[str, "Const"]:
    from d2lc.core.types import FLOAT
    return {k: Const(FLOAT, loc, v) for k, v in args.items()}


@dataclass(eq=False)
class ParamDecl(Expr):
    """A parameter made from scratch: param(shape, init=...); `trainable=False` makes a constant tensor of the model
    (drawn once, loaded and saved with it, never updated by training nor counted by num_params)."""

    shape: Expr
    init: Init
    trainable: bool = True


@dataclass(eq=False)
class ApplyLayer(Expr):
    """Applying a model member (layer, nested model) to inputs inside forward."""

    member: str
    args: list[Expr]


@dataclass(eq=False)
class Member:
    name: str
    value: Expr  # Layer | ParamDecl | an instance of another model (NewModel) | a plain value
    loc: Loc
    comments: Comments | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class LayerAppend:
    """`blocks.append(value)` in a model body: `value` is a built-in layer (an ir.Layer) or a model instance (NewModel)."""

    value: Expr
    loc: Loc
    comments: Comments | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class LayerLoop:
    """A `for` loop of a model body that appends to a layer list. `var` is its loop variable and `iter` is `range(...)`
    over ints known when the model is built (hyperparameters); or, with `names` (`for num_convs, channels in arch:`),
    `iter` is the Var of a tuple hyperparameter whose type fixes the number of passes, `var` the first name."""

    var: str
    iter: Expr
    body: list["LayerAppend | LayerLoop"]
    loc: Loc
    names: tuple[str, ...] = ()  # `for num_convs, channels in arch:` over a tuple hyperparameter (`iter` its Var)
    comments: Comments | None = field(default=None, kw_only=True)


@dataclass(eq=False)
class LayerList(Expr):
    """A model member list of layers or model instances: `blocks = []` and its appends, in the model body's loops
    (a list literal `[Linear(8), ReLU()]` is its appends). Held by `Sequential(*blocks)` or iterated in forward."""

    steps: list[LayerAppend | LayerLoop]


def list_steps(steps: list[LayerAppend | LayerLoop]) -> Iterator[LayerAppend | LayerLoop]:
    """Every append and loop of a layer list, depth first."""
    for st in steps:
        yield st
        if isinstance(st, LayerLoop):
            yield from list_steps(st.body)


@dataclass(eq=False)
class ModelDef(Stmt):
    name: str
    hparams: list[Param]
    members: list[Member]
    forward: FuncDef
    save: bool = False  # marked `@save`: it goes into the book's helper library


@dataclass(eq=False)
class NewModel(Expr):
    model: str
    args: list[Expr]
    kwargs: dict[str, Expr] = field(default_factory=dict)


@dataclass(eq=False)
class CallModel(Expr):
    """Calling a model instance, or a built-in layer held by a name, on inputs (outside models and training)."""

    instance: Expr
    args: list[Expr]
    layer: "Layer | None" = None  # the built-in layer the instance holds, when it is one


@dataclass(eq=False)
class Construct(Expr):
    """A library value: data sets (synthetic_regression, fashion_mnist), optimizers (SGD, Adam), losses."""

    kind: str
    args: dict[str, Any]


@dataclass(eq=False)
class Train(Stmt):
    """train(net, data, loss=..., optimizer=..., epochs=..., clip=...)"""

    net: Expr
    data: Expr
    loss: Construct
    optimizer: Construct
    epochs: Expr
    clip: Expr | None = None
    model: "ModelDef | None" = None


@dataclass(eq=False)
class BoundOptimizer(Construct):
    """`opt = SGD(net, lr=0.1)`: an optimizer (kind and arguments as a `Construct`'s) bound to the parameters of the
    model instance `net`, with its own state (momentum buffers, step counts); stepped by a `StepLoop`."""

    net: "Var | None" = None


@dataclass(eq=False)
class StepLoop(For):
    """`for X, y in data.train:` whose body computes a loss from the model's calls and ends with `opt.step(loss)`:
    `iter` is the data set, `body` the loss's statements (the step left out), `value` the loss, `opt` the name of the
    bound optimizer and `net` its model. Each target writes its own training step (docs/dsl.md, "Training loops")."""

    value: "Expr | None" = None
    opt: str = ""
    net: "Var | None" = None
    optimizer: "BoundOptimizer | None" = None


@dataclass(eq=False)
class PathStep:
    """A step to a sub-layer (`.member`, `[index]` of the Sequential `parent`) reaching `node` (a layer, a model instance,
    a param), built by the model `owner` (None: the top-level value itself: the first step, or a top-level Sequential's)."""

    member: str | None
    index: int | None
    node: Expr
    owner: "ModelDef | None"
    parent: "Layer | None" = None


@dataclass(eq=False)
class SubLayer(Expr):
    """`net.out`, `net.net[2]`, read at top level: only the base of a parameter read (`.weight`)."""
    root: Var
    steps: list[PathStep]


@dataclass(eq=False)
class ParamRef(Expr):
    """A parameter read at top level: `net.net[2].weight` (`weight`: its canonical name in the layer spec, or, with
    `own`, the name of a model's own `param(...)` member, the last step), as a tensor in the canonical layout."""
    root: Var
    steps: list[PathStep]
    weight: str
    own: bool = False
    copy: bool = False  # a later write or training changes the parameter in place: the read is a copy (passes)

    @property
    def layer(self) -> "Expr":
        return self.steps[-1].node


@dataclass(eq=False)
class ParamGrad(Expr):
    """`grad(loss, net.out.weight)` at top level: d loss / d a model's parameter, in the parameter's canonical layout
    (its type). `slice` (filled by the autodiff pass) recomputes `y` from the model's calls, in order; every target
    replays it under its recording (a tape, autograd.record(), a function of the variables) at the grad site."""
    y: Expr
    param: ParamRef
    slice: list["Stmt"] = field(default_factory=list)


@dataclass(eq=False)
class NumParams(Expr):
    """`num_params(net)`: the number of trainable parameter values of a model instance (or a layer held by a name)."""
    root: Var


@dataclass(eq=False)
class ShowModel(Expr):
    """`print(net)` of a model instance (or a layer held by a name): the framework's own printout of it."""
    root: Var


@dataclass(eq=False)
class ParamsFile(Expr):
    """`save_params(net, "mlp.params")` (load False) or `load_params(clone, "mlp.params")` (load True): a model's
    parameters written to or read from a file in the framework's own format (`path`: a str Const)."""
    root: Var
    path: Const
    load: bool


@dataclass(eq=False)
class ParamWrite(Stmt):
    """`net.out.weight = value`, `net.out.weight[0, :] = value` at top level: a parameter written in place (the value
    and the index in the canonical layout; `index` None writes the whole tensor)."""
    target: ParamRef
    index: list[IndexItem] | None
    value: Expr
    aug: str | None = None  # `p += 1`: the op (add, sub, mul, truediv) of a whole write by a number, value's `y`


def static_value(e: Expr | None) -> Any:
    """The compile-time value of an expression, or None when it depends on run-time data."""
    if e is None:
        return None
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Seq):
        vals = [static_value(i) for i in e.items]
        return tuple(vals) if e.kind == "tuple" else list(vals)
    if isinstance(e, Op) and e.op == "neg" and isinstance(e.type, ScalarType):
        v = static_value(e.args["x"])
        return -v if isinstance(v, (int, float)) else None
    return None
