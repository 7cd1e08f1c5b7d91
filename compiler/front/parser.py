"""Parsing DSL cells with the Lark grammar in grammar/d2l.lark, turning parse failures into diagnostics."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from d2lc.core.diagnostics import Diagnostic, Loc


class DslIndenter(Indenter):
    """Python-style indentation: _INDENT/_DEDENT from leading whitespace, ignored inside brackets."""

    NL_type = "_NEWLINE"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 4

    def handle_NL(self, token: Token):
        # Lark's version, but a dedent to a column no enclosing block uses raises an error that
        # knows where it happened (Lark's DedentError carries no position).
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        levels = list(self.indent_level)
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            raise IndentMismatch(token, indent, levels)


class IndentMismatch(DedentError):
    """A line dedented to a column that matches no enclosing block."""

    def __init__(self, token: Token, indent: int, levels: list[int]):
        super().__init__(f"unindent to column {indent} matches no enclosing block {levels}")
        self.token = token
        self.indent = indent
        self.levels = levels


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("d2lc.grammar").joinpath("d2l.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The LALR parser; its tables come from the compile cache's folder when one is active (Lark
    keys the file by grammar, options and Lark version, and rebuilds it when any of them changed)."""
    from d2lc.core.cache import active
    store = active()
    return Lark(
        grammar_text(),
        parser="lalr",
        postlex=DslIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=str(store.parser_tables()) if store is not None else False,
    )


# Human names for the grammar's terminals, used in "expected ..." lines; literal terminals
# (keywords, `**`, `->`, `...`) are shown as written.
TOKEN_NAMES = {
    "RPAR": "`)`", "LPAR": "`(`", "RSQB": "`]`", "LSQB": "`[`", "COLON": "`:`", "COMMA": "`,`",
    "EQUAL": "`=`", "NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
    "_NEWLINE": "end of line", "_INDENT": "an indented block", "_DEDENT": "end of block",
    "DOT": "`.`", "MORETHAN": "`>`", "ADD_OP": "`+` or `-`", "MUL_OP": "an operator",
    "COMP_OP": "a comparison", "$END": "end of cell", "RETURN": "`return`", "IN": "`in`",
    "UNARY_OP": "`-`", "AUGOP": "`+=`", "COMMENT": "a comment",
}


def _token_name(t: str) -> str:
    if t in TOKEN_NAMES:
        return TOKEN_NAMES[t]
    try:
        term = lark_parser().get_terminal(t)
    except KeyError:
        term = None
    if term is not None and term.pattern.type == "str":
        return f"`{term.pattern.value}`"
    return f"`{t.lower()}`" if t.isalpha() else t


# Tokens that can start an expression, and binary operators: listed one by one they drown the
# interesting alternatives (`)`, `:`, end of line), so they are summarised.
EXPR_START = {"NAME", "INT", "FLOAT", "STRING", "LPAR", "LSQB", "UNARY_OP", "TRUE", "FALSE", "NONE", "NOT"}
OPERATORS = {"ADD_OP", "MUL_OP", "COMP_OP", "_POW", "VBAR", "CIRCUMFLEX", "AMPERSAND", "AND", "OR"}


def _describe_expected(expected: set[str]) -> str:
    expected = set(expected)
    summary = []
    if "NAME" in expected:
        expected -= EXPR_START
        summary.append("an expression")
    if "ADD_OP" in expected:
        expected -= OPERATORS | {"LPAR", "LSQB", "DOT", "IN", "NOT"}  # after a value: an operator (`in`, `not in` too), a call, an index
        summary.append("an operator")
    names = summary + sorted({_token_name(t) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def parse_cell(text: str, file: str, first_line: int) -> tuple[Tree | None, list[Diagnostic]]:
    """Parse one DSL cell whose first line is `first_line` of `file`."""
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as exc:
        return None, [_parse_diagnostic(exc, text, file, first_line)]
    except IndentMismatch as exc:
        return None, [_indent_diagnostic(exc, text, file, first_line)]
    except LarkError as exc:  # any other parser complaint is still a problem in the input
        return None, [Diagnostic(Loc(file, first_line, 1), f"syntax error: {exc}", expected="Python-style DSL code",
                                 hint="check the syntax of this cell")]
    bad = _bad_string(tree, file, first_line)
    if bad is not None:
        return None, [bad]
    return tree, []


def _bad_string(tree: Tree, file: str, first_line: int) -> Diagnostic | None:
    """A diagnostic for the first string literal with an invalid escape sequence, if any."""
    from d2lc.front.ast import decode_string
    for tok in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "STRING"):
        try:
            decode_string(str(tok))
        except ValueError as exc:
            return Diagnostic(Loc(file, first_line + tok.line - 1, tok.column, tok.column + len(str(tok))),
                              f"invalid escape sequence in string literal ({exc})",
                              expected="escapes such as \\n, \\t, \\\\, \\\" or \\u00e9",
                              hint="write a backslash as \\\\")
    return None


def _indent_diagnostic(exc: IndentMismatch, text: str, file: str, first_line: int) -> Diagnostic:
    tok = exc.token
    line = tok.end_line
    levels = " or ".join(str(n) for n in exc.levels)
    return Diagnostic(Loc(file, first_line + line - 1, 1, tok.end_column if tok.end_column > 1 else None),
                      "this line's indentation matches no enclosing block",
                      expected=f"an indentation of {levels} spaces, like a line above",
                      hint="line it up with the statements of the block it belongs to")


def _accepted(exc: UnexpectedInput) -> set[str]:
    """The terminals the parser could have taken where it failed.

    Lark's `expected` is the lexer's or the LALR state's view, which merges look-aheads; asking
    the interactive parser which tokens it would really accept is exact."""
    ip = getattr(exc, "interactive_parser", None)
    if ip is not None:
        try:
            return set(ip.accepts())
        except Exception:  # pragma: no cover - a Lark internal failure must not hide the syntax error
            pass
    state = getattr(exc, "state", None)
    try:
        keys = set(state.parse_conf.parse_table.states[state.position])
    except AttributeError:
        keys = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    return {k for k in keys if k == k.upper()}  # terminals only, not rule names


BLOCK_KEYWORDS = ("def ", "for ", "if ", "elif ", "else", "model ")
CLOSER = {"(": ")", "[": "]", "{": "}"}


def _open_brackets(text: str, end: int) -> list[tuple[str, int, int]]:
    """Brackets opened and not closed in text[:end], as (char, line, col), outermost first.

    Strings and comments are skipped; a closer that matches nothing is ignored."""
    stack: list[tuple[str, int, int]] = []
    line, col, i = 1, 1, 0
    quote = ""
    while i < min(end, len(text)):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
                col += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            while i + 1 < end and text[i + 1] != "\n":
                i += 1
        elif ch in CLOSER:
            stack.append((ch, line, col))
        elif stack and ch == CLOSER[stack[-1][0]]:
            stack.pop()
        if i < len(text) and text[i] == "\n":
            line, col, quote = line + 1, 1, ""
        else:
            col += 1
        i += 1
    return stack


def _parse_diagnostic(exc: UnexpectedInput, text: str, file: str, first_line: int) -> Diagnostic:
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    lines = text.splitlines()
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        line = max(1, len(lines))
        col = len(lines[line - 1]) + 1 if lines else 1
    loc = Loc(file, first_line + line - 1, col)
    src_line = lines[line - 1] if 0 < line <= len(lines) else ""
    accepted = _accepted(exc)
    expected = _describe_expected(accepted)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch in "\"'":
            return Diagnostic(loc, "unterminated string literal", expected=f"a closing {ch} on the same line",
                              hint=f"add {ch} at the end of the string")
        return Diagnostic(loc, f"unexpected character {ch!r}", expected=expected,
                          hint="the DSL accepts Python-style expressions; remove or quote this character")
    if not isinstance(exc, UnexpectedToken):
        return Diagnostic(loc, "syntax error", expected=expected or None, hint="check the syntax of this line")
    tok: Token = exc.token
    at_end = tok.type in ("$END", "_NEWLINE")
    if tok.type == "_INDENT":
        # The token borrows the position of the newline before it; it ends where the indentation does.
        width_end = tok.end_column if tok.end_column > 1 else None
        ind = Loc(file, first_line + tok.end_line - 1, 1, width_end)
        return Diagnostic(ind, "unexpected indentation", expected="the same indentation as the line above",
                          hint="indent only the body of `def`, `for` and `if`")
    if "_INDENT" in accepted or tok.type == "_DEDENT":
        return Diagnostic(loc, "expected an indented block", expected="an indented block after the `:` above",
                          hint="indent the body by four spaces, or write `pass` for an empty one")
    start = tok.start_pos if tok.type != "$END" and tok.start_pos is not None else len(text)
    still_open = _open_brackets(text, start)
    if still_open and (at_end or (tok.line or 0) > still_open[-1][1]):
        ch, b_line, b_col = still_open[-1]
        what = "parenthesis" if ch == "(" else "bracket"
        return Diagnostic(Loc(file, first_line + b_line - 1, b_col), f"unclosed `{ch}`", expected=f"`{CLOSER[ch]}`",
                          hint=f"close the {what} opened here")
    header = src_line.split("#")[0].strip()
    if header.startswith(BLOCK_KEYWORDS) and "COLON" in accepted and (
            tok.type == "_NEWLINE" or not accepted & {"RPAR", "RSQB", "COMMA"}):
        return Diagnostic(loc, "missing `:`", expected="`:` at the end of the line" if at_end else "`:`",
                          hint="blocks open with a colon, as in Python")
    shown = "end of line" if tok.type == "_NEWLINE" else ("end of cell" if tok.type == "$END" else f"`{tok}`")
    if accepted and accepted <= {"DEF", "MODEL"}:  # after a marker line (`@save`): only a definition may follow
        return Diagnostic(Loc(file, loc.line, loc.col, loc.col + max(1, len(str(tok))) if not at_end else None),
                          f"unexpected {shown} after a marker line", expected="a `def` or `model` definition",
                          hint="`@save` marks the definition on the next line for the book's library; "
                               "remove the marker or move it just above a `def` or `model`")
    return Diagnostic(Loc(file, loc.line, loc.col, loc.col + max(1, len(str(tok))) if not at_end else None),
                      f"unexpected {shown}", expected=expected,
                      hint="check for a missing operator, comma or bracket just before this point")
