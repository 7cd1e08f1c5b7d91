"""flax parameter reads: a path into the variables pytree. Submodules made in an `@nn.compact` method are named by
their class and a count of the earlier ones of that class (`Dense_1`), a top-level Sequential's by position
(`layers_2`); kernels are stored (in, out) and HWIO, transposed to the canonical (out, in) and OIHW. A write makes a new pytree
(`traverse_util`), `print(net)` prints the shapes of its leaves."""
from functools import cached_property

import libcst as cst

from d2lc.emit import files

from d2lc.core import ir
from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import line
from d2lc.emit.rules import call
from d2lc.passes.param_grads import names_read

from .naming import objective_name

# the flax module class each DSL layer is built as (the rest are functions: no parameters, no name)
_CLASSES = {"Linear": "Dense", "Conv2d": "Conv", "BatchNorm1d": "BatchNorm", "BatchNorm2d": "BatchNorm", "LayerNorm": "LayerNorm",
            "GroupNorm": "GroupNorm", "Embedding": "Embed", "Dropout": "Dropout", "Sequential": "Sequential",
            "RNN": "RNN", "GRU": "RNN", "LSTM": "RNN"}
_NAMES = {("Linear", "weight"): "kernel", ("Conv2d", "weight"): "kernel", ("Embedding", "weight"): "embedding",
          **{(k, "weight"): "scale" for k in ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm")}}
_STATS = {"running_mean": "mean", "running_var": "var"}


def _class(node: ir.Expr) -> str | None:
    if isinstance(node, ir.NewModel):
        return node.model
    return _CLASSES.get(node.kind) if isinstance(node, ir.Layer) else None


def _constructions(m: ir.ModelDef) -> dict[int, str]:
    """id(layer or instance) -> its flax name, for everything model `m`'s compact method constructs, in order."""
    counts: dict[str, int] = {}
    out: dict[int, str] = {}

    def visit(node: ir.Expr) -> None:
        if isinstance(node, ir.Layer) and node.kind == "Sequential":
            for c in node.children:
                visit(c)  # built before the Sequential that holds them (and named in the model, not in it)
        cls = _class(node)
        if cls is not None:
            out[id(node)] = f"{cls}_{counts.get(cls, 0)}"
            counts[cls] = counts.get(cls, 0) + 1

    for mm in m.members:
        visit(mm.value)
    return out


def _key(k: str) -> cst.SubscriptElement:
    return cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{k}"')))


class JaxParams:
    """Mixed into JaxEmitter."""

    @cached_property
    def param_roots(self) -> set[str]:
        """The models whose parameters the chapter reads: their first call initialises them even on unnamed inputs."""
        return {e.root.name for s in ir.walk_stmts(list(self.module.stmts())) for e in ir.own_exprs(s)
                if isinstance(e, (ir.ParamRef, ir.NumParams, ir.ShowModel, ir.ParamsFile))}

    def params_file(self, f: ir.ParamsFile) -> cst.BaseExpression:
        """flax.serialization of the model's variables (a load restores into their structure; see expr_statement)."""
        return files.params_file(self, f, cst.Name(self.variables_of(f.root.name)))

    def _keys(self, p: ir.ParamRef) -> list[str]:
        """The path of a parameter in the variables pytree: its collection, its modules, its leaf."""
        keys: list[str] = []
        for st in p.steps[1:]:
            if st.owner is None:  # a top-level Sequential adopts its layers as layers_0, layers_1, ...
                keys.append(f"layers_{st.index}")
            elif isinstance(st.node, ir.ParamDecl):
                keys.append(st.member or "")
            elif isinstance(st.node, ir.Layer) and st.node.kind == "Sequential" or _class(st.node) is None:
                continue  # a Sequential made in a compact method names nothing: its layers belong to the model
            else:
                keys.append(_constructions(st.owner)[id(st.node)])
        collection = "params"
        if p.own and isinstance(p.steps[-1].node, ir.ParamDecl) and not p.steps[-1].node.trainable:
            collection = "constants"  # param(..., trainable=False): a collection optax never sees
        if not p.own:
            if p.weight in _STATS:
                collection, leaf = "batch_stats", _STATS[p.weight]
            else:
                leaf = _NAMES.get((p.layer.kind, p.weight), p.weight)
            keys.append(leaf)
        return [collection, *keys]

    def param_object(self, p: ir.ParamRef) -> cst.BaseExpression:
        return self._leaf_of(cst.Name(self.variables_of(p.root.name)), p)

    def _leaf_of(self, code: cst.BaseExpression, p: ir.ParamRef) -> cst.BaseExpression:
        for k in self._keys(p):
            code = sub(code, [_key(k)])
        return code

    def param_grad(self, g: ir.ParamGrad) -> cst.BaseExpression:
        """`jax.grad` of a function of the model's variables that computes the loss again (`net.apply(net_variables,
        X)` inside reads its parameter), then the parameter's leaf of the gradient pytree, in the canonical layout."""
        self.state.replaying += 1
        try:
            run = self.replay(g)
        finally:
            self.state.replaying -= 1
        variables = self.variables_of(g.param.root.name)
        body = [*run, line(cst.Return(self.expr(g.y)))]
        params = cst.Parameters([cst.Param(cst.Name(variables))])
        key = cst.Module([cst.FunctionDef(cst.Name("_"), params, cst.IndentedBlock(body))]).code
        held = self.state.param_grads
        if key not in held:  # one gradient pytree for every parameter's gradient of this loss, until something changes
            fname = self.state.objectives.get(key)
            if fname is None:
                fname = self.state.objectives[key] = self.fresh(objective_name(g.y))
                self.pre.append(cst.FunctionDef(cst.Name(fname), params, cst.IndentedBlock(body)))
            name = self.fresh(f"{g.param.root.name}_grads")
            self.pre.append(self.assign(name, cst.Call(call("jax.grad", cst.Name(fname)), [cst.Arg(cst.Name(variables))])))
            held[key] = (name, names_read(g.slice) | names_read(g.y) | {g.param.root.name})
        return self.param_ref(g.param, cst.Name(held[key][0]))

    def forget_param_grads(self, s: ir.Stmt) -> None:
        """Before statement `s`: the gradient pytrees held whose loss or model `s` may change are gone."""
        held = self.state.param_grads
        if isinstance(s, (ir.ParamWrite, ir.Train, ir.For, ir.If, ir.FuncDef)):
            held.clear()
            return
        bound = set(ir.bound_names(s)) if isinstance(s, (ir.Assign, ir.Unpack, ir.IndexAssign)) else set()
        for key in [k for k, (_, names) in held.items() if names & bound]:
            del held[key]

    def param_ref(self, p: ir.ParamRef, code: cst.BaseExpression | None = None) -> cst.BaseExpression:
        """A leaf of the variables pytree (of `code`, a pytree of the same structure, when given), canonical."""
        code = self.param_object(p) if code is None else self._leaf_of(code, p)
        if not p.own and p.weight == "weight" and p.layer.kind == "Linear":
            return attr(code, cst.Name("T"))
        if not p.own and p.weight == "weight" and p.layer.kind == "Conv2d":
            return cst.Call(attr(code, cst.Name("transpose")), [cst.Arg(cst.parse_expression("(3, 2, 0, 1)"))])
        return code

    native_perms = {("Linear", "weight"): (1, 0), ("Conv2d", "weight"): (2, 3, 1, 0)}

    def store_param(self, p, idx, value):
        """flax's variables are not changed in place: a new pytree with the one leaf replaced (`.at[].set` for a part)."""
        self.state.written.add(p.root.name)
        if idx is not None:
            value = cst.Call(attr(sub(attr(self.param_object(p), cst.Name("at")), idx), cst.Name("set")), [cst.Arg(value)])
        name = self.variables_of(p.root.name)
        path = cst.Tuple([cst.Element(cst.SimpleString(f'"{k}"')) for k in self._keys(p)])
        flat = cst.Dict([cst.StarredDictElement(cst.parse_expression(f"traverse_util.flatten_dict({name})")),
                         cst.DictElement(path, value)])
        return [line(cst.Assign([cst.AssignTarget(cst.Name(name))], cst.Call(
            cst.parse_expression("traverse_util.unflatten_dict"), [cst.Arg(flat)])))]

    def show_model(self, m: ir.ShowModel) -> cst.BaseExpression:
        """flax modules hold no parameters: the shapes in the variables pytree are the model's printout."""
        shapes = cst.parse_expression(f"jax.tree_util.tree_map(jnp.shape, {self.variables_of(m.root.name)})")
        return cst.Call(cst.Name("print"), [cst.Arg(shapes)])

    def num_params(self, n: ir.NumParams) -> cst.BaseExpression:
        return cst.parse_expression(f'sum(x.size for x in jax.tree_util.tree_leaves({self.variables_of(n.root.name)}["params"]))')
