"""Automatic calibration: structured light from every projector, one fisheye camera, a fitted model each.

For each projector, in turn (:func:`calibrate_projector`):

1. **capture**: show the Gray-code + phase-shift sequence
   (:mod:`calibration.structured_light`), every other projector black, and
   capture each pattern with the camera (:mod:`calibration.camera`);
2. **decode**: per camera pixel, the projector pixel it sees, and a validity
   mask;
3. **fit**: each valid camera pixel's dome point (the calibrated camera's ray
   meets the dome sphere) against its projector pixel; pose and lens fitted
   from the hall config's nominal model (:mod:`calibration.fit`).

Then (:func:`run_auto_calibration`) a :class:`~calibration.model.CalibrationSet`
with each projector's fitted model and :class:`~calibration.model.Fit`, the
hall's warp rebuilt from the fitted models (:func:`warp.build_hall_warp`:
MPCDI, blend masks, coverage and blend-sum maps), and ``report.json``.

Status per projector:

* ``ok``: the fitted pose is within the mounting tolerance of the config's
  nominal pose (:data:`CORRECTED_MOVED_MM`, :data:`CORRECTED_ROTATED_DEG`) and
  the nominal model's warp is within :data:`CORRECTED_WARP_PX` of the fitted
  one; the fitted model is used (it absorbs the small errors);
* ``corrected``: beyond that tolerance: the projector was mis-posed (or its
  zoom moved); the fitted model is used, and the report gives the deltas so a
  technician can decide whether to re-mount it;
* ``failed``: too few decoded points, or a fit that cannot explain them
  (``rms_px`` > :data:`MAX_FIT_RMS_PX`); the nominal model is kept, unfitted.

Files in the output directory (each written atomically, ``report.json`` last)::

    calibration.json      the CalibrationSet (calibration/model.py JSON)
    error_pNN.png         projector NN's reprojection-error heatmap over its image
    warp/                 the rebuilt warp: <hall>.mpcdi, blend_pNN.png,
                          coverage.png, blend_sum.png, report.json (warp/build.py)
    report.json           {hall, camera, patterns, thresholds, projectors: {pNN: ...}, summary, files, timings_s}

Simulation (:func:`simulated_truth`): the truth is the nominal hall with small
random mounting errors on every projector (position, orientation, zoom, lens
shift) plus any deliberate mis-posing (:func:`parse_misalign`), rendered by a
:class:`~calibration.camera.SimCamera`; the report then also gives each fitted
warp's error against the truth (``warp_rms_px``, ``warp_max_px``,
:func:`calibration.fit.warp_error_px`).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.camera import Camera, camera_dome_points
from calibration.fit import (
    FitError,
    FitResult,
    fit_projector,
    model_params,
    param_names,
    pose_delta,
    warp_error_px,
    with_params,
)
from calibration.model import CalibrationSet, Fit, ProjectorCalibration
from calibration.structured_light import (
    PatternSpec,
    decode,
    pattern_image,
    pattern_names,
)
from domectl.errors import DomectlError
from warp.geometry import DomeModel, ProjectorModel

FORMAT = "domectl-autocalibration"
VERSION = 1

# Mounting tolerance: a projector whose fitted pose is further than this from
# the config is reported "corrected". Random mounting play of a few mm and a
# few hundredths of a degree is normal and simply absorbed by the fit; 1 cm or
# 0.1 deg is a knock or a wrong config entry.
CORRECTED_MOVED_MM = 10.0
CORRECTED_ROTATED_DEG = 0.1
# ... or the config's model puts the image this far from where the fit does
# (a zoom or lens-shift change does not move the pose).
CORRECTED_WARP_PX = 40.0
# A fit that leaves more than this RMS in projector pixels does not describe
# the projector (decoding noise is ~0.4 px at the defaults).
MAX_FIT_RMS_PX = 2.0
# Camera-pixel erosion of the decoded region: drops the blurred rim at the
# image edges, where the phase is biased (1 px left 1.5 % of points more than
# 3 px off in simulation, 2 px none).
DEFAULT_ERODE_PX = 2
# Heatmaps: width in pixels, cells across, and the error that saturates the colours.
HEATMAP_WIDTH_PX = 512
HEATMAP_CELLS = 64
HEATMAP_LIMIT_PX = 2.0
# Noise alone rejects ~1 % of points (4 sigma of a heavier-than-Gaussian tail);
# a cell with ten times that is decoding badly.
HEATMAP_OUTLIER_FRAC = 0.1
# Simulated mounting errors (1 sigma) on every projector.
SIM_POSITION_SIGMA_MM = 1.0
SIM_ANGLE_SIGMA_DEG = 0.01
SIM_THROW_SIGMA_FRAC = 0.0005
SIM_SHIFT_SIGMA = 0.0005

Progress = Callable[[str], None]

MISALIGN_KEYS = {
    "x_mm": ("x_m", 1e-3), "y_mm": ("y_m", 1e-3), "z_mm": ("z_m", 1e-3),
    "yaw": ("yaw_deg", 1.0), "pitch": ("pitch_deg", 1.0), "roll": ("roll_deg", 1.0),
    "throw_pct": ("throw_ratio", None), "shift_x": ("shift_x", 1.0), "shift_y": ("shift_y", 1.0),
}


class AutoCalibrationError(DomectlError, ValueError):
    """Automatic calibration was asked for something impossible; the message says how to fix it."""


# ---------------------------------------------------------------- simulation set-up


def parse_misalign(specs: Sequence[str] | str, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """``"p05:yaw=+1.5,x_mm=20"`` (several joined by ``;`` or given as a list) -> {projector: {key: delta}}.

    Keys: ``x_mm y_mm z_mm`` (millimetres), ``yaw pitch roll`` (degrees),
    ``throw_pct`` (percent of the throw ratio), ``shift_x shift_y`` (fractions
    of the image). ``names``: the hall's projector ids.
    """
    if isinstance(specs, str):
        specs = [specs]
    out: dict[str, dict[str, float]] = {}
    for text in (part.strip() for spec in specs for part in spec.split(";")):
        if not text:
            continue
        m = re.fullmatch(r"([^:\s]+)\s*:\s*(.+)", text)
        if not m:
            raise AutoCalibrationError(f"--misalign {text!r}: write PROJECTOR:KEY=DELTA[,KEY=DELTA...], "
                                       f"e.g. p05:yaw=+1.5,x_mm=20")
        who, body = m.group(1), m.group(2)
        if who not in names:
            raise AutoCalibrationError(f"--misalign {text!r}: no projector {who!r}; this hall has {', '.join(names)}")
        deltas = out.setdefault(who, {})
        for item in body.split(","):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in MISALIGN_KEYS:
                raise AutoCalibrationError(f"--misalign {text!r}: {item.strip()!r} is not KEY=DELTA with KEY one of "
                                           f"{', '.join(MISALIGN_KEYS)}")
            try:
                delta = float(value)
            except ValueError:
                raise AutoCalibrationError(f"--misalign {text!r}: {key}={value.strip()!r} is not a number") from None
            if not math.isfinite(delta):
                raise AutoCalibrationError(f"--misalign {text!r}: {key} must be finite")
            deltas[key] = deltas.get(key, 0.0) + delta
    return out


def simulated_truth(nominal: Sequence[ProjectorModel], seed: int = 0,
                    misalign: Mapping[str, Mapping[str, float]] | None = None) -> list[ProjectorModel]:
    """The nominal hall with random mounting errors everywhere (``SIM_*`` sigmas) plus ``misalign`` deltas."""
    rng = np.random.default_rng(seed)
    misalign = misalign or {}
    out = []
    for p in nominal:
        names = param_names(p)
        params = model_params(p)
        noise = np.concatenate([rng.normal(0.0, SIM_POSITION_SIGMA_MM * 1e-3, 3),
                                rng.normal(0.0, SIM_ANGLE_SIGMA_DEG, 3),
                                [params[6] * rng.normal(0.0, SIM_THROW_SIGMA_FRAC)],
                                rng.normal(0.0, SIM_SHIFT_SIGMA, 2)])
        params = params + noise
        for key, delta in misalign.get(p.name, {}).items():
            name, scale = MISALIGN_KEYS[key]
            j = names.index(name) if name in names else 6
            params[j] += params[j] * delta / 100.0 if scale is None else delta * scale
        out.append(with_params(p, params))
    return out


# ---------------------------------------------------------------- one projector


@dataclass(frozen=True)
class ProjectorOutcome:
    """What calibrating one projector produced. ``fit`` is None when it failed (``reason`` says why)."""

    name: str
    nominal: ProjectorModel
    fit: FitResult | None
    reason: str
    projector_px: np.ndarray          # (N, 2) decoded projector pixels of the fitted points
    camera_pixels: int                # valid decoded camera pixels
    timings_s: dict[str, float]


def _lit_box(contrast: np.ndarray, frac: float, margin_px: int) -> tuple[slice, slice]:
    lit = contrast > frac * max(float(contrast.max()), 1e-12)
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    if not len(rows):
        return slice(0, 0), slice(0, 0)
    h, w = contrast.shape
    return (slice(max(0, rows[0] - margin_px), min(h, rows[-1] + 1 + margin_px)),
            slice(max(0, cols[0] - margin_px), min(w, cols[-1] + 1 + margin_px)))


def calibrate_projector(camera: Camera, dome: DomeModel, nominal: ProjectorModel, spec: PatternSpec,
                        erode_px: int = DEFAULT_ERODE_PX) -> ProjectorOutcome:
    """Capture, decode and fit one projector (module docstring)."""
    timings = {}
    names = pattern_names(spec)
    t0 = time.perf_counter()
    white = np.asarray(camera.capture(nominal.name, pattern_image(spec, "white")), dtype=np.float32)
    black = np.asarray(camera.capture(nominal.name, pattern_image(spec, "black")), dtype=np.float32)
    # Only the part of the frame the projector lights is kept: ~1/10 of it.
    rows, cols = _lit_box(white - black, 0.5 * 0.08, margin_px=4)
    stack = np.empty((len(names),) + white[rows, cols].shape, dtype=np.float32)
    stack[0], stack[1] = white[rows, cols], black[rows, cols]
    for k, name in enumerate(names[2:], start=2):
        stack[k] = np.asarray(camera.capture(nominal.name, pattern_image(spec, name)), dtype=np.float32)[rows, cols]
    timings["capture_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    decoded = decode(spec, stack, erode_px=erode_px) if stack[0].size else None
    empty = np.zeros((0, 2))
    if decoded is None or not decoded.valid.any():
        timings["decode_s"] = time.perf_counter() - t0
        if decoded is not None and (decoded.contrast > 0.08 * max(float(decoded.contrast.max()), 1e-12)).sum() > 100:
            reason = (f"the camera sees this projector but cannot resolve its {spec.period_px} px phase period "
                      f"(sinusoid modulation too low): raise --period-px or the camera's resolution, or focus it")
        else:
            reason = ("the camera saw no light from this projector: check that it is on, shows the patterns and "
                      "is in the camera's view")
        return ProjectorOutcome(nominal.name, nominal, None, reason, empty, 0, timings)
    r, c = np.nonzero(decoded.valid)
    camera_px = np.stack([c + cols.start + 0.5, r + rows.start + 0.5], axis=1)
    projector_px = np.stack([decoded.x_px[r, c], decoded.y_px[r, c]], axis=1)
    points, on_dome = camera_dome_points(dome, camera.model, camera_px)
    points, projector_px = points[on_dome], projector_px[on_dome]
    timings["decode_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    try:
        fit = fit_projector(nominal, points, projector_px)
        reason = ""
        if fit.rms_px > MAX_FIT_RMS_PX:
            reason = (f"the fitted model leaves {fit.rms_px:.2f} px RMS (> {MAX_FIT_RMS_PX} px): the lens may not "
                      f"match its config kind, or the camera moved during the captures")
    except FitError as e:
        fit, reason = None, str(e)
    timings["fit_s"] = time.perf_counter() - t0
    return ProjectorOutcome(nominal.name, nominal, fit, reason, projector_px, len(r), timings)


# ---------------------------------------------------------------- pictures


def _heat_colours(t: np.ndarray) -> np.ndarray:
    """t in [0, 1] -> (..., 3) uint8: dark blue, teal, yellow, red (low to high error)."""
    anchors = np.array([[20, 30, 90], [30, 150, 150], [240, 220, 50], [220, 30, 30]], dtype=np.float64)
    x = np.clip(t, 0.0, 1.0) * (len(anchors) - 1)
    i = np.minimum(np.floor(x).astype(int), len(anchors) - 2)
    f = (x - i)[..., None]
    return np.rint(anchors[i] * (1.0 - f) + anchors[i + 1] * f).astype(np.uint8)


def error_heatmap(projector: ProjectorModel, projector_px: np.ndarray, error_px: np.ndarray,
                  inliers: np.ndarray, width_px: int = HEATMAP_WIDTH_PX, cells: int = HEATMAP_CELLS,
                  limit_px: float = HEATMAP_LIMIT_PX) -> np.ndarray:
    """Reprojection error over a projector's image -> (h, w, 3) uint8 with a legend below.

    Cells (``cells`` across, square) show the RMS error of the inlier points
    decoded in them, saturating at ``limit_px``; cells where more than
    :data:`HEATMAP_OUTLIER_FRAC` of the points were rejected as outliers are
    magenta; cells with no point are dark grey. The legend bar runs
    from 0 to ``limit_px`` pixels.
    """
    from warp.formats.preview import LEGEND_BACKGROUND, draw_text, text_width_px

    cell_px = projector.width_px / cells
    rows = max(1, math.ceil(projector.height_px / cell_px))
    ix = np.clip((projector_px[:, 0] / cell_px).astype(int), 0, cells - 1)
    iy = np.clip((projector_px[:, 1] / cell_px).astype(int), 0, rows - 1)
    flat = iy * cells + ix
    total = np.bincount(flat[inliers], weights=error_px[inliers] ** 2, minlength=rows * cells)
    count = np.bincount(flat[inliers], minlength=rows * cells)
    rejected = np.bincount(flat[~inliers], minlength=rows * cells)
    bad = rejected > HEATMAP_OUTLIER_FRAC * (rejected + count)
    rms = np.sqrt(total / np.maximum(count, 1))
    grid = _heat_colours(rms / limit_px)
    grid[count == 0] = (64, 64, 64)
    grid[bad] = (230, 40, 230)
    grid = grid.reshape(rows, cells, 3)
    height_px = max(1, round(width_px * projector.height_px / projector.width_px))
    ys = np.minimum((np.arange(height_px) * rows / height_px).astype(int), rows - 1)
    xs = np.minimum((np.arange(width_px) * cells / width_px).astype(int), cells - 1)
    img = grid[ys][:, xs]
    scale = max(1, width_px // 256)     # legend font pixels, as warp's previews
    legend = np.full((16 * scale, width_px, 3), LEGEND_BACKGROUND, dtype=np.uint8)
    margin = 4 * scale
    legend[2 * scale:7 * scale, margin:width_px - margin] = _heat_colours(
        np.linspace(0.0, 1.0, width_px - 2 * margin))[None]
    top = f"{limit_px:g}"
    draw_text(legend, "0", margin, 9 * scale, scale)
    draw_text(legend, top, width_px - margin - text_width_px(top, scale), 9 * scale, scale)
    return np.concatenate([img, legend], axis=0)


# ---------------------------------------------------------------- the hall


def _round(x: float, digits: int = 4) -> float:
    return float(round(float(x), digits))


def _entry(outcome: ProjectorOutcome, dome: DomeModel, truth: ProjectorModel | None) -> dict:
    nominal = outcome.nominal
    entry: dict = {"status": "failed", "reason": outcome.reason, "camera_pixels": outcome.camera_pixels,
                   "timings_s": {k: _round(v, 3) for k, v in outcome.timings_s.items()}}
    if truth is not None:
        moved, rotated = pose_delta(nominal, truth)
        entry["sim_true_moved_mm"], entry["sim_true_rotated_deg"] = _round(moved, 3), _round(rotated, 5)
    fit = outcome.fit
    if fit is None:
        return entry
    moved_mm, rotated_deg = pose_delta(nominal, fit.model)
    nominal_rms, nominal_max, _ = warp_error_px(dome, fit.model, nominal)
    delta = model_params(fit.model) - model_params(nominal)
    units = {"x_m": ("x_mm", 1000.0), "y_m": ("y_mm", 1000.0), "z_m": ("z_mm", 1000.0)}
    entry.update({
        "rms_px": _round(fit.rms_px), "max_px": _round(fit.max_px), "points": fit.points,
        "outliers": fit.outliers,
        "max_all_px": _round(float(np.max(np.linalg.norm(fit.residuals_px, axis=1)))), "iterations": fit.iterations,
        "moved_mm": _round(moved_mm, 3), "rotated_deg": _round(rotated_deg, 5),
        "nominal_warp_rms_px": _round(nominal_rms, 3), "nominal_warp_max_px": _round(nominal_max, 3),
        "delta": {units.get(n, (n, 1.0))[0]: _round(d * units.get(n, (n, 1.0))[1], 6)
                  for n, d in zip(param_names(nominal), delta)},
        "model": {"position_m": [_round(v, 6) for v in fit.model.position_m], "yaw_deg": _round(fit.model.yaw_deg, 6),
                  "pitch_deg": _round(fit.model.pitch_deg, 6), "roll_deg": _round(fit.model.roll_deg, 6),
                  "throw_ratio": fit.model.lens.throw_ratio, "fov_deg": fit.model.lens.fov_deg,
                  "shift_x": _round(fit.model.lens.shift_x, 7), "shift_y": _round(fit.model.lens.shift_y, 7)},
    })
    if truth is not None:
        warp_rms, warp_max, samples = warp_error_px(dome, truth, fit.model)
        entry.update({"warp_rms_px": _round(warp_rms), "warp_max_px": _round(warp_max), "warp_samples": samples})
    if outcome.reason:
        return entry
    mispose = (moved_mm > CORRECTED_MOVED_MM or rotated_deg > CORRECTED_ROTATED_DEG
               or nominal_max > CORRECTED_WARP_PX)
    entry["status"] = "corrected" if mispose else "ok"
    if mispose:
        entry["reason"] = (f"fitted pose is {moved_mm:.1f} mm and {rotated_deg:.3f} deg from the config's "
                           f"(tolerance {CORRECTED_MOVED_MM:g} mm, {CORRECTED_ROTATED_DEG:g} deg); the config's "
                           f"model was up to {nominal_max:.1f} px off: the warp now uses the fitted model")
    return entry


def _eta(done: int, total: int, elapsed_s: float) -> str:
    if done == 0:
        return "ETA unknown"
    return f"ETA {elapsed_s / done * (total - done):.0f} s"


def run_auto_calibration(
    dome: DomeModel,
    nominal: Sequence[ProjectorModel],
    eye_m,
    camera: Camera,
    out_dir,
    *,
    hall_name: str = "hall",
    projector_ids: Sequence[str] | None = None,
    truth: Sequence[ProjectorModel] | None = None,
    period_px: int | None = None,
    phase_steps: int | None = None,
    erode_px: int = DEFAULT_ERODE_PX,
    build_warp: bool = True,
    camera_info: Mapping | None = None,
    progress: Progress | None = None,
) -> dict:
    """Calibrate ``projector_ids`` (default: all) of a hall and write ``out_dir`` (module docstring).

    ``nominal``: the hall config's models, in config order; ``truth``: the
    simulation's true models (same order) for the warp error against truth;
    ``camera_info``: described in the report. Returns the report.
    """
    from warp.build import build_hall_warp
    from warp.formats._io import atomic_write_bytes
    from warp.formats.png import write_png

    nominal = list(nominal)
    names = [p.name for p in nominal]
    ids = list(names if projector_ids is None else projector_ids)
    unknown = [i for i in ids if i not in names]
    if unknown:
        raise AutoCalibrationError(f"projector {', '.join(map(repr, unknown))}: not in this hall; "
                                   f"it has {', '.join(names)}")
    if not ids:
        raise AutoCalibrationError("no projector to calibrate: give at least one id, e.g. --projectors p01")
    truth_by_name = {p.name: p for p in truth} if truth is not None else {}
    say = progress or (lambda line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)

    start = time.perf_counter()
    outcomes: dict[str, ProjectorOutcome] = {}
    entries: dict[str, dict] = {}
    heatmaps: dict[str, str] = {}
    specs = {}
    for k, name in enumerate(ids):
        model = nominal[names.index(name)]
        spec_args = {"gamma": model.gamma}
        if period_px is not None:
            spec_args["period_px"] = period_px
        if phase_steps is not None:
            spec_args["phase_steps"] = phase_steps
        spec = PatternSpec(model.width_px, model.height_px, **spec_args)
        specs[name] = spec
        say(f"{name} ({k + 1}/{len(ids)}): capturing {spec.pattern_count} patterns")
        outcome = calibrate_projector(camera, dome, model, spec, erode_px)
        outcomes[name] = outcome
        entry = _entry(outcome, dome, truth_by_name.get(name))
        index = names.index(name) + 1
        if outcome.fit is not None:
            err = np.linalg.norm(outcome.fit.residuals_px, axis=1)
            heat = f"error_p{index:02d}.png"
            write_png(out / heat, error_heatmap(model, outcome.projector_px, err, outcome.fit.inliers))
            entry["heatmap"] = heatmaps[name] = heat
        entries[name] = entry
        t = outcome.timings_s
        summary = (f"rms {entry['rms_px']:.2f} px, max {entry['max_px']:.2f} px over {entry['points']} points"
                   if "rms_px" in entry else entry["reason"])
        if "warp_rms_px" in entry:
            summary += f"; warp vs truth {entry['warp_rms_px']:.3f} px RMS, {entry['warp_max_px']:.3f} px max"
        say(f"{name} ({k + 1}/{len(ids)}): capture {t['capture_s']:.1f} s, decode {t['decode_s']:.1f} s, "
            f"fit {t.get('fit_s', 0.0):.1f} s: {summary}: {entry['status']}; "
            f"{_eta(k + 1, len(ids), time.perf_counter() - start)}")
    calibrate_s = time.perf_counter() - start

    calibrations = []
    for model in nominal:
        o = outcomes.get(model.name)
        if o is not None and o.fit is not None and entries[model.name]["status"] != "failed":
            calibrations.append(ProjectorCalibration(model=o.fit.model,
                                                     fit=Fit(o.fit.rms_px, o.fit.max_px, o.fit.points)))
        else:
            calibrations.append(ProjectorCalibration(model=model))
    calibration = CalibrationSet(hall_name, tuple(calibrations))
    atomic_write_bytes(out / "calibration.json", calibration.to_json().encode("utf-8"))

    files: dict = {"calibration": "calibration.json", "heatmaps": heatmaps}
    warp_s = 0.0
    if build_warp:
        t0 = time.perf_counter()
        say(f"rebuilding the warp of {len(nominal)} projectors from the fitted models")
        warp_report = build_hall_warp(dome, [c.model for c in calibrations], eye_m, out / "warp",
                                      name=hall_name)
        warp_s = time.perf_counter() - t0
        files.update({"warp": f"warp/{warp_report['files']['mpcdi']}", "coverage": "warp/coverage.png",
                      "blend_sum": "warp/blend_sum.png", "warp_report": "warp/report.json"})
        say(f"warp rebuilt in {warp_s:.1f} s: coverage {100 * warp_report['coverage_fraction']:.3f} %, "
            f"blend sum within {100 * warp_report['blend_sum_max_deviation']:.2f} %")

    fitted = [e for e in entries.values() if "rms_px" in e]
    summary_doc: dict = {
        "calibrated": len(ids),
        "ok": sorted(n for n, e in entries.items() if e["status"] == "ok"),
        "corrected": sorted(n for n, e in entries.items() if e["status"] == "corrected"),
        "failed": sorted(n for n, e in entries.items() if e["status"] == "failed"),
        "not_calibrated": [n for n in names if n not in entries],
        "worst_rms_px": max((e["rms_px"] for e in fitted), default=None),
        "worst_max_px": max((e["max_px"] for e in fitted), default=None),
    }
    if truth is not None and fitted:
        summary_doc["worst_warp_rms_px"] = max(e["warp_rms_px"] for e in fitted)
        summary_doc["worst_warp_max_px"] = max(e["warp_max_px"] for e in fitted)
    first = specs[ids[0]]
    report = {
        "format": FORMAT,
        "version": VERSION,
        "hall": hall_name,
        "camera": dict(camera_info or {}),
        "patterns": {"count": first.pattern_count, "period_px": first.period_px, "phase_steps": first.phase_steps,
                     "gray_bits_x": first.gray_bits("x"), "gray_bits_y": first.gray_bits("y"),
                     "erode_px": erode_px},
        "thresholds": {"corrected_moved_mm": CORRECTED_MOVED_MM, "corrected_rotated_deg": CORRECTED_ROTATED_DEG,
                       "corrected_warp_px": CORRECTED_WARP_PX, "max_fit_rms_px": MAX_FIT_RMS_PX},
        "projectors": entries,
        "summary": summary_doc,
        "files": files,
        "timings_s": {"calibrate": _round(calibrate_s, 2), "warp_build": _round(warp_s, 2),
                      "capture": _round(sum(o.timings_s.get("capture_s", 0.0) for o in outcomes.values()), 2),
                      "decode": _round(sum(o.timings_s.get("decode_s", 0.0) for o in outcomes.values()), 2),
                      "fit": _round(sum(o.timings_s.get("fit_s", 0.0) for o in outcomes.values()), 2),
                      "total": _round(time.perf_counter() - start, 2)},
    }
    atomic_write_bytes(out / "report.json", (json.dumps(report, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    return report
