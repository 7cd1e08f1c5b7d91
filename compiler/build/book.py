"""The book project: `book.toml` at the book's root, and where each chapter's outputs belong.

Every path that reaches an output (cell ids, `metadata.d2lc.source`, output locations) is taken
relative to the book root, so the same sources give the same bytes whatever the working directory
and however a path was spelt (`sources/x`, `./sources/x/`, an absolute path, a symlinked checkout).
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_NAME = "book.toml"


class BookConfigError(ValueError):
    """book.toml is unreadable or names something that does not exist."""


@dataclass(frozen=True)
class SiteOptions:
    output: str = "build/site"
    repository: str = ""  # e.g. https://github.com/OWNER/REPO; the Colab links open notebooks from it
    branch: str = "main"
    mathjax: tuple[str, ...] = ("/usr/share/javascript/mathjax",)  # local copies tried first, else the CDN
    bibliography: str = ""  # a BibTeX file (relative to the root) that :cite: keys resolve against
    url: str = ""  # where the site is published: notebooks install the library wheel from URL/_static/


def pages_url(repository: str) -> str:
    """The GitHub Pages address of a github.com repository (https://github.com/OWNER/NAME ->
    https://OWNER.github.io/NAME), where .github/workflows/pages.yml publishes the site; "" for others."""
    match = re.fullmatch(r"https://github\.com/([A-Za-z0-9-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?", repository)
    return f"https://{match[1].lower()}.github.io/{match[2]}" if match else ""


@dataclass(frozen=True)
class ExecuteOptions:
    output: str = "build/executed"
    cache: str = "build/.d2lc-cache/executed"
    data: str = "build/data"  # the folder the notebooks' data hub reads when the book is executed (D2LBOOK_DATA)
    timeout: int = 600
    parameters: dict[str, object] = field(default_factory=dict)  # overrides after a ```d2l parameters cell


@dataclass(frozen=True)
class LibraryOptions:
    """The book's helper library: the package a notebook installs and imports its helpers from."""

    name: str = "d2lbook"  # the import name (`from d2lbook import torch as d2l`) and the distribution name
    version: str = "0.1.0"
    output: str = "build/library"  # the package, its pyproject.toml and wheel (`d2lc library`)

    @property
    def requirement(self) -> str:
        """What an install cell pins: `d2lbook==0.1.0`."""
        return f"{self.name}=={self.version}"

    @property
    def wheel(self) -> str:
        """The file name of its wheel (pure Python, any platform): `d2lbook-0.1.0-py3-none-any.whl`."""
        return f"{self.name.replace('-', '_')}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class Book:
    root: Path
    title: str = "d2lc book"
    authors: tuple[str, ...] = ()
    sources: str = "sources"
    output: str = "generated"
    targets: tuple[str, ...] = ()  # empty: every installed target, in registry order
    versions: dict[str, str] = field(default_factory=dict)  # target -> its pip requirements, for install lines
    toc: dict[str, list[str]] = field(default_factory=dict)  # chapter folder -> section order (chapters in this order)
    site: SiteOptions = field(default_factory=SiteOptions)
    execute: ExecuteOptions = field(default_factory=ExecuteOptions)
    library: LibraryOptions = field(default_factory=LibraryOptions)

    @property
    def sources_dir(self) -> Path:
        return self.root / self.sources

    def path(self, rel: str) -> Path:
        return self.root / rel

    def relative(self, path: Path) -> str:
        """`path` relative to the book root, in POSIX form (the spelling every output uses)."""
        return path.resolve().relative_to(self.root).as_posix()


def library_requirement(book: Book) -> str:
    """The pip requirement of the book's helper library, for a notebook's install line (`d2lbook==0.1.0`)."""
    return book.library.requirement


def find_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds a book.toml."""
    here = start.resolve()
    for folder in (here, *here.parents) if here.is_dir() else here.parents:
        if (folder / CONFIG_NAME).is_file():
            return folder
    return None


def load(root: Path) -> Book:
    """Read ROOT/book.toml; a missing file gives the defaults (sources/ -> generated/)."""
    root = root.resolve()
    file = root / CONFIG_NAME
    data: dict = {}
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise BookConfigError(f"{file}: {exc}") from None
    book = data.get("book", {})
    site = data.get("site", {})
    execute = data.get("execute", {})
    known = {"book", "targets", "versions", "toc", "site", "execute", "library"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise BookConfigError(f"{file}: unknown section(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    mathjax = site.get("mathjax", SiteOptions.mathjax)
    library = LibraryOptions(**{k: str(v) for k, v in data.get("library", {}).items() if k in ("name", "version", "output")})
    if not library.name.isidentifier():
        raise BookConfigError(f"{file}: [library] name {library.name!r} is not a Python module name (e.g. \"d2lbook\")")
    return Book(
        root=root,
        title=book.get("title", Book.title),
        authors=tuple(book.get("authors", ())),
        sources=book.get("sources", Book.sources),
        output=book.get("output", Book.output),
        targets=tuple(data.get("targets", {}).get("order", ())),
        versions=dict(data.get("versions", {})),
        toc={k: list(v) for k, v in data.get("toc", {}).items()},
        site=SiteOptions(output=site.get("output", SiteOptions.output), repository=site.get("repository", ""),
                         branch=site.get("branch", "main"),
                         mathjax=tuple([mathjax] if isinstance(mathjax, str) else mathjax),
                         bibliography=site.get("bibliography", ""),
                         url=site.get("url", pages_url(site.get("repository", "")))),
        execute=ExecuteOptions(output=execute.get("output", ExecuteOptions.output),
                               cache=execute.get("cache", ExecuteOptions.cache),
                               data=execute.get("data", ExecuteOptions.data),
                               timeout=int(execute.get("timeout", ExecuteOptions.timeout)),
                               parameters=dict(execute.get("parameters", {}))),
        library=library,
    )


def book_for(path: Path) -> Book:
    """The book a chapter or folder belongs to: the nearest book.toml above it; without one, the folder
    above the nearest `sources` folder (or the path's own folder) with default settings."""
    root = find_root(path)
    if root is None:
        resolved = path.resolve()
        chain = (resolved, *resolved.parents) if resolved.is_dir() else resolved.parents
        src = next((a for a in chain if a.name == "sources"), None)
        root = src.parent if src is not None else (resolved if resolved.is_dir() else resolved.parent)
        book = Book(root=root, sources="sources" if src is not None else ".")
        return book
    return load(root)


@dataclass(frozen=True)
class Chapter:
    file: Path  # as given (for reading)
    source: str  # relative to the book root: what ids and metadata use
    rel: Path  # relative to the sources folder: where its notebooks go under OUTPUT/TARGET/


def find_chapters(paths: list[Path]) -> list[Chapter]:
    """Every .md under the given files/folders, each placed by its book, sorted and without duplicates.

    A file's place is the given path's place in the book joined with the file's path under it, so a
    linked folder inside the sources keeps its name (the link is not resolved away)."""
    seen: dict[str, Chapter] = {}
    for p in paths:
        book = book_for(p)
        here = p.resolve()
        base = here if p.is_dir() else here.parent
        in_book = book.relative(base) if base.is_relative_to(book.root) else ""
        src = book.sources_dir.resolve()
        in_sources = base.relative_to(src).as_posix() if base.is_relative_to(src) else ""
        for f in (chapter_files_under(p) if p.is_dir() else [p]):
            under = f.relative_to(p).as_posix() if p.is_dir() else f.name
            source = f"{in_book}/{under}" if in_book not in ("", ".") else under
            rel = Path(in_sources) / under if in_sources not in ("", ".") else Path(under)
            if source not in seen:
                seen[source] = Chapter(f, source, rel)
    return sorted(seen.values(), key=lambda c: c.source)


def chapter_files_under(folder: Path) -> list[Path]:
    """Every .md file under `folder`, sorted; linked folders are followed (each real folder once, so no loop)."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for here, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(here)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        found.extend(Path(here) / f for f in files if f.endswith(".md") and os.path.isfile(os.path.join(here, f)))
    return sorted(found)
