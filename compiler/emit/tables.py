"""Tables: pandas code, the same on every target (`pd.read_csv`, `df.fillna`, `pd.get_dummies`, `pd.concat`, ...);
only `tensor(df, dtype=...)` differs, made by the backend's own tensor-from-data call (`torch.tensor`, `tf.constant`,
`jnp.array`, MXNet's `np.array`, `paddle.to_tensor`) on `df.to_numpy(dtype=...)`."""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.types import DType
from d2lc.emit.fmt import attr, binop

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike

_BINOPS = {"add": cst.Add, "sub": cst.Subtract, "mul": cst.Multiply, "truediv": cst.Divide}
_NUMPY_KIND = {DType.float32: "float", DType.float64: "float", DType.int32: "int", DType.int64: "int", DType.bool: "bool"}


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))


def _call(func: cst.BaseExpression, *args: cst.Arg) -> cst.Call:
    return cst.Call(func, list(args))


def _pd(name: str) -> cst.Attribute:
    return attr(cst.Name("pd"), cst.Name(name))


def _method(em: "EmitterLike", node: ir.Op, name: str, *args: cst.Arg) -> cst.Call:
    return _call(attr(em.expr(node.args["x"]), cst.Name(name)), *args)


def text_literal(text: str) -> cst.SimpleString:
    """A file's text as a triple-quoted literal where it can be one (it reads as the file will), else Python's repr."""
    if "\n" in text and '"""' not in text and "\\" not in text and not text.endswith('"') \
            and all(c.isprintable() or c == "\n" for c in text):
        return cst.SimpleString('"""' + text + '"""')
    return cst.SimpleString(repr(text))


def _write_text(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    """`pathlib.Path(path).write_text(text)` (the name has no folder: the front end says so)."""
    path = _call(attr(cst.Name("pathlib"), cst.Name("Path")), cst.Arg(em.expr(node.args["path"])))
    return _call(attr(path, cst.Name("write_text")), cst.Arg(text_literal(node.args["text"].value)))


def _read_csv(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return _call(_pd("read_csv"), cst.Arg(em.expr(node.args["path"])))


def _download(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    em.shared_helper("download")  # type: ignore[attr-defined]
    return _call(cst.Name("download"), cst.Arg(em.expr(node.args["name"])))


def _get_dummies(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    flag = node.args.get("dummy_na")
    return _call(_pd("get_dummies"), cst.Arg(em.expr(node.args["x"])), *([_kw("dummy_na", em.expr(flag))] if flag is not None else []))


def _concat(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    axis = node.args.get("axis")
    return _call(_pd("concat"), cst.Arg(em.expr(node.args["xs"])), *([_kw("axis", em.expr(axis))] if axis is not None else []))


def _statistic(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    """`df.mean(numeric_only=True)`: pandas 2 computes a table's means and deviations of its numeric columns only
    when asked to (text columns would raise)."""
    name = node.op.removeprefix("table_")
    if getattr(node.args["x"].type, "column", False):
        return _method(em, node, name)
    return _method(em, node, name, _kw("numeric_only", cst.Name("True")))


def _to_tensor(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    """The backend's `tensor` rule (`torch.tensor(data)`, ...) on `df.to_numpy(dtype=float)`, with the dtype."""
    dtype: DType = node.args["dtype"].value
    values = ir.Op(node.type, node.loc, "table_to_numpy", {"x": node.args["x"], "kind": _NUMPY_KIND[dtype]})
    fake = ir.Op(node.type, node.loc, "tensor", {"data": values, "dtype": None})
    rule = em.backend.ops["tensor"]  # type: ignore[attr-defined]
    code = getattr(rule, "rule", rule).emit(em, fake)  # the call without DTyped's judgement: the dtype is always written
    return code.with_changes(args=[*code.args, _kw("dtype", em.dtype_expr(dtype))]) if isinstance(code, cst.Call) else code


def _columns(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return cst.Subscript(em.expr(node.args["x"]), [cst.SubscriptElement(cst.Index(em.expr(node.args["key"])))])


def _iloc(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return em.subscript(attr(em.expr(node.args["x"]), cst.Name("iloc")), node.args["index"])  # type: ignore[attr-defined]


def _binop(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return binop(em.expr(node.args["x"]), _BINOPS[node.args["op"]](), em.expr(node.args["y"]))


TABLE_OPS = {
    "table_write_text": _write_text,
    "table_read_csv": _read_csv,
    "table_download": _download,
    "table_get_dummies": _get_dummies,
    "table_concat": _concat,
    "table_mean": _statistic,
    "table_std": _statistic,
    "table_to_tensor": _to_tensor,
    "table_to_numpy": lambda em, n: _method(em, n, "to_numpy", _kw("dtype", cst.Name(n.args["kind"]))),
    "table_columns": _columns,
    "table_iloc": _iloc,
    "table_binop": _binop,
    "table_fillna": lambda em, n: _method(em, n, "fillna", cst.Arg(em.expr(n.args["value"]))),
    "table_head": lambda em, n: _method(em, n, "head", *([cst.Arg(em.expr(n.args["n"]))] if n.args.get("n") else [])),
    "table_select_dtypes": lambda em, n: _method(em, n, "select_dtypes", *(
        _kw(k, em.expr(n.args[k])) for k in ("include", "exclude") if n.args.get(k) is not None)),
    "table_shape": lambda em, n: attr(em.expr(n.args["x"]), cst.Name("shape")),
}
