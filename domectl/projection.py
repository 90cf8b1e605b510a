"""Dome conventions: horizontal sky -> room -> dome -> domemaster, in numpy.

This module is the single definition of the frames every other part uses, and
the numpy twin of ``render/shaders/dome_projection.glsl``.

Frames (all right-handed, unit vectors as rows of ``(N, 3)`` arrays):

* **horizontal (ENU)**: x = East, y = North, z = Up at the observer's site.
  Azimuth is measured from North through East: ``az = atan2(x, y)``.
* **room**: fixed to the hall's floor: x = right, y = front, z = up, as seen
  by an audience member facing the front.
* **dome**: fixed to the dome shell: +z the dome zenith, +y the dome front,
  +x right. A dome tilted by ``tilt_deg`` leans its zenith toward the front:
  the dome zenith is ``(0, sin t, cos t)`` in room coordinates.
* **domemaster**: azimuthal equidistant fisheye of the dome frame, texture
  coordinates ``(u, v)`` in [0, 1] with v up (OpenGL). Centre (0.5, 0.5) is
  the dome zenith, the springline (90 deg from zenith) is the circle of
  radius 0.5, the front (+y) is at the bottom, right (+x) at the right. The
  radius is proportional to the angle from the zenith: ``r = theta / pi``.

The operator's view ``(view_az_deg, view_alt_deg)`` puts the sky direction at
that azimuth and altitude at the room's front horizon (+y). The default view
is the hall's ``front_az_deg`` at altitude 0: the sky's horizon on the room's
horizon, that azimuth in front of the audience.
"""

from __future__ import annotations

import numpy as np


def rot_x(angle_rad: float) -> np.ndarray:
    """Right-handed rotation about +x: (3, 3)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(angle_rad: float) -> np.ndarray:
    """Right-handed rotation about +z: (3, 3)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def room_from_enu(view_az_deg: float, view_alt_deg: float = 0.0) -> np.ndarray:
    """Rotation taking horizontal (ENU) vectors to room vectors: (3, 3).

    The sky direction (view_az_deg, view_alt_deg) lands on room +y.
    """
    # Turning the sky by +az about Up brings azimuth az onto North (= room +y
    # before the pitch); then pitching down by alt brings that direction onto
    # the horizon.
    yaw = rot_z(np.radians(view_az_deg))
    pitch = rot_x(-np.radians(view_alt_deg))
    return pitch @ yaw


def dome_from_room(tilt_deg: float) -> np.ndarray:
    """Rotation taking room vectors to dome vectors for a dome tilted forward: (3, 3)."""
    # The dome zenith (0, sin t, cos t) in room coordinates must become +z.
    return rot_x(np.radians(tilt_deg))


def dome_from_enu(view_az_deg: float, view_alt_deg: float, tilt_deg: float) -> np.ndarray:
    """Rotation horizontal -> dome for a view and a dome tilt: (3, 3)."""
    return dome_from_room(tilt_deg) @ room_from_enu(view_az_deg, view_alt_deg)


def altaz_to_enu(alt_deg: np.ndarray, az_deg: np.ndarray) -> np.ndarray:
    """Altitude/azimuth (deg, az from North through East) -> (N, 3) ENU unit vectors."""
    alt = np.radians(np.asarray(alt_deg, dtype=np.float64))
    az = np.radians(np.asarray(az_deg, dtype=np.float64))
    c = np.cos(alt)
    return np.stack([c * np.sin(az), c * np.cos(az), np.sin(alt)], axis=-1)


def enu_to_altaz(enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) ENU vectors -> (alt_deg, az_deg) with az in [0, 360)."""
    enu = np.asarray(enu, dtype=np.float64)
    norm = np.linalg.norm(enu, axis=-1)
    alt = np.degrees(np.arcsin(np.clip(enu[..., 2] / norm, -1.0, 1.0)))
    az = np.degrees(np.arctan2(enu[..., 0], enu[..., 1])) % 360.0
    return alt, az


def fisheye_uv(dirs: np.ndarray) -> np.ndarray:
    """Dome-frame directions -> domemaster texture coordinates.

    (N, 3) vectors (need not be unit) -> (N, 2) (u, v); the dome hemisphere
    maps into the disc of radius 0.5 about (0.5, 0.5). Directions below the
    springline map outside that disc (r > 0.5); the nadir is undefined and
    maps to radius 1.
    """
    d = np.asarray(dirs, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    theta = np.arccos(np.clip(d[..., 2], -1.0, 1.0))
    rho = np.hypot(d[..., 0], d[..., 1])
    r = theta / np.pi
    safe = np.where(rho > 0.0, rho, 1.0)
    u = 0.5 + r * np.where(rho > 0.0, d[..., 0] / safe, 0.0)
    v = 0.5 - r * np.where(rho > 0.0, d[..., 1] / safe, 0.0)
    return np.stack([u, v], axis=-1)


def fisheye_dir(uv: np.ndarray) -> np.ndarray:
    """Domemaster texture coordinates -> dome-frame unit vectors: (N, 2) -> (N, 3).

    The inverse of :func:`fisheye_uv` for r <= 1.
    """
    uv = np.asarray(uv, dtype=np.float64)
    x = uv[..., 0] - 0.5
    y = 0.5 - uv[..., 1]
    r = np.hypot(x, y)
    theta = r * np.pi
    safe = np.where(r > 0.0, r, 1.0)
    s = np.sin(theta)
    dx = np.where(r > 0.0, s * x / safe, 0.0)
    dy = np.where(r > 0.0, s * y / safe, 0.0)
    return np.stack([dx, dy, np.cos(theta)], axis=-1)


def pixel_to_uv(px: np.ndarray, size_px: int) -> np.ndarray:
    """Domemaster pixel centres (col, row from the top) -> (u, v): (N, 2) -> (N, 2)."""
    px = np.asarray(px, dtype=np.float64)
    return np.stack([(px[..., 0] + 0.5) / size_px, 1.0 - (px[..., 1] + 0.5) / size_px], axis=-1)


def uv_to_pixel(uv: np.ndarray, size_px: int) -> np.ndarray:
    """(u, v) -> domemaster pixel coordinates (col, row from the top, continuous): (N, 2)."""
    uv = np.asarray(uv, dtype=np.float64)
    return np.stack([uv[..., 0] * size_px - 0.5, (1.0 - uv[..., 1]) * size_px - 0.5], axis=-1)
