"""Dome, lens and projector models, and ray casting between them.

Conventions (all lengths in metres, all angles in degrees in names ``*_deg``):

* **Dome frame** (see :mod:`domectl.projection`): +z dome zenith, +y dome
  front, +x right. The dome is a sphere of ``radius_m`` centred at the origin;
  the visible dome is the part at elevation ``>= springline_deg``, where the
  elevation of a dome point ``p`` is ``asin(p_z / radius_m)``. Dome tilt is
  handled upstream: everything here lives in the dome frame.
* **Projector pose**: ``position_m`` is the lens's centre of projection in
  the dome frame. ``yaw_deg`` is the azimuth of the optical axis, measured in
  the dome's xy plane from +y toward +x (yaw 90 points the axis at +x);
  ``pitch_deg`` is the elevation of the optical axis above the xy plane
  (pitch 90 points at the zenith); ``roll_deg`` turns the image about the
  optical axis, positive clockwise as seen from behind the projector looking
  along the axis (roll 90 puts the image's top where its right was). With
  roll 0 the image's right is horizontal::

      forward = (sin yaw cos pitch, cos yaw cos pitch, sin pitch)
      right0  = (cos yaw, -sin yaw, 0)
      up0     = right0 x forward
      right   = cos(roll) right0 - sin(roll) up0
      up      = cos(roll) up0    + sin(roll) right0

* **Projector pixels**: ``(x, y)`` continuous image coordinates in pixels,
  x to the right, y down (rows from the top). The image covers
  ``[0, width_px] x [0, height_px]``; pixel ``(col, row)`` has its centre at
  ``(col + 0.5, row + 0.5)``. Arrays of pixels are ``(N, 2)`` as ``(x, y)``.
* **Perspective lens** (pinhole): throw ratio = throw distance / image width,
  so the focal length is ``throw_ratio * width_px`` pixels. Lens shift moves
  the image on the screen by a fraction of its own size, +x right, +y up: the
  principal point (where the optical axis pierces the image) is at
  ``cx = width_px * (0.5 - shift_x)``, ``cy = height_px * (0.5 + shift_y)``
  (shift_y = +0.5 puts the axis on the bottom edge: the image is all above it).
* **Fisheye lens**: equidistant, ``fov_deg`` across the image width: the
  angle from the axis is ``hypot(x - cx, y - cy) * radians(fov_deg) /
  width_px``; shifts as for the perspective lens.
* **Eye** ``eye_m``: the (3,) sweet spot in the dome frame. The domemaster is
  the sky seen from the eye: a dome point ``p`` has domemaster coordinates
  ``fisheye_uv(p - eye_m)``.

Every function here is pure, vectorised numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from domectl.errors import DomectlError
from domectl.projection import fisheye_dir, fisheye_uv

LENS_KINDS = ("perspective", "fisheye")

# Points on an image edge land on it only up to rounding; they count as inside
# within this many pixels.
EDGE_TOLERANCE_PX = 1e-6

# A ray leaving a perspective lens needs a strictly positive depth along the
# axis; points closer to the lens plane than this are "behind" (metres).
MIN_DEPTH_M = 1e-9


class WarpModelError(DomectlError, ValueError):
    """A dome, lens, projector or eye value is invalid; the message says how to fix it.

    Part of domectl's error tree (``domectl.errors`` is stdlib-only), and a
    ``ValueError`` for callers that know nothing of it. Hall configs are
    validated before models are built, so from a config this is our bug.
    """


def _finite(value: float, what: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise WarpModelError(f"{what} = {value!r}: must be a number") from None
    if not math.isfinite(out):
        raise WarpModelError(f"{what} = {value!r}: must be a finite number")
    return out


def _vec3(value, what: str) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise WarpModelError(f"{what} = {value!r}: must be 3 finite numbers [x, y, z] in metres")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class DomeModel:
    """A dome: a sphere of ``radius_m`` centred at the dome-frame origin.

    The visible dome is the part at elevation ``>= springline_deg`` (0 for a
    hemisphere; negative for a dome that continues below its equator).
    """

    radius_m: float
    springline_deg: float = 0.0

    def __post_init__(self) -> None:
        r = _finite(self.radius_m, "dome.radius_m")
        if r <= 0.0:
            raise WarpModelError(f"dome.radius_m = {self.radius_m!r}: must be > 0 (metres)")
        s = _finite(self.springline_deg, "dome.springline_deg")
        if not -90.0 < s < 90.0:
            raise WarpModelError(
                f"dome.springline_deg = {self.springline_deg!r}: must be in (-90, 90); 0 is a hemisphere"
            )
        object.__setattr__(self, "radius_m", r)
        object.__setattr__(self, "springline_deg", s)


@dataclass(frozen=True)
class Lens:
    """A projector lens: ``kind`` "perspective" (uses ``throw_ratio``) or "fisheye" (uses ``fov_deg``).

    ``shift_x``/``shift_y``: lens shift as a fraction of the image width/height,
    +x moves the image right, +y moves it up (see the module docstring).
    """

    kind: str = "perspective"
    throw_ratio: float | None = None
    shift_x: float = 0.0
    shift_y: float = 0.0
    fov_deg: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in LENS_KINDS:
            raise WarpModelError(f"lens.kind = {self.kind!r}: must be one of {', '.join(LENS_KINDS)}")
        for name in ("shift_x", "shift_y"):
            v = _finite(getattr(self, name), f"lens.{name}")
            if abs(v) > 2.0:
                raise WarpModelError(f"lens.{name} = {v!r}: must be within [-2, 2] (a fraction of the image size)")
            object.__setattr__(self, name, v)
        if self.kind == "perspective":
            if self.throw_ratio is None:
                raise WarpModelError("lens.throw_ratio is missing: a perspective lens needs throw_ratio > 0")
            t = _finite(self.throw_ratio, "lens.throw_ratio")
            if t <= 0.0:
                raise WarpModelError(
                    f"lens.throw_ratio = {self.throw_ratio!r}: must be > 0 (throw distance / image width)"
                )
            object.__setattr__(self, "throw_ratio", t)
        else:
            if self.fov_deg is None:
                raise WarpModelError("lens.fov_deg is missing: a fisheye lens needs 0 < fov_deg <= 360")
            f = _finite(self.fov_deg, "lens.fov_deg")
            if not 0.0 < f <= 360.0:
                raise WarpModelError(
                    f"lens.fov_deg = {self.fov_deg!r}: must be in (0, 360] (degrees across the image width)"
                )
            object.__setattr__(self, "fov_deg", f)


@dataclass(frozen=True)
class ProjectorModel:
    """One projector: pose in the dome frame, image size and lens (conventions in the module docstring).

    ``gamma``: the projector's display gamma (signal -> linear light);
    ``black_level``: light emitted for a black signal, as a fraction of white (linear).
    """

    name: str
    position_m: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    width_px: int
    height_px: int
    lens: Lens = field(default_factory=lambda: Lens(throw_ratio=1.0))
    gamma: float = 2.2
    black_level: float = 0.0

    def __post_init__(self) -> None:
        who = f"projector {self.name!r}"
        object.__setattr__(self, "position_m", _vec3(self.position_m, f"{who}.position_m"))
        for name in ("yaw_deg", "pitch_deg", "roll_deg"):
            object.__setattr__(self, name, _finite(getattr(self, name), f"{who}.{name}"))
        if not -90.0 <= self.pitch_deg <= 90.0:
            raise WarpModelError(f"{who}.pitch_deg = {self.pitch_deg!r}: must be in [-90, 90]; use yaw to turn around")
        for name in ("width_px", "height_px"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise WarpModelError(f"{who}.{name} = {v!r}: must be a positive integer (pixels)")
            object.__setattr__(self, name, int(v))
        if not isinstance(self.lens, Lens):
            raise WarpModelError(f"{who}.lens = {self.lens!r}: must be a warp.Lens")
        g = _finite(self.gamma, f"{who}.gamma")
        if g <= 0.0:
            raise WarpModelError(f"{who}.gamma = {self.gamma!r}: must be > 0 (2.2 is typical)")
        object.__setattr__(self, "gamma", g)
        b = _finite(self.black_level, f"{who}.black_level")
        if not 0.0 <= b < 1.0:
            raise WarpModelError(f"{who}.black_level = {self.black_level!r}: must be in [0, 1) (fraction of white)")
        object.__setattr__(self, "black_level", b)

    @property
    def position(self) -> np.ndarray:
        """(3,) float64 position in metres."""
        return np.array(self.position_m, dtype=np.float64)

    @property
    def principal_point_px(self) -> tuple[float, float]:
        """(cx, cy) in pixels: where the optical axis pierces the image."""
        return (
            self.width_px * (0.5 - self.lens.shift_x),
            self.height_px * (0.5 + self.lens.shift_y),
        )

    def basis(self) -> np.ndarray:
        """(3, 3) rows (right, up, forward): unit image axes in the dome frame (``forward x up = right``)."""
        return projector_basis(self.yaw_deg, self.pitch_deg, self.roll_deg)


def projector_basis(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """(3, 3) rows (right, up, forward) of a projector pose in the dome frame (module docstring)."""
    yaw, pitch, roll = np.radians([yaw_deg, pitch_deg, roll_deg])
    forward = np.array([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), np.sin(pitch)])
    right0 = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    up0 = np.cross(right0, forward)
    right = np.cos(roll) * right0 - np.sin(roll) * up0
    up = np.cos(roll) * up0 + np.sin(roll) * right0
    return np.stack([right, up, forward])


def as_eye_m(eye_m, dome: DomeModel | None = None) -> np.ndarray:
    """Validate an eye point: (3,) metres in the dome frame, inside the dome sphere if ``dome`` is given."""
    eye = np.array(_vec3(eye_m, "eye_m"))
    if dome is not None and np.linalg.norm(eye) >= dome.radius_m:
        raise WarpModelError(
            f"eye_m = {list(eye)}: is {np.linalg.norm(eye):.3f} m from the dome centre, outside the dome "
            f"sphere of radius {dome.radius_m} m; put the eye inside (|eye_m| < radius_m)"
        )
    return eye


def check_inside(dome: DomeModel, projector: ProjectorModel) -> None:
    """Raise :class:`WarpModelError` unless the projector's lens is strictly inside the dome sphere."""
    dist = float(np.linalg.norm(projector.position))
    if dist >= dome.radius_m:
        raise WarpModelError(
            f"projector {projector.name!r}.position_m = {list(projector.position_m)}: is {dist:.3f} m from the "
            f"dome centre, outside the dome sphere of radius {dome.radius_m} m; move it inside "
            f"(|position_m| < radius_m), e.g. at the springline, a little in from the rim"
        )


def _as_px(px) -> np.ndarray:
    px = np.asarray(px, dtype=np.float64)
    if px.ndim != 2 or px.shape[1] != 2:
        raise WarpModelError(f"pixels must be an (N, 2) array of (x, y), got shape {px.shape}")
    return px


def _as_points(points) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise WarpModelError(f"points must be an (N, 3) array of (x, y, z) metres, got shape {p.shape}")
    return p


def pixels_to_rays(projector: ProjectorModel, px) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projector pixels -> rays in the dome frame.

    ``px`` (N, 2) continuous image coordinates (x right, y down; centres at +0.5)
    -> ``(origin_m (3,), dirs (N, 3) unit, ok (N,) bool)``. ``ok`` is False only
    for fisheye pixels more than 180 deg off the axis (no such ray).
    """
    px = _as_px(px)
    right, up, forward = projector.basis()
    cx, cy = projector.principal_point_px
    lens = projector.lens
    dx = px[:, 0] - cx
    dy_up = cy - px[:, 1]
    if lens.kind == "perspective":
        f_px = lens.throw_ratio * projector.width_px
        d = forward[None, :] + (dx / f_px)[:, None] * right[None, :] + (dy_up / f_px)[:, None] * up[None, :]
        ok = np.ones(len(px), dtype=bool)
    else:
        rad_per_px = math.radians(lens.fov_deg) / projector.width_px
        a = dx * rad_per_px
        b = dy_up * rad_per_px
        theta = np.hypot(a, b)
        safe = np.where(theta > 0.0, theta, 1.0)
        s = np.sin(theta) / safe
        d = (
            np.cos(theta)[:, None] * forward[None, :]
            + (s * a)[:, None] * right[None, :]
            + (s * b)[:, None] * up[None, :]
        )
        ok = theta <= math.pi
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return projector.position, d, ok


def intersect_sphere_from_inside(origin_m, dirs: np.ndarray, radius_m: float) -> np.ndarray:
    """Where rays from inside a sphere centred at the origin leave it.

    ``origin_m`` (3,) or (N, 3) with ``|origin| < radius_m``; ``dirs`` (N, 3)
    unit -> (N, 3) points on the sphere. Solves ``|o + t d| = R`` for the
    positive root ``t = -o.d + sqrt((o.d)^2 - (|o|^2 - R^2))`` (the
    discriminant is positive from inside).
    """
    o = np.broadcast_to(np.asarray(origin_m, dtype=np.float64), dirs.shape)
    b = np.einsum("ij,ij->i", o, dirs)
    c = np.einsum("ij,ij->i", o, o) - radius_m * radius_m
    t = -b + np.sqrt(b * b - c)
    return o + t[:, None] * dirs


def elevation_deg(dome: DomeModel, points) -> np.ndarray:
    """(N, 3) dome points -> (N,) elevation in degrees above the dome's equator (from its centre)."""
    p = _as_points(points)
    return np.degrees(np.arcsin(np.clip(p[:, 2] / np.linalg.norm(p, axis=1), -1.0, 1.0)))


def on_visible_dome(dome: DomeModel, points) -> np.ndarray:
    """(N, 3) points on the sphere -> (N,) bool: at or above the springline."""
    p = _as_points(points)
    return p[:, 2] >= dome.radius_m * math.sin(math.radians(dome.springline_deg)) - 1e-12


def pixels_to_dome_points(dome: DomeModel, projector: ProjectorModel, px) -> tuple[np.ndarray, np.ndarray]:
    """Projector pixels -> the dome points they light.

    ``px`` (N, 2) -> ``(points_m (N, 3), valid (N,))``; ``valid`` is False
    where the ray leaves the sphere below the springline (that pixel must stay
    black) or does not exist (fisheye beyond 180 deg).
    """
    check_inside(dome, projector)
    origin, dirs, ok = pixels_to_rays(projector, px)
    points = intersect_sphere_from_inside(origin, dirs, dome.radius_m)
    return points, ok & on_visible_dome(dome, points)


def dome_points_to_pixels(projector: ProjectorModel, points) -> tuple[np.ndarray, np.ndarray]:
    """Dome-frame points -> projector pixels (the inverse of :func:`pixels_to_dome_points`).

    ``points`` (N, 3) metres -> ``(px (N, 2), valid (N,))``: ``valid`` means in
    front of the lens (perspective) or within 180 deg of the axis (fisheye)
    and inside the image rectangle ``[0, W] x [0, H]``. ``px`` is finite
    everywhere (NaN-free) but meaningless where not valid.
    """
    p = _as_points(points)
    right, up, forward = projector.basis()
    d = p - projector.position[None, :]
    xc = d @ right
    yc = d @ up
    zc = d @ forward
    cx, cy = projector.principal_point_px
    lens = projector.lens
    if lens.kind == "perspective":
        f_px = lens.throw_ratio * projector.width_px
        front = zc > MIN_DEPTH_M
        z = np.where(front, zc, 1.0)
        x = cx + f_px * xc / z
        y = cy - f_px * yc / z
    else:
        rad_per_px = math.radians(lens.fov_deg) / projector.width_px
        norm = np.sqrt(xc * xc + yc * yc + zc * zc)
        theta = np.arccos(np.clip(zc / np.where(norm > 0, norm, 1.0), -1.0, 1.0))
        rho = np.hypot(xc, yc)
        safe = np.where(rho > 0.0, rho, 1.0)
        r_px = theta / rad_per_px
        x = cx + r_px * np.where(rho > 0, xc / safe, 0.0)
        y = cy - r_px * np.where(rho > 0, yc / safe, 0.0)
        front = (norm > 0) & (theta < math.pi)
    tol = EDGE_TOLERANCE_PX
    inside = (x >= -tol) & (x <= projector.width_px + tol) & (y >= -tol) & (y <= projector.height_px + tol)
    px = np.stack([np.where(front, x, -1.0), np.where(front, y, -1.0)], axis=1)
    return px, front & inside


def dome_points_to_uv(eye_m, points) -> np.ndarray:
    """(N, 3) dome points -> (N, 2) domemaster (u, v) of their direction from the eye."""
    p = _as_points(points)
    return fisheye_uv(p - np.asarray(eye_m, dtype=np.float64)[None, :])


def uv_to_dome_points(dome: DomeModel, eye_m, uv) -> tuple[np.ndarray, np.ndarray]:
    """Domemaster (u, v) -> the dome point the eye sees there.

    ``uv`` (N, 2) -> ``(points_m (N, 3), visible (N,))``: ``visible`` is False
    where that direction meets the sphere below the springline (outside the
    dome) or ``uv`` is beyond the fisheye's domain (radius > 1).
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    eye = as_eye_m(eye_m, dome)
    dirs = fisheye_dir(uv)
    points = intersect_sphere_from_inside(eye, dirs, dome.radius_m)
    r = np.hypot(uv[:, 0] - 0.5, uv[:, 1] - 0.5)
    return points, on_visible_dome(dome, points) & (r <= 1.0)


def projector_pixels_to_uv(dome: DomeModel, projector: ProjectorModel, eye_m, px) -> tuple[np.ndarray, np.ndarray]:
    """Dense warp: projector pixels (N, 2) -> ``(uv (N, 2), valid (N,))`` through the dome and the eye.

    ``uv`` is computed for every pixel (smoothly continued below the
    springline, so a mesh can interpolate across it); ``valid`` says whether the
    pixel lights the visible dome.
    """
    eye = as_eye_m(eye_m, dome)
    points, valid = pixels_to_dome_points(dome, projector, px)
    return dome_points_to_uv(eye, points), valid
