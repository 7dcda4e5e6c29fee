"""Files scmapper writes: created private, written whole, and put in place by a rename.

Vocabulary: a *private* file is created with its final mode from the start (never briefly
readable by others) and exclusively: never an existing file, never through a planted
symlink (O_EXCL, and O_NOFOLLOW where the platform has it). A *temporary* name sits beside
the final one (`.NAME.PID.tmp`), so the rename never crosses file systems.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

# O_BINARY exists on Windows only, O_NOFOLLOW on POSIX only; each is 0 where it does not exist.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def create_private(path: Path, mode: int = 0o600) -> BinaryIO:
    """A new file, opened for writing; whatever stood at its name (a stale temporary file, a
    symlink) is removed first, and if something appears there meanwhile, this fails."""
    path.unlink(missing_ok=True)
    return os.fdopen(os.open(path, _CREATE, mode), "wb")


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Writes a whole file under a temporary name, synced, then renames it into place."""
    temp = temp_name(path)
    try:
        with create_private(temp, mode) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def fsync_dir(path: Path) -> None:
    """Makes a rename in `path` durable. Windows cannot open a folder as a file, and NTFS
    journals renames itself: there this does nothing."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dir_mode(file_mode: int) -> int:
    """A folder mode matching a file mode: each read bit brings its search bit (0600 -> 0700)."""
    return file_mode | ((file_mode & 0o444) >> 2)
