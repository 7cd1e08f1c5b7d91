"""The `d2lc` command line, called in-process through `d2lc.cli.main`.

Exit codes: 0 success, 1 errors in the chapters, 2 usage errors. A failed compile writes nothing
(existing notebooks keep their bytes, no temp files are left behind), `check` never writes, and
errors are `file:line:col: error:` lines on stderr, never a Python traceback.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from d2lc.cli import main as cli

GOOD = """\
# A chapter

Some prose.

```d2l
X = ones((3, 4))
Y = X.sum(axis=0)
print(Y)
```
"""

# The same chapter with a shape error on line 7 (`X @ X` of two [3, 4] matrices).
BAD = GOOD.replace("Y = X.sum(axis=0)", "Y = X @ X")

BAD_MESSAGE = """\
chap.md:7:7: error: shape mismatch in matrix product: [3, 4] @ [3, 4]
    Y = X @ X
          ^
  expected: the last dimension of the left operand (4) to equal the second-to-last dimension of the right (3)
  hint: transpose one operand (`.T`) or check which axis holds the features
"""


def run(argv: list[str]) -> int:
    """`d2lc ARGV` in-process; returns the exit code, whether main returns it or argparse exits."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working folder holding chap.md (a good chapter); paths in messages are relative to it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chap.md").write_text(GOOD, encoding="utf-8")
    return tmp_path


# ---- help -------------------------------------------------------------------------------------------
def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: d2lc")
    for command in ("compile", "check", "targets"):
        assert command in out


def test_compile_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: d2lc compile")
    for option in ("--target", "-o", "--output", "PATH", "Writes nothing if any chapter has errors"):
        assert option in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    assert "usage: d2lc" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compil", "x.md"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'compil'" in err
    assert "Traceback" not in err


# ---- targets ------------------------------------------------------------------------------------------
def test_targets_lists_the_installed_backends(capsys: pytest.CaptureFixture[str]) -> None:
    from d2lc.emit.backend import target_names
    assert run(["targets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == target_names()
    pytorch = next(line for line in lines if line.startswith("pytorch "))
    assert "PyTorch" in pytorch and "env=" in pytorch and "ops " in pytorch


# ---- check ----------------------------------------------------------------------------------------------
def test_check_ok_writes_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = files_under(work)
    assert run(["check", "chap.md"]) == 0
    out, err = capsys.readouterr()
    assert out == "d2lc: ok\n"
    assert "error" not in err
    assert files_under(work) == before
    assert not (work / "generated").exists()


def test_check_errors(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "chap.md").write_text(BAD, encoding="utf-8")
    before = files_under(work)
    assert run(["check", "chap.md"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == BAD_MESSAGE + "\nd2lc: 1 error\n"
    assert files_under(work) == before


def test_check_reports_every_error_of_every_file(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = work / "book"
    book.mkdir()
    (book / "a.md").write_text("# A\n\n```d2l\nx = nope1\ny = nope2\n```\n", encoding="utf-8")
    (book / "b.md").write_text("# B\n\n```d2l\nreturn 1\n```\n", encoding="utf-8")
    (book / "c.md").write_text(GOOD, encoding="utf-8")
    assert run(["check", "book"]) == 1
    err = capsys.readouterr().err
    located = [line.split(": error: ")[0] for line in err.splitlines() if ": error: " in line]
    assert located == ["book/a.md:4:5", "book/a.md:5:5", "book/b.md:4:1"]
    assert err.endswith("d2lc: 3 errors\n")


def test_check_missing_file_is_a_usage_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["check", "nope.md"]) == 2
    assert "no such file or folder: nope.md" in capsys.readouterr().err


# ---- compile ---------------------------------------------------------------------------------------------
def test_compile_writes_one_notebook_per_target(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 0
    out, err = capsys.readouterr()
    assert out == "d2lc: 1 notebook up to date in out (1 rewritten)\n"
    assert "error" not in err
    assert sorted(files_under(work / "out")) == ["pytorch/chap.ipynb"]


def test_compile_quiet_prints_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch", "-q", "chap.md", "-o", "out"]) == 0
    assert capsys.readouterr().out == ""
    assert (work / "out" / "pytorch" / "chap.ipynb").is_file()


def test_recompiling_an_unchanged_chapter_rewrites_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 0
    nb = work / "out" / "pytorch" / "chap.ipynb"
    os.utime(nb, ns=(1_000_000_000, 1_000_000_000))
    capsys.readouterr()
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 0
    assert capsys.readouterr().out == "d2lc: 1 notebook up to date in out (0 rewritten; 1 unchanged, not compiled again (compile cache))\n"
    assert nb.stat().st_mtime_ns == 1_000_000_000


def test_failed_compile_leaves_existing_output_untouched(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 0
    nb = work / "out" / "pytorch" / "chap.ipynb"
    os.utime(nb, ns=(1_000_000_000, 1_000_000_000))
    before = files_under(work / "out")
    capsys.readouterr()

    (work / "chap.md").write_text(BAD, encoding="utf-8")
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == BAD_MESSAGE + "\nd2lc: 1 error in 1 file; nothing was written\n"
    # Same files, same bytes, same mtime; no temp files next to the notebook.
    assert files_under(work / "out") == before
    assert nb.stat().st_mtime_ns == 1_000_000_000
    assert [p.name for p in (work / "out" / "pytorch").iterdir()] == ["chap.ipynb"]


def test_failed_compile_writes_no_new_file_even_for_good_chapters(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = work / "book"
    book.mkdir()
    (book / "good.md").write_text(GOOD, encoding="utf-8")
    (book / "bad.md").write_text(BAD, encoding="utf-8")
    assert run(["compile", "--target=pytorch", "book", "-o", "out"]) == 1
    assert "book/bad.md:7:7: error: shape mismatch" in capsys.readouterr().err
    assert not (work / "out").exists() or files_under(work / "out") == {}


def test_compile_with_an_unsupported_op_is_an_error_not_a_crash(work: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from d2lc.emit import backend as backend_mod
    pytorch = backend_mod.get_backend("pytorch")
    toy = pytorch.derive(name="toy", ops={k: v for k, v in pytorch.ops.items() if k != "sum"})
    monkeypatch.setattr(backend_mod, "registry", lambda: {"pytorch": pytorch, "toy": toy})
    monkeypatch.setattr(cli, "registry", lambda: {"pytorch": pytorch, "toy": toy})
    assert run(["compile", "--target=toy", "chap.md", "-o", "out"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chap.md:7:7: error: op `sum` is not supported by target `toy`\n")
    assert "Traceback" not in err
    assert not (work / "out").exists()


# ---- usage errors -------------------------------------------------------------------------------------------
def test_unknown_target_is_a_usage_error_with_did_you_mean(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorh", "chap.md", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert "error: unknown target 'pytorh'" in err
    assert "did you mean `pytorch`?" in err
    assert "Traceback" not in err
    assert not (work / "out").exists()


def test_unknown_target_in_a_list(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch,jaxx", "chap.md", "-o", "out"]) == 2
    assert "unknown target 'jaxx'" in capsys.readouterr().err
    assert not (work / "out").exists()


def test_compile_missing_path_is_a_usage_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch", "missing.md", "-o", "out"]) == 2
    assert "no such file or folder: missing.md" in capsys.readouterr().err
    assert not (work / "out").exists()


def test_compile_without_paths_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["compile", "--target=pytorch"]) == 2
    assert "the following arguments are required: PATH" in capsys.readouterr().err


# ---- never a traceback -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "# T\n\n```d2l\nif True:\n        x = 1\n    y = 2\n```\n",  # inconsistent dedent
    '# T\n\n```d2l\ns = "\\N"\n```\n',  # invalid escape
    "# T\n\n```d2l\nx = (1 +\n",  # unterminated cell and bracket
    "```d2l\n\t\t)\x00\n```\n",  # control characters and a stray bracket
])
def test_bad_input_gives_located_errors_not_tracebacks(work: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    (work / "chap.md").write_text(text, encoding="utf-8")
    assert run(["compile", "--target=pytorch", "chap.md", "-o", "out"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("chap.md:")
    assert ": error: " in err.splitlines()[0]
    assert "Traceback" not in err
    assert not (work / "out").exists()


def test_unreadable_file_is_reported_as_an_error(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "chap.md").write_bytes(b"# T\n\xff\xfe not utf-8\n")
    assert run(["check", "chap.md"]) == 1
    err = capsys.readouterr().err
    # located at the first bad byte, with the line (bad bytes replaced), what was expected and a hint
    assert err.startswith("chap.md:2:1: error: this file is not valid UTF-8 (byte 0xff)\n")
    assert "expected: UTF-8 text" in err and "hint: " in err
    assert "Traceback" not in err


def test_an_internal_error_is_reported_without_a_traceback(work: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import d2lc.build.compile

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(d2lc.build.compile, "build", broken)
    code = run(["compile", "--target=pytorch", "chap.md", "-o", "out"])
    err = capsys.readouterr().err
    assert code not in (0, 1, 2)
    assert "d2lc: internal error: RuntimeError: boom" in err
    assert "Traceback" not in err


# ---- check = compile minus writing --------------------------------------------------------------------
TARGET_SPECIFIC = """\
# Rejected by one target each

```d2l
def noisy(X: f32[n]) -> f32[n]:
    return X + normal(X.shape)

model Padded():
    pool = MaxPool2d(3, stride=2, padding=1)
    def forward(X: f32[n, 1, 8, 8]):
        return pool(X)
```
"""


def test_check_is_target_aware(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "chap.md").write_text(TARGET_SPECIFIC, encoding="utf-8")
    assert run(["check", "chap.md"]) == 1
    err = capsys.readouterr().err
    assert "chap.md:8:12: error: MaxPool2d with padding" in err and "target `tensorflow`" in err
    assert "chap.md:5:16: error: `normal` inside a function needs an explicit PRNG key in JAX" in err
    assert run(["check", "--target=pytorch,mxnet", "chap.md"]) == 0
    assert run(["check", "--target=tensorflow", "chap.md"]) == 1
    assert "JAX" not in capsys.readouterr().err


def _diagnostics(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = run(argv)
    lines = capsys.readouterr().err.splitlines()
    return code, [line for line in lines if not line.startswith("d2lc: ")]  # drop the closing count


def test_check_reports_exactly_what_compile_reports(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Over the corpus and target-specific rejections (the book and docs/dsl.md's examples were compared once by
    hand: both are clean; test_book and test_docs compile them for every target)."""
    root = Path(__file__).resolve().parent.parent
    book = work / "book"
    (book / "corpus").mkdir(parents=True)
    for f in sorted((root / "tests" / "corpus").glob("*.md")):
        (book / "corpus" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (book / "target_specific.md").write_text(TARGET_SPECIFIC, encoding="utf-8")
    checked = _diagnostics(["check", "book"], capsys)
    compiled = _diagnostics(["compile", "book", "-o", "out"], capsys)
    assert checked[0] == compiled[0] == 1
    assert checked[1] == compiled[1]
    assert sum(": error: " in line for line in checked[1]) == 2
