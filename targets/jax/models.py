"""JAX models: flax.linen modules with `@nn.compact`, optax, explicit PRNG keys, a jitted train step."""
from pathlib import Path
from typing import ClassVar

import libcst as cst

from d2lc.core.diagnostics import Diagnostic
from d2lc.emit.errors import EmitError

from d2lc.emit.fmt import attr, binop, sub

from d2lc.core import ir
from d2lc.emit.inits import LayerInits, RecurrentInits, init_call, with_args
from d2lc.emit.lambdas import capture_free_lambda
from d2lc.emit.rules import call
from d2lc.core.layers import OPTIMIZERS, has_params
from d2lc.core.ir import static_value
from d2lc.core.types import DType, ModelType, ScalarType, SeqType
from d2lc.emit.model_code import (BASE_LAYER_ROWS, EQ, LayerRow, dataset_call, is_dataset, is_default, is_zero, keyword, layer_call,
                                  train_call)
from libcst.helpers import parse_template_expression

from .inits import INITIALIZERS, LAYER_INITS, RECURRENT_INITS, SHIFTED
from .optimizers import optimizer

SNIPPETS = Path(__file__).parent / "snippets"
ACTIVATIONS = {"ReLU": "nn.relu", "Sigmoid": "nn.sigmoid", "Tanh": "nn.tanh",
               "GELU": "lambda x: nn.gelu(x, approximate=False)"}  # flax's gelu defaults to the tanh approximation
LOSSES = {"cross_entropy": "lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()",
          "squared_loss": "lambda y_hat, y: optax.squared_error(y_hat, y).mean()"}


LAYER_ROWS = {**BASE_LAYER_ROWS,  # the layers flax builds with a constructor call (the rest: functions, lambdas, cells)
              "Linear": LayerRow("nn.Dense", ("out_features",), {"use_bias": "bias"}),
              "LayerNorm": LayerRow("nn.LayerNorm", (), {"epsilon": "!eps"}),  # flax's default is 1e-6
              "Embedding": LayerRow("nn.Embed", ("num_embeddings", "dim")),
              "Dropout": LayerRow("nn.Dropout", ("rate",), {"deterministic": "=not training"}),
              "GroupNorm": LayerRow("nn.GroupNorm", (), {"num_groups": "!num_groups", "epsilon": "!eps"})}  # channels last


def _lambda(body: str) -> cst.BaseExpression:
    return cst.parse_expression(f"lambda x: {body}")


class JaxModels:
    """Mixed into JaxEmitter."""
    # the tables a derived backend extends (`layer_rows = {**Parent.layer_rows, ...}`); see docs/adding-a-backend.md
    layer_rows: ClassVar[dict[str, LayerRow]] = LAYER_ROWS
    layer_inits: ClassVar[LayerInits] = LAYER_INITS
    recurrent_inits: ClassVar[RecurrentInits] = RECURRENT_INITS
    initializers: ClassVar[dict] = INITIALIZERS

    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        k = layer.kind
        a = layer.args
        if k == "Sequential":
            if len(layer.children) == 1 and self.is_layer_list(layer.children[0]):
                layers = self.expr(layer.children[0])
            else:
                layers = cst.List(self.sequence_elements(layer.children, self._in_sequence))
            if self.may_be_empty(layer.children):  # flax refuses an empty Sequential: the identity instead
                layers = cst.BooleanOperation(layers, cst.Or(), cst.parse_expression("[lambda x: x]"))
            return call("nn.Sequential", layers)
        if k in ACTIVATIONS:
            return cst.parse_expression(ACTIVATIONS[k])
        if k == "Flatten":
            return _lambda("x.reshape((x.shape[0], -1))")
        if k in ("RNN", "GRU", "LSTM"):
            cell = {"RNN": "nn.SimpleCell", "GRU": "nn.GRUCell", "LSTM": "nn.OptimizedLSTMCell"}[k]
            inits = self.recurrent_inits.args(self, layer, self.symmetric_uniform)
            one = lambda: call("nn.RNN", cst.Call(cst.parse_expression(cell), [cst.Arg(self.expr(a["num_hiddens"])), *inits]))  # noqa: E731
            rnn = call("nn.Bidirectional", one(), one()) if static_value(a.get("bidirectional")) is True else one()
            n = a.get("num_layers")
            if n is None or static_value(n) == 1:
                return rnn
            return call("nn.Sequential", cst.ListComp(rnn, cst.CompFor(cst.Name("_"), call("range", self.expr(n)))))  # stacked
        if k.startswith("BatchNorm"):
            m = a.get("momentum")
            return call("nn.BatchNorm", use_running_average=cst.parse_expression("not training"),
                        momentum=binop(cst.Integer("1"), cst.Subtract(), self.expr(m)) if m is not None else cst.Float("0.9"),
                        epsilon=self.expr(a["eps"]) if a.get("eps") is not None else None)
        window = lambda name: cst.Tuple([cst.Element(self.expr(a[name]))] * 2)  # noqa: E731
        padding = a.get("padding")
        has_pad = padding is not None and not is_zero(padding)
        if k == "Conv2d":
            stride = a.get("stride")
            return with_args(call("nn.Conv", self.expr(a["out_channels"]), window("kernel"),
                                  strides=self.expr(stride) if stride is not None and not (isinstance(stride, ir.Const) and stride.value == 1) else None,
                                  padding=self.expr(padding) if has_pad else cst.SimpleString('"VALID"'),
                                  feature_group_count=self.expr(a["groups"]) if not is_default(a.get("groups"), 1) else None),
                             self.layer_inits.args(self, layer))
        if k in ("MaxPool2d", "AvgPool2d"):
            fn = "nn.max_pool" if k == "MaxPool2d" else "nn.avg_pool"
            stride = a.get("stride") if a.get("stride") is not None else a["kernel"]
            kernel, strides = window("kernel"), cst.Tuple([cst.Element(self.expr(stride))] * 2)
            pad = cst.parse_expression(f"(({self._code(padding)}, {self._code(padding)}),) * 2") if has_pad else None
            return capture_free_lambda(["x"], lambda x: call(fn, x, kernel, strides=strides, padding=pad))
        return with_args(layer_call(self, layer, self.layer_rows), self.layer_inits.args(self, layer))

    def _in_sequence(self, child: ir.Expr) -> cst.BaseExpression:
        """flax's Sequential hands each layer only the activation: a model of ours gets its training flag bound."""
        out = self.expr(child)
        return call("functools.partial", out, training=cst.Name("training")) if self.takes_training(child) else out

    def takes_training(self, value: ir.Expr) -> bool:
        """Whether a flax module of ours takes `training`: a model whose output depends on the mode (Dropout,
        BatchNorm, a submodel that has one); any other model's `__call__` has no such parameter."""
        model = value.model if isinstance(value, ir.NewModel) else value.type.name if isinstance(value.type, ModelType) else None
        return model is not None and self.model_acts_differently_in_training(model)

    def _code(self, e) -> str:
        return cst.Module([]).code_for_node(self.expr(e))

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        mean = init.args.get("mean")
        if init.kind == "uniform" or init.kind == "normal" and mean is not None and static_value(mean) != 0:
            return self._init_lambda(init.kind, {k: self.expr(v) for k, v in init.args.items()})
        return init_call(self, self.initializers[init.kind], init)

    def symmetric_uniform(self, bound: cst.BaseExpression) -> cst.BaseExpression:
        """U(-bound, bound) (a recurrent cell's default kernels): the notebook's `symmetric_uniform(bound)`, a
        `jax.random.uniform` initialiser function (snippets/symmetric_uniform.py)."""
        self.helper("symmetric_uniform", (SNIPPETS / "symmetric_uniform.py").read_text(encoding="utf-8"))
        return call("symmetric_uniform", bound)

    def _init_lambda(self, kind: str, args: dict[str, cst.BaseExpression]) -> cst.BaseExpression:
        """`lambda key, shape, dtype=jnp.float32: ...`: an initialiser flax has no factory for (SHIFTED)."""
        return capture_free_lambda(
            ["key", "shape", "dtype"],
            lambda key, shape, dtype: parse_template_expression(SHIFTED[kind], key=key, shape=shape, dtype=dtype, **args),
            defaults={"dtype": cst.parse_expression("jnp.float32")})

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        raise AssertionError("params are emitted by model_def")

    def var(self, e: ir.Var) -> cst.BaseExpression:
        if self.model_scope is not None and e.name in self.model_scope:
            return attr(cst.Name("self"), cst.Name(e.name))
        return cst.Name(e.name)

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        out = cst.Call(cst.Name(a.member), [cst.Arg(self.expr(x)) for x in a.args])
        member = next((m for m in self.current_model.members if m.name == a.member), None) if self.current_model else None
        if member is not None and self.takes_training(member.value):
            out = out.with_changes(args=[*out.args, cst.Arg(cst.Name("training"), keyword=cst.Name("training"), equal=EQ)])
        return out

    current_model = None

    def harness_globals(self, model: ir.ModelDef) -> list[cst.BaseStatement]:
        """The harness glue's `D2LC_MODE(training)`: the keyword the model under test takes, if any."""
        flag = "{'training': training}" if self.model_acts_differently_in_training(model.name) else "{}"
        return [self.assign("D2LC_MODE", cst.parse_expression(f"lambda training: {flag}"))]

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        fields: list[cst.BaseStatement] = []
        for hp in m.hparams:
            ann = hp.type.kind if isinstance(hp.type, ScalarType) else "tuple" if isinstance(hp.type, SeqType) else "float"
            fields.append(cst.SimpleStatementLine([cst.AnnAssign(cst.Name(hp.name), cst.Annotation(cst.Name(ann)),
                                                                 self.expr(hp.default) if hp.default is not None else None)]))
        self.current_model = m
        scope = {hp.name for hp in m.hparams}
        saved, self.model_scope = self.model_scope, scope
        try:
            members: list[cst.BaseStatement] = []
            for mm in m.members:
                if isinstance(mm.value, ir.LayerList):  # a list of submodules built in the compact method
                    members.extend(self.list_statements(mm.name, mm.value, self._in_sequence))
                    continue
                if isinstance(mm.value, ir.ParamDecl):
                    # float32 like the IR's type: in 64-bit mode the initialisers would make float64
                    dtype = [self.dtype_expr(DType.float32)] if getattr(self, "x64", False) else []
                    value = call("self.param", cst.SimpleString(repr(mm.name)), self.initializer(mm.value.init),
                                 self.expr(self.layout_shape(mm.value.shape)), *dtype)
                    if not mm.value.trainable:  # a constant: drawn once at init, in a collection optax never updates
                        draw = cst.Lambda(cst.Parameters([]), value.with_changes(
                            func=self.initializer(mm.value.init).with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]),
                            args=[cst.Arg(cst.parse_expression('self.make_rng("params")')), *value.args[2:]]))
                        value = attr(call("self.variable", cst.SimpleString("'constants'"), cst.SimpleString(repr(mm.name)), draw),
                                     cst.Name("value"))
                else:
                    value = self.expr(mm.value)
                members.append(self.assign(mm.name, value))
        finally:
            self.model_scope = saved
        try:
            flag = [cst.Param(cst.Name("training"), default=cst.Name("False"))] if self.model_acts_differently_in_training(m.name) else []
            fn = self.method(m, m.forward, "__call__", flag, scope=scope)
        finally:
            self.current_model = None
        fn = fn.with_changes(body=cst.IndentedBlock([*members, *fn.body.body]),
                             decorators=[cst.Decorator(cst.parse_expression("nn.compact"))])
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([*fields, fn]), bases=[cst.Arg(cst.parse_expression("nn.Module"))])]

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if is_dataset(c):
            self.helper("minibatches", (SNIPPETS / "minibatches.py").read_text())
            return dataset_call(self, c, SNIPPETS)
        if c.kind in OPTIMIZERS:
            return optimizer(self, c)
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        if isinstance(t.net, ir.Var) and t.net.name in self.state.written:
            raise EmitError(Diagnostic(t.net.loc, f"training `{t.net.name}` after writing its parameters is not supported by "
                                       "target `jax`", expected="train(net, ...) on a model whose parameters were not written",
                                       hint="the flax `train` starts from a fresh `init`; write the parameters after training, "
                                            "or mark this cell `::: only` for other targets"))
        call = train_call(self, t, SNIPPETS)  # flax's variables come back from training
        if self.takes_training(t.net):
            call = call.with_changes(args=[*call.args, keyword("training_flag", cst.Name("True"))])
        return [self.assign(self.variables_name(t.net), call)]

    def variables_name(self, net: ir.Expr) -> str:
        base = net.name if isinstance(net, ir.Var) else "model"
        trained = self.state.trained
        trained.add(base)
        return self.variables_of(base)

    def variables_of(self, model: str) -> str:
        """The variable holding model `model`'s flax variables: `<model>_variables`, or a numbered name
        when the chapter uses that one itself (issue 15: never overwrite a chapter's own variable)."""
        names = self.state.variables_names
        if model not in names:
            names[model] = self.fresh(f"{model}_variables")
        return names[model]

    def call_model(self, c: ir.CallModel) -> cst.BaseExpression:
        if c.layer is not None and not has_params(c.layer):  # a pooling lambda or an activation: a plain function
            return super().call_model(c)
        name = c.instance.name if isinstance(c.instance, ir.Var) else None
        args = [self.model_input(a) for a in c.args]
        trained = self.state.trained
        if name is not None and name not in trained and self.in_function is None and not self.block_depth \
                and (all(isinstance(a, ir.Var) for a in c.args) or name in self.param_roots):  # first use: initialise once
            if "random" in self.module.features:
                init_key = self.split_key(c)  # its own key, apart from any draw of the same statement
            else:
                init_key = call("jax.random.key", cst.Integer("0"))
            self.pre.append(self.assign(self.variables_of(name), call(f"{name}.init", init_key, *args)))
            trained.add(name)
        if name is not None and name in trained:
            return self.to_canonical_layout(c, call(f"{name}.apply", cst.Name(self.variables_of(name)), *args))
        inst = self.expr(c.instance)
        out = sub(cst.Call(attr(inst, cst.Name("init_with_output")),
                           [cst.Arg(call("jax.random.key", cst.Integer("0"))), *[cst.Arg(a) for a in args]]),
                  [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
        return self.to_canonical_layout(c, out)
