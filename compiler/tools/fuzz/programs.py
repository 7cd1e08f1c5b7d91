"""Hypothesis strategies for random, well-typed d2lc programs (the Csmith/YARPGen idea for the DSL).

A program is a few statements that bind fresh names: input tensors, expressions over the ops
(elementwise, broadcasting, reductions, shapes, linear algebra, indexing), element writes, loops,
`if`s on data, chapter functions and their gradients, built-in layers called at top level, and
small models with every layer kind (NCHW images, so channels-last targets convert layouts). The
generator tracks every value's dtype and concrete shape, so each program type-checks by
construction; a program the compiler rejects is a bug of the generator or of the compiler.

Values that depend on random initialisation are avoided where the language lets a chapter state
initialisers (`init=constant(...)`), so that model outputs are compared by value; layers that
cannot be initialised deterministically are still generated (compared by dtype and shape).
"""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from d2lc.tools.fuzz.model_statements import model, sequence_model, top_level_layer
from d2lc.tools.fuzz.tensor_statements import arg_reduction, branch, element_write, expression, function, gradient, index_read, loop, reduction, shape_op
from d2lc.tools.fuzz.values import Env, Shape, tensor_input


STATEMENTS = {
    "expression": lambda env: expression(env, 3).map(lambda r: _bind(env, *r)),
    "reduction": reduction, "arg_reduction": arg_reduction, "shape_op": shape_op, "index_read": index_read,
    "element_write": element_write, "loop": loop, "branch": branch, "function": function, "gradient": gradient,
    "model": model, "sequence_model": sequence_model, "top_level_layer": top_level_layer,
}


def _bind(env: Env, code: str, shape: Shape) -> None:
    name = env.fresh()
    env.lines.append(f"{name} = {code}")
    env.tensors[name] = shape


@dataclass
class Program:
    """One generated program: its cells (code only) and which statement kinds it used."""

    cells: list[str]
    kinds: list[str]

    def chapter(self, title: str = "Fuzz") -> str:
        return f"# {title}\n\n" + "".join(f"```d2l\n{c}\n```\n\n" for c in self.cells)


@st.composite
def programs(draw, prefix: str = "p_", kinds: tuple[str, ...] = tuple(STATEMENTS), max_statements: int = 5) -> Program:
    env = Env(prefix=prefix)
    used = []
    draw(tensor_input(env))
    for _ in range(draw(st.integers(1, max_statements))):
        kind = draw(st.sampled_from(kinds))
        used.append(kind)
        strategy = STATEMENTS[kind](env)
        draw(strategy)
    if env.tensors and draw(st.booleans()):
        env.lines.append(f"print({draw(st.sampled_from(sorted(env.tensors)))})")
    return Program(env.extra_cells + ["\n".join(env.lines)], used)
