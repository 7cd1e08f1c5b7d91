"""Model and training emission every backend shares: the layer-row type, the base rows, a layer call from a
row, the data-set and `train(...)` calls, and the small helpers around them.

A backend's layer table is its differences from the base rows, the way its op table extends the base ops:

    LAYER_ROWS = {**BASE_LAYER_ROWS,
                  "Linear": LayerRow("nn.Dense", ("out_features",), {"use_bias": "bias"}),
                  "GroupNorm": LayerRow.unsupported("its affine parameters are per group, not per channel")}

The base row of a layer is the DSL's own spelling, `nn.<Kind>(required args, optional=optional)`
(core/layers.py): a framework that spells a layer that way needs no row for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import libcst as cst

from d2lc.core import ir
from d2lc.core.layers import DATASETS, LAYERS, LayerSpec
from d2lc.core.ops import REQUIRED
from d2lc.passes.analysis import reads

if TYPE_CHECKING:
    from d2lc.emit.base import Emitter

EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))  # `name=value`, no spaces


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    """The argument `name=value`."""
    return cst.Arg(value, keyword=cst.Name(name), equal=EQ)


def is_zero(v: ir.Expr | None) -> bool:
    return isinstance(v, ir.Const) and v.value == 0


def is_default(v: ir.Expr | None, default: object) -> bool:
    """Whether a layer argument is absent or the DSL default."""
    return v is None or isinstance(v, ir.Const) and v.value == default


def names_read(f: ir.FuncDef) -> set[str]:
    """Every name a model's forward reads, the members it applies included."""
    out: set[str] = set()
    for s in ir.walk_stmts(f.body):
        out |= reads(s)
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.ApplyLayer):
                out.add(e.member)
    return out


@dataclass(frozen=True)
class LayerRow:
    """How a framework builds one DSL layer.

    path: the constructor (`nn.LazyLinear`); positional: the DSL arguments passed by position;
    keywords: {framework keyword: DSL argument}, left out when absent or the DSL default, always passed when
    the argument is written `!name` (the DSL default when absent). A positional or keyword entry written
    `=code` is that Python code instead (`{"batch_first": "=True"}`). in_axis: the input axis whose size the
    constructor takes first (frameworks without lazy layers), None for none; why_not: set for a layer the
    framework cannot build with the DSL's meaning (a compile error naming the layer and the target)."""

    path: str
    positional: tuple[str, ...] = ()
    keywords: Mapping[str, str] = field(default_factory=dict)
    in_axis: int | None = None
    why_not: str | None = None

    @classmethod
    def unsupported(cls, why: str) -> "LayerRow":
        return cls("", why_not=why)


def base_row(spec: LayerSpec) -> LayerRow:
    """The DSL's own spelling of a layer: `nn.<Kind>(required..., optional=optional...)`."""
    required = tuple(p.name for p in spec.params if p.default is REQUIRED)
    return LayerRow(f"nn.{spec.kind}", required, {p.name: p.name for p in spec.params if p.default is not REQUIRED})


BASE_LAYER_ROWS: dict[str, LayerRow] = {k: base_row(s) for k, s in LAYERS.items() if k != "Sequential"}


def layer_call(em: "Emitter", layer: ir.Layer, rows: Mapping[str, LayerRow], path: str | None = None) -> cst.Call:
    """A layer constructor from its row (`path` replaces the row's); keywords equal to the DSL default are left out."""
    row = rows.get(layer.kind)
    if row is None or row.why_not is not None:
        em.unsupported_construct(layer.loc, f"layer {layer.kind}" + (f" ({row.why_not})" if row is not None else ""))
        raise AssertionError
    defaults = {p.name: p.default for p in LAYERS[layer.kind].params}
    args = [cst.Arg(cst.parse_expression(p[1:]) if p.startswith("=") else em.expr(layer.args[p]))
            for p in row.positional if p.startswith("=") or layer.args.get(p) is not None]
    for kw, param in row.keywords.items():
        if param.startswith("="):
            args.append(keyword(kw, cst.parse_expression(param[1:])))
            continue
        force = param.startswith("!")
        param = param.lstrip("!")
        v = layer.args.get(param)
        if v is None and force and defaults.get(param) not in (None, REQUIRED):
            args.append(keyword(kw, em.literal(defaults[param])))
        elif v is not None and (force or not is_default(v, defaults.get(param))):
            args.append(keyword(kw, em.expr(v)))
    return cst.Call(cst.parse_expression(path or row.path), args)


def dataset_call(em: "Emitter", c: ir.Construct, snippets: Path) -> cst.Call:
    """`fashion_mnist(batch_size=...)`: a data set's helper (the backend's snippet of that name) and its call.
    `load_array(X, y, ...)` takes its tensors by position, the examples in the layout the models compute in."""
    em.helper(c.kind, (snippets / f"{c.kind}.py").read_text(encoding="utf-8"))
    if c.kind == "load_array":
        head = [cst.Arg(em.model_input(c.args["X"])), cst.Arg(em.expr(c.args["y"]))]
        rest = [keyword(k, em.expr(v)) for k, v in c.args.items() if v is not None and k not in ("X", "y")]
        return cst.Call(cst.Name(c.kind), head + rest)
    return cst.Call(cst.Name(c.kind), [keyword(k, em.expr(v)) for k, v in c.args.items() if v is not None])


def is_dataset(c: ir.Construct) -> bool:
    return c.kind in DATASETS


def train_call(em: "Emitter", t: ir.Train, snippets: Path, *extra: cst.BaseExpression) -> cst.Call:
    """`train(net, data, loss, optimizer, *extra, epochs, clip=...)` with the backend's `train` snippet emitted."""
    em.helper("train", (snippets / "train.py").read_text(encoding="utf-8"))
    args = [cst.Arg(em.expr(t.net)), cst.Arg(em.expr(t.data)), cst.Arg(em.construct(t.loss)),
            cst.Arg(em.construct(t.optimizer)), *(cst.Arg(x) for x in extra), cst.Arg(em.expr(t.epochs))]
    if t.clip is not None:
        args.append(keyword("clip", em.expr(t.clip)))
    return cst.Call(cst.Name("train"), args)


def expression_statement(e: cst.BaseExpression) -> list[cst.BaseStatement]:
    return [cst.SimpleStatementLine([cst.Expr(e)])]
