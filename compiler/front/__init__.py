"""The front end: chapter text -> cells -> parse tree -> AST -> typed IR (the lowering)."""
