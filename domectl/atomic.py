"""Whole-or-nothing file writes for domectl: key files' directory sync, status, tokens, charts.

Every file is written to a temporary file in the same directory and renamed
over the target (``os.replace`` is atomic on POSIX and Windows), so a crash
or a full disk leaves the old file or the new one, never half of one. With
``durable`` the data and the rename are also flushed to disk (calibration:
it must survive a power cut); without, a file rewritten four times a second
(the master's status) costs no fsync. Standard library only (status and
keys stay light). ``warp/formats/_io.py`` has the durable twin for calibration
files: warp may import nothing of domectl but ``projection`` and ``errors``
(tests/test_warp_geometry.py holds that line).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, mode: int = 0o644,
                       durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically, the file ending with ``mode``; returns the path.

    The temporary file is created readable by its owner only (mkstemp), so a
    secret written with ``mode=0o600`` is never readable by others, even for an
    instant. The parent directory must exist.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
            os.fchmod(f.fileno(), mode)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if durable:
        fsync_dir(parent)
    return p


def fsync_dir(directory: str | os.PathLike) -> None:
    """Persist a rename: fsync the directory (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
