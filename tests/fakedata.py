"""The sample data writers, under the name the tests import."""
from d2lc.sampledata import write_fashion_mnist, write_time_machine

__all__ = ["write_fashion_mnist", "write_time_machine"]
