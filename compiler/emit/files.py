"""Files in each framework's own format: `save(x, path)` / `load(path)` of a tensor or a tuple or list of tensors, and
`save_params(net, path)` / `load_params(clone, path)` of a model's parameters. A backend states its spellings as
templates (`FileSpelling`); the code here fills them in.

Templates read `{x}` (the tensor), `{xs}` (the tuple or list, as a list unless the format keeps tuples), `{path}`, `{net}` (the model instance) and `{a}` (a scratch name for one loaded array)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
from libcst.helpers import parse_template_expression

from d2lc.core import ir
from d2lc.core.types import SeqType, TensorType

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike


@dataclass(frozen=True)
class FileSpelling:
    save: str  # one tensor
    load: str
    save_seq: str  # a tuple or list of tensors
    load_seq: str  # gives a list (a tuple is made of it where `seq_keeps_tuples` is False)
    save_params: str
    load_params: str
    tensor_suffix: str = ""  # appended to the author's file name when it lacks it (NumPy's `.npy`)
    seq_suffix: str = ""
    params_suffix: str = ""  # Keras' `.weights.h5`
    seq_keeps_tuples: bool = False  # the format gives a saved tuple back as a tuple (torch.save, paddle.save)
    seq_as_args: bool = False  # `save_seq` takes the items as separate arguments after its own (numpy.savez)


def file_name(path: ir.Const, suffix: str) -> cst.SimpleString:
    """The author's file name, with the framework's required suffix where it lacks it."""
    name = path.value if not suffix or path.value.endswith(suffix) else path.value + suffix
    return cst.SimpleString(repr(name).replace("'", '"') if '"' not in name else repr(name))


def _fill(template: str, **parts: cst.BaseExpression) -> cst.BaseExpression:
    used = {k: v for k, v in parts.items() if "{" + k + "}" in template}
    return parse_template_expression(template, **used)


def _items(em: "EmitterLike", x: ir.Expr) -> tuple[cst.BaseExpression, list[cst.Arg]]:
    """A tuple or list value as a list expression, and as the arguments of a call (`*xs` for a name)."""
    if isinstance(x, ir.Seq):
        codes = [em.expr(i) for i in x.items]
        return cst.List([cst.Element(c) for c in codes]), [cst.Arg(c) for c in codes]
    code = em.expr(x)
    return cst.Call(cst.Name("list"), [cst.Arg(code)]), [cst.Arg(code, star="*")]


def save(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    spelling = _spelling(em, node)
    x, path = node.args["x"], node.args["path"]
    if isinstance(x.type, TensorType):
        return _fill(spelling.save, x=em.expr(x), path=file_name(path, spelling.tensor_suffix))
    as_list, args = _items(em, x)
    code = _fill(spelling.save_seq, xs=em.expr(x) if spelling.seq_keeps_tuples else as_list,
                 path=file_name(path, spelling.seq_suffix))
    if spelling.seq_as_args and isinstance(code, cst.Call):  # `numpy.savez(path, *xs)`: the items as separate arguments
        code = code.with_changes(args=[*code.args, *args])
    return code


def load(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    spelling = _spelling(em, node)
    path = node.args["path"]
    if isinstance(node.type, TensorType):
        return _fill(spelling.load, path=file_name(path, spelling.tensor_suffix))
    code = _fill(spelling.load_seq, path=file_name(path, spelling.seq_suffix), a=cst.Name(em.scratch("a")))
    if isinstance(node.type, SeqType) and node.type.kind == "tuple" and not spelling.seq_keeps_tuples:
        code = cst.Call(cst.Name("tuple"), [cst.Arg(code)])
    return code


def params_file(em: "EmitterLike", node: ir.ParamsFile, net: cst.BaseExpression | None = None) -> cst.BaseExpression:
    """`save_params` / `load_params` of the model instance `net` (its own name unless given)."""
    spelling = _spelling(em, node)
    return _fill(spelling.load_params if node.load else spelling.save_params, net=net or cst.Name(node.root.name),
                 path=file_name(node.path, spelling.params_suffix))


def _spelling(em: "EmitterLike", node: ir.Expr) -> FileSpelling:
    spelling = em.backend.files  # type: ignore[attr-defined]
    if spelling is None:
        em.unsupported(node, "files are not supported by this target yet; mark this cell `::: only` for other targets")
    return spelling


FILE_OPS = {"save": save, "load": load}
