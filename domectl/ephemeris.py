"""Sky samples for the master: the only run-time user of Skyfield.

Data, all offline from the ``skyfield-data`` package: JPL DE421 (1900-2050
here; the file covers 1899-07-29 to 2053-10-09) and IERS ``finals2000A.all``
(UT1-UTC and polar motion). ``finals2000A.all`` in skyfield-data 7.0.0 carries
its own expiry date, 2026-10-18: past that date its last rows are predictions,
so UT1 (hence the sky's rotation) drifts by up to some milliseconds, i.e. some
milliarcseconds to tens of milliarcseconds; we use it anyway, offline, and say
so in one ``logging`` info line per process instead of a warning at every start.

Frames: ``enu_from_icrs`` maps ICRS (GCRS axes) vectors to East-North-Up at the
site (``domectl/projection.py``). Skyfield's own altaz frame has rows (North,
East, Up) -- its azimuth is ``atan2(y, x)`` -- so ENU is that matrix with its
first two rows swapped (a proper rotation, det +1).

Times are UTC ``datetime`` at the edges (naive ones are taken as UTC); inside,
TT Julian dates.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from domectl.errors import DataError, TimeRangeError

log = logging.getLogger(__name__)

#: The range this engine accepts (DE421 covers it with margin on both sides).
VALID_FROM_UTC = datetime(1900, 1, 1, tzinfo=timezone.utc)
VALID_UNTIL_UTC = datetime(2051, 1, 1, tzinfo=timezone.utc)  # exclusive: up to 2050-12-31

#: Hipparcos catalogue epoch J1991.25 as a TT Julian date: J2000 + (1991.25 - 2000) * 365.25 d.
HIPPARCOS_EPOCH_TT_JD = 2451545.0 + (1991.25 - 2000.0) * 365.25
JULIAN_YEAR_D = 365.25
AU_KM = 149_597_870.7

#: (name, DE421 target, radius in km for the angular diameter). Radii: IAU WGCCRE
#: 2015 (Archinal et al. 2018) equatorial radii; the Sun's is the IAU 2015 nominal
#: solar radius; the Moon's its mean radius.
BODIES: tuple[tuple[str, str, float], ...] = (
    ("Sun", "sun", 695_700.0),
    ("Moon", "moon", 1_737.4),
    ("Mercury", "mercury", 2_440.53),
    ("Venus", "venus", 6_051.8),
    ("Mars", "mars", 3_396.19),
    ("Jupiter", "jupiter barycenter", 71_492.0),
    ("Saturn", "saturn barycenter", 60_268.0),
    ("Uranus", "uranus barycenter", 25_559.0),
    ("Neptune", "neptune barycenter", 24_764.0),
    ("Pluto", "pluto barycenter", 1_188.3),
)

#: The space voyage's bodies (domectl/voyage.py): BODIES and the Earth (IAU 2015 equatorial radius).
SPACE_BODIES: tuple[tuple[str, str, float], ...] = BODIES + (("Earth", "earth", 6_378.1366),)
#: Barycentric positions are sampled this far apart in TT (CachedEphemeris.positions_m): a
#: 4-point Lagrange interpolation over an hour errs by well under a metre for the Moon
#: (tests/test_voyage.py measures it against Skyfield), far below anything drawn.
POSITION_KNOT_S = 3600.0
POSITION_BLOCK_KNOTS = 48

# Magnitudes where Skyfield's planetary_magnitude (Mallama & Hilton 2018) has none:
#: V of the Sun at 1 au (Allen's Astrophysical Quantities, 4th ed., 2000).
SUN_V_AT_1AU = -26.74
#: Moon: V = 0.21 + 5 log10(r d) + 0.026 |a| + 4e-9 a^4 (Allen 2000, a = phase angle deg).
MOON_V_1_0 = 0.21
#: Pluto: V(1, 0) = -1.01 (Astronomical Almanac, as in Hilton 2005), phase term ignored (a < 2 deg).
PLUTO_V_1_0 = -1.01
#: Fallback V(1, 0) where Skyfield's formula returns NaN (Saturn beyond 6.5 deg phase,
#: Neptune before 2000 beyond 1.9 deg): Mallama & Hilton 2018's constant terms (Saturn's
#: globe alone), distance term only.
FALLBACK_V_1_0 = {"Saturn": -8.94, "Neptune": -7.00}

#: Refraction defaults for ``sky_table`` (Skyfield's 'standard' atmosphere).
STANDARD_TEMPERATURE_C = 10.0

_expiry_said = False


@dataclass(frozen=True, eq=False)
class BodyState:
    """One solar-system body at a sample time, as seen from the site.

    enu (3,) unit apparent topocentric direction (East, North, Up), unrefracted;
    distance_au; mag (apparent V); phase_angle_deg (Sun-body-observer; 0 for the
    Sun); illuminated_fraction in [0, 1]; angular_diameter_deg;
    bright_limb_pa_deg: position angle of the bright limb's midpoint, from
    celestial North (ICRS axes) through East, in degrees; NaN for the Sun.
    """

    name: str
    enu: np.ndarray
    distance_au: float
    mag: float
    phase_angle_deg: float
    illuminated_fraction: float
    angular_diameter_deg: float
    bright_limb_pa_deg: float = float("nan")

    @property
    def alt_deg(self) -> float:
        return math.degrees(math.asin(max(-1.0, min(1.0, float(self.enu[2])))))

    @property
    def az_deg(self) -> float:
        return math.degrees(math.atan2(float(self.enu[0]), float(self.enu[1]))) % 360.0


@dataclass(frozen=True, eq=False)
class SkySample:
    """Everything the star shader and the body layer need for one instant and site.

    tt_jd; enu_from_icrs (3, 3) rotation ICRS -> ENU; beta_icrs (3,) observer's
    barycentric velocity / c (ICRS); years_since_epoch: Julian years TT since
    J1991.25; sun_alt_deg (unrefracted); bodies: Sun, Moon, Mercury ... Neptune, Pluto.
    """

    tt_jd: float
    enu_from_icrs: np.ndarray
    beta_icrs: np.ndarray
    years_since_epoch: float
    sun_alt_deg: float
    bodies: tuple[BodyState, ...]

    def body(self, name: str) -> BodyState:
        for b in self.bodies:
            if b.name == name:
                return b
        raise KeyError(name)


def _skyfield_data_path() -> str:
    """skyfield-data's folder, turning its expiry RuntimeWarning into one info line per process."""
    global _expiry_said
    import skyfield_data

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = skyfield_data.get_skyfield_data_path()
    expired = []
    for w in caught:
        if issubclass(w.category, RuntimeWarning) and "has expired" in str(w.message):
            expired.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if expired and not _expiry_said:
        _expiry_said = True
        try:
            from skyfield_data.expirations import get_all

            until = get_all().get("finals2000A.all")
        except Exception:  # noqa: BLE001 - only for the wording of a log line
            until = None
        log.info(
            "skyfield-data finals2000A.all expired on %s: using it offline anyway "
            "(UT1 and polar motion beyond it are IERS predictions; a newer skyfield-data refreshes it)",
            until or "its expiry date",
        )
    return path


def _as_utc(utc: datetime) -> datetime:
    if not isinstance(utc, datetime):
        raise TypeError(f"expected a datetime in UTC, got {type(utc).__name__}")
    if utc.tzinfo is None:
        return utc.replace(tzinfo=timezone.utc)
    return utc.astimezone(timezone.utc)


def check_time_range(utc: datetime) -> datetime:
    """The UTC datetime, or TimeRangeError if the ephemeris does not cover it."""
    utc = _as_utc(utc)
    if not (VALID_FROM_UTC <= utc < VALID_UNTIL_UTC):
        raise TimeRangeError(
            f"{utc.isoformat()} is outside the ephemeris (JPL DE421): choose a UTC time "
            f"from 1900-01-01 to 2050-12-31"
        )
    return utc


class Ephemeris:
    """Skyfield, offline: DE421 and the IERS timescale from the skyfield-data package."""

    def __init__(self) -> None:
        from skyfield.api import Loader
        from skyfield.data import iers

        path = _skyfield_data_path()
        load = Loader(path, verbose=False, expire=False)
        try:
            self.ts = load.timescale(builtin=False)
            with load.open("finals2000A.all") as f:
                iers.install_polar_motion_table(self.ts, iers.parse_x_y_dut1_from_finals_all(f))
            self.planets = load("de421.bsp")
        except OSError as exc:
            raise DataError(
                f"{path}: cannot read de421.bsp / finals2000A.all ({exc}); reinstall skyfield-data"
            ) from exc
        self.earth = self.planets["earth"]
        self._space_bodies = tuple((name, self.planets[key]) for name, key, _ in SPACE_BODIES)
        self.sun = self.planets["sun"]
        self._bodies = tuple((name, self.planets[key], radius_km) for name, key, radius_km in BODIES)

    def positions_m(self, tt_jd: float) -> tuple[np.ndarray, np.ndarray]:
        """Barycentric ICRS positions (m) and velocities (m/s) of SPACE_BODIES at ``tt_jd`` (Skyfield
        direct; :meth:`CachedEphemeris.positions_m` interpolates)."""
        v = _barycentric_rows(self, np.array([float(tt_jd)]))[0].reshape(-1, 2, 3)
        return v[:, 0, :], v[:, 1, :]

    def itrs_from_icrs(self, tt_jd: float) -> np.ndarray:
        """The Earth's ITRS frame at ``tt_jd``: (3, 3) rotation from ICRS (Skyfield direct)."""
        from skyfield.framelib import itrs

        return np.asarray(itrs.rotation_at(self.ts.tt_jd(float(tt_jd))), np.float64)

    def close(self) -> None:
        """Close DE421 (Skyfield keeps the file open for memory-mapped reads)."""
        self.planets.close()

    def __enter__(self) -> "Ephemeris":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def time(self, utc: datetime):
        """A Skyfield Time for a UTC datetime; TimeRangeError outside 1900-2050."""
        return self.ts.from_datetime(check_time_range(utc))

    def observer(self, t, latitude_deg: float, longitude_deg: float, elevation_m: float = 0.0):
        """(site, barycentric observer position at t) for a WGS84 site."""
        from skyfield.api import wgs84

        site = wgs84.latlon(latitude_deg, longitude_deg, elevation_m=elevation_m)
        return site, (self.earth + site).at(t)

    def sample(
        self, utc: datetime, latitude_deg: float, longitude_deg: float, elevation_m: float = 0.0
    ) -> SkySample:
        """The sky at ``utc`` from a WGS84 site (degrees, metres): a :class:`SkySample`.

        Calls Skyfield for every body (about 10 ms): for per-frame use see
        :class:`CachedEphemeris`, which interpolates samples like this one.
        """
        from skyfield.constants import C_AUDAY

        t = self.time(utc)
        site, observer = self.observer(t, latitude_deg, longitude_deg, elevation_m)
        enu_from_icrs = enu_from_skyfield_altaz(site.rotation_at(t))
        beta_icrs = np.asarray(observer.velocity.au_per_d, dtype=np.float64) / C_AUDAY
        bodies = []
        for name, body, radius_km in self._bodies:
            c = self.body_columns(name, body, radius_km, observer)
            bodies.append(
                BodyState(
                    name=name,
                    enu=enu_from_icrs @ c["icrs_unit"],
                    distance_au=float(c["distance_au"]),
                    mag=float(c["mag"]),
                    phase_angle_deg=float(c["phase_angle_deg"]),
                    illuminated_fraction=float(c["illuminated_fraction"]),
                    angular_diameter_deg=float(c["angular_diameter_deg"]),
                    bright_limb_pa_deg=float(c["bright_limb_pa_deg"]),
                )
            )
        return SkySample(
            tt_jd=float(t.tt),
            enu_from_icrs=enu_from_icrs,
            beta_icrs=beta_icrs,
            years_since_epoch=(float(t.tt) - HIPPARCOS_EPOCH_TT_JD) / JULIAN_YEAR_D,
            sun_alt_deg=bodies[0].alt_deg,
            bodies=tuple(bodies),
        )

    def body_columns(self, name: str, body, radius_km: float, observer) -> dict[str, np.ndarray]:
        """One body seen by ``observer`` (a Skyfield position at a scalar or (n,) Time).

        Returns arrays of shape () or (n,): icrs_unit (3, ...) apparent
        topocentric direction (ICRS axes), distance_au, mag, phase_angle_deg,
        illuminated_fraction, angular_diameter_deg, bright_limb_pa_deg.
        """
        from skyfield.magnitudelib import planetary_magnitude

        astrometric = observer.observe(body)
        xyz = np.asarray(astrometric.apparent().xyz.au, dtype=np.float64)
        icrs_unit = xyz / np.linalg.norm(xyz, axis=0)
        distance_au = np.linalg.norm(np.asarray(astrometric.xyz.au), axis=0)
        angular_diameter_deg = np.degrees(2.0 * np.arcsin(np.minimum(1.0, radius_km / (distance_au * AU_KM))))
        observer_xyz = np.asarray(observer.xyz.au)
        sun_xyz = np.asarray(self.sun.at(observer.t).xyz.au)
        if name == "Sun":
            ones = np.ones_like(distance_au)
            return {
                "icrs_unit": icrs_unit,
                "distance_au": distance_au,
                "mag": SUN_V_AT_1AU + 5.0 * np.log10(distance_au),
                "phase_angle_deg": 0.0 * ones,
                "illuminated_fraction": ones,
                "angular_diameter_deg": angular_diameter_deg,
                "bright_limb_pa_deg": np.nan * ones,
            }
        phase_angle_deg = np.asarray(astrometric.phase_angle(self.sun).degrees, dtype=np.float64)
        illuminated = 0.5 * (1.0 + np.cos(np.radians(phase_angle_deg)))
        # Sun-body distance (the Sun at the observation time: the magnitudes do not care).
        r_au = np.linalg.norm(observer_xyz + np.asarray(astrometric.xyz.au) - sun_xyz, axis=0)
        distance_term = 5.0 * np.log10(r_au * distance_au)
        if name == "Moon":
            a = phase_angle_deg
            mag = MOON_V_1_0 + distance_term + 0.026 * a + 4.0e-9 * a**4
        elif name == "Pluto":
            mag = PLUTO_V_1_0 + distance_term
        else:
            mag = np.asarray(planetary_magnitude(astrometric), dtype=np.float64)
            mag = np.where(np.isfinite(mag), mag, FALLBACK_V_1_0.get(name, 0.0) + distance_term)
        return {
            "icrs_unit": icrs_unit,
            "distance_au": distance_au,
            "mag": mag,
            "phase_angle_deg": phase_angle_deg,
            "illuminated_fraction": illuminated,
            "angular_diameter_deg": angular_diameter_deg,
            "bright_limb_pa_deg": bright_limb_pa_deg(xyz, sun_xyz - observer_xyz),
        }


def _barycentric_rows(eph: "Ephemeris", tt: np.ndarray) -> np.ndarray:
    """(n, 6 B) barycentric ICRS position (m) and velocity (m/s) of SPACE_BODIES at TT JDs ``tt``."""
    t = eph.ts.tt_jd(tt)
    columns = []
    for _, body in eph._space_bodies:
        p = body.at(t)
        columns.append(np.asarray(p.position.m, dtype=np.float64).reshape(3, -1))
        columns.append(np.asarray(p.velocity.km_per_s, dtype=np.float64).reshape(3, -1) * 1000.0)
    return np.ascontiguousarray(np.concatenate(columns, axis=0).T)


def enu_from_skyfield_altaz(r_altaz: np.ndarray) -> np.ndarray:
    """Skyfield's ``rotation_at(t)`` (rows North, East, Up) -> ENU rotation (rows East, North, Up)."""
    r = np.asarray(r_altaz, dtype=np.float64)
    return r[[1, 0, 2]].copy()


def bright_limb_pa_deg(body_icrs: np.ndarray, sun_icrs: np.ndarray) -> np.ndarray:
    """Position angle of the bright limb's midpoint (deg, from North through East), ICRS axes.

    body_icrs, sun_icrs: (3,) or (3, n) vectors from the observer. Meeus,
    *Astronomical Algorithms*, 2nd ed., eq. 48.5:
    tan chi = cos d0 sin(a0 - a) / (sin d0 cos d - cos d0 sin d cos(a0 - a)).
    """
    b = np.asarray(body_icrs, dtype=np.float64)
    s = np.asarray(sun_icrs, dtype=np.float64)
    a, d = np.arctan2(b[1], b[0]), np.arctan2(b[2], np.hypot(b[0], b[1]))
    a0, d0 = np.arctan2(s[1], s[0]), np.arctan2(s[2], np.hypot(s[0], s[1]))
    y = np.cos(d0) * np.sin(a0 - a)
    x = np.sin(d0) * np.cos(d) - np.cos(d0) * np.sin(d) * np.cos(a0 - a)
    return np.degrees(np.arctan2(y, x)) % 360.0


def sky_table(
    eph: Ephemeris,
    utc: datetime,
    latitude_deg: float,
    longitude_deg: float,
    elevation_m: float = 0.0,
    refraction: bool = True,
    n_stars: int = 30,
) -> list[dict]:
    """Sun, Moon, planets and the ``n_stars`` brightest stars at a site, for ``domectl sky --json``.

    Each row: name, hip (None for bodies), alt_deg, az_deg (from North through
    East), mag (V for bodies, Hipparcos Hp for stars), phase (illuminated
    fraction for bodies, None for stars). Refraction: Skyfield's standard
    atmosphere (10 C, 1010 mbar scaled by elevation).
    """
    from domectl import astro, skydata

    sample = eph.sample(utc, latitude_deg, longitude_deg, elevation_m)
    pressure_mbar = astro.standard_pressure_mbar(elevation_m)

    def altaz(enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        enu = np.atleast_2d(enu)
        if refraction:
            enu = astro.refract_enu(enu, STANDARD_TEMPERATURE_C, pressure_mbar)
        alt = np.degrees(np.arctan2(enu[:, 2], np.hypot(enu[:, 0], enu[:, 1])))
        az = np.degrees(np.arctan2(enu[:, 0], enu[:, 1])) % 360.0
        return alt, az

    rows: list[dict] = []
    alt, az = altaz(np.array([b.enu for b in sample.bodies]))
    for b, a, z in zip(sample.bodies, alt, az):
        rows.append({"name": b.name, "hip": None, "alt_deg": float(a), "az_deg": float(z), "mag": float(b.mag), "phase": float(b.illuminated_fraction)})

    stars = _catalog()
    names = skydata.load_star_names("en")
    brightest = np.argsort(stars.mag, kind="stable")[:n_stars]
    enu = astro.star_directions(
        stars.icrs_xyz[brightest], stars.pm_xyz_rad_per_yr[brightest], sample.years_since_epoch, sample.beta_icrs, sample.enu_from_icrs
    )
    alt, az = altaz(enu)
    for i, a, z in zip(brightest, alt, az):
        hip = int(stars.hip[i])
        rows.append({"name": names.get(hip, f"HIP {hip}"), "hip": hip, "alt_deg": float(a), "az_deg": float(z), "mag": float(stars.mag[i]), "phase": None})
    return rows


_CATALOG = None


def _catalog():
    global _CATALOG
    if _CATALOG is None:
        from domectl import skydata

        _CATALOG = skydata.load_stars()
    return _CATALOG


# ------------------------------------------------------------------ per-frame interpolation

#: Knot spacing of the cached samples (TT). 30 min keeps the cubic interpolation
#: error of the Moon's topocentric direction (diurnal parallax up to 1 deg, period
#: 1 day) at ~0.03 arcsec; measured bounds are INTERPOLATION_BOUND_* below.
KNOT_STEP_S = 1800.0
#: Knots computed per Skyfield call (vectorised: 16 knots cost ~1.3x one knot) = 8 h of sky.
BLOCK_KNOTS = 16
#: Blocks kept (LRU): 4 days of sky around the current time, either direction.
MAX_BLOCKS = 12
#: Stated error bounds of CachedEphemeris against Ephemeris.sample, checked by
#: tests/test_ephemeris.py over random times 1900-2050 (measured max in the comments).
INTERPOLATION_BOUND_ARCSEC = 0.1  # body directions (measured: Moon 0.022, Pluto 0.004, others 0.0007)
INTERPOLATION_BOUND_ROTATION_ARCSEC = 0.05  # enu_from_icrs (measured 0.01: UT1 and polar motion are daily tables)
INTERPOLATION_BOUND_BETA = 1e-10  # observer velocity / c (measured 1e-11)
# Magnitudes: 1e-6 in general; up to 0.001 measured where a Mallama & Hilton formula
# switches branch (Venus at 163.7 deg, Mars at 50 deg) and the cubic smooths the jump.
INTERPOLATION_BOUND_MAG = 0.01

_BODY_FIELDS = ("distance_au", "mag", "phase_angle_deg", "illuminated_fraction", "angular_diameter_deg")
_HEAD = 9 + 9 + 1 + 3  # M, polar motion, GAST, beta
_PER_BODY = 3 + len(_BODY_FIELDS) + 2  # direction, fields, (sin, cos) of the limb angle


def _rot_z(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class CachedEphemeris:
    """Per-frame :class:`SkySample` interpolated from Skyfield samples: same ``sample`` signature.

    Skyfield is called for blocks of ``BLOCK_KNOTS`` knots ``KNOT_STEP_S`` apart
    on a fixed TT grid (so a time gives the same result whichever way the clock
    runs: forward, reverse time-lapse, or jumps); a frame evaluates a 4-point
    (cubic) Lagrange interpolation of the knots around it. Interpolated: the
    precession-nutation matrix, polar motion, GAST (unwrapped), the observer's
    velocity and, per body, its apparent ICRS direction, distance, magnitude,
    phase, size and bright-limb angle. The rotation is rebuilt exactly as
    Skyfield does: ``enu <- site <- polar motion <- Rz(-GAST) <- M``.

    Cost (benchmarks/bench_ephemeris.py, 2-core dev machine): a frame inside
    cached blocks 0.06 ms median against 9.5 ms for :meth:`Ephemeris.sample`; a
    new block 13 ms, once per 8 h of sky time. Error bounds: ``INTERPOLATION_BOUND_*``.
    """

    def __init__(self, eph: Ephemeris, knot_step_s: float = KNOT_STEP_S, block_knots: int = BLOCK_KNOTS,
                 max_blocks: int = MAX_BLOCKS) -> None:
        self.eph = eph
        self.knot_step_d = knot_step_s / 86400.0
        self.block_knots = block_knots
        self.max_blocks = max_blocks
        self._site_key: tuple[float, float, float] | None = None
        self._site = None
        self._enu_from_itrs: np.ndarray | None = None
        self._blocks: dict[int, np.ndarray] = {}
        self._position_blocks: dict[int, np.ndarray] = {}
        self.blocks_computed = 0
        t0, t1 = eph.ts.from_datetimes([VALID_FROM_UTC, VALID_UNTIL_UTC]).tt
        self._tt_range = (float(t0), float(t1))

    def sample(self, utc: datetime, latitude_deg: float, longitude_deg: float, elevation_m: float = 0.0) -> SkySample:
        """As :meth:`Ephemeris.sample`, interpolated."""
        return self.sample_tt(float(self.eph.time(utc).tt), latitude_deg, longitude_deg, elevation_m)

    def sample_tt(self, tt_jd: float, latitude_deg: float, longitude_deg: float, elevation_m: float = 0.0) -> SkySample:
        """The sky at TT Julian date ``tt_jd`` from a WGS84 site, interpolated."""
        self._check_tt(tt_jd)
        self._use_site(latitude_deg, longitude_deg, elevation_m)
        v, itrs_from_icrs = self._interpolate(tt_jd)
        enu_from_icrs = self._enu_from_itrs @ itrs_from_icrs
        beta_icrs = v[19:22]
        bodies = []
        for i, (name, _, _) in enumerate(self.eph._bodies):
            b = v[_HEAD + i * _PER_BODY: _HEAD + (i + 1) * _PER_BODY]
            u = b[0:3] / math.sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2])
            limb = math.degrees(math.atan2(b[8], b[9])) % 360.0 if name != "Sun" else float("nan")
            bodies.append(BodyState(name, enu_from_icrs @ u, float(b[3]), float(b[4]), float(b[5]), float(b[6]),
                                    float(b[7]), limb))
        sun_up = bodies[0].enu[2]
        return SkySample(
            tt_jd=tt_jd,
            enu_from_icrs=enu_from_icrs,
            beta_icrs=beta_icrs,
            years_since_epoch=(tt_jd - HIPPARCOS_EPOCH_TT_JD) / JULIAN_YEAR_D,
            sun_alt_deg=math.degrees(math.asin(max(-1.0, min(1.0, sun_up)))),
            bodies=tuple(bodies),
        )

    def _check_tt(self, tt_jd: float) -> None:
        if not (self._tt_range[0] <= tt_jd < self._tt_range[1]):
            raise TimeRangeError(
                f"TT JD {tt_jd} is outside the ephemeris (JPL DE421): choose a UTC time from 1900-01-01 to 2050-12-31"
            )

    def positions_m(self, tt_jd: float) -> tuple[np.ndarray, np.ndarray]:
        """Barycentric ICRS positions (m) and velocities (m/s) of SPACE_BODIES at ``tt_jd``: two (B, 3).

        Geometric (no light time, no aberration): the space voyage's own frame
        (domectl/voyage.py). Interpolated (4-point Lagrange) from Skyfield samples
        POSITION_KNOT_S apart on a fixed TT grid.
        """
        self._check_tt(tt_jd)
        step_d = POSITION_KNOT_S / 86400.0
        x = tt_jd / step_d
        k = math.floor(x)
        f = x - k
        rows = []
        for i in (-1, 0, 1, 2):
            block, j = divmod(k + i, POSITION_BLOCK_KNOTS)
            data = self._position_blocks.get(block)
            if data is None:
                tt = (block * POSITION_BLOCK_KNOTS + np.arange(POSITION_BLOCK_KNOTS)) * step_d
                data = self._position_blocks[block] = _barycentric_rows(self.eph, tt)
                while len(self._position_blocks) > self.max_blocks:
                    self._position_blocks.pop(next(iter(self._position_blocks)))
            rows.append(data[j])
        w = np.array([
            -f * (f - 1.0) * (f - 2.0) / 6.0,
            (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0,
            -(f + 1.0) * f * (f - 2.0) / 2.0,
            (f + 1.0) * f * (f - 1.0) / 6.0,
        ])
        v = (w @ np.stack(rows)).reshape(-1, 2, 3)
        return v[:, 0, :], v[:, 1, :]

    def itrs_from_icrs(self, tt_jd: float) -> np.ndarray:
        """The Earth's body-fixed (ITRS) frame at ``tt_jd``: (3, 3) rotation from ICRS (interpolated as
        :meth:`sample_tt` does, without the site's rotation and the bodies)."""
        self._check_tt(tt_jd)
        self._use_site(*(self._site_key or (0.0, 0.0, 0.0)))
        return self._interpolate(tt_jd)[1]

    def _interpolate(self, tt_jd: float) -> tuple[np.ndarray, np.ndarray]:
        """(the knots' columns interpolated at ``tt_jd``, the ITRS-from-ICRS rotation rebuilt from them
        as Skyfield does: ``polar motion <- Rz(-GAST) <- M``)."""
        x = tt_jd / self.knot_step_d
        k = math.floor(x)
        f = x - k
        rows = np.stack([self._knot(k + i) for i in (-1, 0, 1, 2)])  # (4, D)
        # Cubic Lagrange weights for nodes -1, 0, 1, 2 at f in [0, 1).
        w = np.array([
            -f * (f - 1.0) * (f - 2.0) / 6.0,
            (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0,
            -(f + 1.0) * f * (f - 2.0) / 2.0,
            (f + 1.0) * f * (f - 1.0) / 6.0,
        ])
        gast = np.unwrap(rows[:, 18]) @ w
        v = w @ rows
        return v, v[9:18].reshape(3, 3) @ _rot_z(-gast) @ v[0:9].reshape(3, 3)

    def _use_site(self, latitude_deg: float, longitude_deg: float, elevation_m: float) -> None:
        key = (float(latitude_deg), float(longitude_deg), float(elevation_m))
        if key == self._site_key:
            return
        from skyfield.api import wgs84
        from skyfield.framelib import itrs

        self._site = wgs84.latlon(latitude_deg, longitude_deg, elevation_m=elevation_m)
        t = self.eph.ts.tt_jd(2451545.0)
        # The site's fixed ITRS -> ENU rotation: Skyfield's altaz rotation with the Earth's rotation taken out.
        self._enu_from_itrs = enu_from_skyfield_altaz(self._site.rotation_at(t) @ itrs.rotation_at(t).T)
        self._site_key = key
        self._blocks.clear()

    def _knot(self, k: int) -> np.ndarray:
        block, i = divmod(k, self.block_knots)
        rows = self._blocks.pop(block, None)
        if rows is None:
            rows = self._compute_block(block)
            while len(self._blocks) >= self.max_blocks:
                self._blocks.pop(next(iter(self._blocks)))
        self._blocks[block] = rows  # most recently used last
        return rows[i]

    def _compute_block(self, block: int) -> np.ndarray:
        from skyfield.constants import C_AUDAY

        eph = self.eph
        tt = (block * self.block_knots + np.arange(self.block_knots)) * self.knot_step_d
        t = eph.ts.tt_jd(tt)
        observer = (eph.earth + self._site).at(t)
        n = len(tt)
        m = np.asarray(t.M).reshape(9, n)
        if eph.ts.polar_motion_table is not None:
            pm = np.asarray(t.polar_motion_matrix()).reshape(9, n)
        else:
            pm = np.tile(np.eye(3).reshape(9, 1), (1, n))
        gast = np.asarray(t.gast) * (2.0 * math.pi / 24.0)
        beta = np.asarray(observer.velocity.au_per_d) / C_AUDAY
        columns = [m, pm, gast[None, :], beta]
        for name, body, radius_km in eph._bodies:
            c = eph.body_columns(name, body, radius_km, observer)
            limb = np.radians(c["bright_limb_pa_deg"])
            columns.append(c["icrs_unit"])
            columns.append(np.stack([np.broadcast_to(c[f], (n,)) for f in _BODY_FIELDS]))
            columns.append(np.stack([np.sin(limb), np.cos(limb)]))
        self.blocks_computed += 1
        return np.ascontiguousarray(np.concatenate(columns, axis=0).T)  # (n, D)
