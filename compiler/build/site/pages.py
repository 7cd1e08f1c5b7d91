"""One MyST page per section: the prose once, every code cell a tab set with one tab per target
holding that target's code and its (executed) outputs.

A page is assembled from the chapter's source (its prose and `::: only` blocks, split as the
compiler splits it) and each target's notebook; a notebook cell is matched to the source cell it
came from by its id, which the compiler derives from the chapter path, the cell's index and the
source cell's text (see notebook.cell_id), so no recompilation is needed.
"""
from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from d2lc.front.chapter import split_chapter
from d2lc.build.notebook import cell_id
from d2lc.build.site.markup import Labels, to_myst
from d2lc.emit.backend import get_backend
from d2lc.emit.prose import ROLE_RE, render_prose

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class TargetInfo:
    name: str
    display: str
    notebook: dict | None  # the executed copy if there is one, else the plain notebook; None: not built
    executed: bool
    download: str  # link to the notebook, relative to the page
    colab: str  # "" when the book names no repository
    install: str = ""


@dataclass
class Page:
    docname: str  # chapter_x/section (no suffix)
    text: str  # MyST markdown
    images: dict[str, bytes] = field(default_factory=dict)  # path relative to the page's folder -> bytes


def section_page(docname: str, source_path: str, source_text: str, targets: list[TargetInfo],
                 labels: Labels, known_targets: set[str], toctree: list[str] | None = None) -> Page:
    raw, _, _ = split_chapter(source_text, source_path, known_targets)
    page = Page(docname, "")
    per_target = {t.name: _match_cells(t.notebook, source_path, raw) if t.notebook else ({}, None) for t in targets}
    out: list[str] = []
    header_done = False
    setup_done = False
    for index, cell in enumerate(raw):
        if cell.kind == "markdown":
            text = to_myst(cell.text, labels)
            if ROLE_RE.search(cell.text):  # prose naming an op or a layer: one copy per target, in its spelling
                names = [t.name for t in targets if cell.only is None or t.name in cell.only]
                text = "\n\n".join(f"::::{{container}} d2lc-only d2lc-only-{n}\n"
                                     f"{to_myst(render_prose(cell.text, get_backend(n)), labels)}\n::::" for n in names)
            elif cell.only is not None:
                names = " ".join(f"d2lc-only-{n}" for n in cell.only)
                text = f"::::{{container}} d2lc-only {names}\n{text}\n::::"
            out.append(text)
            if not header_done and cell.only is None and cell.text.lstrip().startswith("# "):
                out.append(_links_bar(targets))
                header_done = True
            continue
        if not setup_done and any(per_target[t.name][1] is not None for t in targets):
            out.append(_tab_set(page, targets, {t.name: per_target[t.name][1] for t in targets}, "setup", setup=True))
            setup_done = True
        cells = {t.name: per_target[t.name][0].get(index) for t in targets}
        if cell.only is not None:
            cells = {n: c for n, c in cells.items() if n in cell.only or c is not None}
        if any(c is not None for c in cells.values()):
            out.append(_tab_set(page, [t for t in targets if t.name in cells], cells, f"c{index}"))
    if not header_done:
        out.insert(0, _links_bar(targets))
    if toctree:
        out.append("```{toctree}\n:maxdepth: 1\n\n" + "\n".join(toctree) + "\n```")
    page.text = "\n\n".join(out) + "\n"
    return page


def _match_cells(nb: dict, source_path: str, raw) -> tuple[dict[int, dict], dict | None]:
    """(raw cell index -> notebook code cell, the setup cell or None) by recomputing each cell's id."""
    by_index: dict[int, dict] = {}
    setup = None
    code_raw = [(i, c) for i, c in enumerate(raw) if c.kind == "code"]
    position = 0
    previous = None
    for cell in nb.get("cells", []):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            if previous is not None:  # shown under the parameters cell: the values the outputs were made with
                previous["d2lc_injected"] = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            continue
        if cell.get("id", "").startswith("in000-"):  # the install cell: the links bar shows the install line
            continue  # (the other cells' ids count positions without it)
        previous = cell
        if cell["cell_type"] == "code":
            cid = cell.get("id", "")
            if cid == cell_id(source_path, position, "code", "<setup>"):
                setup = cell
            else:
                for i, rc in code_raw:
                    if i not in by_index and cid == cell_id(source_path, position, "code", rc.text):
                        by_index[i] = cell
                        break
        position += 1
    return by_index, setup


def _links_bar(targets: list[TargetInfo]) -> str:
    items = []
    for t in targets:
        if t.notebook is None:
            continue
        colab = f' · <a class="d2lc-colab" href="{html.escape(t.colab)}">Open in Colab</a>' if t.colab else ""
        install = f' · <code class="d2lc-install">pip install {html.escape(t.install)}</code>' if t.install else ""
        items.append(f'<span class="d2lc-target-links" data-target="{t.name}"><b>{html.escape(t.display)}</b>: '
                     f'<a class="d2lc-download" href="{html.escape(t.download)}" download>notebook</a>{colab}{install}</span>')
    options = "".join(f'<option value="{t.name}">{html.escape(t.display)}</option>' for t in targets)
    return ("```{raw} html\n<div class=\"d2lc-bar\">" + "<div class=\"d2lc-links\">" + "".join(items) + "</div>"
            + '<div class="d2lc-compare"><label><input type="checkbox" class="d2lc-compare-toggle"> side by side</label> '
            + f'<select class="d2lc-compare-a">{options}</select> vs <select class="d2lc-compare-b">{options}</select></div>'
            + "</div>\n```")


def _tab_set(page: Page, targets: list[TargetInfo], cells: dict[str, dict | None], key: str, setup: bool = False) -> str:
    parts = [f"::::::{{tab-set}}\n:sync-group: target\n:class: d2lc-code{' d2lc-setup' if setup else ''}\n"]
    for t in targets:
        cell = cells.get(t.name)
        parts.append(f":::::{{tab-item}} {t.display}\n:sync: {t.name}\n:class-content: d2lc-tab d2lc-tab-{t.name}\n")
        if cell is None:
            parts.append(f"*Nothing to run in {t.display} here.*\n")
        else:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            parts.append(_fence("python", source))
            if cell.get("d2lc_injected"):
                injected = cell["d2lc_injected"].replace("# Parameters\n", "")
                parts.append(_container("The outputs on this page were computed with smaller sizes:\n\n"
                                        + _fence("python", injected), "parameters"))
            parts.extend(_outputs(page, t, key, cell))
        parts.append(":::::\n")
    parts.append("::::::")
    return "\n".join(parts)


def _fence(lang: str, text: str) -> str:
    ticks = "`" * max(4, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def _outputs(page: Page, t: TargetInfo, key: str, cell: dict) -> list[str]:
    out = []
    for k, o in enumerate(cell.get("outputs", [])):
        kind = o.get("output_type")
        if kind == "stream":
            text = _join(o.get("text", ""))
            out.append(_container(_fence("text", ANSI_RE.sub("", text)), "stderr" if o.get("name") == "stderr" else "stream"))
        elif kind in ("execute_result", "display_data"):
            data = o.get("data", {})
            if "image/png" in data:
                name = f"_outputs/{Path(page.docname).name}-{t.name}-{key}-{k}.png"
                page.images[name] = base64.b64decode(_join(data["image/png"]))
                out.append(_container(f"![{t.display} output]({name})\n", "image"))
            elif "image/svg+xml" in data:
                name = f"_outputs/{Path(page.docname).name}-{t.name}-{key}-{k}.svg"
                page.images[name] = _join(data["image/svg+xml"]).encode()
                out.append(_container(f"![{t.display} output]({name})\n", "image"))
            elif "text/html" in data:
                out.append(_container("```{raw} html\n" + _join(data["text/html"]) + "\n```\n", "html"))
            elif "text/plain" in data:
                out.append(_container(_fence("text", ANSI_RE.sub("", _join(data["text/plain"]))), "result"))
        elif kind == "error":
            text = ANSI_RE.sub("", "\n".join(o.get("traceback", [])) or f"{o.get('ename')}: {o.get('evalue')}")
            out.append(_container(_fence("text", text), "error"))
    return out


def _container(body: str, kind: str) -> str:
    return f"::::{{container}} d2lc-output d2lc-output-{kind}\n{body}::::\n"


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else value
