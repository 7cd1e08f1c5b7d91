"""The sample data writers, under the name the tests import."""
from d2lc.build.sampledata import write_fashion_mnist, write_idx_images, write_idx_labels, write_time_machine

__all__ = ["write_fashion_mnist", "write_idx_images", "write_idx_labels", "write_time_machine"]
