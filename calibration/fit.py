"""Fit a projector's pose and lens to decoded correspondences, and measure how good a warp is.

numpy only (no scipy): a small Levenberg-Marquardt with a forward-difference
Jacobian, inside an iterative trimming loop.

Data: for each valid camera pixel, the dome point it sees (the calibrated
camera's ray meets the dome sphere of known radius:
:func:`calibration.camera.camera_dome_points`) and the projector pixel it
decoded. The fit minimises the reprojection error in projector pixels,

    r_i = dome_points_to_pixels(model(params), X_i) - q_i        (2-vector per point)

over ``params`` = position (x, y, z metres), yaw, pitch, roll (degrees) and
the lens: throw ratio and shift x/y (perspective) or fov and shift x/y
(fisheye), starting from the hall config's nominal model. The image size,
gamma and black level are not fitted.

Robustness: decoding can fail by whole stripes (a Gray-code bit wrong), so
after a fit on all points the residuals' scale is estimated robustly
(``sigma = median |r| / 1.1774``, the Rayleigh median of a 2-D Gaussian) and
points beyond ``max(INLIER_SIGMAS * sigma, MIN_INLIER_PX)`` are dropped; the
fit is repeated until the inlier set stops changing. The first fit, from a
possibly far nominal pose, uses Huber weights so that outliers cannot steer
it. ``rms_px``/``max_px`` are over the inliers (``outliers`` counts the rest).

Warp error (:func:`warp_error_px`), the acceptance measure of issue 10: for
projector pixel centres ``q`` on a grid over the image, restricted to those
that light the visible dome under the TRUE model, ``X = pixels_to_dome_points
(fitted, q)`` is where the fitted warp believes pixel ``q`` lands (so the
content it puts there belongs to ``X``); the true projector shows ``X`` at
``q' = dome_points_to_pixels(true, X)``. The error at ``q`` is ``|q' - q|`` in
true-projector pixels: how far the content drawn at ``q`` is from the pixel
that would have shown it on the real dome. Reported as RMS and maximum over
the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from domectl.errors import DomectlError
from warp.geometry import (
    DomeModel,
    Lens,
    ProjectorModel,
    dome_points_to_pixels,
    pixels_to_dome_points,
)

PARAMS_PERSPECTIVE = ("x_m", "y_m", "z_m", "yaw_deg", "pitch_deg", "roll_deg", "throw_ratio", "shift_x", "shift_y")
PARAMS_FISHEYE = ("x_m", "y_m", "z_m", "yaw_deg", "pitch_deg", "roll_deg", "fov_deg", "shift_x", "shift_y")
# Forward-difference steps: about 1e-3 projector pixel of change each at 4096 px,
# far above float64 rounding of pixel coordinates (~1e-12), far below noise.
FD_STEP = {"x_m": 1e-5, "y_m": 1e-5, "z_m": 1e-5, "yaw_deg": 1e-5, "pitch_deg": 1e-5, "roll_deg": 1e-5,
           "throw_ratio": 1e-6, "fov_deg": 1e-5, "shift_x": 1e-6, "shift_y": 1e-6}
# Outlier rejection (module docstring): 4 sigma of a 2-D Gaussian leaves out
# 3e-4 of good points; below half a pixel, sigma estimates are decoding noise.
INLIER_SIGMAS = 4.0
MIN_INLIER_PX = 0.5
# The first, robust pass: Huber's knee at this many pixels.
HUBER_PX = 3.0
MAX_TRIM_ROUNDS = 6
# LM stops when a step changes the cost by less than this fraction.
LM_RTOL = 1e-10
LM_MAX_ITERATIONS = 100
# Fewer inliers than this cannot pin 9 parameters over a whole image.
MIN_POINTS = 200
# Warp error grid: one sample per this many projector pixels.
WARP_GRID_STEP_PX = 16.0


class FitError(DomectlError, ValueError):
    """A fit could not be done (too few points, no convergence); the message says what to check."""


@dataclass(frozen=True)
class FitResult:
    """A fitted projector: the model and how well it explains the data.

    ``inliers`` (N,) bool over the input points; ``residuals_px`` (N, 2) of
    the fitted model at every input point; ``rms_px``/``max_px`` over inliers.
    """

    model: ProjectorModel
    rms_px: float
    max_px: float
    points: int
    outliers: int
    iterations: int
    inliers: np.ndarray
    residuals_px: np.ndarray


def param_names(model: ProjectorModel) -> tuple[str, ...]:
    return PARAMS_PERSPECTIVE if model.lens.kind == "perspective" else PARAMS_FISHEYE


def model_params(model: ProjectorModel) -> np.ndarray:
    """A model's fitted parameters as a float64 vector (order: :func:`param_names`)."""
    lens = model.lens
    zoom = lens.throw_ratio if lens.kind == "perspective" else lens.fov_deg
    return np.array([*model.position_m, model.yaw_deg, model.pitch_deg, model.roll_deg, zoom,
                     lens.shift_x, lens.shift_y], dtype=np.float64)


def with_params(model: ProjectorModel, params) -> ProjectorModel:
    """``model`` with the parameters of :func:`model_params` replaced (pitch clamped to [-90, 90])."""
    x, y, z, yaw, pitch, roll, zoom, sx, sy = (float(v) for v in params)
    if model.lens.kind == "perspective":
        lens = Lens(kind="perspective", throw_ratio=max(zoom, 1e-6), shift_x=sx, shift_y=sy)
    else:
        lens = Lens(kind="fisheye", fov_deg=min(max(zoom, 1e-3), 360.0), shift_x=sx, shift_y=sy)
    return replace(model, position_m=(x, y, z), yaw_deg=yaw, pitch_deg=min(max(pitch, -90.0), 90.0),
                   roll_deg=roll, lens=lens)


def reprojection_residuals(model: ProjectorModel, dome_points_m: np.ndarray, projector_px: np.ndarray) -> np.ndarray:
    """(N, 2) ``dome_points_to_pixels(model, X) - q`` (behind-the-lens points give large residuals)."""
    px, _ = dome_points_to_pixels(model, dome_points_m)
    return px - projector_px


def _lm(model: ProjectorModel, points: np.ndarray, target: np.ndarray, huber_px: float | None) -> tuple[
        ProjectorModel, int]:
    """Levenberg-Marquardt (Marquardt's diagonal scaling) of the model's parameters; returns (model, iterations)."""
    names = param_names(model)
    steps = np.array([FD_STEP[n] for n in names])
    params = model_params(model)

    def residual(p):
        return reprojection_residuals(with_params(model, p), points, target).ravel()

    def weights(r):
        if huber_px is None:
            return np.ones_like(r)
        norm = np.repeat(np.hypot(r[0::2], r[1::2]), 2)
        return np.where(norm <= huber_px, 1.0, huber_px / np.maximum(norm, 1e-12))

    r = residual(params)
    w = weights(r)
    cost = float(np.sum(w * r * r))
    lam = 1e-3
    iterations = 0
    for iterations in range(1, LM_MAX_ITERATIONS + 1):
        jac = np.empty((r.size, len(params)))
        for j, h in enumerate(steps):
            p = params.copy()
            p[j] += h
            jac[:, j] = (residual(p) - r) / h
        jw = jac * w[:, None]
        jtj = jac.T @ jw
        g = jw.T @ r
        diag = np.maximum(np.diag(jtj), 1e-12)
        improved = False
        for _ in range(12):
            try:
                delta = np.linalg.solve(jtj + lam * np.diag(diag), -g)
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = params + delta
            r_new = residual(trial)
            w_new = weights(r_new)
            cost_new = float(np.sum(w_new * r_new * r_new))
            if cost_new < cost:
                improved = True
                break
            lam *= 10.0
        if not improved:
            break
        change = (cost - cost_new) / max(cost, 1e-300)
        params, r, w, cost = trial, r_new, w_new, cost_new
        lam = max(lam / 10.0, 1e-12)
        if change < LM_RTOL:
            break
    return with_params(model, params), iterations


def fit_projector(nominal: ProjectorModel, dome_points_m, projector_px) -> FitResult:
    """Fit pose and lens to correspondences (module docstring), starting from ``nominal``.

    ``dome_points_m`` (N, 3), ``projector_px`` (N, 2) continuous pixel
    coordinates. Raises :class:`FitError` with fewer than :data:`MIN_POINTS`
    points or inliers.
    """
    points = np.asarray(dome_points_m, dtype=np.float64).reshape(-1, 3)
    target = np.asarray(projector_px, dtype=np.float64).reshape(-1, 2)
    if len(points) != len(target):
        raise FitError(f"{len(points)} dome points but {len(target)} projector pixels: need one of each per point")
    who = f"projector {nominal.name!r}"
    if len(points) < MIN_POINTS:
        raise FitError(f"{who}: only {len(points)} decoded points (need >= {MIN_POINTS}); check that the camera "
                       f"sees this projector's image and that the projector shows the patterns")
    model, total_iterations = _lm(nominal, points, target, HUBER_PX)
    inliers = np.ones(len(points), dtype=bool)
    for _ in range(MAX_TRIM_ROUNDS):
        err = np.linalg.norm(reprojection_residuals(model, points, target), axis=1)
        sigma = float(np.median(err[inliers])) / 1.1774
        new = err <= max(INLIER_SIGMAS * sigma, MIN_INLIER_PX)
        if new.sum() < MIN_POINTS:
            raise FitError(f"{who}: only {int(new.sum())} of {len(points)} points agree with any pose "
                           f"(need >= {MIN_POINTS}); the decoded data is mostly noise: check focus, exposure "
                           f"and that nothing blocks the camera")
        if np.array_equal(new, inliers):
            break
        inliers = new
        model, iterations = _lm(model, points[inliers], target[inliers], None)
        total_iterations += iterations
    residuals = reprojection_residuals(model, points, target)
    err = np.linalg.norm(residuals[inliers], axis=1)
    return FitResult(model=model, rms_px=float(np.sqrt(np.mean(err ** 2))), max_px=float(err.max()),
                     points=int(inliers.sum()), outliers=int((~inliers).sum()), iterations=total_iterations,
                     inliers=inliers, residuals_px=residuals)


def pixel_grid(projector: ProjectorModel, step_px: float = WARP_GRID_STEP_PX) -> np.ndarray:
    """(N, 2) pixel coordinates every ``step_px`` over the image, edges included."""
    nx = max(2, math.ceil(projector.width_px / step_px) + 1)
    ny = max(2, math.ceil(projector.height_px / step_px) + 1)
    xs, ys = np.meshgrid(np.linspace(0.0, projector.width_px, nx), np.linspace(0.0, projector.height_px, ny))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def warp_error_px(dome: DomeModel, true: ProjectorModel, fitted: ProjectorModel,
                  step_px: float = WARP_GRID_STEP_PX) -> tuple[float, float, int]:
    """(rms, max, samples) of the fitted model's warp against the true model (module docstring), in pixels."""
    q = pixel_grid(true, step_px)
    _, lit = pixels_to_dome_points(dome, true, q)
    q = q[lit]
    if not len(q):
        return 0.0, 0.0, 0
    x_fit, _ = pixels_to_dome_points(dome, fitted, q)
    back, _ = dome_points_to_pixels(true, x_fit)
    err = np.linalg.norm(back - q, axis=1)
    return float(np.sqrt(np.mean(err ** 2))), float(err.max()), len(q)


def pose_delta(a: ProjectorModel, b: ProjectorModel) -> tuple[float, float]:
    """(moved_mm, rotated_deg) from pose ``a`` to pose ``b``: the distance between lens centres and the angle
    of the rotation between the two orientations."""
    moved_mm = 1000.0 * float(np.linalg.norm(b.position - a.position))
    rel = b.basis() @ a.basis().T
    cos_angle = (np.trace(rel) - 1.0) / 2.0
    return moved_mm, math.degrees(math.acos(min(1.0, max(-1.0, cos_angle))))
