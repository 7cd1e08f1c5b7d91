"""Reading a data set by hand, the same on every target but for the channels-last layout (docs/dsl.md, "Reading
data sets"): `next(iter(...))` of a part's loader, a loop over it, the wall clock (`time.time()`) and the
`text_labels` helper (compiler/emit/snippets/text_labels.py). A part is the first (training) or second
(validation) loader of the data set's pair; JAX's loaders are functions that return a fresh iterator
(`batches_of`). TensorFlow and JAX load images NHWC: an image batch the chapter reads is transposed back to the
DSL's [batch, channels, height, width] as soon as it is read (`to_canonical`), so every target holds and prints
the same shapes."""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.types import INT, SeqType, TensorType
from d2lc.emit.fmt import attr, sub

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike

PART_INDEX = {"train": 0, "val": 1}


def part_of(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    """`data[0]` (training) or `data[1]` (validation): the part's loader, iterable."""
    loader = sub(em.expr(node.args["data"]), [cst.SubscriptElement(cst.Index(cst.Integer(str(PART_INDEX[node.args["part"].value]))))])
    return em.batches_of(loader)


def _read_batch(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return cst.Call(cst.Name("next"), [cst.Arg(cst.Call(cst.Name("iter"), [cst.Arg(part_of(em, node))]))])


def _text_labels(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    em.shared_helper("text_labels")
    return cst.Call(cst.Name("text_labels"), [cst.Arg(em.expr(node.args["y"]))])


READ_OPS = {
    "read_batch": _read_batch,
    "batches": part_of,
    "time": lambda em, n: cst.Call(attr(cst.Name("time"), cst.Name("time")), []),
    "text_labels": _text_labels,
}


def is_part_read(value: ir.Expr) -> bool:
    """A minibatch read (`next(iter(data.train))`) or a loop's batches (`data.train`)."""
    return isinstance(value, ir.Op) and value.op in ("read_batch", "batches")


def to_canonical(em: "EmitterLike", value: ir.Op, name: str) -> list[cst.BaseStatement]:
    """`X = tf.transpose(X, perm=(0, 3, 1, 2))` after an image batch is read on a channels-last target (none on
    the others, and none for batches of other ranks)."""
    examples = value.type.items[0] if isinstance(value.type, SeqType) else None
    if em.backend.layouts.activations != "NHWC" or not (isinstance(examples, TensorType) and examples.rank == 4):
        return []
    axes = ir.Seq(SeqType((INT,) * 4), value.loc, [ir.Const(INT, value.loc, a) for a in (0, 3, 1, 2)])
    op = ir.Op(examples, value.loc, "transpose", {"x": ir.Var(examples, value.loc, name), "axes": axes})
    return [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], em.expr(op))])]


__all__ = ["READ_OPS", "is_part_read", "part_of", "to_canonical"]
