"""Initialiser tables of backends: a DSL initialiser as a call of the framework's own API.

A backend lists, once, how its framework spells each DSL initialiser, and uses that one table for
`param(shape, init=...)` and for the `init=` / `bias_init=` of built-in layers:

    INITIALIZERS = {
        "normal": ("tf.keras.initializers.RandomNormal", ("mean=mean", "stddev=std")),
        "zeros": ("tf.keras.initializers.Zeros", ()),
    }

A row is (callable, arguments). An argument is a DSL argument name (`mean`, `std`, `low`, `high`,
`value`) passed by position, `keyword=name` passed by keyword, or a Python literal (`0.0`). A keyword
whose DSL argument is absent is left out; an absent positional one is the DSL's default. A row whose
arguments are None is the bare callable (`nn.initializers.zeros`).

`LayerInits` says which keyword of a layer constructor takes which parameter's initialiser;
`RecurrentInits` where a recurrent layer takes the language's default initialisation.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import libcst as cst

from d2lc.core import ir
from d2lc.emit.fmt import binop
from d2lc.emit.model_code import EQ
from d2lc.emit.rules import dotted

if TYPE_CHECKING:
    from d2lc.emit.base import Emitter

Row = tuple[str, "tuple[str, ...] | None"]
DEFAULTS = {"mean": 0.0, "std": 1.0, "low": 0.0, "high": 1.0, "value": 0.0}  # the DSL's, for absent arguments


def init_call(em: "Emitter", row: Row, init: "ir.Init", *lead: cst.BaseExpression) -> cst.BaseExpression:
    """The framework call a table row makes of `init`; `lead` are extra first arguments (a tensor to fill)."""
    path, arguments = row
    if arguments is None:
        return dotted(path)
    args = [cst.Arg(x) for x in lead]
    for item in arguments:
        keyword, _, name = item.rpartition("=")
        if name in DEFAULTS:
            value = init.args.get(name)
            if value is None and keyword:
                continue
            code = em.expr(value) if value is not None else em.literal(DEFAULTS[name])
        else:
            code = em.literal(ast.literal_eval(name))
        args.append(cst.Arg(code, keyword=cst.Name(keyword), equal=EQ) if keyword else cst.Arg(code))
    return cst.Call(dotted(path), args)


@dataclass(frozen=True)
class LayerInits:
    """Where a framework's layer constructors take initialisers.

    keywords: DSL layer -> {"weight" | "bias": the constructor's keyword}.
    zero_bias_default: whether the framework's layers start their biases at zero, as `init=` without
        `bias_init=` asks (then that zero bias is not spelt out).
    wrap: turns an initialiser into the keyword's value (Paddle's `paddle.ParamAttr(initializer=...)`).
    weight_defaults: DSL layer -> the DSL initialiser its framework layer already starts its weight with (Keras'
        Dense and Conv2D: Glorot's uniform, "xavier"); where that is also the language's default and the source
        states no `init=`, it is not spelt out (a stated one always is)."""

    keywords: dict[str, dict[str, str]]
    zero_bias_default: bool = True
    wrap: Callable[[cst.BaseExpression], cst.BaseExpression] | None = field(default=None)
    weight_defaults: dict[str, str] = field(default_factory=dict)

    def args(self, em: "Emitter", layer: "ir.Layer") -> list[cst.Arg]:
        """Keyword arguments setting the stated initialisers of `layer` (via `em.initializer`)."""
        out = []
        for role, init in layer.inits(self.zero_bias_default).items():
            if role == "weight" and layer.init is None and self.weight_defaults.get(layer.kind) == init.kind:
                continue
            value = em.initializer(init)
            out.append(cst.Arg(self.wrap(value) if self.wrap else value, keyword=cst.Name(self.keywords[layer.kind][role]), equal=EQ))
        return out


def hidden_bound(em: "Emitter", layer: "ir.Layer") -> cst.BaseExpression:
    """`1 / num_hiddens**0.5`: the bound of a recurrent layer's default uniform weights (docs/dsl.md)."""
    return binop(cst.Integer("1"), cst.Divide(), binop(em.expr(layer.args["num_hiddens"]), cst.Power(), cst.Float("0.5")))


@dataclass(frozen=True)
class RecurrentInits:
    """Where a framework's recurrent layers (RNN, GRU, LSTM) take the language's default initialisation: every
    weight U(-1/sqrt(num_hiddens), 1/sqrt(num_hiddens)), every bias zero (layers.RECURRENT_DEFAULT).

    weights: the constructor keywords of the input and the recurrent weights, each given
        `uniform(bound)` (the framework's U(-bound, bound)); empty where that is the framework's own default.
    biases: the keywords of the biases, each given `zeros` (wrapped as LayerInits.wrap says); empty where the
        framework starts its biases at zero.
    fixed: {layer kind: {keyword: code}} switching off a scheme of the framework's own (Keras'
        `unit_forget_bias=False`)."""

    weights: tuple[str, ...] = ()
    biases: tuple[str, ...] = ()
    fixed: dict[str, dict[str, str]] = field(default_factory=dict)

    def args(self, em: "Emitter", layer: "ir.Layer", uniform: Callable[[cst.BaseExpression], cst.BaseExpression],
             wrap: Callable[[cst.BaseExpression], cst.BaseExpression] | None = None) -> list[cst.Arg]:
        """Keyword arguments giving `layer` the language's recurrent initialisation."""
        out = [cst.Arg(uniform(hidden_bound(em, layer)), keyword=cst.Name(k), equal=EQ) for k in self.weights]
        zeros = em.initializer(ir.Init("zeros", {}, layer.loc)) if self.biases else None
        out += [cst.Arg(wrap(zeros) if wrap else zeros, keyword=cst.Name(k), equal=EQ) for k in self.biases]
        out += [cst.Arg(cst.parse_expression(code), keyword=cst.Name(k), equal=EQ)
                for k, code in self.fixed.get(layer.kind, {}).items()]
        return out


def with_args(node: cst.Call, extra: list[cst.Arg]) -> cst.Call:
    """`node` with `extra` arguments appended."""
    return node.with_changes(args=[*node.args, *extra]) if extra else node
