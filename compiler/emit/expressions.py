"""Expression emission: literals, op arguments and their casts, and the dispatch of an IR expression to
the generic ops, the backend's op table, or the model hooks."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst

from d2lc.core import ir
from d2lc.core.ops import SPECS
from d2lc.core.types import DType, ScalarType, TensorType, promote
from d2lc.emit.devices import on_device
from d2lc.emit.fmt import attr, sub, unary
from d2lc.emit.generic import GENERIC, PYTHON_SCALAR_RULES

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

ELEMENTWISE = {n for n, s in SPECS.items() if s.category == "elementwise"}
MODEL_EXPRS = {"Layer": "layer", "ParamDecl": "param_decl", "ApplyLayer": "apply_layer", "NewModel": "new_model",
               "CallModel": "call_model", "Construct": "construct", "ParamRef": "param_ref", "NumParams": "num_params",
               "ParamsFile": "params_file",
               "ParamGrad": "param_grad", "BoundOptimizer": "bound_optimizer",
               "ShowModel": "show_model"}


class Emitted(ir.Expr):
    """An expression already turned into code (used to feed casts through the op table)."""

    def __init__(self, type_, loc, code):
        super().__init__(type_, loc)
        self.code = code


class Expressions:
    """IR expressions to libcst expressions; the backend's table says how each op is spelt."""

    backend: "Backend"
    model_scope: set[str] | None = None  # inside a model's methods: the names read through `self`
    device_anchor: str | None = None  # inside a model's forward: the input whose device new tensors follow

    # ---- values ------------------------------------------------------------------------------
    def dtype_expr(self, dtype: DType) -> cst.BaseExpression:
        return cst.parse_expression(self.backend.dtypes[self.effective(dtype)])

    def literal(self, v: Any) -> cst.BaseExpression:
        if isinstance(v, bool) or v is None:
            return cst.Name(repr(v))
        if isinstance(v, int):
            return cst.Integer(str(v)) if v >= 0 else unary(cst.Minus(), cst.Integer(str(-v)))
        if isinstance(v, float):
            text = repr(abs(v))
            node = cst.Float(text) if ("." in text or "e" in text) and text not in ("inf", "nan") else cst.parse_expression(f"float('{text}')")
            return unary(cst.Minus(), node) if v < 0 or (v == 0 and str(v).startswith("-")) else node
        if isinstance(v, str):
            return cst.SimpleString(repr(v))
        if isinstance(v, DType):
            return self.dtype_expr(v)
        if isinstance(v, tuple):
            return cst.Tuple([cst.Element(self.literal(i)) for i in v])
        if isinstance(v, list):
            return cst.List([cst.Element(self.literal(i)) for i in v])
        raise TypeError(f"cannot emit literal {v!r}")

    def value(self, v: Any, param: str = "") -> cst.BaseExpression:
        """An op argument: an IR expression, or a static value."""
        if isinstance(v, ir.Expr):
            return self.expr(v)
        return self.literal(v)

    def arg(self, node: ir.Op, name: str) -> cst.BaseExpression:
        """An op argument as code: tensors go through `operand`, static values become literals."""
        v = node.args.get(name)
        spec = SPECS.get(node.op)
        kind = next((p.kind for p in spec.params if p.name == name), None) if spec else None
        if isinstance(v, ir.Expr) and (kind == "tensor" or (kind == "scalar" and spec.number_operands)):
            return self.operand(node, name)
        return self.value(v, name)

    def operand(self, node: ir.Op, name: str) -> cst.BaseExpression:
        """A tensor operand, cast first where the backend's promotion differs from the IR's.

        Integer literals in a float computation are written as floats (`where(c, x, 0)` -> `0.0`),
        which every framework reads the same way.
        """
        e = node.args[name]
        want = self.compute_dtype(node)
        if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool) \
                and want is not None and want.is_float and getattr(SPECS.get(node.op), "number_operands", False):
            return self.literal(float(e.value))
        if node.op in self.backend.cast_operands and isinstance(e.type, TensorType) and name != "cond":
            if want is not None and self.effective(e.type.dtype) != self.effective(want):
                made = made_in(e, want)  # `tf.range(n, dtype=tf.float32)`, not a cast of `tf.range(n)`
                return self.expr(made) if made is not None else self.cast(self.expr(e), e, want)
        return self.expr(e)

    def effective(self, dtype: DType) -> DType:
        """The dtype this target really computes in for an IR dtype (JAX without x64: int64 -> int32)."""
        return dtype

    def compute_dtype(self, node: ir.Op) -> DType | None:
        promotes = getattr(SPECS.get(node.op), "promotes_operands", False)  # comparisons, where
        if not isinstance(node.type, TensorType) and not promotes:
            return None
        if promotes:
            x, y = node.args.get("x"), node.args.get("y")
            if x is not None and y is not None and (isinstance(x.type, TensorType) or isinstance(y.type, TensorType)):
                return promote(x.type, y.type)
            return None
        return node.type.dtype if isinstance(node.type, TensorType) else None

    def cast(self, code: cst.BaseExpression, e: ir.Expr, dtype: DType) -> cst.BaseExpression:
        fake = ir.Op(TensorType(dtype, e.type.shape), e.loc, "astype",
                     {"x": Emitted(e.type, e.loc, code), "dtype": ir.Const(ScalarType("dtype"), e.loc, dtype)})
        return self.backend.ops["astype"].emit(self, fake)

    def natural_dtype(self, node: ir.Op) -> DType | None:
        natural = self.backend.natural_dtype(node)
        return self.effective(natural) if natural is not None else None

    # ---- expressions -------------------------------------------------------------------------
    def expr(self, e: ir.Expr) -> cst.BaseExpression:
        if isinstance(e, Emitted):
            return e.code
        if isinstance(e, ir.Const):
            return self.literal(e.value)
        if isinstance(e, ir.Var):
            return self.var(e)
        if isinstance(e, ir.Seq):
            items = [cst.Element(self.expr(i)) for i in e.items]
            return cst.List(items) if e.kind == "list" else cst.Tuple(items)
        if isinstance(e, ir.CallFunc):
            return self.call_func(e)
        if isinstance(e, ir.Grad):
            return self.grad(e)
        if isinstance(e, ir.Lambda):
            return cst.Lambda(cst.Parameters([cst.Param(cst.Name(p)) for p in e.params]), self.expr(e.body))
        if isinstance(e, ir.Var) is False and type(e).__name__ in MODEL_EXPRS:
            return getattr(self, MODEL_EXPRS[type(e).__name__])(e)
        if isinstance(e, ir.Op):
            return self.op(e)
        raise TypeError(f"cannot emit {type(e).__name__}")

    def call_func(self, e: ir.CallFunc) -> cst.BaseExpression:
        """A call of a function the chapter defines."""
        return cst.Call(cst.Name(e.func), [cst.Arg(self.expr(a)) for a in e.args])

    def var(self, e: ir.Var) -> cst.BaseExpression:
        """A name; inside a model's forward, members and hyperparameters become attributes."""
        if self.model_scope is not None and e.name in self.model_scope:
            return attr(cst.Name("self"), cst.Name(e.name))
        return cst.Name(e.name)

    def op(self, node: ir.Op) -> cst.BaseExpression:
        if node.op in GENERIC:
            return GENERIC[node.op](self, node)
        rule = self.backend.ops.get(node.op)
        if rule is None:
            self.unsupported(node)
        if isinstance(node.type, ScalarType) and node.op in ELEMENTWISE and all(
                not isinstance(a.type, TensorType) for a in node.tensor_args()):
            return PYTHON_SCALAR_RULES[node.op](self, node) if node.op in PYTHON_SCALAR_RULES else rule.emit(self, node)
        return on_device(self.backend.creation_device, self.device_anchor, node, rule.emit(self, node))

    def getitem(self, node: ir.Op) -> cst.BaseExpression:
        """`x[index]`: the backend's rule for a tensor, Python's subscript for anything else."""
        rule = self.backend.ops.get("getitem")
        if rule is not None and isinstance(node.args["x"].type, TensorType):
            return rule.emit(self, node)
        return self.subscript(self.expr(node.args["x"]), node.args["index"])

    def index(self, items: list) -> cst.BaseSlice | list[cst.SubscriptElement]:
        out = []
        for it in items:
            if isinstance(it, ir.IndexSlice):
                out.append(cst.SubscriptElement(cst.Slice(
                    lower=self.expr(it.start) if it.start is not None else None,
                    upper=self.expr(it.stop) if it.stop is not None else None,
                    step=self.expr(it.step) if it.step is not None else None)))
            elif isinstance(it, ir.IndexEllipsis):
                out.append(cst.SubscriptElement(cst.Index(cst.Ellipsis())))
            else:
                out.append(cst.SubscriptElement(cst.Index(self.expr(it))))
        return out

    def subscript(self, base: cst.BaseExpression, items: list) -> cst.Subscript:
        return sub(base, self.index(items))


SHAPE_ONLY = frozenset({"reshape", "transpose", "squeeze", "unsqueeze"})  # ops that move elements, never change them


def made_in(e: ir.Expr, dtype: DType) -> ir.Expr | None:
    """`e` with its `arange` made in `dtype` (through shape-only ops, `arange(n).reshape(-1, 1)`), when an
    integer `arange` cast to a float `dtype` is what `e` is; else None."""
    if not (isinstance(e, ir.Op) and isinstance(e.type, TensorType) and dtype.is_float and not e.type.dtype.is_float
            and e.type.dtype != DType.bool):
        return None
    if e.op == "arange":
        args = dict(e.args, dtype=ir.Const(ScalarType("dtype"), e.loc, dtype)) if "dtype" in e.args else e.args
        return ir.Op(TensorType(dtype, e.type.shape), e.loc, "arange", args)
    if e.op in SHAPE_ONLY and isinstance(e.args.get("x"), ir.Expr):
        x = made_in(e.args["x"], dtype)
        return ir.Op(TensorType(dtype, e.type.shape), e.loc, e.op, dict(e.args, x=x)) if x is not None else None
    return None
