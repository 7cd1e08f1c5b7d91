"""What JAX spells differently: pure gradient functions, `.at[].set`, PRNG keys, 64-bit mode."""
from dataclasses import dataclass, field
from functools import cached_property

import libcst as cst

from d2lc.emit.fmt import attr, binop, sub

from d2lc.core import ir
from d2lc.core.ops import SPECS
from d2lc.emit.base import Emitter
from d2lc.emit.dtypes import creation_defaults, widened_sum
from d2lc.emit.rules import call
from d2lc.passes.analysis import reads
from d2lc.core.types import DType, TensorType

from .fuse import fuse_copy_then_set
from .loops import JaxLoops
from .models import JaxModels
from .naming import objective_name
from .params import JaxParams

_NATURAL_32 = creation_defaults(int_dtype=DType.int32, float_dtype=DType.float32)
_NATURAL_64 = creation_defaults(int_dtype=DType.int64, float_dtype=DType.float64)


@dataclass
class JaxState:
    replaying: int = 0  # > 0 while a grad's slice is emitted again inside its objective function
    value_and_grad: dict[int, list[cst.BaseStatement]] = field(default_factory=dict)  # id(grad) -> `y = ...`, for one value_and_grad
    trained: set[str] = field(default_factory=set)  # models whose flax variables exist (models.py)
    variables_names: dict[str, str] = field(default_factory=dict)  # model -> the name of its variables (models.py)
    objectives: dict[str, str] = field(default_factory=dict)  # a top-level objective's code -> its function's name
    written: set[str] = field(default_factory=set)  # models a chapter wrote parameters of (params.py)
    opt_states: dict[str, str] = field(default_factory=dict)  # a bound optimizer's name -> its state's (loops.py)
    param_grads: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # objective code -> (its gradient pytree, what it reads) (params.py)


class JaxEmitter(JaxLoops, JaxParams, JaxModels, Emitter):
    State = JaxState
    state: JaxState

    def __init__(self, backend, module):
        super().__init__(backend, module)
        self.x64 = _explicit_64bit(module)

    # dtypes: without 64-bit mode JAX computes int64 as int32 and float64 as float32
    def effective(self, dtype: DType) -> DType:
        return dtype if self.x64 else self.backend.narrow_dtypes.get(dtype, dtype)

    def natural_dtype(self, node):
        # as NumPy: int32 sums widen to int64 in 64-bit mode
        return widened_sum(node, DType.int64 if self.x64 else DType.int32) or (_NATURAL_64 if self.x64 else _NATURAL_32)(node)

    def prelude(self) -> list[str]:
        out = []
        if self.x64:
            out.append('jax.config.update("jax_enable_x64", True)')
        if "random" in self.module.features:
            out.append("key = jax.random.key(0)")
        return out

    # gradients: a pure function of x, differentiated by jax.grad
    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        x = g.wrt.name
        direct = _differentiates_call(g)
        if direct is not None:  # grad(f)(x): the chapter's function itself, `jax.grad(f)(x)`
            argnums = cst.Integer(str(direct)) if direct else None
            return cst.Call(call("jax.grad", cst.Name(g.y.func), argnums=argnums), [cst.Arg(self.expr(a)) for a in g.y.args])
        self.state.replaying += 1
        try:
            run = self.slice_code(g)
        finally:
            self.state.replaying -= 1
        return cst.Call(call("jax.grad", cst.Name(self._objective(g, run))), [cst.Arg(cst.Name(x))])

    def _objective(self, g: ir.Grad, body: list[cst.BaseStatement]) -> str:
        """Define the function of x that recomputes y from the statements `body`; return its name.

        It is named after what it computes (`compute_y`, `sum_of_squares`); a top-level function whose
        body an earlier top-level one already has is not defined again, the earlier one is used (both
        read the notebook's names when called, so they compute the same)."""
        body = [*body, cst.SimpleStatementLine([cst.Return(self.expr(g.y))])]
        if len(body) == 2 and isinstance(g.y, ir.Var) and _assigns(body[0], g.y.name):
            body = [cst.SimpleStatementLine([cst.Return(body[0].body[0].value)])]
        params = cst.Parameters([cst.Param(cst.Name(g.wrt.name))])
        top = self.block_depth == 0 and self.in_function is None and not self.in_model
        key = cst.Module([cst.FunctionDef(cst.Name("_"), params, cst.IndentedBlock(body))]).code
        if top and key in self.state.objectives:
            return self.state.objectives[key]
        fname = self.fresh(objective_name(g.y))
        if top:
            self.state.objectives[key] = fname
        self.pre.append(cst.FunctionDef(cst.Name(fname), params, cst.IndentedBlock(body)))
        return fname

    # `y = ...` right before `g = grad(y, x)`: both at once, `y, g = jax.value_and_grad(compute_y)(x)`
    def records_inplace(self, g: ir.Grad) -> bool:
        target = self.grad_targets.get(id(g))
        return id(g) in self.follows_run and target is not None and id(g.slice[0]) not in self.replayed_only and isinstance(g.y, ir.Var) and len(g.slice) == 1 \
            and isinstance(g.slice[0], ir.Assign) and g.slice[0].name == g.y.name and target not in (g.y.name, g.wrt.name)

    def record(self, g, run):
        if len(run) != 1 or not _assigns(run[0], g.y.name):  # the run needed more statements (a key split): as usual
            return run
        self.state.value_and_grad[id(g)] = run
        return []

    @cached_property
    def grad_targets(self) -> dict[int, str]:
        return _grad_targets(self.module)

    @cached_property
    def replayed_only(self) -> set[int]:
        """Assignments that only feed gradients: each grad recomputes them in its own function, so the
        statement itself would compute a value nothing reads (`l = loss(...)` before `grad(l, w)`)."""
        return _replayed_only(self.module)

    def _skipped(self, s: ir.Stmt) -> bool:
        return id(s) in self.replayed_only and not self.state.replaying

    def bind(self, s):
        if isinstance(s, ir.Assign) and not self._skipped(s):
            self.state.trained.discard(s.name)  # a new model under this name has no variables yet
            self.state.written.discard(s.name)

    def before_stmt(self, s):
        if not self.state.replaying and not self.block_depth and self.in_function is None and not self.in_model:
            self.forget_param_grads(s)

    def emit_stmt(self, s):
        if self._skipped(s):
            return []
        runs = self.state.value_and_grad
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.Grad) and id(s.value) in runs:
            g = s.value
            f = self._objective(g, runs.pop(id(g)))
            pair = cst.Tuple([cst.Element(cst.Name(g.y.name)), cst.Element(cst.Name(s.name))], lpar=[], rpar=[])
            value = cst.Call(call("jax.value_and_grad", cst.Name(f)), [cst.Arg(cst.Name(g.wrt.name))])
            return [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(pair)], value)])]
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.BoundOptimizer):
            return [self.assign(s.name, self.expr(s.value)), *self.optimizer_state(s)]
        return None

    def sequence(self, stmts: list[ir.Stmt]) -> list[cst.BaseStatement]:
        return fuse_copy_then_set(super().sequence(stmts))

    # element writes are functional
    def index_assign(self, s: ir.IndexAssign):
        at = sub(attr(cst.Name(s.name), cst.Name("at")), self.index(s.index))
        update = cst.Call(attr(at, cst.Name("set")), [cst.Arg(self.assign_value(s))])
        return [self.assign(s.name, update)]

    # random draws split the notebook's key
    def split_key(self, node: ir.Op) -> cst.Name:
        """Split the notebook's key before a draw (`key, subkey = jax.random.split(key)`) and return the draw's key:
        `subkey`, or `subkey2` ... for the later draws of one statement, so that no two draws share a key."""
        if self.in_function is not None:
            self.error(node.loc, f"`{node.op}` inside a function needs an explicit PRNG key in JAX",
                       hint="draw the random values outside the function and pass them in")
        n = sum(1 for s in self.pre if _splits_key(s))
        if n >= MAX_DRAWS:
            self.error(node.loc, f"more than {MAX_DRAWS} random draws in one statement on JAX",
                       hint="assign some of the draws to names first, one statement each")
        name = "subkey" if n == 0 else f"subkey{n + 1}"
        self.pre.append(cst.parse_statement(f"key, {name} = jax.random.split(key)\n"))
        return cst.Name(name)

    def random_draw(self, node: ir.Op) -> cst.BaseExpression:
        subkey = self.split_key(node)
        shape = self.value(node.args["shape"])
        # draws are float32 (the IR's type); in 64-bit mode JAX would draw float64 unless told
        dtype = {"dtype": self.dtype_expr(DType.float32)} if self.x64 else {}
        if node.op == "normal":
            draw = call("jax.random.normal", subkey, shape, **dtype)
            std, mean = node.args.get("std"), node.args.get("mean")
            if std is not None and not _is_const(std, 1):
                draw = binop(draw, cst.Multiply(), self.expr(std))
            if mean is not None and not _is_const(mean, 0):
                draw = binop(draw, cst.Add(), self.expr(mean))
            return draw
        low, high = node.args.get("low"), node.args.get("high")
        return call("jax.random.uniform", subkey, shape, **dtype,
                    minval=self.expr(low) if low is not None else None, maxval=self.expr(high) if high is not None else None)

    def expr_statement(self, s: ir.ExprStmt):
        v = s.value
        if isinstance(v, ir.Op) and v.op == "seed":
            return [self.assign("key", call("jax.random.key", self.expr(v.args["value"])))]
        if isinstance(v, ir.ParamsFile) and v.load:  # flax variables are values: the loaded ones replace them
            return [self.assign(self.variables_of(v.root.name), self.expr(v))]
        return super().expr_statement(s)


MAX_DRAWS = 4  # draws in one statement: their keys are subkey, subkey2, ... (Backend.emitted_names lists them)


def _splits_key(stmt: cst.BaseStatement) -> bool:
    """Whether a statement is `key, subkeyN = jax.random.split(key)`."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign)):
        return False
    target = stmt.body[0].targets[0].target
    return isinstance(target, cst.Tuple) and len(target.elements) == 2 and isinstance(target.elements[1].value, cst.Name) \
        and target.elements[1].value.value.startswith("subkey")


def _differentiates_call(g: ir.Grad) -> int | None:
    """For grad(f(..., x, ...), x) with nothing to replay, x's position among f's arguments (else None)."""
    y, x = g.y, g.wrt.name
    if g.slice or not isinstance(y, ir.CallFunc):
        return None
    at = [i for i, a in enumerate(y.args) if isinstance(a, ir.Var) and a.name == x]
    if len(at) != 1 or any(x in reads(a) for i, a in enumerate(y.args) if i != at[0]):
        return None
    return at[0]


def _replayed_only(module: ir.Module) -> set[int]:
    """id(stmt) of every `name = value` in some grad's slice whose name nothing reads but grads (whose functions
    recompute it), whose value draws no random numbers and calls no model (a model's first call initialises its
    variables, which must happen at the top level, not inside the function `jax.grad` differentiates)."""
    stmts = list(ir.walk_stmts(list(module.stmts())))
    for m in [s for s in stmts if isinstance(s, ir.ModelDef)]:
        stmts += list(ir.walk_stmts(m.forward.body))
    grads = [e for s in stmts for e in ir.walk_exprs(s) if isinstance(e, ir.Grad)]
    recomputed = {id(v) for g in grads for v in ir.walk_exprs(g.y) if isinstance(v, ir.Var)}
    used = {s.name for s in stmts if isinstance(s, ir.IndexAssign)}
    for s in stmts:
        exprs = ir.walk_exprs(s) if not isinstance(s, ir.ModelDef) else ir.walk_exprs([m.value for m in s.members])
        used |= {e.name for e in exprs if isinstance(e, ir.Var) and id(e) not in recomputed}
    return {id(s) for g in grads for s in g.slice if isinstance(s, ir.Assign) and s.name not in used
            and not any(isinstance(e, ir.Op) and e.op in SPECS and SPECS[e.op].category == "random"
                        or isinstance(e, ir.CallModel) for e in ir.walk_exprs(s.value))}


def _grad_targets(module: ir.Module) -> dict[int, str]:
    """id(grad) -> name, for every statement `name = grad(...)`."""
    return {id(s.value): s.name for s in ir.walk_stmts(list(module.stmts()))
            if isinstance(s, ir.Assign) and isinstance(s.value, ir.Grad)}


def _is_const(e: ir.Expr, value: float) -> bool:
    return isinstance(e, ir.Const) and not isinstance(e.value, bool) and isinstance(e.value, (int, float)) and e.value == value


def _assigns(stmt: cst.BaseStatement, name: str) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Assign)
            and isinstance(stmt.body[0].targets[0].target, cst.Name) and stmt.body[0].targets[0].target.value == name)


def _explicit_64bit(module: ir.Module) -> bool:
    """Whether the author asked for a 64-bit dtype by name (dtype=, astype, or a parameter type)."""
    for s in ir.walk_stmts(list(module.stmts())):
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.Const) and isinstance(e.value, DType) and e.value.is_64bit:
                return True
        if isinstance(s, ir.FuncDef):
            if any(isinstance(p.type, TensorType) and p.type.dtype.is_64bit for p in s.params):
                return True
    return False
