"""JAX's hand-written training loop: an optax transformation and its state (`opt_state = opt.init(params)`), and a
jitted step, defined before the loop, that takes the loss as a function of the parameters, gets it and its gradient
with `jax.value_and_grad`, and returns the new variables and optimizer state (flax changes nothing in place)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.schedules import floor_ratio, milestones, value, warmup
from d2lc.emit.step_loops import line, schedule_of, with_lr

from .optimizers import optimizer


def _params(variables: str) -> cst.BaseExpression:
    return cst.parse_expression(f'{variables}["params"]')


class JaxLoops:
    def batches_of(self, loader: cst.BaseExpression) -> cst.BaseExpression:
        """The JAX loaders (minibatches) are functions returning a fresh iterator over the batches."""
        return cst.Call(loader, [])

    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        sched = schedule_of(b)
        if sched is None:
            return optimizer(self, b)
        # lr * gamma ** floor(count / step_size), optax counting the updates from 0
        if sched.kind == "StepLR":
            decay = call("optax.exponential_decay", self.expr(sched.args["lr"]), transition_steps=self.expr(sched.args["step_size"]),
                         decay_rate=self.expr(value(sched, "gamma")), staircase=cst.Name("True"))
        elif sched.kind == "MultiStepLR":  # lr times each scale whose boundary the count has reached
            g = self.expr(value(sched, "gamma"))
            scales = cst.Dict([cst.DictElement(m.value, g) for m in milestones(self, sched).elements])
            decay = call("optax.piecewise_constant_schedule", self.expr(sched.args["lr"]), boundaries_and_scales=scales)
        elif warmup(sched) is None:  # the cosine from lr to alpha * lr over decay_steps, then alpha * lr
            decay = call("optax.cosine_decay_schedule", self.expr(sched.args["lr"]), decay_steps=self.expr(sched.args["T_max"]),
                         alpha=floor_ratio(self, sched))
        else:  # linear from 0 to lr over warmup_steps, then the cosine down to end_value; decay_steps counts both
            decay = call("optax.warmup_cosine_decay_schedule", cst.Float("0.0"), self.expr(sched.args["lr"]),
                         warmup_steps=self.expr(warmup(sched)), decay_steps=self.expr(sched.args["T_max"]),
                         end_value=self.expr(value(sched, "eta_min")))
        return optimizer(self, with_lr(b, decay))

    def optimizer_state(self, s: ir.Assign) -> list[cst.BaseStatement]:
        """After `opt = optax.sgd(...)`: `opt_state = opt.init(net_variables["params"])`, the state the steps carry."""
        b = s.value
        state = self.state.opt_states[s.name] = self.fresh(f"{s.name}_state")
        return [self.assign(state, call(f"{s.name}.init", _params(self.variables_of(b.net.name))))]

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        net = s.net.name
        variables = self.variables_of(net)
        state = self.state.opt_states.get(s.opt) or self.fresh(f"{s.opt}_state")
        step = self.fresh(f"{s.opt}_step")
        loss_fn = self.fresh("compute_loss")
        # inside the loss function the model runs on the variables with the parameters being differentiated
        names, self.state.variables_names = self.state.variables_names, {**self.state.variables_names, net: "variables"}
        self.state.replaying += 1
        try:
            body = self.loss_body(s)
            loss = self.expr(s.value)
        finally:
            self.state.replaying -= 1
            self.state.variables_names = names
        inner = [self.assign("variables", cst.parse_expression(f'{{**{variables}, "params": params}}')), *body,
                 line(cst.Return(loss))]
        l, grads = "loss", "grads"
        x, y = s.loop_vars
        outer = [
            cst.FunctionDef(cst.Name(loss_fn), cst.Parameters([cst.Param(cst.Name("params"))]), self.indented(inner)),
            cst.parse_statement(f"{l}, {grads} = jax.value_and_grad({loss_fn})({variables}[\"params\"])"),
            cst.parse_statement(f"updates, {state} = {s.opt}.update({grads}, {state}, {variables}[\"params\"])"),
            cst.parse_statement(f"{variables} = {{**{variables}, \"params\": optax.apply_updates({variables}[\"params\"], updates)}}"),
            line(cst.Return(cst.parse_expression(f"{variables}, {state}, {l}"))),
        ]
        params = cst.Parameters([cst.Param(cst.Name(n)) for n in (variables, state, x, y)])
        fn = cst.FunctionDef(cst.Name(step), params, self.indented(outer), decorators=[cst.Decorator(cst.parse_expression("jax.jit"))])
        self.helper_defs.append(fn)  # defined once, before the outermost statement (an epoch loop): jitted once
        self.state.written.add(net)  # a later `train(net, ...)` would start from a fresh init: refused, as after a write
        taken = self.expr(s.value)
        target = cst.Tuple([cst.Element(cst.Name(variables)), cst.Element(cst.Name(state)), cst.Element(taken)], lpar=[], rpar=[])
        run = line(cst.Assign([cst.AssignTarget(target)], cst.Call(cst.Name(step), [cst.Arg(cst.Name(n)) for n in (variables, state, x, y)])))
        return self.batch_loop(s, [run], cst.Call(self.train_batches(s), []))
