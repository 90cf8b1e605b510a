"""Coordinate grids and reference circles: ``grid-altaz``, ``grid-equatorial``,
``grid-ecliptic``, ``meridian``, ``horizon``.

One full-screen program (``grid.glsl``) draws every one of them: the lines of
constant latitude and longitude of a frame, analytically per output pixel.
A grid is a frame (:func:`grid_frame`, a rotation from ENU) and a
:class:`GridStyle`; with the frame's coordinates (:func:`grid_coordinates_deg`,
the numpy twin of the shader's)::

    lat = atan2(z, hypot(x, y)),  lon = atan2(y, x)     (x, y, z) = frame_from_enu @ d_enu

* ``grid-altaz``: frame (North, East, Up): lat = altitude, lon = azimuth from
  north through east; altitude and azimuth every 10 deg.
* ``grid-equatorial``: ICRS (~J2000 equator): lat = dec every 10 deg,
  lon = RA every 15 deg (1 h); the equator a little stronger.
* ``grid-ecliptic``: the J2000 ecliptic (obliquity 23.4392911 deg, IAU 1980),
  latitude every 10 deg, longitude every 15 deg; the ecliptic itself stronger.
* ``meridian``: the great circle through north, the zenith and south: the
  "equator" of the frame (North, Up, East), whose lat is the angle east of it.
* ``horizon``: the true horizon, altitude 0 (the alt-az frame's equator).

Lines have a constant width in output pixels: the distance to a line in
degrees is divided by the coordinate's gradient in degrees per output pixel
(:func:`grid_degrees_per_px`, analytic from ``fisheye_dir_grad``: exact at
every pixel, so adjacent slices match at their seams, which ``dFdx`` over 2x2
quads would not where a slice starts at an odd pixel), and the coverage is a one-pixel box filter of
a line ``width_px`` wide (its coverage summed across the line is
``width_px``). Longitude lines thin out near the poles (within
``90 - pole_lat_deg``): only one in ``pole_keep`` is kept there, so the
meridians do not merge into a blot. Colours are display-encoded, drawn "over"
with ``alpha * opacity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np

from render.backdrop import OVER, FullScreenPass, mat3_bytes

#: J2000 mean obliquity of the ecliptic (IAU 1980; Lieske et al. 1977), degrees.
OBLIQUITY_J2000_DEG = 23.4392911


@dataclass(frozen=True)
class GridStyle:
    """How one grid looks.

    lat_step_deg / lon_step_deg: spacing of the lines (0: none). rgb:
    display-encoded colour; alpha: line opacity at layer opacity 1.
    equator_width_px, equator_alpha: the lat = 0 line drawn apart (0: an
    ordinary line). pole_lat_deg, pole_keep: above that |lat| only longitude
    lines whose index is a multiple of pole_keep.
    """

    lat_step_deg: float
    lon_step_deg: float
    rgb: tuple[float, float, float]
    alpha: float = 0.6
    width_px: float = 1.5
    equator_width_px: float = 0.0
    equator_alpha: float = 1.0
    pole_lat_deg: float = 80.0
    pole_keep: int = 6


#: Conventional colours: alt-az green, equatorial blue, ecliptic orange-red, meridian and horizon light.
GRID_STYLES: dict[str, GridStyle] = {
    "grid-altaz": GridStyle(10.0, 10.0, (0.35, 0.78, 0.38), pole_keep=9),
    "grid-equatorial": GridStyle(10.0, 15.0, (0.35, 0.58, 1.0), equator_width_px=2.0, equator_alpha=0.8),
    "grid-ecliptic": GridStyle(10.0, 15.0, (1.0, 0.50, 0.22), alpha=0.5, equator_width_px=2.5, equator_alpha=1.0),
    "meridian": GridStyle(0.0, 0.0, (0.85, 0.85, 0.80), equator_width_px=1.5, equator_alpha=0.8),
    "horizon": GridStyle(0.0, 0.0, (0.95, 0.88, 0.70), equator_width_px=2.0, equator_alpha=0.9),
}

# Frame rows in ENU (x = East, y = North, z = Up).
_ALTAZ_FROM_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_MERIDIAN_FROM_ENU = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def ecliptic_from_icrs(obliquity_deg: float = OBLIQUITY_J2000_DEG) -> np.ndarray:
    """Rotation ICRS (equator) -> ecliptic: (3, 3); a turn by -obliquity about the equinox (x)."""
    e = np.radians(obliquity_deg)
    c, s = np.cos(e), np.sin(e)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def grid_frame(name: str, enu_from_icrs: np.ndarray) -> np.ndarray:
    """The frame of grid ``name`` as a (3, 3) matrix frame_from_enu (rows: the frame's axes in ENU)."""
    icrs_from_enu = np.asarray(enu_from_icrs, dtype=np.float64).T
    if name in ("grid-altaz", "horizon"):
        return _ALTAZ_FROM_ENU.copy()
    if name == "meridian":
        return _MERIDIAN_FROM_ENU.copy()
    if name == "grid-equatorial":
        return icrs_from_enu
    if name == "grid-ecliptic":
        return ecliptic_from_icrs() @ icrs_from_enu
    raise ValueError(f"unknown grid layer {name!r}; choose one of {', '.join(GRID_STYLES)}")


def grid_coordinates_deg(dirs_enu: np.ndarray, frame_from_enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lon_deg in (-180, 180], lat_deg) of ENU directions in a grid frame: (N, 3) -> (N,), (N,).

    With :func:`grid_frame`: (azimuth, altitude), (RA, dec), (ecliptic lon, lat).
    The twin of the coordinates in ``grid.glsl``.
    """
    f = np.asarray(dirs_enu, dtype=np.float64) @ np.asarray(frame_from_enu, dtype=np.float64).T
    lat = np.degrees(np.arctan2(f[..., 2], np.hypot(f[..., 0], f[..., 1])))
    lon = np.degrees(np.arctan2(f[..., 1], f[..., 0]))
    return lon, lat


def grid_degrees_per_px(dirs_dome: np.ndarray, d_dx: np.ndarray, d_dy: np.ndarray,
                        frame_from_dome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) degrees per output pixel at dome directions with derivatives d_dx, d_dy (per px).

    (N, 3) x 3 (from :func:`render.backdrop.fisheye_dir_grad`) -> (N,), (N,):
    the lengths of the coordinates' gradients; the twin of ``grid.glsl``.
    """
    m = np.asarray(frame_from_dome, dtype=np.float64)
    f, fx, fy = (np.asarray(v, dtype=np.float64) @ m.T for v in (dirs_dome, d_dx, d_dy))
    rho2 = np.maximum(f[..., 0] ** 2 + f[..., 1] ** 2, 1e-24)
    lat = np.hypot(fx[..., 2], fy[..., 2]) / np.sqrt(rho2)
    lon = np.hypot(f[..., 0] * fx[..., 1] - f[..., 1] * fx[..., 0], f[..., 0] * fy[..., 1] - f[..., 1] * fy[..., 0]) / rho2
    return np.degrees(lon), np.degrees(lat)


def grid_line_offset_deg(lon_deg: np.ndarray, lat_deg: np.ndarray, style: GridStyle) -> tuple[np.ndarray, np.ndarray]:
    """Angular offsets (deg) to the nearest drawn latitude line and longitude line: (N,), (N,).

    inf where a style has no such line (or it is dropped near a pole): the
    twin of the line choice in ``grid.glsl`` (the equator counts as a latitude line).
    """
    lon = np.asarray(lon_deg, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    lat_off = np.abs(lat) if style.equator_width_px > 0 else np.full(lat.shape, np.inf)
    if style.lat_step_deg > 0:
        k = np.round(lat / style.lat_step_deg)
        off = np.abs(lat - k * style.lat_step_deg)
        off = np.where(np.abs(k * style.lat_step_deg) > 89.999, np.inf, off)
        lat_off = np.minimum(lat_off, off)
    lon_off = np.full(lon.shape, np.inf)
    if style.lon_step_deg > 0:
        k = np.round(lon / style.lon_step_deg)
        keep = (np.abs(lat) < style.pole_lat_deg) | (np.mod(k, style.pole_keep) == 0)
        lon_off = np.where(keep, np.abs(lon - k * style.lon_step_deg), np.inf)
    return lat_off, lon_off


class GridLayer:
    """The grid and reference-circle layers (module docstring), one program for all five.

    ``styles`` maps each name to a :class:`GridStyle` (default :data:`GRID_STYLES`).
    """

    names = tuple(GRID_STYLES)

    def __init__(self, ctx: moderngl.Context, styles: dict[str, GridStyle] | None = None) -> None:
        self.styles = dict(GRID_STYLES if styles is None else styles)
        missing = [name for name in self.names if name not in self.styles]
        if missing:
            raise ValueError(f"GridLayer styles lack {missing}: give a GridStyle for every one of {self.names}")
        self._pass = FullScreenPass(ctx, "grid")

    def draw(self, view: Any, name: str, opacity: float) -> None:
        style = self.styles[name]
        frame_from_enu = grid_frame(name, view.enu_from_icrs)
        frame_from_dome = frame_from_enu @ np.asarray(view.dome_from_enu, dtype=np.float64).T
        p = self._pass
        p.set("u_frame_from_dome", mat3_bytes(frame_from_dome))
        p.set("u_lat_step_deg", float(style.lat_step_deg))
        p.set("u_lon_step_deg", float(style.lon_step_deg))
        p.set("u_width_px", float(style.width_px))
        p.set("u_alpha", float(style.alpha))
        p.set("u_equator_width_px", float(style.equator_width_px))
        p.set("u_equator_alpha", float(style.equator_alpha))
        p.set("u_pole_lat_deg", float(style.pole_lat_deg))
        p.set("u_pole_keep", float(style.pole_keep))
        p.set("u_rgb", tuple(float(c) for c in style.rgb))
        p.set("u_opacity", float(opacity))
        p.draw(view, OVER)

    def release(self) -> None:
        self._pass.release()
