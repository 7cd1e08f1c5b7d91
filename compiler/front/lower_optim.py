"""Lowering of the optimizers (`SGD(...)`, `Adam(...)`, `AdamW(...)`, `RMSProp(...)`, `Adagrad(...)`), arguments checked."""
from __future__ import annotations

from typing import Callable

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, article
from d2lc.front.lower_loops import bound_model, lower_bound_optimizer
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.layers import OPTIMIZERS, SCHEDULES
from d2lc.core.types import ANY, AnyType, OpaqueType, ScalarType, TensorType

# What a known value of each argument must satisfy (PyTorch's own checks, narrowed where a decay rate of 1 or more
# would never forget): the test, and the range it states.
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "lr": (lambda v: v > 0, "a positive number"),
    "momentum": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: v >= 0, "a number >= 0"),
    "alpha": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "eps": (lambda v: v > 0, "a positive number"),
    "step_size": (lambda v: isinstance(v, int) and v > 0, "a positive int"),
    "gamma": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "T_max": (lambda v: isinstance(v, int) and v > 0, "a positive int"),
    "eta_min": (lambda v: v >= 0, "a number >= 0"),
    "warmup": (lambda v: isinstance(v, int) and v >= 0, "an int >= 0"),
}
SCHEDULE = OpaqueType("schedule")

def signature(name: str) -> str:
    """`SGD(lr, momentum=0.0, weight_decay=0.0)`: the optimizer's (or schedule's) parameters with their defaults."""
    from d2lc.core.ops import REQUIRED
    params = OPTIMIZERS.get(name) or SCHEDULES[name]
    return f"{name}({', '.join(p.name if p.default is REQUIRED else f'{p.name}={p.default!r}' for p in params)})"


def is_schedule(v: ir.Expr | None) -> bool:
    return isinstance(v, ir.Construct) and v.type == SCHEDULE


def lower_optimizer(lw: LowererBase, e: A.Call, name: str, args: dict[str, ir.Expr | None] | None) -> ir.Expr:
    """An optimizer value from its bound arguments (None: binding failed, reported): every argument a number,
    every known one in its range."""
    if args is None:
        return ir.Const(ANY, e.loc, None)
    ok = True
    for key, v in args.items():
        if v is None or key == "lr" and is_schedule(v):
            continue
        if key == "milestones":
            ok = _milestones_ok(lw, name, v) and ok
            continue
        t = v.type
        if not (isinstance(t, ScalarType) and t.kind in ("int", "float")) and not isinstance(t, AnyType):
            lw.error(v.loc, f"`{name}`'s `{key}` must be a number, got {article(t)}", expected=RANGES[key][1],
                     hint="use `.item()` to take the number out of a one-element tensor" if isinstance(t, TensorType) else
                     f"the signature is {signature(name)}")
            ok = False
            continue
        sv = static_value(v)
        test, stated = RANGES[key]
        if isinstance(sv, (int, float)) and not isinstance(sv, bool) and not test(sv):
            lw.error(v.loc, f"`{name}`'s `{key}` is {sv!r}, outside its range", expected=stated,
                     hint=f"the signature is {signature(name)}")
            ok = False
    ok = _warmup_ok(lw, name, args) and ok
    kind = SCHEDULE if name in SCHEDULES else OpaqueType("optimizer")
    return ir.Construct(kind, e.loc, name, args) if ok else ir.Const(ANY, e.loc, None)


def _refuse(lw: LowererBase, loc, message: str, expected: str, hint: str) -> bool:
    """Reports the error; False: the check failed."""
    lw.error(loc, message, expected=expected, hint=hint)
    return False


def _milestones_ok(lw: LowererBase, name: str, v: ir.Expr) -> bool:
    """MultiStepLR's `milestones`: a list of int expressions, written out (`[30, 60]`, `[n // 2, n]`); the known
    ones positive and increasing (gluon's MultiFactorScheduler asserts both)."""
    if not isinstance(v, ir.Seq) or not v.items:
        return _refuse(lw, v.loc, f"`{name}`'s `milestones` must be a list of the updates at which the rate drops",
                            expected="a list of ints, e.g. milestones=[30, 60]", hint=f"the signature is {signature(name)}")
    for item in v.items:
        if not (isinstance(item.type, ScalarType) and item.type.kind == "int" or isinstance(item.type, AnyType)):
            return _refuse(lw, item.loc, f"a milestone is an update count, got {article(item.type)}", expected="an int",
                                hint="count updates (optimizer steps), e.g. `epochs * steps_per_epoch`; `int(...)` converts")
    known = [static_value(i) for i in v.items]
    if any(isinstance(k, int) and k < 1 for k in known):
        return _refuse(lw, v.loc, f"`{name}`'s milestones must be positive", expected="ints >= 1, increasing",
                            hint="a milestone at update 0 would just start at the lower rate: lower `lr` instead")
    ints = [k for k in known if isinstance(k, int)]
    if len(ints) == len(known) and any(b <= a for a, b in zip(ints, ints[1:])):
        return _refuse(lw, v.loc, f"`{name}`'s milestones {ints} are not increasing", expected="ints >= 1, increasing",
                            hint="list the updates in order, each once")
    return True


def _warmup_ok(lw: LowererBase, name: str, args: dict[str, ir.Expr | None]) -> bool:
    """CosineLR's known `warmup` is shorter than its known `T_max` (the cosine needs at least one step)."""
    w, t = static_value(args.get("warmup")), static_value(args.get("T_max"))
    if isinstance(w, int) and isinstance(t, int) and w >= t:
        return _refuse(lw, args["warmup"].loc, f"`{name}`'s warmup of {w} steps is not shorter than its T_max of {t}",
                            expected=f"warmup < T_max ({t})", hint="T_max counts the whole schedule, warm-up included")
    return True


def lower_optimizer_call(lw: LowererBase, e: A.Call, name: str, bind: Callable) -> ir.Expr:
    """`SGD(lr=0.1)`, or `SGD(net, lr=0.1)` bound to a model's parameters for a hand-written loop (lower_loops):
    the arguments bound by `bind` (lower_models') against the optimizer's signature, without the model."""
    if name in SCHEDULES:  # `StepLR(0.1, step_size=2)`: checked as an optimizer's arguments are
        return lower_optimizer(lw, e, name, bind(lw, SCHEDULES[name], e, name, hint=f"the signature is {signature(name)}"))
    net = bound_model(lw, e)
    rest = A.Call(e.loc, e.func, e.args[1:], e.kwargs) if net is not None else e
    opt = lower_optimizer(lw, rest, name, bind(lw, OPTIMIZERS[name], rest, name, hint=f"the signature is {signature(name)}"))
    lr = opt.args.get("lr") if isinstance(opt, ir.Construct) else None
    if net is None and is_schedule(lr):
        return lw.error(lr.loc, "a learning-rate schedule is stepped by a hand-written loop's optimizer, not yet by `train`",
                        expected=f"opt = {name}(net, lr={lr.kind}(...)) and `for X, y in data.train: ... opt.step(loss)`",
                        hint="write the training loop (docs/dsl.md, \"Training loops\"), or give `train` a constant `lr`")
    return lower_bound_optimizer(lw, e, net, opt) if net is not None else opt


def is_optimizer(lw: LowererBase, opt: ir.Expr) -> bool:
    """Whether `train`'s `optimizer=` is an optimizer; reports it when not (unless its own error is reported already)."""
    if isinstance(opt, ir.Construct) and opt.type == OpaqueType("optimizer"):
        return True
    if not isinstance(opt.type, AnyType):
        names = list(OPTIMIZERS)
        lw.error(opt.loc, "`optimizer` must be an optimizer", expected=", ".join(f"{n}(...)" for n in names[:-1]) + f" or {names[-1]}(...)")
    return False


__all__ = ["lower_optimizer", "lower_optimizer_call", "is_schedule", "SCHEDULE", "is_optimizer", "signature", "RANGES"]
