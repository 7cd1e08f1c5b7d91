"""Hand-written training loops (docs/dsl.md, "Training loops"): an optimizer bound to a model, `opt = SGD(net, ...)`,
stepped by `opt.step(loss)` at the end of `for X, y in data.train:`. Each target's idiom; bodies the compiler cannot
differentiate on every target are compile errors; and K steps from identical parameters leave the same parameters on
every target (a planted bug, MXNet's trainer rescaling a mean loss by the batch size, is caught)."""
from __future__ import annotations

import re

import libcst as cst
import pytest

from helpers import emit
from test_errors import assert_error
from test_soundness import run_everywhere

MODEL = '''\
model Reg():
    hidden = Linear(3)
    out = Linear(1)
    def forward(X: f32[n, 2]):
        return out(relu(hidden(X)))
net = Reg()
X = arange(16.0).reshape(8, 2) / 8
y = X[:, :1] * 2.0 - X[:, 1:] + 0.5
Y = net(X)
data = load_array(X, y, 4, shuffle=False)
'''
# identical parameters on every target, then 3 epochs of 2 batches: six steps
SAME = '''\
net.hidden.weight = arange(6.0).reshape(3, 2) / 6 - 0.4
net.hidden.bias = tensor([0.1, -0.2, 0.3])
net.out.weight = tensor([[0.5, -0.3, 0.8]])
net.out.bias = zeros((1,))
'''
LOOP = '''\
opt = OPT
for epoch in range(3):
    for Xb, yb in data.train:
        l = squared_loss(net(Xb), yb)
        opt.step(l)
print(float((net.hidden.weight * arange(6.0).reshape(3, 2)).sum()), float(net.hidden.bias.sum()))
print(float((net.out.weight * arange(3.0)).sum()), float(net.out.bias[0]), float(l))
'''
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _program(opt: str) -> str:
    return MODEL + SAME + LOOP.replace("OPT", opt)


def _numbers(out: str) -> list[float]:
    return [float(w) for w in NUMBER.findall(out)]


def _disagree(printed: dict[str, str]) -> set[str]:
    want = _numbers(printed["pytorch"])
    assert len(want) == 5, printed["pytorch"]
    return {t for t, out in printed.items() if len(got := _numbers(out)) != 5
            or any(abs(g - w) > 1e-4 * max(1.0, abs(w)) for g, w in zip(got, want))}


@pytest.mark.parametrize("opt", ["SGD(net, lr=0.1, momentum=0.9)", "Adam(net, lr=0.01)",
                                 "SGD(net, lr=StepLR(0.2, step_size=2, gamma=0.5))", "Adam(net, lr=StepLR(0.02, step_size=2))",
                                 "SGD(net, lr=CosineLR(0.2, T_max=4, eta_min=0.01))", "Adam(net, lr=CosineLR(0.02, T_max=4))",
                                 "SGD(net, lr=MultiStepLR(0.2, milestones=[2, 5], gamma=0.5))",
                                 "SGD(net, lr=CosineLR(0.2, T_max=5, eta_min=0.01, warmup=2))",
                                 "Adam(net, lr=CosineLR(0.02, T_max=4, warmup=3))"])
def test_the_loop_leaves_the_same_parameters_on_every_target(tmp_path, opt):
    printed = run_everywhere(_program(opt), tmp_path)
    assert not _disagree(printed), printed
    before = run_everywhere(MODEL + SAME + "print(float(net.out.bias[0]))\n", tmp_path / "before")["pytorch"]
    assert abs(_numbers(printed["pytorch"])[3] - float(before)) > 1e-3  # the steps changed the parameters


def test_a_loss_written_inside_the_step_is_recorded_with_the_body(tmp_path):
    """`opt.step(squared_loss(y_hat, yb))`: the loss is computed inside the tape (TensorFlow) and `autograd.record()`
    (MXNet) with the rest of the body (outside them TensorFlow has no gradient and MXNet's backward raises)."""
    inline = LOOP.replace("        l = squared_loss(net(Xb), yb)\n        opt.step(l)\n",
                          "        y_hat = net(Xb)\n        opt.step(squared_loss(y_hat, yb))\n").replace("float(l)", "float(net.out.bias[0])")
    printed = run_everywhere(MODEL + SAME + inline.replace("OPT", "SGD(net, lr=0.1, momentum=0.9)"), tmp_path)
    assert not _disagree(printed), printed


def test_a_schedule_changes_the_steps_and_a_continuous_decay_is_caught(tmp_path, monkeypatch):
    """StepLR lowers the rate every `step_size` updates (not after each one): Keras' ExponentialDecay without
    `staircase=True` decays it continuously and takes other steps, on TensorFlow only; and a constant rate ends
    elsewhere than the schedule (the schedule is not ignored)."""
    from d2lc_targets.tensorflow import loops
    scheduled = _program("SGD(net, lr=StepLR(0.2, step_size=2, gamma=0.5))")
    constant = run_everywhere(_program("SGD(net, lr=0.2)"), tmp_path / "constant")["pytorch"]
    real = loops.call
    monkeypatch.setattr(loops, "call", lambda path, *a, **kw: real(path, *a, **{k: v for k, v in kw.items() if k != "staircase"}))
    printed = run_everywhere(scheduled, tmp_path)
    assert _disagree(printed) == {"tensorflow"}
    assert abs(_numbers(constant)[3] - _numbers(printed["pytorch"])[3]) > 1e-3


def test_a_cosine_that_rises_again_after_t_max_is_caught(tmp_path, monkeypatch):
    """Six steps of a cosine over T_max=4: the last two stay at eta_min. PyTorch's own CosineAnnealingLR (and Paddle's
    CosineAnnealingDecay) would raise the rate again there; planted as PyTorch's lambda without the clamp, PyTorch
    disagrees with every other target."""
    from d2lc_targets.pytorch import loops
    from d2lc.emit.schedules import cosine_factor
    monkeypatch.setattr(loops, "cosine_factor", lambda em, c, t: cst.parse_expression(
        cst.Module([]).code_for_node(cosine_factor(em, c, t)).replace(f"min({t}, 4)", t)))
    printed = run_everywhere(_program("SGD(net, lr=CosineLR(0.2, T_max=4, eta_min=0.01))"), tmp_path)
    assert _disagree(printed) == set(printed) - {"pytorch"}


def test_a_multi_step_schedule_with_boundaries_one_update_late_is_caught(tmp_path, monkeypatch):
    """Keras' PiecewiseConstantDecay keeps a segment's rate while the step is at most its boundary, so a milestone m
    is the boundary m - 1; planted as the milestones themselves, TensorFlow lowers the rate one update late."""
    from d2lc_targets.tensorflow import loops
    monkeypatch.setattr(loops, "milestones", lambda em, c, shift=0: cst.List([cst.Element(em.expr(m)) for m in c.args["milestones"].items]))
    printed = run_everywhere(_program("SGD(net, lr=MultiStepLR(0.2, milestones=[2, 5], gamma=0.5))"), tmp_path)
    assert _disagree(printed) == {"tensorflow"}


def test_a_warm_up_counted_from_one_is_caught(tmp_path, monkeypatch):
    """The warm-up's rate at update t is lr t / W from t = 0 (the first update takes no step); planted as PyTorch's
    lambda reading (t + 1) / W, PyTorch disagrees with every other target."""
    from d2lc_targets.pytorch import loops
    from d2lc.emit.schedules import cosine_factor
    monkeypatch.setattr(loops, "cosine_factor", lambda em, c, t: cst.parse_expression(
        cst.Module([]).code_for_node(cosine_factor(em, c, t)).replace(f"{t} / 2 if", f"({t} + 1) / 2 if")))
    printed = run_everywhere(_program("SGD(net, lr=CosineLR(0.2, T_max=5, eta_min=0.01, warmup=2))"), tmp_path)
    assert _disagree(printed) == set(printed) - {"pytorch"}


def test_a_trainer_that_rescales_the_mean_loss_is_caught(tmp_path, monkeypatch):
    """gluon's `trainer.step(batch_size)` divides the gradient by the batch size, the book's idiom for a summed
    loss: with the language's mean losses MXNet would take steps four times too small."""
    from d2lc_targets.mxnet.loops import MXNetLoops
    monkeypatch.setattr(MXNetLoops, "step_scale", lambda self, s: cst.parse_expression(f"{s.loop_vars[1]}.shape[0]"))
    printed = run_everywhere(_program("SGD(net, lr=0.1, momentum=0.9)"), tmp_path)
    assert _disagree(printed) == {"mxnet"}


@pytest.mark.parametrize("target, spelled", [
    ("pytorch", ["opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)", "for Xb, yb in data[0]:",
                 "opt.zero_grad()\n        l.backward()\n        opt.step()"]),
    ("tensorflow", ["opt = tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)", "with tf.GradientTape() as tape:",
                    "grads = tape.gradient(l, net.trainable_variables)",
                    "opt.apply_gradients(zip(grads, net.trainable_variables))"]),
    ("jax", ["opt = optax.sgd(0.1, momentum=0.9)", 'opt_state = opt.init(net_variables["params"])', "@jax.jit",
             "def opt_step(net_variables, opt_state, Xb, yb):", "jax.value_and_grad(compute_loss)",
             "net_variables, opt_state, l = opt_step(net_variables, opt_state, Xb, yb)", "for Xb, yb in data[0]():"]),
    ("mxnet", ['opt = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})',
               "with autograd.record():", "l.backward()\n        opt.step(1)"]),
    ("paddle", ["opt = paddle.optimizer.Momentum(learning_rate=0.1, parameters=net.parameters(), momentum=0.9)",
                "l.backward()\n        opt.step()\n        opt.clear_grad()"]),
])
def test_each_target_writes_its_own_training_step(target, spelled):
    code = emit(_program("SGD(net, lr=0.1, momentum=0.9)"), target)
    for s in spelled:
        assert s in code, code
    assert "d2lc" not in code


STEP = "  expected: opt.step(loss) as the last statement of `for X, y in data.train:`\n"
ERRORS = [
    ("no_step", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = squared_loss(net(Xb), yb)\n", '''\
ch.md:15:1: error: a loop over a data set's training batches ends with the optimizer's step
    for Xb, yb in data.train:
    ^
''' + STEP + "  hint: make an optimizer bound to the model first: `opt = SGD(net, lr=0.1)`\n"),
    ("stray_step", MODEL + "opt = SGD(net, lr=0.1)\nl = squared_loss(net(X), y)\nopt.step(l)\n", '''\
ch.md:16:1: error: `opt.step(loss)` is the last statement of a loop over a data set's training batches
    opt.step(l)
    ^^^^^^^^^^^
''' + STEP + "  hint: compute the loss from the batch inside `for X, y in data.train:`, then step\n"),
    ("print_in_the_body", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = squared_loss(net(Xb), yb)\n"
     "    print(l)\n    opt.step(l)\n", '''\
ch.md:17:5: error: a training step's body only computes the loss: assignments before `opt.step(loss)`
        print(l)
        ^^^^^^^^
  expected: l = squared_loss(net(X), y)
  hint: print or log after the loop, from values it leaves
'''),
    ("random_loss", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n"
     "    l = squared_loss(net(Xb + normal((4, 2))), yb)\n    opt.step(l)\n", '''\
ch.md:16:31: error: a training step's loss draws random numbers
        l = squared_loss(net(Xb + normal((4, 2))), yb)
                                  ^^^^^^
  expected: a loss computed from the batch
  hint: draw random values before the loop
'''),
    ("penalty_on_a_parameter", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n"
     "    l = squared_loss(net(Xb), yb) + (net.out.weight ** 2).sum()\n    opt.step(l)\n", '''\
ch.md:16:46: error: a training step's loss reaches the parameters through the model's calls only
        l = squared_loss(net(Xb), yb) + (net.out.weight ** 2).sum()
                                                 ^^^^^^
  expected: a loss computed from net(X)
  hint: add a weight penalty to the model's forward
'''),
    ("not_a_scalar", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = net(Xb) - yb\n    opt.step(l)\n", '''\
ch.md:17:14: error: the loss a step minimises is one float number, got float32[n, 1]
        opt.step(l)
                 ^
  expected: a float32 scalar
  hint: reduce it, e.g. `squared_loss(net(X), y)` or `(...).mean()`
'''),
    ("not_from_the_model", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = (yb ** 2).mean()\n    opt.step(l)\n", '''\
ch.md:17:14: error: this loss is not computed from a call of `net`, so the step has no gradient
        opt.step(l)
                 ^
  expected: a loss computed from net(X)
  hint: e.g. `l = squared_loss(net(X), y)`
'''),
    ("model_not_called", MODEL.replace("Y = net(X)\n", "") + "opt = SGD(net, lr=0.1)\n", '''\
ch.md:13:7: error: `net` has no parameters yet: it has not been called on data
    opt = SGD(net, lr=0.1)
          ^^^
  expected: net(X) at the top level, before the optimizer is made
  hint: frameworks make a layer's parameters when it first sees an input; call the model once on a batch, then bind the optimizer to its parameters
'''),
    ("dropout", MODEL.replace("hidden = Linear(3)", "hidden = Sequential(Linear(3), Dropout(0.5))")
     + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = squared_loss(net(Xb), yb)\n    opt.step(l)\n", '''\
ch.md:14:11: error: `Reg` acts differently in training (dropout or batch normalisation); a hand-written loop trains models without such layers
    opt = SGD(net, lr=0.1)
              ^^^
  expected: a model without Dropout and BatchNorm
  hint: train it with `train(net, data, loss=..., optimizer=...)`
'''),
    ("image_batches", "model C():\n    body = Sequential(Conv2d(2, kernel=3), Flatten(), Linear(1))\n    def forward(X: f32[b, 1, 6, 6]):\n"
     "        return body(X)\nnet = C()\nX = ones((4, 1, 6, 6))\nY = net(X)\ndata = load_array(X, ones((4, 1)), 2)\n"
     "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    l = squared_loss(net(Xb), yb)\n    opt.step(l)\n", '''\
ch.md:13:20: error: a hand-written loop over image batches is not supported yet (the channels-last targets load them NHWC)
    for Xb, yb in data.train:
                       ^^^^^
  expected: a data set of [batch, features] examples
  hint: train an image model with `train(net, data, loss=..., optimizer=...)`
'''),
    ("body_name_after_the_loop", MODEL + "opt = SGD(net, lr=0.1)\nfor Xb, yb in data.train:\n    y_hat = net(Xb)\n"
     "    l = squared_loss(y_hat, yb)\n    opt.step(l)\nprint(l, y_hat)\n", '''\
ch.md:19:10: error: undefined name `y_hat`
    print(l, y_hat)
             ^^^^^
  expected: a variable assigned earlier in this chapter
  hint: assign `y_hat` in this cell or an earlier one before using it
'''),
    ("schedule_in_train", MODEL + "train(net, data, loss=squared_loss, optimizer=SGD(lr=StepLR(0.1, step_size=2)))\n", '''\
ch.md:14:54: error: a learning-rate schedule is stepped by a hand-written loop's optimizer, not yet by `train`
    train(net, data, loss=squared_loss, optimizer=SGD(lr=StepLR(0.1, step_size=2)))
                                                         ^^^^^^
  expected: opt = SGD(net, lr=StepLR(...)) and `for X, y in data.train: ... opt.step(loss)`
  hint: write the training loop (docs/dsl.md, "Training loops"), or give `train` a constant `lr`
'''),
    ("bad_gamma", MODEL + "opt = SGD(net, lr=StepLR(0.1, step_size=2, gamma=1.5))\n", '''\
ch.md:14:50: error: `StepLR`'s `gamma` is 1.5, outside its range
    opt = SGD(net, lr=StepLR(0.1, step_size=2, gamma=1.5))
                                                     ^^^
  expected: a number in (0, 1]
  hint: the signature is StepLR(lr, step_size, gamma=0.1)
'''),
    ("milestones_out_of_order", MODEL + "opt = SGD(net, lr=MultiStepLR(0.1, milestones=[4, 2]))\n", '''\
ch.md:14:47: error: `MultiStepLR`'s milestones [4, 2] are not increasing
    opt = SGD(net, lr=MultiStepLR(0.1, milestones=[4, 2]))
                                                  ^^^^^^
  expected: ints >= 1, increasing
  hint: list the updates in order, each once
'''),
    ("milestone_not_an_int", MODEL + "opt = SGD(net, lr=MultiStepLR(0.1, milestones=[2.5]))\n", '''\
ch.md:14:48: error: a milestone is an update count, got a float
    opt = SGD(net, lr=MultiStepLR(0.1, milestones=[2.5]))
                                                   ^^^
  expected: an int
  hint: count updates (optimizer steps), e.g. `epochs * steps_per_epoch`; `int(...)` converts
'''),
    ("warmup_too_long", MODEL + "opt = SGD(net, lr=CosineLR(0.1, T_max=4, warmup=4))\n", '''\
ch.md:14:49: error: `CosineLR`'s warmup of 4 steps is not shorter than its T_max of 4
    opt = SGD(net, lr=CosineLR(0.1, T_max=4, warmup=4))
                                                    ^
  expected: warmup < T_max (4)
  hint: T_max counts the whole schedule, warm-up included
'''),
    ("bad_learning_rate", MODEL + "opt = SGD(net, lr=-0.1)\n", '''\
ch.md:14:19: error: `SGD`'s `lr` is -0.1, outside its range
    opt = SGD(net, lr=-0.1)
                      ^
  expected: a positive number
  hint: the signature is SGD(lr, momentum=0.0, weight_decay=0.0)
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bodies_that_cannot_be_differentiated_everywhere_are_compile_errors(src, expected):
    assert_error(src, expected)


def test_momentum_with_a_schedule_is_refused_where_the_velocity_holds_the_rate(tmp_path):
    """Keras and gluon keep SGD's velocity as -lr times PyTorch's buffer: with a changing rate their steps differ,
    so those two targets refuse the combination at check time; the others compile it."""
    from d2lc.build.compile import build
    from d2lc.emit.backend import get_backend, target_names
    src = tmp_path / "ch.md"
    src.write_text("# T\n\n```d2l\n" + _program("SGD(net, lr=StepLR(0.1, step_size=2), momentum=0.9)") + "```\n", encoding="utf-8")
    result = build([src], [get_backend(n) for n in target_names()], tmp_path / "out", jobs=1)
    errors = [d.render(src.read_text(encoding="utf-8").splitlines()) for ds in result.errors.values() for d in ds]
    assert len(errors) == 2, errors
    assert {"`tensorflow`", "`mxnet`"} == {t for e in errors for t in ("`tensorflow`", "`mxnet`") if f"target {t}" in e}
    assert all(e.startswith(f"{src}:18:7: error: `SGD` with a momentum and a learning-rate schedule") for e in errors), errors
