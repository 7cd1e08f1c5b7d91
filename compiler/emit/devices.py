"""Tensors a model makes inside its forward follow the forward's input to its device.

A backend whose creation functions take a device (PyTorch `device=`, MXNet `ctx=`) names them in
`Backend.creation_device`; inside a model's forward, every such call an op emits gets the keyword, read
off the forward's first tensor parameter (`torch.zeros((n, h), device=X.device)`). Backends with a
global device (TensorFlow, JAX, Paddle) need nothing. The device itself is chosen once, by the
`try_gpu` helper (targets/<fw>/snippets/try_gpu.py), which the harness's `--device=gpu` setup runs too.
"""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.core.types import TensorType
from d2lc.emit.backend import CreationDevice
from d2lc.emit.fmt import dotted_name


def device_anchor(f: ir.FuncDef) -> str | None:
    """The forward parameter whose device new tensors follow: its first tensor, if no statement rebinds it."""
    for p in f.params:
        if isinstance(p.type, TensorType):
            rebound = any(isinstance(s, (ir.Assign, ir.Unpack)) and p.name in _bound(s) for s in ir.walk_stmts(f.body))
            return None if rebound else p.name
    return None


def _bound(s: ir.Stmt) -> set[str]:
    if isinstance(s, ir.Assign):
        return {s.name}
    return set(getattr(s, "names", ()) or ())



class _OnDevice(cst.CSTTransformer):
    def __init__(self, spec: CreationDevice, anchor: str):
        self.spec, self.anchor = spec, anchor

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if dotted_name(updated.func) not in self.spec.functions:
            return updated
        if any(a.keyword is not None and a.keyword.value == self.spec.keyword for a in updated.args):
            return updated
        value = cst.Attribute(cst.Name(self.anchor), cst.Name(self.spec.attribute))
        eq = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
        return updated.with_changes(args=[*updated.args, cst.Arg(value, keyword=cst.Name(self.spec.keyword), equal=eq)])


def on_device(spec: CreationDevice | None, anchor: str | None, node: ir.Op, code: cst.BaseExpression) -> cst.BaseExpression:
    """`code` (an op's emission) with its tensor-making calls placed on the anchor's device."""
    if spec is None or anchor is None or any(isinstance(a.type, TensorType) for a in node.tensor_args()):
        return code
    return code.visit(_OnDevice(spec, anchor))
