"""The inputs of one function, run in one request per target (and process), all targets in parallel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from d2lc.harness.cases import FunctionCase
from d2lc.harness.client import CallFailed, Reply, WorkerError
from d2lc.harness.results import TargetTiming
from d2lc.harness.session import Session
from d2lc.harness.strategies import Example

Cells = dict[tuple[str, str], "CallResult"]  # (target, callee) -> what came back


@dataclass
class CallResult:
    kind: str  # "ok" | "raised" | "died"
    value: Any = None
    message: str = ""
    traceback: str = ""


def count(timing: TargetTiming, reply: Reply) -> None:
    """Add one answered call to a target's timings."""
    timing.calls += 1
    timing.roundtrip_s += reply.roundtrip_s
    timing.compute_s += reply.header.get("compute_s", 0.0)
    timing.convert_s += reply.header.get("convert_s", 0.0)
    timing.jitted += bool(reply.header.get("jitted"))


def run_batches(session: Session, case: FunctionCase, drawn: dict[str, Example], by_target: dict[str, list[str]],
                timings: dict[str, TargetTiming]) -> dict[str, Cells]:
    """Every drawn input (key -> example) on each target's callees; key -> cells that came back.

    A worker that dies or hangs ends its batch: that input and the later ones of the batch are left
    out, so that running them one by one reports the crash as without batches."""
    callees = {r.callee: r for r in case.rows}
    results: dict[str, Cells] = {key: {} for key in drawn}

    def run_part(part: tuple[str, int, list[str]]) -> None:
        target, worker, keys = part
        order = [(key, callee) for key in keys for callee in by_target[target]]
        calls = [(callee, case.args_for(callees[callee], drawn[key].args)) for key, callee in order]
        replies = session.workers_of(target)[worker].call_batch(target, case.chapter.key, calls, jit=True)
        timing = timings.setdefault(target, TargetTiming())
        broken = next((order[i][0] for i, r in enumerate(replies) if isinstance(r, WorkerError)), None)
        for (key, callee), reply in zip(order, replies):
            if key == broken:
                break
            if isinstance(reply, CallFailed):
                results[key][(target, callee)] = CallResult("raised", message=str(reply), traceback=reply.traceback)
            else:
                count(timing, reply)
                results[key][(target, callee)] = CallResult("ok", reply.value)

    parts = [(target, i, keys) for target in by_target
             for i, keys in enumerate(share_out(drawn, len(session.workers_of(target)))) if keys]
    list(session.pool.map(run_part, parts))
    return results


def share_out(drawn: dict[str, Example], n: int) -> list[list[str]]:
    """The drawn inputs' keys in `n` lists, in draw order, inputs of one shape in the same list (so each shape
    is traced and compiled by one process), the lists about as long as each other."""
    if n == 1:
        return [list(drawn)]
    by_shape: dict[tuple, list[str]] = {}
    for key, ex in drawn.items():
        by_shape.setdefault(tuple(sorted(ex.dims.items())), []).append(key)
    parts: list[list[str]] = [[] for _ in range(n)]
    for keys in sorted(by_shape.values(), key=len, reverse=True):
        min(parts, key=len).extend(keys)
    order = {key: i for i, key in enumerate(drawn)}
    return [sorted(part, key=order.__getitem__) for part in parts]
