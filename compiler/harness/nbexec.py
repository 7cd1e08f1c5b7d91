"""Runs a generated notebook inside an equivalence worker and records what it computes.

Loaded into a worker as a module (stdlib + NumPy only: it runs under every environment's python).
`run_notebook(request)` executes the code cells one top-level statement at a time in one namespace
(stopping at the first failure, or with `keep_going` going on with the next cell)
and records (a) after each statement, the value of every requested name it binds and (b) every
value passed to `print`, with the cell and line of the `print` call. Tensors are converted to
NumPy with the target's own `to_numpy` expression; values that are not data (models, optimizers)
are recorded by type name only.

The reply is a tuple: a 0-d string array holding JSON (the records, each value a tagged tree
whose arrays are indices into the rest of the tuple), then the arrays.
"""
import ast
import contextlib
import io
import json
import linecache
import os
import sys
import time
import traceback

import numpy as np

MAX_ELEMENTS = 1 << 20  # larger arrays are recorded by dtype and shape only


def _bound_names(node):
    """Names a top-level statement binds (assignment targets, loop variables, element-write bases)."""
    out = []

    def target(t):
        if isinstance(t, ast.Name):
            out.append(t.id)
        elif isinstance(t, (ast.Tuple, ast.List)):
            for e in t.elts:
                target(e)
        elif isinstance(t, (ast.Subscript, ast.Attribute)):
            base = t
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                out.append(base.id)
        elif isinstance(t, ast.Starred):
            target(t.value)

    def visit(n):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return
        if isinstance(n, ast.Assign):
            for t in n.targets:
                target(t)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign)):
            target(n.target)
        elif isinstance(n, (ast.For, ast.AsyncFor)):
            target(n.target)
        elif isinstance(n, ast.withitem) and n.optional_vars is not None:
            target(n.optional_vars)
        elif isinstance(n, ast.NamedExpr):
            target(n.target)
        elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute):
            base = n.value.func.value  # X.append(v), X[...].assign(v), X.copy_(v)
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                out.append(base.id)
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return list(dict.fromkeys(out))  # a name bound twice inside one statement (a tape's block) is one value


class Recorder:
    def __init__(self, to_numpy):
        self.to_numpy = to_numpy
        self.arrays = []

    def value(self, v, depth=0):
        """A JSON-able tagged tree for v; arrays go to self.arrays."""
        if v is None:
            return {"none": True}
        if isinstance(v, bool):
            return {"bool": v}
        if isinstance(v, int):
            return {"int": v}
        if isinstance(v, float):
            return {"float": repr(float(v))}  # a NumPy float64 is a float, whose repr is np.float64(...)
        if isinstance(v, str):
            return {"str": v[:2000]}
        if isinstance(v, (np.ndarray, np.generic)):
            return self.array(np.asarray(v), "numpy")
        if isinstance(v, (tuple, list)) and depth < 4:
            if len(v) > 64:
                return {"opaque": "%s of %d" % (type(v).__name__, len(v))}
            return {"seq": [self.value(i, depth + 1) for i in v], "kind": type(v).__name__}
        as_list = getattr(v, "as_list", None)  # tf.TensorShape
        if callable(as_list) and not hasattr(v, "dtype"):
            try:
                return {"seq": [self.value(i) for i in as_list()], "kind": "tuple"}
            except Exception:
                pass
        if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, type):
            try:
                return self.array(np.asarray(self.to_numpy(v)), type(v).__name__)
            except Exception as exc:
                return {"opaque": type(v).__name__, "why": str(exc)[:200]}
        return {"opaque": type(v).__name__}

    def array(self, a, kind):
        if a.dtype.kind not in "biufc":
            return {"opaque": "array of %s" % a.dtype}
        if a.size > MAX_ELEMENTS:
            return {"big": True, "dtype": a.dtype.name, "shape": list(a.shape)}
        self.arrays.append(np.array(a, copy=True, order="C"))  # a copy: the tensor may be written later
        return {"array": len(self.arrays) - 1, "kind": kind}


def _one_line(exc):
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    tail = [ln for ln in lines if not ln.startswith(("File ", "[bt]", "Traceback", "Stack trace"))]
    text = (tail[-1] if tail else (lines[-1] if lines else ""))[:400]
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def run_notebook(request=None):
    """Run the cells of one notebook (JSON text; default: the module's REQUEST); returns (JSON records, *arrays)."""
    req = json.loads(str(request if request is not None else globals()["REQUEST"]))
    setup_ns = {"DEVICE": req.get("device", "cpu"), "__name__": "d2lc_nbexec_setup"}
    exec(compile(req.get("setup") or "", "<setup>", "exec"), setup_ns)
    to_numpy = eval(compile("lambda t: (%s)" % req["to_numpy"], "<to_numpy>", "eval"), setup_ns)
    rec = Recorder(to_numpy)
    files = {c["filename"]: i for i, c in enumerate(req["cells"])}
    events = []
    state = {"cell": None}

    def recording_print(*values, **kwargs):
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename not in files:
            frame = frame.f_back
        site = [files[frame.f_code.co_filename], frame.f_lineno] if frame is not None else None
        events.append({"kind": "print", "cell": state["cell"], "site": site,
                       "values": [rec.value(v) for v in values]})
        print(*values, **dict(kwargs, file=sys.stderr))

    os.environ.setdefault("MPLBACKEND", "Agg")
    ns = {"__name__": "__main__", "print": recording_print}
    old_cwd = os.getcwd()
    env = req.get("env", {})  # e.g. where the notebook's data hub finds its files
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    errors = []
    keep_going = bool(req.get("keep_going"))
    t0 = time.perf_counter()
    try:
        os.chdir(req["cwd"])
        for i, cell in enumerate(req["cells"]):
            state["cell"] = i
            wanted = set(cell.get("record", ()))
            tree = ast.parse(cell["source"], cell["filename"])
            linecache.cache[cell["filename"]] = (len(cell["source"]), None, cell["source"].splitlines(True), cell["filename"])
            for stmt in tree.body:
                try:
                    with contextlib.redirect_stdout(io.StringIO()):
                        exec(compile(ast.Module([stmt], []), cell["filename"], "exec"), ns)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    tb = traceback.extract_tb(exc.__traceback__)
                    line = next((f.lineno for f in reversed(tb) if f.filename == cell["filename"]), stmt.lineno)
                    errors.append({"cell": i, "line": line, "message": _one_line(exc),
                                   "traceback": traceback.format_exc()[-3000:]})
                    break
                for name in _bound_names(stmt):
                    if name in wanted and name in ns:
                        events.append({"kind": "bind", "cell": i, "line": stmt.lineno, "name": name,
                                       "value": rec.value(ns[name])})
            if errors and not keep_going:
                break
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            try:
                plt.close("all")
            except Exception:
                pass
    reply = {"events": events, "errors": errors, "seconds": time.perf_counter() - t0}
    return tuple([np.array(json.dumps(reply))] + rec.arrays)
