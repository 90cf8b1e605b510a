"""The space voyage: the observer anywhere in the solar system, and how it gets there.

The observer is either **on the ground** (a WGS84 site: the ordinary sky of
domectl/ephemeris.py) or **in space**: a barycentric ICRS position and a
*ship frame*, a rotation that plays the part the site's East-North-Up frame
plays on the ground (``FrameState.enu_from_icrs``), so the view, the zoom,
the stars and every layer work in space unchanged. Stars stay at infinity
(no parallax: the nearest star is 270,000 au away); the bodies are placed
from the ephemeris at the frame's sim time (geometric positions, the
observer's aberration applied as for the stars).

Motions (pure functions of the master's show time ``t_s`` and of the sim
time, so a standby or an offline render evaluates the same path):

* :class:`Parked`: at rest relative to a body (a fixed ICRS offset from its centre).
* :class:`Flight`: from a start point to a target point, each attached to a
  body (or to the site on the turning Earth), along a cubic Bezier curve
  that leaves the start body and reaches the target body radially, so it
  never cuts through either. **Comfort**: what a dome audience feels is how
  fast the world around them grows or swings, which scales with speed over
  distance to the nearest surface (altitude ``h``): the path is timed on the
  *comfort length* ``sigma = integral |dP| / h`` (a logarithm of altitude for
  a climb) with a trapezoid profile (``MAX_RATE_PER_S``,
  ``MAX_RATE_ACCEL_PER_S2``): from the ground to the Moon takes about 40 s,
  to Jupiter about a minute. The flight ends exactly on the target point.
  The ship frame turns meanwhile (``motion.COMFORT`` limits: 20 deg/s,
  15 deg/s^2) to bring the target to the dome's sweet spot, 30 degrees above
  the front (``projection.ZOOM_CENTRE_DOME``), or, going home, to the site's
  own sky.
* :class:`Orbiting`: circling a body at a fixed distance, looking at it.

Body orientation: IAU WGCCRE 2015 rotation elements (Archinal et al. 2018,
Celest. Mech. Dyn. Astr. 130:22), pole (alpha0, delta0) and prime meridian W;
the Earth's is Skyfield's ITRS (so the site is where the ground is).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from domectl.ephemeris import AU_KM, SPACE_BODIES, bright_limb_pa_deg
from domectl.frame import BodyView, OrbitView, SphereView
from domectl.motion import COMFORT, Limits, duration_s, travelled

#: The comfort speed: the observer covers at most this fraction of its altitude per second
#: (sigma per second; 0.6: a climb multiplies the altitude by e = 2.7 every 1.7 s).
MAX_RATE_PER_S = 0.6
#: ... and changes that rate by at most this per second.
MAX_RATE_ACCEL_PER_S2 = 0.3
#: The altitude below which the comfort metric stops growing (a take-off from the ground
#: starts at this speed scale rather than at zero).
MIN_ALTITUDE_M = 100.0
#: A flight ends this far from a body's centre, in radii, unless told (the body fills
#: 2 asin(1/3) = 39 degrees of the dome).
DEFAULT_DISTANCE_RADII = 3.0
#: An orbit's default rate: sigma per second along the orbit (a slow, visible drift).
ORBIT_RATE_PER_S = 0.05
#: Above this altitude the landscape and the ground's grids have faded out, and above
#: ATMOSPHERE_TOP_M the daylight; they fade in from these altitudes' first tenth.
GROUND_FADE_M = 5_000.0
ATMOSPHERE_TOP_M = 20_000.0

SIGMA_LIMITS = Limits(max_speed_deg_s=MAX_RATE_PER_S, max_accel_deg_s2=MAX_RATE_ACCEL_PER_S2)
"""The trapezoid of motion.duration_s/travelled, in sigma units (the profile is unit-free)."""

C_M_S = 299_792_458.0
AU_M = AU_KM * 1000.0
J2000_TT_JD = 2451545.0
#: Body order as in ephemeris.SPACE_BODIES; radii in metres.
NAMES: tuple[str, ...] = tuple(name for name, _, _ in SPACE_BODIES)
RADIUS_M: dict[str, float] = {name: r_km * 1000.0 for name, _, r_km in SPACE_BODIES}
#: Polar / equatorial radius (IAU 2015).
POLAR_RATIO: dict[str, float] = {
    "Earth": 6356.7519 / 6378.1366, "Mars": 3376.20 / 3396.19, "Jupiter": 66854.0 / 71492.0,
    "Saturn": 54364.0 / 60268.0, "Uranus": 24973.0 / 25559.0, "Neptune": 24341.0 / 24764.0,
}
#: Gravitational parameters (m^3/s^2, IAU/JPL DE421) of the primaries for the orbit ellipses.
MU_SUN = 1.32712440018e20
MU_EARTH_MOON = 3.986004418e14 + 4.9028e12
#: V(1, 0) and a linear phase coefficient (mag/deg) for magnitudes seen from space: Mallama &
#: Hilton 2018's leading terms (about 0.2 mag from their full curves; the ground sky uses those).
MAG_V10: dict[str, tuple[float, float]] = {
    "Moon": (0.21, 0.026), "Mercury": (-0.60, 0.038), "Venus": (-4.38, 0.013), "Earth": (-3.99, 0.010),
    "Mars": (-1.60, 0.016), "Jupiter": (-9.40, 0.005), "Saturn": (-8.88, 0.044), "Uranus": (-7.19, 0.002),
    "Neptune": (-6.87, 0.0), "Pluto": (-1.01, 0.041),
}
SUN_V_AT_1AU = -26.74


def _unit(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, np.float64) / np.linalg.norm(v, axis=-1, keepdims=True)


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])     # frame rotation (passive)


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def iau_pole_w_deg(name: str, tt_jd: float) -> tuple[float, float, float]:
    """(alpha0, delta0, W) in degrees for ``name`` at ``tt_jd`` (IAU WGCCRE 2015; Mars 2009)."""
    d = tt_jd - J2000_TT_JD
    t = d / 36525.0
    sin, cos, r = math.sin, math.cos, math.radians
    if name == "Moon":
        e = [0.0] + [r(a + b * d) for a, b in (
            (125.045, -0.0529921), (250.089, -0.1059842), (260.008, 13.0120009), (176.625, 13.3407154),
            (357.529, 0.9856003), (311.589, 26.4057084), (134.963, 13.0649930), (276.617, 0.3287146),
            (34.226, 1.7484877), (15.134, -0.1589763), (119.743, 0.0036096), (239.961, 0.1643573),
            (25.053, 12.9590088))]
        a0 = (269.9949 + 0.0031 * t - 3.8787 * sin(e[1]) - 0.1204 * sin(e[2]) + 0.0700 * sin(e[3])
              - 0.0172 * sin(e[4]) + 0.0072 * sin(e[6]) - 0.0052 * sin(e[10]) + 0.0043 * sin(e[13]))
        d0 = (66.5392 + 0.0130 * t + 1.5419 * cos(e[1]) + 0.0239 * cos(e[2]) - 0.0278 * cos(e[3])
              + 0.0068 * cos(e[4]) - 0.0029 * cos(e[6]) + 0.0009 * cos(e[7]) + 0.0008 * cos(e[10])
              - 0.0009 * cos(e[13]))
        w = (38.3213 + 13.17635815 * d - 1.4e-12 * d * d + 3.5610 * sin(e[1]) + 0.1208 * sin(e[2])
             - 0.0642 * sin(e[3]) + 0.0158 * sin(e[4]) + 0.0252 * sin(e[5]) - 0.0066 * sin(e[6])
             - 0.0047 * sin(e[7]) - 0.0046 * sin(e[8]) + 0.0028 * sin(e[9]) + 0.0052 * sin(e[10])
             + 0.0040 * sin(e[11]) + 0.0019 * sin(e[12]) - 0.0044 * sin(e[13]))
        return a0, d0, w
    if name == "Neptune":
        n = r(357.85 + 52.316 * t)
        return 299.36 + 0.70 * sin(n), 43.46 - 0.51 * cos(n), 249.978 + 541.1397757 * d - 0.48 * sin(n)
    a0, a1, d0, d1, w0, w1 = {
        "Sun": (286.13, 0.0, 63.87, 0.0, 84.176, 14.1844000),
        "Mercury": (281.0103, -0.0328, 61.4155, -0.0049, 329.5988, 6.1385108),
        "Venus": (272.76, 0.0, 67.16, 0.0, 160.20, -1.4813688),
        "Mars": (317.68143, -0.1061, 52.88650, -0.0609, 176.630, 350.89198226),
        "Jupiter": (268.056595, -0.006499, 64.495303, 0.002413, 284.95, 870.5360000),
        "Saturn": (40.589, -0.036, 83.537, -0.004, 38.90, 810.7939024),
        "Uranus": (257.311, 0.0, -15.175, 0.0, 203.81, -501.1600928),
        "Pluto": (132.993, 0.0, -6.163, 0.0, 302.695, 56.3625225),
        "Earth": (0.0, -0.641, 90.0, -0.557, 190.147, 360.9856235),
    }[name]
    return a0 + a1 * t, d0 + d1 * t, w0 + w1 * d


def body_from_icrs(name: str, tt_jd: float, itrs_from_icrs: np.ndarray | None = None) -> np.ndarray:
    """(3, 3) rotation ICRS -> the body-fixed frame (+z north pole, +x prime meridian).

    ``Rz(W) Rx(90 - delta0) Rz(90 + alpha0)`` (IAU). For the Earth, ``itrs_from_icrs``
    (Skyfield's, via CachedEphemeris.itrs_from_icrs) when given.
    """
    if name == "Earth" and itrs_from_icrs is not None:
        return np.asarray(itrs_from_icrs, np.float64)
    a0, d0, w = (math.radians(x) for x in iau_pole_w_deg(name, tt_jd))
    return _rz(w) @ _rx(math.pi / 2 - d0) @ _rz(math.pi / 2 + a0)


def site_itrs_m(latitude_deg: float, longitude_deg: float, elevation_m: float) -> np.ndarray:
    """(3,) ITRS position of a WGS84 site, metres."""
    a, f = 6_378_137.0, 1.0 / 298.257223563
    e2 = f * (2.0 - f)
    lat, lon = math.radians(latitude_deg), math.radians(longitude_deg)
    n = a / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
    return np.array([(n + elevation_m) * math.cos(lat) * math.cos(lon),
                     (n + elevation_m) * math.cos(lat) * math.sin(lon),
                     (n * (1.0 - e2) + elevation_m) * math.sin(lat)])


# ---------------------------------------------------------------- where things are

class Sky:
    """The bodies at one sim time: barycentric ICRS positions (m), velocities (m/s), the
    Earth's ITRS frame. ``ephemeris``: a CachedEphemeris (positions_m, itrs_from_icrs)."""

    def __init__(self, ephemeris, tt_jd: float):
        self.tt_jd = tt_jd
        self.position_m, self.velocity_m_s = ephemeris.positions_m(tt_jd)
        self._ephemeris = ephemeris
        self._itrs = None

    def index(self, name: str) -> int:
        return NAMES.index(name)

    def pos(self, name: str) -> np.ndarray:
        return self.position_m[NAMES.index(name)]

    def vel(self, name: str) -> np.ndarray:
        return self.velocity_m_s[NAMES.index(name)]

    @property
    def itrs_from_icrs(self) -> np.ndarray:
        if self._itrs is None:
            self._itrs = self._ephemeris.itrs_from_icrs(self.tt_jd)
        return self._itrs


@dataclass(frozen=True)
class Point:
    """A point attached to a body: its centre plus ``offset_m`` (ICRS), or a site on the Earth."""

    anchor: str
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    site: tuple[float, float, float] | None = None      # (lat, lon, elev): turns with the Earth

    def at(self, sky: Sky) -> np.ndarray:
        if self.site is not None:
            return sky.pos("Earth") + sky.itrs_from_icrs.T @ site_itrs_m(*self.site)
        return sky.pos(self.anchor) + np.asarray(self.offset_m)


def surface_radius_m(sky: Sky, name: str, offsets_m: np.ndarray) -> np.ndarray:
    """(K,) radius of body ``name``'s ellipsoid (equatorial radius, POLAR_RATIO) below each of the
    (K, 3) ICRS offsets from its centre: an Earth site at 50 N is 13 km inside the equatorial sphere."""
    ratio = POLAR_RATIO.get(name, 1.0)
    offsets_m = np.atleast_2d(offsets_m)
    if ratio == 1.0:
        return np.full(len(offsets_m), RADIUS_M[name])
    pole = sky.itrs_from_icrs[2] if name == "Earth" else body_from_icrs(name, sky.tt_jd)[2]
    sin_lat = (offsets_m @ pole) / np.linalg.norm(offsets_m, axis=1)
    a, b = RADIUS_M[name], RADIUS_M[name] * ratio
    return a * b / np.sqrt((b * b) * (1.0 - sin_lat ** 2) + (a * a) * sin_lat ** 2)


def heights_m(sky: Sky, name: str, points_m: np.ndarray) -> np.ndarray:
    """(K,) heights of (K, 3) barycentric points above body ``name``'s surface."""
    off = np.atleast_2d(points_m) - sky.pos(name)
    return np.linalg.norm(off, axis=1) - surface_radius_m(sky, name, off)


def altitude_m(sky: Sky, position_m: np.ndarray, names=NAMES) -> tuple[float, str]:
    """(height above the nearest body's surface, that body's name) from ``position_m``."""
    best = (math.inf, "")
    d = np.linalg.norm(sky.position_m - position_m, axis=1)
    for i, name in enumerate(NAMES):
        if name == "Sun" or name not in names:
            continue
        h = float(d[i]) - RADIUS_M[name]
        # The ellipsoid matters only near the surface (a flattening of at most 10 %): elsewhere the
        # equatorial sphere's height is within a few percent of it and much cheaper (per frame).
        if h < 0.2 * RADIUS_M[name] and POLAR_RATIO.get(name, 1.0) != 1.0:
            h = float(heights_m(sky, name, position_m)[0])
        if h < best[0]:
            best = (h, name)
    return best


# ---------------------------------------------------------------- frames

def look_frame(forward_icrs: np.ndarray, look_enu: np.ndarray, up_enu: np.ndarray,
               up_icrs: np.ndarray | None = None) -> np.ndarray:
    """The ship frame (enu_from_icrs) putting ICRS direction ``forward_icrs`` on ENU ``look_enu``,
    with ``up_icrs`` (default: the ecliptic's north pole) as near ``up_enu`` as it can be."""
    if up_icrs is None:
        up_icrs = ECLIPTIC_NORTH_ICRS

    def basis(f, u):
        f = _unit(f)
        u = np.asarray(u, np.float64) - np.dot(u, f) * f
        if np.linalg.norm(u) < 1e-9:                     # looking along the up vector: any roll
            u = np.cross(f, [1.0, 0.0, 0.0] if abs(f[0]) < 0.9 else [0.0, 1.0, 0.0])
        u = _unit(u)
        return np.column_stack([np.cross(f, u), f, u])

    return basis(look_enu, up_enu) @ basis(forward_icrs, up_icrs).T


#: The ecliptic's north pole in ICRS (obliquity 23.4392911 deg at J2000).
ECLIPTIC_NORTH_ICRS = np.array([0.0, -math.sin(math.radians(23.4392911)), math.cos(math.radians(23.4392911))])


def _quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix -> unit quaternion (w, x, y, z)."""
    m = np.asarray(m, np.float64)
    t = np.trace(m)
    if t > 0:
        s = 2.0 * math.sqrt(t + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0] * 4
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    return _unit(np.array(q))


def _matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def turn_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle of the rotation taking frame ``a`` to frame ``b``."""
    c = (np.trace(np.asarray(b) @ np.asarray(a).T) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def slerp_frame(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """The frame a fraction ``k`` of the shortest turn from ``a`` to ``b`` (k = 1: exactly ``b``)."""
    if k >= 1.0:
        return np.asarray(b, np.float64)
    if k <= 0.0:
        return np.asarray(a, np.float64)
    qa, qb = _quat(a), _quat(b)
    if np.dot(qa, qb) < 0.0:
        qb = -qb
    c = min(1.0, float(np.dot(qa, qb)))
    angle = math.acos(c)
    if angle < 1e-9:
        return np.asarray(b, np.float64)
    q = (math.sin((1 - k) * angle) * qa + math.sin(k * angle) * qb) / math.sin(angle)
    return _matrix(_unit(q))


# ---------------------------------------------------------------- motions

@dataclass(frozen=True)
class Observer:
    """Where the observer is at one frame: barycentric ICRS position (m) and velocity (m/s), the
    ship frame (enu_from_icrs), the altitude above the nearest body and its name, and the
    bodies at that frame's time (``sky``: what the frame's views are computed from)."""

    position_m: np.ndarray
    velocity_m_s: np.ndarray
    frame: np.ndarray
    altitude_m: float
    nearest: str
    sky: Sky | None = None


@dataclass(frozen=True)
class Parked:
    """At rest relative to ``point``'s body, the ship frame fixed."""

    point: Point
    frame: tuple[float, ...]

    def at(self, t_s: float, sky: Sky) -> tuple[np.ndarray, np.ndarray]:
        return self.point.at(sky), np.asarray(self.frame).reshape(3, 3)


def _bezier(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(K,) parameters -> (K, 3) points of the cubic Bezier with control points ``p`` (4, 3)."""
    u = np.asarray(u, np.float64)[:, None]
    v = 1.0 - u
    return v ** 3 * p[0] + 3 * v * v * u * p[1] + 3 * v * u * u * p[2] + u ** 3 * p[3]


def _bezier_tangent(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(K,) parameters -> (K, 3) derivatives dC/du of the cubic Bezier ``p`` (4, 3)."""
    u = np.asarray(u, np.float64)[:, None]
    v = 1.0 - u
    return 3.0 * (v * v * (p[1] - p[0]) + 2.0 * v * u * (p[2] - p[1]) + u * u * (p[3] - p[2]))


def _smooth(u: np.ndarray | float) -> np.ndarray | float:
    return u * u * (3.0 - 2.0 * u)


@dataclass(frozen=True)
class Flight:
    """A flight from ``start`` to ``end`` planned at show time ``t0_s`` (see the module docstring).

    ``controls_m`` (4, 3): the Bezier's control points in the barycentric frame of the planning
    time; ``start_at``/``end_at``: the two points then. At a later sim time the curve rides
    along with the bodies: ``C(u) + (1 - w)(S(t) - S0) + w (E(t) - E0)``, ``w = smoothstep(u)``,
    so it starts on the start point and ends exactly on the end point wherever they have moved.
    ``u_of_sigma`` maps comfort length to the curve parameter (tabulated).
    """

    start: Point
    end: Point
    t0_s: float
    controls_m: tuple[tuple[float, float, float], ...]
    start_at: tuple[float, float, float]
    end_at: tuple[float, float, float]
    sigma_table: tuple[float, ...]
    u_table: tuple[float, ...]
    slope_table: tuple[float, ...]   # du / dsigma at each knot (exact: h / |C'(u)|)
    frame_start: tuple[float, ...]
    look_enu: tuple[float, float, float]
    up_enu: tuple[float, float, float]
    home_frame: bool                 # end in the site's own sky (going home) rather than looking at the body
    turn_deg: float
    target: str
    turn_delay_s: float = 0.0        # a take-off turns only once the ground and the sky have faded

    @property
    def sigma(self) -> float:
        return self.sigma_table[-1]

    @property
    def fly_s(self) -> float:
        return duration_s(self.sigma, SIGMA_LIMITS)

    @property
    def turn_s(self) -> float:
        return duration_s(self.turn_deg, COMFORT)

    @property
    def end_s(self) -> float:
        return self.t0_s + max(self.fly_s, self.turn_delay_s + self.turn_s)

    def done(self, t_s: float) -> bool:
        return t_s >= self.end_s

    def u_at(self, t_s: float) -> float:
        s = travelled(t_s - self.t0_s, self.sigma, SIGMA_LIMITS)
        if s >= self.sigma:
            return 1.0
        if s <= 0.0:
            return 0.0
        # Cubic Hermite on (sigma, u, du/dsigma): C1, so the speed has no steps between knots.
        sig, us, du = self.sigma_table, self.u_table, self.slope_table
        i = min(max(bisect_right(sig, s) - 1, 0), len(sig) - 2)
        h = sig[i + 1] - sig[i]
        if h <= 0.0:
            return us[i]
        x = (s - sig[i]) / h
        x2, x3 = x * x, x * x * x
        return ((2 * x3 - 3 * x2 + 1) * us[i] + (x3 - 2 * x2 + x) * h * du[i]
                + (-2 * x3 + 3 * x2) * us[i + 1] + (x3 - x2) * h * du[i + 1])

    def position(self, t_s: float, sky: Sky) -> np.ndarray:
        u = self.u_at(t_s)
        if u >= 1.0:
            return self.end.at(sky)                  # exactly the target, not a sum that rounds
        c = _bezier(np.asarray(self.controls_m), [u])[0]
        w = _smooth(u)
        return (c + (1.0 - w) * (self.start.at(sky) - np.asarray(self.start_at))
                + w * (self.end.at(sky) - np.asarray(self.end_at)))

    def goal_frame(self, position_m: np.ndarray, sky: Sky, site_frame) -> np.ndarray:
        if self.home_frame:
            return site_frame()
        return look_frame(sky.pos(self.target) - position_m, np.asarray(self.look_enu), np.asarray(self.up_enu))

    def at(self, t_s: float, sky: Sky, site_frame=None) -> tuple[np.ndarray, np.ndarray]:
        p = self.position(t_s, sky)
        k = (travelled(t_s - self.t0_s - self.turn_delay_s, self.turn_deg, COMFORT) / self.turn_deg
             if self.turn_deg > 0 else 1.0)
        return p, slerp_frame(np.asarray(self.frame_start).reshape(3, 3), self.goal_frame(p, sky, site_frame), k)


def _flight_parameters() -> np.ndarray:
    """The curve's sample parameters: dense near both ends, where the altitude is small."""
    ends = np.geomspace(1e-16, 0.5, 2500)       # 1e-16 of 0.5 au is 1.5 cm: the first metres resolved
    return np.unique(np.concatenate([[0.0, 1.0], ends, 1.0 - ends, np.linspace(0.0, 1.0, 1001)]))


class NoClearPath(ValueError):
    """No flight path keeps clear of the bodies (the target is behind its own body and the
    detour would be absurd): fly somewhere in between first."""


def plan_flight(sky: Sky, t0_s: float, start: Point, end: Point, target: str, frame_start: np.ndarray,
                look_enu: np.ndarray, up_enu: np.ndarray, *, home_frame: bool = False,
                site_frame=None) -> Flight:
    """A :class:`Flight` from ``start`` to ``end`` (both evaluated at ``sky``'s time)."""
    s0, e0 = start.at(sky), end.at(sky)
    a_name, b_name = start.anchor, end.anchor
    ca, cb = sky.pos(a_name), sky.pos(b_name)
    n0, n3 = _unit(s0 - ca), _unit(e0 - cb)
    span = float(np.linalg.norm(e0 - s0))
    u = _flight_parameters()
    for attempt in range(6):
        lever = span / 3.0 * (2.0 ** attempt)
        controls = np.array([s0, s0 + n0 * lever, e0 + n3 * lever, e0])
        pts = _bezier(controls, u)
        # Heights above every body (the Sun's too: no flight through it): the comfort metric
        # slows a flight passing near a third body, and no flight may cross one.
        heights = np.stack([heights_m(sky, name, pts) for name in NAMES])
        inner = (u > 1e-3) & (u < 1 - 1e-3)
        if np.all(heights[:, inner] > 0.0):
            break
    else:
        raise NoClearPath(f"no clear path from {a_name} to {target}: the target lies behind its body "
                          "seen from here; fly to a point beside it first")
    h = np.maximum(heights[[i for i, n in enumerate(NAMES) if n != "Sun"]].min(axis=0), MIN_ALTITUDE_M)
    # From the analytic tangent, not from differences of barycentric points (1e11 m: those carry
    # 3e-5 m of rounding, which is all there is in the first micrometres of a flight).
    speed = np.linalg.norm(_bezier_tangent(controls, u), axis=1)
    sigma = np.concatenate([[0.0], np.cumsum(np.diff(u) * 0.5 * (speed[1:] / h[1:] + speed[:-1] / h[:-1]))])
    slope = h / speed
    goal = (site_frame() if home_frame
            else look_frame(sky.pos(target) - e0, np.asarray(look_enu), np.asarray(up_enu)))
    delay = 0.0
    if start.site is not None:
        # Leaving the ground: the sky keeps the site's frame until the landscape and the daylight
        # have faded (ATMOSPHERE_TOP_M), so the horizon never tilts under the audience.
        high = np.flatnonzero(h >= ATMOSPHERE_TOP_M)
        if len(high):
            sigma_high = float(sigma[high[0]])
            fly = duration_s(float(sigma[-1]), SIGMA_LIMITS)
            lo, hi = 0.0, fly
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if travelled(mid, float(sigma[-1]), SIGMA_LIMITS) < sigma_high else (lo, mid)
            delay = hi
    return Flight(start=start, end=end, t0_s=t0_s, controls_m=tuple(map(tuple, controls)),
                  start_at=tuple(s0), end_at=tuple(e0), sigma_table=tuple(sigma), u_table=tuple(u),
                  slope_table=tuple(slope),
                  frame_start=tuple(np.asarray(frame_start).ravel()), look_enu=tuple(look_enu),
                  up_enu=tuple(up_enu), home_frame=home_frame,
                  turn_deg=turn_angle_deg(frame_start, goal), target=target, turn_delay_s=delay)


@dataclass(frozen=True)
class Orbiting:
    """Circling ``anchor`` at ``radius_m`` in the plane of ``e1``, ``e2`` (ICRS unit vectors;
    the observer starts at e1), from ``t0_s``, looking at the body. The angular rate ramps up
    at the comfort acceleration to ``omega_rad_s``."""

    anchor: str
    radius_m: float
    e1: tuple[float, float, float]
    e2: tuple[float, float, float]
    t0_s: float
    omega_rad_s: float
    look_enu: tuple[float, float, float]
    up_enu: tuple[float, float, float]

    def angle_rad(self, t_s: float) -> float:
        dt = max(0.0, t_s - self.t0_s)
        # sigma rate = omega r / h: ramp omega at the sigma acceleration limit.
        scale = self.radius_m / max(self.radius_m - RADIUS_M[self.anchor], MIN_ALTITUDE_M)
        alpha = MAX_RATE_ACCEL_PER_S2 / scale
        ramp = self.omega_rad_s / alpha
        if dt <= ramp:
            return 0.5 * alpha * dt * dt
        return 0.5 * alpha * ramp * ramp + self.omega_rad_s * (dt - ramp)

    def at(self, t_s: float, sky: Sky, site_frame=None) -> tuple[np.ndarray, np.ndarray]:
        a = self.angle_rad(t_s)
        offset = self.radius_m * (math.cos(a) * np.asarray(self.e1) + math.sin(a) * np.asarray(self.e2))
        p = sky.pos(self.anchor) + offset
        return p, look_frame(-offset, np.asarray(self.look_enu), np.asarray(self.up_enu))


def plan_orbit(sky: Sky, t0_s: float, anchor: str, position_m: np.ndarray, look_enu, up_enu,
               rate_per_s: float = ORBIT_RATE_PER_S) -> Orbiting:
    """Orbit ``anchor`` from ``position_m``, round the axis nearest the body's pole."""
    offset = position_m - sky.pos(anchor)
    radius = float(np.linalg.norm(offset))
    if radius <= RADIUS_M[anchor] * 1.001:
        raise ValueError(f"cannot orbit {anchor} from its surface: fly to it first")
    e1 = _unit(offset)
    pole = body_from_icrs(anchor, sky.tt_jd)[2] if anchor != "Earth" else sky.itrs_from_icrs[2]
    axis = pole - np.dot(pole, e1) * e1
    if np.linalg.norm(axis) < 1e-6:
        axis = ECLIPTIC_NORTH_ICRS - np.dot(ECLIPTIC_NORTH_ICRS, e1) * e1
    e2 = np.cross(_unit(axis), e1)
    h = max(radius - RADIUS_M[anchor], MIN_ALTITUDE_M)
    return Orbiting(anchor=anchor, radius_m=radius, e1=tuple(e1), e2=tuple(e2), t0_s=t0_s,
                    omega_rad_s=rate_per_s * h / radius, look_enu=tuple(look_enu), up_enu=tuple(up_enu))


# ---------------------------------------------------------------- what the observer sees

def aberrate(u: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """(N, 3) unit directions seen from an observer moving at ``beta`` = v / c (first order, as
    the star shader): ``u + beta - (u . beta) u``, normalised."""
    u = np.asarray(u, np.float64)
    return _unit(u + beta - (u @ beta)[:, None] * u)


def space_bodies(sky: Sky, observer: Observer) -> tuple[BodyView, ...]:
    """Every body (the Earth too) as seen from ``observer``: directions in the ship frame."""
    rel = sky.position_m - observer.position_m                # (B, 3)
    dist = np.linalg.norm(rel, axis=1)
    u = aberrate(rel / dist[:, None], observer.velocity_m_s / C_M_S)
    enu = u @ observer.frame.T
    sun = sky.pos("Sun")
    out = []
    for i, name in enumerate(NAMES):
        r = RADIUS_M[name]
        d = max(float(dist[i]), r * 1.000001)
        diameter = math.degrees(2.0 * math.asin(min(1.0, r / d)))
        if name == "Sun":
            mag = SUN_V_AT_1AU + 5.0 * math.log10(d / (AU_KM * 1000.0))
            out.append(BodyView("Sun", tuple(enu[i]), d / (AU_KM * 1000.0), mag, diameter, 1.0, 0.0, 0.0))
            continue
        to_sun = sun - sky.position_m[i]
        to_obs = -rel[i]
        cos_phase = float(np.dot(to_sun, to_obs) / (np.linalg.norm(to_sun) * np.linalg.norm(to_obs)))
        phase = math.degrees(math.acos(max(-1.0, min(1.0, cos_phase))))
        v10, per_deg = MAG_V10[name]
        r_au, d_au = np.linalg.norm(to_sun) / (AU_KM * 1000.0), d / (AU_KM * 1000.0)
        mag = v10 + 5.0 * math.log10(r_au * d_au) + per_deg * phase
        limb = float(bright_limb_pa_deg(rel[i], sun - observer.position_m))
        out.append(BodyView(name, tuple(enu[i]), d_au, mag, diameter, 0.5 * (1.0 + cos_phase), phase, limb))
    return tuple(out)


def spheres(tt_jd: float, frame: np.ndarray, lit: dict[str, tuple[np.ndarray, np.ndarray]],
            itrs_from_icrs=None) -> tuple[SphereView, ...]:
    """SphereViews, far to near, for the bodies in ``lit``: name -> (centre relative to the observer,
    ENU metres; unit ENU direction from the body to the Sun). ``frame``: enu_from_icrs;
    ``itrs_from_icrs``: a callable giving the Earth's frame, asked only when the Earth is drawn."""
    frame = np.asarray(frame, np.float64)
    out = []
    for name, (centre, to_sun) in sorted(lit.items(), key=lambda kv: -float(np.linalg.norm(kv[1][0]))):
        if name == "Sun":
            continue
        earth = itrs_from_icrs() if name == "Earth" and itrs_from_icrs is not None else None
        rot = body_from_icrs(name, tt_jd, earth) @ frame.T
        out.append(SphereView(name.lower(), tuple(float(x) for x in centre), RADIUS_M[name],
                              POLAR_RATIO.get(name, 1.0), tuple(float(x) for x in rot.ravel()),
                              tuple(float(x) for x in to_sun)))
    return tuple(out)


def space_spheres(sky: Sky, bodies, frame: np.ndarray, min_diameter_deg: float) -> tuple[SphereView, ...]:
    """The bodies (as :func:`space_bodies` sees them) at least ``min_diameter_deg`` across as spheres,
    lit from the Sun's geometric direction."""
    frame = np.asarray(frame, np.float64)
    return spheres(sky.tt_jd, frame, {
        b.name: (np.asarray(b.enu) * b.distance_au * AU_M, frame @ _unit(sky.pos("Sun") - sky.pos(b.name)))
        for b in bodies if b.name != "Sun" and b.angular_diameter_deg >= min_diameter_deg},
        lambda: sky.itrs_from_icrs)


def ground_spheres(bodies, tt_jd: float, enu_from_icrs: np.ndarray, min_diameter_deg: float) -> tuple[SphereView, ...]:
    """The Moon and planets at least ``min_diameter_deg`` across as spheres from the ground: at their
    apparent places (where the discs and labels are), lit from the Sun's apparent place."""
    big = [b for b in bodies if b.name != "Sun" and b.angular_diameter_deg >= min_diameter_deg]
    if not big:
        return ()
    sun = next(b for b in bodies if b.name == "Sun")
    sun_m = np.asarray(sun.enu) * sun.distance_au * AU_M
    lit = {}
    for b in big:
        centre = np.asarray(b.enu) * b.distance_au * AU_M
        lit[b.name] = (centre, _unit(sun_m - centre))
    return spheres(tt_jd, enu_from_icrs, lit)


def orbit_ellipse(r_m: np.ndarray, v_m_s: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The osculating ellipse of relative position ``r_m`` and velocity ``v_m_s`` about a primary of
    gravitational parameter ``mu``: (centre offset from the primary, semi-major axis vector,
    semi-minor axis vector), metres. Bound orbits only (a hyperbola raises ValueError)."""
    r = float(np.linalg.norm(r_m))
    h = np.cross(r_m, v_m_s)
    inv_a = 2.0 / r - float(np.dot(v_m_s, v_m_s)) / mu
    if inv_a <= 0.0:
        raise ValueError("not a bound orbit")
    a = 1.0 / inv_a
    e_vec = np.cross(v_m_s, h) / mu - r_m / r
    e = float(np.linalg.norm(e_vec))
    p_hat = e_vec / e if e > 1e-9 else r_m / r
    q_hat = _unit(np.cross(h, p_hat))
    b = a * math.sqrt(max(0.0, 1.0 - e * e))
    return -a * e * p_hat, a * p_hat, b * q_hat


def orbits(sky: Sky, observer_m: np.ndarray, frame: np.ndarray) -> tuple[OrbitView, ...]:
    """The planets' orbits about the Sun and the Moon's about the Earth, relative to the
    observer, in the ship (or site) frame."""
    frame = np.asarray(frame, np.float64)
    out = []
    for name in NAMES:
        if name == "Sun":
            continue
        primary, mu = ("Earth", MU_EARTH_MOON) if name == "Moon" else ("Sun", MU_SUN)
        try:
            centre, a, b = orbit_ellipse(sky.pos(name) - sky.pos(primary), sky.vel(name) - sky.vel(primary), mu)
        except ValueError:
            continue
        c = frame @ (sky.pos(primary) + centre - observer_m)
        out.append(OrbitView(name.lower(), tuple(float(x) for x in c), tuple(float(x) for x in frame @ a),
                             tuple(float(x) for x in frame @ b)))
    return tuple(out)


def ground_fades(altitude_m: float) -> dict[str, float]:
    """Layer opacity factors at ``altitude_m`` above the ground: the landscape and the
    ground's own marks fade out on the way up, the daylight with the atmosphere."""
    def fade(top):
        x = min(1.0, max(0.0, (altitude_m - 0.1 * top) / (0.9 * top)))
        return 1.0 - x * x * (3.0 - 2.0 * x)

    ground = fade(GROUND_FADE_M)
    return {"landscape": ground, "grid-altaz": ground, "meridian": ground, "horizon": ground,
            "cardinals": ground, "daylight": fade(ATMOSPHERE_TOP_M)}


# ---------------------------------------------------------------- the master's voyage

def view_look(view_az_deg: float, view_alt_deg: float, tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(ENU direction drawn at the dome's sweet spot, ENU direction drawn at the dome's zenith)
    for the operator's view: where a flight puts its target, and which way is up."""
    from domectl.projection import ZOOM_CENTRE_DOME, dome_from_enu

    enu_from_dome = dome_from_enu(view_az_deg, view_alt_deg, tilt_deg).T
    return enu_from_dome @ np.asarray(ZOOM_CENTRE_DOME, np.float64), enu_from_dome @ np.array([0.0, 0.0, 1.0])


#: Names a user may give for a body (any case): the body's name in the four languages.
TARGETS: dict[str, str] = {}
for _name, _words in {
        "Sun": ("soleil", "zon", "sonne"), "Moon": ("lune", "maan", "mond"), "Mercury": ("mercure", "mercurius", "merkur"),
        "Venus": ("vénus",), "Earth": ("terre", "aarde", "erde", "home"), "Mars": (), "Jupiter": (),
        "Saturn": ("saturne", "saturnus"), "Uranus": (), "Neptune": ("neptunus", "neptun"), "Pluto": ("pluton", "pluto")}.items():
    for _w in (_name.lower(), *_words):
        TARGETS[_w] = _name


def body_name(text: str) -> str:
    """A user's body name (any case, fr/en/nl/de) -> the ephemeris name; ValueError naming the choices."""
    name = TARGETS.get(str(text).strip().lower())
    if name is None or name == "Sun":
        raise ValueError(f"{text!r} is not a place to fly to: choose one of "
                         f"{', '.join(n.lower() for n in NAMES if n != 'Sun')}")
    return name


class Voyage:
    """The observer's journey for the master: on the ground at ``site`` until told to fly.

    ``ephemeris``: a CachedEphemeris. Commands take effect at show time ``t_s`` (the master's next
    frame); :meth:`observer` is a pure function of the commands so far and the frame's times.
    """

    def __init__(self, ephemeris):
        self.ephemeris = ephemeris
        self.motion: Parked | Flight | Orbiting | None = None      # None: on the ground
        self.site: tuple[float, float, float] | None = None        # the site left from (home)

    @property
    def in_space(self) -> bool:
        return self.motion is not None

    def _site_frame(self, tt_jd: float, site) -> np.ndarray:
        return np.asarray(self.ephemeris.sample_tt(tt_jd, *site).enu_from_icrs, np.float64)

    def observer(self, t_s: float, tt_jd: float, site) -> Observer | None:
        """Where the observer is at this frame; None on the ground (a flight home that has
        landed puts the observer back on the ground)."""
        motion = self.motion
        if motion is None:
            return None
        home = self.site or site
        if isinstance(motion, Flight) and motion.home_frame and motion.done(t_s):
            self.motion = None
            return None
        sky = Sky(self.ephemeris, tt_jd)
        # An arrived flight stays the motion: at its end point, still turned toward its target
        # as the body moves, a function of the times alone (a show seeks to any frame exactly).
        if isinstance(motion, Parked):
            p, frame = motion.at(t_s, sky)
        else:
            p, frame = motion.at(t_s, sky, lambda: self._site_frame(tt_jd, home))
        h, nearest = altitude_m(sky, p)
        return Observer(position_m=p, velocity_m_s=sky.vel(nearest), frame=frame, altitude_m=h, nearest=nearest,
                        sky=sky)

    def _start(self, t_s: float, tt_jd: float, site, sky: Sky) -> tuple[Point, np.ndarray, np.ndarray]:
        """(start point, start frame, position now) for a new motion."""
        obs = self.observer(t_s, tt_jd, site)
        if obs is None:
            self.site = tuple(site)
            point = Point("Earth", site=tuple(site))
            return point, self._site_frame(tt_jd, site), point.at(sky)
        anchor = obs.nearest
        return Point(anchor, tuple(obs.position_m - sky.pos(anchor))), obs.frame, obs.position_m

    def fly_to(self, t_s: float, tt_jd: float, site, target: str, view: tuple[float, float, float],
               distance_m: float | None = None) -> Flight:
        """Fly to ``target`` (a body name), ending ``distance_m`` from its centre (default 3 radii)
        on its sunlit side, looking at it from the dome's sweet spot."""
        name = body_name(target)
        sky = Sky(self.ephemeris, tt_jd)
        start, frame, here = self._start(t_s, tt_jd, site, sky)
        radius = RADIUS_M[name]
        distance = DEFAULT_DISTANCE_RADII * radius if distance_m is None else float(distance_m)
        if not distance > radius * 1.0001:
            raise ValueError(f"fly to {name.lower()}: the distance {distance / 1000:g} km is inside it "
                             f"(radius {radius / 1000:g} km)")
        centre = sky.pos(name)
        if start.anchor == name:
            direction = _unit(here - centre)                 # straight up (or down) from where we are
        else:
            direction = _unit(_unit(here - centre) + _unit(sky.pos("Sun") - centre))
        end = Point(name, tuple(direction * distance))
        look, up = view_look(*view)
        flight = plan_flight(sky, t_s, start, end, name, frame, look, up)
        self.motion = flight
        return flight

    def home(self, t_s: float, tt_jd: float, site) -> Flight | None:
        """Fly back to the site left from (or ``site``), landing in its own sky; None when on the ground."""
        if self.motion is None:
            return None
        home = self.site or tuple(site)
        sky = Sky(self.ephemeris, tt_jd)
        start, frame, _ = self._start(t_s, tt_jd, site, sky)
        flight = plan_flight(sky, t_s, start, Point("Earth", site=tuple(home)), "Earth", frame,
                             np.zeros(3), np.zeros(3), home_frame=True,
                             site_frame=lambda: self._site_frame(tt_jd, home))
        self.motion = flight
        return flight

    def orbit(self, t_s: float, tt_jd: float, site, view: tuple[float, float, float],
              target: str | None = None, rate_per_s: float = ORBIT_RATE_PER_S) -> Orbiting:
        """Circle the nearest body (or ``target``, from where the observer is)."""
        sky = Sky(self.ephemeris, tt_jd)
        obs = self.observer(t_s, tt_jd, site)
        if obs is None:
            raise ValueError("orbit: the observer is on the ground; fly to a body first")
        anchor = body_name(target) if target else obs.nearest
        look, up = view_look(*view)
        self.motion = plan_orbit(sky, t_s, anchor, obs.position_m, look, up, rate_per_s)
        return self.motion

    def stop(self, t_s: float, tt_jd: float, site) -> None:
        """Stay where the observer is now (at rest relative to the nearest body)."""
        obs = self.observer(t_s, tt_jd, site)
        if obs is not None:
            sky = Sky(self.ephemeris, tt_jd)
            self.motion = Parked(Point(obs.nearest, tuple(obs.position_m - sky.pos(obs.nearest))),
                                 tuple(obs.frame.ravel()))

    def status(self, t_s: float, tt_jd: float, site) -> dict:
        """For the console: where the observer is and what it is doing."""
        motion = self.motion
        if motion is None:
            return {"in_space": False}
        obs = self.observer(t_s, tt_jd, site)
        if obs is None:
            return {"in_space": False}
        doing = ("flying" if isinstance(motion, Flight) else "orbiting" if isinstance(motion, Orbiting)
                 else "parked")
        out = {"in_space": True, "doing": doing, "nearest": obs.nearest.lower(),
               "altitude_km": round(obs.altitude_m / 1000.0, 3)}
        if isinstance(motion, Flight):
            out.update(target=motion.target.lower(), arrives_in_s=round(max(0.0, motion.end_s - t_s), 2))
        return out
