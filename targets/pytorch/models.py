"""PyTorch models: `nn.Module` classes with lazy layers (eager ones where `nn.init` sets a stated initialiser),
`torch.optim`, and a training helper."""
from pathlib import Path
from typing import ClassVar

import libcst as cst

from d2lc.emit.fmt import attr, sub
from libcst.helpers import parse_template_expression, parse_template_statement

from d2lc.core import ir
from d2lc.core.layers import OPTIMIZERS, RECURRENT_KINDS
from d2lc.core.diagnostics import Diagnostic
from d2lc.emit.base import EmitError
from d2lc.emit.inits import LayerInits, init_call
from d2lc.emit.rules import call
from d2lc.emit.layer_inputs import input_size_code, layer_inputs
from d2lc.emit.model_code import BASE_LAYER_ROWS, LayerRow, dataset_call, expression_statement, is_dataset, layer_call, names_read, train_call

from .inits import EAGER, INPLACE, LAYER_INITS
from .optimizers import optimizer

SNIPPETS = Path(__file__).parent / "snippets"

LAYER_ROWS = {**BASE_LAYER_ROWS,  # lazy layers: PyTorch infers their input size on the first call
              "Linear": LayerRow("nn.LazyLinear", ("out_features",), {"bias": "bias"}),
              "Conv2d": LayerRow("nn.LazyConv2d", ("out_channels",), {"kernel_size": "!kernel", "stride": "stride", "padding": "padding",
                                                                      "groups": "groups"}),
              "BatchNorm1d": LayerRow("nn.LazyBatchNorm1d", (), {"eps": "eps", "momentum": "momentum"}),
              "BatchNorm2d": LayerRow("nn.LazyBatchNorm2d", (), {"eps": "eps", "momentum": "momentum"}),
              **{k: LayerRow(f"nn.{k}", ("num_inputs", "num_hiddens"),  # batch-first: the DSL's sequences
                             {"num_layers": "num_layers", "batch_first": "=True", "bidirectional": "bidirectional"})
                 for k in RECURRENT_KINDS}}
SIZED_NORMS = {"BatchNorm1d": "nn.BatchNorm1d", "BatchNorm2d": "nn.BatchNorm2d"}  # built with C where it is known
LOSSES = {"cross_entropy": "nn.CrossEntropyLoss()", "squared_loss": "nn.MSELoss()"}


class PyTorchModels:
    """Mixed into PyTorchEmitter."""
    # the tables a derived backend extends (`layer_rows = {**Parent.layer_rows, ...}`); see docs/adding-a-backend.md
    layer_rows: ClassVar[dict[str, LayerRow]] = LAYER_ROWS
    layer_inits: ClassVar[LayerInits] = LAYER_INITS

    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        if layer.kind == "Sequential":
            return cst.Call(cst.parse_expression("nn.Sequential"), self.sequence_args(layer.children))
        if layer.stated and not self.state.model_members:
            self.unsupported_construct(layer.loc, "a layer with a stated initialiser outside a model")
        if layer.kind in EAGER and self.spelt_inits(layer):
            return self.eager_layer(layer)
        if layer.kind in SIZED_NORMS and (sized := self.sized_norm(layer)) is not None:
            return sized
        if self.initialised_when_built(layer):
            self.helper("lazy_xavier", (SNIPPETS / "lazy_xavier.py").read_text(encoding="utf-8"))
            return call("lazy_xavier", layer_call(self, layer, self.layer_rows))
        return layer_call(self, layer, self.layer_rows)

    def sized_norm(self, layer: ir.Layer) -> cst.Call | None:
        """`nn.BatchNorm2d(6)` where a model's annotations give the channels (axis 1) of the layer's input, as an
        expert writes it next to `nn.Conv2d(1, 6, ...)`; None where only the first call knows them (the lazy row)."""
        size = input_size_code(self.state.layer_inputs, layer, 1) if self.state.model_members else None
        if size is None:
            return None
        out = layer_call(self, layer, self.layer_rows, SIZED_NORMS[layer.kind])
        return out.with_changes(args=[cst.Arg(size), *out.args])

    def initialised_when_built(self, layer: ir.Layer) -> bool:
        """Whether a lazy layer gets the language's default initialisation on its first call (`lazy_xavier`): a
        `Linear` or `Conv2d` that states no initialiser and is not built with its input size."""
        return layer.kind in EAGER and not layer.stated and bool(layer.inits(self.layer_inits.zero_bias_default))

    def call_model(self, c: ir.CallModel) -> cst.BaseExpression:
        out = super().call_model(c)
        if c.layer is not None and c.layer.kind in RECURRENT_KINDS:  # a recurrent layer called at the top level
            return sub(out, [cst.SubscriptElement(cst.Index(cst.Integer("0")))])  # (outputs, final state)
        return out

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        out = super().apply_layer(a)
        member = self.model_member(a.member)
        if member is not None and isinstance(member.value, ir.Layer) and member.value.kind in RECURRENT_KINDS:
            return sub(out, [cst.SubscriptElement(cst.Index(cst.Integer("0")))])  # (outputs, final state)
        return out

    def spelt_inits(self, layer: ir.Layer) -> dict[str, ir.Init]:
        """The initialisers `nn.init` sets on this layer: the stated ones, and the language's defaults where the
        layer can be built with its parameters (in a model, its input size known). A lazy layer gets the defaults
        from `lazy_xavier` on its first call instead (`layer`)."""
        inits = layer.inits(self.layer_inits.zero_bias_default)
        if layer.stated or not inits:
            return inits
        if not self.state.model_members:
            return {}
        if layer.kind in EAGER and input_size_code(self.state.layer_inputs, layer, EAGER[layer.kind][1]) is None:
            return {}
        return inits

    def eager_layer(self, layer: ir.Layer) -> cst.BaseExpression:
        """`nn.Linear(in, out)` / `nn.Conv2d(in, out, ...)`: parameters that exist now, for `nn.init` to fill."""
        path, axis = EAGER[layer.kind]
        size = input_size_code(self.state.layer_inputs, layer, axis)
        if size is None:
            raise EmitError(Diagnostic(
                layer.loc, f"`{layer.kind}` with a stated initialiser needs its input size on target `{self.backend.name}`",
                expected="the input of forward annotated with its size (X: f32[n, 784]) or a hyperparameter (X: f32[n, num_inputs])",
                hint="PyTorch's lazy layers make their parameters on the first call, after an initialiser would have run"))
        out = layer_call(self, layer, self.layer_rows, path)
        return out.with_changes(args=[cst.Arg(size), *out.args])

    def init_statements(self, target: cst.BaseExpression, value: ir.Expr) -> list[cst.BaseStatement]:
        """`nn.init.normal_(self.net[1].weight, ...)` for each layer with stated initialisers in a member's value."""
        out: list[cst.BaseStatement] = []
        if isinstance(value, ir.Layer) and value.kind == "Sequential":
            lists = [self.is_layer_list(c) for c in value.children]
            for i, child in enumerate(value.children):
                # the children after a layer list (`Sequential(*blocks, Linear(10))`) are indexed from the end
                if lists[i]:
                    continue
                if any(lists[:i]) and any(lists[i + 1:]):
                    if self.init_statements(cst.Name("_"), child):
                        self.unsupported_construct(child.loc, "an initialised layer between two layer lists of one Sequential")
                    continue
                index = cst.UnaryOperation(cst.Minus(), cst.Integer(str(len(lists) - i))) if any(lists[:i]) else cst.Integer(str(i))
                out.extend(self.init_statements(sub(target, [cst.SubscriptElement(cst.Index(index))]), child))
        elif isinstance(value, ir.Layer) and value.kind in RECURRENT_KINDS:
            out.extend(self.recurrent_bias_statements(target))
        elif isinstance(value, ir.Layer):
            for role, init in self.spelt_inits(value).items():
                tensor = attr(target, cst.Name(self.layer_inits.keywords[value.kind][role]))
                out.append(cst.SimpleStatementLine([cst.Expr(init_call(self, INPLACE[init.kind], init, tensor))]))
        return out

    def recurrent_bias_statements(self, target: cst.BaseExpression) -> list[cst.BaseStatement]:
        """Zero biases for a recurrent layer, every stacked layer and direction (the language's default; its weights
        start from PyTorch's own U(-1/sqrt(h), 1/sqrt(h)), which is the language's too)."""
        name, param = cst.Name(self.scratch("name")), cst.Name(self.scratch("param"))
        return [parse_template_statement('for {name}, {param} in {layer}.named_parameters():\n'
                                         '    if {name}.startswith("bias"):\n'
                                         '        nn.init.zeros_({param})\n', name=name, param=param, layer=target)]

    def after_stmt(self, s: ir.Stmt, code: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """A recurrent layer bound at the top level gets its zero biases right after (in a model: init_statements)."""
        code = super().after_stmt(s, code)
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.Layer) and s.value.kind in RECURRENT_KINDS and not self.in_model:
            code = [*code, *self.recurrent_bias_statements(cst.Name(s.name))]
        return code

    def init_tensor(self, init: ir.Init, shape: cst.BaseExpression) -> cst.BaseExpression:
        a = {k: (self.expr(v) if v is not None else None) for k, v in init.args.items()}
        if init.kind == "normal":
            return call("torch.normal", a.get("mean") or cst.Integer("0"), a.get("std") or cst.Integer("1"), size=shape)
        if init.kind == "uniform":
            return cst.Call(attr(call("torch.empty", shape), cst.Name("uniform_")), [cst.Arg(a["low"]), cst.Arg(a["high"])])
        if init.kind == "xavier":
            return call("nn.init.xavier_uniform_", call("torch.empty", shape))
        if init.kind == "constant":
            return call("torch.full", shape, a["value"])
        return call(f"torch.{init.kind}", shape)

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        tensor = self.init_tensor(p.init, self.expr(p.shape))
        return call("nn.Parameter", tensor) if p.trainable else tensor

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        used = names_read(m.forward)
        init_body: list[cst.BaseStatement] = [cst.parse_statement("super().__init__()\n")]
        for hp in m.hparams:
            if hp.name in used:
                init_body.append(cst.parse_statement(f"self.{hp.name} = {hp.name}\n"))
        self.state.layer_inputs, self.state.model_members = layer_inputs(m), True
        try:
            for member in m.members:
                target = attr(cst.Name("self"), cst.Name(member.name))
                if isinstance(member.value, ir.LayerList):  # built in the constructor; forward iterates a ModuleList
                    with self.earlier_members(m, member):
                        init_body.extend(self.list_statements(member.name, member.value, after=self.init_statements))
                    if member.name in used:
                        init_body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)],
                                                                             call("nn.ModuleList", cst.Name(member.name)))]))
                    continue
                with self.earlier_members(m, member):
                    value = self.expr(member.value)
                if isinstance(member.value, ir.ParamDecl) and not member.value.trainable:  # a constant: moves with .to(device)
                    init_body.append(cst.SimpleStatementLine([cst.Expr(call("self.register_buffer", cst.SimpleString(repr(member.name)),
                                                                            value))]))
                    continue
                init_body.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], value)]))
                init_body.extend(self.init_statements(target, member.value))
        finally:
            self.state.model_members = False
        params = [cst.Param(cst.Name("self"))] + [
            cst.Param(cst.Name(hp.name), default=self.expr(hp.default) if hp.default is not None else None) for hp in m.hparams]
        init = cst.FunctionDef(cst.Name("__init__"), cst.Parameters(params), cst.IndentedBlock(init_body))
        forward = self.method(m, m.forward, "forward", [])
        return [cst.ClassDef(cst.Name(m.name), cst.IndentedBlock([init, forward]),
                             bases=[cst.Arg(cst.parse_expression("nn.Module"))])]

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        if is_dataset(c):
            return dataset_call(self, c, SNIPPETS)
        if c.kind in OPTIMIZERS:
            return optimizer(self, c)
        return cst.parse_expression(LOSSES[c.kind])

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        self.helper("try_gpu", (SNIPPETS / "try_gpu.py").read_text(encoding="utf-8"))
        return expression_statement(train_call(self, t, SNIPPETS))


__all__ = ["PyTorchModels", "parse_template_expression"]
