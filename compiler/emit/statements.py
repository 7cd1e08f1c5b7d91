"""The statement walker: IR statements to libcst statements, with the public hooks a backend overrides.

For each statement `stmt` calls, in order: `before_stmt(s)`; `bind(s)` when s binds a name
(`x = ...`, `x[i] = ...`); `emit_stmt(s)`, a backend's own code for s (None: the shared code); for a
loop or branch, `enter_block(s)` before its code and `leave_block(s, code)` after it; and last
`after_stmt(s, code)`. The walker counts the loops and branches it is inside (`block_depth`,
`loop_depth`), and knows whether it is inside a function (`in_function`) or a model (`in_model`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.types import TensorType
from d2lc.passes.analysis import VIEW_OPS, grads_in
from d2lc.emit.comments import member_comments, with_comments
from d2lc.emit.reads import is_part_read, to_canonical
from d2lc.emit.rules import call

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend


class Statements:
    """Walks statements; `pre` collects what the statement being emitted needs before it (a tape, a helper)."""

    backend: "Backend"
    block_depth = 0  # loops and branches around the statement being emitted
    loop_depth = 0  # loops around it
    in_function: ir.FuncDef | None = None
    in_model = False
    current_stmt: ir.Stmt | None = None
    current_model: ir.ModelDef | None = None

    # ---- hooks a backend overrides -------------------------------------------------------------
    def before_stmt(self, s: ir.Stmt) -> None:
        """Called first for every statement (bookkeeping that must not wait for the statement's kind)."""

    def bind(self, s: ir.Assign | ir.IndexAssign) -> None:
        """Called before a statement that binds `s.name` is emitted: what was known of the old value goes."""

    def emit_stmt(self, s: ir.Stmt) -> list[cst.BaseStatement] | None:
        """A backend's own code for `s`, or None for the shared code."""
        return None

    def enter_block(self, s: ir.For | ir.If) -> None:
        """Called before a loop or branch is emitted (`block_depth` counts it from just after this)."""

    def leave_block(self, s: ir.For | ir.If, code: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Called with a loop's or branch's code once it is made; returns it (statements may go before it)."""
        return code

    def after_stmt(self, s: ir.Stmt, code: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Called last with a statement's code; returns it (statements may go after it)."""
        return code

    # ---- the walk ------------------------------------------------------------------------------
    def stmt(self, s: ir.Stmt) -> list[cst.BaseStatement]:
        saved, self.pre = self.pre, []
        saved_stmt, self.current_stmt = self.current_stmt, s
        try:
            body = self._walk(s)
            lead = self.pre
            if saved_stmt is None:  # the outermost statement: the helpers its code needs are defined before it
                lead, self.helper_defs = self.helper_defs + lead, []
            return with_comments(lead, body, s.comments)
        finally:
            self.pre, self.current_stmt = saved, saved_stmt

    def _walk(self, s: ir.Stmt) -> list[cst.BaseStatement]:
        self.before_stmt(s)
        if isinstance(s, (ir.Assign, ir.IndexAssign)):
            self.bind(s)
        elif isinstance(s, ir.Unpack):  # each name is bound anew, as by `name = ...`
            for name in s.names:
                self.bind(ir.Assign(s.loc, name, s.value))
        code = self.emit_stmt(s)
        if code is None:
            code = self._block(s) if isinstance(s, (ir.For, ir.If)) else self.shared_stmt(s)
        return self.after_stmt(s, code)

    def _block(self, s: ir.For | ir.If) -> list[cst.BaseStatement]:
        self.enter_block(s)
        loop = isinstance(s, ir.For)
        self.block_depth += 1
        self.loop_depth += loop
        try:
            code = self.for_loop(s) if loop else [self.if_stmt(s)]
        finally:
            self.block_depth -= 1
            self.loop_depth -= loop
        return self.leave_block(s, code)

    def shared_stmt(self, s: ir.Stmt) -> list[cst.BaseStatement]:
        """The code every backend shares for a statement other than a loop or a branch."""
        if isinstance(s, ir.Assign):
            out = [self.assign(s.name, self.expr(s.value))]
            if self.modules_start_in_training_mode and not (self.in_model or self.in_function) \
                    and self.acts_differently_in_training(s.value) and self.called_for_inference(s.name):
                out.append(cst.SimpleStatementLine([cst.Expr(call(f"{s.name}.eval"))]))
            return out
        if isinstance(s, ir.IndexAssign):
            return self.index_assign(s)
        if isinstance(s, ir.Unpack):  # a minibatch read by hand is in the DSL's layout at once (emit/reads)
            extra = to_canonical(self, s.value, s.names[0]) if is_part_read(s.value) else []
            return [self.unpack(s), *extra]
        if isinstance(s, ir.ExprStmt):
            return self.expr_statement(s)
        if isinstance(s, ir.Pass):
            return [cst.SimpleStatementLine([cst.Pass()])]
        if isinstance(s, ir.Jump):
            return [cst.SimpleStatementLine([cst.Break() if s.kind == "break" else cst.Continue()])]
        if isinstance(s, ir.Return):
            return [cst.SimpleStatementLine([cst.Return(self.bare(self.expr(s.value)) if s.value is not None else None)])]
        if isinstance(s, ir.FuncDef):
            return [self.funcdef(s)]
        if isinstance(s, ir.ModelDef):
            saved, self.in_model = self.in_model, True
            self.current_model = s
            try:
                return member_comments(self.model_def(s), s)
            finally:
                self.in_model = saved
                self.current_model = None
        if isinstance(s, ir.Train):
            return self.train(s)
        if isinstance(s, ir.ParamWrite):
            return self.param_write(s)
        raise TypeError(f"cannot emit {type(s).__name__}")

    def for_loop(self, s: ir.For) -> list[cst.BaseStatement]:
        copies = self.loop_copies(s)
        self.copied_writes |= {id(w) for ws in copies.values() for w in ws}
        before = [self.copy_of(n, ws[0].target_type, ws[0].loc) for n, ws in copies.items()]
        if isinstance(s, ir.StepLoop):  # a hand-written training loop: the target's own step (step_loops)
            return [*before, *self.step_loop(s)]
        if isinstance(s, ir.While):
            return [*before, cst.While(self.expr(s.iter), self.indented(self.block(s.body)))]
        it = self.range_expr(s.iter) if s.over_range else self.expr(s.iter)
        body = self.block(s.body)
        if is_part_read(s.iter):  # batches in the DSL's layout, also after the loop (emit/reads)
            body = [*to_canonical(self, s.iter, s.loop_vars[0]), *body]
        return [*before, cst.For(self.targets(s.loop_vars), it, self.indented(body))]

    def unpack(self, s: ir.Unpack) -> cst.SimpleStatementLine:
        """`a, b = value`."""
        return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(self.targets(s.names))], self.bare(self.expr(s.value)))])

    @staticmethod
    def targets(names: list[str]) -> cst.BaseAssignTargetExpression:
        """`x`, or `a, b` for an unpacking."""
        if len(names) == 1:
            return cst.Name(names[0])
        return cst.Tuple([cst.Element(cst.Name(n)) for n in names], lpar=[], rpar=[])

    @staticmethod
    def bare(code: cst.BaseExpression) -> cst.BaseExpression:
        """A tuple display without its parentheses, as Python writes `return a, b` and `a, b = b, a`."""
        if isinstance(code, cst.Tuple) and len(code.elements) > 1:
            return code.with_changes(lpar=[], rpar=[])
        return code

    def if_stmt(self, s: ir.If) -> cst.If:
        orelse = None
        if s.orelse:
            if len(s.orelse) == 1 and isinstance(s.orelse[0], ir.If):
                orelse = self.if_stmt(s.orelse[0])
            else:
                orelse = cst.Else(self.indented(self.block(s.orelse)))
        return cst.If(self.expr(s.cond), self.indented(self.block(s.body)), orelse)

    def range_expr(self, it: ir.Expr) -> cst.BaseExpression:
        if not (isinstance(it, ir.Op) and it.op == "range"):  # `for blk in blocks:` over a model's layer list
            return self.expr(it)
        return cst.Call(cst.Name("range"), [cst.Arg(self.expr(v)) for v in it.args.values() if v is not None])

    def funcdef(self, f: ir.FuncDef) -> cst.FunctionDef:
        outer, self.in_function = self.in_function, f
        saved_grads, self.grad_seen = self.grad_seen, set()
        try:
            params = [cst.Param(cst.Name(p.name), default=self.expr(p.default) if p.default is not None else None)
                      for p in f.params]
            body = self.block(f.body)
        finally:
            self.in_function = outer
            self.grad_seen = saved_grads
        return cst.FunctionDef(cst.Name(f.name), cst.Parameters(params), self.indented(body))

    def block(self, stmts: list[ir.Stmt]) -> list[cst.BaseStatement]:
        return self.sequence(stmts) or [cst.SimpleStatementLine([cst.Pass()])]

    def sequence(self, stmts: list[ir.Stmt]) -> list[cst.BaseStatement]:
        """Statements in order; a run that a later grad records in place goes through `record`."""
        out: list[cst.BaseStatement] = []
        i = 0
        while i < len(stmts):
            g = self.recorded_runs.get(id(stmts[i]))
            end = i + len(g.slice) if g is not None else i
            if g is not None and end < len(stmts) and any(e is g for e in grads_in(stmts[end])) \
                    and not any(isinstance(e, ir.Grad) for e in ir.walk_exprs(g.y)):
                self.follows_run.add(id(g))  # the grad is in the very next statement: y may be computed with the run
            if g is not None and self.records_inplace(g):
                out.extend(self.record(g, [s for s in self.slice_code(g)]))
                self.recorded.add(id(g))
                i += len(g.slice)
                continue
            out.extend(self.stmt(stmts[i]))
            i += 1
        return out

    def indented(self, stmts: list[cst.BaseStatement]) -> cst.IndentedBlock:
        return cst.IndentedBlock(stmts or [cst.SimpleStatementLine([cst.Pass()])])

    def assign(self, name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
        return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], value)])

    def expr_statement(self, s: ir.ExprStmt) -> list[cst.BaseStatement]:
        return [cst.SimpleStatementLine([cst.Expr(self.expr(s.value))])]

    # ---- element writes ------------------------------------------------------------------------
    def index_assign(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        target = self.subscript(cst.Name(s.name), s.index)
        stmts = []
        if s.may_alias and id(s) not in self.copied_writes:
            stmts.append(self.copy_of(s.name, s.target_type, s.loc))
        stmts.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], self.assign_value(s))]))
        return stmts

    def copy_of(self, name: str, type_, loc) -> cst.BaseStatement:
        """`name = name.clone()`: a tensor of its own before its elements are written."""
        node = ir.Op(type_, loc, "clone", {"x": ir.Var(type_, loc, name)})
        return self.assign(name, self.backend.ops["clone"].emit(self, node))

    def loop_copies(self, s: "ir.For") -> dict[str, list["ir.IndexAssign"]]:
        """The tensors a loop writes elements of that may share memory with another name only from before the
        loop (a function's parameter): one copy before the loop does, not one per pass. name -> its writes."""
        if self.backend.functional_updates:
            return {}
        inner = list(ir.walk_stmts(s.body))
        assigned = {n for b in inner if isinstance(b, (ir.Assign, ir.Unpack)) for n in ir.bound_names(b)} | set(s.loop_vars)

        def source(e):
            while isinstance(e, ir.Op) and e.op in VIEW_OPS:
                e = e.args["x"]
            return e.name if isinstance(e, ir.Var) else None

        shared_inside = {source(b.value) for b in inner if isinstance(b, ir.Assign)}  # `Z = Y` in the loop: copy per pass
        out: dict[str, list[ir.IndexAssign]] = {}
        for b in inner:
            if isinstance(b, ir.IndexAssign) and b.name not in assigned and b.name not in shared_inside \
                    and not self.writes_functionally(b):
                out.setdefault(b.name, []).append(b)
        return {n: ws for n, ws in out.items() if any(w.may_alias and id(w) not in self.copied_writes for w in ws)}

    def assign_value(self, s: ir.IndexAssign) -> cst.BaseExpression:
        v = s.value
        if isinstance(v, ir.Const) and isinstance(s.target_type, TensorType) and s.target_type.dtype.is_float and isinstance(v.value, int) \
                and not isinstance(v.value, bool):
            return self.literal(float(v.value))
        return self.expr(v)
