"""Text in plain Python, the same on every target (docs/dsl.md, "Text"): str methods, `re.sub`, `list(text)`,
`+` of strings, `x.tolist()` (through NumPy, in each target's idiom), and the `Vocab` and `read_time_machine` helpers (compiler/emit/snippets/), emitted once per
notebook before their first use. Turning a list of indices into a tensor is the backend's `tensor` row."""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.text import TEXT_FUNCTIONS
from d2lc.emit.fmt import attr, binop
from d2lc.emit.plots import numpy_of

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike

EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def _helper_call(em: "EmitterLike", node: ir.Op, helper: str, name: str) -> cst.BaseExpression:
    """`Vocab(tokens, min_freq=2)`, `read_time_machine()`: the first parameter by position, the others by name
    where the chapter gave them."""
    em.shared_helper(helper)
    params = [p[0] for p in TEXT_FUNCTIONS[name][0]]
    args = []
    for i, p in enumerate(params):
        v = node.args.get(p)
        if v is not None:
            args.append(cst.Arg(em.expr(v)) if i == 0 and not name.startswith("read_") else
                        cst.Arg(em.expr(v), keyword=cst.Name(p), equal=EQ))
    return cst.Call(cst.Name(helper), args)


def _method(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return cst.Call(attr(em.expr(node.args["x"]), cst.Name(node.args["method"])), [cst.Arg(em.expr(a)) for a in node.args["args"]])


TEXT_OPS = {
    "read_time_machine": lambda em, n: _helper_call(em, n, "read_time_machine", "read_time_machine"),
    "read_fra_eng": lambda em, n: _helper_call(em, n, "read_fra_eng", "read_fra_eng"),
    "vocab_new": lambda em, n: _helper_call(em, n, "Vocab", "Vocab"),
    "re_sub": lambda em, n: cst.Call(attr(cst.Name("re"), cst.Name("sub")),
                                     [cst.Arg(em.expr(n.args[k])) for k in ("pattern", "repl", "text")]),
    "py_list": lambda em, n: cst.Call(cst.Name("list"), [cst.Arg(em.expr(n.args["x"]))]),
    "py_concat": lambda em, n: binop(em.expr(n.args["x"]), cst.Add(), em.expr(n.args["y"])),
    "text_method": _method,
    "tolist": lambda em, n: cst.Call(attr(numpy_of(em, em.expr(n.args["x"])), cst.Name("tolist")), []),  # NumPy's, on every target
    "text_attribute": lambda em, n: attr(em.expr(n.args["x"]), cst.Name(n.args["attr"])),
}
