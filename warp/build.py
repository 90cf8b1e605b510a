"""``warp build``: a hall's whole calibration set from its models, with the checks that prove it.

:func:`build_hall_warp` writes, each file atomically (:mod:`warp.formats._io`),
``report.json`` last (a directory holding a report holds a complete set)::

    <name>.mpcdi     MPCDI 2.0, profile "2d": one buffer = the domemaster
                     (``buffer_px`` square), one region per projector = the
                     rectangle of the domemaster it shows; per region a PFM
                     geometry warp, the alpha (blend) map and the beta
                     (black-level uplift) map (conventions: warp/formats/mpcdi.py)
    blend_pNN.png    projector NN's blend mask (1-based, in config order):
                     16-bit, gamma-encoded with that projector's blend gamma
                     (``blend_gamma``, default its own ``gamma``; the same
                     codes as its MPCDI alpha map)
    coverage.png     how many projectors light each domemaster pixel (legend below)
    blend_sum.png    the linear-light sum of the blend masks minus 1, heatmap saturating at +-1 %
    report.json      the numbers below, per hall and per projector

Per projector blend settings (``ramp_frac``, ``blend_gamma``, ``uplift_on``:
one value for all or one per projector, :class:`calibration.model.Blend`):
the ramp enters every neighbour's normalised weights (they still sum to 1);
a projector whose uplift is off gets no beta map.

Why profile "2d" rather than "3d": a 3d region describes a perspective
frustum to render, and a planetarium's content is the fisheye domemaster,
which no frustum holds; in the 2d profile each projector samples its rectangle
of one shared picture, which is exactly what a domectl node does.

Checks (in the report):

* ``coverage_fraction``: share of the visible dome's area lit by at least
  one projector (evenly spread sample points).
* ``blend_sum_max_deviation``: at those points, ``|sum of the masks as
  written (decoded, sampled bilinearly like the GPU) - 1|``, over points lit by
  some projector, leaving out the rim points where a mask's bilinear
  footprint touches a texel whose centre misses the dome (they darken by
  design within one mask texel of the springline); the rim's own maximum
  and share are reported beside it.
* ``warp_error_max_px``: random dome directions from the eye; for each
  projector that lights the point, the exact pixel from
  :func:`~warp.geometry.dome_points_to_pixels`, the mesh's interpolated uv
  there, the dome point that uv shows, projected back to pixels: the largest
  distance. ``mpcdi_warp_error_max_px`` does the same through the warp read
  back from the written MPCDI file, sampled as a GPU texture (clamped),
  over pixels at least half a warp texel inside the image.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from warp.blend import (
    CHUNK_POINTS,
    DEFAULT_RAMP_FRAC,
    MASK_CODE_MAX,
    decode_mask,
    edge_weight,
    encode_mask,
    fibonacci_dome_points,
    mask_pixel_centres,
    max_overlap_count,
    ramp_fracs,
    uplift_flags,
)
from warp.formats._io import atomic_write_bytes
from warp.formats.convert import (
    mesh_to_mpcdi_warp,
    region_coords_to_uv,
    region_from_uv_rect,
    sample_warp,
    uv_rect_of_region,
)
from warp.formats.mpcdi import Mpcdi, MpcdiBuffer, MpcdiRegion, read_mpcdi, write_mpcdi
from warp.formats.png import write_png
from warp.formats.preview import coverage_image, deviation_image
from warp.geometry import (
    DomeModel,
    ProjectorModel,
    WarpModelError,
    as_eye_m,
    dome_points_to_pixels,
    intersect_sphere_from_inside,
    on_visible_dome,
    pixels_to_dome_points,
    uv_to_dome_points,
)
from warp.mesh import DEFAULT_STEP_PX, WarpMesh, build_mesh
from warp.reconstruct import (
    coverage_fraction,
    coverage_map,
    domemaster_dome_points,
    sample_bilinear,
)

Progress = Callable[[str, int, int], None]

# Blend masks are smooth ramps hundreds of pixels wide: 1024 texels across
# keep the sampled blend sum within 0.14 % (domectl/pipeline.py,
# tests/test_warp_blend.py) at a sixteenth of a full 4096 px mask's cost.
DEFAULT_MASK_WIDTH_PX = 1024
# MPCDI warp maps: one sample per 8 projector pixels at 4096 px; the warp is
# smooth over tens of pixels, and 12 full-resolution maps would be 1.3 GB.
DEFAULT_WARP_WIDTH_PX = 512
# Mesh vertices per 4096 projector pixels across, whatever the resolution:
# warp.mesh.DEFAULT_STEP_PX at full resolution, the same vertex count when
# scaled down, so the interpolation error in pixels does not grow as images shrink.
MESH_REFERENCE_WIDTH_PX = 4096
MIN_MESH_STEP_PX = 2.0
# The domemaster the MPCDI buffer stands for, when the caller gives none.
DEFAULT_BUFFER_PX = 4096
# coverage.png / blend_sum.png side.
DEFAULT_PREVIEW_PX = 1024
# Sample points: 200 000 by area resolve holes of ~0.1 deg (tests/test_lacoupole_layout.py).
DEFAULT_CHECK_POINTS = 200_000
# Random directions for the warp error.
DEFAULT_WARP_CHECK_DIRECTIONS = 20_000
# blend_sum.png saturates at DESIGN.md's budget (1 +- 1 %): full blue or red is out of budget.
BLEND_SUM_PREVIEW_LIMIT = 0.01
# A point is "at the rim" for a projector when less than all of its mask's
# bilinear footprint lies on lit texels (up to rounding).
RIM_FOOTPRINT = 1.0 - 1e-9


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return slug or "hall"


def mesh_step_for(projector: ProjectorModel) -> float:
    """Mesh vertex spacing in pixels for a projector (see :data:`MESH_REFERENCE_WIDTH_PX`)."""
    return max(MIN_MESH_STEP_PX, DEFAULT_STEP_PX * projector.width_px / MESH_REFERENCE_WIDTH_PX)


def map_size(projector: ProjectorModel, width_px: int) -> tuple[int, int]:
    """(width, height) of a map over a projector image: ``width_px`` across (never more than the image), same aspect."""
    w = max(2, min(int(width_px), projector.width_px))
    h = max(2, round(projector.height_px * w / projector.width_px))
    return w, h


def blend_and_uplift_mask(
    dome: DomeModel, projectors: Sequence[ProjectorModel], index: int, width: int, height: int, max_count: int,
    ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC, uplift_on: bool | Sequence[bool] = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projector ``index``'s blend weight, black uplift and lit texels in one pass: three (height, width) arrays.

    The same model as :func:`warp.blend.blend_mask` and
    :func:`warp.blend.black_uplift_mask` (tests compare them), at texel
    centres, float32 weight and uplift (linear) and bool lit (the texel's
    centre lights the visible dome); one projection of every projector per
    chunk instead of two. ``ramp_frac``/``uplift_on``: one value or one per projector.
    """
    ramps = ramp_fracs(ramp_frac, len(projectors))
    uplift_here = bool(uplift_flags(uplift_on, len(projectors))[index])
    target = projectors[index]
    px = mask_pixel_centres(target, width, height)
    blacks = np.array([p.black_level for p in projectors])
    top_black = max_count * float(blacks.max())
    weight = np.zeros(len(px), dtype=np.float32)
    uplift = np.zeros(len(px), dtype=np.float32)
    lit = np.zeros(len(px), dtype=bool)
    for start in range(0, len(px), CHUNK_POINTS):
        chunk = slice(start, start + CHUNK_POINTS)
        points, valid = pixels_to_dome_points(dome, target, px[chunk])
        visible = on_visible_dome(dome, points)
        total = np.zeros(len(points))
        mine = np.zeros(len(points))
        black_here = np.zeros(len(points))
        for j, proj in enumerate(projectors):
            ppx, ok = dome_points_to_pixels(proj, points)
            ok &= visible
            raw = np.where(ok, edge_weight(ppx, proj.width_px, proj.height_px, ramps[j]), 0.0)
            total += raw
            black_here += ok * proj.black_level
            if j == index:
                mine = raw
        w = np.divide(mine, total, out=np.zeros_like(total), where=total > 0.0)
        need = np.maximum(top_black - black_here, 0.0)
        weight[chunk] = np.where(valid, w, 0.0)
        uplift[chunk] = np.where(valid & uplift_here, w * need, 0.0)
        lit[chunk] = valid
    shape = (height, width)
    return weight.reshape(shape), uplift.reshape(shape), lit.reshape(shape)


def random_dome_points(dome: DomeModel, eye_m, n_points: int, seed: int = 0) -> np.ndarray:
    """(n, 3) dome points seen from the eye in uniformly random directions (visible dome only).

    Reproducible: the same ``seed`` gives the same points.
    """
    eye = as_eye_m(eye_m, dome)
    rng = np.random.default_rng(seed)
    out = np.zeros((0, 3))
    while len(out) < n_points:
        d = rng.normal(size=(2 * n_points, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = intersect_sphere_from_inside(eye, d, dome.radius_m)
        out = np.concatenate([out, p[on_visible_dome(dome, p)]])
    return out[:n_points]


def warp_error_px(
    dome: DomeModel, projector: ProjectorModel, eye_m, points: np.ndarray, uv_at: Callable[[np.ndarray], np.ndarray],
    inset_px: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, int]:
    """Largest reprojection error (pixels) of a warp at the dome points a projector lights.

    ``uv_at(px (N, 2)) -> uv (N, 2)`` is the warp under test (a mesh, a map).

    For each point: its exact pixel, the warp's uv there, the dome point the
    eye sees at that uv, and that point's pixel; returns (max distance,
    points checked). ``inset_px`` leaves out a border (x, y) of the image.
    """
    px, ok = dome_points_to_pixels(projector, points)
    ix, iy = inset_px
    ok &= (px[:, 0] >= ix) & (px[:, 0] <= projector.width_px - ix)
    ok &= (px[:, 1] >= iy) & (px[:, 1] <= projector.height_px - iy)
    if not ok.any():
        return 0.0, 0
    px = px[ok]
    seen, _ = uv_to_dome_points(dome, eye_m, uv_at(px))
    back, _ = dome_points_to_pixels(projector, seen)
    return float(np.max(np.linalg.norm(back - px, axis=1))), len(px)


def _blend_sum(
    projectors: Sequence[ProjectorModel], masks: Sequence[np.ndarray], lits: Sequence[np.ndarray], points: np.ndarray,
    visible: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of the masks sampled like a GPU at dome points -> (sum, lit by some projector, at the rim)."""
    total = np.zeros(len(points))
    count = np.zeros(len(points), dtype=np.int64)
    rim = np.zeros(len(points), dtype=bool)
    for proj, mask, lit in zip(projectors, masks, lits):
        px, ok = dome_points_to_pixels(proj, points)
        ok &= visible
        texel = px[ok] * np.array([mask.shape[1] / proj.width_px, mask.shape[0] / proj.height_px])
        total[ok] += sample_bilinear(mask, texel)
        rim[ok] |= sample_bilinear(lit.astype(np.float64), texel) < RIM_FOOTPRINT
        count += ok
    return total, count > 0, rim


def _blend_gammas(projectors: Sequence[ProjectorModel], blend_gamma) -> list[float]:
    """One mask-encoding gamma per projector: each one's own ``gamma`` (None), one number, or one each."""
    if blend_gamma is None:
        return [float(p.gamma) for p in projectors]
    values = np.atleast_1d(np.asarray(blend_gamma, dtype=np.float64))
    if values.ndim != 1 or len(values) not in (1, len(projectors)):
        raise WarpModelError(f"blend_gamma = {blend_gamma!r}: give one number or one per projector ({len(projectors)})")
    if not np.all(np.isfinite(values) & (values > 0.0)):
        raise WarpModelError(f"blend_gamma = {blend_gamma!r}: each must be > 0 (2.2 is typical)")
    return [float(g) for g in np.broadcast_to(values, (len(projectors),))]


def build_hall_warp(
    dome: DomeModel,
    projectors: Sequence[ProjectorModel],
    eye_m,
    out_dir,
    *,
    name: str = "hall",
    mask_width_px: int = DEFAULT_MASK_WIDTH_PX,
    warp_width_px: int = DEFAULT_WARP_WIDTH_PX,
    buffer_px: int = DEFAULT_BUFFER_PX,
    preview_px: int = DEFAULT_PREVIEW_PX,
    check_points: int = DEFAULT_CHECK_POINTS,
    warp_check_directions: int = DEFAULT_WARP_CHECK_DIRECTIONS,
    mesh_step_px: float | None = None,
    ramp_frac: float | Sequence[float] = DEFAULT_RAMP_FRAC,
    blend_gamma: float | Sequence[float] | None = None,
    uplift_on: bool | Sequence[bool] = True,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Build and check a hall's calibration set in ``out_dir`` (created); returns the report (also ``report.json``).

    ``projectors`` in config order (``blend_pNN.png`` numbers them from 1);
    ``name``: the MPCDI file's stem; ``mask_width_px``/``warp_width_px``: the
    blend maps' and warp maps' width (height in proportion, never more than
    the projector's own); ``buffer_px``: the domemaster size the MPCDI buffer
    declares; ``mesh_step_px``: vertex spacing (default
    :func:`mesh_step_for`); ``ramp_frac`` (:func:`warp.blend.ramp_fracs`),
    ``blend_gamma`` (the gamma each alpha map is encoded for; None: each
    projector's ``gamma``) and ``uplift_on`` (False: no beta map): one value
    or one per projector; ``progress(stage, done, total)`` is called after
    each step. The module docstring lists the files and checks.
    """
    eye = as_eye_m(eye_m, dome)
    projectors = list(projectors)
    if not projectors:
        raise WarpModelError("projectors is empty: a calibration set needs at least one projector")
    names = [p.name for p in projectors]
    if len(set(names)) != len(names):
        raise WarpModelError(f"projector names {names}: must be unique (they name the MPCDI regions)")
    ramps = ramp_fracs(ramp_frac, len(projectors))
    uplifts = uplift_flags(uplift_on, len(projectors))
    gammas = _blend_gammas(projectors, blend_gamma)
    for what, value in (("mask_width_px", mask_width_px), ("warp_width_px", warp_width_px), ("buffer_px", buffer_px),
                        ("preview_px", preview_px), ("check_points", check_points),
                        ("warp_check_directions", warp_check_directions)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise WarpModelError(f"{what} = {value!r}: must be an integer >= 2")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # An old report would vouch for a set this build may leave half-replaced if it stops.
    (out / "report.json").unlink(missing_ok=True)
    report_progress = progress or (lambda stage, done, total: None)
    timings: dict[str, float] = {}
    count = len(projectors)

    t0 = time.perf_counter()
    meshes: list[WarpMesh] = []
    for i, p in enumerate(projectors):
        meshes.append(build_mesh(dome, p, eye, mesh_step_px if mesh_step_px is not None else mesh_step_for(p)))
        report_progress("mesh", i + 1, count)
    timings["mesh_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    max_count = max_overlap_count(dome, projectors)
    alpha_codes, beta_codes, masks_linear, lits, blend_files = [], [], [], [], []
    for i, p in enumerate(projectors):
        w, h = map_size(p, mask_width_px)
        weight, uplift, lit = blend_and_uplift_mask(dome, projectors, i, w, h, max_count, ramps, uplifts)
        alpha = encode_mask(np.clip(weight, 0.0, 1.0), gammas[i])
        beta = np.rint(MASK_CODE_MAX * np.clip(uplift, 0.0, 1.0)).astype(np.uint16)
        blend_name = f"blend_p{i + 1:02d}.png"
        write_png(out / blend_name, alpha)
        alpha_codes.append(alpha)
        beta_codes.append(beta)
        # Every check below uses the masks as written: decoded from their 16-bit codes.
        masks_linear.append(decode_mask(alpha, gammas[i]))
        lits.append(lit)
        blend_files.append(blend_name)
        report_progress("blend", i + 1, count)
    timings["blend_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    regions = []
    for i, (p, mesh, alpha, beta) in enumerate(zip(projectors, meshes, alpha_codes, beta_codes)):
        x, y, xs, ys = region_from_uv_rect(mesh.domemaster_region())
        cols, rows = map_size(p, warp_width_px)
        warp = mesh_to_mpcdi_warp(mesh, cols, rows, uv_rect_of_region(x, y, xs, ys))
        regions.append(MpcdiRegion(
            id=p.name, x_resolution_px=p.width_px, y_resolution_px=p.height_px, x=x, y=y, x_size=xs, y_size=ys,
            warp=warp, warp_convention="absolute", alpha=alpha, alpha_gamma=gammas[i],
            beta=beta if uplifts[i] else None,
        ))
    doc = Mpcdi((MpcdiBuffer("domemaster", int(buffer_px), int(buffer_px), tuple(regions)),), profile="2d",
                geometry_level=1)
    mpcdi_name = f"{_slug(name)}.mpcdi"
    write_mpcdi(out / mpcdi_name, doc)
    report_progress("mpcdi", 1, 1)
    timings["mpcdi_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    write_png(out / "coverage.png", coverage_image(coverage_map(dome, projectors, eye, preview_px)))
    fraction = coverage_fraction(dome, projectors, n_points=check_points)
    report_progress("coverage", 1, 1)
    timings["coverage_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    points, visible = domemaster_dome_points(dome, eye, preview_px)
    total, lit_any, _ = _blend_sum(projectors, masks_linear, lits, points, visible)
    side = (preview_px, preview_px)
    write_png(out / "blend_sum.png", deviation_image((total - 1.0).reshape(side), lit_any.reshape(side),
                                                     visible.reshape(side), BLEND_SUM_PREVIEW_LIMIT))
    check = fibonacci_dome_points(dome, check_points)
    total, lit_any, rim = _blend_sum(projectors, masks_linear, lits, check, np.ones(len(check), dtype=bool))
    deviation = np.abs(total - 1.0)
    inner = lit_any & ~rim
    report_progress("blend_sum", 1, 1)
    timings["blend_sum_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    written = read_mpcdi(out / mpcdi_name)
    directions = random_dome_points(dome, eye, warp_check_directions, seed)
    entries = []
    for i, (p, mesh, region) in enumerate(zip(projectors, meshes, written.regions())):
        mesh_err, n_checked = warp_error_px(dome, p, eye, directions, mesh.interpolate_uv)
        coords = region.absolute_warp().coords
        rows, cols = coords.shape[:2]

        def mpcdi_uv(px, coords=coords, region=region, p=p):
            sampled = sample_warp(coords, px, p.width_px, p.height_px, extrapolate=False)
            return region_coords_to_uv(sampled, region.region_uv)

        inset = (0.5 * p.width_px / cols, 0.5 * p.height_px / rows)
        mpcdi_err, _ = warp_error_px(dome, p, eye, directions, mpcdi_uv, inset)
        entries.append({
            "index": i + 1,
            "name": p.name,
            "width_px": p.width_px,
            "height_px": p.height_px,
            "gamma": p.gamma,
            "blend_gamma": gammas[i],
            "ramp_frac": float(ramps[i]),
            "black_uplift": bool(uplifts[i]),
            "black_level": p.black_level,
            "mesh_shape": list(mesh.shape),
            "region_uv": [float(a) for a in region.region_uv],
            "mpcdi_region_xywh": [region.x, region.y, region.x_size, region.y_size],
            "blend_png": blend_files[i],
            "mask_shape": list(alpha_codes[i].shape),
            "warp_shape": [rows, cols],
            "lit_fraction": float(lits[i].mean()),
            "max_uplift": 0.0 if region.beta is None else float(region.beta_linear().max()),
            "warp_error_max_px": mesh_err,
            "mpcdi_warp_error_max_px": mpcdi_err,
            "warp_check_points": n_checked,
        })
        report_progress("warp_error", i + 1, count)
    timings["warp_error_s"] = time.perf_counter() - t0

    report = {
        "name": name,
        "files": {"mpcdi": mpcdi_name, "blend": blend_files, "coverage": "coverage.png",
                  "blend_sum": "blend_sum.png", "report": "report.json"},
        "projector_count": count,
        "buffer_px": int(buffer_px),
        "max_overlap_count": int(max_count),
        "coverage_fraction": fraction,
        "blend_sum_max_deviation": float(deviation[inner].max()) if inner.any() else 0.0,
        "blend_sum_max_deviation_at_rim": float(deviation[lit_any & rim].max()) if (lit_any & rim).any() else 0.0,
        "blend_sum_rim_fraction": float(np.mean(rim & lit_any)),
        "blend_sum_preview_limit": BLEND_SUM_PREVIEW_LIMIT,
        "warp_error_max_px": max(e["warp_error_max_px"] for e in entries),
        "mpcdi_warp_error_max_px": max(e["mpcdi_warp_error_max_px"] for e in entries),
        "check_points": int(check_points),
        "warp_check_directions": int(warp_check_directions),
        "mask_width_px": int(mask_width_px),
        "warp_width_px": int(warp_width_px),
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "projectors": entries,
    }
    atomic_write_bytes(out / "report.json", (json.dumps(report, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    report_progress("report", 1, 1)
    return report
