"""MXNet models: gluon `Block` classes, `initialize()`, `gluon.Trainer` and `autograd.record()`."""
from pathlib import Path
from typing import ClassVar

import libcst as cst

from d2lc.emit.fmt import attr, binop

from d2lc.core import ir
from d2lc.emit.inits import LayerInits, RecurrentInits, init_call, with_args
from d2lc.emit.rules import call
from d2lc.emit.layer_inputs import input_size_code, layer_inputs, matrix_layers
from d2lc.core.layers import OPTIMIZERS, RECURRENT_KINDS, has_params
from d2lc.core.ir import static_value
from d2lc.emit.model_code import BASE_LAYER_ROWS, EQ, LayerRow, dataset_call, expression_statement, is_dataset, layer_call, names_read, train_call

from .inits import INITIALIZERS, LAYER_INITS, RECURRENT_INITS, SNIPPET_CLASSES, UNCENTRED
from .optimizers import hyperparams, optimizer

SNIPPETS = Path(__file__).parent / "snippets"
LAYER_ROWS = {**BASE_LAYER_ROWS,
              "Linear": LayerRow("nn.Dense", ("out_features",), {"use_bias": "bias"}),
              "Conv2d": LayerRow("nn.Conv2D", ("out_channels",), {"kernel_size": "!kernel", "strides": "stride", "padding": "padding",
                                                                   "groups": "groups"}),
              "MaxPool2d": LayerRow("nn.MaxPool2D", (), {"pool_size": "!kernel", "strides": "stride", "padding": "padding"}),
              "AvgPool2d": LayerRow("nn.AvgPool2D", (), {"pool_size": "!kernel", "strides": "stride", "padding": "padding"}),
              **{k: LayerRow("nn.Activation", (f"='{k.lower()}'",)) for k in ("ReLU", "Sigmoid", "Tanh")},
              # batch-first ("NTC"), as sequences are in the DSL; gluon's RNN defaults to relu
              "RNN": LayerRow("rnn.RNN", ("num_hiddens",), {"num_layers": "num_layers", "activation": "='tanh'", "layout": "='NTC'",
                                                             "bidirectional": "bidirectional", "input_size": "num_inputs"}),
              **{k: LayerRow(f"rnn.{k}", ("num_hiddens",), {"num_layers": "num_layers", "layout": "='NTC'", "bidirectional": "bidirectional",
                                                           "input_size": "num_inputs"}) for k in ("GRU", "LSTM")},
              "GroupNorm": LayerRow.unsupported("MXNet 1.x's GroupNorm learns one scale and shift per group, not per channel")}
LOSSES = {"cross_entropy": "gluon.loss.SoftmaxCrossEntropyLoss()", "squared_loss": "lambda y_hat, y: np.square(y_hat - y).mean(axis=1)"}


class MXNetModels:
    """Mixed into MXNetEmitter."""
    # the tables a derived backend extends (`layer_rows = {**Parent.layer_rows, ...}`); see docs/adding-a-backend.md
    layer_rows: ClassVar[dict[str, LayerRow]] = LAYER_ROWS
    layer_inits: ClassVar[LayerInits] = LAYER_INITS
    recurrent_inits: ClassVar[RecurrentInits] = RECURRENT_INITS
    initializers: ClassVar[dict] = INITIALIZERS

    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        k = layer.kind
        if k == "Sequential":  # gluon builds Sequential with .add(); a nested one needs a name
            name = self.fresh("block")
            self.pre.append(self.assign(name, call("nn.Sequential")))
            self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(cst.parse_expression(f"{name}.add"), self.sequence_args(layer.children)))]))
            return cst.Name(name)
        if k == "LayerNorm":
            eps = layer.args.get("eps")
            return call("nn.LayerNorm", epsilon=self.expr(eps) if eps is not None else None)
        if k.startswith("BatchNorm"):
            # gluon's defaults (running averages kept with weight 0.9, epsilon 1e-5) are the DSL's: only others are written
            m, eps = layer.args.get("momentum"), layer.args.get("eps")
            keep = m is not None and static_value(m) != 0.1
            return call("nn.BatchNorm", momentum=binop(cst.Integer("1"), cst.Subtract(), self.expr(m)) if keep else None,
                        epsilon=self.expr(eps) if eps is not None and static_value(eps) != 1e-5 else None)
        out = layer_call(self, layer, self.layer_rows)
        if id(layer) in self.state.conditional_layers and k in ("Linear", "Conv2d"):
            # a layer forward may skip (`if num_convs > 1:`) is never shape-inferred: gluon would fail with a
            # DeferredInitializationError when the Trainer reads its parameters, so it gets its input size now
            size = input_size_code(self.state.layer_inputs, layer, -1 if k == "Linear" else 1)
            if size is not None:
                key = "in_units" if k == "Linear" else "in_channels"
                out = out.with_changes(args=[*out.args, cst.Arg(size, keyword=cst.Name(key), equal=EQ)])
        if k == "Linear" and id(layer) not in self.state.matrix_layers:  # the DSL's Linear acts on the last axis;
            # gluon's Dense flattens all axes after the first, the same only for a matrix
            out = out.with_changes(args=[*out.args, cst.Arg(cst.Name("False"), keyword=cst.Name("flatten"), equal=EQ)])
        out = with_args(out, self.layer_inits.args(self, layer))
        if k in RECURRENT_KINDS:
            out = with_args(out, self.recurrent_inits.args(self, layer, lambda bound: call("init.Uniform", bound)))
        return self._initialized(layer, out)  # (gluon's default pooling stride is the window, as in the DSL)

    def initializer(self, init: ir.Init) -> cst.BaseExpression:
        mean, low, high = (static_value(init.args.get(n)) for n in ("mean", "low", "high"))
        row = self.initializers[init.kind]
        if init.kind == "normal" and init.args.get("mean") is not None and mean != 0:
            row = UNCENTRED["normal"]  # gluon's own initialisers are centred at zero: a small Initializer class
        if init.kind == "uniform" and (low is None or high is None or low != -high):
            row = UNCENTRED["uniform"]
        if row[0] in SNIPPET_CLASSES:
            self.helper(row[0], (SNIPPETS / f"{row[0]}.py").read_text(encoding="utf-8"))
        return init_call(self, row, init)

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        raise AssertionError("params are emitted by model_def")

    def var(self, e: ir.Var) -> cst.BaseExpression:
        out = super().var(e)
        if self.model_scope is not None and e.name in self.state.model_params:
            return cst.Call(attr(out, cst.Name("data")), [])
        return out

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.state.layer_inputs, self.state.conditional_layers = layer_inputs(m), _conditional_layers(m)
        self.state.matrix_layers = matrix_layers(m, self.state.layer_inputs)
        used = names_read(m.forward)
        body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        params = set()
        # a constant's grad_req="null" parameter after the trained ones: gluon lists a block's parameters as made, the
        # canonical order (PyTorch's) a module's parameters before its buffers
        for mm in sorted(m.members, key=lambda mm: isinstance(mm.value, ir.ParamDecl) and not mm.value.trainable):
            target = attr(cst.Name("self"), cst.Name(mm.name))
            if isinstance(mm.value, ir.ParamDecl):
                params.add(mm.name)
                value = call("self.params.get", cst.SimpleString(repr(mm.name)), shape=self.expr(mm.value.shape),
                             init=self.initializer(mm.value.init))
                if not mm.value.trainable:  # a constant: loaded and saved with the model, no gradient, no update
                    value = value.with_changes(args=[*value.args, cst.Arg(cst.SimpleString("'null'"), keyword=cst.Name("grad_req"),
                                                                          equal=cst.AssignEqual())])
                body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)]))
            elif isinstance(mm.value, ir.LayerList):  # built in the constructor; forward iterates a Sequential of it
                with self.earlier_members(m, mm):
                    body.extend(self.list_statements(mm.name, mm.value))
                if mm.name in used:
                    body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], call("nn.Sequential"))]))
                    body.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(target, cst.Name("add")), [cst.Arg(cst.Name(mm.name), star="*")]))]))
            elif isinstance(mm.value, ir.Layer) and mm.value.kind == "Sequential":
                body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], call("nn.Sequential"))]))
                saved, self.pre = self.pre, []
                with self.earlier_members(m, mm):
                    children = self.sequence_args(mm.value.children)
                body.extend(self.pre)
                self.pre = saved
                body.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(target, cst.Name("add")), children))]))
            else:
                saved, self.pre = self.pre, []
                with self.earlier_members(m, mm):
                    value = self.expr(mm.value)
                body.extend(self.pre)
                self.pre = saved
                body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)]))
        init_params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init_fn = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(init_params), cst.IndentedBlock(body))
        self.state.model_params = params
        try:
            forward = self.method(m, m.forward, "forward", [])
        finally:
            self.state.model_params = set()
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init_fn, forward]), bases=[cst.Arg(cst.parse_expression("nn.Block"))])]

    def after_stmt(self, s, out):
        out = super().after_stmt(s, out)
        if isinstance(s, ir.Assign) and _needs_initialize(s.value):
            out.append(cst.SimpleStatementLine([cst.Expr(call(f"{s.name}.initialize"))]))
        return out

    def new_model(self, n: ir.NewModel) -> cst.BaseExpression:
        return self._initialized(n, super().new_model(n))

    def _initialized(self, node: ir.Expr, code: cst.BaseExpression) -> cst.BaseExpression:
        """A model or layer made outside an assignment (`train(MLP(), ...)`, `print(Linear(2)(X))`) is named
        first, so that it can be initialised before its first use; an assigned one is initialised after it."""
        s = self.current_stmt
        if self.in_model or (isinstance(s, ir.Assign) and s.value is node) or not _needs_initialize(node):
            return code
        name = self.fresh("net")
        self.pre.append(self.assign(name, code))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(call(f"{name}.initialize"))]))
        return cst.Name(name)

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if is_dataset(c):
            return dataset_call(self, c, SNIPPETS)
        if c.kind in OPTIMIZERS:
            return optimizer(self, c)
        return cst.parse_expression(LOSSES[c.kind])

    def hyperparams(self, c: ir.Construct) -> cst.BaseExpression:
        return hyperparams(self, c)

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        self.helper("try_gpu", (SNIPPETS / "try_gpu.py").read_text(encoding="utf-8"))
        return expression_statement(train_call(self, t, SNIPPETS, self.hyperparams(t.optimizer)))


def _needs_initialize(v: ir.Expr) -> bool:
    return isinstance(v, ir.NewModel) or isinstance(v, ir.Layer) and has_params(v)


def _conditional_layers(m: ir.ModelDef) -> set[int]:
    """id() of the member layers forward applies only under an `if` (and of the layers inside them)."""
    members = {mm.name: mm.value for mm in m.members}
    inside = [st for s in ir.walk_stmts(m.forward.body) if isinstance(s, ir.If) for st in s.body + s.orelse]
    names = {e.member for st in inside for e in ir.walk_exprs(st) if isinstance(e, ir.ApplyLayer)}

    def ids(v) -> set[int]:
        return {id(v)} | {i for c in v.children for i in ids(c)} if isinstance(v, ir.Layer) else set()
    return {i for n in names for i in ids(members.get(n))}
