"""Test patterns in projector pixels: what a technician puts on the dome to align and blend.

Each pattern is drawn for one projector at its own resolution, unwarped and
unblended, so what lands on the dome shows that projector's geometry as it
is. The node (domectl/pipeline.py) shows a pattern instead of the sky when
the master's FrameState carries a "pattern" overlay naming it (and, if a
list is given, this projector); every other projector shows black, so the
technician sees only the ones being worked on.

Patterns (:data:`PATTERNS`):

* ``grid``: 1 px lines every 64 px (every 256 px thicker), for alignment;
* ``crosshatch``: a 16 x 9 crosshatch with a centre cross, for overlap checks;
* ``dots``: a dot every 64 px, for control-point placement;
* ``bars``: the eight SMPTE-order colour bars (white, yellow, cyan, green,
  magenta, red, blue, black), for colour and channel checks;
* ``white``, ``grey`` (linear 18 %: the signal is encoded for the
  projector's gamma) and ``black``: flat fields for blend and black-level
  checks (overlaps glow brighter in ``white``, the uplift shows in ``black``);
* ``id``: the projector and IG in large letters, with the eye, for
  identification;
* ``edges``: a frame 8 px inside the image's edge with arrows pointing out
  and the side's name, for the image's limits on the dome.

Every pattern but the flat fields and the bars carries the projector's id in
its corner. Pure numpy + Pillow (for text); no GL.
"""

from __future__ import annotations

import numpy as np

from domectl.errors import ConfigError

PATTERNS = ("grid", "crosshatch", "dots", "bars", "white", "grey", "black", "id", "edges")
GRID_STEP_PX = 64
MAJOR_STEP_PX = 256
#: 18 % grey in linear light: a photographic mid grey, encoded for the projector's gamma.
GREY_LINEAR = 0.18
_BARS = ((1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 1, 0), (1, 0, 1), (1, 0, 0), (0, 0, 1), (0, 0, 0))
_FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
               "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf")


def parse_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """``"grid"`` -> ("grid", ()); ``"grid:p01,p03"`` -> ("grid", ("p01", "p03")). ConfigError on a bad one."""
    name, _, who = str(spec).partition(":")
    name = name.strip()
    if name not in PATTERNS:
        raise ConfigError(f"pattern {name!r}: unknown; the patterns are {', '.join(PATTERNS)}")
    projectors = tuple(p.strip() for p in who.split(",") if p.strip())
    return name, projectors


def spec(name: str, projectors: tuple[str, ...] | list[str] = ()) -> str:
    """The FrameState overlay content for ``name`` on ``projectors`` (all when empty)."""
    parse_spec(name)
    return name if not projectors else f"{name}:{','.join(projectors)}"


def check_projectors(hall, projector_ids) -> tuple[str, ...]:
    """``projector_ids`` if every one is a projector of ``hall``, else ConfigError naming those that
    are not and the hall's."""
    known = [p.id for p in hall.projectors]
    unknown = [p for p in projector_ids if p not in known]
    if unknown:
        raise ConfigError(f"no {', '.join(unknown)} in {hall.name}; it has {', '.join(known)}")
    return tuple(projector_ids)


def shows(spec_text: str, projector_id: str) -> bool:
    """Whether projector ``projector_id`` shows the pattern ``spec_text`` (else it is black)."""
    _, projectors = parse_spec(spec_text)
    return not projectors or projector_id in projectors


def _font(size_px: int):
    from PIL import ImageFont

    for path in _FONT_PATHS:
        try:
            return ImageFont.truetype(path, size_px)
        except OSError:
            continue
    return ImageFont.load_default(size=size_px)


def _text(image: np.ndarray, text: str, xy: tuple[int, int], size_px: int, rgb=(255, 255, 255),
          anchor: str = "la") -> None:
    """Draw ``text`` into ``image`` (H, W, 3 uint8) in place."""
    from PIL import Image, ImageDraw

    canvas = Image.fromarray(image)
    ImageDraw.Draw(canvas).text(xy, text, fill=tuple(rgb), font=_font(size_px), anchor=anchor)
    image[...] = np.asarray(canvas)


def encode(linear: float, gamma: float) -> int:
    """A linear-light level as the 8-bit signal a projector of ``gamma`` needs for it."""
    return int(round(255.0 * float(np.clip(linear, 0.0, 1.0)) ** (1.0 / gamma)))


def pattern_image(name: str, width: int, height: int, *, projector_id: str = "", ig_id: int | None = None,
                  eye: str = "", gamma: float = 2.2) -> np.ndarray:
    """Pattern ``name`` for a ``width`` x ``height`` projector: (H, W, 3) uint8, top row first."""
    parse_spec(name)
    img = np.zeros((height, width, 3), np.uint8)
    ys, xs = np.arange(height), np.arange(width)
    label = " ".join(x for x in (projector_id, f"ig{ig_id:02d}" if ig_id is not None else "", eye) if x)
    small = max(10, height // 30)
    if name == "white":
        img[:] = 255
        return img
    if name == "grey":
        img[:] = encode(GREY_LINEAR, gamma)
        return img
    if name == "black":
        return img
    if name == "bars":
        edges = np.linspace(0, width, len(_BARS) + 1).round().astype(int)
        for (r, g, b), x0, x1 in zip(_BARS, edges, edges[1:]):
            img[:, x0:x1] = (255 * r, 255 * g, 255 * b)
        return img
    if name == "grid":
        for step, level in ((GRID_STEP_PX, 160), (MAJOR_STEP_PX, 255)):
            img[ys % step == 0, :] = level
            img[:, xs % step == 0] = level
            if step == MAJOR_STEP_PX:                       # 3 px wide major lines
                for d in (1, -1):
                    img[(ys + d) % step == 0, :] = level
                    img[:, (xs + d) % step == 0] = level
        img[-1, :] = img[:, -1] = 255
    elif name == "crosshatch":
        for k in range(17):
            img[:, min(width - 1, round(k * (width - 1) / 16))] = 255
        for k in range(10):
            img[min(height - 1, round(k * (height - 1) / 9)), :] = 255
        cy, cx = height // 2, width // 2
        arm = min(width, height) // 8
        img[cy - 1:cy + 2, cx - arm:cx + arm] = (255, 64, 64)
        img[cy - arm:cy + arm, cx - 1:cx + 2] = (255, 64, 64)
    elif name == "dots":
        r = max(1, GRID_STEP_PX // 16)
        ky, kx = np.mgrid[-r:r + 1, -r:r + 1]
        disc_y, disc_x = ky[kx * kx + ky * ky <= r * r], kx[kx * kx + ky * ky <= r * r]
        cy, cx = np.meshgrid(np.arange(0, height, GRID_STEP_PX), np.arange(0, width, GRID_STEP_PX), indexing="ij")
        py = (cy.reshape(-1, 1) + disc_y).ravel()
        px = (cx.reshape(-1, 1) + disc_x).ravel()
        inside = (py >= 0) & (py < height) & (px >= 0) & (px < width)
        img[py[inside], px[inside]] = 255
    elif name == "id":
        img[:] = (24, 24, 64)
        _text(img, projector_id or "?", (width // 2, height // 2), max(12, height // 3), anchor="mm")
        _text(img, label, (width // 2, height * 5 // 6), max(10, height // 12), anchor="mm")
        return img
    elif name == "edges":
        inset = 8
        img[inset, inset:width - inset] = img[height - 1 - inset, inset:width - inset] = (255, 255, 0)
        img[inset:height - inset, inset] = img[inset:height - inset, width - 1 - inset] = (255, 255, 0)
        arrow = max(8, min(width, height) // 20)
        for k in range(arrow):                               # solid triangles, tips at the edge, pointing out
            img[inset + 2 + k, width // 2 - (k + 1):width // 2 + (k + 1)] = 255            # top
            img[height - 3 - inset - k, width // 2 - (k + 1):width // 2 + (k + 1)] = 255   # bottom
            img[height // 2 - (k + 1):height // 2 + (k + 1), inset + 2 + k] = 255          # left
            img[height // 2 - (k + 1):height // 2 + (k + 1), width - 3 - inset - k] = 255  # right
        for text, xy, anchor in (("TOP", (width // 2, inset + arrow + 6), "mt"),
                                 ("BOTTOM", (width // 2, height - inset - arrow - 6), "mb"),
                                 ("LEFT", (inset + arrow + 6, height // 2), "lm"),
                                 ("RIGHT", (width - inset - arrow - 6, height // 2), "rm")):
            _text(img, text, xy, small, anchor=anchor)
    if label:
        _text(img, label, (GRID_STEP_PX // 4 + 4, GRID_STEP_PX // 4 + 4), small, rgb=(255, 200, 64))
    return img
