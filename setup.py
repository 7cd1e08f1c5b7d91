"""Package layout: `compiler/` installs as `d2lc`, `grammar/` as `d2lc.grammar`, `targets/` as `d2lc_targets`.

Packages are discovered from the folders, so a new backend is a new folder under targets/ plus
its entry point in pyproject.toml.
"""
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
MAPPING = {"d2lc": "compiler", "d2lc.grammar": "grammar", "d2lc_targets": "targets"}


def packages() -> list[str]:
    found = []
    for name, folder in MAPPING.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            if "templates" in rel.parts:
                continue
            found.append(".".join([name, *rel.parts]) if rel.parts else name)
    return found


setup(
    packages=packages(),
    package_dir={name: folder for name, folder in MAPPING.items()},
)
