"""The web book: MyST pages with one tab per target, built by Sphinx with sphinx-design."""
