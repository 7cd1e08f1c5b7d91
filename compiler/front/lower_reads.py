"""Reading a data set by hand (docs/dsl.md, "Reading data sets"): one minibatch of a part (`X, y =
next(iter(data.train))`, `data.val`), a plain loop over a part's batches that neither calls a model nor steps an
optimizer (`for X, y in data.train:` that counts or times them), the wall clock (`time()`) and Fashion-MNIST's
class names (`text_labels(y)`). Every check is done here, at compile time."""
from __future__ import annotations

import dataclasses
from typing import Iterator

from d2lc.core import ir
from d2lc.core.text import STRS
from d2lc.core.types import ANY, FLOAT, STR, AnyType, LayerType, ModelType, OpaqueType, SeqType, TensorType
from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, Symbol, article

PARTS = ("train", "val")
READ = "X, y = next(iter(data.train))"
PLAIN = "a loop over `data.train` or `data.val` that reads its batches only (counts them, times them, sums their sizes)"


def data_part(lw: LowererBase, node: A.Node) -> tuple[A.Name, str] | None:
    """`data.train` or `data.val` of a name holding a data set: (that name, the part)."""
    if not (isinstance(node, A.Attribute) and node.attr in PARTS and isinstance(node.value, A.Name)):
        return None
    sym = lw.scope.lookup(node.value.id)
    ok = sym is not None and isinstance(sym.type, OpaqueType) and sym.type.kind == "data"
    return (node.value, node.attr) if ok else None


def _nodes(node: object) -> Iterator[A.Node]:
    """Every AST node inside `node` (statements, expressions), depth first."""
    if isinstance(node, list):
        for n in node:
            yield from _nodes(n)
    elif isinstance(node, (A.Node, A.Keyword)):
        if isinstance(node, A.Node):
            yield node
        for f in dataclasses.fields(node):
            if f.name != "loc":
                yield from _nodes(getattr(node, f.name))


def trains(lw: LowererBase, body: list[A.Node]) -> bool:
    """Whether a loop's body steps an optimizer (`opt.step(loss)`) or calls a model or layer held by a name: a
    hand-written training loop (lower_loops), not a loop that only reads the batches."""
    for n in _nodes(body):
        if isinstance(n, A.Call) and isinstance(n.func, A.Attribute) and n.func.attr == "step":
            return True
        if isinstance(n, A.Call) and isinstance(n.func, A.Name):
            sym = lw.scope.lookup(n.func.id)
            if sym is not None and (isinstance(sym.type, LayerType) or isinstance(sym.type, ModelType) and not sym.type.is_class):
                return True
    return False


def is_read(node: A.Node) -> bool:
    """`next(...)` as written (its argument is checked when it is lowered)."""
    return isinstance(node, A.Call) and isinstance(node.func, A.Name) and node.func.id == "next"


def _batch_types(data: ir.Expr) -> tuple:
    dt = data.type
    return (getattr(dt, "examples", None) or ANY, getattr(dt, "labels", None) or ANY)


def _part_op(lw: LowererBase, name: A.Name, part: str, op: str, loc) -> ir.Op:
    data = lw.expr(name)
    return ir.Op(SeqType(_batch_types(data)), loc, op, {"data": data, "part": ir.Const(STR, loc, part)})


def lower_next(lw: LowererBase, e: A.Call, unpacking: bool) -> ir.Expr:
    """`next(iter(data.train))`: one minibatch (examples, labels) of a part, read where it is unpacked into two names."""
    inner = e.args[0] if len(e.args) == 1 and not e.kwargs else None
    arg = inner.args[0] if isinstance(inner, A.Call) and isinstance(inner.func, A.Name) and inner.func.id == "iter" \
        and len(inner.args) == 1 and not inner.kwargs else None
    found = data_part(lw, arg) if arg is not None else None
    if found is None:
        for a in e.args:
            lw.expr(a)
        return lw.error(e.loc, "`next` reads one minibatch of a data set's part", expected=READ,
                        hint="write `next(iter(data.train))` or `next(iter(data.val))` of a data set made with "
                             "`fashion_mnist(...)` or `load_array(...)`")
    if not unpacking:
        return lw.error(e.loc, "a minibatch is read by unpacking it into its examples and labels", expected=READ,
                        hint="name both parts: `X, y = next(iter(data.train))`")
    return _part_op(lw, found[0], found[1], "read_batch", e.loc)


def lower_time(lw: LowererBase, e: A.Call) -> ir.Expr:
    """`time()`: the wall clock in seconds, a float (compared by type only: it differs on every run)."""
    if e.args or e.kwargs:
        for a in [*e.args, *(kw.value for kw in e.kwargs)]:
            lw.expr(a)
        return lw.error(e.loc, "`time()` takes no arguments", expected="tic = time()",
                        hint="subtract two readings for the seconds between them: `time() - tic`")
    return ir.Op(FLOAT, e.loc, "time", {})


def lower_text_labels(lw: LowererBase, e: A.Call) -> ir.Expr:
    """`text_labels(y)`: the Fashion-MNIST class names of a vector of class indices, a list of strings."""
    if len(e.args) != 1 or e.kwargs:
        for a in [*e.args, *(kw.value for kw in e.kwargs)]:
            lw.expr(a)
        return lw.error(e.loc, "`text_labels` takes one vector of class indices", expected="text_labels(y)",
                        hint="pass the labels of a minibatch, e.g. `text_labels(y)` after `X, y = next(iter(data.val))`")
    y = lw.expr(e.args[0])
    t = y.type
    if not isinstance(t, AnyType) and not (isinstance(t, TensorType) and t.rank == 1 and t.dtype.is_int):
        return lw.error(y.loc, f"`text_labels` needs a vector of int class indices, got {article(t)}",
                        expected="an int tensor [n] of Fashion-MNIST classes 0 to 9",
                        hint="pass the labels a data set gives (`y`), or `O.argmax(axis=1)` of a model's outputs")
    return ir.Op(STRS, e.loc, "text_labels", {"y": y})


def lower_batch_loop(lw: LowererBase, s: A.For, name: A.Name, part: str) -> ir.Stmt | None:
    """`for X, y in data.train:` (or `data.val`) that only reads the batches: an ordinary loop over the part."""
    if len(s.targets) != 2:
        lw.error(s.loc, "a loop over a data set's batches unpacks each batch into examples and labels",
                 expected=f"for X, y in {name.id}.{part}:", hint=f"name both: `for X, y in {name.id}.{part}:`")
        return None
    it = _part_op(lw, name, part, "batches", s.iter.loc)
    for target, t in zip(s.targets, it.type.items):
        if not lw._bindable(target, s.loc):
            return None
        lw.scope.symbols[target] = Symbol(t)
    body = lw._loop_body(s)
    for e in ir.walk_exprs(body):
        if isinstance(e, (ir.CallModel, ir.ApplyLayer)):
            lw.error(e.loc, "a loop over a data set's batches that does not train reads them only: it calls no model",
                     expected=PLAIN,
                     hint="train with `train(net, data, ...)`, or with a bound optimizer whose `opt.step(loss)` ends "
                          "the loop (`for X, y in data.train:` over [batch, features] examples)")
            return None
    for st in ir.walk_stmts(body):
        if isinstance(st, (ir.Train, ir.StepLoop, ir.ModelDef, ir.FuncDef)):
            lw.error(st.loc, "a loop over a data set's batches that does not train reads them only", expected=PLAIN,
                     hint="move this statement out of the loop")
            return None
    return ir.For(s.loc, s.targets[0], it, body, list(s.targets))


READ_CALLS = {"next": lambda lw, e: lower_next(lw, e, unpacking=False), "time": lower_time,
              "text_labels": lower_text_labels}  # the built-ins of this module lower_calls looks up by name

__all__ = ["READ_CALLS", "PARTS", "data_part", "trains", "is_read", "lower_next", "lower_time", "lower_text_labels", "lower_batch_loop"]
