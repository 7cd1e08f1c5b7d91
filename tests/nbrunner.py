"""Runs notebook code in a long-lived process per environment, so frameworks are imported once.

The server side is a small script run with the environment's own python (no d2lc there): it reads
one JSON request per line ({"script": path, "cwd": dir}), runs the script in a fresh namespace, and
answers one JSON line. A crash or a hang restarts the process; that notebook is reported failed.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import time

SERVER = r'''
import json, os, sys, traceback, io, contextlib
for line in sys.stdin:
    req = json.loads(line)
    out = io.StringIO()
    try:
        os.chdir(req["cwd"])
        with contextlib.redirect_stdout(out):
            code = compile(open(req["script"]).read(), req["script"], "exec")
            exec(code, {"__name__": "__main__"})
        reply = {"ok": True}
    except BaseException:
        reply = {"ok": False, "error": traceback.format_exc()[-4000:]}
    try:
        import matplotlib.pyplot as plt
        plt.close("all")
    except Exception:
        pass
    reply["stdout"] = out.getvalue()[-2000:]
    sys.__stdout__.write(json.dumps(reply) + "\n")
    sys.__stdout__.flush()
'''


class NotebookRunner:
    def __init__(self, python: str, env: dict[str, str]):
        self.python, self.env = python, env
        self.proc: subprocess.Popen | None = None
        self.last_stdout = ""  # what the last script printed (its last 2000 characters)

    def _start(self) -> None:
        self.proc = subprocess.Popen([self.python, "-u", "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=self.env)

    def run(self, script: str, cwd: str, timeout: float = 600) -> tuple[bool, str]:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"script": script, "cwd": cwd}) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    self.close()
                    return False, "the runner process died (crash in native code?)"
                reply = json.loads(line)
                self.last_stdout = reply.get("stdout", "")
                return reply["ok"], reply.get("error", "")
            if time.monotonic() >= deadline:
                self.close()
                return False, f"timed out after {timeout} s"

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


_RUNNERS: dict[str, NotebookRunner] = {}  # by python|target


def runner_for(python: str, target: str = "") -> NotebookRunner:
    """The warm runner of `python`; one per `target` when given, so targets sharing an environment run in parallel."""
    key = f"{python}|{target}"
    if key not in _RUNNERS:
        # the tests run on synthetic stand-ins (build/sampledata.py), which the data hub would not verify
        env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "D2LBOOK_VERIFY": "0"}
        _RUNNERS[key] = NotebookRunner(python, env)
    return _RUNNERS[key]


def close_all() -> None:
    for r in _RUNNERS.values():
        r.close()
    _RUNNERS.clear()
