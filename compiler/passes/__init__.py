"""Passes over the typed IR: gradient slicing, aliasing, features, reserved-name renaming; the pipeline that runs them."""
