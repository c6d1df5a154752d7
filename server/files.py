"""Private files written atomically: token records, profile pointers, pre-write snapshots."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

# `.NAME.PID.RANDOM.tmp`: the writer's process id tells a later start whether the file is stale
_TEMP = re.compile(r"^\..+\.(?P<pid>[0-9]+)\.[^.]+\.tmp$")


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700 and tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)
    return path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader (or a crash) sees the old bytes or the new, never a
    mix: temp file in the same directory (created 0600), fsync, rename over, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Remove the temporary files `atomic_write` left in `directory` when its process died before
    the rename (a kill, a crash); files of live processes are left alone. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP.match(entry.name)
        if m and not _alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed
