"""Paddle models: `nn.Layer` classes, `paddle.optimizer`, and a training helper.

Paddle has no lazy layers: `nn.Linear(in_features, out_features)` needs its input size when it is
built. The emitter works it out from the type of the input `forward` applies the layer to: a
number when the annotation gives one (`X: f32[b, 1, 28, 28]`), a hyperparameter when the
annotation names one (`X: f32[n, num_inputs]` in `model M(num_inputs: int)`). Otherwise the
layer is wrapped in `Lazy` (snippets/lazy.py), which builds it on the first batch, and `train`
runs one batch before it collects the parameters.
"""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc import ir
from d2lc.emit.fmt import attr
from d2lc.emit.rules import call
from d2lc.types import TensorType

SNIPPETS = Path(__file__).parent / "snippets"
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "squared_loss": "nn.MSELoss()"}
_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))

Dim = int | str | None  # a size, a hyperparameter's name (or a product of them), or unknown


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value, keyword=cst.Name(name), equal=_EQ)


class PaddleModels:
    """Mixed into PaddleEmitter."""

    # ---- input sizes -------------------------------------------------------------------------
    def _layer_inputs(self, m: ir.ModelDef) -> dict[int, tuple[Dim, ...]]:
        """id(layer) -> the shape of its input, for every layer `forward` applies (first use wins)."""
        members = {mm.name: mm.value for mm in m.members}
        hparams = {hp.name for hp in m.hparams}
        found: dict[int, tuple[Dim, ...]] = {}
        for s in ir.walk_stmts(m.forward.body):
            for e in ir.walk_exprs(s):
                if isinstance(e, ir.ApplyLayer) and isinstance(members.get(e.member), ir.Layer) and e.args \
                        and isinstance(e.args[0].type, TensorType):
                    dims = tuple(d if isinstance(d, int) or d in hparams else None for d in e.args[0].type.shape)
                    _propagate(members[e.member], dims, hparams, found)
        return found

    def _in_size(self, layer: ir.Layer, axis: int) -> cst.BaseExpression | None:
        """The input size of `layer` along `axis` as code (a number or hyperparameters), or None if unknown."""
        dims = self.state.get("layer_inputs", {}).get(id(layer))
        d = dims[axis] if dims is not None and -len(dims) <= axis < len(dims) else None
        if d is None:
            return None
        return cst.Integer(str(d)) if isinstance(d, int) else cst.parse_expression(d)

    def _sized(self, layer: ir.Layer, axis: int, build) -> cst.BaseExpression:
        """`build(size)` with the input size known statically, else wrapped in `Lazy(lambda size: ..., axis)`."""
        size = self._in_size(layer, axis)
        if size is not None:
            return build(size)
        self.helper("Lazy", (SNIPPETS / "lazy.py").read_text())
        name = "size" if "size" not in self.state.get("hparams", set()) else "size_"
        make = cst.Lambda(cst.Parameters([cst.Param(cst.Name(name))]), build(cst.Name(name)))
        axis_code = cst.Integer(str(axis)) if axis >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-axis)))
        return call("Lazy", make, axis_code)

    # ---- layers and parameters ---------------------------------------------------------------
    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        a = layer.args
        k = layer.kind
        if k == "Sequential":
            return call("nn.Sequential", *[self.expr(c) for c in layer.children])
        if k in ("ReLU", "Sigmoid", "Tanh", "Flatten"):
            return call(f"nn.{k}")
        if k == "Dropout":
            return call("nn.Dropout", self.expr(a["rate"]))
        if k in ("MaxPool2d", "AvgPool2d"):
            args = [cst.Arg(self.expr(a["kernel"]))]
            if a.get("stride") is not None:
                args.append(_kw("stride", self.expr(a["stride"])))
            if not _default(a.get("padding"), 0):
                args.append(_kw("padding", self.expr(a["padding"])))
                if k == "AvgPool2d":  # count the padding in the average, as PyTorch does
                    args.append(_kw("exclusive", cst.Name("False")))
            return cst.Call(cst.parse_expression(f"nn.{k[:-2]}2D"), args)
        if k in ("BatchNorm1d", "BatchNorm2d"):
            extra = []
            if not _default(a.get("momentum"), 0.1):  # the DSL's momentum weighs the new batch; Paddle's the old stats
                extra.append(_kw("momentum", cst.BinaryOperation(cst.Integer("1"), cst.Subtract(), self.expr(a["momentum"]))))
            if not _default(a.get("eps"), 1e-5):
                extra.append(_kw("epsilon", self.expr(a["eps"])))
            return self._sized(layer, 1, lambda n: call(f"nn.BatchNorm{k[-2:].upper()}", n).with_changes(
                args=[cst.Arg(n), *extra]))
        if k not in ("Linear", "Conv2d"):
            self.unsupported_construct(layer.loc, f"layer {k}")
        extra = []
        if k == "Conv2d":
            extra.append(cst.Arg(self.expr(a["kernel"])))
            if not _default(a.get("stride"), 1):
                extra.append(_kw("stride", self.expr(a["stride"])))
            if not _default(a.get("padding"), 0):
                extra.append(_kw("padding", self.expr(a["padding"])))
        if layer.init is not None:
            extra.append(_kw("weight_attr", call("paddle.ParamAttr", initializer=self.initializer(layer.init))))
        if k == "Linear" and isinstance(a.get("bias"), ir.Const) and a["bias"].value is False:
            extra.append(_kw("bias_attr", cst.Name("False")))
        out = self.expr(a["out_features"] if k == "Linear" else a["out_channels"])
        path = "nn.Linear" if k == "Linear" else "nn.Conv2D"
        return self._sized(layer, -1 if k == "Linear" else 1,
                           lambda n: cst.Call(cst.parse_expression(path), [cst.Arg(n), cst.Arg(out), *extra]))

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        a = {k: (self.expr(v) if v is not None else None) for k, v in init.args.items()}
        if init.kind == "normal":
            return call("nn.initializer.Normal", a.get("mean") or cst.Float("0.0"), a.get("std") or cst.Float("1.0"))
        if init.kind == "uniform":
            return call("nn.initializer.Uniform", a["low"], a["high"])
        if init.kind == "xavier":
            return call("nn.initializer.XavierUniform")
        value = {"zeros": cst.Float("0.0"), "ones": cst.Float("1.0")}.get(init.kind) or a["value"]
        return call("nn.initializer.Constant", value)

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        shape = p.shape
        if isinstance(shape, ir.Seq):  # Paddle's shapes are lists
            shape = ir.Seq(shape.type, shape.loc, shape.items, "list")
        return call("self.create_parameter", shape=self.expr(shape), default_initializer=self.initializer(p.init))

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.state["layer_inputs"] = self._layer_inputs(m)
        self.state["hparams"] = {hp.name for hp in m.hparams}
        used = _names_read(m.forward)
        body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        for member in m.members:
            body.append(cst.SimpleStatementLine([cst.Assign(
                [cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))], self.expr(member.value))]))
        params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(params), cst.IndentedBlock(body))
        forward = self.method(m, m.forward, "forward", [])
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init, forward]), bases=[cst.Arg(cst.parse_expression("nn.Layer"))])]

    # ---- data, optimizers, losses, training --------------------------------------------------
    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if c.kind in ("synthetic_regression", "fashion_mnist"):
            self.helper(c.kind, (SNIPPETS / f"{c.kind}.py").read_text())
            return cst.Call(cst.Name(c.kind), [_kw(k, self.expr(v)) for k, v in c.args.items() if v is not None])
        if c.kind in ("SGD", "Adam"):
            args = [_kw("learning_rate", self.expr(c.args["lr"]) if c.args.get("lr") is not None else cst.Float("0.001")),
                    _kw("parameters", cst.Name("params"))]
            wd = c.args.get("weight_decay")
            if wd is not None and not (isinstance(wd, ir.Const) and wd.value == 0):
                args.append(_kw("weight_decay", self.expr(wd)))
            return cst.Lambda(cst.Parameters([cst.Param(cst.Name("params"))]),
                              cst.Call(cst.parse_expression(f"paddle.optimizer.{c.kind}"), args))
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        self.helper("train", (SNIPPETS / "train.py").read_text())
        args = [cst.Arg(self.expr(t.net)), cst.Arg(self.expr(t.data)), cst.Arg(self.construct(t.loss)),
                cst.Arg(self.construct(t.optimizer)), cst.Arg(self.expr(t.epochs))]
        if t.clip is not None:
            args.append(_kw("clip", self.expr(t.clip)))
        return [cst.SimpleStatementLine([cst.Expr(cst.Call(cst.Name("train"), args))])]


def _names_read(f: ir.FuncDef) -> set[str]:
    from d2lc.passes import reads
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


def _sym(v, hparams: set[str]) -> Dim:
    if isinstance(v, ir.Const) and isinstance(v.value, int) and not isinstance(v.value, bool):
        return v.value
    if isinstance(v, ir.Var) and v.name in hparams:
        return v.name
    return None


def _product(dims: tuple[Dim, ...]) -> Dim:
    if any(d is None for d in dims):
        return None
    ints = [d for d in dims if isinstance(d, int)]
    names = [d for d in dims if isinstance(d, str)]
    total = 1
    for d in ints:
        total *= d
    return total if not names else " * ".join(names + ([str(total)] if total != 1 else []))


def _window(n: Dim, k, s, p) -> Dim:
    if not all(isinstance(v, int) for v in (n, k, s, p)):
        return None
    return (n + 2 * p - k) // s + 1


def _propagate(layer, dims: tuple[Dim, ...], hparams: set[str], found: dict[int, tuple[Dim, ...]]) -> tuple[Dim, ...]:
    """Record the input shape of `layer` (and of its children) and return its output shape."""
    from d2lc.lower import static_value
    if not isinstance(layer, ir.Layer):
        return tuple(None for _ in dims)
    found.setdefault(id(layer), dims)
    k, a = layer.kind, layer.args
    if k == "Sequential":
        for child in layer.children:
            dims = _propagate(child, dims, hparams, found)
        return dims
    if k == "Linear" and dims:
        return dims[:-1] + (_sym(a.get("out_features"), hparams),)
    if k == "Flatten" and dims:
        return (dims[0], _product(dims[1:]))
    if k in ("Conv2d", "MaxPool2d", "AvgPool2d") and len(dims) == 4:
        kernel = static_value(a.get("kernel"))
        stride = static_value(a.get("stride")) if a.get("stride") is not None else (1 if k == "Conv2d" else kernel)
        padding = static_value(a.get("padding")) if a.get("padding") is not None else 0
        channels = _sym(a.get("out_channels"), hparams) if k == "Conv2d" else dims[1]
        return (dims[0], channels, _window(dims[2], kernel, stride, padding), _window(dims[3], kernel, stride, padding))
    return dims  # activations, Dropout, BatchNorm keep the shape
