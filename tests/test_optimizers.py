"""The optimizers the language offers (SGD with momentum, Adam, AdamW, RMSProp, Adagrad): arguments type-checked,
each target's spelling of PyTorch's formula, refusals where a framework cannot compute it, and ten harness steps
that agree on every target, while a planted formula bug in one target's optimizer rule FAILs its check."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import libcst as cst
import pytest

from d2lc.build.compile import build
from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session
from helpers import emit

TRAIN = """
model Net():
    net = Sequential(Linear(4), ReLU(), Linear(2))
    def forward(X: f32[b, 3]):
        return net(X)

X = normal((16, 3), 0.0, 1.0)
data = load_array(X, X[:, :2], 8)
net = Net()
train(net, data, loss=squared_loss, optimizer=OPT, epochs=1)
"""


def _errors(tmp_path: Path, optimizer: str, targets=None) -> list[str]:
    src = tmp_path / "ch.md"
    src.write_text("# T\n\n```d2l\n" + TRAIN.strip("\n").replace("OPT", optimizer) + "\n```\n", encoding="utf-8")
    result = build([src], [get_backend(n) for n in (targets or target_names())], tmp_path / "out", jobs=1)
    lines = src.read_text(encoding="utf-8").splitlines()
    return [d.render(lines) for ds in result.errors.values() for d in ds]


@pytest.mark.parametrize("optimizer, message", [
    ("SGD(lr=0.1, momentum=1.5)", "12:68: error: `SGD`'s `momentum` is 1.5, outside its range"),
    ("RMSProp(lr=0.01, rho=0.9)", "`RMSProp` has no parameter `rho`"),
    ("Adagrad(lr=X)", "`Adagrad`'s `lr` must be a number, got a"),
    ("AdamW(lr=0.01, weight_decay=-1.0)", "`AdamW`'s `weight_decay` is -1.0, outside its range"),
    ("RMSProp(0.01, 0.99, 0.0)", "`RMSProp`'s `eps` is 0.0, outside its range"),
    ("SGD(momentum=0.9)", "`SGD` is missing its argument `lr`"),
])
def test_optimizer_arguments_are_checked(tmp_path, optimizer, message):
    errors = _errors(tmp_path, optimizer, ["pytorch"])
    assert len(errors) == 1 and message in errors[0], errors
    assert errors[0].startswith(str(tmp_path / "ch.md") + ":12:") and "\n  expected: " in errors[0]
    if "outside its range" in message:
        assert "hint: the signature is " in errors[0]


def test_a_target_that_cannot_compute_the_formula_refuses_it_at_check_time(tmp_path):
    """Keras decays weights apart from the momentum; MXNet 1.9's gluon has no AdamW: compile errors that name the
    optimizer, the target and the location, while every other target compiles them."""
    both = _errors(tmp_path, "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)")
    assert len(both) == 1 and "`SGD` with both `momentum` and `weight_decay`" in both[0] and "target `tensorflow`" in both[0]
    assert both[0].startswith(str(tmp_path / "ch.md") + ":12:47: error")
    adamw = _errors(tmp_path, "AdamW(lr=0.01)")
    assert len(adamw) == 1 and "`AdamW`" in adamw[0] and "target `mxnet`" in adamw[0]
    assert not _errors(tmp_path, "SGD(lr=0.1, momentum=0.9)") and not _errors(tmp_path, "RMSProp()")


CELL = TRAIN


@pytest.mark.parametrize("target, optimizer, spelled", [
    ("pytorch", "SGD(lr=0.1, momentum=0.9)", "torch.optim.SGD(params, lr=0.1, momentum=0.9)"),
    ("pytorch", "RMSProp(lr=0.01, alpha=0.9)", "torch.optim.RMSprop(params, lr=0.01, alpha=0.9)"),
    ("tensorflow", "SGD(lr=0.1, momentum=0.9)", "tf.keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)"),
    ("tensorflow", "Adagrad()", "AdagradEpsAfterSqrt(learning_rate=0.01, initial_accumulator_value=0.0, epsilon=1e-10)"),
    ("tensorflow", "RMSProp()", "RMSpropEpsAfterSqrt(learning_rate=0.01, rho=0.99, epsilon=1e-08)"),
    ("tensorflow", "AdamW(lr=0.01)", "BiasCorrectedAdamW(learning_rate=0.01, weight_decay=0.01, epsilon=1e-8)"),
    ("tensorflow", "Adam()", "BiasCorrectedAdam(epsilon=1e-8)"),
    ("jax", "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)", "optax.chain(optax.add_decayed_weights(0.01), optax.sgd(0.1, momentum=0.9))"),
    ("jax", "RMSProp()", "optax.rmsprop(0.01, decay=0.99, eps_in_sqrt=False)"),
    ("jax", "Adagrad(lr=0.1)", "adagrad_eps_after_sqrt(0.1)"),
    ("jax", "Adam()", "optax.adam(0.001)"),
    ("jax", "AdamW()", "optax.adamw(0.001, weight_decay=0.01)"),
    ("mxnet", "SGD(lr=0.1, momentum=0.9, weight_decay=0.01)", '"sgd",\n    {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}'),
    ("mxnet", "RMSProp()", '"RMSPropEpsAfterSqrt",\n    {"learning_rate": 0.01, "gamma1": 0.99, "epsilon": 1e-08}'),
    ("mxnet", "Adam(lr=0.01)", '"BiasCorrectedAdam",\n    {"learning_rate": 0.01}'),
    ("mxnet", "Adagrad()", '"AdaGradEpsAfterSqrt",\n    {"learning_rate": 0.01, "eps": 1e-10}'),
    ("paddle", "RMSProp()", "RMSPropEpsAfterSqrt(learning_rate=0.01, parameters=params, rho=0.99, epsilon=1e-08)"),
    ("paddle", "SGD(lr=0.1, momentum=0.9)", "paddle.optimizer.Momentum(learning_rate=0.1, parameters=params, momentum=0.9)"),
    ("paddle", "Adagrad()", "paddle.optimizer.Adagrad(learning_rate=0.01, parameters=params, epsilon=1e-10)"),
])
def test_each_target_spells_the_formula_with_its_own_optimizer(target, optimizer, spelled):
    code = emit(CELL.replace("OPT", optimizer), target)

    def squeeze(text: str) -> str:  # black's line breaks aside
        return "".join(text.split()).replace(",)", ")").replace(",}", "}")
    assert squeeze(spelled) in squeeze(code), code
    # where the framework's own optimizer places epsilon elsewhere, the notebook defines a subclass once, above the
    # call, that computes the language's formula, with the language's epsilon
    name = squeeze(spelled).split("(")[0].strip('"')
    defined = [line for line in code.splitlines() if line.startswith((f"class {name}(", f"def {name}("))]
    assert len(defined) == (0 if "." in name else 1), (name, defined)
    assert "# epsilon" not in code and "**2" not in squeeze(code) and "0.999" not in code, code


# ---- ten steps of every optimizer, every target -------------------------------------------------------------
MODELS = """
# Optimizer steps

```d2l
model OptMLP():
    net = Sequential(Linear(6), Tanh(), Linear(3))
    def forward(X: f32[b, 4]):
        return net(X)

model OptConv():
    net = Sequential(Conv2d(3, kernel=3, padding=1), ReLU(), Flatten(), Linear(4))
    def forward(X: f32[b, 2, 5, 5]):
        return net(X)
```
"""
OPTIMIZER_CHECKS = ("sgd", "adam", "momentum", "rmsprop", "adagrad", "adamw")
HARNESS_TARGETS = [n for n in ("pytorch", "tensorflow", "jax", "mxnet", "paddle") if n in target_names()]


@pytest.fixture(scope="module")
def session():
    with Session([get_backend(n) for n in HARNESS_TARGETS], call_timeout=300) as s:
        s.start()
        yield s


def _run(session, tmp_path, names, only: str | None = None, models: str = MODELS):
    """Every check of the chapter's models (or of the model `only`, without the training run) on `names`."""
    chapter = tmp_path / "opt.md"
    chapter.write_text(models, encoding="utf-8")
    cases, _ = model_cases([chapter], all_optimizers=True)
    if only is not None:
        cases = [dataclasses.replace(c, checks=tuple(k for k in c.checks if k != "train")) for c in cases if c.name == only]
    return {(r.case, r.check, r.target): r for r in run_model_cases(session, cases, {n: get_backend(n) for n in names})}


def test_every_optimizer_agrees_on_every_target_over_ten_steps(session, tmp_path):
    compared = [n for n in HARNESS_TARGETS if n != "pytorch" and n in session.available()]
    if not compared:
        pytest.skip("no target besides PyTorch is installed")
    by = _run(session, tmp_path, ["pytorch", *compared])
    for (case, check, target), r in by.items():
        if check not in OPTIMIZER_CHECKS or target == "pytorch":
            continue
        if (check, target) == ("adamw", "mxnet"):
            assert r.status == "skip" and "AdamW" in r.detail, r
            continue
        assert r.status == "pass", (case, check, target, r.max_abs, r.detail)


def _planted(monkeypatch, module: str, wrong):
    """Replace `optimizer` in targets/<fw>/optimizers.py by `wrong(em, c, honest)`; the models import it by name."""
    import importlib
    opts = importlib.import_module(f"d2lc_targets.{module}.optimizers")
    models = importlib.import_module(f"d2lc_targets.{module}.models")
    honest = opts.optimizer
    monkeypatch.setattr(models, "optimizer", lambda em, c: wrong(em, c, honest))


def _drop_arg(code: cst.BaseExpression, name: str) -> cst.BaseExpression:
    """A Call (or a lambda around one) without its keyword `name`."""
    class Drop(cst.CSTTransformer):
        def leave_Call(self, node, updated):
            return updated.with_changes(args=[a for a in updated.args if not (a.keyword and a.keyword.value == name)])
    return code.visit(Drop())


@pytest.mark.parametrize("target, kind, dropped, check", [
    ("jax", "RMSProp", "eps_in_sqrt", "rmsprop"),  # optax' default: epsilon under the root
    ("tensorflow", "Adagrad", "initial_accumulator_value", "adagrad"),  # Keras' default accumulator 0.1
    ("paddle", "RMSProp", "rho", "rmsprop"),  # Paddle's default decay 0.95
    ("tensorflow", "AdamW", "weight_decay", "adamw"),  # Keras' default decay 0.004
])
def test_a_planted_formula_bug_fails_only_its_check(session, tmp_path, monkeypatch, target, kind, dropped, check):
    if target not in session.available():
        pytest.skip(f"{target} is not installed")
    _planted(monkeypatch, target, lambda em, c, honest: _drop_arg(honest(em, c), dropped) if c.kind == kind else honest(em, c))
    by = _run(session, tmp_path, ["pytorch", target], only="OptMLP")
    assert by[("OptMLP", check, target)].status == "FAIL", by[("OptMLP", check, target)]
    others = [c for c in OPTIMIZER_CHECKS if c != check]
    assert all(by[("OptMLP", c, target)].status == "pass" for c in others), [(c, by[("OptMLP", c, target)]) for c in others]


def test_momentum_with_weight_decay_agrees_where_it_compiles(session, tmp_path, monkeypatch):
    """PyTorch adds weight_decay * w to the gradient the momentum accumulates: optax' chain, gluon's `wd` and Paddle's
    L2 decay agree over ten steps (Keras refuses it: skipped with the compile error); a planted decoupled decay
    (optax.adamw-style, applied after the momentum) on JAX FAILs."""
    from d2lc.build import modgen
    rows = tuple((c, n, k, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.05} if c == "momentum" else a)
                 for c, n, k, a in modgen.HARNESS_OPTIMIZERS)
    monkeypatch.setattr(modgen, "HARNESS_OPTIMIZERS", rows)
    compared = [n for n in HARNESS_TARGETS if n != "pytorch" and n in session.available()]
    by = _run(session, tmp_path, ["pytorch", *compared], only="OptMLP")
    for target in compared:
        r = by[("OptMLP", "momentum", target)]
        assert r.status == ("skip" if target == "tensorflow" else "pass"), (target, r)
    if "jax" not in compared:
        return

    def decoupled(em, c, honest):
        if c.kind == "SGD" and c.args.get("weight_decay") is not None:
            return cst.parse_expression("optax.chain(optax.sgd(0.05, momentum=0.9), optax.add_decayed_weights(-0.05 * 0.05))")
        return honest(em, c)

    _planted(monkeypatch, "jax", decoupled)
    assert _run(session, tmp_path, ["pytorch", "jax"], only="OptMLP")[("OptMLP", "momentum", "jax")].status == "FAIL"


# ---- tiny gradients: where epsilon's place in the formula matters ----------------------------------------------
# Outputs scaled by 1e-8 give gradients about 1e-8, Adam's and RMSProp's epsilon; by 1e-10, Adagrad's. Keras' and
# gluon's Adam add epsilon before the bias correction, Keras', gluon's, optax' and Paddle's RMSProp or Adagrad add it
# under the square root: with these gradients their own optimizers take other steps than PyTorch's.
TINY = """
# Tiny gradients

```d2l
model TinyGrads8():
    net = Sequential(Linear(6), Tanh(), Linear(3))
    def forward(X: f32[b, 4]):
        return net(X) * 1e-8

model TinyGrads10():
    net = Sequential(Linear(6), Tanh(), Linear(3))
    def forward(X: f32[b, 4]):
        return net(X) * 1e-10
```
"""


def test_every_optimizer_agrees_on_every_target_with_gradients_the_size_of_epsilon(session, tmp_path):
    compared = [n for n in HARNESS_TARGETS if n != "pytorch" and n in session.available()]
    if not compared:
        pytest.skip("no target besides PyTorch is installed")
    by = _run(session, tmp_path, ["pytorch", *compared], models=TINY)
    checked = 0
    for (case, check, target), r in by.items():
        if check not in OPTIMIZER_CHECKS or target == "pytorch" or (check, target) == ("adamw", "mxnet"):
            continue
        assert r.status == "pass", (case, check, target, r.max_abs, r.detail)
        checked += 1
    assert checked == 2 * len(compared) * len(OPTIMIZER_CHECKS) - 2 * ("mxnet" in compared), sorted(by)


@pytest.mark.parametrize("target, kind, check, before", [
    # the emissions before the subclasses: epsilon scaled to Adam's first step, squared under the root
    ("tensorflow", "Adam", "adam", "tf.keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-8 * (1 - 0.999) ** 0.5)"),
    ("mxnet", "Adam", "adam", "'adam'"),
    ("jax", "Adagrad", "adagrad", "optax.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-10 ** 2)"),
    ("paddle", "RMSProp", "rmsprop", "lambda params: paddle.optimizer.RMSProp(learning_rate=0.01, parameters=params, "
                                     "rho=0.99, epsilon=1e-8 ** 2)"),
])
def test_the_framework_s_own_epsilon_fails_with_tiny_gradients(session, tmp_path, monkeypatch, target, kind, check, before):
    """The framework's own optimizer, given the best single epsilon, is not PyTorch's: its check FAILs."""
    if target not in session.available():
        pytest.skip(f"{target} is not installed")
    _planted(monkeypatch, target, lambda em, c, honest: cst.parse_expression(before) if c.kind == kind else honest(em, c))
    if target == "mxnet":  # gluon's Adam, its epsilon scaled to the first step (the hyperparameters apart)
        import importlib
        models = importlib.import_module("d2lc_targets.mxnet.models")
        honest = models.hyperparams

        def scaled(em, c):
            code = honest(em, c)
            if c.kind != kind:
                return code
            return code.with_changes(elements=[*code.elements, cst.DictElement(cst.SimpleString("'epsilon'"),
                                                                               cst.parse_expression("1e-8 * (1 - 0.999) ** 0.5"))])
        monkeypatch.setattr(models, "hyperparams", scaled)
    case = "TinyGrads10" if kind == "Adagrad" else "TinyGrads8"
    by = _run(session, tmp_path, ["pytorch", target], only=case, models=TINY)
    assert by[(case, check, target)].status == "FAIL", by[(case, check, target)]
