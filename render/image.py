"""Read-back from GL and PNG I/O. Images are (H, W, 3) uint8, top row first."""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np
from PIL import Image


def read_rgb(source: moderngl.Framebuffer | moderngl.Texture, out: np.ndarray | None = None) -> np.ndarray:
    """Read an RGBA8 framebuffer or texture back as (H, W, 3) uint8, top row first.

    GL rows run bottom-up; the pixels are read with ``read_into`` into ``out``
    (a C-contiguous (H, W, 3) uint8 array, allocated when None; pass one to
    avoid an allocation per frame) and a vertically flipped view of it is
    returned (no copy).
    """
    width, height = source.size
    if out is None:
        out = np.empty((height, width, 3), dtype=np.uint8)
    if out.shape != (height, width, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise ValueError(f"read_rgb: out must be a C-contiguous ({height}, {width}, 3) uint8 array, got {out.shape} {out.dtype}")
    if isinstance(source, moderngl.Texture):
        fbo = source.ctx.framebuffer(color_attachments=[source])
        try:
            fbo.read_into(out, components=3, alignment=1)
        finally:
            fbo.release()
    else:
        source.read_into(out, components=3, alignment=1)
    return out[::-1]


def save_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write (H, W, 3) or (H, W) uint8 (top row first) as PNG."""
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(path)


def load_png(path: str | Path) -> np.ndarray:
    """Read a PNG as (H, W, 3) uint8, top row first."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
