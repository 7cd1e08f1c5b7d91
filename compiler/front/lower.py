"""AST -> typed IR: the `Lowerer`, composed of one mixin per concern, and the op binding and typing they all call.

    Lowerer (here: op binding and typing)
      ├─ StatementLowering  lower_stmts   assignments, for, if, def, return   ─┐
      ├─ ExpressionLowering lower_exprs   literals, names, operators, attributes │ model blocks, layers, train:
      ├─ IndexLowering      lower_index   subscripts, slices, element writes     │ lower_models (functions)
      ├─ CallLowering       lower_calls   calls, user functions, grad            │
      ├─ FunctionValueLowering lower_funcs lambda, calls through function values ─┘
      ├─ ParamLowering      lower_params  parameter and sub-layer reads, num_params
      ├─ ParamWriteLowering lower_param_writes  parameter writes, print(net)
      ├─ FileLowering       lower_files   save/load of tensors, save_params/load_params of models
      └─ TableLowering      lower_tables  tables read with pandas: read_csv, columns, fillna, get_dummies, tensor(df)
    each built on LowererBase (lower_base: state, scopes, symbols, reserved names, the hooks between concerns).
Imports point one way (lower -> mixins -> lower_models -> lower_base). Only the front end imports these modules;
the rest of the compiler calls `d2lc.front.read.lower_chapter`.
"""
from __future__ import annotations

from typing import Any

from d2lc.front import ast as A
from d2lc.front.lower_base import article
from d2lc.front.lower_calls import CallLowering
from d2lc.front.lower_exprs import ExpressionLowering
from d2lc.front.lower_files import FileLowering
from d2lc.front.lower_funcs import FunctionValueLowering
from d2lc.front.lower_index import IndexLowering
from d2lc.front.lower_param_writes import ParamWriteLowering
from d2lc.front.lower_params import ParamLowering
from d2lc.front.lower_stmts import StatementLowering
from d2lc.front.lower_tables import TO_TENSOR, TableLowering, is_table
from d2lc.core import ir
from d2lc.core.text import is_strs, is_text
from d2lc.front.lower_text import NOT_A_TENSOR
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import Loc, did_you_mean
from d2lc.core.ops import REQUIRED, SPECS, Ctx, OpSpec, OpTypeError
from d2lc.core.types import ANY, DTYPE_NAMES, INT, AnyType, DType, ListType, OpaqueType, ScalarType, SeqType, ShapeError, TensorType, Type, scalar_dtype


class Lowerer(StatementLowering, ExpressionLowering, IndexLowering, CallLowering, FunctionValueLowering, ParamLowering,
              ParamWriteLowering, FileLowering, TableLowering):
    """Lowers the AST of one chapter; its own methods bind an op call's arguments and type its result."""

    def call_op(self, op: str, pos: list[ir.Expr], e: A.Call, shown: str) -> ir.Expr:
        spec = SPECS[op]
        params = list(spec.params)
        names = [p.name for p in params]
        method = shown.startswith("x.")  # `X.sum(...)`: X is bound to the first parameter
        own = names[1:] if method else names  # the parameters the caller writes
        sig = f"{shown}({', '.join(own)})" if method else f"{spec.name}({', '.join(names)})"
        kwargs: dict[str, ir.Expr] = {}
        for kw in e.kwargs:
            value = self.expr(kw.value)
            if kw.name not in own:
                return self.error(kw.loc, f"`{shown}` has no parameter `{kw.name}`",
                                  expected=f"one of: {', '.join(own)}" if own else "no keyword arguments",
                                  hint=did_you_mean(kw.name, own) or f"`{shown}` takes ({', '.join(own)})")
            if kw.name in kwargs:
                return self.error(kw.loc, f"`{shown}` got two values for `{kw.name}`", expected=sig,
                                  hint="pass each argument once")
            kwargs[kw.name] = value
        args: dict[str, Any] = {}
        if spec.varargs and len(pos) > names.index(spec.varargs):
            k = names.index(spec.varargs)
            extra = pos[k:]
            if len(extra) > 1 or not isinstance(extra[0].type, SeqType):
                pos = pos[:k] + [ir.Seq(SeqType(tuple(x.type for x in extra)), extra[0].loc, extra, "tuple")]
        if len(pos) > len(params):
            n = len(params) - method
            return self.error(e.loc, f"`{shown}` takes at most {n} positional argument{'s' if n != 1 else ''}, "
                                     f"got {len(pos) - method}",
                              expected=sig, hint="remove the extra arguments, or pass the optional ones by name")
        for p, v in zip(params, pos):
            args[p.name] = v
        for k, v in kwargs.items():
            if k in args:
                return self.error(e.loc, f"`{shown}` got two values for `{k}`", expected=sig,
                                  hint=f"pass `{k}` either by position or by name, not both")
            args[k] = v
        for p in params:
            if p.name not in args:
                if p.default is REQUIRED:
                    return self.error(e.loc, f"`{shown}` is missing its argument `{p.name}`", expected=sig,
                                      hint=f"pass `{p.name}` by position or as `{p.name}=...`")
                args[p.name] = None
        return self.apply(op, args, e.loc)

    def apply(self, op: str, args: dict[str, Any], loc: Loc) -> ir.Expr:
        spec: OpSpec = SPECS[op]
        types: dict[str, Type | None] = {}
        static: dict[str, Any] = {}
        for p in spec.params:
            v = args.get(p.name)
            if v is None:
                types[p.name] = None
                static[p.name] = None if p.default is REQUIRED else p.default
                continue
            if isinstance(v, list):  # an index
                types[p.name] = None
                continue
            if isinstance(v.type, AnyType) or isinstance(v.type, SeqType) and any(isinstance(i, AnyType) for i in v.type.items) \
                    or isinstance(v.type, ListType) and isinstance(v.type.elem, AnyType):
                return ir.Op(ANY, loc, op, args)  # an untyped value (after an error, or an unannotated parameter's)
            bad = self._check_kind(p.kind, v, op)
            if bad:
                return self.error(v.loc, bad[0], expected=bad[1], hint=bad[2] if len(bad) > 2 else None)
            types[p.name] = v.type
            static[p.name] = static_value(v)
            if p.kind == "data":
                static[p.name] = _literal_skeleton(v)
            if p.kind == "shape" and static[p.name] is not None and not isinstance(static[p.name], tuple):
                static[p.name] = (static[p.name],)
            if p.kind == "shape" and static[p.name] is None and isinstance(v.type, SeqType):
                static[p.name] = tuple(static_value(i) for i in v.items) if isinstance(v, ir.Seq) else tuple(None for _ in v.type.items)
        if op == "getitem":
            return ir.Op(args["x"].type, loc, op, args)
        try:
            result = spec.infer(Ctx(op, types, static))
        except ShapeError as exc:
            return self.error(loc, str(exc), expected=exc.expected,
                              hint=getattr(exc, "hint", None) or _shape_hint(op, types, exc))
        except OpTypeError as exc:
            return self.error(loc, str(exc), expected=exc.expected, hint=exc.hint)
        return ir.Op(result, loc, op, _tensor_operand(spec, args, result, loc))

    def _check_kind(self, kind: str, v: ir.Expr, op: str) -> tuple | None:
        t = v.type
        numeric = isinstance(t, ScalarType) and t.kind in ("int", "float", "bool")
        if kind in ("tensor", "tensors", "data") and (is_table(t) or isinstance(t, SeqType) and any(is_table(i) for i in t.items)):
            return (f"`{op}` needs a tensor, got a table: a table is not a tensor", "a tensor", TO_TENSOR)
        if kind == "tensor" and not (isinstance(t, TensorType) or numeric):
            return (f"`{op}` needs a tensor, got {article(t)}", "a tensor or a number",
                    NOT_A_TENSOR if is_text(t) or is_strs(t) else "create a tensor with `tensor([...])`, `zeros(...)` or `arange(...)`")
        if kind == "scalar" and not numeric and not (isinstance(t, TensorType) and t.rank == 0):
            return (f"`{op}` needs a number here, got {article(t)}", "an int or float",
                    "use `.item()` to take the number out of a one-element tensor" if isinstance(t, TensorType)
                    else "pass a single number")
        if kind == "axis":
            sv = static_value(v)
            if not (isinstance(sv, int) or (isinstance(sv, tuple) and all(isinstance(a, int) for a in sv))):
                return (f"the axis of `{op}` must be a constant int", "an int literal such as 0 or -1",
                        "axes are fixed when the chapter compiles; write the number itself rather than a variable")
        if kind == "axes":
            sv = static_value(v)
            if not (isinstance(sv, tuple) and all(isinstance(a, int) for a in sv)):
                return (f"the axes of `{op}` must be constant ints", "a tuple of ints such as (1, 0)",
                        "axes are fixed when the chapter compiles; write the numbers themselves")
        if kind == "flag" and not isinstance(static_value(v), bool):
            return (f"this flag of `{op}` must be True or False", "True or False", "write `True` or `False` directly")
        if kind == "dtype" and not (isinstance(v, ir.Const) and isinstance(v.value, DType)):
            return (f"`{op}` needs a dtype here", "float32, float64, int32, int64 or bool",
                    (did_you_mean(str(static_value(v)), DTYPE_NAMES) if isinstance(v, ir.Const) else None)
                    or "write the dtype name without quotes, e.g. `dtype=float32`")
        if kind == "device" and not (isinstance(t, OpaqueType) and t.kind == "device"):
            return (f"`{op}` needs a device, got {article(t)}", "cpu(), try_gpu() or X.device",
                    "name the device with cpu(), try_gpu(i) or another tensor's .device")
        if kind == "tensors" and isinstance(t, ListType):
            return None
        if kind == "tensors" and not (isinstance(t, SeqType) and all(isinstance(i, TensorType) for i in t.items)):
            return (f"`{op}` needs a list of tensors", "e.g. [X, Y]", "wrap the tensors in a list: `[X, Y]`")
        if kind == "shape" and not (isinstance(t, SeqType) and all(isinstance(i, ScalarType) and i.kind == "int" for i in t.items)
                                    or t == INT):
            return (f"`{op}` needs a shape (ints), got {article(t)}", "a tuple of ints such as (3, 4)",
                    "write the shape as a tuple of int literals, e.g. `(3, 4)`, or `X.shape`")
        if kind == "data" and not (isinstance(t, SeqType) or numeric):
            return (f"`{op}` needs a list of numbers, got {article(t)}", "e.g. [[1, 2], [3, 4]]",
                    "write the values as a (nested) list literal")
        return None


def _shape_hint(op: str, types: dict[str, Type | None], exc: Exception | None = None) -> str | None:
    if exc is not None and str(exc).startswith("axis ") and "out of range" in str(exc):
        return "axes count from 0; negative axes count from the end (-1 is the last)"
    spec = SPECS.get(op)
    return spec.shape_hint if spec is not None else None



def _literal_skeleton(v: ir.Expr) -> Any:
    """Nested lists standing for a tensor literal, with a sample Python value of each element's kind."""
    if isinstance(v, ir.Seq):
        return [_literal_skeleton(i) for i in v.items]
    if isinstance(v.type, ScalarType):
        return {"int": 0, "float": 0.0, "bool": False}.get(v.type.kind, 0.0)
    return 0.0


def _tensor_operand(spec, args: dict[str, Any], result: Type, loc) -> dict[str, Any]:
    """A tensor op on Python numbers only (`exp(2.0)`) gets its first operand as a 0-d tensor: its result is
    typed as a tensor, and PyTorch and Paddle ops take no Python numbers (`torch.exp(2.0)` raises)."""
    names = [p.name for p in spec.params if p.kind == "tensor" and isinstance(args.get(p.name), ir.Expr)]
    if not isinstance(result, TensorType) or not names:
        return args
    if any(not isinstance(args[n].type, ScalarType) for n in names):
        return args
    x = args[names[0]]
    wrapped = ir.Op(TensorType(scalar_dtype(x.type), ()), x.loc, "tensor", {"data": x, "dtype": None})
    return {**args, names[0]: wrapped}
