"""PNG images for blend (alpha) and black-level (beta) maps, and previews.

Arrays are top row first: (H, W) uint8 or uint16 grey, (H, W, 3) uint8 RGB,
(H, W, 4) uint8 RGBA. 16-bit grey is stored as a 16-bit PNG so that the dark
end of a gamma-encoded ramp keeps its precision; values round-trip exactly.

Pillow is imported here, and only when a PNG is encoded or decoded, so that
``import warp`` stays numpy-only (tests/test_boundaries.py).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from warp.formats._io import FormatError, atomic_write_bytes, read_bytes

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode_png(image: np.ndarray) -> bytes:
    """(H, W) uint8/uint16 grey, (H, W, 3) uint8 RGB or (H, W, 4) uint8 RGBA -> PNG bytes."""
    from PIL import Image

    img = np.asarray(image)
    grey = img.ndim == 2 and img.dtype in (np.uint8, np.uint16)
    colour = img.ndim == 3 and img.shape[2] in (3, 4) and img.dtype == np.uint8
    if not (grey or colour):
        raise FormatError(
            f"PNG image {img.shape} {img.dtype}: must be (H, W) uint8 or uint16 grey, "
            "or (H, W, 3|4) uint8 RGB(A)"
        )
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise FormatError(f"PNG image shape {img.shape}: width and height must be positive")
    buf = io.BytesIO()
    # Pillow picks the mode from the dtype and shape: L, I;16, RGB, RGBA.
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes, name: str = "<png>") -> np.ndarray:
    """PNG bytes -> array, top row first.

    Grey 8-bit -> (H, W) uint8; grey 16-bit -> (H, W) uint16; RGB or a
    palette -> (H, W, 3) uint8; with alpha -> (H, W, 4) uint8. ``name``
    appears in error messages.
    """
    from PIL import Image, UnidentifiedImageError

    if not data.startswith(_PNG_SIGNATURE):
        raise FormatError(f"{name}: not a PNG file (starts with {data[:8]!r})")
    # IHDR is the first chunk: bit depth at byte 24, colour type at 25. Pillow reads
    # 16-bit colour as 8-bit without a word; refuse rather than lose precision.
    if len(data) >= 26 and data[12:16] == b"IHDR" and data[24] == 16 and data[25] in (2, 6):
        raise FormatError(f"{name}: 16-bit colour PNG is not supported: use 16-bit grey or 8-bit RGB")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            if mode in ("L", "I;16", "I;16B", "I"):
                arr = np.asarray(im)
                if mode == "L":
                    return arr.astype(np.uint8, copy=True)
                if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
                    raise FormatError(f"{name}: grey samples outside 0..65535")
                return arr.astype(np.uint16)
            if mode in ("1", "P", "LA", "PA"):
                im = im.convert("RGBA" if "A" in mode or "transparency" in im.info else "RGB")
                mode = im.mode
            if mode in ("RGB", "RGBA"):
                return np.asarray(im, dtype=np.uint8).copy()
            raise FormatError(f"{name}: PNG mode {mode!r} is not supported: use 8/16-bit grey or 8-bit RGB(A)")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as e:
        raise FormatError(f"{name}: unreadable PNG: {e}") from None


def read_png(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG file: see :func:`decode_png`."""
    return decode_png(read_bytes(path), str(path))


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a PNG file atomically: see :func:`encode_png`."""
    return atomic_write_bytes(path, encode_png(image))
