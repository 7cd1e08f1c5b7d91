"""Book markup in prose: labels, cross-references, citations and figures (the d2l book's notation).

    ## Section title            then on the next line   :label:`sec_name`
    ![Caption](../img/x.png)    then on the next line   :label:`fig_name`
    $$ ... $$                   then on the next line   :eqlabel:`eq_name`
    see :numref:`sec_name`, :ref:`fig_name`, :eqref:`eq_name`, as shown by :cite:`Key2020`

`scan` collects labels and checks references, citations and image files, each problem a
diagnostic at file:line:col; `to_myst` rewrites the markup into MyST for Sphinx.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from d2lc.core.diagnostics import Diagnostic, Loc, did_you_mean

LABEL_RE = re.compile(r"^:(label|eqlabel):`([^`]+)`\s*$")
REF_RE = re.compile(r":(numref|ref|eqref|cite):`([^`]+)`")
IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
FENCE_RE = re.compile(r"^(```+|~~~+)")


@dataclass
class Labels:
    """Every label of the book: name -> (page docname, kind, title, where defined)."""
    defined: dict[str, tuple[str, str, str, Loc]] = field(default_factory=dict)


def _prose_lines(text: str):
    """(1-based line number, line) for lines outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE_RE.match(line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.startswith(fence[0] * len(fence)) and not line.strip(fence[0]).strip():
                fence = None
            continue
        yield n, line


def collect_labels(text: str, shown: str, docname: str, labels: Labels) -> list[Diagnostic]:
    diags = []
    previous = ""
    for n, line in _prose_lines(text):
        m = LABEL_RE.match(line)
        if m:
            name = m.group(2)
            col = line.index(name) + 1
            loc = Loc(shown, n, col, col + len(name))
            if name in labels.defined:
                first = labels.defined[name][3]
                diags.append(Diagnostic(loc, f"label `{name}` is defined twice", expected="one definition per label",
                                        hint=f"it is first defined at {first}"))
            else:
                kind = "equation" if m.group(1) == "eqlabel" else ("figure" if IMAGE_RE.match(previous.strip()) else "section")
                title = previous.lstrip("#").strip() if kind == "section" else ""
                labels.defined[name] = (docname, kind, title, loc)
        if line.strip():
            previous = line
    return diags


def check_references(text: str, shown: str, source: Path, labels: Labels, citations: set[str]) -> list[Diagnostic]:
    """Unknown labels and citation keys, and images whose file does not exist, as diagnostics."""
    diags = []
    for n, line in _prose_lines(text):
        for m in REF_RE.finditer(line):
            role, name = m.group(1), m.group(2)
            col = m.start(2) + 1
            loc = Loc(shown, n, col, col + len(name))
            if role == "cite":
                for k in re.finditer(r"[^,\s]+", name):
                    key = k.group(0)
                    loc = Loc(shown, n, col + k.start(), col + k.end())
                    if key not in citations:
                        diags.append(Diagnostic(loc, f"unknown citation key `{key}`",
                                                expected="a key of the bibliography named in book.toml ([site] bibliography)",
                                                hint=did_you_mean(key, citations) or "add the entry to the bibliography"))
            elif name not in labels.defined:
                diags.append(Diagnostic(loc, f"unresolved reference `{name}`", expected="a label defined with :label:`NAME`",
                                        hint=did_you_mean(name, labels.defined) or "define it under a heading or figure"))
        for m in IMAGE_RE.finditer(line):
            target = m.group(2)
            if "://" in target:
                continue
            if not (source.parent / target).is_file():
                col = m.start(2) + 1
                diags.append(Diagnostic(Loc(shown, n, col, col + len(target)), f"missing image `{target}`",
                                        expected=f"a file at {(source.parent / target).as_posix()}",
                                        hint="image paths are relative to the chapter's file"))
    return diags


def to_myst(text: str, labels: Labels) -> str:
    """The prose with labels, references, citations and labelled figures in MyST syntax."""
    lines = text.splitlines()
    out: list[str] = []
    fence = None
    for line in lines:
        m_f = FENCE_RE.match(line)
        if fence is None and m_f:
            fence = m_f.group(1)
            out.append(line)
            continue
        if fence is not None:
            if line.startswith(fence[0] * len(fence)) and not line.strip(fence[0]).strip():
                fence = None
            out.append(line)
            continue
        m = LABEL_RE.match(line)
        if m:
            kind, name = m.group(1), m.group(2)
            j = len(out) - 1
            while j >= 0 and not out[j].strip():
                j -= 1
            if kind == "eqlabel" and j >= 0 and out[j].rstrip().endswith("$$"):
                out[j] = out[j].rstrip() + f" ({name})"
            elif j >= 0 and IMAGE_RE.fullmatch(out[j].strip()):
                img = IMAGE_RE.fullmatch(out[j].strip())
                out[j:] = [f":::{{figure}} {img.group(2)}", f":name: {name}", "", img.group(1), ":::"]
            elif j >= 0:
                out.insert(j, f"({name})=")
            continue
        out.append(REF_RE.sub(lambda r: _role(r.group(1), r.group(2)), line))
    return "\n".join(out)


def _role(role: str, name: str) -> str:
    if role == "cite":
        return ", ".join(f"{{ref}}`[{k.strip()}] <cite-{_slug(k.strip())}>`" for k in name.split(","))
    if role == "eqref":
        return f"{{eq}}`{name}`"
    return f"{{ref}}`{name}`"


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


BIB_ENTRY_RE = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", re.S)
BIB_FIELD_RE = re.compile(r"(\w+)\s*=\s*[{\"](.*?)[}\"]\s*,?\s*$", re.M)


def read_bibliography(path: Path) -> dict[str, dict[str, str]]:
    """key -> fields (author, title, year, ...) of a BibTeX file (plain entries, one field per line)."""
    if not path.is_file():
        return {}
    entries = {}
    for m in BIB_ENTRY_RE.finditer(path.read_text(encoding="utf-8")):
        entries[m.group(2)] = {f.group(1).lower(): f.group(2).replace("{", "").replace("}", "") for f in BIB_FIELD_RE.finditer(m.group(3))}
    return entries


def references_page(entries: dict[str, dict[str, str]]) -> str:
    out = ["# References", ""]
    for key in sorted(entries):
        e = entries[key]
        out += [f"({'cite-' + _slug(key)})=", f"**[{key}]** {e.get('author', '')}. *{e.get('title', '')}*. {e.get('year', '')}.", ""]
    return "\n".join(out)
