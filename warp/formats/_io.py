"""What every format module shares: the error type and atomic file writes.

Calibration is data a hall cannot lose: every file is written to a temporary
file in the same directory, flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX and Windows), so a crash or a full disk
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from domectl.errors import DomectlError

# Refuse to read more than this from one file or archive member: a corrupt or
# hostile header must not make us allocate gigabytes. A full 4096 x 2160 PFM
# warp is 106 MB; this leaves ample room for 8K projectors.
MAX_FILE_BYTES = 2 << 30


class FormatError(DomectlError, ValueError):
    """A calibration file (PFM, PNG, Paul Bourke mesh, MPCDI) is malformed or unsupported.

    The message starts with the file (and line, element or field where there
    is one) and says what was expected. Also a ``ValueError`` for callers that
    know nothing of domectl's error tree.
    """


def read_bytes(path: str | os.PathLike) -> bytes:
    """A whole file's bytes, or :class:`FormatError` naming the file if it cannot be read."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FormatError(f"{p}: {size} bytes is larger than the {MAX_FILE_BYTES} bytes a calibration file may be")
        return p.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{p}: is a directory, expected a file") from None
    except PermissionError:
        raise FormatError(f"{p}: permission denied") from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory, fsync, rename).

    The parent directory must exist. Returns the path written.
    """
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; calibration files are ordinary documents.
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(parent)
    return p


def _fsync_dir(directory: Path) -> None:
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
