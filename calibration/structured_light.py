"""Structured light: Gray code plus N-step phase shift, encoded in projector pixels, decoded from camera images.

numpy only, vectorised. Conventions follow :mod:`warp.geometry`: projector
pixel ``(col, row)`` has its centre at continuous coordinates
``(col + 0.5, row + 0.5)``; x right, y down.

Why this pair of codes: a camera pixel of the calibration camera covers about
ten projector pixels, so the finest Gray-code stripes a camera can resolve are
tens of projector pixels wide. The phase shift gives the sub-pixel position
inside one sinusoid period (``period_px``); the Gray code only has to say
which period, and is carried one bit further, to half periods, so that a
Gray-code error of one step at a stripe edge (where blur makes a bit
ambiguous) cannot move the result by a period: unwrapping needs the coarse
position within +-P/2 and a half-period code is within P/4 even when off by
one step.

Sequence (:func:`pattern_names`), for each axis ``x`` then ``y``::

    white, black                             validity and contrast
    gray_x7, gray_x7_inv, ..., gray_x0, gray_x0_inv   bit planes, MSB first, each with its inverse
    phase_x0 .. phase_x{N-1}                 sinusoids shifted by 2 pi k / N
    (the same for y)

Gray bit planes are thresholded against their inverse (``pattern > inverse``),
so neither the camera's gain, the projector's falloff nor ambient light needs
a threshold. Sinusoids are defined in linear light (``0.5 + 0.5 cos``) and
encoded with the projector's gamma, so what reaches the dome is a true
sinusoid; decoding expects linear camera values (a RAW capture).

Phase decoding (the standard N-step formula): for captures
``I_k = A + B cos(theta - 2 pi k / N)``, ``S = sum I_k sin(2 pi k / N)`` and
``C = sum I_k cos(2 pi k / N)`` give ``theta = atan2(S, C)`` and modulation
``B = 2 / N * hypot(S, C)``; the projector coordinate inside a period is
``u = theta / (2 pi) * period_px``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from domectl.errors import DomectlError

# Defaults chosen for a ~1000 px fisheye camera looking at 4096 px projectors on
# a 15 m dome (one camera pixel ~ 9 projector pixels): a 64 px period is ~7
# camera pixels, resolved after optical blur (benchmarks/bench_calibration.py).
DEFAULT_PERIOD_PX = 64
DEFAULT_PHASE_STEPS = 4
# A camera pixel is decodable when white - black exceeds this fraction of the
# brightest white - black in the capture (well above read noise, below the
# dimmest lit corner of a projector).
DEFAULT_MIN_CONTRAST_FRAC = 0.08
# ... and the sinusoid's modulation B is at least this fraction of
# (white - black) / 2 (1 for a sharp camera; pixels straddling the image edge
# or a depth edge lose modulation, and their phase is biased).
DEFAULT_MIN_MODULATION_FRAC = 0.35


class StructuredLightError(DomectlError, ValueError):
    """A pattern specification or a capture stack is inconsistent; the message says how to fix it."""


@dataclass(frozen=True)
class PatternSpec:
    """What a projector shows: its image size, the phase period and step count, its gamma."""

    width_px: int
    height_px: int
    period_px: int = DEFAULT_PERIOD_PX
    phase_steps: int = DEFAULT_PHASE_STEPS
    gamma: float = 2.2

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px", "period_px", "phase_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise StructuredLightError(f"PatternSpec.{name} = {v!r}: must be a positive integer")
            object.__setattr__(self, name, int(v))
        if self.period_px < 4 or self.period_px % 2:
            raise StructuredLightError(
                f"PatternSpec.period_px = {self.period_px}: must be even and >= 4 (the Gray code resolves half periods)")
        if self.phase_steps < 3:
            raise StructuredLightError(f"PatternSpec.phase_steps = {self.phase_steps}: needs >= 3 steps to solve a phase")
        if not (isinstance(self.gamma, (int, float)) and math.isfinite(self.gamma) and self.gamma > 0):
            raise StructuredLightError(f"PatternSpec.gamma = {self.gamma!r}: must be > 0 (2.2 is typical)")

    @property
    def half_period_px(self) -> int:
        return self.period_px // 2

    def gray_bits(self, axis: str) -> int:
        """Bit planes needed to number the half periods along ``axis`` ("x" or "y")."""
        size = self.width_px if axis == "x" else self.height_px
        count = -(-size // self.half_period_px)
        return max(1, int(count - 1).bit_length())

    @property
    def pattern_count(self) -> int:
        return len(pattern_names(self))


AXES = ("x", "y")


def pattern_names(spec: PatternSpec) -> list[str]:
    """The capture sequence's names, in order (module docstring)."""
    names = ["white", "black"]
    for axis in AXES:
        for bit in reversed(range(spec.gray_bits(axis))):
            names += [f"gray_{axis}{bit}", f"gray_{axis}{bit}_inv"]
        names += [f"phase_{axis}{k}" for k in range(spec.phase_steps)]
    return names


def gray_code(n: np.ndarray) -> np.ndarray:
    """Binary -> reflected Gray code (integer arrays)."""
    n = np.asarray(n)
    return n ^ (n >> 1)


def gray_decode(g: np.ndarray) -> np.ndarray:
    """Reflected Gray code -> binary (integer arrays; up to 32 bits)."""
    n = np.asarray(g).copy()
    shift = 1
    while shift < 32:
        n ^= n >> shift
        shift *= 2
    return n


def _axis_signal(spec: PatternSpec, name: str) -> tuple[str, np.ndarray]:
    """1-D signal (projector drive value in [0, 1]) of a pattern along its axis."""
    if name in ("white", "black"):
        return "x", np.full(spec.width_px, 1.0 if name == "white" else 0.0, dtype=np.float32)
    kind, rest = name.split("_", 1)
    axis = rest[0]
    size = spec.width_px if axis == "x" else spec.height_px
    index = np.arange(size)
    if kind == "gray":
        inverse = rest.endswith("_inv")
        bit = int(rest[1:].removesuffix("_inv"))
        code = gray_code(index // spec.half_period_px)
        on = ((code >> bit) & 1).astype(bool)
        return axis, (~on if inverse else on).astype(np.float32)
    k = int(rest[1:])
    u = index + 0.5
    linear = 0.5 + 0.5 * np.cos(2.0 * np.pi * (u / spec.period_px - k / spec.phase_steps))
    return axis, (linear ** (1.0 / spec.gamma)).astype(np.float32)


def pattern_image(spec: PatternSpec, name: str) -> np.ndarray:
    """One pattern as an (H, W) float32 image of drive values in [0, 1].

    Every pattern varies along one axis only, so this is a read-only broadcast
    view of one row or column (no 35 MB array per 4096 x 2160 pattern); copy it
    to write into it.
    """
    if name not in pattern_names(spec):
        raise StructuredLightError(f"pattern {name!r}: not in this spec's sequence; see pattern_names(spec)")
    axis, signal = _axis_signal(spec, name)
    shape = (spec.height_px, spec.width_px)
    return np.broadcast_to(signal[None, :] if axis == "x" else signal[:, None], shape)


def pattern_images(spec: PatternSpec) -> list[tuple[str, np.ndarray]]:
    """The whole sequence as (name, image) pairs (:func:`pattern_image`)."""
    return [(n, pattern_image(spec, n)) for n in pattern_names(spec)]


@dataclass(frozen=True)
class Decoded:
    """Per camera pixel: the projector pixel it sees and whether that is trustworthy.

    ``x_px``, ``y_px`` (...,) float64 continuous projector coordinates (centres
    at +0.5), meaningless where not ``valid``; ``contrast`` = white - black in
    camera units; ``modulation`` = the x and y sinusoids' smaller amplitude
    over (white - black) / 2.
    """

    x_px: np.ndarray
    y_px: np.ndarray
    valid: np.ndarray
    contrast: np.ndarray
    modulation: np.ndarray


def _phase(stack: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, ...) captures of an N-step phase shift -> (theta in [0, 2 pi), amplitude B)."""
    delta = 2.0 * np.pi * np.arange(steps) / steps
    s = np.tensordot(np.sin(delta), stack, axes=(0, 0))
    c = np.tensordot(np.cos(delta), stack, axes=(0, 0))
    return np.mod(np.arctan2(s, c), 2.0 * np.pi), (2.0 / steps) * np.hypot(s, c)


def decode(
    spec: PatternSpec,
    stack: np.ndarray,
    *,
    min_contrast_frac: float = DEFAULT_MIN_CONTRAST_FRAC,
    min_modulation_frac: float = DEFAULT_MIN_MODULATION_FRAC,
    erode_px: int = 0,
) -> Decoded:
    """Captures in :func:`pattern_names` order -> per-pixel projector coordinates.

    ``stack`` (K, ...) linear camera values, K = ``spec.pattern_count``; the
    trailing shape is the camera image (H, W) or a flat list of pixels (M,).
    ``erode_px`` (images only) shrinks the valid region by that many pixels,
    dropping the blurred rim where a camera pixel sees the projector's image
    edge. Valid: enough contrast, enough modulation, and both coordinates
    inside the projector image.
    """
    names = pattern_names(spec)
    stack = np.asarray(stack)
    if stack.ndim < 2 or stack.shape[0] != len(names):
        raise StructuredLightError(
            f"capture stack has shape {stack.shape}: needs {len(names)} captures first (pattern_names(spec) order)")
    stack = stack.astype(np.float32, copy=False)
    index = {n: i for i, n in enumerate(names)}
    white, black = stack[index["white"]], stack[index["black"]]
    contrast = white - black
    peak = float(np.max(contrast)) if contrast.size else 0.0
    valid = contrast > min_contrast_frac * max(peak, 1e-12)
    safe_contrast = np.where(valid, contrast, 1.0)
    coords = {}
    modulation = np.full(contrast.shape, np.inf)
    for axis in AXES:
        size = spec.width_px if axis == "x" else spec.height_px
        code = np.zeros(contrast.shape, dtype=np.int64)
        for bit in reversed(range(spec.gray_bits(axis))):
            on = stack[index[f"gray_{axis}{bit}"]] > stack[index[f"gray_{axis}{bit}_inv"]]
            code |= on.astype(np.int64) << bit
        half = gray_decode(code)
        first = index[f"phase_{axis}0"]
        theta, amp = _phase(stack[first:first + spec.phase_steps], spec.phase_steps)
        u_phase = theta * (spec.period_px / (2.0 * np.pi))
        u_coarse = (half + 0.5) * spec.half_period_px
        u = u_phase + spec.period_px * np.round((u_coarse - u_phase) / spec.period_px)
        valid &= (u >= 0.0) & (u <= size)
        modulation = np.minimum(modulation, amp / (0.5 * safe_contrast))
        coords[axis] = u
    valid &= modulation >= min_modulation_frac
    if erode_px > 0 and valid.ndim == 2:
        valid = erode(valid, erode_px)
    return Decoded(coords["x"], coords["y"], valid, contrast, modulation)


def erode(mask: np.ndarray, radius_px: int) -> np.ndarray:
    """Binary erosion of an (H, W) bool mask by a (2r+1)-square; outside the image counts as False."""
    out = np.asarray(mask, dtype=bool).copy()
    for _ in range(int(radius_px)):
        # Vertical then horizontal 3-tap minimum: together a 3 x 3 square.
        v = out.copy()
        v[1:, :] &= out[:-1, :]
        v[:-1, :] &= out[1:, :]
        v[0, :] = v[-1, :] = False
        h = v.copy()
        h[:, 1:] &= v[:, :-1]
        h[:, :-1] &= v[:, 1:]
        h[:, 0] = h[:, -1] = False
        out = h
    return out
