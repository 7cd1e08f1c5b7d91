"""Text values: run-time strings, lists of them, and the vocabulary that numbers tokens (docs/dsl.md, "Text").

Text is plain Python on every target (`re`, `collections.Counter`, str methods); only turning a list of indices
into a tensor differs per framework. This module holds what the front end checks and the emitter spells: the
string methods, the built-in text functions and the vocabulary's members, with their result types.
"""
from __future__ import annotations

from dataclasses import dataclass

from d2lc.core.types import INT, STR, AnyType, ListType, OpaqueType, ScalarType, SeqType, Type, is_str

VOCAB = OpaqueType("vocabulary")
STRS = ListType(STR)  # a list of strings known only at run time (tokens, words)
INTS = ListType(INT)  # a list of token indices


@dataclass(frozen=True)
class StrMethod:
    """A Python str method the DSL accepts: its parameters (name, kind, default or REQUIRED) and its result."""

    params: tuple[tuple[str, str, object], ...]
    result: Type
    doc: str


REQUIRED = object()
STR_METHODS: dict[str, StrMethod] = {
    "lower": StrMethod((), STR, "the string in lower case"),
    "upper": StrMethod((), STR, "the string in upper case"),
    "strip": StrMethod((), STR, "the string without leading and trailing white space"),
    "split": StrMethod((("sep", "str", None),), STRS, "the words (runs of non-space) or, with sep, the pieces between seps"),
    "replace": StrMethod((("old", "str", REQUIRED), ("new", "str", REQUIRED)), STR, "every `old` replaced by `new`"),
    "join": StrMethod((("items", "strs", REQUIRED),), STR, "the strings of a list, with this string between them"),
}

# Built-in text functions: name -> (parameters, what the call is, for errors)
TEXT_FUNCTIONS: dict[str, tuple[tuple[tuple[str, str, object], ...], str]] = {
    "read_time_machine": ((("root", "str?", None),), "read_time_machine(root=None)"),
    "re_sub": ((("pattern", "str", REQUIRED), ("repl", "str", REQUIRED), ("text", "str", REQUIRED)),
               're_sub(pattern, repl, text), e.g. re_sub("[^a-z]+", " ", text)'),
    "list": ((("text", "str", REQUIRED),), "list(text): its characters"),
    "read_fra_eng": ((("root", "str?", None),), "read_fra_eng(root=None)"),
    "Vocab": ((("tokens", "tokens", REQUIRED), ("min_freq", "int", 0), ("reserved_tokens", "strs", None)),
              "Vocab(tokens, min_freq=0, reserved_tokens=[...])"),
}

# The vocabulary's attributes and their types
VOCAB_ATTRIBUTES: dict[str, Type] = {
    "unk": INT,  # the index of `<unk>`: 0
    "token_freqs": ListType(SeqType((STR, INT))),  # (token, count) pairs, most frequent first
    "idx_to_token": STRS,  # every token, in index order
}
VOCAB_METHODS = ("to_tokens",)


def is_strs(t: Type) -> bool:
    """A list of strings: built at run time (`text.split()`), or written out (`["<pad>", "<bos>"]`)."""
    if isinstance(t, ListType):
        return t.elem is None or is_str(t.elem) or isinstance(t.elem, AnyType)
    return isinstance(t, SeqType) and t.kind == "list" and all(is_str(i) or isinstance(i, AnyType) for i in t.items)


def is_token_lists(t: Type) -> bool:
    """A list of lists of strings: the tokens of each sentence (`src.append(line.split())`)."""
    return isinstance(t, ListType) and isinstance(t.elem, ListType) and is_strs(t.elem)


def is_ints(t: Type) -> bool:
    """A list of ints: token indices (`vocab[tokens]`), or written out."""
    if isinstance(t, ListType):
        return t.elem is None or isinstance(t.elem, ScalarType) and t.elem.kind == "int"
    return isinstance(t, SeqType) and t.kind == "list" and all(isinstance(i, ScalarType) and i.kind == "int" for i in t.items)


def is_text(t: Type) -> bool:
    """A value the text built-ins work on: a string, a run-time list of strings, a vocabulary."""
    return is_str(t) or t == VOCAB or isinstance(t, ListType) and t.elem is not None and is_str(t.elem)
