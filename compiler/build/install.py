"""The install cell: a notebook's first code cell, which installs the tested packages where they are missing.

The packages and their versions are book.toml's `[versions]` line for the target (the same line the
site shows), so a chapter compiled alone, or in the whole book, gets the same cell. Colab preinstalls
PyTorch, TensorFlow and JAX (the check finds them and installs nothing); MXNet and Paddle are
installed there. The check uses `importlib.util.find_spec`, which imports nothing: TensorFlow's
environment variables, set in the next cell before `import tensorflow`, still take effect.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from d2lc.build.book import Book, book_for


def install_requirements(book: Book, target: str) -> list[str]:
    """The pip requirements of `target`'s install line, in book.toml's order (none when it names none).

    The one place the line is made: whatever else a notebook needs installed (e.g. the book's helper
    library wheel) is appended to this list."""
    return book.versions.get(target, "").split()


def requirements_for(chapter: Path, targets: list[str]) -> dict[str, tuple[str, ...]]:
    """Each target's install requirements for a chapter file, read from the book it belongs to."""
    book = book_for(chapter)
    return {t: tuple(install_requirements(book, t)) for t in targets}


@dataclass(frozen=True)
class Wheel:
    """The book's helper library as a notebook installs it: its import name, pinned version and wheel URL."""

    name: str  # `d2lbook`
    version: str
    url: str  # where the site publishes the wheel (book.toml [site] url + WHEEL_PATH)
    override: str  # the environment variable that replaces `url` (a local server, a file path)

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


WHEEL_PATH = "_static"  # the site folder the wheel is copied to: SITE_URL/_static/NAME-VERSION-py3-none-any.whl


def wheel_for(book: Book) -> Wheel:
    """The library wheel of `book`, at its site's stable address; `$D2LBOOK_WHEEL` (NAME in capitals) overrides it."""
    base = book.site.url.rstrip("/")
    url = f"{base}/{WHEEL_PATH}/{book.library.wheel}" if base else book.library.wheel
    return Wheel(book.library.name, book.library.version, url, f"{book.library.name.upper()}_WHEEL")


def install_cell(packages: tuple[str, ...], requirements: tuple[str, ...], wheel: Wheel | None = None) -> str:
    """The cell's text: when any of `packages` (import names) is missing, `%pip install` the requirements; with
    `wheel`, the book's library too when it is missing or not the pinned version (IPython expands `{wheel}`)."""
    if len(packages) == 1:
        test = f'importlib.util.find_spec("{packages[0]}") is None'
    else:
        names = ", ".join(f'"{p}"' for p in packages)
        test = f"not all(importlib.util.find_spec(name) for name in ({names}))"
    text = ("# Install the versions this notebook was tested with, where they are missing\n"
            "import importlib.metadata\nimport importlib.util\nimport os\n\n" if wheel else
            "# Install the versions this notebook was tested with, where they are missing\n"
            "import importlib.util\n\n")
    text += f"if {test}:\n    %pip install {' '.join(requirements)}"
    if wheel is not None:
        text += (f'\nif importlib.util.find_spec("{wheel.name}") is None or '
                 f'importlib.metadata.version("{wheel.name}") != "{wheel.version}":\n'
                 f'    wheel = os.environ.get("{wheel.override}", "{wheel.url}")\n'
                 "    %pip install {wheel}")
    return text


def pinned_versions(requirements: tuple[str, ...]) -> dict[str, str]:
    """package -> version of every `package==version` requirement (what the notebook's metadata records)."""
    return dict(r.split("==", 1) for r in requirements if "==" in r)
