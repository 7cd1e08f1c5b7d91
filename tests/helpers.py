"""Small helpers shared by the tests."""
from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from d2lc.emit.backend import get_backend
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_cells

# The frameworks' compile caches of the test sessions (JAX's persistent compilation cache), kept between runs in
# the checkout like the CI suite's: a model JAX compiled in the last `make test` is not compiled again.
SHARED_CACHE = Path(__file__).resolve().parent.parent / ".d2lc-cache"


@contextmanager
def started_training_session(backends: list) -> Iterator[object]:
    """A started training-harness session (harness/sametrain.py) for `backends`; the test skips without PyTorch."""
    import pytest
    from d2lc.harness.sametrain import training_session
    with training_session(backends, cache_dir=SHARED_CACHE) as s:
        s.start()
        if "pytorch" not in s.available():
            pytest.skip("the reference pytorch is not available to the harness")
        yield s

TARGETS = ("pytorch", "tensorflow", "jax", "mxnet")


def chapter(dsl: str) -> str:
    return "# Test\n\n```d2l\n" + textwrap.dedent(dsl).strip("\n") + "\n```\n"


def emit(dsl: str, target: str) -> str:
    """The code a target emits for one DSL cell (without the import/setup cell)."""
    module = compile_chapter(chapter(dsl), "test.md", set(TARGETS))
    cells = [src for kind, src, seed in emit_cells(module, get_backend(target)) if kind == "code" and seed != "<setup>"]
    return "\n\n".join(cells)


def available_backends(names: list[str]) -> list:
    """The named backends whose environment and framework are installed here."""
    from d2lc.build.envs import installed_backends
    return installed_backends(names)


def notebook_code(text: str) -> str:
    """The code cells of a notebook (its JSON text), joined into one script."""
    import json
    cells = json.loads(text)["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


@dataclass
class TargetRun:
    """One target's run of a compiled chapter: its folder, what it printed, and its error (empty when it ran)."""
    work: Path
    stdout: str
    error: str


def run_on_every_target(dsl: str, tmp_path: Path, epilogue: str = "", cwd: Path | None = None,
                        timeout: float = 300) -> dict[str, TargetRun]:
    """Compile the DSL cell(s) `dsl` for every target whose framework is installed and run each notebook (plus
    `epilogue`) from tmp_path/TARGET/case.py, in that folder (or in `cwd`), every target at once in its own warm
    runner (tests/nbrunner.py; a module closes them with `close_all`). Skips the test when no framework is installed."""
    import pytest
    from concurrent.futures import ThreadPoolExecutor
    from d2lc.build.compile import build
    from d2lc.build.envs import framework_available, python_for
    from d2lc.emit.backend import target_names
    from nbrunner import runner_for

    tmp_path.mkdir(parents=True, exist_ok=True)
    src = tmp_path / "case.md"
    src.write_text(chapter(dsl), encoding="utf-8")
    result = build([src], [get_backend(n) for n in target_names()], tmp_path / "out", jobs=1)
    assert not result.errors, result.errors
    scripts = {}
    for path, text in sorted(result.outputs.items()):
        backend = get_backend(path.relative_to(tmp_path / "out").parts[0])
        python = python_for(backend)
        if python is None or not framework_available(str(python), backend.environment.packages):
            continue
        work = tmp_path / backend.name
        work.mkdir()
        script = work / "case.py"
        script.write_text(notebook_code(text) + ("\n" + epilogue if epilogue else ""), encoding="utf-8")
        scripts[backend.name] = (runner_for(str(python), backend.name), script)
    if not scripts:
        pytest.skip("no target's framework is installed")

    def run(target: str) -> TargetRun:
        runner, script = scripts[target]
        ok, error = runner.run(str(script), str(cwd or script.parent), timeout=timeout)
        return TargetRun(script.parent, runner.last_stdout, "" if ok else error or "failed")

    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        return dict(zip(scripts, pool.map(run, scripts)))
