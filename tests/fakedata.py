"""Small data files in real formats (they live in the harness now: `d2lc test` runs the notebooks on them)."""
from d2lc.harness.fakedata import write_fashion_mnist, write_idx_images, write_idx_labels, write_time_machine

__all__ = ["write_fashion_mnist", "write_idx_images", "write_idx_labels", "write_time_machine"]
