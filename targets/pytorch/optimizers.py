"""PyTorch's optimizers: the language's update rules are `torch.optim`'s, with its defaults, so an optimizer is
`torch.optim.<Name>(params, ...)` with the arguments the author gave (a zero momentum or weight decay left out)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.lambdas import capture_free_lambda
from d2lc.emit.model_code import EQ
from d2lc.emit.optimizers import nonzero

CLASSES = {"SGD": "SGD", "Adam": "Adam", "AdamW": "AdamW", "RMSProp": "RMSprop", "Adagrad": "Adagrad"}
OPTIONAL = ("momentum", "weight_decay")  # off when 0: not written


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """`lambda params: torch.optim.<Name>(params, lr=..., ...)`: the train helper passes the model's parameters."""
    kw = {k: (nonzero(c, k) if k in OPTIONAL and c.kind == "SGD" else v) for k, v in c.args.items()}
    args = [cst.Arg(em.expr(v), keyword=cst.Name(k), equal=EQ) for k, v in kw.items() if v is not None]
    return capture_free_lambda(["params"], lambda params: cst.Call(cst.parse_expression(f"torch.optim.{CLASSES[c.kind]}"),
                                                                   [cst.Arg(params), *args]))

