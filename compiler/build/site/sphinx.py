"""The site build: pages for every section, Sphinx (myst-parser + sphinx-design + furo), then the
notebooks and MathJax copied beside the HTML. Sphinx rereads only pages whose text changed, so
pages are written only when their text differs."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from d2lc.build.book import Book, Chapter
from d2lc.core.diagnostics import Diagnostic
from d2lc.build.site.markup import Labels, check_references, collect_labels, read_bibliography, references_page
from d2lc.build.site.pages import TargetInfo, section_page

STATIC = Path(__file__).parent / "static"
MATHJAX_PARTS = ["MathJax.js", "config/TeX-AMS_CHTML.js", "extensions", "jax/input/TeX", "jax/output/CommonHTML",
                 "jax/element", "fonts/HTML-CSS/TeX/woff", "localization/en"]

CONF = '''# Written by d2lc build; edit book.toml instead.
project = {title!r}
author = {author!r}
extensions = ["myst_parser", "sphinx_design"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = {title!r}
html_static_path = [{static!r}]
html_css_files = ["d2lc.css"]
html_js_files = ["d2lc.js"]
html_copy_source = False
html_show_sourcelink = False
mathjax_path = {mathjax!r}  # MathJax 2 (what Debian ships); myst-parser's MathJax 3 settings are turned off
myst_update_mathjax = False
mathjax2_config = {{"tex2jax": {{"inlineMath": [["\\\\(", "\\\\)"]], "displayMath": [["\\\\[", "\\\\]"]]}}}}
exclude_patterns = ["_outputs/**/*.md"]
suppress_warnings = ["myst.header"]
'''


class SiteError(Exception):
    def __init__(self, diagnostics: list[Diagnostic], message: str = ""):
        super().__init__(message or f"{len(diagnostics)} error(s) in the book's markup")
        self.diagnostics = diagnostics


@dataclass
class SiteResult:
    pages: int
    written: int  # page sources that changed (Sphinx rebuilds those)
    out: Path


def ordered(book: Book, chapters: list[Chapter]) -> list[tuple[str, list[Chapter]]]:
    """(chapter folder, its sections with index first) in the book's order: book.toml [toc], then the rest sorted."""
    groups: dict[str, list[Chapter]] = {}
    for c in chapters:
        groups.setdefault(c.rel.parent.as_posix(), []).append(c)
    names = [n for n in book.toc if n in groups] + sorted(n for n in groups if n not in book.toc)
    result = []
    for name in names:
        order = book.toc.get(name, [])
        secs = sorted(groups[name], key=lambda c: (c.rel.stem != "index",
                                                   order.index(c.rel.stem) if c.rel.stem in order else len(order), c.rel.stem))
        result.append((name, secs))
    return result


def build_site(book: Book, chapters: list[Chapter], targets: list[tuple[str, str]], executed: Path,
               known_targets: set[str], shown, quiet: bool = True) -> SiteResult:
    """Build the HTML site for `chapters` on `targets` ((name, display name) in tab order)."""
    out_dir = book.path(book.site.output)
    src_dir = out_dir.parent / f".{out_dir.name}-src"  # the MyST pages and conf.py Sphinx reads
    generated = book.path(book.output)
    groups = ordered(book, chapters)
    texts = {c.source: c.file.read_text(encoding="utf-8") for c in chapters}
    labels, diags = Labels(), []
    for _, secs in groups:
        for c in secs:
            diags += collect_labels(texts[c.source], shown(c.file), _docname(c), labels)
    bib = read_bibliography(book.path(book.site.bibliography)) if book.site.bibliography else {}
    for _, secs in groups:
        for c in secs:
            diags += check_references(texts[c.source], shown(c.file), c.file.resolve(), labels, set(bib))
    if diags:
        raise SiteError(diags)

    pages: dict[str, str | bytes] = {}
    for _, secs in groups:
        for c in secs:
            doc = _docname(c)
            depth = doc.count("/")
            infos = []
            for name, display in targets:
                nb_rel = Path(name) / c.rel.with_suffix(".ipynb")
                run = executed / nb_rel
                plain = generated / nb_rel
                nb_file = run if run.exists() else (plain if plain.exists() else None)
                colab = ""
                if book.site.repository.startswith("https://github.com/"):
                    colab = (f"https://colab.research.google.com/github/{book.site.repository[len('https://github.com/'):].strip('/')}"
                             f"/blob/{book.site.branch}/{book.output}/{nb_rel.as_posix()}")
                infos.append(TargetInfo(name, display, json.loads(nb_file.read_text(encoding="utf-8")) if nb_file else None,
                                        nb_file == run, "../" * depth + f"_notebooks/{nb_rel.as_posix()}", colab,
                                        book.versions.get(name, "")))
            toc = [s.rel.stem for s in secs if s.rel.stem != "index"] if c.rel.stem == "index" else None
            page = section_page(doc, c.source, texts[c.source], infos, labels, known_targets, toc)
            pages[doc + ".md"] = page.text
            folder = Path(doc).parent
            for name, data in page.images.items():
                pages[(folder / name).as_posix()] = data
    chapter_docs = [f"{name}/index" if any(c.rel.stem == "index" for c in secs) else _docname(secs[0]) for name, secs in groups]
    root = [f"# {book.title}", "", ", ".join(book.authors), "",
            "Every code cell has a tab per framework; the choice applies to the whole book.", "",
            "```{toctree}\n:maxdepth: 2\n:caption: Chapters\n\n" + "\n".join(chapter_docs) + "\n```"]
    if bib:
        pages["references.md"] = references_page(bib)
        root.append("```{toctree}\n:hidden:\n\nreferences\n```")
    pages["index.md"] = "\n".join(root) + "\n"
    mathjax = _copy_mathjax(book, out_dir)
    pages["conf.py"] = CONF.format(title=book.title, author=", ".join(book.authors), static=str(STATIC),
                                   mathjax=mathjax)
    written = _sync_tree(src_dir, pages)
    stamp = out_dir / ".d2lc-pages"
    digest = hashlib.sha256(b"".join(_bytes(k) + b"\0" + _bytes(v) for k, v in sorted(pages.items()))).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest and written == 0:  # Sphinx already built exactly these pages
        _copy_notebooks(groups, targets, executed, generated, out_dir / "_notebooks")
        return SiteResult(sum(1 for p in pages if p.endswith(".md")), 0, out_dir)
    stamp.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-d", str(out_dir.parent / f".{out_dir.name}-doctrees"),
           str(src_dir), str(out_dir)] + (["-q"] if quiet else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SiteError([], "sphinx failed:\n" + (proc.stderr or proc.stdout).strip())
    _copy_notebooks(groups, targets, executed, generated, out_dir / "_notebooks")
    stamp.write_text(digest)
    return SiteResult(sum(1 for p in pages if p.endswith(".md")), written, out_dir)


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _docname(c: Chapter) -> str:
    return c.rel.with_suffix("").as_posix()


def _sync_tree(folder: Path, files: dict[str, str | bytes]) -> int:
    """Make FOLDER hold exactly `files`, rewriting only those whose bytes differ; returns how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for rel, content in files.items():
        path = folder / rel
        data = content.encode("utf-8") if isinstance(content, str) else content
        if path.exists() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += 1
    for path in sorted(folder.rglob("*"), reverse=True):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return written


def _copy_notebooks(groups, targets, executed: Path, generated: Path, dest: Path) -> None:
    for _, secs in groups:
        for c in secs:
            for name, _ in targets:
                rel = Path(name) / c.rel.with_suffix(".ipynb")
                src = executed / rel if (executed / rel).exists() else generated / rel
                if src.exists():
                    to = dest / rel
                    if not to.exists() or to.read_bytes() != src.read_bytes():
                        to.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(src, to)


def _copy_mathjax(book: Book, out_dir: Path) -> str:
    """A local MathJax copied into the site when one is installed (Debian's libjs-mathjax), else the CDN."""
    for folder in map(Path, book.site.mathjax):
        if (folder / "MathJax.js").is_file():
            dest = out_dir / "_static" / "mathjax"
            if not (dest / "MathJax.js").is_file():
                for part in MATHJAX_PARTS:
                    src = folder / part
                    if src.is_dir():
                        shutil.copytree(src, dest / part, dirs_exist_ok=True)
                    elif src.is_file():
                        (dest / part).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(src, dest / part)
            return "mathjax/MathJax.js?config=TeX-AMS_CHTML"
    return "https://cdn.jsdelivr.net/npm/mathjax@2.7.9/MathJax.js?config=TeX-AMS_CHTML"
