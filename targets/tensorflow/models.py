"""TensorFlow models: `tf.keras.Model` subclasses, channels-last layers, `GradientTape` training."""
from pathlib import Path
from typing import ClassVar

import libcst as cst

from d2lc.emit.fmt import attr, binop

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.layers import LAYERS, OPTIMIZERS, RECURRENT_KINDS
from d2lc.emit.inits import LayerInits, RecurrentInits, init_call, with_args
from d2lc.emit.rules import call
from d2lc.emit.model_code import BASE_LAYER_ROWS, EQ, LayerRow, dataset_call, expression_statement, is_dataset, is_default, layer_call, names_read, train_call

from .inits import I, INITIALIZERS, LAYER_INITS, RECURRENT_INITS
from .optimizers import optimizer

SNIPPETS = Path(__file__).parent / "snippets"
K = "tf.keras.layers."
LAYER_ROWS = {**BASE_LAYER_ROWS,
              "Linear": LayerRow(K + "Dense", ("out_features",), {"use_bias": "bias"}),
              "Dropout": LayerRow(K + "Dropout", ("rate",)),
              "Flatten": LayerRow(K + "Flatten"),
              "ReLU": LayerRow(K + "ReLU"),
              "Sigmoid": LayerRow(K + "Activation", ("='sigmoid'",)),
              "Tanh": LayerRow(K + "Activation", ("='tanh'",)),
              "GELU": LayerRow(K + "Activation", ("='gelu'",)),  # Keras' gelu is the exact (erf) form
              **{k: LayerRow(K + name, ("num_hiddens",), {"return_sequences": "=True"})
                 for k, name in (("RNN", "SimpleRNN"), ("GRU", "GRU"), ("LSTM", "LSTM"))},
              "Embedding": LayerRow(K + "Embedding", ("num_embeddings", "dim")),
              "LayerNorm": LayerRow(K + "LayerNormalization", (), {"epsilon": "!eps"}),  # Keras' default is 1e-3
              "GroupNorm": LayerRow(K + "GroupNormalization", (), {"groups": "!num_groups", "epsilon": "!eps"})}  # channels last
LOSSES = {"cross_entropy": "tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
          "squared_loss": "tf.keras.losses.MeanSquaredError()"}


def _static(v):
    return v.value if isinstance(v, ir.Const) else None


class TensorFlowModels:
    """Mixed into TensorFlowEmitter."""
    # the tables a derived backend extends (`layer_rows = {**Parent.layer_rows, ...}`); see docs/adding-a-backend.md
    layer_rows: ClassVar[dict[str, LayerRow]] = LAYER_ROWS
    layer_inits: ClassVar[LayerInits] = LAYER_INITS
    recurrent_inits: ClassVar[RecurrentInits] = RECURRENT_INITS
    initializers: ClassVar[dict] = INITIALIZERS

    def layer_list(self, layer: ir.Layer | ir.Expr) -> list[cst.BaseExpression]:
        """Keras layers for one DSL layer (padding that Keras cannot express adds a ZeroPadding2D)."""
        if not isinstance(layer, ir.Layer):
            return [self.expr(layer)]
        if layer.kind == "Sequential":
            if self.may_be_empty(layer.children):  # Keras cannot build an empty Sequential: the identity instead
                items = self.expr(layer.children[0]) if len(layer.children) == 1 else cst.List(self.sequence_elements(layer.children))
                return [call("tf.keras.Sequential", cst.BooleanOperation(items, cst.Or(), cst.parse_expression(f"[{K}Identity()]")))]
            if len(layer.children) == 1 and self.is_layer_list(layer.children[0]):
                return [call("tf.keras.Sequential", self.expr(layer.children[0]))]
            return [call("tf.keras.Sequential", cst.List([
                e for c in layer.children
                for e in ([cst.StarredElement(self.expr(c))] if self.is_layer_list(c) else [cst.Element(x) for x in self.layer_list(c)])]))]
        if layer.kind in ("Conv2d", "MaxPool2d", "AvgPool2d"):
            return self._windowed(layer)
        if layer.kind in RECURRENT_KINDS:
            return [self._recurrent(layer)]
        if layer.kind.startswith("BatchNorm"):
            eps, m = layer.args.get("eps"), layer.args.get("momentum")
            eps_v = self.expr(eps) if eps is not None else cst.Float("1e-05")
            mom = binop(cst.Integer("1"), cst.Subtract(), self.expr(m)) if m is not None else cst.Float("0.9")
            return [call(K + "BatchNormalization", epsilon=eps_v, momentum=mom)]
        return [with_args(layer_call(self, layer, self.layer_rows), self.layer_inits.args(self, layer))]

    def _recurrent(self, layer: ir.Layer) -> cst.BaseExpression:
        """`GRU(h, return_sequences=True)`; both directions in `Bidirectional` (outputs concatenated, forward first);
        several layers stacked in a `tf.keras.Sequential`."""
        one = with_args(layer_call(self, layer, self.layer_rows), self.recurrent_inits.args(self, layer, self.symmetric_uniform))
        if static_value(layer.args.get("bidirectional")) is True:
            one = call(K + "Bidirectional", one)
        n = layer.args.get("num_layers")
        if n is None or static_value(n) == 1:
            return one
        stacked = cst.ListComp(one, cst.CompFor(cst.Name("_"), call("range", self.expr(n))))
        return call("tf.keras.Sequential", stacked)

    def _windowed(self, layer: ir.Layer) -> list[cst.BaseExpression]:
        k, s, p = (_static(layer.args.get(n)) for n in ("kernel", "stride", "padding"))
        if layer.args.get("stride") is not None and s is None:
            s = "dynamic"  # a hyperparameter: neither "same" nor an omitted stride is safe
        s = s or (k if layer.kind != "Conv2d" else 1)
        if layer.args.get("padding") is not None and p is None:
            p = "dynamic"  # a hyperparameter or an expression such as kernel // 2: pad with its value
        p = p or 0
        padding = "valid"
        pre: list[cst.BaseExpression] = []
        same = isinstance(p, int) and isinstance(k, int) and s == 1 and 2 * p == k - 1  # "same" pads p on each side
        if p and layer.kind == "MaxPool2d" and not same:  # Keras' "same" max pooling ignores its padding, like -inf
            what = "padding that is not a literal 0" if p == "dynamic" else "padding other than (kernel - 1) // 2 with stride 1"
            self.unsupported_construct(layer.loc, f"MaxPool2d with {what} (Keras pads with zeros, not -inf)")
        if p and same and layer.kind != "AvgPool2d":  # an average would count the padding: ZeroPadding2D below
            padding = "same"
        elif p:
            pre.append(call(K + "ZeroPadding2D", self.expr(layer.args["padding"])))
        kw = {}
        if layer.kind == "Conv2d":
            fn = call(K + "Conv2D", self.expr(layer.args["out_channels"]), kernel_size=self.expr(layer.args["kernel"]),
                      strides=self.expr(layer.args["stride"]) if s != 1 and layer.args.get("stride") is not None else None,
                      padding=cst.SimpleString(repr(padding)) if padding != "valid" else None,
                      groups=self.expr(layer.args["groups"]) if not is_default(layer.args.get("groups"), 1) else None)
            fn = with_args(fn, self.layer_inits.args(self, layer))
        else:
            name = "MaxPool2D" if layer.kind == "MaxPool2d" else "AvgPool2D"
            stride = layer.args.get("stride")
            fn = call(K + name, pool_size=self.expr(layer.args["kernel"]), strides=self.expr(stride) if stride is not None else self.expr(layer.args["kernel"]),
                      padding=cst.SimpleString(repr(padding)) if padding != "valid" else None)
        del kw
        return pre + [fn]

    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        parts = self.layer_list(layer)
        return parts[0] if len(parts) == 1 else call("tf.keras.Sequential", cst.List([cst.Element(x) for x in parts]))

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        return init_call(self, self.initializers[init.kind], init)

    def symmetric_uniform(self, bound: cst.BaseExpression) -> cst.BaseExpression:
        """U(-bound, bound) (a recurrent layer's default weights)."""
        return call(I + "RandomUniform", cst.UnaryOperation(cst.Minus(), bound), bound)

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        trainable = [] if p.trainable else [cst.Arg(cst.Name("False"), keyword=cst.Name("trainable"), equal=EQ)]
        out = call("self.add_weight", shape=self.expr(self.layout_shape(p.shape)), initializer=self.initializer(p.init))
        return out.with_changes(args=[*out.args, *trainable])

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        out = super().apply_layer(a)
        member = next((m for m in self.current_model.members if m.name == a.member), None) if self.current_model else None
        if member is None and self.current_model is not None:  # `blk(X)` over a layer list: the list the loop reads
            member = self.list_of_item(a.member)
        if member is not None and _train_dependent(member.value):
            out = out.with_changes(args=[*out.args, cst.Arg(cst.Name("training"), keyword=cst.Name("training"), equal=EQ)])
        return out

    current_model = None

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        used = names_read(m.forward)
        init_body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                init_body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        for member in m.members:
            if isinstance(member.value, ir.LayerList):  # a list of layers in an attribute: Keras tracks its layers
                with self.earlier_members(m, member):
                    init_body.extend(self.list_statements(member.name, member.value))
                if member.name in used:
                    init_body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))],
                                                                         cst.Name(member.name))]))
                continue
            with self.earlier_members(m, member):
                value = self.expr(member.value)
            init_body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(attr(cst.Name("self"), cst.Name(member.name)))], value)]))
        params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(params), cst.IndentedBlock(init_body))
        self.current_model = m
        try:
            extra = [cst.Param(cst.Name("training"), default=cst.Name("False"))] if any(_train_dependent(mm.value) for mm in m.members) else []
            body = self.method(m, m.forward, "call", extra)
        finally:
            self.current_model = None
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init, body]), bases=[cst.Arg(cst.parse_expression("tf.keras.Model"))])]

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if is_dataset(c):
            return dataset_call(self, c, SNIPPETS)
        if c.kind in OPTIMIZERS:
            return optimizer(self, c)
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        return expression_statement(train_call(self, t, SNIPPETS))


def _train_dependent(v) -> bool:
    if isinstance(v, ir.LayerList):
        return any(_train_dependent(st.value) for st in ir.list_steps(v.steps) if isinstance(st, ir.LayerAppend))
    if isinstance(v, ir.Layer):
        return v.kind in LAYERS and LAYERS[v.kind].train_dependent or any(_train_dependent(c) for c in v.children)
    return isinstance(v, ir.NewModel)
