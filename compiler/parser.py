"""Parsing DSL cells with the Lark grammar in grammar/d2l.lark, turning parse failures into diagnostics."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from .diagnostics import Diagnostic, Loc


class DslIndenter(Indenter):
    """Python-style indentation: _INDENT/_DEDENT from leading whitespace, ignored inside brackets."""

    NL_type = "_NEWLINE"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 4


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("d2lc.grammar").joinpath("d2l.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        postlex=DslIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
    )


# Human names for the grammar's terminals, used in "expected ..." lines.
TOKEN_NAMES = {
    "RPAR": "`)`", "LPAR": "`(`", "RSQB": "`]`", "LSQB": "`[`", "COLON": "`:`", "COMMA": "`,`",
    "EQUAL": "`=`", "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "_NEWLINE": "end of line", "_INDENT": "an indented block", "_DEDENT": "end of block",
    "DOT": "`.`", "MORETHAN": "`>`", "ADD_OP": "`+` or `-`", "MUL_OP": "an operator",
    "COMP_OP": "a comparison", "$END": "end of cell", "RETURN": "`return`", "IN": "`in`",
}


def _describe_expected(expected: set[str]) -> str:
    names = sorted({TOKEN_NAMES.get(t, f"`{t.lower()}`" if t.isalpha() else t) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def parse_cell(text: str, file: str, first_line: int) -> tuple[Tree | None, list[Diagnostic]]:
    """Parse one DSL cell whose first line is `first_line` of `file`."""
    if not text.endswith("\n"):
        text += "\n"
    try:
        return lark_parser().parse(text), []
    except UnexpectedInput as exc:
        return None, [_parse_diagnostic(exc, text, file, first_line)]


def _parse_diagnostic(exc: UnexpectedInput, text: str, file: str, first_line: int) -> Diagnostic:
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    lines = text.splitlines()
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        line = max(1, len(lines))
        col = len(lines[line - 1]) + 1 if lines else 1
    loc = Loc(file, first_line + line - 1, col)
    src_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch in "\"'":
            return Diagnostic(loc, "unterminated string literal", expected=f"a closing {ch} on the same line",
                              hint=f"add {ch} at the end of the string")
        return Diagnostic(loc, f"unexpected character {ch!r}", expected=_describe_expected(exc.allowed or set()),
                          hint="the DSL accepts Python-style expressions; remove or quote this character")
    if isinstance(exc, UnexpectedToken):
        tok: Token = exc.token
        expected = _describe_expected(exc.expected)
        if tok.type == "_INDENT":
            return Diagnostic(loc, "unexpected indentation", expected="the same indentation as the line above",
                              hint="indent only the body of `def`, `for`, `if` and `model`")
        if tok.type == "_DEDENT" or (tok.type == "$END" and "_INDENT" in exc.expected):
            return Diagnostic(loc, "expected an indented block", expected="an indented block after `:`",
                              hint="indent the body by four spaces")
        if tok.type in ("$END", "_NEWLINE") and src_line.count("(") > src_line.count(")"):
            return Diagnostic(loc, "unclosed `(`", expected="`)`", hint="close the parenthesis opened on this line")
        if tok.type in ("$END", "_NEWLINE") and src_line.count("[") > src_line.count("]"):
            return Diagnostic(loc, "unclosed `[`", expected="`]`", hint="close the bracket opened on this line")
        if tok.type == "_NEWLINE" and src_line.rstrip().split("#")[0].rstrip().startswith(("def ", "for ", "if ", "elif ", "else", "model ")) \
                and not src_line.split("#")[0].rstrip().endswith(":"):
            return Diagnostic(loc, "missing `:`", expected="`:` at the end of the line",
                              hint="blocks open with a colon, as in Python")
        shown = "end of line" if tok.type == "_NEWLINE" else ("end of cell" if tok.type == "$END" else f"`{tok}`")
        return Diagnostic(Loc(file, loc.line, loc.col, loc.col + max(1, len(str(tok))) if tok.type not in ("_NEWLINE", "$END") else None),
                          f"unexpected {shown}", expected=expected,
                          hint="check for a missing operator, comma or bracket just before this point")
    return Diagnostic(loc, "syntax error", hint="check the syntax of this line")
