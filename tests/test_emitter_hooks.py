"""The emitter's contract with backends: public statement hooks, typed state, typed capabilities.

Backends say what differs through `before_stmt`, `bind`, `emit_stmt`, `enter_block`, `leave_block` and
`after_stmt` (d2lc/emit/statements.py), never by overriding a private method of the shared emitter, and
keep their bookkeeping in a `State` dataclass, not in string keys.
"""
from __future__ import annotations

import dataclasses

import pytest

from d2lc.emit.backend import Backend, get_backend, target_names
from d2lc.emit.base import Emitter
from d2lc.build.checked import compile_chapter

from helpers import TARGETS, chapter

PRIVATE = {n for n in dir(Emitter) if n.startswith("_") and not n.startswith("__")}


def _own_classes(backend: Backend) -> list[type]:
    """The classes of a backend's emitter that are not the shared emitter's own."""
    shared = set(Emitter.__mro__)
    return [c for c in backend.emitter.__mro__ if c not in shared and c is not object]


@pytest.mark.parametrize("name", target_names())
def test_backends_override_no_private_emitter_method(name):
    backend = get_backend(name)
    overridden = sorted(f"{c.__name__}.{n}" for c in _own_classes(backend) for n in vars(c) if n in PRIVATE)
    assert overridden == [], "use the public hooks of d2lc.emit.statements instead"


@pytest.mark.parametrize("name", target_names())
def test_backend_state_is_a_dataclass(name):
    em = get_backend(name).emitter
    assert dataclasses.is_dataclass(em.State)
    assert not isinstance(em.State(), dict)


def test_capabilities_are_typed_attributes():
    fields = {f.name for f in dataclasses.fields(Backend)}
    assert "extra" not in fields
    assert get_backend("jax").narrow_dtypes and not get_backend("pytorch").narrow_dtypes


class _Recorder:
    """Records the hooks the walker calls, with the block depth each one sees."""

    def before_stmt(self, s):
        self.calls.append(("before", type(s).__name__, self.block_depth, self.loop_depth))
        super().before_stmt(s)

    def bind(self, s):
        self.calls.append(("bind", s.name, self.block_depth, self.loop_depth))
        super().bind(s)

    def enter_block(self, s):
        self.calls.append(("enter", type(s).__name__, self.block_depth, self.loop_depth))
        super().enter_block(s)

    def leave_block(self, s, code):
        self.calls.append(("leave", type(s).__name__, self.block_depth, self.loop_depth))
        return super().leave_block(s, code)

    def after_stmt(self, s, code):
        self.calls.append(("after", type(s).__name__, self.block_depth, self.loop_depth))
        return super().after_stmt(s, code)


@pytest.mark.parametrize("name", TARGETS)
def test_the_walker_calls_the_hooks_in_order_with_the_depth(name):
    module = compile_chapter(chapter("""
        x = 1
        for i in range(3):
            if i > 0:
                x = x + i
    """), "test.md", set(TARGETS))
    backend = get_backend(name)
    cls = type("Recording", (_Recorder, backend.emitter), {})
    em = cls(backend, module)
    em.calls = []
    em.cell_code(list(module.stmts()))
    assert em.calls == [
        ("before", "Assign", 0, 0), ("bind", "x", 0, 0), ("after", "Assign", 0, 0),
        ("before", "For", 0, 0), ("enter", "For", 0, 0),
        ("before", "If", 1, 1), ("enter", "If", 1, 1),
        ("before", "Assign", 2, 1), ("bind", "x", 2, 1), ("after", "Assign", 2, 1),
        ("leave", "If", 1, 1), ("after", "If", 1, 1),
        ("leave", "For", 0, 0), ("after", "For", 0, 0),
    ]
