"""Lowering of files: `save(x, "x-file")` and `load("x-file")` of tensors (and tuples or lists of them), and
`save_params(net, "mlp.params")` / `load_params(clone, "mlp.params")` of a model's parameters.

A file is named by a string literal, so that the checker knows what it holds: `load` gives the type its `save` had
earlier in the chapter, and `load_params` takes an instance of the model whose parameters were saved."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import TO_TENSOR, LowererBase
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.types import ANY, NONE, STR, AnyType, ListType, ModelType, SeqType, TableType, TensorType, Type

FILE_CALLS = ("save", "load", "save_params", "load_params")
SIGNATURES = {"save": 'save(x, "x-file")', "load": 'x2 = load("x-file")', "save_params": 'save_params(net, "mlp.params")',
              "load_params": 'load_params(clone, "mlp.params")'}


def _savable(t: Type) -> bool:
    """A tensor, or a tuple or list of tensors."""
    if isinstance(t, TensorType):
        return True
    if isinstance(t, SeqType):
        return bool(t.items) and all(isinstance(i, TensorType) for i in t.items)
    return isinstance(t, ListType) and isinstance(t.elem, TensorType)


class FileLowering(LowererBase):
    """Mixed into the Lowerer: the four file calls, and what each file of the chapter holds."""

    def file_call(self, e: A.Call, name: str) -> ir.Expr:
        files = self.files
        arity = 1 if name == "load" else 2
        if len(e.args) != arity or e.kwargs:
            for a in e.args:
                self.expr(a)
            return self.error(e.loc, f"`{name}` takes {arity} argument{'s' if arity > 1 else ''}",
                              expected=SIGNATURES[name], hint="name the file with a string literal")
        path = self.expr(e.args[-1])
        if not (isinstance(path, ir.Const) and isinstance(path.value, str) and path.value):
            return self.error(path.loc, f"`{name}` names its file with a string literal", expected=SIGNATURES[name],
                              hint="write the file name in quotes: the compiler reads from it what the file holds")
        if self.current_model is not None or self.scope is not self.globals:
            for a in e.args[:-1]:
                self.expr(a)
            return self.error(e.loc, f"`{name}` stands at the top level of a chapter, outside `def` and `model`",
                              expected=SIGNATURES[name], hint="save or load the tensor at the top level and pass it to the function")
        if name == "load":
            saved = files.get(path.value)
            if saved is None or saved[0] != "tensor":
                return self.error(path.loc, f'nothing is saved to "{path.value}" with `save` before this line',
                                  expected=f'save(x, "{path.value}") earlier in the chapter',
                                  hint="`load` gives back what `save` wrote: save the value first"
                                  if saved is None else "a model's parameters are read back with `load_params(clone, ...)`")
            return ir.Op(saved[1], e.loc, "load", {"path": path})
        if name == "save":
            x = self.expr(e.args[0])
            if isinstance(x.type, AnyType):
                return ir.Const(ANY, e.loc, None)
            if not _savable(x.type):
                return self.error(x.loc, f"`save` writes a tensor or a tuple or list of tensors, got {x.type}",
                                  expected=SIGNATURES[name], hint="save a model's parameters with `save_params(net, ...)`"
                                  if isinstance(x.type, ModelType) else TO_TENSOR if isinstance(x.type, TableType)
                                  else "put the tensors into a tuple: save((x, y), ...)")
            self._record(files, path, ("tensor", x.type, e.loc))
            return ir.Op(NONE, e.loc, "save", {"x": x, "path": path})
        return self._params_file(e, name, files, path)

    def _params_file(self, e: A.Call, name: str, files: dict, path: ir.Const) -> ir.Expr:
        net = self.expr(e.args[0])
        if isinstance(net.type, AnyType):
            return ir.Const(ANY, e.loc, None)
        if not (isinstance(net, ir.Var) and isinstance(net.type, ModelType) and not net.type.is_class):
            return self.error(net.loc, f"`{name}` takes a model instance, got {net.type}", expected=SIGNATURES[name],
                              hint="assign the model to a name first (net = MLP()); a tensor is saved with `save`")
        if self.current_model is not None or self.scope is not self.globals or self._in_loop:
            return self.error(e.loc, f"`{name}` stands at the top level of a chapter", expected=SIGNATURES[name],
                              hint="save and load parameters outside `def`, `model`, loops and branches")
        built = self._hyperparameters(net)
        if name == "save_params":
            self._record(files, path, ("params", net.type, e.loc, built))
        else:
            saved = files.get(path.value)
            if saved is None or saved[0] != "params":
                return self.error(path.loc, f'no parameters are saved to "{path.value}" with `save_params` before this line',
                                  expected=f'save_params(net, "{path.value}") earlier in the chapter',
                                  hint="save a model's parameters first" if saved is None
                                  else "a tensor is read back with `load`")
            if saved[1] != net.type:
                return self.error(net.loc, f'"{path.value}" holds the parameters of {saved[1]}, but `{net.name}` is {net.type}',
                                  expected=f"an instance of {saved[1].name} (clone = {saved[1].name}(...))",
                                  hint="load parameters into a fresh instance of the model that saved them")
            if built is None or saved[3] is None or built != saved[3]:
                return self.error(net.loc, f'`{net.name}` is not built with the hyperparameters of the model whose '
                                  f'parameters "{path.value}" holds (line {saved[2].line})',
                                  expected="the same hyperparameters, written as values (clone = MLP(256))",
                                  hint="the parameters' shapes follow the hyperparameters: build the clone as the saved model was")
        return ir.ParamsFile(NONE, e.loc, net, path, name == "load_params")

    def _hyperparameters(self, net: ir.Var) -> tuple | None:
        """The values the instance `net` was built with (None where one is known only at run time)."""
        inst = getattr(self.scope.lookup(net.name), "instance", None)
        if not isinstance(inst, ir.NewModel):
            return None
        model = self.models.get(inst.model)
        if model is None:
            return None
        given = dict(zip([h.name for h in model.hparams], inst.args)) | inst.kwargs
        values = tuple(static_value(given.get(h.name, h.default)) for h in model.hparams)
        return None if any(v is None for v in values) else values

    def _record(self, files: dict, path: ir.Const, entry: tuple) -> None:
        """What `path` holds from here on; a second save must hold the same kind of value (one type per file)."""
        old = files.get(path.value)
        if old is not None and old[:2] != entry[:2]:
            self.error(path.loc, f'"{path.value}" already holds {old[1]} (saved at line {old[2].line})',
                       expected=f"a value of type {old[1]}", hint="save different values to different files")
            return
        files[path.value] = entry


__all__ = ["FILE_CALLS", "FileLowering", "STR"]
