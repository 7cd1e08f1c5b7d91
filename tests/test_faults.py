"""Hostile file systems, interrupted runs and careless command lines: a clear error, nothing half-written.

Each test sets up one fault (a symbolic link, a read-only folder, a full disk, a leftover temp file,
a signal to `d2lc test` mid-call, a bad option) and checks the outcome the docs promise: exit 2 with
the path and the reason for file-system problems, the output folder byte-for-byte and mode-for-mode
as it was after any failed build, no worker process outliving the CLI.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from d2lc.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = """\
# Chapter {n}

Some prose.

```d2l
def scale_{n}(x: f32[n]) -> f32[n]:
    return x * {n}.0
```
"""


def run(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def tree(root: Path) -> dict[str, tuple]:
    """Everything under `root` without following links: files (bytes, mode), links (target), folders."""
    out: dict[str, tuple] = {}
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(here) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", p.stat().st_mode & 0o7777)
            else:
                out[rel] = ("file", p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """book/a.md, book/b.md, book/sub/c.md, book/sub/d.md compiled once into out/; cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    for rel, n in (("a.md", 1), ("b.md", 2), ("sub/c.md", 3), ("sub/d.md", 4)):
        path = tmp_path / "book" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(CHAPTER.format(n=n), encoding="utf-8")
    assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 0
    return tmp_path


def edit_every_chapter(root: Path) -> None:
    """Change every chapter, so that a rebuild rewrites every notebook."""
    for path in (root / "book").rglob("*.md"):
        path.write_text(path.read_text(encoding="utf-8").replace("Some prose.", "Other prose."), encoding="utf-8")


def refuse_writes_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `folder` read-only: chmod, and, since root ignores mode bits, os.open and os.mkdir refusing to
    create anything under it (what the kernel does for everyone else)."""
    folder.chmod(0o555)
    real_open, real_mkdir = os.open, os.mkdir

    def refuse(path) -> None:
        if Path(os.fsdecode(path)).absolute().is_relative_to(folder.absolute()):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def guarded_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT:
            refuse(path)
        return real_open(path, flags, mode, *args, **kwargs)

    def guarded_mkdir(path, mode=0o777, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


# ---- transactional output ---------------------------------------------------------------------------------
def test_an_output_subfolder_linked_out_of_the_tree_fails_before_anything_is_written(book: Path, capsys) -> None:
    outside = book / "outside"
    outside.mkdir()
    (book / "out" / "pytorch").rename(book / "old-pytorch")
    (book / "out" / "pytorch").symlink_to(outside)
    edit_every_chapter(book)
    before = tree(book / "out")
    assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 2
    err = capsys.readouterr().err
    assert "out/pytorch" in err and "symbolic link" in err and "internal error" not in err
    assert tree(book / "out") == before  # the jax notebooks were not rewritten either
    assert list(outside.iterdir()) == []


def test_a_read_only_subfolder_leaves_every_notebook_as_it_was(book: Path, capsys, monkeypatch) -> None:
    edit_every_chapter(book)
    before = tree(book / "out")
    sub = book / "out" / "pytorch" / "sub"
    mode = sub.stat().st_mode & 0o7777
    refuse_writes_in(sub, monkeypatch)
    try:
        assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 2
    finally:
        sub.chmod(mode)
    err = capsys.readouterr().err
    assert "out/pytorch/sub" in err and "Permission denied" in err and "nothing was written" in err
    assert tree(book / "out") == before


def test_a_full_disk_leaves_every_notebook_as_it_was(book: Path) -> None:
    """A real write failure: the build runs with a file-size limit (RLIMIT_FSIZE) that one notebook exceeds."""
    (book / "book" / "b.md").write_text(CHAPTER.format(n=2) + "\nA long paragraph. " * 8000, encoding="utf-8")
    assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 0
    edit_every_chapter(book)
    before = tree(book / "out")

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    proc = subprocess.run([sys.executable, "-m", "d2lc.cli.main", "compile", "--target=pytorch,jax", "book", "-o", "out"],
                          cwd=book, capture_output=True, text=True, preexec_fn=limit, timeout=300,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert proc.returncode == 2, proc.stderr
    assert "File too large" in proc.stderr and "b.ipynb" in proc.stderr and "internal error" not in proc.stderr
    assert tree(book / "out") == before


def test_a_failed_rename_puts_back_the_notebooks_already_renamed(book: Path, capsys, monkeypatch) -> None:
    """The last step can fail too (here the third rename): the two renamed before get their old bytes back."""
    edit_every_chapter(book)
    before = tree(book / "out")
    real_replace, calls = os.replace, []

    def flaky(src, dst, *args, **kwargs):
        if not Path(os.fsdecode(dst)).absolute().is_relative_to(book / "out"):  # e.g. the compile cache's own files
            return real_replace(src, dst, *args, **kwargs)
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fsdecode(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", flaky)
    assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 2
    assert "Input/output error" in capsys.readouterr().err and len(calls) == 3
    assert tree(book / "out") == before


def test_leftover_temp_files_are_removed_by_the_next_build(book: Path) -> None:
    stale = [book / "out" / "pytorch" / ".d2lc-k1ll3d.tmp", book / "out" / "jax" / "sub" / ".d2lc-0.tmp"]
    for p in stale:
        p.write_bytes(b"")  # what a SIGKILL between create and rename leaves
    stale.append(book / "out" / "jax" / f".d2lc-{_dead_pid()}-5eed.tmp")
    stale[-1].write_bytes(b"")
    kept = [book / "out" / "pytorch" / ".d2lc-notes.txt", book / "out" / "pytorch" / ".d2lc-1-busy.tmp"]
    for p in kept:  # not a temp file; one of a build still running (pid 1 always is)
        p.write_text("mine")
    assert run(["compile", "--target=pytorch,jax", "book", "-o", "out", "-q"]) == 0
    assert not any(p.exists() for p in stale)
    assert all(p.read_text() == "mine" for p in kept)


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_a_linked_output_folder_or_notebook_is_refused(book: Path, capsys) -> None:
    elsewhere = book / "elsewhere"
    elsewhere.mkdir()
    (book / "linked").symlink_to(elsewhere)
    assert run(["compile", "--target=pytorch", "book", "-o", "linked", "-q"]) == 2
    assert "linked" in capsys.readouterr().err and list(elsewhere.iterdir()) == []
    victim = book / "victim.txt"
    victim.write_text("keep me")
    notebook = book / "out" / "pytorch" / "a.ipynb"
    notebook.unlink()
    notebook.symlink_to(victim)
    edit_every_chapter(book)
    assert run(["compile", "--target=pytorch", "book", "-o", "out", "-q"]) == 2
    assert "a.ipynb" in capsys.readouterr().err and victim.read_text() == "keep me"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_notebooks_honour_the_umask(book: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        assert run(["compile", "--target=pytorch", "book", "-o", "fresh", "-q"]) == 0
    finally:
        os.umask(old)
    modes = {p.stat().st_mode & 0o777 for p in (book / "fresh").rglob("*.ipynb")}
    assert modes == {mode}


def test_a_rewritten_notebook_keeps_its_mode(book: Path) -> None:
    nb = book / "out" / "pytorch" / "a.ipynb"
    nb.chmod(0o640)
    edit_every_chapter(book)
    assert run(["compile", "--target=pytorch", "book", "-o", "out", "-q"]) == 0
    assert "Other prose." in nb.read_text() and nb.stat().st_mode & 0o777 == 0o640


def test_a_linked_chapter_folder_is_compiled_and_a_link_loop_ends(book: Path) -> None:
    real = book / "real"
    real.mkdir()
    (real / "e.md").write_text(CHAPTER.format(n=5), encoding="utf-8")
    (book / "book" / "linked").symlink_to(real)
    (book / "book" / "loop").symlink_to(book / "book")
    assert run(["compile", "--target=pytorch", "book", "-o", "out", "-q"]) == 0
    assert (book / "out" / "pytorch" / "linked" / "e.ipynb").is_file()


@pytest.mark.parametrize("kind", ["file", "read-only", "proc", "under-a-file"])
def test_an_unusable_output_folder_is_a_usage_error(book: Path, capsys, monkeypatch, kind: str) -> None:
    out = {"file": "afile", "read-only": "ro", "proc": "/proc", "under-a-file": "afile/out"}[kind]
    (book / "afile").write_text("x")
    if kind == "read-only":
        (book / "ro").mkdir()
        refuse_writes_in(book / "ro", monkeypatch)
    before = tree(book)
    try:
        code = run(["compile", "--target=pytorch", "book", "-o", out, "-q"])
    finally:
        if kind == "read-only":
            (book / "ro").chmod(0o755)
    err = capsys.readouterr().err
    assert code == 2, err
    assert out.split("/")[0] in err and "internal error" not in err and "Traceback" not in err
    assert any(reason in err for reason in ("not a folder", "Permission denied", "not writable", "virtual file system"))
    if kind != "read-only":
        assert tree(book) == before


# ---- command-line norms ----------------------------------------------------------------------------------------
def test_version(capsys) -> None:
    from importlib.metadata import version
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"d2lc {version('d2lc')}"


@pytest.mark.parametrize("command", ["compile", "test"])
def test_target_and_targets_are_one_option(command: str) -> None:
    parser = cli.make_parser()
    for spelling in ("--target", "--targets"):
        args = parser.parse_args([command, f"{spelling}=jax", "x.md"])
        assert args.target == "jax"


@pytest.mark.parametrize("spec", ["", " ", ",", "pytorch,,jax", "pytorhc"])
@pytest.mark.parametrize("command", ["compile", "test"])
def test_an_empty_or_unknown_target_selection_is_a_usage_error(book: Path, capsys, command: str, spec: str) -> None:
    assert run([command, f"--target={spec}", "book/a.md"]) == 2
    err = capsys.readouterr().err
    assert "target" in err and "internal error" not in err
    assert not (book / "generated").exists()


@pytest.mark.parametrize("command", ["compile", "check", "test"])
def test_a_file_that_is_not_markdown_is_a_usage_error(book: Path, capsys, command: str) -> None:
    (book / "notes.txt").write_text(CHAPTER.format(n=1), encoding="utf-8")
    assert run([command, "notes.txt"]) == 2
    assert "notes.txt: not a chapter" in capsys.readouterr().err
    assert not (book / "generated").exists()


def test_d2lc_test_without_the_test_extra_says_what_to_install(book: Path, capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # `import hypothesis` now fails as if not installed
    monkeypatch.delitem(sys.modules, "d2lc.harness.runner", raising=False)
    assert run(["test", "book/a.md", "--target=pytorch"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'd2lc[test]'" in err and "internal error" not in err


# ---- d2lc test: options ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["--timeout=0", "--timeout=-1", "--timeout=nan", "--timeout=inf", "--timeout=soon"])
def test_a_timeout_must_be_positive(book: Path, capsys, option: str) -> None:
    assert run(["test", "book/a.md", option]) == 2
    assert "--timeout" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--report", "--reports-dir"])
def test_report_folders_are_not_created_outside_the_working_folder(book: Path, capsys, option: str) -> None:
    missing = Path("/") / f"d2lc-nonexistent-{uuid.uuid4().hex}"
    assert run(["test", "book/a.md", "--target=pytorch", option, str(missing / "dir" / "x")]) == 2
    assert "exist" in capsys.readouterr().err
    assert not missing.exists()


def test_replay_of_a_missing_or_foreign_file_is_a_usage_error(book: Path, capsys) -> None:
    assert run(["test", "book/a.md", "--replay", "gone.npz", "--function", "scale_1"]) == 2
    assert "--replay: no such file: gone.npz" in capsys.readouterr().err
    (book / "junk.npz").write_bytes(b"not a zip file")
    assert run(["test", "book/a.md", "--replay", "junk.npz", "--function", "scale_1"]) == 2
    err = capsys.readouterr().err
    assert "not an input saved by d2lc test" in err and "internal error" not in err


def test_known_divergences_are_marked_and_do_not_count() -> None:
    from d2lc.harness.known import read_known
    from d2lc.harness.results import ERROR, FAIL, KNOWN, PASS, Cell, RowResult, RunResult

    class Row:
        def __init__(self, label):
            self.label = label

    def cell(kind):
        return {"fail": Cell(compared=1, failed=True), "error": Cell(errored=True), "pass": Cell(compared=3)}[kind]

    result = RunResult(0, 5, "cpu", "pytorch", ["pytorch", "jax"], {})
    result.rows = [RowResult("c.md", Row("f"), {"pytorch": cell("pass"), "jax": cell("fail")}),
                   RowResult("c.md", Row("f d/dx"), {"pytorch": cell("pass"), "jax": cell("error")}),
                   RowResult("c.md", Row("g"), {"pytorch": cell("pass"), "jax": cell("pass")})]
    assert not result.ok
    listed = read_known(ROOT / "tests" / "known_mismatches.txt")
    assert listed and all(reason for reason in listed.values())
    now_passing = result.mark_known({("f", "jax"): "a reason", ("f d/dx", "jax"): "another", ("g", "jax"): "fixed"})
    assert [r.cells["jax"].status for r in result.rows] == [KNOWN, KNOWN, PASS]
    assert result.ok and now_passing == [("g", "jax")]
    assert result.counts() == {PASS: 4, FAIL: 0, ERROR: 0, KNOWN: 2, "skip": 0}


# ---- d2lc test: whole runs (a worker each) --------------------------------------------------------------------------
HANG = """\
# Hang

```d2l
def spin(x: f32[n]) -> f32[n]:
    y = x
    for i in range(2000000000):
        y = y + 1.0
    return y
```
"""
FUNCTIONS = """\
# Functions

```d2l
def softmax(X: f32[n, k]) -> f32[n, k]:
    E = exp(X)
    return E / E.sum(axis=1, keepdims=True)
```
""" + HANG.split("\n", 2)[2]
def _d2lc(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    """`d2lc ARGS` as its own process, with a local module imported first (hypothesis caches the constants
    of modules under the working folder: the trigger for writing `.hypothesis/` there)."""
    code = "import sys, local_module; from d2lc.cli.main import main; sys.exit(main(sys.argv[1:]))"
    (cwd / "local_module.py").write_text("ANSWER = 42\n")
    env = dict(os.environ, PYTHONPATH=str(cwd), PYTHONDONTWRITEBYTECODE="1", **kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env, text=True, **kwargs)


def test_known_rows_are_reported_as_known_and_the_run_passes(tmp_path: Path) -> None:
    """`d2lc test` reads tests/known_mismatches.txt of the project itself; hypothesis writes under the cache folder.

    `spin` hangs, so its first call passes --timeout and errors at once (the cheapest real error)."""
    pytest.importorskip("torch")
    (tmp_path / "funcs.md").write_text(FUNCTIONS, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "known_mismatches.txt").write_text(
        "# row | target | reason\nspin | pytorch | loops for ever\nspin d/dx | pytorch | loops for ever\n")
    args = ["test", "funcs.md", "--target=pytorch", "--examples=2", "--seed=1", "--cache-dir=cache", "--no-models",
            "--no-goldens", "--timeout=3", "--report", "matrix"]
    proc = _d2lc(args, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    assert "on pytorch: loops for ever" in out and "1 known" in out
    data = json.loads((tmp_path / "matrix.json").read_text())
    statuses = {r["label"]: r["cells"]["pytorch"]["status"] for r in data["rows"]}
    assert statuses["softmax"] == "pass" and "known" in (statuses["spin"], statuses["spin d/dx"]), statuses
    assert not (tmp_path / ".hypothesis").exists()
    assert (tmp_path / "cache" / "hypothesis").is_dir()


def test_a_chapter_with_nothing_to_compare_exits_1(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    (tmp_path / "prose.md").write_text("# Prose only\n\n```d2l\nx = ones((2,))\nprint(x)\n```\n", encoding="utf-8")
    proc = _d2lc(["test", "prose.md", "--target=pytorch", "--cache-dir=none", "--no-goldens", "--no-models"], tmp_path,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "nothing was compared" in out, out


def _processes_with(marker: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "environ").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the workers through /proc")
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)])
def test_no_worker_outlives_a_signal_to_d2lc_test(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    """A signal while a call hangs: the CLI says "interrupted" (not for SIGKILL) and every worker is gone.

    About 10 s each (a worker imports PyTorch): the only way to see a real worker outlive a real CLI."""
    pytest.importorskip("torch")
    (tmp_path / "hang.md").write_text(HANG, encoding="utf-8")
    marker = f"D2LC_FAULT_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = _d2lc(["test", "hang.md", "--target=pytorch", "--examples=1", "--cache-dir=none", "--no-models",
                      "--no-goldens", "--timeout=600"], tmp_path, stdout=subprocess.DEVNULL, stderr=err,
                     env={name: value})
        try:
            deadline = time.monotonic() + 240
            while "hang.md:spin" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # the call is under way
            workers = [pid for pid in _processes_with(marker) if pid != proc.pid]
            assert proc.poll() is None and workers, log.read_text()
            proc.send_signal(sig)
            assert proc.wait(timeout=30) == code
            deadline = time.monotonic() + 5
            while _processes_with(marker) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _processes_with(marker) == []
        finally:
            for pid in _processes_with(marker):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
    if sig != signal.SIGKILL:
        tail = log.read_text().strip().splitlines()[-1]
        assert tail == "d2lc: interrupted", log.read_text()


def test_d2lc_build_into_an_unusable_output_folder_is_a_usage_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "book.toml").write_text('[book]\ntitle = "T"\nsources = "src"\noutput = "out"\n'
                                        '[targets]\norder = ["pytorch"]\n')
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text(CHAPTER.format(n=1), encoding="utf-8")
    (tmp_path / "out").write_text("a file where the notebooks go")
    assert run(["build", "--book", str(tmp_path), "--no-site", "-q"]) == 2
    err = capsys.readouterr().err
    assert "out" in err and "not a folder" in err and "internal error" not in err
