"""What a notebook imports from the book's helper library (no libcst here: the build's cache keys read it)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Library:
    """The book's library package and the helpers a notebook imports from its target's module instead of pasting."""

    package: str  # `d2lbook`; the module is `d2lbook.<the target framework's import name>` (`d2lbook.torch`)
    helpers: frozenset[str]  # snippet names (`train`, `fashion_mnist`, `download`)
