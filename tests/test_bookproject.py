"""The book project: outputs placed and named by the path relative to the book root (never the cwd),
`d2lc build --keep-going`, the site's markup checks, and execution (parameters, cache key, failures)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

from d2lc.cli.main import main
from d2lc.build.site.markup import Labels, check_references, collect_labels, to_myst

GOOD = "# Good\n\nSome prose.\n\n```d2l\nx = arange(4.0)\nprint(x * 2)\n```\n"
BROKEN = "# Broken\n\n```d2l\nx = arange(4.0)\ny = x @ undefined_name\n```\n"


def _book(root: Path, chapters: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "book.toml").write_text('[book]\ntitle = "T"\nsources = "src"\noutput = "out"\n[targets]\norder = ["pytorch"]\n')
    for rel, text in chapters.items():
        (root / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "src" / rel).write_text(text)
    return root


def _notebooks(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.ipynb"))}


def test_outputs_depend_only_on_the_path_within_the_book(tmp_path, monkeypatch, capsys):
    book = _book(tmp_path / "book", {"ch/a.md": GOOD, "ch/b.md": GOOD.replace("Good", "Other")})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    runs = [(book, ["src"]), (book / "src", ["ch"]), (elsewhere, [str(book / "src" / "ch") + "/"]),
            (elsewhere, ["../book/./src/ch/a.md", "../book/src/ch/b.md"])]
    results = []
    for i, (cwd, paths) in enumerate(runs):
        monkeypatch.chdir(cwd)
        out = tmp_path / f"out{i}"
        assert main(["compile", "--target=pytorch", "-q", *paths, "-o", str(out)]) == 0
        results.append(_notebooks(out))
    assert list(results[0]) == ["pytorch/ch/a.ipynb", "pytorch/ch/b.ipynb"]  # the chapter folder is kept
    assert all(r == results[0] for r in results)
    meta = json.loads(results[0]["pytorch/ch/a.ipynb"])["metadata"]["d2lc"]
    assert meta["source"] == "src/ch/a.md"


def test_keep_going_builds_the_good_chapters_and_names_the_broken(tmp_path, capsys):
    book = _book(tmp_path, {"ch/good.md": GOOD, "ch/broken.md": BROKEN})
    assert main(["build", "--book", str(book), "--no-site", "-q"]) == 1
    assert not (book / "out").exists()  # without --keep-going nothing is written
    err = capsys.readouterr().err
    assert "broken.md:5:9: error" in err and "--keep-going" in err
    assert main(["build", "--book", str(book), "--no-site", "--keep-going", "-q"]) == 1
    assert _notebooks(book / "out").keys() == {"pytorch/ch/good.ipynb"}
    assert "broken.md" in capsys.readouterr().err


def test_unresolved_references_citations_and_images_are_errors_at_their_place(tmp_path):
    text = ("# Intro\n:label:`sec_intro`\n\nSee :numref:`sec_intro` and :ref:`sec_intr`.\n\n"
            "![A plot](img/missing.png)\n:label:`fig_plot`\n\nAs :cite:`Known2020,Unknown1999` show.\n")
    src = tmp_path / "intro.md"
    src.write_text(text)
    labels = Labels()
    assert collect_labels(text, "intro.md", "ch/intro", labels) == []
    diags = check_references(text, "intro.md", src, labels, {"Known2020"})
    got = sorted((d.loc.line, d.loc.col, d.message) for d in diags)
    assert got == [(4, 35, "unresolved reference `sec_intr`"), (6, 11, "missing image `img/missing.png`"),
                   (9, 21, "unknown citation key `Unknown1999`")]
    assert "did you mean `sec_intro`?" in [d.hint for d in diags if "sec_intr" in d.message][0]
    myst = to_myst(text, labels)
    assert "(sec_intro)=\n# Intro" in myst and "{ref}`sec_intro`" in myst
    assert ":::{figure} img/missing.png\n:name: fig_plot" in myst and ":label:" not in myst


def test_a_label_defined_twice_is_an_error(tmp_path):
    labels = Labels()
    collect_labels("# A\n:label:`x`\n", "a.md", "a", labels)
    (d,) = collect_labels("# B\n\n## C\n:label:`x`\n", "b.md", "b", labels)
    assert (d.loc.file, d.loc.line, d.loc.col) == ("b.md", 4, 9) and "a.md:2:9" in d.hint


def test_parameters_are_injected_after_the_parameters_cell_only_for_its_names():
    from d2lc.build.execute import inject_parameters
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import x"), nbformat.v4.new_code_cell("num_epochs = 10\nlr = 0.1"),
                nbformat.v4.new_code_cell("train(num_epochs)")]
    nb.cells[1].metadata["tags"] = ["parameters"]
    out = inject_parameters(nb, {"num_epochs": 2, "batch_size": 8})
    assert [c.source for c in out.cells][2] == "# Parameters\nnum_epochs = 2"
    assert out.cells[2].metadata["tags"] == ["injected-parameters"] and len(nb.cells) == 3  # input untouched


def test_the_cache_key_covers_the_notebook_the_environment_lock_and_the_data(tmp_path):
    from d2lc.build.execute import cache_key
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    lock = tmp_path / "env.lock"
    lock.write_text("torch==1\n")
    key = cache_key(nb, lock, "data1")
    assert cache_key(nb, lock, "data1") == key
    assert cache_key(nb, lock, "data2") != key
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(2)")])
    assert cache_key(other, lock, "data1") != key
    lock.write_text("torch==2\n")
    assert cache_key(nb, lock, "data1") != key


def test_an_execution_failure_names_the_notebook_the_cell_and_the_error(tmp_path):
    pytest.importorskip("ipykernel")
    from d2lc.build.execute import Job, execute_all
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("text"),
                                         nbformat.v4.new_code_cell("print(x)"), nbformat.v4.new_code_cell("1 / 0"),
                                         nbformat.v4.new_code_cell("print('never')")])
    nb.cells[3].id = "the-bad-cell"
    path = tmp_path / "ch" / "n.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    job = Job(path, "gen/ch/n.ipynb", tmp_path / "exec" / "n.ipynb", Path(sys.executable), "main", None)
    ran, cached, failures = execute_all([job], {}, tmp_path / "cache", tmp_path / "kernels", tmp_path / "data", 120)
    assert ran == 0 and cached == 0
    assert [f.render() for f in failures] == ["gen/ch/n.ipynb: cell 3 (the-bad-cell): ZeroDivisionError: division by zero"]
    assert not (tmp_path / "exec" / "n.ipynb").exists() and not list((tmp_path / "cache").iterdir())
    nb.cells[3].source = "print(x + 1)"
    nbformat.write(nb, path)
    assert execute_all([job], {}, tmp_path / "cache", tmp_path / "kernels", tmp_path / "data", 120)[:2] == (1, 0)
    outputs = [c.get("outputs") for c in nbformat.read(job.target_out, as_version=4).cells if c.cell_type == "code"]
    assert outputs[1][0]["text"] == "1\n" and outputs[2][0]["text"] == "2\n"
    assert execute_all([job], {}, tmp_path / "cache", tmp_path / "kernels", tmp_path / "data", 120)[:2] == (0, 1)


PROSE = "# Prose\n\nJust words.\n"
HEAVY = ("d2lc_targets", "d2lc.emit.base", "d2lc.passes.pipeline", "libcst", "lark", "nbformat", "sphinx", "myst_parser")


def test_a_build_with_nothing_changed_loads_no_backend_runs_no_sphinx_and_sees_every_change(tmp_path, monkeypatch):
    import os
    import subprocess
    monkeypatch.delenv("D2LC_CACHE_DIR", raising=False)
    book = _book(tmp_path / "book", {"ch/index.md": GOOD})
    assert main(["build", "--book", str(book), "-q"]) == 0
    assert (book / "build" / "site" / "index.html").is_file()
    probe = ("import subprocess, sys; calls = []; real = subprocess.Popen.__init__\n"
             "def spy(self, *a, **k): calls.append(a[0] if a else k.get('args')); real(self, *a, **k)\n"
             "subprocess.Popen.__init__ = spy\n"
             "from d2lc.cli.main import main\n"
             f"rc = main(['build', '--book', {str(book)!r}])\n"
             f"print(rc, calls, sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    env = {k: v for k, v in os.environ.items() if k != "D2LC_CACHE_DIR"}
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 [] []"  # no Sphinx process, no backend or notebook library
    assert "nothing changed since the last build" in proc.stderr
    notebook = book / "out" / "pytorch" / "ch" / "index.ipynb"
    page = (book / "build" / "site" / "ch" / "index.html").read_bytes()
    (book / "src" / "ch" / "index.md").write_text(GOOD.replace("x * 2", "x * 3"))  # an edited source is rebuilt
    assert main(["build", "--book", str(book), "-q"]) == 0
    assert "x * 3" in notebook.read_text() and "x * 3" in (book / "build" / ".site-src" / "ch" / "index.md").read_text()
    assert (book / "build" / "site" / "ch" / "index.html").read_bytes() != page  # and Sphinx ran again
    before = notebook.read_bytes()
    notebook.write_text("{}")  # an output changed by hand is rebuilt too
    assert main(["build", "--book", str(book), "-q"]) == 0
    assert notebook.read_bytes() == before


def test_editing_one_chapter_executes_only_that_chapters_notebooks_again(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ipykernel")
    monkeypatch.delenv("D2LC_CACHE_DIR", raising=False)
    book = _book(tmp_path / "book", {"ch/a.md": GOOD, "ch/b.md": PROSE})
    build = ["build", "--book", str(book), "--execute", "--no-site"]
    executed = book / "build" / "executed" / "pytorch" / "ch"
    assert main(build) == 0, capsys.readouterr().err
    assert "executed 2 notebooks, 0 unchanged" in capsys.readouterr().err
    assert main(build) == 0  # the first build wrote the sample data before its stamp digested the data folder
    again = capsys.readouterr()
    assert "nothing changed since the last build" in again.out + again.err
    kept = (executed / "b.ipynb").stat().st_mtime_ns
    (book / "src" / "ch" / "a.md").write_text(GOOD.replace("x * 2", "x * 3"))
    assert main(build) == 0
    err = capsys.readouterr().err
    assert "1 notebooks unchanged, from the compile cache; 1 rewritten" in err  # only a.md compiled again
    assert "executed 1 notebooks, 1 unchanged" in err  # and executed again
    outputs = [o for c in nbformat.read(executed / "a.ipynb", as_version=4).cells for o in c.get("outputs", [])]
    assert "tensor([0., 3., 6., 9.])" in "".join(o.get("text", "") for o in outputs)
    assert (executed / "b.ipynb").stat().st_mtime_ns == kept


def test_tensorflow_runs_a_broadcast_batched_matmul_in_the_book_kernel(tmp_path):
    """TF 2.21's oneDNN matmul corrupts the heap on this shape (the kernel dies); the kernels run without oneDNN."""
    pytest.importorskip("ipykernel")
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow is not installed")
    from d2lc.build.execute import Job, execute_all
    code = ("import tensorflow as tf\np = tf.random.normal([13, 1, 3, 4])\nw = tf.random.normal([4, 16])\n"
            "for _ in range(20):\n    out = p @ w\nprint(out.shape)")
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
    job = Job(path, "n.ipynb", tmp_path / "exec" / "n.ipynb", Path(sys.executable), "main", None)
    ran, _, failures = execute_all([job], {}, tmp_path / "cache", tmp_path / "kernels", tmp_path / "data", 120)
    assert [f.render() for f in failures] == [] and ran == 1
    assert nbformat.read(job.target_out, as_version=4).cells[0].outputs[0]["text"] == "(13, 1, 3, 16)\n"


def test_a_kernel_that_dies_is_reported_as_a_failure_not_waited_on(tmp_path):
    pytest.importorskip("ipykernel")
    import threading
    from d2lc.build.execute import Job, execute_all
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nos.abort()")]), path)
    job = Job(path, "n.ipynb", tmp_path / "exec" / "n.ipynb", Path(sys.executable), "main", None)
    result = []
    run = threading.Thread(target=lambda: result.append(execute_all([job], {}, tmp_path / "cache", tmp_path / "kernels",
                                                                    tmp_path / "data", 600)), daemon=True)
    run.start()
    run.join(120)  # far below the cell timeout: the death is seen within seconds
    assert result, "execute_all still waiting on a dead kernel"
    ran, _, failures = result[0]
    assert ran == 0 and [f.render() for f in failures] == ["n.ipynb: cell 0 (%s): the kernel died while the cell ran (a crash in native code, or out of memory)"
                                                             % nbformat.read(path, as_version=4).cells[0].id]


def test_the_library_section_names_the_helper_library_and_its_pin(tmp_path):
    from d2lc.build.book import BookConfigError, library_requirement, load
    assert library_requirement(load(tmp_path)) == "d2lbook==0.1.0"  # no book.toml: the defaults
    (tmp_path / "book.toml").write_text('[library]\nname = "mybook"\nversion = "2.1"\n', encoding="utf-8")
    book = load(tmp_path)
    assert (library_requirement(book), book.library.wheel) == ("mybook==2.1", "mybook-2.1-py3-none-any.whl")
    (tmp_path / "book.toml").write_text('[library]\nname = "my-book"\n', encoding="utf-8")
    with pytest.raises(BookConfigError, match="not a Python module name"):
        load(tmp_path)
    repo = load(Path(__file__).resolve().parents[1])
    assert library_requirement(repo) == f"{repo.library.name}=={repo.library.version}" == "d2lbook==0.1.0"


def test_kernels_side_by_side_share_the_cpus_instead_of_each_taking_all(tmp_path, monkeypatch):
    from d2lc.build.execute import THREAD_VARIABLES, thread_env
    assert thread_env(1, cpus=2) == {}  # one kernel alone: the frameworks' own defaults
    two = thread_env(2, cpus=2)
    assert {k: two[k] for k in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "1")
    assert "intra_op_parallelism_threads=1" in two["XLA_FLAGS"] and thread_env(2, cpus=8)["OMP_NUM_THREADS"] == "4"
    assert thread_env(3, cpus=2)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's setting wins
    assert "OMP_NUM_THREADS" not in thread_env(2, cpus=2)
    monkeypatch.delenv("OMP_NUM_THREADS")
    pytest.importorskip("ipykernel")
    from d2lc.build.execute import Job, execute_all
    jobs = []
    for name in ("a", "b"):  # two notebooks on two workers: each kernel gets its share
        path = tmp_path / f"{name}.ipynb"
        code = f"import os\nprint({name!r}, os.environ.get('OMP_NUM_THREADS'), os.environ.get('TF_NUM_INTRAOP_THREADS'))"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), path)
        jobs.append(Job(path, path.name, tmp_path / "exec" / path.name, Path(sys.executable), "main", None))
    ran, _, failures = execute_all(jobs, {}, tmp_path / "cache", tmp_path / "kernels", tmp_path / "data", 120, workers=2)
    assert ran == 2 and not failures
    share = thread_env(2)["OMP_NUM_THREADS"]
    for job in jobs:
        text = nbformat.read(job.target_out, as_version=4).cells[0].outputs[0]["text"]
        assert text == f"{job.notebook.stem} {share} {share}\n"


def test_the_site_url_defaults_to_the_pages_address_the_workflow_publishes_to(tmp_path):
    """The wheel address of every install cell is where the site really goes: left out of book.toml, `[site]
    url` is the repository's GitHub Pages address, and the pages workflow publishes `[site] output` there
    from the README's first command."""
    import yaml

    from d2lc.build.book import load as load_book, pages_url
    from d2lc.build.install import wheel_for

    assert pages_url("https://github.com/D2LC/d2l-book.git") == "https://d2lc.github.io/d2l-book"
    assert pages_url("https://gitlab.com/o/r") == ""
    root = _book(tmp_path / "b", {})
    (root / "book.toml").write_text((root / "book.toml").read_text() + '[site]\nrepository = "https://github.com/o/r"\n')
    assert wheel_for(load_book(root)).url.startswith("https://o.github.io/r/_static/d2lbook-")
    (root / "book.toml").write_text((root / "book.toml").read_text() + 'url = "https://example.org/book/"\n')
    assert wheel_for(load_book(root)).url.startswith("https://example.org/book/_static/")

    repo = Path(__file__).resolve().parents[1]
    book = load_book(repo)
    workflow = yaml.safe_load((repo / ".github/workflows/pages.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book" for s in steps)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == book.site.output
    assert book.site.url == pages_url(book.site.repository) != ""


def test_a_stale_build_stamp_names_what_changed_such_as_a_mathjax_installed_after_the_build(tmp_path, monkeypatch):
    """`make book` on a fresh machine once ran before the browser test's set-up installed MathJax, so CI's check
    of the book site failed with no reason given; the stamp now names each part that changed."""
    from d2lc.build.book import load as load_book
    from d2lc.build.uptodate import BuildStamp, Options

    monkeypatch.delenv("D2LC_CACHE_DIR", raising=False)
    root = _book(tmp_path / "b", {"ch/index.md": GOOD})
    mathjax = tmp_path / "mathjax"
    with (root / "book.toml").open("a") as f:
        f.write(f'[site]\nmathjax = "{mathjax}"\n')
    book = load_book(root)
    (root / "out").mkdir()
    assert BuildStamp(book, Options()).changes() == ["no build recorded"]
    BuildStamp(book, Options()).record("built")
    assert BuildStamp(book, Options()).changes() == [] and BuildStamp(book, Options()).unchanged() == "built"
    mathjax.mkdir()
    (mathjax / "MathJax.js").write_text("")
    (root / "out" / "touched.ipynb").write_text("{}")
    (root / "src" / "ch" / "index.md").write_text(GOOD.replace("x * 2", "x * 3"))
    assert BuildStamp(book, Options()).changes() == ["sources", "local MathJax", "output folder out"]
    assert BuildStamp(book, Options()).unchanged() is None
