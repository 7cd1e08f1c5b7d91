"""Running a generated function through its framework's tracing compiler: `jax.jit` or `tf.function`.

Standalone like worker.py (stdlib + NumPy only, the framework is found in sys.modules): the worker
imports it from beside itself under environments without d2lc.

A function is traced once per input signature: tensor arguments are traced (by shape and dtype),
everything else is static (part of the signature), except that JAX also traces Python floats.
Tracing costs more than a few eager calls, so a signature is traced only when the request holds enough
calls of it for tracing to pay (Jitter.MIN_REPEATS, MIN_EAGER_S) or it was traced before. A function that cannot be traced, or
whose trace returns anything but the framework's tensors (a Python int, a NumPy array: tracing would
turn them into tensors, eager keeps them), runs eagerly from then on; so does every call whose
traced run raises (its eager run then decides the outcome).
"""
import os
import sys
import time


def tag_signature(tag, kind):
    """What a call's argument (as tagged on the wire) contributes to its trace signature; None when unknown."""
    if "array" in tag:
        return ("array", tag["dtype"], tuple(tag["shape"])) if "dtype" in tag else None
    if "seq" in tag:
        items = [tag_signature(t, kind) for t in tag["seq"]]
        return None if None in items else (tag.get("kind"), tuple(items))
    if "none" in tag:
        return ("none",)
    if tag.get("kind") == "float" and kind == "jax":
        return ("float",)
    return (tag.get("kind"), tag.get("scalar"))


def call_signature(function, arg_tags, kind):
    """The trace signature of one call, or None (an argument the signature cannot name: never traced)."""
    parts = [tag_signature(t, kind) for t in arg_tags]
    return None if None in parts else (function, tuple(parts))


class Jitter:
    """The traced functions of one worker, for one jit kind ("jax" or "tensorflow")."""

    # When tracing pays. JAX compiles every eager op per input shape anyway, so tracing the whole function pays
    # at once. A TF trace costs 10-50 ms of CPU for a small function and a traced call about 0.5 ms, while an
    # eager call costs 0.3 ms (a forward function) to 2-3 ms (a gradient): a TF signature is traced only when the
    # request holds at least 16 calls of it and its second (eager) call took at least 1.5 ms of CPU.
    MIN_REPEATS = {"jax": 1, "tensorflow": 16}
    MIN_EAGER_S = {"jax": 0.0, "tensorflow": 0.0015}

    def __init__(self, kind):
        self.kind = kind
        self.min_repeats = self.MIN_REPEATS[kind]
        # D2LC_TRACE_MIN_EAGER_S: another cut-off, for tests that must not depend on how fast this machine is
        self.min_eager_s = float(os.environ.get("D2LC_TRACE_MIN_EAGER_S", self.MIN_EAGER_S[kind]))
        self.signatures = set()  # (scope, signature) traced, or to be traced at their next call
        self.eager = set()  # (scope, signature) whose eager call was too quick for tracing to pay
        self.warm = set()  # (scope, signature) called once eagerly (not timed)
        self.entries = {}  # (module, function, static args) -> (traced function, {"ok": still traceable})

    def forget(self, scope):
        """Drop what was traced for a module (it is being loaded again, perhaps with other code)."""
        self.signatures = {s for s in self.signatures if s[0] != scope}
        self.eager = {s for s in self.eager if s[0] != scope}
        self.warm = {s for s in self.warm if s[0] != scope}
        self.entries = {k: v for k, v in self.entries.items() if k[0] != scope}

    def call(self, scope, fname, fn, args, signature, repeats):
        """(traced?, `fn(*args)`): through the framework's tracer where that pays and works, else eagerly.

        `signature`: the call's `call_signature`; `repeats`: how many calls of it the request holds."""
        sig = (scope, signature)
        if sig not in self.signatures:
            if signature is None or sig in self.eager or repeats < self.min_repeats:
                return False, fn(*args)
            if self.min_eager_s:  # the first two calls run eagerly, the second timed: tracing pays for slow ones only
                if sig not in self.warm:  # the first call of a signature makes its kernels
                    self.warm.add(sig)
                    return False, fn(*args)
                t0 = time.process_time()
                result = fn(*args)
                (self.signatures if time.process_time() - t0 >= self.min_eager_s else self.eager).add(sig)
                return False, result
            self.signatures.add(sig)
        tensor_type = self._tensor_type()
        traced = [i for i, a in enumerate(args) if isinstance(a, tensor_type) or (type(a) is float and self.kind == "jax")]
        static = tuple((i, a) for i, a in enumerate(args) if i not in traced)
        try:
            hash(static)
        except TypeError:  # a list or an array-like that is not a tensor: no tracing
            return False, fn(*args)
        key = (scope, fname, static)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = self._entry(fn, dict(static), len(args))
        compiled, state = entry
        if state["ok"]:
            try:
                result = compiled(*[args[i] for i in traced])
            except Exception:
                state["ok"] = False  # the eager run below decides (it raises too, or the function needs values)
            else:
                if state["ok"]:
                    return True, result
        return False, fn(*args)

    def _tensor_type(self):
        if self.kind == "jax":
            return sys.modules["jax"].Array
        return sys.modules["tensorflow"].Tensor

    def _entry(self, fn, static, nargs):
        """A traced `fn` taking only its traced arguments, and a flag that turns off when a trace returns a
        value that is not a tensor."""
        state = {"ok": True}
        if self.kind == "jax":
            jax = sys.modules["jax"]
            leaves, is_tensor, wrap = jax.tree_util.tree_leaves, (lambda v: isinstance(v, jax.Array)), jax.jit
        else:
            tf = sys.modules["tensorflow"]
            leaves, is_tensor = tf.nest.flatten, (lambda v: isinstance(v, tf.Tensor))
            # No autograph: Python control flow on a tensor must fail the trace (and run eagerly), not become tf.cond.
            wrap = lambda f: tf.function(f, autograph=False)  # noqa: E731

        def traced_fn(*dynamic):
            it = iter(dynamic)
            out = fn(*[static[i] if i in static else next(it) for i in range(nargs)])
            if not all(is_tensor(leaf) for leaf in leaves(out)):
                state["ok"] = False
            return out

        return wrap(traced_fn), state
