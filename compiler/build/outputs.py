"""Writing a build's files all or nothing: check every path, stage every file, then rename them into place.

A failure before the last rename leaves the output folder exactly as it was: the staged files are
removed, folders this build created are removed again, and files already renamed get their old
bytes back. Symbolic links inside the output folder are never followed, files are created with the
user's umask, and temp files that an interrupted build left behind (``.d2lc-*.tmp``) are removed
from every folder the next build writes to.
"""
from __future__ import annotations

import os
import secrets
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

TEMP_PREFIX, TEMP_SUFFIX = ".d2lc-", ".tmp"


class OutputError(Exception):
    """The output folder cannot take the build's files: a usage problem, reported with the path and reason."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = str(path), reason


def check_output_root(root: Path) -> None:
    """Fail early when `root` cannot be an output folder (a file, a symbolic link, not writable)."""
    if root.is_symlink():
        raise OutputError(root, f"the output folder is a symbolic link (to {os.readlink(root)}); "
                                "d2lc does not write through symbolic links: name the real folder")
    if root.exists() and not root.is_dir():
        raise OutputError(root, "exists and is not a folder")
    existing = next((p for p in (root, *root.absolute().parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise OutputError(root, f"{existing} is not a folder")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(root, f"{existing} is not writable")
    if existing is not None and _pseudo_filesystem(existing):
        raise OutputError(root, f"{existing} is on a virtual file system ({_pseudo_filesystem(existing)}), not a disk")


def _pseudo_filesystem(path: Path) -> str | None:
    """The kernel's own file systems (/proc, /sys) take no notebooks, whatever their permission bits say."""
    resolved = path.resolve()
    for top in ("/proc", "/sys"):
        if resolved == Path(top) or Path(top) in resolved.parents:
            return top
    return None


@dataclass
class _Plan:
    root: Path
    files: list[tuple[Path, bytes]] = field(default_factory=list)  # target, new bytes (only those that change)
    new_dirs: list[Path] = field(default_factory=list)  # folders to create, parents first
    dirs: set[Path] = field(default_factory=set)  # every folder written to


def write_all(outputs: dict[Path, str], root: Path) -> list[Path]:
    """Write every output under `root` in one transaction; returns the files that changed.

    Raises OutputError (nothing changed) when a path is unusable or the file system refuses a write.
    """
    check_output_root(root)
    plan = _plan(outputs, root)
    created: list[Path] = []
    staged: list[tuple[Path, Path]] = []  # (temp, target)
    try:
        for d in plan.new_dirs:
            d.mkdir()
            created.append(d)
        for d in sorted(plan.dirs):
            remove_stale_temps(d)
        for target, data in plan.files:
            staged.append((_stage(target, data), target))
    except OSError as exc:
        _discard(staged, created)
        raise OutputError(_where(exc, root), exc.strerror or str(exc)) from exc
    _commit(staged, created, root)
    return [target for _, target in staged]


def write_or_report(outputs: dict[Path, str], out: Path) -> list[Path] | None:
    """Write every output all-or-nothing; on a filesystem problem print it and return None (a usage error)."""
    try:
        return write_all(outputs, out)
    except OutputError as exc:
        print(f"d2lc: cannot write {exc.path}: {exc.reason}; nothing was written", file=sys.stderr)
        return None


def _plan(outputs: dict[Path, str], root: Path) -> _Plan:
    """Check every path (no symbolic links, no file where a folder goes) and keep only the files that change."""
    plan = _Plan(root)
    for path, text in sorted(outputs.items()):
        rel = _relative(path, root)
        here = root
        for part in rel.parts[:-1]:
            here = here / part
            _check_dir(here, plan)
        plan.dirs.add(here)
        target = here / rel.name
        data = text.encode("utf-8")
        if target.is_symlink():
            raise OutputError(target, "is a symbolic link; d2lc does not write through symbolic links")
        if target.exists():
            if not target.is_file():
                raise OutputError(target, "exists and is not a regular file")
            try:
                if target.read_bytes() == data:
                    continue
            except OSError as exc:
                raise OutputError(target, exc.strerror or str(exc)) from exc
        plan.files.append((target, data))
    if not root.exists():
        plan.new_dirs.insert(0, root)
        missing = [p for p in root.absolute().parents if not p.exists()]
        plan.new_dirs[:0] = list(reversed(missing))
    return plan


def _check_dir(d: Path, plan: _Plan) -> None:
    if d in plan.dirs or d in plan.new_dirs:
        return
    if d.is_symlink():
        raise OutputError(d, f"is a symbolic link (to {os.readlink(d)}); d2lc does not write through symbolic links")
    if d.exists():
        if not d.is_dir():
            raise OutputError(d, "exists and is not a folder")
        plan.dirs.add(d)
    else:
        plan.new_dirs.append(d)


def _relative(path: Path, root: Path) -> Path:
    """`path` relative to `root`, lexically (no link is resolved); outside the root or with `..` it is refused."""
    try:
        rel = Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
    except ValueError:
        raise OutputError(path, f"is outside the output folder {root}") from None
    if ".." in rel.parts or not rel.parts:
        raise OutputError(path, f"is outside the output folder {root}")
    return rel


def _stage(target: Path, data: bytes) -> Path:
    """Write `data` to a new temp file next to `target` (mode 0666 minus the umask, or the old file's mode)."""
    tmp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not exc.filename:
            exc.filename = str(target)  # a failed write (a full disk) names no file: name the one it was for
        raise
    return tmp


def _commit(staged: list[tuple[Path, Path]], created: list[Path], root: Path) -> None:
    """Rename every staged file into place; on a failure put back what was already replaced, then raise."""
    done: list[tuple[Path, bytes | None, int | None]] = []  # target, its old bytes (None: it was new), old mode
    try:
        for tmp, target in staged:
            old = target.read_bytes() if target.exists() else None
            mode = stat.S_IMODE(target.stat().st_mode) if old is not None else None
            os.replace(tmp, target)
            done.append((target, old, mode))
    except BaseException as exc:
        for target, old, mode in reversed(done):
            try:
                if old is None:
                    target.unlink()
                else:
                    target.write_bytes(old)
                    if mode is not None:
                        os.chmod(target, mode)
            except OSError:
                pass
        _discard([s for s in staged if s[0].exists()], created)
        if isinstance(exc, OSError):
            raise OutputError(_where(exc, root), exc.strerror or str(exc)) from exc
        raise


def _discard(staged: list[tuple[Path, Path]], created: list[Path]) -> None:
    """Remove staged temp files and the folders this build created (innermost first)."""
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temp files an interrupted build left in `folder`: regular files named .d2lc-*.tmp whose
    build is gone (the name carries its pid; a build still running, say into the same folder, keeps its own)."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False)
                and not _running(name[len(TEMP_PREFIX):].split("-")[0])):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except FileNotFoundError:
                pass
    return removed


def _running(pid: str) -> bool:
    """Whether `pid` (from a temp file's name) is a live process other than this one."""
    if not pid.isdigit() or int(pid) <= 0 or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _where(exc: OSError, root: Path) -> Path:
    """The path an OSError is about (the folder of a temp file, since that name means nothing to the user)."""
    name = exc.filename
    if not name:
        return root
    p = Path(os.fsdecode(name))
    return p.parent if p.name.startswith(TEMP_PREFIX) else p
