"""The framework-neutral op set: each op's spec (signature, shape/dtype rule, spellings, and the facts
later stages need) defined once, in `table.py`.

Backends map these op names to emission rules; the harness draws inputs from the same specs.
"""
from d2lc.core.ops.spec import REQUIRED, Ctx, OpSpec, OpTypeError, P, shape_error
from d2lc.core.ops.table import ATTRIBUTES, FUNCTIONS, METHODS, SPECS

__all__ = ["ATTRIBUTES", "FUNCTIONS", "METHODS", "REQUIRED", "SPECS", "Ctx", "OpSpec", "OpTypeError", "P", "shape_error"]
