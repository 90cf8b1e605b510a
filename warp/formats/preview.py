"""Pictures for people: coverage and blend-sum maps with legends, warp previews (numpy only).

Every function returns an (H, W, 3) uint8 image, top row first, for
:func:`warp.formats.png.write_png`. Labels use a built-in 3 x 5 pixel font
(digits and ``+ - % .``), so no font file or drawing library is needed.
"""

from __future__ import annotations

import numpy as np

# Coverage colours by projector count; the last one is for that many or more.
# 0 (a hole in the dome) is loud red; off-dome pixels are black.
COVERAGE_COLOURS = (
    (230, 20, 20),    # 0: not lit
    (40, 90, 210),    # 1
    (40, 170, 70),    # 2
    (240, 200, 40),   # 3
    (245, 120, 30),   # 4
    (200, 60, 200),   # 5 or more
)
OFF_DOME = (0, 0, 0)
LEGEND_BACKGROUND = (32, 32, 32)
TEXT = (235, 235, 235)

_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    "+": ("000", "010", "111", "010", "000"),
    "-": ("000", "000", "111", "000", "000"),
    ".": ("000", "000", "000", "000", "010"),
    "%": ("101", "001", "010", "100", "101"),
    " ": ("000", "000", "000", "000", "000"),
}


def text_width_px(text: str, scale: int) -> int:
    """Width of ``text`` drawn by :func:`draw_text` (4 font pixels per character, less the last gap)."""
    return max(0, (4 * len(text) - 1) * scale)


def draw_text(image: np.ndarray, text: str, x: int, y: int, scale: int, colour=TEXT) -> None:
    """Draw ``text`` (digits, ``+ - % .`` and spaces) with its top-left at (x, y), in place."""
    h, w = image.shape[:2]
    for k, ch in enumerate(text):
        glyph = _GLYPHS.get(ch)
        if glyph is None:
            raise ValueError(f"draw_text: no glyph for {ch!r}: use digits, '+', '-', '%', '.', ' '")
        for gy, row in enumerate(glyph):
            for gx, bit in enumerate(row):
                if bit == "1":
                    x0 = x + (4 * k + gx) * scale
                    y0 = y + gy * scale
                    image[max(y0, 0):min(y0 + scale, h), max(x0, 0):min(x0 + scale, w)] = colour


def _legend_scale(width_px: int) -> int:
    return max(1, width_px // 256)


def coverage_image(counts: np.ndarray) -> np.ndarray:
    """Coverage map (S, S) int (projectors lighting each pixel, -1 off the dome) -> RGB with a legend below.

    Colours: :data:`COVERAGE_COLOURS` by count (the last for that many or
    more), black off the dome. The legend shows each colour with its count.
    """
    counts = np.asarray(counts)
    size = counts.shape[1]
    palette = np.array(COVERAGE_COLOURS, dtype=np.uint8)
    img = palette[np.clip(counts, 0, len(palette) - 1)]
    img[counts < 0] = OFF_DOME
    scale = _legend_scale(size)
    legend = np.full((9 * scale, size, 3), LEGEND_BACKGROUND, dtype=np.uint8)
    slot = size // len(palette)
    for k, colour in enumerate(palette):
        label = str(k) if k < len(palette) - 1 else f"{k}+"
        x0 = k * slot + scale
        legend[2 * scale:7 * scale, x0:x0 + 5 * scale] = colour
        draw_text(legend, label, x0 + 7 * scale, 2 * scale, scale)
    return np.concatenate([img, legend], axis=0)


def deviation_colours(deviation: np.ndarray, limit: float) -> np.ndarray:
    """Diverging colours: (...) deviations -> (..., 3) uint8, white at 0, blue at -limit, red at +limit (saturating)."""
    t = np.clip(np.asarray(deviation, dtype=np.float64) / limit, -1.0, 1.0)
    white = np.array([255.0, 255.0, 255.0])
    blue = np.array([30.0, 60.0, 220.0])
    red = np.array([220.0, 30.0, 30.0])
    a = np.abs(t)[..., None]
    end = np.where((t < 0)[..., None], blue, red)
    return np.rint(white * (1.0 - a) + end * a).astype(np.uint8)


def deviation_image(deviation: np.ndarray, lit: np.ndarray, on_dome: np.ndarray, limit: float) -> np.ndarray:
    """Blend-sum heatmap (S, S) -> RGB with a colour-bar legend labelled in percent.

    ``deviation`` = linear-light sum - 1; ``lit``: some projector lights the
    pixel (unlit dome pixels are black); ``on_dome``: off-dome pixels are dark
    grey. Saturates at +-``limit``.
    """
    dev = np.where(lit, np.nan_to_num(deviation), 0.0)
    img = deviation_colours(dev, limit)
    img[on_dome & ~lit] = (0, 0, 0)
    img[~on_dome] = (64, 64, 64)
    size = img.shape[1]
    scale = _legend_scale(size)
    legend = np.full((16 * scale, size, 3), LEGEND_BACKGROUND, dtype=np.uint8)
    margin = 4 * scale
    bar = np.linspace(-limit, limit, size - 2 * margin)
    legend[2 * scale:7 * scale, margin:size - margin] = deviation_colours(bar, limit)[None, :, :]
    pct = f"{100 * limit:g}%"
    labels = ((f"-{pct}", margin), ("0", size // 2 - scale),
              (f"+{pct}", size - margin - text_width_px(f"+{pct}", scale)))
    for text, x in labels:
        draw_text(legend, text, x, 9 * scale, scale)
    return np.concatenate([img, legend], axis=0)


def warp_preview(
    coords: np.ndarray, valid: np.ndarray, width_px: int = 512, aspect: float | None = None, cells: int = 16,
) -> np.ndarray:
    """What a warp map does to a test chart: (rows, cols, 2) coordinates -> (h, w, 3) uint8.

    The preview is the projector image, ``width_px`` across and ``width_px /
    aspect`` high (``aspect`` = the projector's width / height; default: the
    map's own cols / rows, right when it samples square pixels). Each pixel is
    coloured by the normalised coordinate the warp sends it to: red = x,
    green = y, over a ``cells x cells`` checkerboard in coordinate space, so
    straight chart lines show how the warp bends them. Invalid samples are
    black.
    """
    c = np.asarray(coords, dtype=np.float64)
    rows, cols = c.shape[:2]
    height_px = max(1, round(width_px / aspect if aspect else width_px * rows / cols))
    ys = (np.arange(height_px) + 0.5) * rows / height_px - 0.5
    xs = (np.arange(width_px) + 0.5) * cols / width_px - 0.5
    i = np.clip(np.rint(ys).astype(int), 0, rows - 1)
    j = np.clip(np.rint(xs).astype(int), 0, cols - 1)
    # Nearest sample for validity, bilinear for the coordinates.
    i0 = np.clip(np.floor(ys).astype(int), 0, max(rows - 2, 0))
    j0 = np.clip(np.floor(xs).astype(int), 0, max(cols - 2, 0))
    i1 = np.minimum(i0 + 1, rows - 1)
    j1 = np.minimum(j0 + 1, cols - 1)
    fy = np.clip(ys - i0, 0.0, 1.0)[:, None, None]
    fx = np.clip(xs - j0, 0.0, 1.0)[None, :, None]
    top = c[i0][:, j0] * (1 - fx) + c[i0][:, j1] * fx
    bottom = c[i1][:, j0] * (1 - fx) + c[i1][:, j1] * fx
    at = top * (1 - fy) + bottom * fy
    ok = np.asarray(valid, dtype=bool)[i][:, j] & np.all(np.isfinite(at), axis=-1)
    at = np.nan_to_num(at)
    checker = (np.floor(at[..., 0] * cells) + np.floor(at[..., 1] * cells)) % 2
    shade = 0.55 + 0.45 * checker
    rgb = np.stack([np.clip(at[..., 0], 0, 1), np.clip(at[..., 1], 0, 1), np.full(at.shape[:2], 0.6)], axis=-1)
    img = np.rint(255 * rgb * shade[..., None]).astype(np.uint8)
    img[~ok] = 0
    return img
