"""The device ops (docs/dsl.md, "Devices"): counting GPUs, naming the CPU or a GPU, the device a tensor lives on, and
copies between devices through which gradients flow. On this CPU-only machine every device is the CPU: each target
must count 0 GPUs, copy values unchanged, and differentiate through the copy. A planted copy that cuts the gradient
(`x.detach().to(device)` on PyTorch) is caught. Bad arguments get a located compile error."""
from __future__ import annotations

from d2lc.emit.backend import get_backend
from d2lc.emit.rules import Tmpl
from helpers import emit, run_on_every_target
from test_errors import assert_error

PROGRAM = """
print(num_gpus())
print(cpu(), try_gpu(), try_gpu(3), try_all_gpus())
X = arange(6.0).reshape(2, 3)
Y = to_device(X, try_gpu())
Z = to_device(Y * 2.0, cpu())
print(X.device)
print(float((Z - X).sum()))

def copied_square(x: f32[n]) -> f32[]:
    return (to_device(x, try_gpu()) ** 2).sum()

w = tensor([1.0, 2.0, 3.0])
g = grad(copied_square(w), w)
print(float(g[0]), float(g[1]), float(g[2]))
"""


def _last_lines(stdout: str, n: int) -> list[str]:
    return [ln.strip() for ln in stdout.strip().splitlines()][-n:]


def test_devices_agree_on_every_target(tmp_path):
    runs = run_on_every_target(PROGRAM, tmp_path)
    for target, run in runs.items():
        assert not run.error, f"{target}: {run.error}"
        lines = [ln.strip() for ln in run.stdout.strip().splitlines()]
        assert lines[0] == "0", f"{target} counts GPUs on a CPU-only machine: {lines[0]}"
        assert _last_lines(run.stdout, 2) == ["15.0", "2.0 4.0 6.0"], f"{target}: {run.stdout}"


def test_a_copy_that_cuts_the_gradient_is_caught(tmp_path, monkeypatch):
    torch = get_backend("pytorch")
    monkeypatch.setitem(torch.ops, "to_device", Tmpl("{x}.detach().to({device})"))  # the planted bug
    runs = run_on_every_target(PROGRAM, tmp_path)
    assert "pytorch" in runs
    assert runs["pytorch"].error or _last_lines(runs["pytorch"].stdout, 1) != ["2.0 4.0 6.0"]


def test_each_target_writes_its_own_idiom():
    code = {t: emit("X = ones((2, 3))\nY = to_device(X, cpu())\nprint(num_gpus(), Y.device)", t)
            for t in ("pytorch", "tensorflow", "jax", "mxnet")}
    assert "X.to(torch.device(\"cpu\"))" in code["pytorch"] and "torch.cuda.device_count()" in code["pytorch"]
    assert "with tf.device(device):" in code["tensorflow"] and 'to_device(X, "/CPU:0")' in code["tensorflow"]
    assert 'jax.device_put(X, jax.devices("cpu")[0])' in code["jax"] and "Y.device" in code["jax"]
    assert "X.as_in_context(mx.cpu())" in code["mxnet"] and "Y.ctx" in code["mxnet"]


def test_a_device_argument_must_be_a_device():
    assert_error('''\
X = ones((2, 3))
Y = to_device(X, 3)
''', '''\
ch.md:5:18: error: `to_device` needs a device, got an int
    Y = to_device(X, 3)
                     ^
  expected: cpu(), try_gpu() or X.device
  hint: name the device with cpu(), try_gpu(i) or another tensor's .device
''')


def test_device_is_an_attribute_of_tensors_only():
    assert_error('''\
d = cpu()
print(d.device)
''', '''\
ch.md:5:9: error: a device has no attribute `.device`
    print(d.device)
            ^^^^^^
  expected: a tensor
  hint: `.device` is for tensors; make one with `tensor(...)` first
''')


def test_device_is_read_outside_functions_only():
    assert_error('''\
def f(x: f32[n]) -> f32[n]:
    return to_device(x, x.device)
''', '''\
ch.md:5:27: error: `.device` is read at the top level of a chapter only
        return to_device(x, x.device)
                              ^^^^^^
  expected: X.device outside functions and models
  hint: JAX traces functions, and a traced value has no device; name the device with cpu() or try_gpu() inside
''')
