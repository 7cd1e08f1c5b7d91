"""What the IR says about each parameter: the value ranges it needs, and which ones a gradient flows to.

A parameter's values are constrained by the ops its values flow into, through any chain of
assignments, ops and calls of other chapter functions. Each op's spec (d2lc.core.ops) says what it
needs of its arguments:
  - positive (`OpSpec.positive`): log, sqrt, a divisor (/, //, %); and the base of a non-integer power;
  - distinct (`OpSpec.distinct`): argmax/argmin/max/min (no ties, so every framework picks the same element);
  - index bounds: used (after `int(...)`/`.item()`) as an index into an axis, or an `OpSpec.index_of`
    argument (cross_entropy's labels, take_along_axis's indices, one_hot's classes): values in [0, size);
  - counts: a `range(...)` bound: small non-negative ints.
Values do not flow through ops whose spec has `passes_values=False` (shapes, comparisons, argmax), and
no gradient flows to an `OpSpec.nondiff` argument.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from d2lc.core import ir
from d2lc.core.ops import SPECS
from d2lc.core.types import DType, ScalarType, SeqType, TensorType

Dim = int | str  # an int size, or a symbol bound when the example is drawn



@dataclass
class Domain:
    """Constraints on one parameter's values."""

    positive: bool = False
    distinct: bool = False
    nonnegative: bool = False  # an integer exponent
    count: bool = False  # a range() bound
    index_bounds: set[Dim] = field(default_factory=set)

    def merge(self, other: "Domain", dims: dict[str, Dim] | None = None) -> None:
        self.positive |= other.positive
        self.distinct |= other.distinct
        self.nonnegative |= other.nonnegative
        self.count |= other.count
        for d in other.index_bounds:
            self.index_bounds.add(dims.get(d, d) if dims and isinstance(d, str) else d)


@dataclass
class FunctionFacts:
    domains: dict[str, Domain]
    grad_params: list[str]  # float tensor params the (float tensor) result depends on differentiably


class Analyzer:
    """Analyses a module's functions in definition order (callees before callers)."""

    def __init__(self, module: ir.Module):
        self.module = module
        self.facts: dict[str, FunctionFacts] = {}
        self.diff_deps: dict[str, set[int]] = {}  # function -> indices of params its result differentiably depends on
        for s in module.stmts():
            if isinstance(s, ir.FuncDef):
                self.facts[s.name] = self._function(s)

    # ---- one function ------------------------------------------------------------------------------
    def _function(self, f: ir.FuncDef) -> FunctionFacts:
        params = [p.name for p in f.params]
        value_env = _fixpoint(f.body, params, lambda e, env: self._deps(e, env, diff=False))
        diff_env = _fixpoint(f.body, params, lambda e, env: self._deps(e, env, diff=True))
        domains = {p: Domain() for p in params}
        for s in ir.walk_stmts(f.body):
            for e in _exprs_of(s):
                self._sinks(e, value_env, domains)
            if isinstance(s, ir.IndexAssign):
                self._index_bounds(s.target_type, s.index, value_env, domains)
            if isinstance(s, ir.For) and s.over_range:
                for a in s.iter.args.values():
                    if isinstance(a, ir.Expr):
                        for p in self._deps(a, value_env, diff=False):
                            domains[p].count = True
        returned: set[str] = set()
        for s in ir.walk_stmts(f.body):
            if isinstance(s, ir.Return) and s.value is not None:
                returned |= self._deps(s.value, diff_env, diff=True)
        self.diff_deps[f.name] = {i for i, p in enumerate(params) if p in returned}
        grad_params = []
        if isinstance(f.result, TensorType) and f.result.dtype.is_float or float_items(f.result):
            grad_params = [p.name for p in f.params if p.name in returned
                           and isinstance(p.type, TensorType) and p.type.dtype.is_float]
        return FunctionFacts(domains, grad_params)

    def _sinks(self, e: ir.Expr, env: dict[str, set[str]], domains: dict[str, Domain]) -> None:
        if isinstance(e, ir.Op):
            spec = SPECS.get(e.op)
            for arg in spec.positive if spec else ():
                for p in self._deps(e.args.get(arg), env, diff=False):
                    domains[p].positive = True
            if e.op == "pow":
                y = e.args.get("y")
                int_exponent = isinstance(y, ir.Const) and isinstance(y.value, int) or (
                    isinstance(getattr(y, "type", None), (TensorType, ScalarType)) and _is_int(y.type))
                if not int_exponent:
                    for p in self._deps(e.args.get("x"), env, diff=False):
                        domains[p].positive = True
                elif not isinstance(y, ir.Const):
                    for p in self._deps(y, env, diff=False):
                        domains[p].nonnegative = True
            for arg in spec.distinct if spec else ():
                for p in self._deps(e.args.get(arg), env, diff=False):
                    domains[p].distinct = True
            if e.op == "getitem" and isinstance(e.args["x"].type, TensorType):
                self._index_bounds(e.args["x"].type, e.args["index"], env, domains)
            if spec is not None and spec.index_of is not None:
                size = _indexed_size(e, spec.index_of)
                if size is not None:
                    for p in self._deps(e.args.get(spec.index_of[0]), env, diff=False):
                        domains[p].index_bounds.add(size)
        elif isinstance(e, ir.CallFunc) and e.func in self.facts:
            callee = self.module.functions[e.func]
            bindings: dict[str, Dim] = {}
            for p, a in zip(callee.params, e.args):
                bindings.update(_bind_symbols(p.type, a.type))
            for p, a in zip(callee.params, e.args):
                for q in self._deps(a, env, diff=False):
                    domains[q].merge(self.facts[e.func].domains[p.name], bindings)

    def _index_bounds(self, base: TensorType, index: list, env: dict[str, set[str]], domains: dict[str, Domain]) -> None:
        consuming = [it for it in index if not isinstance(it, ir.IndexEllipsis)
                     and not (isinstance(it, ir.Const) and it.value is None)]
        after_ellipsis = None
        pos = 0
        for it in index:
            if isinstance(it, ir.IndexEllipsis):
                after_ellipsis = len([x for x in index[index.index(it) + 1:] if x in consuming])
                pos = base.rank - after_ellipsis
                continue
            if isinstance(it, ir.Const) and it.value is None:
                continue
            dim = base.shape[pos] if pos < base.rank else None
            parts = [it.start, it.stop, it.step] if isinstance(it, ir.IndexSlice) else [it]
            for part in parts:
                if isinstance(part, ir.Expr) and dim is not None:
                    for p in self._deps(part, env, diff=False):
                        domains[p].index_bounds.add(dim)
            pos += 1

    # ---- dependencies --------------------------------------------------------------------------------
    def _deps(self, e, env: dict[str, set[str]], diff: bool) -> set[str]:
        """The parameters whose values an expression depends on (differentiably, when diff)."""
        out: set[str] = set()
        if e is None:
            return out
        if isinstance(e, ir.Var):
            return set(env.get(e.name, ()))
        if isinstance(e, ir.Const):
            return out
        if isinstance(e, ir.Seq):
            for i in e.items:
                out |= self._deps(i, env, diff)
            return out
        if isinstance(e, ir.CallFunc):
            if diff:
                keep = self.diff_deps.get(e.func, set(range(len(e.args))))
                for i, a in enumerate(e.args):
                    if i in keep:
                        out |= self._deps(a, env, diff)
            else:
                for a in e.args:
                    out |= self._deps(a, env, diff)
            return out
        if isinstance(e, ir.Grad):
            return self._deps(e.y, env, diff) | self._deps(e.wrt, env, diff)
        if isinstance(e, ir.Op):
            spec = SPECS.get(e.op)
            if spec is not None and not spec.passes_values:
                return out
            if diff and not _differentiable(e):
                return out
            for name, v in e.args.items():
                # An index picks values but is not one; no gradient flows to a condition or labels.
                if name == "index" or spec is not None and (spec.index_of and name == spec.index_of[0]
                                                            or diff and name in spec.nondiff):
                    continue
                if isinstance(v, list):
                    for item in v:
                        if isinstance(item, ir.Expr):
                            out |= self._deps(item, env, diff)
                elif isinstance(v, ir.Expr):
                    out |= self._deps(v, env, diff)
            return out
        return out


def _indexed_size(e: ir.Op, index_of: tuple) -> Dim | None:
    """The size an `OpSpec.index_of` argument indexes: an axis of a tensor argument (a fixed axis, or the op's own
    constant axis argument when the spec names it), or a constant count (one_hot's num_classes)."""
    _, base, axis = index_of
    value = e.args.get(base)
    t = getattr(value, "type", None)
    if isinstance(t, ScalarType):
        n = ir.static_value(value)
        return n if isinstance(n, int) and not isinstance(n, bool) else None
    if isinstance(axis, str):
        axis = ir.static_value(e.args.get(axis))
    if isinstance(t, TensorType) and t.rank and isinstance(axis, int) and -t.rank <= axis < t.rank:
        return t.shape[axis]
    return None


def _differentiable(e: ir.Op) -> bool:
    if e.op in ("py_int", "py_float", "py_and", "py_or", "py_not"):  # Python conversions: no spec, no gradient
        return False
    if e.op == "astype":
        return isinstance(e.type, TensorType) and e.type.dtype.is_float
    spec = SPECS.get(e.op)
    return spec.differentiable if spec is not None else True


def _is_int(t) -> bool:
    if isinstance(t, ScalarType):
        return t.kind in ("int", "bool")
    return isinstance(t, TensorType) and not t.dtype.is_float


def _bind_symbols(ptype, atype) -> dict[str, Dim]:
    if isinstance(ptype, TensorType) and isinstance(atype, TensorType):
        return {d: a for d, a in zip(ptype.shape, atype.shape) if isinstance(d, str) and a is not None}
    return {}


def _exprs_of(s: ir.Stmt) -> Iterable[ir.Expr]:
    """The expressions a statement evaluates itself (not those of nested blocks)."""
    if isinstance(s, (ir.Assign, ir.Unpack, ir.ExprStmt, ir.Return)):
        return ir.walk_exprs(s.value) if s.value is not None else ()
    if isinstance(s, ir.IndexAssign):
        return [*ir.walk_exprs(s.value), *ir.walk_exprs(s.index)]
    if isinstance(s, ir.If):
        return ir.walk_exprs(s.cond)
    if isinstance(s, ir.For):
        return ir.walk_exprs(s.iter)
    return ()


def _fixpoint(body: list[ir.Stmt], params: list[str], deps) -> dict[str, set[str]]:
    """Each local name -> the parameters its values depend on (flow-insensitive, so loops converge)."""
    env: dict[str, set[str]] = {p: {p} for p in params}
    changed = True
    while changed:
        changed = False
        for s in ir.walk_stmts(body):
            if isinstance(s, ir.Unpack):
                new = deps(s.value, env)
                for name in s.names:
                    if not new <= env.get(name, set()):
                        env[name] = env.get(name, set()) | new
                        changed = True
            elif isinstance(s, (ir.Assign, ir.IndexAssign)):
                new = deps(s.value, env)
                if isinstance(s, ir.IndexAssign):
                    new = new | env.get(s.name, set())
                if not new <= env.get(s.name, set()):
                    env[s.name] = env.get(s.name, set()) | new
                    changed = True
            elif isinstance(s, ir.For):
                new = set().union(*(deps(a, env) for a in s.iter.args.values() if isinstance(a, ir.Expr))) \
                    if s.over_range else deps(s.iter, env)
                for var in s.loop_vars:
                    if not new <= env.get(var, set()):
                        env[var] = env.get(var, set()) | new
                        changed = True
    return env


def float_items(t) -> list[int]:
    """The positions of a tuple result's float tensors (what a gradient row differentiates); [] for other results."""
    if not isinstance(t, SeqType) or t.kind != "tuple":
        return []
    return [i for i, item in enumerate(t.items) if isinstance(item, TensorType) and item.dtype.is_float]


def analyze(module: ir.Module) -> dict[str, FunctionFacts]:
    """Facts for every top-level function of a module."""
    return Analyzer(module).facts


__all__ = ["Domain", "FunctionFacts", "analyze", "DType"]
