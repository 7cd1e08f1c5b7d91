"""Text as run-time values (docs/dsl.md, "Text"): strings, lists of them, `re_sub`, `list(text)`, `Vocab`,
`tensor(indices)` and `x.tolist()`. The emitted text code is plain Python, the same on every target, and computes
what the standard library computes here (an oracle written independently below); bad text code is a compile error
with its place, caret, expectation and hint."""
from __future__ import annotations

import collections
import re

import pytest

from helpers import TARGETS, emit, run_on_every_target
from test_errors import assert_error

PROGRAM = '''\
raw = "The Time Machine, by H. G. Wells! The Time Traveller (for so it will be convenient to speak of him)"
text = re_sub("[^A-Za-z]+", " ", raw).lower()
chars = list(text)
vocab = Vocab(chars, reserved_tokens=["<pad>"])
print("A", text[:20] + "|", len(vocab), vocab.unk, vocab["t"], vocab["?"])
print("B", vocab[chars[:6]], vocab.to_tokens(vocab[chars[:6]]), vocab.idx_to_token[:5])
words = text.split()
word_vocab = Vocab(words, min_freq=2)
print("C", word_vocab.token_freqs[:4], len(word_vocab), word_vocab["him"])
pairs = []
for a, b in zip(words[:-1], words[1:]):
    pairs.append(a + "--" + b)
print("D", Vocab(pairs).token_freqs[:2], "-".join(words[:3]), text.upper()[:3], text.replace("the", "a")[:9])
counts = []
for token, count in vocab.token_freqs:
    counts.append(count)
ids = tensor(vocab[chars])
print("E", int(ids.sum()), int(tensor(counts).sum()), len(ids), vocab.to_tokens(ids[:5].tolist()))
spaces = 0
for c in text:
    if c == " ":
        spaces += 1
print("F", spaces, vocab)
'''


def oracle() -> str:
    """What PROGRAM prints, computed with the standard library directly."""
    raw = "The Time Machine, by H. G. Wells! The Time Traveller (for so it will be convenient to speak of him)"
    text = re.sub("[^A-Za-z]+", " ", raw).lower()
    chars = list(text)

    def vocab(tokens, min_freq=0, reserved=()):
        counts = collections.Counter(tokens)
        itos = ["<unk>", *reserved] + sorted(t for t, c in counts.items() if c >= min_freq and t not in ("<unk>", *reserved))
        freqs = sorted(counts.items(), key=lambda p: (-p[1], p[0]))
        return itos, {t: i for i, t in enumerate(itos)}, freqs

    itos, stoi, freqs = vocab(chars, reserved=("<pad>",))
    words = text.split()
    w_itos, w_stoi, w_freqs = vocab(words, 2)
    pairs = [a + "--" + b for a, b in zip(words[:-1], words[1:])]
    ids = [stoi.get(c, 0) for c in chars]
    lines = [
        ["A", text[:20] + "|", len(itos), 0, stoi["t"], stoi.get("?", 0)],
        ["B", ids[:6], [itos[i] for i in ids[:6]], itos[:5]],
        ["C", w_freqs[:4], len(w_itos), w_stoi.get("him", 0)],
        ["D", vocab(pairs)[2][:2], "-".join(words[:3]), text.upper()[:3], text.replace("the", "a")[:9]],
        ["E", sum(ids), sum(c for _, c in freqs), len(ids), [itos[i] for i in ids[:5]]],
        ["F", text.count(" "), f"Vocab({len(itos)} tokens)"],
    ]
    return "\n".join(" ".join(map(str, line)) for line in lines)


def test_text_computes_what_the_standard_library_computes_on_every_target(tmp_path):
    runs = run_on_every_target(PROGRAM, tmp_path)
    expected = oracle()
    for target, run in runs.items():
        assert run.error == "", f"{target}: {run.error}"
        assert run.stdout.strip() == expected, f"{target} printed\n{run.stdout}\nexpected\n{expected}"


def test_read_time_machine_reads_the_data_hub_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "timemachine.txt").write_text("The Time Machine\nby H. G. Wells\n", encoding="utf-8")
    dsl = f'raw = read_time_machine(root="{data.as_posix()}")\nprint(len(raw), raw.split()[:3])\n'
    runs = run_on_every_target(dsl, tmp_path / "runs", epilogue="")
    for target, run in runs.items():
        assert run.error == "", f"{target}: {run.error}"
        assert run.stdout.strip() == "32 ['The', 'Time', 'Machine']", target


@pytest.mark.parametrize("target", TARGETS)
def test_text_is_plain_python_emitted_once(target):
    code = emit('words = re_sub("[^a-z]+", " ", "a b, a").split()\nv = Vocab(words)\nw = Vocab(list("ab"))\n'
                'x = tensor(v[words])\nprint(v.to_tokens(x.tolist()))\n', target)
    assert code.count("class Vocab") == 1
    assert 're.sub("[^a-z]+", " ", "a b, a").split()' in code
    assert "collections.Counter(tokens)" in code
    assert "d2lc" not in code
    assert "v = Vocab(words)" in code and 'w = Vocab(list("ab"))' in code


TENSOR_OF_LIST = {"pytorch": "torch.tensor(v[words])", "tensorflow": "tf.constant(v[words], dtype=tf.int64)",
                  "jax": "jnp.array(v[words])", "mxnet": "np.array(v[words], dtype=np.int64)"}


@pytest.mark.parametrize("target", TARGETS)
def test_a_list_of_indices_becomes_an_int64_tensor_in_each_idiom(target):
    code = emit('words = "a b a".split()\nv = Vocab(words)\nx = tensor(v[words])\n', target)
    assert f"x = {TENSOR_OF_LIST[target]}" in code


ERRORS = [
    ("tensor_op_on_string", '''\
text = "the time machine"
y = exp(text)
''', '''\
ch.md:5:9: error: `exp` needs a tensor, got a str
    y = exp(text)
            ^^^^
  expected: a tensor or a number
  hint: a string is not a tensor: number its tokens with a `Vocab`, then `tensor(vocab[tokens])`
'''),
    ("tensor_method_on_string", '''\
text = "the time machine"
y = text.sum()
''', '''\
ch.md:5:10: error: a string has no method `.sum`
    y = text.sum()
             ^^^
  expected: one of: .lower(), .upper(), .strip(), .split(), .replace(), .join()
  hint: a string is not a tensor: number its tokens with a `Vocab`, then `tensor(vocab[tokens])`
'''),
    ("string_times_number", '''\
text = "ab"
y = text * 2
''', '''\
ch.md:5:10: error: strings take only `+` (joining them)
    y = text * 2
             ^
  expected: a + b of two strings
  hint: use string methods such as `.replace`
'''),
    ("string_plus_tensor", '''\
text = "ab"
y = text + ones((2,))
''', '''\
ch.md:5:12: error: `+` joins a string only with a string, got a float32[2]
    y = text + ones((2,))
               ^^^^
  expected: a string
  hint: a string is not a tensor: number its tokens with a `Vocab`, then `tensor(vocab[tokens])`
'''),
    ("bad_regex", '''\
y = re_sub("[a-z", " ", "abc")
''', '''\
ch.md:4:12: error: `re_sub`'s pattern is not a regular expression: unterminated character set at position 0
    y = re_sub("[a-z", " ", "abc")
               ^^^^^^
  expected: a Python regular expression, e.g. "[^a-z]+"
  hint: escape special characters with a backslash, and close every ( and [
'''),
    ("vocab_of_a_string", '''\
v = Vocab("the time machine")
''', '''\
ch.md:4:11: error: `Vocab`'s `tokens` must be a list of strings or a list of lists of strings, got a str
    v = Vocab("the time machine")
              ^^^^^^^^^^^^^^^^^^
  expected: a list of strings or a list of lists of strings
  hint: cut the text into tokens first: `list(text)` (characters) or `text.split()` (words)
'''),
    ("vocab_indexed_by_number", '''\
v = Vocab("a b".split())
i = v[3]
''', '''\
ch.md:5:7: error: a vocabulary is indexed by a token or a list of tokens, got an int
    i = v[3]
          ^
  expected: a string or a list of strings
  hint: `vocab.to_tokens(indices)` turns indices back into tokens
'''),
    ("to_tokens_of_tensor", '''\
v = Vocab("a b".split())
t = v.to_tokens(tensor([1, 2]))
''', '''\
ch.md:5:17: error: `to_tokens` takes an index or a list of indices, got an int64[2]
    t = v.to_tokens(tensor([1, 2]))
                    ^^^^^^
  expected: an int or a list of ints
  hint: a tensor's values become a list with `.tolist()`
'''),
    ("tensor_of_strings", '''\
x = tensor("a b".split())
''', '''\
ch.md:4:18: error: `tensor` needs numbers, got a list of str
    x = tensor("a b".split())
                     ^^^^^
  expected: a list of ints or floats
  hint: a string is not a tensor: number its tokens with a `Vocab`, then `tensor(vocab[tokens])`
'''),
    ("append_other_kind", '''\
words = "a b".split()
words.append(1)
''', '''\
ch.md:5:14: error: this list holds str values; appending an int
    words.append(1)
                 ^
  expected: str
  hint: a list holds values of one type; convert with `int(...)` or `float(...)`, or start another list
'''),
    ("unknown_vocab_attribute", '''\
v = Vocab(list("ab"))
f = v.freqs
''', '''\
ch.md:5:7: error: a vocabulary has no attribute `.freqs`
    f = v.freqs
          ^^^^^
  expected: one of: .unk, .token_freqs, .idx_to_token
  hint: `len(vocab)` is its size
'''),
    ("tolist_of_matrix", '''\
xs = ones((2, 3)).tolist()
''', '''\
ch.md:4:6: error: `.tolist()` needs a 1-D tensor, got float32[2, 3]
    xs = ones((2, 3)).tolist()
         ^^^^
  expected: a tensor [n]
  hint: flatten it first with `.reshape(-1)`, or index one row
'''),
    ("index_of_empty_list", '''\
xs = []
y = xs[0]
''', '''\
ch.md:5:5: error: indexing a list that holds nothing yet
    y = xs[0]
        ^^
  expected: a list with items
  hint: append to it first
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error_message(src, expected):
    assert_error(src, expected)
