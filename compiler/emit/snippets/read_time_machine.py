def read_time_machine(root=None):
    """The raw text of H. G. Wells' The Time Machine, as the data hub keeps it."""
    return download("timemachine.txt", root).read_text(encoding="utf-8")
