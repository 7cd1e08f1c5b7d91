"""The line of a worker's error worth reporting: the exception, not the framework logs around it."""
from __future__ import annotations

import re

_LOG_LINE = re.compile(r"^([IWEF]\d{4} |\d{4}-\d\d-\d\d[ T]|WARNING: All log messages|oneDNN custom operations|To enable the following"
                       r"|•|Arguments received by)")


def error_headline(text: str) -> str:
    """The line of a worker's error that says what went wrong: the exception, not a framework's log line
    (TensorFlow prints oneDNN notices on stderr) nor the argument dump Keras appends to its exceptions."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _LOG_LINE.match(ln.strip())]
    named = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Failed|Exit)\b", ln) or "Error:" in ln]
    return named[-1] if named else lines[0] if lines else text.strip().splitlines()[-1] if text.strip() else ""
