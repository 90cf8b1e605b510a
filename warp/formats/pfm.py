"""PFM (Portable Float Map) images, and PFM warp maps.

The file::

    PF or Pf        magic: "PF" three channels (colour), "Pf" one (grey)
    W H             width and height in pixels, decimal
    S               scale; its sign is the byte order: S < 0 little-endian,
                    S > 0 big-endian (|S| is a scale factor nobody applies)
    <one whitespace byte, then W * H * C float32 samples>

Samples are stored **bottom row first** (rows run from the image's bottom to
its top), left to right, channels interleaved. Arrays here always face the
other way, like every other image in domectl: **row 0 is the top row**.
:func:`decode_pfm` flips on reading and :func:`encode_pfm` on writing, as the
MPCDI reference library (Scalable Display Technologies' ``mpcdiPfmIO``) does.
(SGCT reads PFM rows top first; for warp maps that difference cancels against
its y-up axis, see :func:`texel_grid`.)

Warp maps in PFM files hold, per sample, a normalised 2-D coordinate in the
first two channels (the third is unused and NaN in many real files). Two
conventions exist and nothing in the file says which:

* ``"absolute"``: the value is the coordinate itself (MPCDI's geometry warp
  files, SGCT's ``surface1.pfm``);
* ``"displacement"``: the value is added to the sample's own position on the
  grid (SGCT's MPCDI meshes, where an all-zero map is the identity).

Readers take the convention as an explicit argument; ``"guess"`` applies the
documented heuristic :func:`guess_warp_convention`. NaN in a coordinate
channel marks a sample with no warp (invalid); infinities are an error.

Pure functions from bytes to arrays and back; file functions wrap them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warp.formats._io import FormatError, atomic_write_bytes, read_bytes

WARP_CONVENTIONS = ("absolute", "displacement")

# The header is three short lines; anything longer than this before the
# pixel data is not a PFM file.
MAX_HEADER_BYTES = 256

# guess_warp_convention: a coordinate counts as out of range beyond this much
# outside [0, 1] (real warps overscan their region a little at the edges).
GUESS_RANGE_SLACK = 0.05
# ... and a grid cell as collapsed when the candidate map shrinks it to less
# than this fraction of its area: a real warp spreads the projector over at
# least a few percent of its region, a displacement field taken for
# coordinates piles everything near 0.
GUESS_COLLAPSED_AREA = 0.02

_WHITESPACE = b" \t\r\n\x0b\x0c"


def _header_tokens(data: bytes, name: str) -> tuple[list[bytes], int]:
    """The four header tokens (magic, W, H, S) and the offset of the first sample byte."""
    tokens: list[bytes] = []
    pos = 0
    end = min(len(data), MAX_HEADER_BYTES)
    while len(tokens) < 4:
        while pos < end and data[pos] in _WHITESPACE:
            pos += 1
        start = pos
        while pos < end and data[pos] not in _WHITESPACE:
            pos += 1
        if pos == start or pos >= len(data):
            found = " ".join(t.decode("latin-1") for t in tokens) or "nothing"
            raise FormatError(
                f"{name}: truncated or malformed PFM header: expected 'PF' or 'Pf', width, height and scale "
                f"each followed by whitespace, found {found!r}"
            )
        tokens.append(data[start:pos])
    # Exactly one whitespace byte separates the scale from the samples.
    return tokens, pos + 1


def decode_pfm(data: bytes, name: str = "<pfm>") -> np.ndarray:
    """PFM bytes -> float32 image, **top row first**: (H, W) for "Pf", (H, W, 3) for "PF".

    Samples are returned as stored (NaN included; the scale's magnitude is
    not applied). ``name`` is used in error messages (a file or archive path).
    Raises :class:`FormatError` for a bad magic, header, byte order or size.
    """
    if len(data) < 2 or data[:2] not in (b"PF", b"Pf"):
        raise FormatError(f"{name}: not a PFM file: starts with {data[:2]!r}, expected b'PF' (colour) or b'Pf' (grey)")
    tokens, offset = _header_tokens(data, name)
    magic, w_text, h_text, s_text = tokens
    if magic not in (b"PF", b"Pf"):
        raise FormatError(f"{name}: PFM magic {magic!r}: expected b'PF' or b'Pf' alone on the first line")
    channels = 3 if magic == b"PF" else 1
    try:
        width, height = int(w_text), int(h_text)
    except ValueError:
        raise FormatError(
            f"{name}: PFM size {w_text.decode('latin-1')!r} x {h_text.decode('latin-1')!r}: "
            "expected two whole numbers 'width height' on the second line"
        ) from None
    if width <= 0 or height <= 0:
        raise FormatError(f"{name}: PFM size {width} x {height}: width and height must be positive")
    try:
        scale = float(s_text)
    except ValueError:
        raise FormatError(
            f"{name}: PFM scale {s_text.decode('latin-1')!r}: expected a number (negative for little-endian, "
            "positive for big-endian) on the third line"
        ) from None
    if scale == 0.0 or not np.isfinite(scale):
        raise FormatError(
            f"{name}: PFM scale {scale!r}: must be a non-zero finite number; its sign gives the byte order"
        )
    expected = width * height * channels * 4
    found = len(data) - offset
    if found < expected:
        raise FormatError(
            f"{name}: truncated PFM: {width} x {height} x {channels} float32 samples need {expected} bytes "
            f"after the header, found {found}"
        )
    if found > expected:
        raise FormatError(
            f"{name}: {found - expected} bytes after the {width} x {height} x {channels} samples: "
            "the header's size does not match the data"
        )
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    samples = np.frombuffer(data, dtype=dtype, count=width * height * channels, offset=offset)
    image = samples.reshape(height, width, channels)[::-1].astype(np.float32)
    return image[..., 0] if channels == 1 else image


def read_pfm(path: str | os.PathLike) -> np.ndarray:
    """Read a PFM file: see :func:`decode_pfm` (top row first)."""
    return decode_pfm(read_bytes(path), str(path))


def encode_pfm(image: np.ndarray, *, little_endian: bool = True) -> bytes:
    """Float image, **top row first** -> PFM bytes (rows written bottom first).

    ``image`` (H, W) -> "Pf", (H, W, 3) -> "PF"; converted to float32 (NaN and
    infinities are written as they are: a PFM image may hold any float).
    ``little_endian`` picks the byte order (scale -1 or +1).
    """
    img = np.asarray(image)
    if img.ndim == 2:
        magic, channels = b"Pf", 1
    elif img.ndim == 3 and img.shape[2] == 3:
        magic, channels = b"PF", 3
    else:
        raise FormatError(f"PFM image shape {img.shape}: must be (H, W) grey or (H, W, 3) colour")
    height, width = img.shape[:2]
    if height == 0 or width == 0:
        raise FormatError(f"PFM image shape {img.shape}: width and height must be positive")
    dtype = np.dtype("<f4" if little_endian else ">f4")
    body = np.ascontiguousarray(img.reshape(height, width, channels)[::-1], dtype=dtype).tobytes()
    header = magic + b"\n%d %d\n%s\n" % (width, height, b"-1.0" if little_endian else b"1.0")
    return header + body


def write_pfm(path: str | os.PathLike, image: np.ndarray, *, little_endian: bool = True) -> Path:
    """Write a PFM file atomically: see :func:`encode_pfm`."""
    return atomic_write_bytes(path, encode_pfm(image, little_endian=little_endian))


# ------------------------------------------------------------------ warp maps


def texel_grid(rows: int, cols: int) -> np.ndarray:
    """(rows, cols, 2) float64: each warp sample's own normalised position ``((j + 0.5) / cols, (i + 0.5) / rows)``.

    Samples are texel centres, as when a consumer uploads the map as a texture
    and samples it at each output pixel (MPCDI's MPACS viewer), so a map at
    the projector's resolution has one sample per pixel centre. y grows from
    the first array row (the top) to the last. With PFM rows read bottom
    first this gives the same numbers as SGCT's y-up grid read top first.
    """
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    return np.stack([(x + 0.5) / cols, (y + 0.5) / rows], axis=-1)


def _plausibility_penalty(coords: np.ndarray, finite: np.ndarray) -> float:
    """How unlike a warp map candidate absolute coordinates are: 0 (plausible) up to 3.

    Sum of three fractions: finite samples outside ``[-slack, 1 + slack]``;
    grid cells whose area the map shrinks below :data:`GUESS_COLLAPSED_AREA`;
    and cells folded against the map's dominant orientation.
    """
    c = coords[finite]
    out_of_range = float(np.mean((c < -GUESS_RANGE_SLACK) | (c > 1.0 + GUESS_RANGE_SLACK))) if c.size else 1.0
    rows, cols = finite.shape
    if rows < 2 or cols < 2:
        return out_of_range
    ok = finite[:-1, :-1] & finite[:-1, 1:] & finite[1:, :-1]
    if not ok.any():
        return out_of_range + 2.0
    # Jacobian of the map in units of the normalised grid (d coord / d grid position).
    dx = (coords[:-1, 1:] - coords[:-1, :-1]) * cols
    dy = (coords[1:, :-1] - coords[:-1, :-1]) * rows
    det = (dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0])[ok]
    collapsed = float(np.mean(np.abs(det) < GUESS_COLLAPSED_AREA))
    folded = float(min(np.mean(det > 0), np.mean(det < 0)))
    return out_of_range + collapsed + folded


def guess_warp_convention(values: np.ndarray) -> str:
    """Guess whether a warp map holds absolute coordinates or displacements: "absolute" or "displacement".

    ``values`` (H, W, 2) as stored, top row first, NaN where invalid. Both
    readings are turned into absolute coordinates (``values`` itself, and
    ``values + texel_grid``) and scored by :func:`_plausibility_penalty`: a
    warp lies within its region, spreads the projector over part of it and
    does not fold. The reading with the lower score wins; a tie goes to
    "absolute" (MPCDI's convention). An all-zero map reads as displacement
    (the identity), the identity map as absolute. A heuristic: give the
    convention explicitly when it is known.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 3 or v.shape[2] < 2:
        raise FormatError(f"warp values shape {v.shape}: expected (H, W, 2) coordinates")
    v = v[..., :2]
    finite = np.all(np.isfinite(v), axis=-1)
    if not finite.any():
        return "absolute"
    as_absolute = _plausibility_penalty(v, finite)
    as_displacement = _plausibility_penalty(v + texel_grid(*finite.shape), finite)
    return "absolute" if as_absolute <= as_displacement else "displacement"


@dataclass(frozen=True, eq=False)
class PfmWarp:
    """A warp map read from a PFM file.

    ``coords`` (H, W, 2) float64: absolute normalised coordinates, top row
    first, in the axes of the file's producer (MPCDI: (0, 0) the top-left of
    the region, y down); NaN where ``valid`` is False. ``values`` (H, W, 2)
    float32: the first two channels exactly as stored. ``convention``: how
    ``values`` were read ("absolute" or "displacement").
    """

    coords: np.ndarray
    valid: np.ndarray
    values: np.ndarray
    convention: str

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of samples."""
        return self.valid.shape


def warp_from_values(values: np.ndarray, convention: str = "guess", name: str = "<warp>") -> PfmWarp:
    """Stored warp values (H, W, >= 2), top row first -> :class:`PfmWarp` (absolute coordinates).

    ``convention``: "absolute", "displacement" or "guess"
    (:func:`guess_warp_convention`). Raises :class:`FormatError` naming
    ``name`` for a map with fewer than two channels, an infinity, or no
    finite sample at all.
    """
    v = np.asarray(values)
    if v.ndim != 3 or v.shape[2] < 2:
        raise FormatError(
            f"{name}: a warp map needs two coordinate channels (a colour 'PF' file), got shape {v.shape}"
        )
    v = np.ascontiguousarray(v[..., :2], dtype=np.float32)
    if np.isinf(v).any():
        row, col, ch = (int(i) for i in np.argwhere(np.isinf(v))[0])
        raise FormatError(
            f"{name}: infinite {'xy'[ch]} coordinate at row {row} (from the top), column {col}: "
            "a warp sample must be finite, or NaN for no warp"
        )
    valid = np.all(np.isfinite(v), axis=-1)
    if not valid.any():
        raise FormatError(f"{name}: every warp sample is NaN: the map warps nothing (expected finite coordinates)")
    if convention == "guess":
        convention = guess_warp_convention(v)
    if convention not in WARP_CONVENTIONS:
        raise FormatError(f"warp convention {convention!r}: must be 'absolute', 'displacement' or 'guess'")
    coords = v.astype(np.float64)
    if convention == "displacement":
        coords = coords + texel_grid(*valid.shape)
    coords[~valid] = np.nan
    return PfmWarp(coords=coords, valid=valid, values=v, convention=convention)


def read_pfm_warp(path: str | os.PathLike, convention: str = "guess") -> PfmWarp:
    """Read a standalone PFM warp map (see the module docstring and :func:`warp_from_values`)."""
    return warp_from_values(read_pfm(path), convention, str(path))


def warp_values_image(coords: np.ndarray) -> np.ndarray:
    """(H, W, 2) coordinates (NaN where invalid) -> (H, W, 3) float32 for a "PF" file.

    The third channel is written as 0, not the NaN found in many real files:
    readers ignore it, and a GPU that uploads the map as an RGB float texture
    then never meets a NaN.
    """
    c = np.asarray(coords)
    if c.ndim != 3 or c.shape[2] != 2:
        raise FormatError(f"warp coordinates shape {c.shape}: expected (H, W, 2)")
    out = np.zeros(c.shape[:2] + (3,), dtype=np.float32)
    out[..., :2] = c
    return out


def write_pfm_warp(path: str | os.PathLike, coords: np.ndarray, *, little_endian: bool = True) -> Path:
    """Write absolute warp coordinates (H, W, 2), top row first, as a "PF" file atomically."""
    return write_pfm(path, warp_values_image(coords), little_endian=little_endian)

