"""Blend weights, blend masks and black-level uplift for overlapping projectors.

Model (all in linear light):

* Each projector ``j`` has a raw weight at a dome point ``p``: with ``(x, y)``
  the pixel of ``j`` that lights ``p``,
  ``raw_j = S(min(x, W - x) / ramp_x) * S(min(y, H - y) / ramp_y)`` where
  ``S`` is smoothstep clamped to [0, 1] and ``ramp_x = ramp_frac_j * W / 2``,
  ``ramp_y = ramp_frac_j * H / 2``: 0 on the image edge, rising smoothly (C1)
  to 1 at ``ramp_frac_j`` of the way to the centre. ``raw_j = 0`` where ``p``
  is outside ``j``'s image or below the springline. ``ramp_frac`` is one
  number for every projector or one per projector (in the order given: a
  technician widens one projector's ramp, :class:`calibration.model.Blend`'s
  ``width_frac``); the weights below sum to 1 either way.
* The blend weight of projector ``i`` is ``raw_i / sum_j raw_j``: the
  weights of all projectors lighting a point sum to exactly 1 (a point lit by
  one projector gets weight 1 however close to its edge).
* Masks are linear; they are stored gamma-encoded (``encode_mask``) as
  16-bit integers so that the dark end of a ramp keeps its precision.
* Black level: a projector shows ``b`` (fraction of white) for a black
  signal, so a point lit by ``n`` projectors has black ``n * b``. Uplift raises
  every point to the brightest black on the dome, ``max_count * b``: the total
  uplift needed at a point is ``(max_count - n) * b``, and projector ``i``
  contributes its blend-weight share ``w_i * (max_count - n) * b``. The node
  adds it in linear light: ``out = uplift + (1 - uplift) * blended``. A
  projector whose uplift is off (``uplift_on``, per projector) adds none: its
  share is left out, not handed to its neighbours (the same as leaving its
  MPCDI beta map out), so the point stays that much darker.

The eye point does not enter the weights (they are properties of dome
points); blend functions take ``eye_m`` for a uniform interface.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warp.geometry import (
    DomeModel,
    ProjectorModel,
    WarpModelError,
    as_eye_m,
    check_inside,
    dome_points_to_pixels,
    on_visible_dome,
    pixels_to_dome_points,
)

# The ramp reaches full weight at the image centre: the widest, softest
# feathering, which spreads the cross-fade over the whole overlap (any
# misalignment is then spread thin). Smaller values sharpen the blend.
DEFAULT_RAMP_FRAC = 1.0

# 16-bit storage for gamma-encoded masks (PNG I;16).
MASK_CODE_MAX = 65535


def ramp_fracs(ramp_frac: float | Sequence[float], count: int) -> np.ndarray:
    """``ramp_frac`` as one value per projector: a number (every projector) or ``count`` numbers -> (count,).

    Each must be in (0, 1] (a fraction of the half image size, per axis).
    """
    values = np.atleast_1d(np.asarray(ramp_frac, dtype=np.float64))
    if values.ndim != 1 or (len(values) != 1 and len(values) != count):
        raise WarpModelError(f"ramp_frac = {ramp_frac!r}: give one number or one per projector ({count})")
    bad = ~((values > 0.0) & (values <= 1.0))
    if bad.any():
        which = int(np.flatnonzero(bad)[0])
        where = "" if len(values) == 1 else f"[{which}]"
        raise WarpModelError(f"ramp_frac{where} = {float(values[which])!r}: must be in (0, 1] "
                             "(fraction of the half image size)")
    return np.broadcast_to(values, (count,)).copy()


def uplift_flags(uplift_on: bool | Sequence[bool], count: int) -> np.ndarray:
    """``uplift_on`` as one bool per projector: a bool (every projector) or ``count`` bools -> (count,) bool."""
    values = np.atleast_1d(np.asarray(uplift_on))
    if values.ndim != 1 or values.dtype != bool or (len(values) != 1 and len(values) != count):
        raise WarpModelError(f"uplift_on = {uplift_on!r}: give one bool or one per projector ({count})")
    return np.broadcast_to(values, (count,)).copy()


def smoothstep(t: np.ndarray) -> np.ndarray:
    """3 t^2 - 2 t^3 on t clamped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def edge_weight(px, width_px: int, height_px: int, ramp_frac: float = DEFAULT_RAMP_FRAC) -> np.ndarray:
    """Raw weight of image pixels from their distance to the nearest image edge.

    ``px`` (N, 2) continuous (x, y) -> (N,) in [0, 1]; 0 on and outside the edges.
    """
    if not 0.0 < ramp_frac <= 1.0:
        raise WarpModelError(f"ramp_frac = {ramp_frac!r}: must be in (0, 1] (fraction of the half image size)")
    px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
    dx = np.minimum(px[:, 0], width_px - px[:, 0]) / (ramp_frac * 0.5 * width_px)
    dy = np.minimum(px[:, 1], height_px - px[:, 1]) / (ramp_frac * 0.5 * height_px)
    return smoothstep(dx) * smoothstep(dy)


def raw_weights_at_points(
    dome: DomeModel, projectors, points, ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC
) -> np.ndarray:
    """Raw (unnormalised) weights of every projector at dome points: (N, 3) -> (N, P).

    ``ramp_frac``: one number, or one per projector (:func:`ramp_fracs`).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    ramps = ramp_fracs(ramp_frac, len(projectors))
    visible = on_visible_dome(dome, points)
    out = np.zeros((len(points), len(projectors)))
    for j, proj in enumerate(projectors):
        check_inside(dome, proj)
        px, ok = dome_points_to_pixels(proj, points)
        out[:, j] = np.where(ok & visible, edge_weight(px, proj.width_px, proj.height_px, ramps[j]), 0.0)
    return out


def coverage_counts(dome: DomeModel, projectors, points) -> np.ndarray:
    """(N, 3) dome points -> (N,) int: how many projectors light each (0 below the springline)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    visible = on_visible_dome(dome, points)
    count = np.zeros(len(points), dtype=np.int64)
    for proj in projectors:
        check_inside(dome, proj)
        count += dome_points_to_pixels(proj, points)[1] & visible
    return count


def normalized_weights_at_points(
    dome: DomeModel, projectors, points, ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC
) -> np.ndarray:
    """Blend weights of every projector at dome points: (N, 3) -> (N, P), rows summing to 1 where lit, else 0."""
    raw = raw_weights_at_points(dome, projectors, points, ramp_frac)
    total = raw.sum(axis=1, keepdims=True)
    return np.divide(raw, total, out=np.zeros_like(raw), where=total > 0.0)


def _check_index(projectors, index: int) -> None:
    if not 0 <= index < len(projectors):
        raise WarpModelError(f"index = {index!r}: must be in [0, {len(projectors)}) (one of the projectors given)")


# Points per chunk when evaluating masks: bounds the temporaries of a full
# 4096 x 2160 mask to a few tens of MB.
CHUNK_POINTS = 1 << 18


def _weights_of_one(dome: DomeModel, projectors, index: int, points: np.ndarray, ramps: np.ndarray) -> np.ndarray:
    """Normalised weight of projector ``index`` at dome points (N, 3) -> (N,), streaming over projectors.

    ``ramps``: (P,) ramp_frac per projector (:func:`ramp_fracs`).
    """
    visible = on_visible_dome(dome, points)
    total = np.zeros(len(points))
    mine = np.zeros(len(points))
    for j, proj in enumerate(projectors):
        check_inside(dome, proj)
        px, ok = dome_points_to_pixels(proj, points)
        raw = np.where(ok & visible, edge_weight(px, proj.width_px, proj.height_px, ramps[j]), 0.0)
        total += raw
        if j == index:
            mine = raw
    return np.divide(mine, total, out=np.zeros_like(total), where=total > 0.0)


def blend_weights(
    dome: DomeModel, projectors, eye_m, index: int, px, ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC
) -> np.ndarray:
    """Linear-light blend weight of projector ``index`` at its pixels ``px`` (N, 2) -> (N,).

    0 where the pixel misses the visible dome; otherwise its raw edge weight
    over the sum of the raw weights of all projectors lighting the same dome
    point. ``ramp_frac``: one number, or one per projector (each projector's
    ramp enters its neighbours' weights too).
    """
    as_eye_m(eye_m, dome)
    _check_index(projectors, index)
    ramps = ramp_fracs(ramp_frac, len(projectors))
    px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
    out = np.zeros(len(px))
    for start in range(0, len(px), CHUNK_POINTS):
        chunk = slice(start, start + CHUNK_POINTS)
        points, valid = pixels_to_dome_points(dome, projectors[index], px[chunk])
        out[chunk] = np.where(valid, _weights_of_one(dome, projectors, index, points, ramps), 0.0)
    return out


def mask_pixel_centres(projector: ProjectorModel, width: int, height: int) -> np.ndarray:
    """Centres of a ``width`` x ``height`` mask's texels in the projector's pixels: (H*W, 2), row-major.

    A mask may be coarser than the projector; texel ``(c, r)`` covers projector
    pixels ``[c, c + 1) * W_proj / width`` (and likewise in y): it is sampled in
    normalised coordinates like any texture.
    """
    if width <= 0 or height <= 0:
        raise WarpModelError(f"mask size {width} x {height}: both must be positive integers")
    xs = (np.arange(width) + 0.5) * (projector.width_px / width)
    ys = (np.arange(height) + 0.5) * (projector.height_px / height)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def blend_mask(
    dome: DomeModel, projectors, eye_m, index: int, width: int, height: int,
    ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC,
) -> np.ndarray:
    """(height, width) float32 linear blend mask of projector ``index`` (texel centres, see :func:`mask_pixel_centres`)."""
    _check_index(projectors, index)
    px = mask_pixel_centres(projectors[index], width, height)
    return blend_weights(dome, projectors, eye_m, index, px, ramp_frac).reshape(height, width).astype(np.float32)


def encode_mask(mask_linear: np.ndarray, gamma: float) -> np.ndarray:
    """Linear mask in [0, 1] -> gamma-encoded uint16 (``round(65535 * m ** (1 / gamma))``), same shape."""
    if not gamma > 0:
        raise WarpModelError(f"gamma = {gamma!r}: must be > 0 (2.2 is typical)")
    m = np.asarray(mask_linear, dtype=np.float64)
    if m.size and (np.nanmin(m) < 0.0 or np.nanmax(m) > 1.0 or not np.all(np.isfinite(m))):
        raise WarpModelError("mask values must be finite and within [0, 1] (linear light) to encode")
    return np.rint(MASK_CODE_MAX * m ** (1.0 / gamma)).astype(np.uint16)


def decode_mask(mask_encoded: np.ndarray, gamma: float) -> np.ndarray:
    """Gamma-encoded uint16 mask -> float32 linear in [0, 1] (inverse of :func:`encode_mask`)."""
    if not gamma > 0:
        raise WarpModelError(f"gamma = {gamma!r}: must be > 0 (2.2 is typical)")
    code = np.asarray(mask_encoded)
    if code.dtype != np.uint16:
        raise WarpModelError(f"encoded mask dtype is {code.dtype}: expected uint16 (from encode_mask)")
    return ((code.astype(np.float64) / MASK_CODE_MAX) ** gamma).astype(np.float32)


def fibonacci_dome_points(dome: DomeModel, n_points: int) -> np.ndarray:
    """(n_points, 3) points spread evenly by area over the visible dome (a Fibonacci lattice)."""
    if n_points <= 0:
        raise WarpModelError(f"n_points = {n_points!r}: must be a positive integer")
    z_lo = np.sin(np.radians(dome.springline_deg))
    k = np.arange(n_points) + 0.5
    z = z_lo + (1.0 - z_lo) * k / n_points  # uniform in z = uniform in area on a sphere
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    rho = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    return dome.radius_m * np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)


def max_overlap_count(dome: DomeModel, projectors, n_points: int = 20000) -> int:
    """The largest number of projectors lighting one point of the visible dome (sampled by area)."""
    return int(coverage_counts(dome, projectors, fibonacci_dome_points(dome, n_points)).max())


def black_uplift_at_points(
    dome: DomeModel, projectors, points, max_count: int, ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC,
    uplift_on: bool | Sequence[bool] = True,
) -> np.ndarray:
    """Linear-light black uplift of every projector at dome points: (N, 3) -> (N, P).

    The total over projectors at a lit point is ``max_count * max(b) - sum of b
    of the projectors lighting it`` (``(max_count - n) * b`` for equal black
    levels), shared by blend weight; 0 where no projector lights the point.
    ``uplift_on`` (one bool or one per projector): a projector with it off
    gets 0 (its share is not redistributed).
    """
    flags = uplift_flags(uplift_on, len(projectors))
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    visible = on_visible_dome(dome, points)
    blacks = np.array([p.black_level for p in projectors])
    lit = np.stack([dome_points_to_pixels(p, points)[1] for p in projectors], axis=1) & visible[:, None]
    black_here = lit.astype(np.float64) @ blacks
    need = np.maximum(max_count * blacks.max() - black_here, 0.0)
    weights = normalized_weights_at_points(dome, projectors, points, ramp_frac)
    return weights * need[:, None] * flags[None, :]


def black_uplift_mask(
    dome: DomeModel,
    projectors,
    eye_m,
    index: int,
    width: int,
    height: int,
    max_count: int | None = None,
    ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC,
    uplift_on: bool | Sequence[bool] = True,
) -> np.ndarray:
    """(height, width) float32 linear black-level uplift of projector ``index`` (model in the module docstring).

    ``max_count``: the brightest overlap on the dome; sampled with
    :func:`max_overlap_count` if not given. Uses each projector's ``black_level``.
    ``ramp_frac`` and ``uplift_on``: one value or one per projector; all zero
    when ``index``'s uplift is off.
    """
    as_eye_m(eye_m, dome)
    _check_index(projectors, index)
    ramps = ramp_fracs(ramp_frac, len(projectors))
    flags = uplift_flags(uplift_on, len(projectors))
    if max_count is None:
        max_count = max_overlap_count(dome, projectors)
    px = mask_pixel_centres(projectors[index], width, height)
    out = np.zeros(len(px), dtype=np.float32)
    for start in range(0, len(px), CHUNK_POINTS):
        chunk = slice(start, start + CHUNK_POINTS)
        points, valid = pixels_to_dome_points(dome, projectors[index], px[chunk])
        up = black_uplift_at_points(dome, projectors, points, max_count, ramps, flags)[:, index]
        out[chunk] = np.where(valid, up, 0.0)
    return out.reshape(height, width)
