"""The core: the typed IR, dtypes and shapes, diagnostics, and the op and layer specs every stage reads."""
