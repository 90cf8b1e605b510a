"""Text on the dome: a glyph atlas, upright labels of constant angular size, and the label layers.

Layers (render/layers.py protocol): :class:`LabelsLayer` draws
``constellation-names``, ``star-names`` and ``cardinals`` in the frame's
language; the text machinery (:class:`GlyphAtlas`, :class:`TextPainter`,
:class:`Label`) also serves render/pointer.py and render/overlays.py.

**Size.** A label's cap height is an angle (``TextStyle.cap_height_deg``:
1.2 deg for constellations, 0.9 deg for stars), the same on the dome
wherever the label is: glyph quads are placed on the sphere - each corner an
offset in the anchor's tangent basis, taken along the sphere
(:func:`offset_dirs`, the azimuthal equidistant map about the anchor) - and
projected per vertex with ``fisheye_uv``, so near the rim, where the fisheye
stretches tangentially by up to pi/2, text is stretched exactly as the dome
shows it and keeps its shape for the audience.

**Up.** Text is upright for the audience (:func:`label_up`): its up
direction is toward the dome zenith along the sphere, i.e. toward the
domemaster centre. That fails at the zenith itself, so within
``zenith_cap_deg`` (25 deg) of the zenith "up" blends (smoothstep in the angle
from the zenith) into the direction of the dome's back (-y): an audience
facing the front (+y) that tilts its heads back to look at the zenith has the
top of its view toward the back. Over the front half of the dome text is then
upright on the domemaster image itself, and at the zenith a label reads as
it would just in front of it. A continuous "up" on the dome cannot avoid one
point where it turns (hairy-ball theorem): here it lies on the back meridian
about half the cap behind the zenith, where the audience facing the front
does not look. Reading direction: right = anchor x up, so no text is mirrored.

**Glyphs.** A coverage atlas (``R8``, one 128-texel cell per glyph on a grid,
so mipmaps never mix glyphs) rendered once by Pillow at a cap height of 48
texels and mipmapped: minified text is area-filtered (trilinear, anisotropic);
magnified text has its bilinear edge ramp steepened back to one pixel in the
shader, so it stays crisp at any size. Glyphs are added on first use (any
Unicode an overlay brings); kerning is the font's, through Pillow.

**Font.** Pillow's bundled font (``ImageFont.load_default``: Aileron) has no
accented letters at all (no é, ä, ß: measured with Pillow 13), so the default
is DejaVu Sans from Debian's ``fonts-dejavu-core`` (present wherever Mesa's
packages are); without it the bundled font is used and a character it lacks
is written as its unaccented base (``é`` -> ``e``, ``ß`` -> ``ss``), with a
warning logged once per character. Pass ``font_path`` to choose another font.

**Zoom.** Under the sky's zoom (``view.zoom``, ``domectl.projection.zoom_dir``)
a sky label's anchor moves with the sky, and its text keeps its angular size
round the moved anchor: names stay readable at any zoom. Text fixed on the
dome (overlays) is drawn without zoom.

**Colour.** ``rgb`` is display-encoded; alpha = coverage x label alpha x
layer opacity, premultiplied "over" in the frame's display-encoded values.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moderngl
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from domectl import skydata
from domectl.projection import altaz_to_enu, zoom_dir, zoom_uniform
from render.context import InstanceBuffer, check_gl
from render.lines import RIM_MARGIN_R
from render.shaders import load_program

log = logging.getLogger(__name__)

#: Fonts tried in order when none is given (Debian: fonts-dejavu-core); then Pillow's bundled font.
DEFAULT_FONT_PATHS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)
#: Within this angle of the zenith "up" blends toward the dome's back (module docstring).
ZENITH_CAP_DEG = 25.0
#: Labels anchored more than this beyond the springline are not drawn (the rest is clipped at the rim).
CULL_BELOW_SPRINGLINE_DEG = 2.0
#: Atlas geometry: cap height and cell size in texels, cells per atlas row.
ATLAS_CAP_TEXELS = 48
ATLAS_CELL_TEXELS = 128
ATLAS_COLUMNS = 16
#: Blank texels kept around a glyph's ink in its quad (the filtered edge of minified text).
QUAD_MARGIN_TEXELS = 12
#: Coarsest mip level: a 4-texel cell; below that text is under 2 px tall and unreadable anyway.
ATLAS_MAX_MIP_LEVEL = 5
#: Floats per glyph instance: anchor 3, quad 4, atlas 2, scale 1, rgba 4.
GLYPH_FLOATS = 14

# Written instead of characters a font lacks and that do not decompose to a base letter.
_ASCII_FALLBACK = {
    "ß": "ss", "ẞ": "SS", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ĳ": "ij", "Ĳ": "IJ", "ø": "o", "Ø": "O",
    "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "–": "-", "—": "-",
    "…": "...", "\u00a0": " ", "\u202f": " ", "•": "-", "€": "EUR", "°": "o",
}


# --------------------------------------------------------------------------- geometry (numpy twins)


def _normalize_rows(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(norm > 1e-12, v / np.where(norm > 1e-12, norm, 1.0), 0.0)


def label_up(p: np.ndarray, zenith_cap_deg: float = ZENITH_CAP_DEG) -> np.ndarray:
    """Upright direction for text at dome-frame unit vectors: (N, 3) -> (N, 3) unit tangent vectors.

    Twin of ``label_up`` in ``label_sphere.glsl``; see the module docstring for the choice.
    """
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    to_zenith = _normalize_rows(np.array([0.0, 0.0, 1.0]) - p[:, 2:3] * p)
    to_back = _normalize_rows(np.array([0.0, -1.0, 0.0]) + p[:, 1:2] * p)
    theta = np.arctan2(np.hypot(p[:, 0], p[:, 1]), p[:, 2])
    cap = np.radians(zenith_cap_deg)
    if cap > 0.0:
        x = np.clip(theta / cap, 0.0, 1.0)
        w = 1.0 - x * x * (3.0 - 2.0 * x)  # 1 - smoothstep(0, cap, theta)
    else:
        w = np.zeros_like(theta)
    up = (1.0 - w)[:, None] * to_zenith + w[:, None] * to_back
    degenerate = np.linalg.norm(up, axis=-1) < 1e-6
    up[degenerate] = np.array([1.0, 0.0, 0.0]) - p[degenerate, 0:1] * p[degenerate]
    return _normalize_rows(up)


def label_basis(p: np.ndarray, zenith_cap_deg: float = ZENITH_CAP_DEG) -> tuple[np.ndarray, np.ndarray]:
    """(right, up) unit tangent vectors at dome-frame unit vectors p: (N, 3) -> (N, 3), (N, 3)."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    up = label_up(p, zenith_cap_deg)
    return np.cross(p, up), up


def offset_dirs(p: np.ndarray, offset_rad: np.ndarray, zenith_cap_deg: float = ZENITH_CAP_DEG) -> np.ndarray:
    """Points at text-local offsets (right, up) in radians from anchors p, along the sphere.

    p (N, 3) or (3,) dome-frame unit vectors, offset_rad (N, 2) -> (N, 3) unit vectors.
    Twin of ``label_offset_dir`` in ``label_sphere.glsl``.
    """
    offset = np.atleast_2d(np.asarray(offset_rad, dtype=np.float64))
    p = np.broadcast_to(np.atleast_2d(np.asarray(p, dtype=np.float64)), (len(offset), 3))
    right, up = label_basis(p, zenith_cap_deg)
    o = offset[:, 0:1] * right + offset[:, 1:2] * up
    angle = np.hypot(offset[:, 0], offset[:, 1])[:, None]
    safe = np.where(angle > 0.0, angle, 1.0)
    return np.where(angle > 0.0, np.cos(angle) * p + np.sin(angle) / safe * o, p)


def glyph_corner_dirs(instances: np.ndarray, rotation: np.ndarray,
                      zenith_cap_deg: float = ZENITH_CAP_DEG, zoom: float = 1.0) -> np.ndarray:
    """Twin of ``label_text.glsl``'s vertex stage: glyph instances -> dome directions of their corners.

    instances (G, 14) rows of a :class:`TextBatch` (anchor 3, quad 4, atlas
    2, rad per texel 1, rgba 4), rotation (3, 3) to the dome frame, the sky's
    ``zoom`` (which moves the anchors) -> (G, 4, 3) corners in the order
    (0, 0), (1, 0), (0, 1), (1, 1) of (right, up).
    """
    inst = np.atleast_2d(np.asarray(instances, dtype=np.float64))
    anchors = _normalize_rows(zoom_dir(inst[:, 0:3] @ np.asarray(rotation, np.float64).T, zoom))
    out = np.empty((len(inst), 4, 3))
    for k, (cx, cy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        local = inst[:, 3:5] + np.array([cx, cy]) * inst[:, 5:7]
        out[:, k] = offset_dirs(anchors, local * inst[:, 9:10], zenith_cap_deg)
    return out


# --------------------------------------------------------------------------- fonts and the atlas


def load_font(font_path: str | Path | None, cap_height_px: int) -> tuple[ImageFont.FreeTypeFont, str]:
    """A FreeType font whose capital H is ``cap_height_px`` tall, and its description.

    ``font_path`` None: the first of :data:`DEFAULT_FONT_PATHS` that exists,
    else Pillow's bundled font.
    """
    candidates = [Path(font_path)] if font_path is not None else [Path(p) for p in DEFAULT_FONT_PATHS]
    for path in candidates:
        if path.is_file():
            probe = ImageFont.truetype(str(path), 100)
            size = max(4, round(100 * cap_height_px / _ink_height(probe, "H")))
            return ImageFont.truetype(str(path), size), str(path)
        if font_path is not None:
            raise FileNotFoundError(f"font {path} not found: pass an existing .ttf/.otf path, or None for the default")
    probe = ImageFont.load_default(size=100)
    size = max(4, round(100 * cap_height_px / _ink_height(probe, "H")))
    log.warning("no DejaVu Sans (Debian: apt-get install fonts-dejavu-core): labels use Pillow's bundled "
                "font, which has no accented letters; they are written unaccented")
    return ImageFont.load_default(size=size), "Pillow bundled font"


def _mask_array(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    mask = font.getmask(text)
    return np.asarray(mask, dtype=np.uint8).reshape(mask.size[1], mask.size[0])


def _ink_height(font: ImageFont.FreeTypeFont, char: str) -> int:
    rows = np.nonzero(_mask_array(font, char).max(axis=1))[0]
    return int(rows.max() - rows.min() + 1)


@dataclass(frozen=True)
class Glyph:
    """One glyph in the atlas, in texels. Text-local coordinates: x right, y up, pen at (0, 0) on the baseline.

    advance: pen advance; quad: (x, y, w, h) of the drawn quad (the ink plus a
    blank margin), None for a glyph without ink (space); atlas: (column, row) of
    the quad's top-left texel.
    """

    advance: float
    quad: tuple[float, float, float, float] | None
    atlas: tuple[float, float] | None


@dataclass(frozen=True)
class TextLayout:
    """Laid-out text in atlas texels, text-local (x right, y up), aligned about (0, 0).

    quads (n, 4) and atlas (n, 2) per inked glyph; ink_centroid (2,): the
    coverage-weighted centre of the ink (NaN when there is none);
    width: widest line's advance; cap_height: the font's, in texels.
    """

    quads: np.ndarray
    atlas: np.ndarray
    ink_centroid: np.ndarray
    width: float
    cap_height: float


class GlyphAtlas:
    """Glyph coverage atlas on the GPU, grown on demand (module docstring).

    ``texture`` is an R8 mipmapped texture; call :meth:`sync` before drawing
    so that glyphs added since the last call are uploaded. ``image`` is the
    CPU copy (rows top first).
    """

    def __init__(self, ctx: moderngl.Context, font_path: str | Path | None = None, *,
                 cap_height_texels: int = ATLAS_CAP_TEXELS, cell_texels: int = ATLAS_CELL_TEXELS,
                 columns: int = ATLAS_COLUMNS) -> None:
        self.ctx = ctx
        self.font, self.font_name = load_font(font_path, cap_height_texels)
        self.cap_height = float(_ink_height(self.font, "H"))
        ascent, descent = self.font.getmetrics()
        self.line_height = 1.15 * float(ascent + descent)
        self.cell = int(cell_texels)
        self.columns = int(columns)
        self.max_rows = max(1, int(ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192)) // self.cell)
        self.image = np.zeros((self.cell * 8, self.cell * self.columns), dtype=np.uint8)
        self.texture: moderngl.Texture | None = None
        self._dirty = True
        self._glyphs: dict[str, Glyph] = {}
        self._resolved: dict[str, str] = {}
        self._kerning: dict[tuple[str, str], float] = {}
        self._layouts: dict[tuple[str, str], TextLayout] = {}
        self._next_cell = 0
        self._notdef = _mask_array(self.font, "\uffff")
        self._warned: set[str] = set()

    @property
    def size(self) -> tuple[int, int]:
        """Atlas (width, height) in texels."""
        return self.image.shape[1], self.image.shape[0]

    # -- characters

    def has_glyph(self, char: str) -> bool:
        """Whether the font draws ``char`` itself (not its missing-glyph box)."""
        if char.isspace():
            return True
        mask = _mask_array(self.font, char)
        return not (mask.shape == self._notdef.shape and np.array_equal(mask, self._notdef))

    def resolve(self, char: str) -> str:
        """What is drawn for ``char``: itself, its unaccented base, an ASCII spelling, or '' (nothing)."""
        if char in self._resolved:
            return self._resolved[char]
        if self.has_glyph(char):
            out = char
        else:
            base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
            fallback = _ASCII_FALLBACK.get(char, base if base and base != char else "")
            out = fallback if fallback and all(self.has_glyph(c) for c in fallback) else ""
            if char not in self._warned:
                self._warned.add(char)
                log.warning("font %s has no glyph for %r (U+%04X): written as %r", self.font_name, char, ord(char), out)
        self._resolved[char] = out
        return out

    def glyph(self, char: str) -> Glyph:
        """The atlas glyph of one drawable character (see :meth:`resolve`), rasterised on first use."""
        found = self._glyphs.get(char)
        if found is None:
            found = self._glyphs[char] = self._rasterise(char)
        return found

    def _rasterise(self, char: str) -> Glyph:
        advance = float(self.font.getlength(char))
        cell = self.cell
        canvas = Image.new("L", (2 * cell, 2 * cell), 0)
        pen = (cell // 2, (5 * cell) // 4)
        ImageDraw.Draw(canvas).text(pen, char, font=self.font, fill=255, anchor="ls")
        ink = np.asarray(canvas, dtype=np.uint8)
        rows = np.nonzero(ink.max(axis=1))[0]
        cols = np.nonzero(ink.max(axis=0))[0]
        if char.isspace() or len(rows) == 0:
            return Glyph(advance, None, None)
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        room = cell - 2
        if r1 - r0 > room or c1 - c0 > room:
            log.warning("glyph %r is larger than an atlas cell (%d texels): clipped", char, cell)
            r1, c1 = min(r1, r0 + room), min(c1, c0 + room)
        height, width = r1 - r0, c1 - c0
        slot = self._allocate()
        cell_col, cell_row = (slot % self.columns) * cell, (slot // self.columns) * cell
        top, left = (cell - height) // 2, (cell - width) // 2
        self.image[cell_row + top : cell_row + top + height, cell_col + left : cell_col + left + width] = ink[r0:r1, c0:c1]
        self._dirty = True
        margin = min(QUAD_MARGIN_TEXELS, top, left, cell - top - height, cell - left - width)
        # Text-local ink box: x from the pen, y up from the baseline.
        x0, y1 = float(c0 - pen[0]), float(pen[1] - r0)
        quad = (x0 - margin, y1 - height - margin, float(width + 2 * margin), float(height + 2 * margin))
        return Glyph(advance, quad, (float(cell_col + left - margin), float(cell_row + top - margin)))

    def _allocate(self) -> int:
        slot = self._next_cell
        rows_needed = slot // self.columns + 1
        if rows_needed * self.cell > self.image.shape[0]:
            rows = min(2 * self.image.shape[0] // self.cell, self.max_rows)
            if rows_needed > rows:
                raise MemoryError(f"glyph atlas full ({slot} glyphs in a {self.size} texture)")
            grown = np.zeros((rows * self.cell, self.image.shape[1]), dtype=np.uint8)
            grown[: self.image.shape[0]] = self.image
            self.image = grown
        self._next_cell += 1
        return slot

    def kerning(self, left: str, right: str) -> float:
        """The font's kerning between two drawable characters, in texels (usually <= 0)."""
        key = (left, right)
        if key not in self._kerning:
            font = self.font
            self._kerning[key] = float(font.getlength(left + right) - font.getlength(left) - font.getlength(right))
        return self._kerning[key]

    # -- layout

    def layout(self, text: str, align: str = "center") -> TextLayout:
        """Lay out ``text`` (lines split at newlines), aligned about (0, 0).

        align: "center", "left" or "right" for each line's pen span against
        x = 0; vertically the block's cap-height span is centred on y = 0 (a
        single line: its capitals stand from -cap/2 to +cap/2).
        """
        if align not in ("center", "left", "right"):
            raise ValueError(f"align {align!r}: use 'center', 'left' or 'right'")
        key = (text, align)
        cached = self._layouts.get(key)
        if cached is not None:
            return cached
        lines = text.replace("\r\n", "\n").replace("\t", "    ").split("\n")
        quads, atlas, widths = [], [], []
        for index, line in enumerate(lines):
            drawn = "".join(self.resolve(c) for c in line)
            pen, previous, line_quads, line_atlas = 0.0, "", [], []
            for char in drawn:
                if previous:
                    pen += self.kerning(previous, char)
                glyph = self.glyph(char)
                if glyph.quad is not None:
                    x, y, w, h = glyph.quad
                    line_quads.append((pen + x, y - index * self.line_height, w, h))
                    line_atlas.append(glyph.atlas)
                pen += glyph.advance
                previous = char
            shift = {"center": -0.5 * pen, "left": 0.0, "right": -pen}[align]
            quads.extend((x + shift, y, w, h) for x, y, w, h in line_quads)
            atlas.extend(line_atlas)
            widths.append(pen)
        quads_a = np.asarray(quads, dtype=np.float64).reshape(-1, 4)
        atlas_a = np.asarray(atlas, dtype=np.float64).reshape(-1, 2)
        # Centre the block's cap span: from the first line's cap top to the last line's baseline.
        quads_a[:, 1] -= 0.5 * (self.cap_height - (len(lines) - 1) * self.line_height)
        result = TextLayout(quads_a, atlas_a, self._ink_centroid(quads_a, atlas_a), max(widths, default=0.0),
                            self.cap_height)
        if len(self._layouts) < 4096:
            self._layouts[key] = result
        return result

    def _ink_centroid(self, quads: np.ndarray, atlas: np.ndarray) -> np.ndarray:
        total, moment = 0.0, np.zeros(2)
        for (x, y, w, h), (col, row) in zip(quads, atlas):
            patch = self.image[int(row) : int(row) + int(h), int(col) : int(col) + int(w)].astype(np.float64)
            if patch.sum() == 0:
                continue
            rows, cols = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
            # Texel (r, c) covers local x in [x + c, x + c + 1], y in [y + h - r - 1, y + h - r].
            moment += [(patch * (x + cols + 0.5)).sum(), (patch * (y + h - rows - 0.5)).sum()]
            total += patch.sum()
        return moment / total if total > 0 else np.full(2, np.nan)

    # -- GPU

    def sync(self) -> moderngl.Texture:
        """Upload the atlas if glyphs were added (and rebuild its mipmaps); returns the texture."""
        if self._dirty or self.texture is None:
            width, height = self.size
            if self.texture is None or self.texture.size != (width, height):
                if self.texture is not None:
                    self.texture.release()
                self.texture = self.ctx.texture((width, height), 1, dtype="f1")
                self.texture.repeat_x = self.texture.repeat_y = False
                self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                self.texture.anisotropy = min(8.0, float(self.ctx.max_anisotropy or 1.0))
            self.texture.write(np.ascontiguousarray(self.image).tobytes())
            self.texture.build_mipmaps(0, ATLAS_MAX_MIP_LEVEL)
            self._dirty = False
        return self.texture

    def release(self) -> None:
        if self.texture is not None:
            self.texture.release()
            self.texture = None
        self._dirty = True


# --------------------------------------------------------------------------- labels and their painter


@dataclass(frozen=True)
class TextStyle:
    """A label layer's look: cap height in degrees of arc, display-encoded rgb, alpha."""

    cap_height_deg: float
    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    alpha: float = 1.0


#: Constellation names: a lighter tint of the figures' blue.
CONSTELLATION_NAMES_STYLE = TextStyle(1.2, (0.55, 0.68, 0.95))
#: Star names: smaller, warm white, a little dimmer than the stars they name.
STAR_NAMES_STYLE = TextStyle(0.9, (0.85, 0.82, 0.66))
#: Cardinal points: large, warm orange, at the horizon.
CARDINALS_STYLE = TextStyle(2.5, (0.95, 0.52, 0.28))

#: N, E, S, W in each label language.
CARDINAL_LETTERS: dict[str, tuple[str, str, str, str]] = {
    "fr": ("N", "E", "S", "O"),
    "en": ("N", "E", "S", "W"),
    "de": ("N", "O", "S", "W"),
    "nl": ("N", "O", "Z", "W"),
}


#: The Earth's name, labelled when it is seen from space (not a goto target: domectl.objects).
EARTH_NAMES = {"fr": "Terre", "en": "Earth", "de": "Erde", "nl": "Aarde"}


@dataclass(frozen=True)
class Label:
    """One text on the dome.

    anchor: unit vector in the frame the batch is drawn from (ICRS for sky
    labels, ENU for cardinals, dome for overlays); text may hold newlines;
    cap_height_deg: the angular height of its capitals; rgb display-encoded;
    align: "center", "left" or "right" about the anchor (vertically the cap
    span is centred); offset_deg: (right, up) shift of the whole text in the
    anchor's upright tangent basis, degrees.
    """

    anchor: tuple[float, float, float]
    text: str
    cap_height_deg: float
    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    alpha: float = 1.0
    align: str = "center"
    offset_deg: tuple[float, float] = (0.0, 0.0)


def label_instances(atlas: GlyphAtlas, labels: Iterable[Label]) -> np.ndarray:
    """Labels -> (G, 14) float64 glyph instances (anchor, quad, atlas, rad per texel, rgba)."""
    rows = []
    for label in labels:
        layout = atlas.layout(label.text, label.align)
        if not len(layout.quads):
            continue
        rad_per_texel = np.radians(float(label.cap_height_deg)) / atlas.cap_height
        block = np.empty((len(layout.quads), GLYPH_FLOATS))
        anchor = np.asarray(label.anchor, dtype=np.float64)
        block[:, 0:3] = anchor / np.linalg.norm(anchor)
        block[:, 3:7] = layout.quads
        block[:, 3:5] += np.radians(np.asarray(label.offset_deg, dtype=np.float64)) / rad_per_texel
        block[:, 7:9] = layout.atlas
        block[:, 9] = rad_per_texel
        block[:, 10:13] = label.rgb
        block[:, 13] = label.alpha
        rows.append(block)
    return np.concatenate(rows) if rows else np.zeros((0, GLYPH_FLOATS))


def label_ink_centre_dir(atlas: GlyphAtlas, label: Label, rotation: np.ndarray,
                         zenith_cap_deg: float = ZENITH_CAP_DEG, zoom: float = 1.0) -> np.ndarray:
    """Dome direction (3,) of a label's ink centroid, as the text shader places it (for tests and tools)."""
    layout = atlas.layout(label.text, label.align)
    rad_per_texel = np.radians(float(label.cap_height_deg)) / atlas.cap_height
    local_rad = layout.ink_centroid * rad_per_texel + np.radians(np.asarray(label.offset_deg, dtype=np.float64))
    anchor = zoom_dir((np.asarray(rotation, np.float64) @ np.asarray(label.anchor, np.float64))[None], zoom)[0]
    return offset_dirs(anchor / np.linalg.norm(anchor), local_rad[None], zenith_cap_deg)[0]


def _mat3_bytes(matrix: np.ndarray) -> bytes:
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


class TextBatch:
    """Glyph instances on the GPU; ``write(labels)`` replaces them (the buffer grows as needed)."""

    def __init__(self, painter: TextPainter, labels: Iterable[Label] = ()) -> None:
        self._painter = painter
        self._rows = InstanceBuffer(painter.ctx, painter.program, painter.corners, "3f 4f 2f 1f 4f",
                                    ("in_anchor", "in_quad", "in_atlas", "in_rad_per_texel", "in_rgba"),
                                    GLYPH_FLOATS, min_capacity=64)
        self.instances = np.zeros((0, GLYPH_FLOATS))
        self.write(labels)

    @property
    def count(self) -> int:
        return self._rows.count

    def write(self, labels: Iterable[Label]) -> None:
        self.instances = label_instances(self._painter.atlas, labels)
        self._rows.write(self.instances)

    def render(self) -> None:
        self._rows.render()

    def release(self) -> None:
        self._rows.release()


class TextPainter:
    """Draws :class:`TextBatch` es of labels into the bound frame; shares one :class:`GlyphAtlas`.

    zenith_cap_deg: see :func:`label_up`; one value for every text layer so
    that all text on the dome turns alike.
    """

    def __init__(self, ctx: moderngl.Context, atlas: GlyphAtlas | None = None, *,
                 zenith_cap_deg: float = ZENITH_CAP_DEG) -> None:
        self.ctx = ctx
        self._own_atlas = atlas is None
        self.atlas = atlas if atlas is not None else GlyphAtlas(ctx)
        self.zenith_cap_deg = float(zenith_cap_deg)
        self.program = load_program(ctx, "label_text")
        corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
        self.corners = ctx.buffer(corners.tobytes())
        self._batches: list[TextBatch] = []
        check_gl(ctx, "TextPainter setup")

    def batch(self, labels: Iterable[Label] = ()) -> TextBatch:
        """A batch holding ``labels``; released with the painter."""
        batch = TextBatch(self, labels)
        self._batches.append(batch)
        return batch

    def draw(self, view: Any, batches: Sequence[TextBatch], rotation: np.ndarray, opacity: float,
             cull_below_springline_deg: float = CULL_BELOW_SPRINGLINE_DEG, zoom: float = 1.0) -> None:
        """Draw ``batches`` (anchors rotated to the dome frame by ``rotation`` (3, 3)) over the bound frame.

        ``zoom``: the sky's (``view.zoom``) for labels on the sky; 1 for text
        fixed on the dome or already placed in the dome frame.
        """
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity <= 0.0 or not any(b.count for b in batches):
            return
        ctx = self.ctx
        texture = self.atlas.sync()
        size = (float(view.size_px[0]), float(view.size_px[1]))
        prog = self.program
        prog["u_rot"].write(_mat3_bytes(rotation))
        prog["u_rect"].value = tuple(float(x) for x in view.rect_uv)
        prog["u_size_px"].value = size
        prog["u_atlas_size"].value = tuple(float(x) for x in self.atlas.size)
        prog["u_zenith_cap_rad"].value = float(np.radians(self.zenith_cap_deg))
        prog["u_cull_theta_rad"].value = float(np.radians(90.0 + cull_below_springline_deg))
        prog["u_rim_r"].value = 0.5 + RIM_MARGIN_R
        prog["u_zoom"].value = zoom_uniform(zoom)
        prog["u_opacity"].value = opacity
        prog["u_atlas"].value = 0
        texture.use(location=0)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        for batch in batches:
            batch.render()
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, "TextPainter.draw")

    def release(self) -> None:
        for batch in self._batches:
            batch.release()
        self._batches.clear()
        self.program.release()
        self.corners.release()
        if self._own_atlas:
            self.atlas.release()


# --------------------------------------------------------------------------- the label layers


def cardinal_labels(language: str, style: TextStyle = CARDINALS_STYLE, lift_deg: float = 0.6) -> list[Label]:
    """N, E, S, W of ``language`` as ENU-anchored labels standing ``lift_deg`` above the horizon."""
    letters = CARDINAL_LETTERS.get(language)
    if letters is None:
        raise ValueError(f"language {language!r}: cardinal points exist for {', '.join(CARDINAL_LETTERS)}")
    alt_deg = 0.5 * style.cap_height_deg + lift_deg
    anchors = altaz_to_enu(np.full(4, alt_deg), np.array([0.0, 90.0, 180.0, 270.0]))
    return [Label(tuple(a), letter, style.cap_height_deg, style.rgb, style.alpha) for a, letter in zip(anchors, letters)]


class LabelsLayer:
    """The ``constellation-names``, ``star-names`` and ``cardinals`` layers (render/layers.py protocol).

    Labels are in ``view.language``; each language's labels are laid out on
    its first use and kept. ``stars`` (a StarCatalog with ``hip``,
    ``icrs_xyz``, ``mag``) defaults to ``skydata.load_stars()``, read on the
    first star-names draw; ``constellation_names`` (language -> abbrev ->
    name), ``constellation_points`` (abbrev -> (K, 3) ICRS) and ``star_names``
    (language -> HIP -> name) default to the sky data. Star names are drawn
    for named stars of magnitude <= ``star_mag_limit``, ``star_offset_deg``
    to the right of the star.
    """

    names = ("constellation-names", "star-names", "planet-names", "cardinals")

    def __init__(
        self,
        ctx: moderngl.Context,
        *,
        text: TextPainter | None = None,
        stars: Any = None,
        constellation_names: Mapping[str, Mapping[str, str]] | None = None,
        constellation_points: Mapping[str, np.ndarray] | None = None,
        star_names: Mapping[str, Mapping[int, str]] | None = None,
        constellation_style: TextStyle = CONSTELLATION_NAMES_STYLE,
        star_style: TextStyle = STAR_NAMES_STYLE,
        cardinal_style: TextStyle = CARDINALS_STYLE,
        star_mag_limit: float = 2.5,
        star_offset_deg: float = 0.6,
    ) -> None:
        self._own_text = text is None
        self.text = text if text is not None else TextPainter(ctx)
        self._stars = stars
        self._constellation_names = constellation_names
        self._constellation_points = constellation_points
        self._star_names = star_names
        self.styles = {"constellation-names": constellation_style, "star-names": star_style,
                       "planet-names": star_style, "cardinals": cardinal_style}
        self.star_mag_limit = float(star_mag_limit)
        self.star_offset_deg = float(star_offset_deg)
        self._batches: dict[tuple[str, str], TextBatch] = {}

    # -- label lists (plain data: testable without GL)

    def labels(self, name: str, language: str) -> list[Label]:
        """The labels layer ``name`` draws in ``language``."""
        style = self.styles[name]
        if name == "cardinals":
            return cardinal_labels(language, style)
        if name == "constellation-names":
            names = (self._constellation_names[language] if self._constellation_names is not None
                     else skydata.load_constellation_names(language))
            if self._constellation_points is None:
                self._constellation_points = skydata.load_constellation_labels()
            return [
                Label(tuple(point), names[abbrev], style.cap_height_deg, style.rgb, style.alpha)
                for abbrev, points in sorted(self._constellation_points.items()) if abbrev in names
                for point in np.atleast_2d(points)
            ]
        if name == "star-names":
            names = self._star_names[language] if self._star_names is not None else skydata.load_star_names(language)
            if self._stars is None:
                self._stars = skydata.load_stars()
            hip = np.asarray(self._stars.hip)
            order = np.argsort(hip)
            wanted = np.array(sorted(names), dtype=np.int64)
            pos = np.clip(np.searchsorted(hip[order], wanted), 0, len(hip) - 1) if len(hip) else np.zeros(0, int)
            labels = []
            for number, p in zip(wanted, pos):
                index = order[p] if len(hip) else -1
                if index < 0 or hip[index] != number or float(self._stars.mag[index]) > self.star_mag_limit:
                    continue
                labels.append(Label(tuple(np.asarray(self._stars.icrs_xyz[index], np.float64)), names[int(number)],
                                    style.cap_height_deg, style.rgb, style.alpha, align="left",
                                    offset_deg=(self.star_offset_deg, 0.0)))
            return labels
        raise ValueError(f"LabelsLayer draws {', '.join(self.names)}, not {name!r}")

    def body_labels(self, bodies, language: str) -> list[Label]:
        """The Sun's, the Moon's and the planets' names (the Earth's too, seen from space), ENU
        anchors, to the right of each body's disc: they move, so they are rebuilt every frame."""
        from domectl.objects import BODY_NAMES

        style = self.styles["planet-names"]
        out = []
        for body in bodies:
            key = str(body.name).lower()
            text = {**BODY_NAMES, "earth": EARTH_NAMES}.get(key, {}).get(language, str(body.name).capitalize())
            radius_deg = 0.5 * float(body.angular_diameter_deg)
            out.append(Label(tuple(float(x) for x in body.enu), text, style.cap_height_deg, style.rgb, style.alpha,
                             align="left", offset_deg=(self.star_offset_deg + min(radius_deg, 20.0), 0.0)))
        return out

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name not in self.names:
            raise ValueError(f"LabelsLayer draws {', '.join(self.names)}, not {name!r}")
        if opacity <= 0.0:
            return
        key = (name, view.language)
        if name == "planet-names":
            if key not in self._batches:
                self._batches[key] = self.text.batch()
            self._batches[key].write(self.body_labels(view.bodies, view.language))
            self.text.draw(view, [self._batches[key]], view.dome_from_enu, opacity, zoom=view.zoom)
            return
        if key not in self._batches:
            self._batches[key] = self.text.batch(self.labels(name, view.language))
        rotation = view.dome_from_enu if name == "cardinals" else view.dome_from_icrs
        self.text.draw(view, [self._batches[key]], rotation, opacity, zoom=view.zoom)

    def release(self) -> None:
        for batch in self._batches.values():
            batch.release()
        self._batches.clear()
        if self._own_text:
            self.text.release()
