"""Output files written whole or not at all, checked before any work starts."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any


def check_writable(path: str | os.PathLike[str], option: str = "output") -> None:
    """Fail now, with a one-line ``ValueError``, if ``path`` could not be written later.

    It creates and removes a scratch file in the directory, which proves more than
    ``os.access`` does (root, read-only mounts, full disks).
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{option} {path}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: directory {parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".gilfree-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {parent}: {exc.strerror or exc}") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{option} {path}: the file exists and is not writable")


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it, then a rename."""
    p = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a new file's usual mode
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(target: str, data: str | bytes, stdout: IO[Any] | None = None) -> None:
    """Write to a file atomically, or to stdout for ``-``."""
    if target != "-":
        write_atomic(target, data)
        return

    out = stdout or sys.stdout
    if isinstance(data, bytes):
        out.flush()
        out.buffer.write(data)
        out.buffer.flush()
    else:
        out.write(data)
        out.flush()
