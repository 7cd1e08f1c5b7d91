"""Code emission: the rule vocabulary backends use in their op tables, and the shared libcst emitter."""
