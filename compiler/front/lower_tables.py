"""Lowering of tables: CSV files read with pandas (a DataFrame on every target) and what the data lessons do with
them: `write_text`, `read_csv`, column selection, `.iloc`, `fillna`, `mean`/`std`, `select_dtypes`, `get_dummies`,
`concat`, arithmetic between tables and numbers, `.shape`, and `tensor(df, dtype=...)`, the one way to a tensor.

A table's rows and columns are known only when the notebook runs, so the checker types a table as `table` (or
`table column`, a Series) and refuses it wherever a tensor is needed, pointing at `tensor(df, dtype=float32)`."""
from __future__ import annotations

from dataclasses import dataclass

from d2lc.front import ast as A
from d2lc.front.lower_base import TO_TENSOR, LowererBase, article
from d2lc.core import ir
from d2lc.core.diagnostics import did_you_mean
from d2lc.core.ir import static_value
from d2lc.core.layers import HUB_CSV
from d2lc.core.types import (ANY, BOOL, DEFAULT_FLOAT, INT, NONE, AnyType, DType, OpaqueType, ScalarType, SeqType, TableType,
                             TensorType, Type, is_str)

TABLE_CALLS = ("read_csv", "write_text", "get_dummies", "download")
TABLE_METHODS = {"fillna": "df.fillna(value)", "mean": "df.mean()", "std": "df.std()", "head": "df.head(n=5)",
                 "select_dtypes": 'df.select_dtypes(include=None, exclude=None)'}
TABLE_ATTRIBUTES = ("shape", "iloc")
TABLE_BINOPS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}
DTYPE_KINDS = ("number", "object", "bool", "float", "int", "category")
PATH = OpaqueType("path")


@dataclass
class Lowered(A.Node):
    """An AST position whose expression is already lowered (so that a second look at it reports nothing twice)."""

    ir: ir.Expr


def is_table(t: Type) -> bool:
    return isinstance(t, TableType)


class TableLowering(LowererBase):
    """Mixed into the Lowerer: the table built-ins, methods, attributes, subscripts and operators."""

    # ---- built-ins ---------------------------------------------------------------------------
    def expr_Lowered(self, e: Lowered) -> ir.Expr:
        return e.ir

    def table_call(self, e: A.Call, name: str) -> ir.Expr:
        if name == "download":
            for a in e.args:
                self.expr(a)
            return self.error(e.loc, "`download` names a data file only as the argument of `read_csv`",
                              expected='read_csv(download("kaggle_house_pred_train.csv"))',
                              hint="read the downloaded file with read_csv(download(...))")
        if name == "get_dummies":
            return self._get_dummies(e)
        if self.current_model is not None or self.scope is not self.globals:
            for a in e.args:
                self.expr(a)
            return self.error(e.loc, f"`{name}` stands at the top level of a chapter, outside `def` and `model`",
                              expected=f"{name}(...) at the top level", hint="read and write files at the top level")
        if name == "write_text":
            return self._write_text(e)
        if len(e.args) != 1 or e.kwargs:
            for a in e.args:
                self.expr(a)
            return self.error(e.loc, "`read_csv` takes one argument, the file", expected='read_csv("data.csv")',
                              hint='name the file with a string literal, or a data hub file with download("...")')
        arg = e.args[0]
        if isinstance(arg, A.Call) and isinstance(arg.func, A.Name) and arg.func.id == "download" \
                and self.scope.lookup("download") is None:
            path = self._download(arg)
        else:
            path = self.expr(arg)
            if isinstance(path.type, AnyType):
                return ir.Const(ANY, e.loc, None)
            if not (isinstance(path, ir.Const) and isinstance(path.value, str) and path.value):
                return self.error(path.loc, "`read_csv` names its file with a string literal or `download(...)`",
                                  expected='read_csv("data.csv")', hint="write the file name in quotes")
        if path is None:
            return ir.Const(ANY, e.loc, None)
        return ir.Op(TableType(), e.loc, "table_read_csv", {"path": path})

    def _download(self, e: A.Call) -> ir.Expr | None:
        name = self.expr(e.args[0]) if len(e.args) == 1 and not e.kwargs else None
        if name is None or not (isinstance(name, ir.Const) and isinstance(name.value, str)):
            self.error(e.loc, "`download` takes the name of one data hub file, a string literal",
                       expected='download("kaggle_house_pred_train.csv")', hint="one of: " + ", ".join(HUB_CSV))
            return None
        if name.value not in HUB_CSV:
            self.error(name.loc, f'"{name.value}" is not a CSV file of the data hub', expected="one of: " + ", ".join(HUB_CSV),
                       hint=did_you_mean(name.value, HUB_CSV) or "read a file of your own with read_csv(\"path.csv\")")
            return None
        return ir.Op(PATH, e.loc, "table_download", {"name": name})

    def _write_text(self, e: A.Call) -> ir.Expr:
        args = [self.expr(a) for a in e.args]
        if len(args) != 2 or e.kwargs or not all(isinstance(a, ir.Const) and isinstance(a.value, str) for a in args):
            return self.error(e.loc, "`write_text` takes a file name and its text, two string literals",
                              expected='write_text("tiny.csv", """a,b\\n1,2\\n""")',
                              hint='a multi-line text is written between triple quotes: """..."""')
        if not args[0].value or "/" in args[0].value or "\\" in args[0].value:
            return self.error(args[0].loc, "`write_text` writes a file of the notebook's folder: a name without folders",
                              expected='a file name such as "house_tiny.csv"', hint="drop the folder from the name")
        return ir.Op(NONE, e.loc, "table_write_text", {"path": args[0], "text": args[1]})

    def _get_dummies(self, e: A.Call) -> ir.Expr:
        x = self.expr(e.args[0]) if e.args else None
        kwargs = {k.name: self.expr(k.value) for k in e.kwargs}
        sig = "get_dummies(df, dummy_na=False)"
        if x is None or len(e.args) > 1:
            return self.error(e.loc, "`get_dummies` takes one table", expected=sig, hint="pass the dummy_na flag by name")
        if isinstance(x.type, AnyType):
            return ir.Const(ANY, e.loc, None)
        if not is_table(x.type):
            return self.error(x.loc, f"`get_dummies` one-hot encodes the columns of a table, got {article(x.type)}",
                              expected=sig, hint="read the table with read_csv(...); a tensor of class ids is one-hot "
                              "encoded with `one_hot`")
        for k, v in kwargs.items():
            if k != "dummy_na":
                return self.error(v.loc, f"`get_dummies` has no parameter `{k}`", expected=sig,
                                  hint=did_you_mean(k, ["dummy_na"]) or "dummy_na=True adds a column for missing values")
            if not isinstance(static_value(v), bool):
                return self.error(v.loc, "`dummy_na` must be True or False", expected="dummy_na=True")
        return ir.Op(TableType(), e.loc, "table_get_dummies", {"x": x, "dummy_na": kwargs.get("dummy_na")})

    def table_concat(self, e: A.Call, first: ir.Seq) -> ir.Expr:
        """`concat([df1, df2], axis=0)` of tables (`first`: the list, lowered)."""
        items = first.items
        sig = "concat([df1, df2], axis=0)"
        for i in items:
            if not is_table(i.type) and not isinstance(i.type, AnyType):
                return self.error(i.loc, f"`concat` joins tables or tensors, not a table and {article(i.type)}",
                                  expected="tables only", hint=TO_TENSOR if isinstance(i.type, TensorType) else None)
        axis = None
        for k in e.kwargs:
            v = self.expr(k.value)
            if k.name != "axis" or static_value(v) not in (0, 1):
                return self.error(k.loc, "`concat` of tables takes `axis=0` (rows) or `axis=1` (columns)", expected=sig)
            axis = v
        if len(e.args) > 1:
            return self.error(e.args[1].loc, "pass the axis by name", expected=sig)
        column = all(isinstance(i.type, TableType) and i.type.column for i in items) and static_value(axis) in (None, 0)
        return ir.Op(TableType(column), e.loc, "table_concat", {"xs": first, "axis": axis})

    def table_to_tensor(self, e: A.Call, x: ir.Expr) -> ir.Expr:
        """`tensor(df, dtype=float32)`: the table's values as a tensor (every column must hold numbers or bools)."""
        dtype = None
        for k in e.kwargs:
            v = self.expr(k.value)
            if k.name != "dtype" or not (isinstance(v, ir.Const) and isinstance(v.value, DType)):
                return self.error(k.loc, "`tensor` of a table takes only `dtype=`", expected="tensor(df, dtype=float32)",
                                  hint="write the dtype name without quotes")
            dtype = v.value
        if len(e.args) > 1:
            return self.error(e.args[1].loc, "pass the dtype by name", expected="tensor(df, dtype=float32)")
        dtype = dtype or DEFAULT_FLOAT
        shape = (None,) if x.type.column else (None, None)  # type: ignore[union-attr]
        return ir.Op(TensorType(dtype, shape), e.loc, "table_to_tensor",
                     {"x": x, "dtype": ir.Const(ScalarType("dtype"), e.loc, dtype)})

    # ---- methods, attributes, subscripts, operators ---------------------------------------------
    def table_method(self, base: ir.Expr, f: A.Attribute, e: A.Call) -> ir.Expr:
        args = [self.expr(a) for a in e.args]
        kwargs = {k.name: self.expr(k.value) for k in e.kwargs}
        name, column = f.attr, base.type.column  # type: ignore[union-attr]
        if name not in TABLE_METHODS:
            return self.error(f.loc, f"{article(base.type)} has no method `.{name}`",
                              expected="one of: " + ", ".join(f".{m}()" for m in TABLE_METHODS),
                              hint=did_you_mean(name, TABLE_METHODS) or "a table is not a tensor; " + TO_TENSOR)
        sig = TABLE_METHODS[name]
        allowed = {"fillna": ("value",), "mean": (), "std": (), "head": ("n",), "select_dtypes": ("include", "exclude")}[name]
        if len(args) > len(allowed) or any(k not in allowed for k in kwargs):
            return self.error(e.loc, f"`.{name}` takes ({', '.join(allowed)})", expected=sig,
                              hint="the table methods mirror pandas with the arguments the data lessons need")
        given = dict(zip(allowed, args)) | kwargs
        if name in ("mean", "std"):  # per column; pandas 2 needs numeric_only=True on a table that holds text
            return ir.Op(ScalarType("float") if column else TableType(True), e.loc, "table_" + name, {"x": base})
        if name == "head":
            n = given.get("n")
            if n is not None and not (isinstance(n.type, ScalarType) and n.type.kind == "int"):
                return self.error(n.loc, f"`.head` takes a number of rows, got {article(n.type)}", expected=sig)
            return ir.Op(base.type, e.loc, "table_head", {"x": base, "n": n})
        if name == "fillna":
            v = given.get("value")
            if v is None:
                return self.error(e.loc, "`.fillna` needs the value to fill in", expected=sig,
                                  hint="a number, or the column means: df.fillna(df.mean())")
            if not (isinstance(v.type, ScalarType) and v.type.kind in ("int", "float", "str") or is_table(v.type)
                    and v.type.column or isinstance(v.type, AnyType)):  # type: ignore[union-attr]
                return self.error(v.loc, f"`.fillna` fills in a number, a string or a column per column, got {article(v.type)}",
                                  expected=sig, hint="fill in one number, or each column's mean: df.fillna(df.mean())")
            return ir.Op(base.type, e.loc, "table_fillna", {"x": base, "value": v})
        if column:
            return self.error(f.loc, "`.select_dtypes` selects the columns of a table, not of a column", expected=sig)
        for k, v in given.items():
            if not (isinstance(v, ir.Const) and v.value in DTYPE_KINDS):
                return self.error(v.loc, f"`{k}=` names a kind of column", expected="one of: " + ", ".join(f'"{d}"' for d in DTYPE_KINDS),
                                  hint='"number" selects the numeric columns, exclude="number" the others')
        if not given:
            return self.error(e.loc, "`.select_dtypes` needs `include` or `exclude`", expected='df.select_dtypes("number")')
        return ir.Op(TableType(), e.loc, "table_select_dtypes", {"x": base, "include": given.get("include"),
                                                                 "exclude": given.get("exclude")})

    def table_attribute(self, base: ir.Expr, e: A.Attribute) -> ir.Expr:
        if e.attr == "shape":
            shape = SeqType((INT,) if base.type.column else (INT, INT))  # type: ignore[union-attr]
            return ir.Op(shape, e.loc, "table_shape", {"x": base})
        if e.attr == "iloc":
            return self.error(e.loc, "`.iloc` is indexed by position", expected="df.iloc[rows, columns]",
                              hint="e.g. df.iloc[:, 0:2] for the first two columns")
        if e.attr in TABLE_METHODS:
            return self.error(e.loc, f"`.{e.attr}` is a method; call it", expected=f".{e.attr}(...)")
        return self.error(e.loc, f"{article(base.type)} has no attribute `.{e.attr}`",
                          expected="one of: " + ", ".join(f".{a}" for a in TABLE_ATTRIBUTES),
                          hint="a table is not a tensor; " + TO_TENSOR)

    def table_subscript(self, base: ir.Expr, e: A.Subscript) -> ir.Expr:
        """`df["Price"]` (a column) and `df[["a", "b"]]` (a table of those columns)."""
        if base.type.column:  # type: ignore[union-attr]
            return self.error(e.loc, "a table column is indexed by position with `.iloc`", expected="col.iloc[0:4]")
        if len(e.index) != 1 or isinstance(e.index[0], (A.Slice, A.EllipsisLit)):
            return self.error(e.loc, "a table's columns are selected by name", expected='df["Price"] or df[["a", "b"]]',
                              hint="select rows and columns by position with df.iloc[rows, columns]")
        key = self.expr(e.index[0])
        if isinstance(key, ir.Const) and is_str(key.type):
            return ir.Op(TableType(True), e.loc, "table_columns", {"x": base, "key": key})
        if isinstance(key, ir.Seq) and key.items and all(isinstance(i, ir.Const) and is_str(i.type) for i in key.items):
            return ir.Op(TableType(), e.loc, "table_columns", {"x": base, "key": key})
        return self.error(key.loc, f"a table's columns are selected by name, got {article(key.type)}",
                          expected='a string literal, or a list of them: df["Price"], df[["a", "b"]]',
                          hint="select by position with df.iloc[rows, columns]")

    def table_iloc(self, base: ir.Expr, e: A.Subscript) -> ir.Expr:
        """`df.iloc[rows, columns]`: ints, slices of ints, or lists of ints; an int on one axis gives a column."""
        column = base.type.column  # type: ignore[union-attr]
        if len(e.index) > (1 if column else 2):
            return self.error(e.loc, f"`.iloc` of a {'column' if column else 'table'} takes at most "
                              f"{'one index' if column else 'two indices, rows and columns'}", expected="df.iloc[rows, columns]")
        items: list = []
        for node in e.index:
            if isinstance(node, A.Slice):
                parts = [self.expr(p) if p is not None else None for p in (node.start, node.stop, node.step)]
                bad = next((p for p in parts if p is not None and not _int(p.type)), None)
                if bad is not None:
                    return self.error(bad.loc, f"`.iloc` slices by position, got {article(bad.type)}", expected="ints",
                                      hint="columns are selected by name with df[\"name\"]")
                items.append(ir.IndexSlice(*parts))
                continue
            idx = self.expr(node)
            ok = _int(idx.type) or isinstance(idx, ir.Seq) and idx.items and all(_int(i.type) for i in idx.items)
            if not ok:
                return self.error(idx.loc, f"`.iloc` selects by position: ints, slices or lists of ints, got {article(idx.type)}",
                                  expected="df.iloc[0:4, [0, -1]]", hint="columns are selected by name with df[\"name\"]")
            items.append(idx)
        ints = sum(1 for i in items if not isinstance(i, ir.IndexSlice) and not isinstance(i, ir.Seq))
        if ints == len(items) and items and (column or len(items) == 2):
            return self.error(e.loc, "`.iloc` with only ints selects one cell", expected="a slice on one axis at least: df.iloc[0:1, 2]",
                              hint="convert the table to a tensor and index that")
        return ir.Op(TableType(column or ints == 1), e.loc, "table_iloc", {"x": base, "index": items})

    def table_binop(self, op: str, x: ir.Expr, y: ir.Expr, loc) -> ir.Expr:
        if op not in TABLE_BINOPS:
            return self.error(loc, "tables support only + - * / with numbers, columns and tables",
                              expected="(df - df.mean()) / df.std()", hint="a table is not a tensor; " + TO_TENSOR)
        for v in (x, y):
            if isinstance(v.type, AnyType):
                return ir.Const(ANY, loc, None)
            if not (is_table(v.type) or isinstance(v.type, ScalarType) and v.type.kind in ("int", "float")):
                return self.error(v.loc, f"a table and {article(v.type)} do not combine",
                                  expected="a table, a table column or a number on each side",
                                  hint="a table is not a tensor; " + TO_TENSOR)
        column = all(not is_table(v.type) or v.type.column for v in (x, y))
        return ir.Op(TableType(column), loc, "table_binop", {"x": x, "y": y, "op": op})


def _int(t: Type) -> bool:
    return isinstance(t, ScalarType) and t.kind == "int" or isinstance(t, AnyType)


__all__ = ["TABLE_CALLS", "HUB_CSV", "TO_TENSOR", "TableLowering", "is_table", "BOOL"]
