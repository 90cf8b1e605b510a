"""Between domectl's :class:`~warp.mesh.WarpMesh` and the calibration formats (numpy only).

Conventions (each format module says more):

* **domectl**: ``WarpMesh.pixel_xy`` projector pixels (x right, y down, the
  grid includes the image edges) -> ``uv`` domemaster texture coordinates
  (v **up**, :mod:`domectl.projection`).
* **MPCDI** (2d profile, buffer = the domemaster): a region is a rectangle
  of the domemaster, placed with ``x, y, xSize, ySize`` in normalised buffer
  coordinates, (0, 0) the **top-left**, y **down**. Its warp holds, at texel
  centres over the projector image (top row first), the normalised
  coordinate within the region, also top-left origin, y down. So for a
  region ``(u0, v0, u1, v1)`` in uv: ``x = u0, y = 1 - v1``;
  ``rx = (u - u0) / (u1 - u0)``, ``ry = (v1 - v) / (v1 - v0)``.
* **Paul Bourke**: node ``x`` in ``[-aspect, aspect]``, ``y`` in ``[-1, 1]``
  (y **up**, bottom row first in the file); ``u, v`` the domemaster uv (v up,
  OpenGL, as domectl); ``i`` the node's intensity (blend weight, or 1/0).
"""

from __future__ import annotations

import numpy as np

from domectl.projection import fisheye_dir
from warp.formats._io import FormatError
from warp.formats.bourke import BourkeMesh
from warp.geometry import DomeModel, as_eye_m, uv_to_dome_points
from warp.mesh import DEFAULT_STEP_PX, WarpMesh, mesh_vertex_grid

# A Bourke file's x/y are decimal text (SGCT's fixture: 6 significant
# digits): nodes count as on a regular grid within this fraction of a cell.
BOURKE_GRID_TOLERANCE = 1e-3
# ... and the file's x extent must match the projector's width / height this closely.
BOURKE_ASPECT_TOLERANCE = 1e-3


# ----------------------------------------------------------- MPCDI regions


def region_from_uv_rect(region_uv) -> tuple[float, float, float, float]:
    """``(u0, v0, u1, v1)`` domemaster uv (v up) -> MPCDI ``(x, y, x_size, y_size)`` (top-left origin, y down)."""
    u0, v0, u1, v1 = (float(a) for a in region_uv)
    if not (u1 > u0 and v1 > v0):
        raise FormatError(f"region {region_uv!r}: expected (u0, v0, u1, v1) with u1 > u0 and v1 > v0")
    return (u0, 1.0 - v1, u1 - u0, v1 - v0)


def uv_rect_of_region(x: float, y: float, x_size: float, y_size: float) -> tuple[float, float, float, float]:
    """MPCDI ``(x, y, x_size, y_size)`` -> domemaster uv ``(u0, v0, u1, v1)`` (:func:`region_from_uv_rect` undone)."""
    return (x, 1.0 - y - y_size, x + x_size, 1.0 - y)


def uv_to_region_coords(uv: np.ndarray, region_uv) -> np.ndarray:
    """(..., 2) domemaster uv -> (..., 2) normalised region coordinates (top-left origin, y down)."""
    u0, v0, u1, v1 = region_uv
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([(uv[..., 0] - u0) / (u1 - u0), (v1 - uv[..., 1]) / (v1 - v0)], axis=-1)


def region_coords_to_uv(coords: np.ndarray, region_uv) -> np.ndarray:
    """(..., 2) normalised region coordinates -> (..., 2) domemaster uv (the inverse of :func:`uv_to_region_coords`)."""
    u0, v0, u1, v1 = region_uv
    c = np.asarray(coords, dtype=np.float64)
    return np.stack([u0 + c[..., 0] * (u1 - u0), v1 - c[..., 1] * (v1 - v0)], axis=-1)


def warp_texel_centres_px(width_px: int, height_px: int, cols: int, rows: int) -> np.ndarray:
    """(rows, cols, 2): projector pixels at the centres of a ``cols x rows`` warp map's texels."""
    if cols < 1 or rows < 1:
        raise FormatError(f"warp map size {cols} x {rows}: both must be positive")
    xs = (np.arange(cols) + 0.5) * (width_px / cols)
    ys = (np.arange(rows) + 0.5) * (height_px / rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy], axis=-1)


def mesh_to_mpcdi_warp(mesh: WarpMesh, cols: int, rows: int, region_uv=(0.0, 0.0, 1.0, 1.0)) -> np.ndarray:
    """Sample a mesh at a ``cols x rows`` MPCDI warp grid -> (rows, cols, 2) float32 region coordinates.

    Texel ``(i, j)`` (row i from the top) takes the mesh's uv at projector
    pixel ``((j + 0.5) W / cols, (i + 0.5) H / rows)`` (bilinear between
    vertices, as the GPU draws the mesh), expressed in ``region_uv``.
    """
    px = warp_texel_centres_px(mesh.width_px, mesh.height_px, cols, rows).reshape(-1, 2)
    coords = uv_to_region_coords(mesh.interpolate_uv(px), region_uv)
    return coords.reshape(rows, cols, 2).astype(np.float32)


def sample_warp(
    values: np.ndarray, px: np.ndarray, width_px: int, height_px: int, *, extrapolate: bool = True,
) -> np.ndarray:
    """Bilinear lookup of a warp map at projector pixels: (rows, cols, 2) at (N, 2) -> (N, 2) float64.

    Texel centres as in :func:`warp_texel_centres_px`. Within half a texel of
    the image's border, ``extrapolate=True`` continues the outer cells
    linearly (the exact warp is smooth there); ``False`` clamps to the edge
    texels, as a GPU sampling the map as a texture does. NaN propagates.
    """
    v = np.asarray(values, dtype=np.float64)
    rows, cols = v.shape[:2]
    px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
    tx = px[:, 0] * (cols / width_px) - 0.5
    ty = px[:, 1] * (rows / height_px) - 0.5
    if not extrapolate:
        tx = np.clip(tx, 0.0, cols - 1.0)
        ty = np.clip(ty, 0.0, rows - 1.0)
    j = np.clip(np.floor(tx).astype(np.int64), 0, max(cols - 2, 0))
    i = np.clip(np.floor(ty).astype(np.int64), 0, max(rows - 2, 0))
    j1 = np.minimum(j + 1, cols - 1)
    i1 = np.minimum(i + 1, rows - 1)
    fx = (tx - j)[:, None] if cols > 1 else np.zeros((len(px), 1))
    fy = (ty - i)[:, None] if rows > 1 else np.zeros((len(px), 1))
    top = v[i, j] * (1.0 - fx) + v[i, j1] * fx
    bottom = v[i1, j] * (1.0 - fx) + v[i1, j1] * fx
    return top * (1.0 - fy) + bottom * fy


def mesh_from_uv(
    name: str, width_px: int, height_px: int, pixel_xy: np.ndarray, uv: np.ndarray, dome: DomeModel, eye_m,
    lit: np.ndarray | None = None,
) -> WarpMesh:
    """A :class:`WarpMesh` from vertex pixels (R, C, 2) and their uv (R, C, 2), seen from ``eye_m``.

    Dome points are where the eye sees each uv; ``valid`` = finite uv that
    sees the visible dome (and ``lit``, e.g. a non-zero intensity, if given).
    """
    eye = as_eye_m(eye_m, dome)
    uv = np.asarray(uv, dtype=np.float64)
    rows, cols = uv.shape[:2]
    flat = uv.reshape(-1, 2)
    finite = np.all(np.isfinite(flat), axis=1)
    points, visible = uv_to_dome_points(dome, eye, np.where(finite[:, None], flat, 0.5))
    dirs = fisheye_dir(np.where(finite[:, None], flat, 0.5))
    valid = finite & visible
    if lit is not None:
        valid &= np.asarray(lit, dtype=bool).reshape(-1)
    points[~finite] = np.nan
    dirs[~finite] = np.nan
    arrays = {
        "pixel_xy": np.asarray(pixel_xy, dtype=np.float64).copy(),
        "uv": uv.copy(),
        "dome_point_m": points.reshape(rows, cols, 3),
        "dome_dir": dirs.reshape(rows, cols, 3),
        "valid": valid.reshape(rows, cols),
    }
    for arr in arrays.values():
        arr.flags.writeable = False
    return WarpMesh(name, int(width_px), int(height_px), **arrays)


def mpcdi_warp_to_mesh(
    coords: np.ndarray, region_uv, dome: DomeModel, eye_m, width_px: int, height_px: int, name: str,
    step_px: float = DEFAULT_STEP_PX,
) -> WarpMesh:
    """Absolute region coordinates (rows, cols, 2) of an MPCDI warp -> a :class:`WarpMesh`.

    The map is resampled at a vertex grid with spacing <= ``step_px`` that
    includes the image edges (:func:`sample_warp`, extrapolated over the
    outer half texel), and turned into domemaster uv through ``region_uv``.
    """
    xs, ys = mesh_vertex_grid(width_px, height_px, step_px)
    gx, gy = np.meshgrid(xs, ys)
    pixel_xy = np.stack([gx, gy], axis=-1)
    sampled = sample_warp(coords, pixel_xy.reshape(-1, 2), width_px, height_px)
    uv = region_coords_to_uv(sampled, region_uv).reshape(pixel_xy.shape)
    return mesh_from_uv(name, width_px, height_px, pixel_xy, uv, dome, eye_m)


def mpcdi_region_to_mesh(region, dome: DomeModel, eye_m, step_px: float = DEFAULT_STEP_PX) -> WarpMesh:
    """An :class:`~warp.formats.mpcdi.MpcdiRegion` whose buffer is the domemaster -> a :class:`WarpMesh`."""
    warp = region.absolute_warp()
    return mpcdi_warp_to_mesh(warp.coords, region.region_uv, dome, eye_m, region.x_resolution_px,
                              region.y_resolution_px, region.id, step_px)


# ------------------------------------------------------------ Paul Bourke


def mesh_to_bourke(mesh: WarpMesh, intensity: np.ndarray | None = None) -> BourkeMesh:
    """A projector's mesh as a Bourke mesh (module docstring for the axes).

    ``intensity`` (R, C) in [0, 1]: e.g. the linear blend weight at each
    vertex; default 1 where the vertex is valid and 0 elsewhere. Vertices
    with no uv (NaN) are written as ``u = v = 0`` with intensity 0.
    """
    rows, cols = mesh.shape
    if intensity is None:
        it = mesh.valid.astype(np.float64)
    else:
        it = np.asarray(intensity, dtype=np.float64)
        if it.shape != (rows, cols):
            raise FormatError(f"intensity {it.shape}: must match the mesh's {rows} x {cols} vertices")
    aspect = mesh.width_px / mesh.height_px
    x = (mesh.pixel_xy[..., 0] / mesh.width_px * 2.0 - 1.0) * aspect
    y = 1.0 - mesh.pixel_xy[..., 1] / mesh.height_px * 2.0
    finite = np.all(np.isfinite(mesh.uv), axis=-1)
    uv = np.where(finite[..., None], mesh.uv, 0.0)
    it = np.where(finite, it, 0.0)
    # Bourke's files start with the bottom row (y = -1); domectl's arrays with the top.
    return BourkeMesh(xy=np.stack([x, y], axis=-1)[::-1], uv=uv[::-1], intensity=it[::-1])


def _regular_axis(values: np.ndarray, lo: float, hi: float, what: str, name: str) -> None:
    n = len(values)
    expected = np.linspace(lo, hi, n)
    cell = abs(hi - lo) / (n - 1)
    worst = float(np.max(np.abs(values - expected)))
    if worst > BOURKE_GRID_TOLERANCE * cell:
        raise FormatError(
            f"{name}: node {what} are not evenly spaced from {lo:g} to {hi:g} (off by {worst:.3g}, "
            f"more than {BOURKE_GRID_TOLERANCE:g} of a cell): only regular rectangular meshes convert to a WarpMesh"
        )


def bourke_to_mesh(
    mesh: BourkeMesh, dome: DomeModel, eye_m, width_px: int, height_px: int, name: str = "bourke",
) -> WarpMesh:
    """A Bourke mesh whose texture is the domemaster -> a :class:`WarpMesh` for a ``width_px x height_px`` projector.

    The nodes must form a regular grid over the whole image (columns of equal
    x, rows of equal y, evenly spaced from edge to edge) and the file's
    aspect must match ``width_px / height_px``. Nodes with intensity 0 are
    invalid. Raises :class:`FormatError` otherwise.
    """
    aspect = width_px / height_px
    if abs(mesh.aspect - aspect) > BOURKE_ASPECT_TOLERANCE * aspect:
        raise FormatError(
            f"{name}: the mesh spans x in [-{mesh.aspect:.6g}, {mesh.aspect:.6g}] (aspect {mesh.aspect:.6g}) but the "
            f"projector is {width_px} x {height_px} (aspect {aspect:.6g})"
        )
    xy, uv, it = mesh.xy, mesh.uv, mesh.intensity
    if xy[0, 0, 1] < xy[-1, 0, 1]:
        xy, uv, it = xy[::-1], uv[::-1], it[::-1]  # bottom row first in the file: make row 0 the top
    rows, cols = it.shape
    xs = xy[..., 0].mean(axis=0)
    ys = xy[..., 1].mean(axis=1)
    spread_x = float(np.max(np.abs(xy[..., 0] - xs[None, :])))
    spread_y = float(np.max(np.abs(xy[..., 1] - ys[:, None])))
    if spread_x > BOURKE_GRID_TOLERANCE * 2 * aspect / (cols - 1) or spread_y > BOURKE_GRID_TOLERANCE * 2 / (rows - 1):
        raise FormatError(f"{name}: nodes do not form columns of equal x and rows of equal y: not a rectangular grid")
    _regular_axis(xs, -aspect, aspect, "x", name)
    _regular_axis(ys, 1.0, -1.0, "y", name)
    gx, gy = np.meshgrid(np.linspace(0.0, width_px, cols), np.linspace(0.0, height_px, rows))
    return mesh_from_uv(name, width_px, height_px, np.stack([gx, gy], axis=-1), uv, dome, eye_m, lit=it > 0)
