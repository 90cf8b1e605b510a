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

**Zoom** (``FrameState.zoom``): a conformal magnification of the whole sky
scene, applied in the dome frame after the view rotation and before the
fisheye. A sky direction at angle theta from the zoom centre
(:data:`ZOOM_CENTRE_DOME`) is drawn at ``theta' = 2 atan(zoom tan(theta / 2))``
from it, at the same azimuth about it: the stereographic projection from the
centre's antipode, scaled by ``zoom``, projected back (a Moebius map of the
sphere). The centre and its antipode stay put; zoom > 1 magnifies what is
round the centre, zoom < 1 shows more sky. Being conformal, the map
magnifies isotropically, by ``d theta' / d theta`` (:func:`zoom_magnification`),
so a disc stays a disc and text keeps its shape. :func:`zoom_dir` is the map
(forward, for what is drawn from its sky direction: stars, bodies, lines,
label anchors) and :func:`unzoom_dir` its inverse (per-pixel passes: which sky
direction a pixel shows); twins of ``zoom_dir`` in
``render/shaders/dome_projection.glsl`` and ``unzoom_dir``, ``unzoom_dir_grad``
in ``dome_inverse.glsl``. Zoom 1 is the identity, exactly (the input is
returned untouched), so an unzoomed frame is the same as before zoom existed.
Things fixed to the dome (overlays) are not zoomed.
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


# ---------------------------------------------------------------------------
# Zoom (module docstring)
# ---------------------------------------------------------------------------

#: Elevation of the zoom centre above the springline, at the dome's front (+y), in the
#: dome frame. In a unidirectional dome the audience faces the front and looks about
#: 30 deg up: the zoom magnifies what they look at and keeps it where it is.
ZOOM_CENTRE_ELEV_DEG = 30.0
#: The zoom a show, the operator or a still may ask for: a quarter of the sky's scale (wider
#: than the dome) up to a telescope's 100 (the lines' piece count is sized for it).
MIN_ZOOM, MAX_ZOOM = 0.25, 100.0
#: The zoom centre, a dome-frame unit vector: (0, cos 30 deg, sin 30 deg).
ZOOM_CENTRE_DOME = np.array([0.0, np.cos(np.radians(ZOOM_CENTRE_ELEV_DEG)), np.sin(np.radians(ZOOM_CENTRE_ELEV_DEG))])
ZOOM_CENTRE_DOME.setflags(write=False)


def zoom_sky_radius_deg(drawn_deg: float, zoom: float) -> float:
    """The angle from the zoom centre of the sky the zoom draws ``drawn_deg`` from it.

    ``2 atan(tan(drawn / 2) / zoom)``: with ``drawn_deg = 180 - ZOOM_CENTRE_ELEV_DEG``
    (the back of the springline, the hemisphere's farthest point from the
    centre) all the sky the dome shows lies within it.
    """
    return float(np.degrees(2.0 * np.arctan(np.tan(np.radians(float(drawn_deg)) / 2.0) / float(zoom))))


def zoom_uniform(zoom: float) -> tuple[float, float, float, float]:
    """The shaders' ``u_zoom`` for ``zoom`` (> 0): (centre x, y, z, log2 zoom).

    The log makes zoom 1 a zero, which is also a GLSL uniform's value when a
    program never sets it: such a program draws unzoomed.
    """
    return (*(float(x) for x in ZOOM_CENTRE_DOME), float(np.log2(float(zoom))))


def _zoom_terms(dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit vectors u, a = 1 + cos theta, b = 1 - cos theta) of (N, 3) directions, theta from the centre.

    a and b from |u +- centre|^2 / 2: each is exact where it is small (a cosine is not).
    """
    d = np.asarray(dirs, dtype=np.float64)
    u = d / np.linalg.norm(d, axis=-1, keepdims=True)
    a = 0.5 * np.sum((u + ZOOM_CENTRE_DOME) ** 2, axis=-1, keepdims=True)
    b = 0.5 * np.sum((u - ZOOM_CENTRE_DOME) ** 2, axis=-1, keepdims=True)
    return u, a, b


def zoom_dir(dirs: np.ndarray, zoom: float) -> np.ndarray:
    """Sky directions in the dome frame -> where the zoom draws them: (N, 3) -> (N, 3) unit vectors.

    With a = 1 + cos theta, b = 1 - cos theta and the centre c:
    ``((a - z^2 b + 2 z b) c + 2 z (u - c)) / (a + z^2 b)``, i.e. cos theta' =
    (a - z^2 b) / (a + z^2 b) and the offset from c scaled by 2 z / (a + z^2 b).
    Zoom 1 returns ``dirs`` as they are (need not be unit). Twin of ``zoom_dir``
    in ``dome_projection.glsl``.
    """
    if zoom == 1.0:
        return np.asarray(dirs, dtype=np.float64)
    u, a, b = _zoom_terms(dirs)
    z = float(zoom)
    return ((a - z * z * b + 2.0 * z * b) * ZOOM_CENTRE_DOME + 2.0 * z * (u - ZOOM_CENTRE_DOME)) / (a + z * z * b)


def unzoom_dir(dirs: np.ndarray, zoom: float) -> np.ndarray:
    """Drawn dome-frame directions -> the sky directions the zoom put there: (N, 3) -> (N, 3).

    The inverse of :func:`zoom_dir` is the same map by ``1 / zoom``.
    """
    return zoom_dir(dirs, 1.0 / float(zoom)) if zoom != 1.0 else np.asarray(dirs, dtype=np.float64)


def unzoom_dir_grad(dirs: np.ndarray, d_dx: np.ndarray, d_dy: np.ndarray,
                    zoom: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`unzoom_dir` and its derivatives: (N, 3) unit ``dirs`` with tangent derivatives -> 3 x (N, 3).

    ``d_dx``, ``d_dy``: derivatives of ``dirs`` per output pixel (as from
    ``render.backdrop.fisheye_dir_grad``). For the map f by w = 1 / zoom, the
    derivative along a tangent v is ``(2 w v + (1 - w)^2 (v.c) c - (1 - w^2) (v.c) f) / (a + w^2 b)``.
    Twin of ``unzoom_dir_grad`` in ``dome_inverse.glsl``.
    """
    if zoom == 1.0:
        return (np.asarray(dirs, dtype=np.float64), np.asarray(d_dx, dtype=np.float64),
                np.asarray(d_dy, dtype=np.float64))
    w = 1.0 / float(zoom)
    f = zoom_dir(dirs, w)
    _, a, b = _zoom_terms(dirs)
    c = ZOOM_CENTRE_DOME

    def along(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        vc = v @ c
        return (2.0 * w * v + vc[:, None] * ((1.0 - w) ** 2 * c - (1.0 - w * w) * f)) / (a + w * w * b)

    return f, along(d_dx), along(d_dy)


def zoom_magnification(dirs: np.ndarray, zoom: float) -> np.ndarray:
    """The zoom's local magnification d theta' / d theta at sky directions: (N, 3) -> (N,).

    ``2 z / (a + z^2 b)`` (notation of :func:`zoom_dir`): ``zoom`` at the
    centre, ``1 / zoom`` at its antipode; the same in every direction (conformal).
    """
    if zoom == 1.0:
        return np.ones(np.asarray(dirs).shape[:-1])
    _, a, b = _zoom_terms(dirs)
    z = float(zoom)
    return (2.0 * z / (a + z * z * b))[..., 0]


def zoom_max_magnification(zoom: float) -> float:
    """The largest local magnification of the zoom anywhere on the dome's hemisphere.

    The magnification changes monotonically with the angle from the centre, so
    the largest is at the centre (zoom > 1) or at the point of the hemisphere
    farthest from it, the back of the springline (zoom < 1).
    """
    drawn = np.array([ZOOM_CENTRE_DOME, [0.0, -1.0, 0.0]])
    return float(zoom_magnification(unzoom_dir(drawn, zoom), zoom).max())
