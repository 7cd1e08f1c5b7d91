"""Keras parameter reads: a Sequential's `.layers[i]`, kernels stored (in, out) and HWIO, transposed to the canonical
(out, in) and OIHW; batch normalisation's gamma, beta and moving statistics;
a write is the variable's `assign` (of a transposed value), `print(net)` the model's `summary()`."""
import libcst as cst
from libcst.helpers import parse_template_statement

from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import index, line, method
from d2lc.emit.rules import call

_NAMES = {("Linear", "weight"): "kernel", ("Conv2d", "weight"): "kernel", ("Embedding", "weight"): "embeddings",
          **{(k, n): v for k in ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm")
             for n, v in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance"))}}


class TensorFlowParams:
    """Mixed into TensorFlowEmitter."""

    param_names = _NAMES
    printout_is_print = False  # `print(net)` is `net.summary()`, which prints itself

    def path_index(self, code, st):
        # a Keras Sequential may hold more layers than the DSL's (a ZeroPadding2D before a padded convolution)
        at = sum(len(self.layer_list(c)) for c in st.parent.children[:st.index]) + len(self.layer_list(st.node)) - 1
        return index(attr(code, cst.Name("layers")), at)

    def param_value(self, code, layer, name):
        if name == "weight" and layer.kind == "Linear":
            return call("tf.transpose", code)
        if name == "weight" and layer.kind == "Conv2d":
            return call("tf.transpose", code, cst.parse_expression("(3, 2, 0, 1)"))
        return call("tf.convert_to_tensor", code)

    def own_param(self, code):
        return call("tf.convert_to_tensor", code)

    native_perms = {("Linear", "weight"): (1, 0), ("Conv2d", "weight"): (2, 3, 1, 0)}

    def transposed(self, value, order):
        return call("tf.transpose", value) if order == (1, 0) else call("tf.transpose", value, cst.parse_expression(str(order)))

    def param_grad(self, g):
        """The loss computed again under a `tf.GradientTape` (which watches the layers' variables), then
        `tape.gradient(loss, layer.kernel)`, transposed to the canonical layout."""
        self.state.replaying += 1
        try:
            run = self.replay(g)
        finally:
            self.state.replaying -= 1
        y = self.recorded_value(g, run, self._scratch)
        tape = self._scratch("tape")
        block = parse_template_statement(f"with tf.GradientTape() as {tape}:\n    pass\n")
        self.pre.append(block.with_changes(body=cst.IndentedBlock(run)))
        self.state.release.update({tape, y.value})
        gradient = call(f"{tape}.gradient", y, self.param_object(g.param))
        return call("tf.convert_to_tensor", gradient) if g.param.own else self.param_value(gradient, g.param.layer, g.param.weight)

    def store_param(self, p, idx, value):
        target = self.param_object(p)
        return [line(method(target if idx is None else sub(target, idx), "assign", value))]

    def update_param(self, p, op, value):
        if op in ("add", "sub"):
            return [line(method(self.param_object(p), f"assign_{op}", value))]
        return super().update_param(p, op, value)

    def show_model(self, m):
        return call(f"{m.root.name}.summary")

    def num_params(self, n):
        return cst.parse_expression(f"sum(int(tf.size(w)) for w in {n.root.name}.trainable_weights)")
