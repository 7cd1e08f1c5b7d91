"""Lowering of parameter and sub-layer access at the top level of a chapter: `net.out.weight`, `net.net[2].bias`,
`num_params(net)`, and the check that each is read only after the model was called or trained (its shapes known)."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import DiagnosticBag, did_you_mean
from d2lc.core.layers import LAYERS, RECURRENT_KINDS
from d2lc.core.types import ANY, DEFAULT_FLOAT, INT, AnyType, LayerType, ModelType, ScalarType, TensorType

_INPUT_AXIS = {"Linear": -1, "Conv2d": 1, "BatchNorm1d": 1, "BatchNorm2d": 1}
PARAM_HINT = "read a layer's tensors by name (`net.out.weight`, `net.net[0].bias`); count them with `num_params(net)`"


def is_path_base(e: ir.Expr) -> bool:
    """Whether `e` is something whose sub-layers and parameters can be read: a model instance, a layer, a sub-layer."""
    return isinstance(e, ir.SubLayer) or isinstance(e, ir.Var) and (
        isinstance(e.type, ModelType) and not e.type.is_class or isinstance(e.type, LayerType))


class ParamLowering(LowererBase):
    """Mixed into the Lowerer: `.member`, `[i]` and `.weight` on models and layers, and `num_params`."""

    def _path(self, base: ir.Expr) -> tuple[ir.Var, list[ir.PathStep]] | None:
        if isinstance(base, ir.SubLayer):
            return base.root, base.steps
        sym = self.scope.lookup(base.name)  # type: ignore[attr-defined]
        value = getattr(sym, "instance", None) or getattr(sym, "layer", None)
        if value is None:
            self.error(base.loc, f"the layers of `{base.name}` are not known here", expected="a model instance or a layer "  # type: ignore[attr-defined]
                       "assigned at the top level of the chapter (net = MLP())", hint="assign the model to a name, call it, then read its parameters")
            return None
        if self.current_model is not None or self.scope is not self.globals:
            self.error(base.loc, "parameters are read at the top level of a chapter", expected="print(net.out.weight) outside `def` and `model`",
                       hint="inside a model, use the member itself; pass a tensor to a function")
            return None
        return base, [ir.PathStep(None, None, value, None)]  # type: ignore[arg-type]

    def path_attribute(self, base: ir.Expr, e: A.Attribute) -> ir.Expr:
        """`base.name`: a member of a model, or a tensor of a layer (`.weight`, `.bias`, ...)."""
        path = self._path(base)
        if path is None:
            return ir.Const(ANY, e.loc, None)
        root, steps = path
        node = steps[-1].node
        if isinstance(node, ir.NewModel):
            mdef = self.models.get(node.model)
            member = next((m for m in mdef.members if m.name == e.attr), None) if mdef else None
            if mdef is None:
                return ir.Const(ANY, e.loc, None)
            if member is None:
                names = [m.name for m in mdef.members]
                return self.error(e.loc, f"model `{node.model}` has no member `{e.attr}`", expected="one of: " + ", ".join(names),
                                  hint=did_you_mean(e.attr, names) or PARAM_HINT)
            if isinstance(member.value, ir.LayerList):
                return self.error(e.loc, f"`{e.attr}` is a layer list; reading its layers is not supported yet",
                                  expected="a member layer, a Sequential or a model instance", hint="hold the layers in a Sequential member")
            if any(isinstance(m.value, ir.LayerList) for m in mdef.members):
                return self.error(e.loc, f"reading the parameters of `{node.model}`, which builds a layer list, is not supported yet",
                                  expected="a model whose members are layers, Sequentials or model instances")
            step = ir.PathStep(e.attr, None, member.value, mdef)
            if isinstance(member.value, ir.ParamDecl):
                t = member.value.type
                if isinstance(t, TensorType) and t.rank == 4:
                    return self.error(e.loc, "reading a rank-4 `param(...)` is not supported yet", expected="a param of rank 1 to 3")
                return ir.ParamRef(t, e.loc, root, [*steps, step], e.attr, own=True)
            if isinstance(member.value, (ir.Layer, ir.NewModel)):
                return ir.SubLayer(member.value.type, e.loc, root, [*steps, step])
            return self.error(e.loc, f"`{e.attr}` of `{node.model}` is {member.value.type}, not a layer", expected="a member layer")
        if isinstance(node, ir.Layer):
            return self._weight(root, steps, node, e)
        return ir.Const(ANY, e.loc, None)

    def _weight(self, root: ir.Var, steps: list[ir.PathStep], layer: ir.Layer, e: A.Attribute) -> ir.Expr:
        spec = LAYERS[layer.kind]
        names = [w.name for w in spec.weights if w.name != "bias" or layer.has_bias or layer.kind not in ("Linear", "Conv2d")]
        if layer.kind in RECURRENT_KINDS:
            return self.error(e.loc, f"reading the parameters of `{layer.kind}` is not supported yet", expected="Linear, Conv2d, "
                              "BatchNorm, LayerNorm, GroupNorm or Embedding", hint="each framework groups a recurrent layer's gates its own way")
        if e.attr not in names:
            what = f"`{layer.kind}` has no parameters" if not names else f"`{layer.kind}` has no tensor `{e.attr}`"
            if e.attr == "bias" and spec.weights:
                what = f"`{layer.kind}(..., bias=False)` has no bias"
            return self.error(e.loc, what, expected="one of: " + ", ".join(f".{n}" for n in names) if names else "a layer with parameters",
                              hint=did_you_mean(e.attr, names) or ("index its Sequential to reach a layer with parameters" if not names else PARAM_HINT))
        if e.attr == "weight" and layer.kind == "Linear" and self._reads_flattened_channels(steps):
            return self.error(e.loc, "reading the weight of a `Linear` that reads flattened features of several channels is not "
                              "supported yet", expected="a Linear after a Flatten of one channel, or of features",
                              hint="channels-last frameworks order such a weight's inputs differently; read its bias, or another layer")
        return ir.ParamRef(TensorType(DEFAULT_FLOAT, self._weight_shape(steps, layer, e.attr)), e.loc, root, steps, e.attr)

    def _reads_flattened_channels(self, steps: list[ir.PathStep]) -> bool:
        """Whether a Linear may read a Flatten of [channels, height, width] with several channels and positions (its
        Sequential's previous layer, or a Flatten member of its model): those columns are HWC-ordered on TF and flax."""
        st = steps[-1]
        if st.parent is not None and st.index:
            before = [st.parent.children[st.index - 1]]
        elif st.owner is not None and st.parent is None:
            before = [m.value for m in st.owner.members]
        else:
            return False
        flats = [b for b in before if isinstance(b, ir.Layer) and b.kind == "Flatten"]
        flats += [c for b in before if isinstance(b, ir.Layer) and b.kind == "Sequential" and st.parent is None
                  for c in b.children[-1:] if isinstance(c, ir.Layer) and c.kind == "Flatten"]
        chw = [self.layer_inputs[id(f)][0] for f in flats if id(f) in self.layer_inputs]  # recorded: a rank-4 input
        return any(not (c == 1 or h == 1 and w == 1) for c, h, w in chw)  # one channel, or 1x1: both orders agree

    def _weight_shape(self, steps: list[ir.PathStep], layer: ir.Layer, name: str) -> tuple:
        """The canonical (PyTorch) shape of a layer's tensor; a size not known at compile time is None."""
        model = next((s.node for s in reversed(steps[:-1]) if isinstance(s.node, ir.NewModel)), None)
        hp = self._hparam_values(model)

        def arg(key):
            v = layer.args.get(key)
            if isinstance(v, ir.Var) and v.name in hp:
                return hp[v.name]
            out = static_value(v)
            return out if isinstance(out, int) and not isinstance(out, bool) else None

        axis = _INPUT_AXIS.get(layer.kind)
        seen = self.layer_inputs.get(id(layer))
        n_in = seen[0] if seen is not None and axis is not None else None
        k = layer.kind
        if k == "Linear":
            return (arg("out_features"), n_in) if name == "weight" else (arg("out_features"),)
        if k == "Conv2d":
            groups = arg("groups") if layer.args.get("groups") is not None else 1
            per_group = n_in // groups if isinstance(n_in, int) and isinstance(groups, int) else None
            return (arg("out_channels"), per_group, arg("kernel"), arg("kernel")) if name == "weight" else (arg("out_channels"),)
        if k.startswith("BatchNorm"):
            return (n_in,)
        if k == "LayerNorm":
            return (arg("size"),)
        if k == "GroupNorm":
            return (arg("num_channels"),)
        if k == "Embedding":
            return (arg("num_embeddings"), arg("dim"))
        return ()

    def _hparam_values(self, model: ir.NewModel | None) -> dict[str, int]:
        """The int hyperparameters of one model instance (its arguments, else the defaults)."""
        mdef = self.models.get(model.model) if model is not None else None
        if mdef is None:
            return {}
        out = {}
        for i, p in enumerate(mdef.hparams):
            v = model.args[i] if i < len(model.args) else model.kwargs.get(p.name, p.default)
            sv = static_value(v)
            if isinstance(sv, int) and not isinstance(sv, bool):
                out[p.name] = sv
        return out

    def path_index(self, base: ir.Expr, e: A.Subscript) -> ir.Expr:
        """`seq[i]`: a layer of a Sequential, by a static int index (negative counts from the end)."""
        path = self._path(base)
        if path is None:
            return ir.Const(ANY, e.loc, None)
        root, steps = path
        node = steps[-1].node
        if not (isinstance(node, ir.Layer) and node.kind == "Sequential"):
            what = f"model `{node.model}`" if isinstance(node, ir.NewModel) else f"a layer {getattr(node, 'kind', '?')}"
            return self.error(e.loc, f"{what} cannot be indexed", expected="a Sequential, e.g. net.net[0]",
                              hint="read a model's members by name (`net.out`); only a Sequential is indexed")
        if len(e.index) != 1 or isinstance(e.index[0], A.Slice):
            return self.error(e.loc, "a Sequential takes one int index", expected="seq[0], seq[-1]")
        i = self.expr(e.index[0])
        iv = static_value(i)
        if not (isinstance(iv, int) and not isinstance(iv, bool)):
            return self.error(i.loc, "a Sequential's index must be an int written in the chapter", expected="seq[0], seq[-1]",
                              hint="the layer read must be known when the chapter compiles")
        children = node.children
        if any(c.type == LayerType("list") for c in children):
            return self.error(e.loc, "indexing a Sequential built from a layer list is not supported yet", expected="Sequential(layer, ...)")
        if not -len(children) <= iv < len(children):
            return self.error(i.loc, f"index {iv} is out of range for a Sequential of {len(children)} layers",
                              expected=f"an index in [{-len(children)}, {len(children) - 1}]",
                              hint="indices start at 0 and count every layer, activations included")
        child = children[iv % len(children)]
        owner = next((s.owner for s in reversed(steps) if s.owner is not None), None) if steps[-1].owner is not None else None
        if isinstance(child, ir.Var) and owner is not None:  # a member named in the Sequential: its layer
            member = next((m for m in owner.members if m.name == child.name), None)
            child = member.value if member is not None else child
        if not isinstance(child, (ir.Layer, ir.NewModel)):
            return self.error(e.loc, "this layer of the Sequential cannot be read", expected="a built-in layer or a model instance")
        return ir.SubLayer(child.type, e.loc, root, [*steps, ir.PathStep(None, iv % len(children), child, steps[-1].owner, node)])

    def num_params_call(self, e: A.Call) -> ir.Expr:
        if len(e.args) != 1 or e.kwargs:
            return self.error(e.loc, "`num_params` takes one model", expected="num_params(net)")
        net = self.expr(e.args[0])
        if isinstance(net.type, AnyType):
            return ir.Const(ANY, e.loc, None)
        if not (isinstance(net, ir.Var) and is_path_base(net)):
            return self.error(net.loc, f"`num_params` counts the parameters of a model or a layer, got {net.type}",
                              expected="num_params(net) with net = MyModel(...)", hint="assign the model to a name first")
        path = self._path(net)
        if path is None:
            return ir.Const(ANY, e.loc, None)
        if isinstance(path[1][0].node, ir.Layer) and path[1][0].node.kind in RECURRENT_KINDS:
            return self.error(net.loc, "counting the parameters of a recurrent layer held by a name is not supported yet")
        return ir.NumParams(INT, e.loc, net)


def trainable_flag(lw: LowererBase, kw) -> bool:
    """`param(..., trainable=False)`: a literal bool (every framework decides it when the model is built)."""
    if kw is None:
        return True
    value = static_value(lw.expr(kw.value))
    if not isinstance(value, bool):
        lw.error(kw.loc, "`trainable=` takes True or False written in the chapter", expected="param(shape, init=..., trainable=False)",
                 hint="a constant tensor of the model is declared once, when the model is built")
        return True
    return value


ROOTED = (ir.ParamRef, ir.NumParams, ir.ShowModel, ir.ParamsFile)  # what needs its model's parameters made


def check_built(cells: list[ir.Cell], diags: DiagnosticBag) -> None:
    """A parameter is read only after its model was called (or trained) at the top level of the chapter, outside
    loops and branches, so that every framework has made its parameters; a sub-layer is only a parameter's base."""
    built: set[str] = set()
    for cell in cells:
        for s in cell.stmts:
            reads = [e for e in ir.own_exprs(s) if isinstance(e, ROOTED)]
            nested = [e for inner in ir.walk_stmts(getattr(s, "body", []) or []) for e in ir.own_exprs(inner)
                      if isinstance(e, ROOTED)]
            for e in reads + nested:
                if e.root.name not in built:
                    diags.error(e.loc, f"`{e.root.name}` has no parameters yet: it has not been called on data",
                                expected=f"{e.root.name}(X) or train({e.root.name}, ...) at the top level, before this line",
                                hint="frameworks make a layer's parameters when it first sees an input (its shapes); "
                                     "call the model once outside loops and branches")
            for e in ir.own_exprs(s):
                if isinstance(e, ir.BoundOptimizer) and e.net is not None and e.net.name not in built:
                    diags.error(e.loc, f"`{e.net.name}` has no parameters yet: it has not been called on data",
                                expected=f"{e.net.name}(X) at the top level, before the optimizer is made",
                                hint="frameworks make a layer's parameters when it first sees an input; call the model "
                                     "once on a batch, then bind the optimizer to its parameters")
            for e in ir.walk_exprs(s):
                if isinstance(e, ir.SubLayer):
                    diags.error(e.loc, "a sub-layer is read only for its parameters", expected="net.net[0].weight, net.out.bias",
                                hint=PARAM_HINT)
            if isinstance(s, ir.Assign):
                built.discard(s.name)
            if isinstance(s, ir.Train) and isinstance(s.net, ir.Var):
                built.add(s.net.name)
            for e in ir.own_exprs(s):
                if isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var):
                    built.add(e.instance.name)


__all__ = ["ParamLowering", "check_built", "trainable_flag", "is_path_base", "ScalarType"]
