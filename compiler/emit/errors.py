"""The error a backend raises when it cannot emit something: it carries the diagnostic to show."""
from __future__ import annotations

from d2lc.core.diagnostics import Diagnostic


class EmitError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
