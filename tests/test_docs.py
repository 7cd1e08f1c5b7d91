"""docs/dsl.md cannot drift: every ```d2l block compiles for every target, and every IR op is documented and used."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2lc.core import ir
from d2lc.emit.backend import get_backend, target_names
from d2lc.tools.conformance import declared_gap
from d2lc.tools.goldens import chapter_text, compile_error, d2l_blocks, known_targets
from d2lc.build.checked import compile_chapter
from d2lc.core.ops import ATTRIBUTES, METHODS, REQUIRED, SPECS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "dsl.md"
BLOCKS = d2l_blocks(DOC)


def signature(name: str) -> str:
    spec = SPECS[name]
    params = [p.name if p.default is REQUIRED else f"{p.name}={p.default!r}" for p in spec.params]
    if spec.varargs and spec.varargs not in [p.name for p in spec.params]:
        params.append("*" + spec.varargs)
    return f"{name}({', '.join(params)})"


def test_the_reference_has_examples():
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize("target", target_names())
@pytest.mark.parametrize("line, code", BLOCKS, ids=[f"dsl.md:{line}" for line, _ in BLOCKS])
def test_example_compiles(line, code, target):
    backend = get_backend(target)
    error = compile_error(code, backend)
    if error is not None and declared_gap(error, backend):
        pytest.skip(f"{target} declares this unsupported: {error}")
    assert error is None, f"docs/dsl.md:{line} does not compile for {target}: {error}"


def test_every_op_is_documented_with_its_signature():
    text = DOC.read_text(encoding="utf-8")
    missing = [op for op in SPECS if f"`{op}`" not in text]
    assert not missing, f"ops not mentioned in docs/dsl.md: {missing}"
    stale = [op for op in SPECS if f"`{signature(op)}`" not in text]
    assert not stale, "docs/dsl.md lacks the current signature of: " + ", ".join(f"{op} ({signature(op)})" for op in stale)


def test_every_layer_is_in_the_layers_table():
    from d2lc.core.layers import LAYERS
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("**Layers**"):text.index("**Initialisers**")]
    missing = [k for k in LAYERS if f"`{k}(" not in table]
    assert not missing, f"layers missing from the **Layers** table of docs/dsl.md: {missing}"


def test_every_method_and_attribute_is_documented():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Methods and attributes"):text.index("## Conversions")]
    missing = [m for m in METHODS if f"`{m}`" not in section] + [f".{a}" for a in ATTRIBUTES if f"`.{a}`" not in section]
    assert not missing, f"methods/attributes not listed under 'Methods and attributes' in docs/dsl.md: {missing}"


def test_every_op_is_used_in_an_example():
    used: set[str] = set()

    def visit(node) -> None:
        if isinstance(node, ir.Op):
            used.add(node.op)
        if isinstance(node, (ir.Expr, ir.Stmt)):
            for value in vars(node).values():
                visit(value)
        elif isinstance(node, (list, tuple)):
            for v in node:
                visit(v)
        elif isinstance(node, dict):
            for v in node.values():
                visit(v)

    for line, code in BLOCKS:
        module = compile_chapter(chapter_text(code), f"dsl.md:{line}", known_targets())
        for s in module.stmts():
            visit(s)
        for f in module.functions.values():
            visit(f)
    unused = sorted(set(SPECS) - used)
    assert not unused, f"ops without an example in docs/dsl.md: {unused}"


PATH_IN_TEXT = re.compile(r"\b(?:compiler|targets|tests|scripts|benchmarks|envs|grammar)/[A-Za-z0-9_./-]+\.(?:py|md|txt|toml|sh|lark)\b")


def _named_paths(text: str) -> set[str]:
    return {p for p in PATH_IN_TEXT.findall(text) if "NAME" not in p and "ENV" not in p}


def test_the_docs_name_files_that_exist():
    """A file the README or docs/ name by path exists (a move of a module updates its docs)."""
    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        missing += [f"{doc.name}: {p}" for p in sorted(_named_paths(doc.read_text(encoding="utf-8")))
                    if not (ROOT / p).exists()]
    assert missing == []


def test_the_path_check_reads_paths():
    assert _named_paths("see compiler/core/ir.py and targets/NAME/ops.py, not compiler/gone.py.") == {
        "compiler/core/ir.py", "compiler/gone.py"}
