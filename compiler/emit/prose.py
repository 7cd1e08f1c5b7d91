"""Prose that names an op or a layer: the roles {op}`name` and {layer}`Kind` in a chapter's Markdown become that
framework's own spelling, in backticks (`nn.Conv2d`, `tf.keras.layers.Conv2D`, `nn.Conv`, ...).

The spelling is read from what the backend emits for the op or layer: its rule in targets/NAME/ops.py, or the
constructor its layer code calls (LAYER_ROWS and the hooks that replace a row), so the prose and the code agree by
construction. The front end has already rejected unknown names (front/roles.py)."""
from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.diagnostics import Loc
from d2lc.core.layers import LAYERS
from d2lc.core.ops import REQUIRED, SPECS
from d2lc.core.types import BOOL, FLOAT, INT, DType, SeqType, TensorType
from d2lc.emit import rules
from d2lc.emit.fmt import dotted_name

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

ROLE_RE = re.compile(r"\{(op|layer)\}`([^`\n]+)`")
_LOC = Loc("<prose>", 1, 1)


def render_prose(text: str, backend: "Backend") -> str:
    """A Markdown cell's text with each role replaced by the backend's spelling in backticks."""
    if "}`" not in text:
        return text
    return ROLE_RE.sub(lambda m: f"`{spelling(backend, m.group(1), m.group(2))}`", text)


_SPELT: dict[tuple[str, str, str], str] = {}


def spelling(backend: "Backend", role: str, name: str) -> str:
    """How `backend`'s code writes op `name` (role "op") or layer `name` (role "layer"); memoised per process."""
    key = (backend.name, role, name)
    if key not in _SPELT:
        if role == "layer":
            _SPELT[key] = layer_spelling(backend, name) if name in LAYERS else name
        else:
            _SPELT[key] = op_spelling(backend.ops.get(name), name) if name in SPECS else name
            if _SPELT[key] == name and name in SPECS:  # a custom rule: what it emits for a sample call
                _SPELT[key] = _emitted_op(backend, name) or name
    return _SPELT[key]



def _library_names(nodes: list[cst.CSTNode], roots: set[str]) -> list[str]:
    """The dotted names of the framework's API (rooted at an import of the backend) in `nodes`, in order."""
    found: list[str] = []

    class Names(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            name = dotted_name(node)
            if name is not None and name.split(".")[0] in roots:
                found.append(name)
                return False
            return True

    for n in nodes:
        if isinstance(n, (cst.ClassDef, cst.FunctionDef)):  # a helper made for it (Paddle's Lazy)
            continue
        (n if isinstance(n, cst.Module) else cst.Module([cst.SimpleStatementLine([cst.Expr(n)])])
         if isinstance(n, cst.BaseExpression) else cst.Module([n])).visit(Names())
    return [f for f in found if not f.split(".")[-1].startswith(("initializers", "init_"))]


def layer_spelling(backend: "Backend", kind: str) -> str:
    """The constructor `backend`'s code calls for a layer of this kind (built with placeholder sizes)."""
    spec = LAYERS[kind]
    args = {p.name: (ir.Const(INT, _LOC, 4) if p.default is REQUIRED else None) for p in spec.params}
    em = backend.emitter(backend, ir.Module("<prose>", "", []))
    try:
        code = em.layer(ir.Layer(None, _LOC, kind, args))
    except Exception:  # a layer the backend cannot build stands, in its prose, as the book names it
        return kind
    names = _library_names([*em.pre, code], set(backend.imports))
    if not names:
        return kind
    # prose names the class, not the lazy variant some contexts build (`nn.LazyConv2d` infers its input size)
    return re.sub(r"(^|\.)Lazy(?=[A-Z])", r"\1", names[0])


def op_spelling(rule: "rules.Rule | None", name: str) -> str:
    """The function, method or operator a backend's rule for op `name` writes (the op's name for a custom rule)."""
    if isinstance(rule, rules.Fn):
        return rule.path
    if isinstance(rule, (rules.Method, rules.Attr)):
        return f".{rule.name}"
    if isinstance(rule, (rules.Infix, rules.Prefix)):
        return rule.op.strip()
    if isinstance(rule, rules.Tmpl):
        m = re.match(r"[A-Za-z_][\w.]*(?=\()", next(iter(string.Formatter().parse(rule.template)))[0] or "")
        return m.group(0) if m else name
    inner = getattr(rule, "rule", None)  # a wrapping rule (DTyped, ExplicitAxis, FlatOrderFree) spells what it wraps
    return op_spelling(inner, name) if isinstance(inner, rules.Rule) else name


def _sample(kind: str, name: str, required: bool):
    """A placeholder argument of an op parameter's kind (a float32 matrix for a tensor), or None for a default."""
    matrix = TensorType(DType.float32, (2, 3))
    if kind == "tensor":
        return ir.Var(matrix, _LOC, name)
    if not required:
        return None
    if kind == "scalar":
        return ir.Const(FLOAT, _LOC, 1.0)
    if kind == "axis":
        return ir.Const(INT, _LOC, 0)
    if kind == "flag":
        return ir.Const(BOOL, _LOC, False)
    if kind == "dtype":
        return ir.Const(INT, _LOC, DType.float32)
    if kind in ("shape", "axes"):
        return ir.Seq(SeqType((INT, INT)), _LOC, [ir.Const(INT, _LOC, 2), ir.Const(INT, _LOC, 3)])
    if kind == "tensors":
        return ir.Seq(SeqType((matrix, matrix)), _LOC, [ir.Var(matrix, _LOC, "x"), ir.Var(matrix, _LOC, "y")])
    return None


def _emitted_op(backend: "Backend", name: str) -> str | None:
    """The framework function (or `.method`) a rule emits first for a sample call of op `name`, if any."""
    spec = SPECS[name]
    args = {p.name: _sample(p.kind, p.name, p.default is REQUIRED) for p in spec.params}
    em = backend.emitter(backend, ir.Module("<prose>", "", []))
    try:
        code = backend.ops[name].emit(em, ir.Op(TensorType(DType.float32, (2, 3)), _LOC, name, args))
    except Exception:  # a rule that needs a real program around it
        return None
    names = _library_names([code], set(backend.imports))
    if names:
        return names[0]
    call = code if isinstance(code, cst.Call) else None
    return f".{call.func.attr.value}" if call is not None and isinstance(call.func, cst.Attribute) else None
