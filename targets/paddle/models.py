"""Paddle models: `nn.Layer` classes, `paddle.optimizer`, and a training helper.

Paddle has no lazy layers: `nn.Linear(in_features, out_features)` needs its input size when it is
built. The emitter works it out from the type of the input `forward` applies the layer to
(`d2lc.emit.layer_inputs`): a number when the annotation gives one (`X: f32[b, 1, 28, 28]`), a
hyperparameter when the annotation names one (`X: f32[n, num_inputs]` in `model M(num_inputs: int)`), or
what the layers applied before it make (`head(gru(embedding(X)))`: the GRU's `num_hiddens`). Otherwise the
layer is wrapped in `Lazy` (snippets/lazy.py), which builds it on the first batch, and `train`
runs one batch before it collects the parameters.
"""
from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import libcst as cst

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.layers import OPTIMIZERS, RECURRENT_KINDS
from d2lc.emit.fmt import attr, sub
from d2lc.emit.inits import LayerInits, RecurrentInits, init_call
from d2lc.emit.lambdas import capture_free_lambda, free_names
from d2lc.emit.rules import call
from d2lc.emit.layer_inputs import input_size_code, layer_inputs, top_level_inputs
from d2lc.emit.model_code import BASE_LAYER_ROWS, LayerRow, dataset_call, expression_statement, is_dataset, is_default, keyword, layer_call, names_read, train_call

from .inits import INITIALIZERS, LAYER_INITS, RECURRENT_INITS
from .optimizers import optimizer

SNIPPETS = Path(__file__).parent / "snippets"
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "squared_loss": "nn.MSELoss()"}

LAYER_ROWS = {**BASE_LAYER_ROWS,  # in_axis: the input axis whose size the constructor takes first
              "Linear": LayerRow("nn.Linear", ("out_features",), in_axis=-1),
              "Conv2d": LayerRow("nn.Conv2D", ("out_channels", "kernel"), {"stride": "stride", "padding": "padding", "groups": "groups"},
                                 in_axis=1),
              "MaxPool2d": LayerRow("nn.MaxPool2D", ("kernel",), {"stride": "stride", "padding": "padding"}),
              "AvgPool2d": LayerRow("nn.AvgPool2D", ("kernel",), {"stride": "stride", "padding": "padding"}),
              "BatchNorm1d": LayerRow("nn.BatchNorm1D", (), {"epsilon": "eps"}, in_axis=1),
              "BatchNorm2d": LayerRow("nn.BatchNorm2D", (), {"epsilon": "eps"}, in_axis=1),
              "LayerNorm": LayerRow("nn.LayerNorm", ("size",), {"epsilon": "eps"}),
              "GroupNorm": LayerRow("nn.GroupNorm", ("num_groups", "num_channels"), {"epsilon": "eps"}),
              # batch-first by default (time_major=False); both directions: direction="bidirect" (`layer`)
              **{k: LayerRow(path, ("num_inputs", "num_hiddens"), {"num_layers": "num_layers"})
                 for k, path in (("RNN", "nn.SimpleRNN"), ("GRU", "nn.GRU"), ("LSTM", "nn.LSTM"))}}


class PaddleModels:
    """Mixed into PaddleEmitter."""
    # the tables a derived backend extends (`layer_rows = {**Parent.layer_rows, ...}`); see docs/adding-a-backend.md
    layer_rows: ClassVar[dict[str, LayerRow]] = LAYER_ROWS
    layer_inits: ClassVar[LayerInits] = LAYER_INITS
    recurrent_inits: ClassVar[RecurrentInits] = RECURRENT_INITS
    initializers: ClassVar[dict] = INITIALIZERS

    # ---- input sizes -------------------------------------------------------------------------
    def _in_size(self, layer: ir.Layer, axis: int) -> cst.BaseExpression | None:
        """The input size of `layer` along `axis` as code (a number or hyperparameters), or None if unknown."""
        if id(layer) not in self.state.layer_inputs:  # a layer of top-level code: what its first call is given
            if self.state.top_level_inputs is None:
                self.state.top_level_inputs = top_level_inputs(self.module)
            return input_size_code(self.state.top_level_inputs, layer, axis)
        return input_size_code(self.state.layer_inputs, layer, axis)

    def _sized(self, layer: ir.Layer, axis: int, build) -> cst.BaseExpression:
        """`build(size)` with the input size known statically, else wrapped in `Lazy(lambda size: ..., axis)`."""
        size = self._in_size(layer, axis)
        if size is not None:
            return build(size)
        self.helper("Lazy", (SNIPPETS / "lazy.py").read_text())
        make = capture_free_lambda(["size"], build)
        read = free_names(make.body)
        bound = [cst.Param(cst.Name(v), default=cst.Name(v)) for v in self.layer_loop_vars if v in read]
        if bound:  # built on the first batch, after the loop: the loop variables' values now (`lambda size, i=i: ...`)
            make = make.with_changes(params=make.params.with_changes(params=[*make.params.params, *bound]))
        axis_code = cst.Integer(str(axis)) if axis >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-axis)))
        return call("Lazy", make, axis_code)

    # ---- layers and parameters ---------------------------------------------------------------
    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        if layer.kind == "Sequential":
            return cst.Call(cst.parse_expression("nn.Sequential"), self.sequence_args(layer.children))
        a = layer.args
        args = list(layer_call(self, layer, self.layer_rows).args)
        if layer.kind.startswith("BatchNorm") and not is_default(a.get("momentum"), 0.1):
            # the DSL's momentum weighs the new batch (as PyTorch's), Paddle's the running statistics
            m = a["momentum"]
            value = self.literal(round(1 - m.value, 12)) if isinstance(m, ir.Const) else \
                cst.BinaryOperation(cst.Integer("1"), cst.Subtract(), self.expr(m))
            args.append(keyword("momentum", value))
        if layer.kind in RECURRENT_KINDS and static_value(a.get("bidirectional")) is True:
            args.append(keyword("direction", cst.SimpleString('"bidirect"')))
        if layer.kind == "AvgPool2d" and not is_default(a.get("padding"), 0):
            args.append(keyword("exclusive", cst.Name("False")))  # count the padding in the average, as PyTorch does
        args.extend(self.layer_inits.args(self, layer))
        if layer.kind in RECURRENT_KINDS:
            args.extend(self.recurrent_inits.args(self, layer, self.symmetric_uniform, self.layer_inits.wrap))
        if layer.kind == "Linear" and isinstance(a.get("bias"), ir.Const) and a["bias"].value is False:
            args.append(keyword("bias_attr", cst.Name("False")))
        row = self.layer_rows[layer.kind]
        if row.in_axis is None:
            return cst.Call(cst.parse_expression(row.path), args)
        return self._sized(layer, row.in_axis, lambda n: cst.Call(cst.parse_expression(row.path), [cst.Arg(n), *args]))

    def call_model(self, c: ir.CallModel) -> cst.BaseExpression:
        out = super().call_model(c)
        if c.layer is not None and c.layer.kind in RECURRENT_KINDS:  # a recurrent layer called at the top level
            return sub(out, [cst.SubscriptElement(cst.Index(cst.Integer("0")))])  # (outputs, final states)
        return out

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        out = super().apply_layer(a)
        member = self.model_member(a.member)
        if member is not None and isinstance(member.value, ir.Layer) and member.value.kind in RECURRENT_KINDS:
            return sub(out, [cst.SubscriptElement(cst.Index(cst.Integer("0")))])  # (outputs, final states)
        return out

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        return init_call(self, self.initializers[init.kind], init)

    def symmetric_uniform(self, bound: cst.BaseExpression) -> cst.BaseExpression:
        """U(-bound, bound) as a parameter attribute (Paddle's recurrent weights start so by default)."""
        return call("paddle.ParamAttr", initializer=call("nn.initializer.Uniform", cst.UnaryOperation(cst.Minus(), bound), bound))

    def init_tensor(self, init: ir.Init, shape: cst.BaseExpression, loc) -> cst.BaseExpression:
        """A constant's tensor drawn as `init` says (a buffer holds a plain tensor, not a parameter)."""
        a = {k: self.expr(v) for k, v in init.args.items() if v is not None}
        if init.kind == "normal":
            return call("paddle.normal", a.get("mean") or cst.Float("0.0"), a.get("std") or cst.Float("1.0"), shape)
        if init.kind == "uniform":
            return call("paddle.uniform", shape, min=a["low"], max=a["high"])
        if init.kind == "constant":
            return call("paddle.full", shape, a["value"])
        if init.kind in ("zeros", "ones"):
            return call(f"paddle.{init.kind}", shape)
        self.unsupported_construct(loc, f"param(..., init={init.kind}, trainable=False)")
        raise AssertionError

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        shape = p.shape
        if isinstance(shape, ir.Seq):  # Paddle's shapes are lists
            shape = ir.Seq(shape.type, shape.loc, shape.items, "list")
        out = call("self.create_parameter", shape=self.expr(shape), default_initializer=self.initializer(p.init))
        return out if p.trainable else self.init_tensor(p.init, self.expr(shape), p.loc)

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.state.layer_inputs = layer_inputs(m)
        used = names_read(m.forward)
        body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        for member in m.members:
            if isinstance(member.value, ir.LayerList):  # built in the constructor; forward iterates a LayerList
                with self.earlier_members(m, member):
                    body.extend(self.list_statements(member.name, member.value))
                if member.name in used:
                    body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))],
                                                                    call("nn.LayerList", cst.Name(member.name)))]))
                continue
            with self.earlier_members(m, member):
                value = self.expr(member.value)
            if isinstance(member.value, ir.ParamDecl) and not member.value.trainable:  # a constant: saved with the model
                body.append(cst.SimpleStatementLine([cst.Expr(call("self.register_buffer", cst.SimpleString(repr(member.name)), value))]))
                continue
            body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))], value)]))
        params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(params), cst.IndentedBlock(body))
        forward = self.method(m, m.forward, "forward", [])
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init, forward]), bases=[cst.Arg(cst.parse_expression("nn.Layer"))])]

    # ---- data, optimizers, losses, training --------------------------------------------------
    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if is_dataset(c):
            return dataset_call(self, c, SNIPPETS)
        if c.kind in OPTIMIZERS:
            return optimizer(self, c)
        if c.kind not in LOSSES:
            self.unsupported_construct(c.loc, f"`{c.kind}`")
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        return expression_statement(train_call(self, t, SNIPPETS))


