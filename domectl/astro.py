"""Numpy twin of the star vertex shader: proper motion, aberration, rotation, refraction.

The GPU shader (``render/shaders/stars.glsl``) implements the identical math;
tests compare both, and this module against Skyfield's full apparent place.
numpy only.

Frames and shapes (see ``domectl/projection.py`` for the horizontal frame):

* ICRS unit vectors are rows of ``(N, 3)`` float64 arrays.
* ENU = East, North, Up at the observer; azimuth from North through East.

The formula (docs/ARCHITECTURE.md)::

    u = normalize(u0 + years_since_epoch * pm)     # linear proper motion
    u = normalize(u + beta - dot(u, beta) * u)      # annual + diurnal aberration
    enu = enu_from_icrs @ u                          # precession, nutation, Earth rotation, polar motion

Linear proper motion along the tangent is exactly the direction of Skyfield's
space motion with zero radial velocity (``Star`` moves the position linearly
in space). The aberration is first order in beta = v/c (|beta| <= 1.0e-4), so
it leaves out terms of order beta**2 ~ 1e-8 rad = 0.002 arcsec; Skyfield's
relativistic formula and its light deflection by the Sun (0.004 arcsec at 90
deg from the Sun, 1.75 arcsec at the limb) and stellar parallax (< 0.77
arcsec, ignored here) are what the twin leaves out. Measured against Skyfield
over all Hipparcos stars: see tests/test_astro.py.

Refraction is Skyfield's (``skyfield.earthlib.refraction``): Bennett's
formula (Bennett 1982, J. Navigation 35, 255; as in Meeus, *Astronomical
Algorithms*, 2nd ed., eq. 16.4) scaled by pressure and temperature, applied
between -1 and 89.9 deg of altitude, and solved for the apparent altitude
by fixed-point iteration.
"""

from __future__ import annotations

import numpy as np

# Skyfield iterates until the step is <= 3e-5 deg (0.1 arcsec). A shader wants
# a fixed count: the fixed-point map converges slowest just above -1 deg true
# altitude (where R changes fastest); measured against skyfield.earthlib.refract
# over -3..90 deg, 6 steps leave 1.2 arcsec there, 10 steps 0.03 arcsec
# (tests/test_astro.py::test_refract_alt_matches_skyfield_refract).
REFRACT_ITERATIONS = 10
REFRACT_MIN_ALT_DEG = -1.0
REFRACT_MAX_ALT_DEG = 89.9

__all__ = [
    "REFRACT_ITERATIONS",
    "star_directions",
    "refraction_deg",
    "refract_alt",
    "refract_enu",
    "standard_pressure_mbar",
]


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# 2 G M_sun / c^2 in au: the scale of the Sun's gravitational light deflection
# (IERS Conventions 2010, eq. 7.1; GM_sun = 1.32712440041e20 m^3 s^-2, 1 au = 1.495978707e11 m).
SUN_DEFLECTION_AU = 2.0 * 1.32712440041e20 / 299792458.0**2 / 1.495978707e11


def deflect_by_sun(u: np.ndarray, sun_icrs: np.ndarray, sun_distance_au: float) -> np.ndarray:
    """Gravitational light deflection by the Sun for stars at infinity.

    u (N, 3) unit star directions; sun_icrs (3,) unit direction observer -> Sun;
    sun_distance_au the observer-Sun distance. With e the unit vector Sun ->
    observer and g = 2GM/(c^2 E):  u' = u + g / (1 + u.e) * (e - (u.e) u)
    (Klioner 2003; the star-at-infinity form of Skyfield's ``add_deflection``).
    4 mas at 90 deg from the Sun, 1.75" at its limb. Returns (N, 3) unit vectors.
    """
    e = -np.asarray(sun_icrs, dtype=np.float64)
    e = e / np.linalg.norm(e)
    g = SUN_DEFLECTION_AU / float(sun_distance_au)
    ue = u @ e
    # Directly behind the Sun's centre the formula diverges; such a star is hidden by the disc.
    scale = g / np.maximum(1.0 + ue, 1e-12)
    return _normalize(u + scale[..., None] * (e[None, :] - ue[..., None] * u))


def sun_in_icrs(bodies, enu_from_icrs: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(unit ICRS direction observer -> Sun, distance au) from a frame's bodies, or None.

    ``bodies``: objects with ``name``, ``enu (3,)`` and ``distance_au`` (BodyState, BodyView).
    """
    for b in bodies:
        if b.name == "Sun":
            return np.asarray(enu_from_icrs, dtype=np.float64).T @ np.asarray(b.enu, dtype=np.float64), \
                float(b.distance_au)
    return None


def star_directions(
    icrs_xyz: np.ndarray,
    pm_xyz_rad_per_yr: np.ndarray,
    years_since_epoch: float,
    beta_icrs: np.ndarray,
    enu_from_icrs: np.ndarray,
    sun: tuple[np.ndarray, float] | None = None,
) -> np.ndarray:
    """Apparent (unrefracted) star directions in the horizontal frame.

    icrs_xyz (N, 3) unit vectors at the catalogue epoch; pm_xyz_rad_per_yr
    (N, 3) tangential velocities of those unit vectors (rad per Julian year);
    years_since_epoch: Julian years (TT) since the catalogue epoch; beta_icrs
    (3,) the observer's barycentric velocity over c, ICRS axes;
    enu_from_icrs (3, 3) rotation ICRS -> East-North-Up; sun: optionally
    (unit ICRS direction to the Sun, its distance in au) from
    :func:`sun_in_icrs`, to apply the Sun's light deflection.
    Returns (N, 3) ENU unit vectors. Order as Skyfield's apparent():
    proper motion, deflection, aberration, rotation.
    """
    u0 = np.asarray(icrs_xyz, dtype=np.float64)
    pm = np.asarray(pm_xyz_rad_per_yr, dtype=np.float64)
    beta = np.asarray(beta_icrs, dtype=np.float64)
    u = _normalize(u0 + years_since_epoch * pm)
    if sun is not None:
        u = deflect_by_sun(u, *sun)
    u = _normalize(u + beta - (u @ beta)[..., None] * u)
    return u @ np.asarray(enu_from_icrs, dtype=np.float64).T


def standard_pressure_mbar(elevation_m: float) -> float:
    """Skyfield's 'standard' pressure for a site: 1010 mbar * exp(-elevation / 9.1 km)."""
    return 1010.0 * float(np.exp(-elevation_m / 9.1e3))


def refraction_deg(alt_deg, temperature_C: float, pressure_mbar: float) -> np.ndarray:
    """Refraction (deg) for an *observed* altitude (deg); 0 outside [-1, 89.9] deg.

    Same formula as ``skyfield.earthlib.refraction``:
    R = 0.016667 / tan(h + 7.31 / (h + 4.4)) * 0.28 P / (T + 273).
    """
    h = np.asarray(alt_deg, dtype=np.float64)
    r = 0.016667 / np.tan(np.radians(h + 7.31 / (h + 4.4)))
    d = r * (0.28 * pressure_mbar / (temperature_C + 273.0))
    return np.where((h >= REFRACT_MIN_ALT_DEG) & (h <= REFRACT_MAX_ALT_DEG), d, 0.0)


def refract_alt(alt_deg, temperature_C: float, pressure_mbar: float, iterations: int = REFRACT_ITERATIONS) -> np.ndarray:
    """True (geometric) altitude (deg) -> apparent altitude (deg), any shape.

    Solves h = alt + R(h) by a fixed number of fixed-point steps, like
    ``skyfield.earthlib.refract`` (which loops until the step is <= 3e-5 deg).
    """
    alt = np.asarray(alt_deg, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = alt
        for _ in range(iterations):
            h = alt + refraction_deg(h, temperature_C, pressure_mbar)
    return h


def refract_enu(enu: np.ndarray, temperature_C: float, pressure_mbar: float) -> np.ndarray:
    """(N, 3) ENU unit vectors -> (N, 3) refracted ENU unit vectors (azimuth kept)."""
    v = np.asarray(enu, dtype=np.float64)
    horizontal = np.hypot(v[..., 0], v[..., 1])
    alt_deg = np.degrees(np.arctan2(v[..., 2], horizontal))
    new_alt = np.radians(refract_alt(alt_deg, temperature_C, pressure_mbar))
    safe = np.where(horizontal > 0.0, horizontal, 1.0)
    scale = np.where(horizontal > 0.0, np.cos(new_alt) / safe, 0.0)
    return np.stack([v[..., 0] * scale, v[..., 1] * scale, np.sin(new_alt)], axis=-1)
