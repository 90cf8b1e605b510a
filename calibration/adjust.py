"""Manual refinement: a control grid's offsets, interpolated smoothly over a projector's image.

A :class:`~calibration.model.ControlGrid` of ``rows x cols`` points lies evenly
over the image, corners included: point ``(r, c)`` is at
``(c / (cols - 1) * W, r / (rows - 1) * H)`` in projector pixels (x right,
y down, the image covers ``[0, W] x [0, H]``). Its offsets ``(dx, dy)`` (in the
pixels of the calibration's model, the projector's full resolution) say
where content moves: what the warp drew at pixel ``p`` is drawn at
``p + offset(p)``. A node applies this to its warp mesh's vertex positions
(:func:`displace_px`); the mesh's domemaster coordinates stay with them.

Interpolation: the tensor product of uniform **Catmull-Rom** splines through
the points, with the grid extended by one point each side by linear
extrapolation (``P[-1] = 2 P[0] - P[1]``). Chosen over a natural cubic spline
because it is *local*: a point moves the offset field only within two cells
of itself, so a nudge at one place never disturbs an alignment already done
elsewhere (a natural spline spreads every nudge, decaying, over the whole
row and column). Properties (tested in tests/test_calibration_cluster.py):

* exact at the control points;
* C1 everywhere (piecewise cubic, continuous first derivatives);
* reproduces any linear field exactly (a uniform shift stays uniform, a
  uniform scale stays a scale), also at the edges thanks to the extrapolation;
* a single nudged point overshoots by at most 7.4 % of the nudge, in the
  opposite direction, in the next cell (the Catmull-Rom lobe, min of
  ``-t^3/2 + t^2 - t/2`` at t = 1/3); a technician sees it and can nudge
  the neighbour.

Numpy only; no I/O.
"""

from __future__ import annotations

import numpy as np

from calibration.model import ControlGrid

#: A refinement is a correction of a few to a few tens of pixels; an offset larger than this
#: (an eighth of a 4096 px image) says the model is wrong: re-run automatic calibration.
MAX_OFFSET_PX = 512.0
#: The grid sizes the model accepts (calibration/model.py): 2..64 points per side.
MIN_GRID_POINTS = 2
MAX_GRID_POINTS = 64


def offsets_array(grid: ControlGrid) -> np.ndarray:
    """The grid's offsets as a (rows, cols, 2) float64 array of (dx, dy) pixels."""
    return np.asarray(grid.offsets_px, dtype=np.float64).reshape(grid.rows, grid.cols, 2)


def grid_from_array(offsets_px: np.ndarray) -> ControlGrid:
    """(rows, cols, 2) -> a ControlGrid (plain floats, exactly as given)."""
    a = np.asarray(offsets_px, dtype=np.float64)
    if a.ndim != 3 or a.shape[2] != 2:
        raise ValueError(f"offsets must be (rows, cols, 2), not {a.shape}")
    rows, cols = a.shape[:2]
    return ControlGrid(rows, cols, tuple(tuple((float(a[r, c, 0]), float(a[r, c, 1])) for c in range(cols))
                                         for r in range(rows)))


def control_points_px(rows: int, cols: int, width_px: float, height_px: float) -> np.ndarray:
    """(rows, cols, 2): where the control points lie in an image of ``width_px`` x ``height_px``."""
    xs = np.linspace(0.0, float(width_px), cols)
    ys = np.linspace(0.0, float(height_px), rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)


def _catmull_rom_weights(t: np.ndarray) -> np.ndarray:
    """(N,) in [0, 1] -> (N, 4) weights of points i-1, i, i+1, i+2 for the segment [i, i+1]."""
    t2, t3 = t * t, t * t * t
    return np.stack([-0.5 * t3 + t2 - 0.5 * t,
                     1.5 * t3 - 2.5 * t2 + 1.0,
                     -1.5 * t3 + 2.0 * t2 + 0.5 * t,
                     0.5 * t3 - 0.5 * t2], axis=-1)


def _extended(values: np.ndarray) -> np.ndarray:
    """(R, C, K) -> (R + 2, C + 2, K): one more point each side by linear extrapolation."""
    v = np.concatenate([2.0 * values[:1] - values[1:2], values, 2.0 * values[-1:] - values[-2:-1]], axis=0)
    return np.concatenate([2.0 * v[:, :1] - v[:, 1:2], v, 2.0 * v[:, -1:] - v[:, -2:-1]], axis=1)


def _segments(s: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinate s in [0, 1] over n points -> (segment index in [0, n-2], t in [0, 1])."""
    g = np.clip(s, 0.0, 1.0) * (n - 1)
    i = np.clip(np.floor(g).astype(np.int64), 0, n - 2)
    return i, g - i


def interpolate(values: np.ndarray, st: np.ndarray) -> np.ndarray:
    """Catmull-Rom tensor interpolation of grid ``values`` (R, C, K), R, C >= 2, at ``st`` (N, 2).

    ``st`` = (x / W, y / H): normalised image coordinates, clamped to [0, 1].
    Returns (N, K). Exact at ``st = (c / (C - 1), r / (R - 1))``.
    """
    values = np.asarray(values, dtype=np.float64)
    rows, cols = values.shape[:2]
    if rows < MIN_GRID_POINTS or cols < MIN_GRID_POINTS:
        raise ValueError(f"a grid of {rows} x {cols}: needs at least 2 x 2 points")
    st = np.asarray(st, dtype=np.float64).reshape(-1, 2)
    ext = _extended(values)
    j, tx = _segments(st[:, 0], cols)
    i, ty = _segments(st[:, 1], rows)
    wx = _catmull_rom_weights(tx)          # (N, 4)
    wy = _catmull_rom_weights(ty)
    out = np.zeros((len(st), values.shape[2]))
    # Extended index of point i-1 is i (one padding row/column before the grid).
    for a in range(4):
        for b in range(4):
            out += (wy[:, a] * wx[:, b])[:, None] * ext[i + a, j + b]
    return out


def offsets_at(grid: ControlGrid, st: np.ndarray) -> np.ndarray:
    """The grid's (dx, dy) at normalised image coordinates ``st`` (N, 2) -> (N, 2), grid pixels."""
    return interpolate(offsets_array(grid), st)


def displace_px(pixel_xy: np.ndarray, grid: ControlGrid, width_px: float, height_px: float,
                grid_width_px: float | None = None, grid_height_px: float | None = None) -> np.ndarray:
    """Vertex positions moved by the grid: ``p + offset(p)``, same shape as ``pixel_xy`` (..., 2).

    ``pixel_xy`` are in an image of ``width_px`` x ``height_px`` (a node's, maybe scaled);
    the grid's offsets are in pixels of ``grid_width_px`` x ``grid_height_px`` (the
    calibration's model; the same image when None) and are scaled to the image's.
    """
    p = np.asarray(pixel_xy, dtype=np.float64)
    if grid.is_zero():
        return p.copy()
    flat = p.reshape(-1, 2)
    st = flat / np.array([width_px, height_px], dtype=np.float64)
    scale = np.array([width_px / (grid_width_px or width_px), height_px / (grid_height_px or height_px)])
    return (flat + offsets_at(grid, st) * scale).reshape(p.shape)


# ------------------------------------------------------------------ edits (pure: grid in, grid out)


def _check_point(grid: ControlGrid, row: int, col: int) -> None:
    if not (0 <= row < grid.rows and 0 <= col < grid.cols):
        raise ValueError(f"control point ({row}, {col}) is outside the {grid.rows} x {grid.cols} grid: "
                         f"row 0..{grid.rows - 1}, col 0..{grid.cols - 1}")


def _check_offset(dx_px: float, dy_px: float) -> None:
    if not (abs(dx_px) <= MAX_OFFSET_PX and abs(dy_px) <= MAX_OFFSET_PX):
        raise ValueError(f"offset ({dx_px:g}, {dy_px:g}) px: each must be within +-{MAX_OFFSET_PX:g} px; "
                         "a larger correction needs the projector's model refitted (calibrate auto)")


def set_offset(grid: ControlGrid, row: int, col: int, dx_px: float, dy_px: float) -> ControlGrid:
    """The grid with point (row, col)'s offset set to (dx_px, dy_px)."""
    _check_point(grid, row, col)
    _check_offset(dx_px, dy_px)
    a = offsets_array(grid)
    a[row, col] = (dx_px, dy_px)
    return grid_from_array(a)


def nudge(grid: ControlGrid, row: int, col: int, dx_px: float, dy_px: float) -> ControlGrid:
    """The grid with point (row, col) moved by (dx_px, dy_px) more."""
    _check_point(grid, row, col)
    ox, oy = grid.offsets_px[row][col]
    return set_offset(grid, row, col, ox + dx_px, oy + dy_px)


def resample(grid: ControlGrid, rows: int, cols: int) -> ControlGrid:
    """A ``rows x cols`` grid through the same offset field (its interpolant at the new points).

    Refining (more points) keeps the field where the old points were; coarsening
    approximates it. Offsets are rounded to 1/1000 px: a resample is not a nudge.
    """
    if not (MIN_GRID_POINTS <= rows <= MAX_GRID_POINTS and MIN_GRID_POINTS <= cols <= MAX_GRID_POINTS):
        raise ValueError(f"grid {rows} x {cols}: each side must be {MIN_GRID_POINTS}..{MAX_GRID_POINTS} points")
    if (rows, cols) == (grid.rows, grid.cols):
        return grid
    st = control_points_px(rows, cols, 1.0, 1.0).reshape(-1, 2)
    values = np.round(offsets_at(grid, st), 3).reshape(rows, cols, 2)
    return grid_from_array(values + 0.0)       # + 0.0: no -0.0 in the JSON
