"""Warp meshes: a vertex grid over a projector image carrying domemaster coordinates.

The GPU draws the mesh with vertex positions from ``pixel_xy`` and texture
coordinates from ``uv`` (remapped into the node's slice rectangle), so the
projector image between vertices is the bilinear (per-triangle linear)
interpolation of the exact model-based warp of :mod:`warp.geometry`.
``DEFAULT_STEP_PX`` keeps that interpolation error far below a pixel (see
``tests/test_warp_geometry.py::test_mesh_matches_independent_raycast``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from warp.geometry import (
    DomeModel,
    ProjectorModel,
    WarpModelError,
    as_eye_m,
    dome_points_to_uv,
    pixels_to_dome_points,
)

# One vertex every 16 projector pixels: 257 x 136 vertices for 4096 x 2160,
# nothing for a GPU, and a measured bilinear error of a few hundredths of a
# pixel for the reference layout (tests/test_warp_geometry.py).
DEFAULT_STEP_PX = 16

# Margin around the valid uv of a mesh when choosing the slice to render, in uv
# units: a few texels so that bilinear sampling at the region's edge never
# reads outside what was rendered.
DEFAULT_REGION_MARGIN_UV = 0.005


@dataclass(frozen=True, eq=False)
class WarpMesh:
    """A projector's warp mesh (arrays are read-only once built).

    ``pixel_xy`` (R, C, 2): vertex positions in projector pixels (x right, y
    down; the grid includes the image edges 0 and width/height);
    ``uv`` (R, C, 2): domemaster coordinates of the dome point each vertex lights,
    seen from the eye (smoothly continued below the springline);
    ``dome_point_m`` (R, C, 3): that dome point; ``dome_dir`` (R, C, 3): unit
    direction from the eye to it; ``valid`` (R, C): the vertex lights the
    visible dome (at or above the springline).
    """

    projector_name: str
    width_px: int
    height_px: int
    pixel_xy: np.ndarray
    uv: np.ndarray
    dome_point_m: np.ndarray
    dome_dir: np.ndarray
    valid: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of vertices."""
        return self.valid.shape

    def interpolate_uv(self, px) -> np.ndarray:
        """Bilinear interpolation of the vertex uv at projector pixels: (N, 2) -> (N, 2).

        Pixels are clamped into the image. This is what the GPU does between
        vertices (up to the split of each quad into two triangles).
        """
        px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        xs = self.pixel_xy[0, :, 0]
        ys = self.pixel_xy[:, 0, 1]
        gx = np.clip(px[:, 0], 0.0, self.width_px) / (xs[1] - xs[0])
        gy = np.clip(px[:, 1], 0.0, self.height_px) / (ys[1] - ys[0])
        j = np.clip(np.floor(gx).astype(np.int64), 0, len(xs) - 2)
        i = np.clip(np.floor(gy).astype(np.int64), 0, len(ys) - 2)
        fx = (gx - j)[:, None]
        fy = (gy - i)[:, None]
        uv = self.uv
        top = uv[i, j] * (1.0 - fx) + uv[i, j + 1] * fx
        bottom = uv[i + 1, j] * (1.0 - fx) + uv[i + 1, j + 1] * fx
        return top * (1.0 - fy) + bottom * fy

    def _cells_in_use(self) -> np.ndarray:
        """(R-1, C-1) bool: cells with at least one valid vertex (they are drawn)."""
        v = self.valid
        return v[:-1, :-1] | v[:-1, 1:] | v[1:, :-1] | v[1:, 1:]

    def domemaster_region(self, margin: float = DEFAULT_REGION_MARGIN_UV) -> tuple[float, float, float, float]:
        """``(u0, v0, u1, v1)``: the uv bounding box of every drawn cell plus ``margin``, clipped to [0, 1].

        This is the rectangle of the domemaster the node renders as its slice.
        Raises :class:`WarpModelError` if the projector lights no visible dome.
        """
        cells = self._cells_in_use()
        if not cells.any():
            raise WarpModelError(
                f"projector {self.projector_name!r} lights no part of the dome above the springline: "
                "check its position, yaw and pitch"
            )
        used = np.zeros(self.valid.shape, dtype=bool)
        used[:-1, :-1] |= cells
        used[:-1, 1:] |= cells
        used[1:, :-1] |= cells
        used[1:, 1:] |= cells
        uv = self.uv[used]
        lo = np.clip(uv.min(axis=0) - margin, 0.0, 1.0)
        hi = np.clip(uv.max(axis=0) + margin, 0.0, 1.0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    def slice_px_per_uv(self) -> float:
        """Slice pixels per unit of uv (both axes) so the slice is at least as sharp as the projector.

        For each drawn cell, ``J = d(uv)/d(px)`` (uv per projector pixel); a
        slice with ``n`` texels per uv unit has at least one texel per projector
        pixel in every direction when ``n * sigma_min(J) >= 1``. Returns the
        largest ``1 / sigma_min(J)`` over the drawn cells.
        """
        cells = self._cells_in_use()
        dx = self.pixel_xy[0, 1, 0] - self.pixel_xy[0, 0, 0]
        dy = self.pixel_xy[1, 0, 1] - self.pixel_xy[0, 0, 1]
        uv = self.uv
        ju_x = (uv[:-1, 1:] - uv[:-1, :-1]) / dx  # (R-1, C-1, 2): d(u, v)/dx
        ju_y = (uv[1:, :-1] - uv[:-1, :-1]) / dy  # d(u, v)/dy
        a, c = ju_x[..., 0], ju_x[..., 1]
        b, d = ju_y[..., 0], ju_y[..., 1]
        # Singular values of [[a, b], [c, d]] in closed form.
        s1 = a * a + b * b + c * c + d * d
        det = np.abs(a * d - b * c)
        sigma_min = np.sqrt(np.maximum(0.5 * (s1 - np.sqrt(np.maximum(s1 * s1 - 4.0 * det * det, 0.0))), 0.0))
        sigma_min = np.where(cells, sigma_min, np.inf)
        return float(1.0 / sigma_min.min())

    def render_size_px(self, margin: float = DEFAULT_REGION_MARGIN_UV, max_px: int | None = None) -> tuple[int, int]:
        """Suggested slice size ``(width, height)`` in pixels for :meth:`domemaster_region`.

        At least as many pixels per degree as the projector puts on the dome
        (:meth:`slice_px_per_uv`); if ``max_px`` is given, both sides are
        scaled down together so neither exceeds it.
        """
        u0, v0, u1, v1 = self.domemaster_region(margin)
        n = self.slice_px_per_uv()
        w = max(1, math.ceil(n * (u1 - u0)))
        h = max(1, math.ceil(n * (v1 - v0)))
        if max_px is not None and max(w, h) > max_px:
            scale = max_px / max(w, h)
            w = max(1, math.floor(w * scale))
            h = max(1, math.floor(h * scale))
        return (w, h)


def mesh_vertex_grid(width_px: int, height_px: int, step_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex x (C,) and y (R,) positions: evenly spaced, including 0 and the image size, spacing <= step_px."""
    if not step_px > 0:
        raise WarpModelError(f"step_px = {step_px!r}: must be > 0 (pixels between mesh vertices)")
    nx = max(2, math.ceil(width_px / step_px) + 1)
    ny = max(2, math.ceil(height_px / step_px) + 1)
    return np.linspace(0.0, width_px, nx), np.linspace(0.0, height_px, ny)


def build_mesh(dome: DomeModel, projector: ProjectorModel, eye_m, step_px: float = DEFAULT_STEP_PX) -> WarpMesh:
    """Ray-cast a vertex grid over the projector image to the dome and on to the domemaster.

    ``step_px``: the largest spacing between vertices in projector pixels
    (the grid always includes the image edges).
    """
    eye = as_eye_m(eye_m, dome)
    xs, ys = mesh_vertex_grid(projector.width_px, projector.height_px, step_px)
    gx, gy = np.meshgrid(xs, ys)
    pixel_xy = np.stack([gx, gy], axis=-1)
    points, valid = pixels_to_dome_points(dome, projector, pixel_xy.reshape(-1, 2))
    uv = dome_points_to_uv(eye, points)
    dirs = points - eye[None, :]
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    rows, cols = len(ys), len(xs)
    arrays = {
        "pixel_xy": pixel_xy,
        "uv": uv.reshape(rows, cols, 2),
        "dome_point_m": points.reshape(rows, cols, 3),
        "dome_dir": dirs.reshape(rows, cols, 3),
        "valid": valid.reshape(rows, cols),
    }
    for arr in arrays.values():
        arr.flags.writeable = False
    return WarpMesh(projector.name, projector.width_px, projector.height_px, **arrays)
