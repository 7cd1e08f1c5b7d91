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

import libcst as cst

from d2lc.core import ir
from d2lc.emit.fmt import attr, sub
from d2lc.emit.inits import init_call
from d2lc.emit.lambdas import capture_free_lambda
from d2lc.emit.rules import call
from d2lc.emit.layer_inputs import input_size_code, layer_inputs

from .inits import INITIALIZERS, LAYER_INITS

SNIPPETS = Path(__file__).parent / "snippets"
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "squared_loss": "nn.MSELoss()"}
_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))

LAYERS = {  # DSL layer -> (constructor, axis of the input size it takes first (None: none), positional args, keyword map)
    "Linear": ("nn.Linear", -1, ("out_features",), {}),
    "Conv2d": ("nn.Conv2D", 1, ("out_channels", "kernel"), {"stride": "stride", "padding": "padding"}),
    "MaxPool2d": ("nn.MaxPool2D", None, ("kernel",), {"stride": "stride", "padding": "padding"}),
    "AvgPool2d": ("nn.AvgPool2D", None, ("kernel",), {"stride": "stride", "padding": "padding"}),
    "BatchNorm1d": ("nn.BatchNorm1D", 1, (), {"epsilon": "eps"}),
    "BatchNorm2d": ("nn.BatchNorm2D", 1, (), {"epsilon": "eps"}),
    "Dropout": ("nn.Dropout", None, ("rate",), {}),
    "Flatten": ("nn.Flatten", None, (), {}),
    "ReLU": ("nn.ReLU", None, (), {}),
    "Sigmoid": ("nn.Sigmoid", None, (), {}),
    "Tanh": ("nn.Tanh", None, (), {}),
    "LayerNorm": ("nn.LayerNorm", None, ("size",), {"epsilon": "eps"}),
    "Embedding": ("nn.Embedding", None, ("num_embeddings", "dim"), {}),
    "RNN": ("nn.SimpleRNN", None, ("num_inputs", "num_hiddens"), {}),  # batch-first by default (time_major=False)
    "GRU": ("nn.GRU", None, ("num_inputs", "num_hiddens"), {}),
    "LSTM": ("nn.LSTM", None, ("num_inputs", "num_hiddens"), {}),
}
RECURRENT = ("RNN", "GRU", "LSTM")
DATASETS = ("synthetic_regression", "fashion_mnist", "time_machine")


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value, keyword=cst.Name(name), equal=_EQ)


class PaddleModels:
    """Mixed into PaddleEmitter."""

    # ---- input sizes -------------------------------------------------------------------------
    def _in_size(self, layer: ir.Layer, axis: int) -> cst.BaseExpression | None:
        """The input size of `layer` along `axis` as code (a number or hyperparameters), or None if unknown."""
        return input_size_code(self.state.layer_inputs, layer, axis)

    def _sized(self, layer: ir.Layer, axis: int, build) -> cst.BaseExpression:
        """`build(size)` with the input size known statically, else wrapped in `Lazy(lambda size: ..., axis)`."""
        size = self._in_size(layer, axis)
        if size is not None:
            return build(size)
        self.helper("Lazy", (SNIPPETS / "lazy.py").read_text())
        make = capture_free_lambda(["size"], build)
        axis_code = cst.Integer(str(axis)) if axis >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-axis)))
        return call("Lazy", make, axis_code)

    # ---- layers and parameters ---------------------------------------------------------------
    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        if layer.kind == "Sequential":
            return call("nn.Sequential", *[self.expr(c) for c in layer.children])
        if layer.kind not in LAYERS:
            self.unsupported_construct(layer.loc, f"layer {layer.kind}")
        path, in_axis, positional, keywords = LAYERS[layer.kind]
        from d2lc.core.layers import LAYERS as SPECS
        defaults = {p.name: p.default for p in SPECS[layer.kind].params}
        a = layer.args
        args = [cst.Arg(self.expr(a[p])) for p in positional if a.get(p) is not None]
        for kw, param in keywords.items():
            if not _default(a.get(param), defaults.get(param)):
                args.append(_kw(kw, self.expr(a[param])))
        if layer.kind.startswith("BatchNorm") and not _default(a.get("momentum"), 0.1):
            # the DSL's momentum weighs the new batch (as PyTorch's), Paddle's the running statistics
            m = a["momentum"]
            value = self.literal(round(1 - m.value, 12)) if isinstance(m, ir.Const) else \
                cst.BinaryOperation(cst.Integer("1"), cst.Subtract(), self.expr(m))
            args.append(_kw("momentum", value))
        if layer.kind == "AvgPool2d" and not _default(a.get("padding"), 0):
            args.append(_kw("exclusive", cst.Name("False")))  # count the padding in the average, as PyTorch does
        args.extend(LAYER_INITS.args(self, layer))
        if layer.kind == "Linear" and isinstance(a.get("bias"), ir.Const) and a["bias"].value is False:
            args.append(_kw("bias_attr", cst.Name("False")))
        if in_axis is None:
            return cst.Call(cst.parse_expression(path), args)
        return self._sized(layer, in_axis, lambda n: cst.Call(cst.parse_expression(path), [cst.Arg(n), *args]))

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        out = super().apply_layer(a)
        member = self.model_member(a.member)
        if member is not None and isinstance(member.value, ir.Layer) and member.value.kind in RECURRENT:
            return sub(out, [cst.SubscriptElement(cst.Index(cst.Integer("0")))])  # (outputs, final states)
        return out

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        return init_call(self, INITIALIZERS[init.kind], init)

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        shape = p.shape
        if isinstance(shape, ir.Seq):  # Paddle's shapes are lists
            shape = ir.Seq(shape.type, shape.loc, shape.items, "list")
        return call("self.create_parameter", shape=self.expr(shape), default_initializer=self.initializer(p.init))

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.state.layer_inputs = layer_inputs(m)
        used = _names_read(m.forward)
        body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        for member in m.members:
            with self.earlier_members(m, member):
                value = self.expr(member.value)
            body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))], value)]))
        params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(params), cst.IndentedBlock(body))
        forward = self.method(m, m.forward, "forward", [])
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init, forward]), bases=[cst.Arg(cst.parse_expression("nn.Layer"))])]

    # ---- data, optimizers, losses, training --------------------------------------------------
    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if c.kind in DATASETS:
            self.helper(c.kind, (SNIPPETS / f"{c.kind}.py").read_text())
            return cst.Call(cst.Name(c.kind), [_kw(k, self.expr(v)) for k, v in c.args.items() if v is not None])
        if c.kind in ("SGD", "Adam"):
            lr = _kw("learning_rate", self.expr(c.args["lr"]) if c.args.get("lr") is not None else cst.Float("0.001"))
            wd = c.args.get("weight_decay")
            decay = [_kw("weight_decay", self.expr(wd))] if wd is not None and not (isinstance(wd, ir.Const) and wd.value == 0) else []
            return capture_free_lambda(["params"], lambda params: cst.Call(
                cst.parse_expression(f"paddle.optimizer.{c.kind}"), [lr, _kw("parameters", params), *decay]))
        if c.kind not in LOSSES:
            self.unsupported_construct(c.loc, f"`{c.kind}`")
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        self.helper("train", (SNIPPETS / "train.py").read_text())
        args = [cst.Arg(self.expr(t.net)), cst.Arg(self.expr(t.data)), cst.Arg(self.construct(t.loss)),
                cst.Arg(self.construct(t.optimizer)), cst.Arg(self.expr(t.epochs))]
        if t.clip is not None:
            args.append(_kw("clip", self.expr(t.clip)))
        return [cst.SimpleStatementLine([cst.Expr(cst.Call(cst.Name("train"), args))])]


def _names_read(f: ir.FuncDef) -> set[str]:
    from d2lc.passes.analysis import reads
    out: set[str] = set()
    for s in ir.walk_stmts(f.body):
        out |= reads(s)
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.ApplyLayer):
                out.add(e.member)
    return out


def _default(v, default) -> bool:
    """Whether a layer argument is absent or the DSL default."""
    return v is None or isinstance(v, ir.Const) and v.value == default
