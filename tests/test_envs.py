"""d2lc/build/envs.py: the one answer to "where is this environment's python", and its two overrides."""
from __future__ import annotations

import sys
from pathlib import Path

from d2lc.build.envs import env_python, python_for
from d2lc.emit.backend import get_backend


def _venv(folder: Path) -> Path:
    exe = folder / "bin" / "python"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    return exe


def test_main_is_the_running_interpreter(monkeypatch):
    monkeypatch.delenv("D2LC_PYTHON_MAIN", raising=False)
    monkeypatch.delenv("D2LC_ENV_MAIN", raising=False)
    assert env_python("main") == Path(sys.executable)
    assert python_for(get_backend("pytorch")) == Path(sys.executable)


def test_other_environments_are_found_in_the_working_folder_then_the_root(tmp_path, monkeypatch):
    monkeypatch.delenv("D2LC_PYTHON_TOYENV", raising=False)
    monkeypatch.delenv("D2LC_ENV_TOYENV", raising=False)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "root"
    assert env_python("toyenv", root) is None
    in_root = _venv(root / ".venv-toyenv")
    assert env_python("toyenv", root) == in_root
    here = _venv(tmp_path / ".venv-toyenv")
    assert env_python("toyenv", root) == here


def test_both_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("D2LC_ENV_TOYENV", str(tmp_path / "elsewhere"))
    assert env_python("toyenv") is None  # the named environment does not exist
    exe = _venv(tmp_path / "elsewhere")
    assert env_python("toyenv") == exe
    monkeypatch.setenv("D2LC_PYTHON_TOYENV", "/opt/py/bin/python3")
    assert env_python("toyenv") == Path("/opt/py/bin/python3")
