"""Tables (issue 11 of the data chapters): CSV files read with pandas, a DataFrame on every target. The pandas code is
the same in all five notebooks and only the conversion into a tensor is each framework's; the values it gives agree
with an independent reading of the file on every target; and a table used as a tensor is a compile error with its
location, caret, expectation and hint (the whole message is compared), reported alike by `d2lc check` and
`d2lc compile`."""
from __future__ import annotations

import csv
import io
import re
import statistics

import pytest

from helpers import chapter, emit, run_on_every_target
from test_errors import assert_error

ALL = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")

# (id, source of the cell, the full rendered message); the first line of a source is line 4 of ch.md
CASES = [
    ('op_of_table', 'df = read_csv("house.csv")\ny = exp(df)\n', '''\
ch.md:5:9: error: `exp` needs a tensor, got a table: a table is not a tensor
    y = exp(df)
            ^^
  expected: a tensor
  hint: convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('table_plus_tensor', 'df = read_csv("house.csv")\ny = df + ones((3,))\n', '''\
ch.md:5:10: error: a table and a float32[3] do not combine
    y = df + ones((3,))
             ^^^^
  expected: a table, a table column or a number on each side
  hint: a table is not a tensor; convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('tensor_method', 'df = read_csv("house.csv")\ns = df.sum()\n', '''\
ch.md:5:8: error: a table has no method `.sum`
    s = df.sum()
           ^^^
  expected: one of: .fillna(), .mean(), .std(), .head(), .select_dtypes()
  hint: a table is not a tensor; convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('tensor_attribute', 'df = read_csv("house.csv")\nt = df.T\n', '''\
ch.md:5:8: error: a table has no attribute `.T`
    t = df.T
           ^
  expected: one of: .shape, .iloc
  hint: a table is not a tensor; convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('model_of_table', 'model Net():\n    out = Linear(1)\n    def forward(X: f32[n, 3]):\n        return out(X)\n\ndf = read_csv("house.csv")\nnet = Net()\ny = net(df)\n', '''\
ch.md:11:9: error: `net` computes on tensors, got a table: a table is not a tensor
    y = net(df)
            ^^
  expected: a tensor
  hint: convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('load_array_of_table', 'df = read_csv("house.csv")\ndata = load_array(df, df, 2)\n', '''\
ch.md:5:19: error: `load_array`'s X must be a tensor, got a table
    data = load_array(df, df, 2)
                      ^^
  expected: a tensor of rank 1 or 2 or 3 or 4
  hint: convert it first: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('if_table', 'df = read_csv("house.csv")\nif df:\n    print(1)\n', '''\
ch.md:5:4: error: an `if` condition must be a single truth value, got a table
    if df:
       ^^
  expected: a bool
  hint: a table's number of rows is df.shape[0]; its values, as a tensor: `tensor(df, dtype=float32)` makes a tensor of a table's (numeric) columns
'''),
    ('iloc_by_name', 'df = read_csv("house.csv")\nx = df.iloc[:, "Price"]\n', '''\
ch.md:5:16: error: `.iloc` selects by position: ints, slices or lists of ints, got a str
    x = df.iloc[:, "Price"]
                   ^^^^^^^
  expected: df.iloc[0:4, [0, -1]]
  hint: columns are selected by name with df["name"]
'''),
    ('column_by_number', 'df = read_csv("house.csv")\nx = df[0]\n', '''\
ch.md:5:8: error: a table's columns are selected by name, got an int
    x = df[0]
           ^
  expected: a string literal, or a list of them: df["Price"], df[["a", "b"]]
  hint: select by position with df.iloc[rows, columns]
'''),
    ('unknown_hub_file', 'df = read_csv(download("kaggle_house_train.csv"))\n', '''\
ch.md:4:24: error: "kaggle_house_train.csv" is not a CSV file of the data hub
    df = read_csv(download("kaggle_house_train.csv"))
                           ^^^^^^^^^^^^^^^^^^^^^^^^
  expected: one of: kaggle_house_pred_train.csv, kaggle_house_pred_test.csv
  hint: did you mean `kaggle_house_pred_train.csv`?
'''),
    ('read_csv_in_def', 'def f(x: f32[n]) -> f32[n]:\n    df = read_csv("house.csv")\n    return x\n', '''\
ch.md:5:10: error: `read_csv` stands at the top level of a chapter, outside `def` and `model`
        df = read_csv("house.csv")
             ^^^^^^^^
  expected: read_csv(...) at the top level
  hint: read and write files at the top level
'''),
    ('write_text_folder', 'write_text("data/house.csv", "a\\n1\\n")\n', '''\
ch.md:4:12: error: `write_text` writes a file of the notebook's folder: a name without folders
    write_text("data/house.csv", "a\\n1\\n")
               ^^^^^^^^^^^^^^^^
  expected: a file name such as "house_tiny.csv"
  hint: drop the folder from the name
'''),
    ('select_unknown_kind', 'df = read_csv("house.csv")\nx = df.select_dtypes("numbers")\n', '''\
ch.md:5:22: error: `include=` names a kind of column
    x = df.select_dtypes("numbers")
                         ^^^^^^^^^
  expected: one of: "number", "object", "bool", "float", "int", "category"
  hint: "number" selects the numeric columns, exclude="number" the others
'''),
    ('fillna_tensor', 'df = read_csv("house.csv")\nx = df.fillna(zeros((3,)))\n', '''\
ch.md:5:15: error: `.fillna` fills in a number, a string or a column per column, got a float32[3]
    x = df.fillna(zeros((3,)))
                  ^^^^^
  expected: df.fillna(value)
  hint: fill in one number, or each column's mean: df.fillna(df.mean())
'''),
    ('concat_reports_once', 'y = concat([ones((2,)), nope])\n', '''\
ch.md:4:25: error: undefined name `nope`
    y = concat([ones((2,)), nope])
                            ^^^^
  expected: a variable assigned earlier in this chapter
  hint: assign `nope` in this cell or an earlier one before using it
'''),  # the list is lowered once, whether it holds tables or tensors
]


@pytest.mark.parametrize("src,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table_errors(src: str, expected: str) -> None:
    assert_error(src, expected)


def test_check_and_compile_reject_the_same_table_errors(tmp_path, capsys) -> None:
    """`d2lc check` and `d2lc compile` report the same diagnostics for every case, and both accept the good cell."""
    from d2lc.cli.main import main
    for name, src, _ in CASES + [("good", GOOD, "")]:
        path = tmp_path / f"{name}.md"
        path.write_text(chapter(src), encoding="utf-8")
        checked = main(["check", str(path)]), capsys.readouterr().err
        compiled = main(["compile", "--target=all", "--no-cache", "-q", str(path), "-o", str(tmp_path / "out")]), \
            capsys.readouterr().err
        assert checked[0] == compiled[0] == (0 if name == "good" else 1), (name, checked, compiled)
        if name != "good":  # the diagnostics, without the closing summary line (`nothing was written`)
            diags = [re.sub(r"\nd2lc: .*\n$", "\n", err) for _, err in (checked, compiled)]
            assert diags[0] == diags[1] and "error:" in diags[0], (name, diags)


CSV_TEXT = "NumRooms,RoofType,Price\nNA,NA,127500\n2,NA,106000\n4,Slate,178100\nNA,NA,140000\n"
GOOD = f'''
write_text("house_tiny.csv", """{CSV_TEXT}""")
data = read_csv("house_tiny.csv")
inputs, targets = data.iloc[:, 0:2], data["Price"]
inputs = get_dummies(inputs.fillna(inputs.mean()), dummy_na=True)
X = tensor(inputs, dtype=float32)
y = tensor(targets, dtype=float64)
numeric = data.select_dtypes("number")
scaled = ((numeric - numeric.mean()) / numeric.std()).fillna(0)
both = concat([scaled, get_dummies(data.select_dtypes(exclude="number"), dummy_na=True)], axis=1)
Z = tensor(concat([both.iloc[:2], both.iloc[2:]]), dtype=float32)
print(data.shape[0], data.shape[1], X.shape[1])
for i in range(X.shape[0]):
    print(float(X[i].sum()), float(X[i, 0]))
print(float(y.sum()), float(Z[:, 0].sum()), float(Z[:, 1].sum()), float(Z[:, 1].max()))
'''


def _expected() -> str:
    """What GOOD prints, computed from the CSV text with the standard library (no pandas)."""
    rows = list(csv.DictReader(io.StringIO(CSV_TEXT)))
    rooms = [float(r["NumRooms"]) if r["NumRooms"] != "NA" else None for r in rows]
    mean_rooms = statistics.mean(v for v in rooms if v is not None)
    roofs = sorted({r["RoofType"] for r in rows if r["RoofType"] != "NA"})
    columns = 1 + len(roofs) + 1  # NumRooms, one column per roof type, one for a missing roof
    out = [f"{len(rows)} 3 {columns}"]
    for r, v in zip(rows, rooms):
        filled = v if v is not None else mean_rooms
        out.append(f"{filled + 1.0} {filled}")  # each row has a 1 in exactly one roof column
    prices = [float(r["Price"]) for r in rows]
    z = [(p - statistics.mean(prices)) / statistics.stdev(prices) for p in prices]
    out.append(f"{sum(prices)} 0.0 {round(sum(z), 4)} {round(max(z), 4)}")
    return "\n".join(out) + "\n"


def _rounded(text: str) -> str:
    """Sums of standardised values to 4 decimals (float32 rounding differs by framework), the rest as printed."""
    lines = text.splitlines()
    last = lines[-1].split()
    lines[-1] = " ".join([last[0], str(abs(round(float(last[1]), 4))), str(round(float(last[2]), 4) + 0.0),
                          str(round(float(last[3]), 4))])
    return "\n".join(lines) + "\n"


def test_tables_give_the_same_tensors_on_every_target(tmp_path) -> None:
    """The CSV is written, read, imputed, one-hot encoded, standardised and converted on every target, and each
    prints what an independent reading of the file gives."""
    runs = run_on_every_target(GOOD, tmp_path)
    want = _expected()
    wrong = {t: run.error or run.stdout for t, run in runs.items() if run.error or _rounded(run.stdout) != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"


CONVERSIONS = {
    "pytorch": "torch.tensor(inputs.to_numpy(dtype=float), dtype=torch.float32)",
    "tensorflow": "tf.constant(inputs.to_numpy(dtype=float), dtype=tf.float32)",
    "jax": "jnp.array(inputs.to_numpy(dtype=float), dtype=jnp.float32)",
    "mxnet": "np.array(inputs.to_numpy(dtype=float), dtype=np.float32)",
    "paddle": "paddle.to_tensor(inputs.to_numpy(dtype=float), dtype=paddle.float32)",
}


def test_the_pandas_code_is_the_same_on_every_target_and_only_the_conversion_differs() -> None:
    codes = {t: emit(GOOD, t) for t in ALL}
    for t, code in codes.items():
        assert f"X = {CONVERSIONS[t]}" in code, (t, code)
        assert "inputs.fillna(inputs.mean(numeric_only=True))" in code  # pandas 2: a table with text columns
        assert 'pd.get_dummies(data.select_dtypes(exclude="number"), dummy_na=True)' in code
    pandas_only = {t: code[:code.index("X = ")].splitlines() + [ln for ln in code.splitlines() if ln.startswith(
        ("numeric = ", "scaled = ", "both = "))] for t, code in codes.items()}  # before the first tensor, and the rest
    assert len(pandas_only["jax"]) >= 12
    assert all(lines == pandas_only["pytorch"] for lines in pandas_only.values()), pandas_only


def test_a_long_string_keeps_its_lines_and_escapes() -> None:
    from d2lc.build.checked import compile_chapter
    from d2lc.core import ir
    module = compile_chapter(chapter('write_text("t.csv", """a,"b"\nx\\ty,2\n""")\n'), "t.md", set(ALL))
    consts = [n for c in module.cells if c.kind == "code" for s in c.stmts for n in _walk(s) if isinstance(n, ir.Const)]
    assert 'a,"b"\nx\ty,2\n' in [c.value for c in consts]
    assert '"""a,"b"' not in emit('write_text("t.csv", """a,"b"\nx\\ty,2\n""")\n', "jax")  # a tab: written with escapes
    assert 'write_text("""a,b\n1,2\n""")' in emit('write_text("t.csv", """a,b\n1,2\n""")\n', "jax")


def _walk(node):
    yield node
    for v in vars(node).values():
        for item in v if isinstance(v, list) else v.values() if isinstance(v, dict) else [v]:
            if hasattr(item, "__dict__") and not isinstance(item, type):
                yield from _walk(item)


def test_the_data_hub_holds_the_kaggle_files_and_the_stand_ins_have_their_columns(tmp_path) -> None:
    """Every CSV `download` accepts is a DATA_HUB entry with a SHA-1; the synthetic stand-ins have the published
    files' 81 and 80 columns, `Id` first and `SalePrice` last in the training file only."""
    from d2lc.build.sampledata import write_sample_data
    from d2lc.emit.assembly import shared_snippets
    from d2lc.core.layers import HUB_CSV
    hub = dict(shared_snippets())["download"]
    for name in HUB_CSV:
        assert re.search(rf'"{re.escape(name)}": \("https://[^"]+/{re.escape(name)}",\s*"sha1:[0-9a-f]{{40}}"\)', hub), name
    assert "kaggle_house_pred" in write_sample_data(tmp_path)
    train = list(csv.reader((tmp_path / "kaggle_house_pred_train.csv").open()))
    test = list(csv.reader((tmp_path / "kaggle_house_pred_test.csv").open()))
    assert (len(train[0]), len(test[0])) == (81, 80)
    assert train[0][0] == test[0][0] == "Id" and train[0][-1] == "SalePrice" and train[0][1:-1] == test[0][1:]
    assert all(len(r) == 81 for r in train) and any("NA" in r for r in train)


def test_the_notebook_recorder_reads_a_numpy_float_as_a_number() -> None:
    """A column's mean is a NumPy float64, a float subclass whose repr (`np.float64(...)`) is no number: the notebook
    comparison records its value (it stopped with an internal error on the pandas section)."""
    import numpy as np
    from d2lc.harness.nbexec import Recorder
    assert Recorder(None).value(np.float64(137900.0)) == {"float": "137900.0"}
