"""What the eye sees: warping a domemaster into projector images, and back.

* :func:`warp_domemaster`: the numpy twin of a node's warp pass (without
  the mesh's interpolation): each projector pixel samples the domemaster at
  the exact uv of the dome point it lights; black below the springline.
* :func:`reconstruct_domemaster`: a virtual camera at the eye. For each
  domemaster pixel, the dome point seen in that direction, projected into
  every projector, bilinearly sampled from that projector's (warped,
  blended, linear-light) image, summed over projectors.
* :func:`coverage_map` and :func:`coverage_fraction`.

Images are sampled like textures, in normalised coordinates: an image of any
size spans the projector's whole ``[0, W] x [0, H]`` pixel rectangle, texel
centres at +0.5, edges clamped.
"""

from __future__ import annotations

import numpy as np

from domectl.projection import pixel_to_uv

from warp.blend import coverage_counts, fibonacci_dome_points, mask_pixel_centres
from warp.geometry import (
    DomeModel,
    ProjectorModel,
    WarpModelError,
    as_eye_m,
    dome_points_to_pixels,
    projector_pixels_to_uv,
    uv_to_dome_points,
)


def sample_bilinear(image: np.ndarray, xy_texels: np.ndarray) -> np.ndarray:
    """Bilinear texture lookup with clamp-to-edge.

    ``image`` (H, W) or (H, W, C); ``xy_texels`` (N, 2) continuous texel
    coordinates (x right, y down, texel centres at +0.5) -> (N,) or (N, C).
    """
    img = np.asarray(image)
    h, w = img.shape[:2]
    x = np.clip(xy_texels[:, 0] - 0.5, 0.0, w - 1.0)
    y = np.clip(xy_texels[:, 1] - 0.5, 0.0, h - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(h - 2, 0))
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = x - x0
    fy = y - y0
    if img.ndim == 3:
        fx = fx[:, None]
        fy = fy[:, None]
    top = img[y0, x0] * (1.0 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1.0 - fx) + img[y1, x1] * fx
    return top * (1.0 - fy) + bottom * fy


def warp_domemaster(
    dome: DomeModel, projector: ProjectorModel, eye_m, domemaster: np.ndarray, width: int, height: int
) -> np.ndarray:
    """A projector image from a domemaster: (S, S[, C]) -> (height, width[, C]) float64.

    Each texel (covering projector pixels scaled by ``W / width``) takes the
    domemaster at the uv of the dome point it lights (bilinear); 0 where it
    misses the visible dome. No blend applied.
    """
    dm = np.asarray(domemaster, dtype=np.float64)
    if dm.ndim not in (2, 3) or dm.shape[0] != dm.shape[1]:
        raise WarpModelError(f"domemaster shape {dm.shape}: must be square (S, S) or (S, S, C)")
    size = dm.shape[0]
    px = mask_pixel_centres(projector, width, height)
    uv, valid = projector_pixels_to_uv(dome, projector, eye_m, px)
    texel = np.stack([uv[:, 0] * size, (1.0 - uv[:, 1]) * size], axis=1)
    out = sample_bilinear(dm, texel)
    mask = valid if out.ndim == 1 else valid[:, None]
    out = np.where(mask, out, 0.0)
    return out.reshape((height, width) + dm.shape[2:])


def domemaster_dome_points(dome: DomeModel, eye_m, size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Dome points seen through every domemaster pixel centre: ``(points (S*S, 3), visible (S*S,))`` row-major."""
    if size_px <= 0:
        raise WarpModelError(f"size_px = {size_px!r}: must be a positive integer")
    cols, rows = np.meshgrid(np.arange(size_px), np.arange(size_px))
    uv = pixel_to_uv(np.stack([cols.ravel(), rows.ravel()], axis=1), size_px)
    return uv_to_dome_points(dome, eye_m, uv)


def reconstruct_domemaster(
    dome: DomeModel, projectors, eye_m, images_linear, size_px: int
) -> np.ndarray:
    """The domemaster a camera at the eye would see: (S, S, C) float64 linear light.

    ``images_linear``: one image per projector, (h, w) or (h, w, C) of any
    size (sampled in normalised coordinates), already warped and blended.
    Domemaster pixels that see no visible dome are 0.
    """
    eye = as_eye_m(eye_m, dome)
    if len(images_linear) != len(projectors):
        raise WarpModelError(f"{len(images_linear)} images for {len(projectors)} projectors: give one per projector")
    channels = {np.asarray(im).shape[2] if np.asarray(im).ndim == 3 else 1 for im in images_linear}
    if len(channels) != 1:
        raise WarpModelError(f"images have different channel counts {sorted(channels)}: make them all (h, w, C)")
    c = channels.pop()
    points, visible = domemaster_dome_points(dome, eye, size_px)
    total = np.zeros((len(points), c))
    for proj, image in zip(projectors, images_linear):
        img = np.asarray(image, dtype=np.float64)
        if img.ndim == 2:
            img = img[:, :, None]
        px, ok = dome_points_to_pixels(proj, points)
        ok &= visible
        texel = px[ok] * np.array([img.shape[1] / proj.width_px, img.shape[0] / proj.height_px])
        total[ok] += sample_bilinear(img, texel)
    return total.reshape(size_px, size_px, c)


def coverage_map(dome: DomeModel, projectors, eye_m, size_px: int) -> np.ndarray:
    """(S, S) int: how many projectors light the dome point seen through each domemaster pixel; -1 off the dome."""
    points, visible = domemaster_dome_points(dome, eye_m, size_px)
    count = coverage_counts(dome, projectors, points)
    return np.where(visible, count, -1).reshape(size_px, size_px)


def coverage_fraction(dome: DomeModel, projectors, n_points: int = 200_000, min_count: int = 1) -> float:
    """Fraction of the visible dome's area lit by at least ``min_count`` projectors (evenly spread samples)."""
    counts = coverage_counts(dome, projectors, fibonacci_dome_points(dome, n_points))
    return float(np.mean(counts >= min_count))
