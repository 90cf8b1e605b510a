"""The space voyage (domectl/voyage.py): positions, body frames, flights, orbits, the master in space.

References are independent of the code under test where one exists: Skyfield's own
positions and frames (not our interpolation), the analytic comfort limits, the
ephemeris's phase angle computed here from Skyfield's vectors.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.layermix import DEFAULT_LAYERS, LayerMix
from domectl.master import Master, Scene
from domectl.voyage import (MAX_RATE_ACCEL_PER_S2, MAX_RATE_PER_S, MIN_ALTITUDE_M, NAMES, RADIUS_M, Sky, Voyage,
                            body_from_icrs, body_name, heights_m, site_itrs_m, view_look)

SITE = (50.707, 2.240, 80.0)
TT0 = 2461000.8                    # 2025-09-13: the Moon well clear of the Sun
VIEW = (180.0, 0.0, 0.0)
METRE = 1.0
DEG = 1.0
#: Numerical tolerance of the comfort checks: the rate is measured by finite differences over
#: one 240 Hz step of a path tabulated on a few thousand points.
RATE_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def eph():
    e = Ephemeris()
    yield CachedEphemeris(e)
    e.close()


def test_interpolated_positions_match_skyfield_to_metres(eph):
    for tt in (TT0, TT0 + 0.37, TT0 + 3.01):
        pos, vel = eph.positions_m(tt)
        t = eph.eph.ts.tt_jd(tt)
        for i, (name, body) in enumerate(eph.eph._space_bodies):
            truth = body.at(t)
            assert np.linalg.norm(pos[i] - truth.position.m) < 5.0 * METRE, name
            assert np.linalg.norm(vel[i] - truth.velocity.km_per_s * 1000.0) < 1e-3, name


def test_the_earth_frame_puts_the_site_where_skyfield_does(eph):
    from skyfield.api import wgs84

    sky = Sky(eph, TT0)
    t = eph.eph.ts.tt_jd(TT0)
    truth = wgs84.latlon(*SITE[:2], elevation_m=SITE[2]).at(t).position.m
    ours = sky.itrs_from_icrs.T @ site_itrs_m(*SITE)
    assert np.linalg.norm(ours - truth) < 1.0 * METRE


def test_the_moon_shows_the_earth_its_near_side(eph):
    # Libration keeps the sub-Earth point within about 8 deg of (0, 0) in the Moon's frame.
    for days in range(0, 30, 3):
        sky = Sky(eph, TT0 + days)
        d = body_from_icrs("Moon", sky.tt_jd) @ (sky.pos("Earth") - sky.pos("Moon"))
        lon = math.degrees(math.atan2(d[1], d[0]))
        lat = math.degrees(math.asin(d[2] / np.linalg.norm(d)))
        assert abs(lon) < 8.5 and abs(lat) < 7.0, (days, lon, lat)


def test_body_frames_are_rotations_with_the_pole_on_z():
    for name in NAMES:
        r = body_from_icrs(name, TT0)
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)
    # Saturn's pole (IAU): RA 40.589, Dec 83.537 (at J2000).
    a, d = math.radians(40.589), math.radians(83.537)
    pole = np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])
    assert body_from_icrs("Saturn", 2451545.0)[2] @ pole == pytest.approx(1.0, abs=1e-12)


def test_body_names_in_four_languages():
    assert body_name("Lune") == body_name("maan") == body_name("Mond") == "Moon"
    with pytest.raises(ValueError, match="not a place to fly to: choose one of moon"):
        body_name("soleil")
    with pytest.raises(ValueError, match="'krypton'"):
        body_name("krypton")


def _fly(eph, target: str, **kw):
    voyage = Voyage(eph)
    flight = voyage.fly_to(0.0, TT0, SITE, target, VIEW, **kw)
    return voyage, flight


def _track(eph, voyage, end_s: float, hz: float = 240.0, t0_s: float = 0.0):
    times = t0_s + np.arange(0.0, end_s - t0_s + 1.0, 1.0 / hz)
    rows = []
    for t in times:
        obs = voyage.observer(float(t), TT0 + t / 86400.0, SITE)
        rows.append(obs)
    return times, rows


def _comfort_rates(eph, times, rows):
    """sigma rate (1/s) between consecutive samples: speed relative to the nearest body's surface
    (in its turning body-fixed frame: on the ground the Earth turns with us) over the altitude
    (floored as the planner does), measured from the observer's actual positions."""
    rates = []
    for (t0, a), (t1, b) in zip(zip(times, rows), zip(times[1:], rows[1:])):
        sky0, sky1 = Sky(eph, TT0 + t0 / 86400.0), Sky(eph, TT0 + t1 / 86400.0)
        near = a.nearest

        def fixed(sky, p):
            rot = sky.itrs_from_icrs if near == "Earth" else body_from_icrs(near, sky.tt_jd)
            return rot @ (p - sky.pos(near))

        step = fixed(sky1, b.position_m) - fixed(sky0, a.position_m)
        h = max(0.5 * (a.altitude_m + b.altitude_m), MIN_ALTITUDE_M)
        rates.append(np.linalg.norm(step) / h / (t1 - t0))
    return np.array(rates)


@pytest.mark.parametrize("target", ["moon", "mars"])
def test_a_flight_keeps_its_speed_and_acceleration_within_the_limits_and_ends_on_the_target(eph, target):
    voyage, flight = _fly(eph, target)
    times, rows = _track(eph, voyage, flight.end_s + 0.5)
    rates = _comfort_rates(eph, times, rows)
    assert rates.max() <= MAX_RATE_PER_S * (1 + RATE_TOLERANCE)
    assert rates.max() >= MAX_RATE_PER_S * 0.97           # it does cruise at the limit
    # Over 0.1 s: barycentric positions (1e11 m) carry 3e-5 m of float64 rounding, which a
    # second difference over 1/240 s would turn into acceleration noise of 0.03 /s^2.
    accel = np.abs(rates[24:] - rates[:-24]) / 0.1
    assert accel.max() <= MAX_RATE_ACCEL_PER_S2 * (1 + RATE_TOLERANCE) + 1e-9
    # Exactly on the target point at the end, wherever the body has moved meanwhile.
    name = body_name(target)
    t_end = flight.end_s + 0.25
    end = voyage.observer(t_end, TT0 + t_end / 86400.0, SITE)
    sky = Sky(eph, TT0 + t_end / 86400.0)
    assert np.array_equal(end.position_m, flight.end.at(sky))
    assert np.linalg.norm(end.position_m - sky.pos(name)) == pytest.approx(3.0 * RADIUS_M[name], rel=1e-12)
    # ... with the target at the dome's sweet spot.
    look, _ = view_look(*VIEW)
    seen = end.frame @ (sky.pos(name) - end.position_m)
    assert math.degrees(math.acos(min(1.0, seen @ look / np.linalg.norm(seen)))) < 1e-6 * DEG
    # Never inside a body on the way.
    for t, obs in zip(times[::24], rows[::24]):
        assert obs.altitude_m > -1.0 * METRE


def test_the_ship_turns_within_the_view_limits(eph):
    from domectl.motion import COMFORT
    from domectl.voyage import turn_angle_deg

    voyage, flight = _fly(eph, "moon")
    times, rows = _track(eph, voyage, flight.end_s, hz=60.0)
    rates = np.array([turn_angle_deg(a.frame, b.frame) * 60.0 for a, b in zip(rows, rows[1:])])
    # The target's own drift in the frame while approaching adds a little to the planned turn.
    assert rates.max() <= COMFORT.max_speed_deg_s * 1.1


def test_going_home_lands_exactly_on_the_site_in_its_own_sky(eph):
    voyage, flight = _fly(eph, "moon")
    t = flight.end_s + 5.0
    home = voyage.home(t, TT0 + t / 86400.0, SITE)
    assert home.fly_s < 60.0
    times, rows = _track(eph, voyage, home.end_s - 1.0, hz=30.0, t0_s=t)
    assert all(r is not None for r in rows)
    rates = _comfort_rates(eph, times, rows)
    assert rates.max() <= MAX_RATE_PER_S * (1 + RATE_TOLERANCE)
    last = voyage.observer(home.end_s - 1e-6, TT0 + (home.end_s - 1e-6) / 86400.0, SITE)
    assert last.altitude_m == pytest.approx(SITE[2], abs=1.0)
    assert voyage.observer(home.end_s, TT0 + home.end_s / 86400.0, SITE) is None      # landed
    assert not voyage.in_space


def test_an_orbit_keeps_its_distance_and_a_gentle_rate(eph):
    voyage, flight = _fly(eph, "moon")
    t0 = flight.end_s + 1.0
    orbit = voyage.orbit(t0, TT0 + t0 / 86400.0, SITE, VIEW)
    times, rows = _track(eph, voyage, t0 + 60.0, hz=10.0, t0_s=t0)
    for t, obs in zip(times, rows):
        sky = Sky(eph, TT0 + t / 86400.0)
        assert np.linalg.norm(obs.position_m - sky.pos("Moon")) == pytest.approx(orbit.radius_m, rel=1e-9)
    rates = _comfort_rates(eph, times, rows)
    assert rates.max() <= 0.05 * 1.05
    assert orbit.angle_rad(t0 + 60.0) > 0.5                 # it does go round


def test_orbit_on_the_ground_is_refused(eph):
    with pytest.raises(ValueError, match="fly to a body first"):
        Voyage(eph).orbit(0.0, TT0, SITE, VIEW)


def test_heights_follow_the_earths_flattening(eph):
    sky = Sky(eph, TT0)
    site = sky.itrs_from_icrs.T @ site_itrs_m(*SITE) + sky.pos("Earth")
    assert heights_m(sky, "Earth", site)[0] == pytest.approx(SITE[2], abs=30.0)


def test_the_moon_near_it_has_the_phase_the_ephemeris_predicts(eph):
    """BodyView's phase from a point 20,000 km from the Moon against Skyfield's vectors."""
    from domectl.voyage import Observer, space_bodies

    sky = Sky(eph, TT0)
    t = eph.eph.ts.tt_jd(TT0)
    moon = eph.eph.planets["moon"].at(t).position.m
    sun = eph.eph.planets["sun"].at(t).position.m
    here = moon + np.array([2.0e7, 0.5e7, -0.3e7])
    obs = Observer(here, np.zeros(3), np.eye(3), 0.0, "Moon")
    view = next(b for b in space_bodies(sky, obs) if b.name == "Moon")
    a, b = sun - moon, here - moon
    phase = math.degrees(math.acos(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    assert view.phase_angle_deg == pytest.approx(phase, abs=1e-4)
    assert view.illuminated_fraction == pytest.approx(0.5 * (1 + math.cos(math.radians(phase))), abs=1e-6)


@pytest.fixture(scope="module")
def hall():
    return load_hall("config/lacoupole")


def _master(hall, eph, **scene):
    return Master(hall, None, eph, Scene(start_utc=datetime(2025, 9, 13, 7, 12, tzinfo=timezone.utc),
                                         layers=LayerMix(on=DEFAULT_LAYERS + ("orbits",)), **scene), igs=())


def test_the_master_in_space_sends_the_ships_sky(hall, eph):
    m = _master(hall, eph)
    ground = m.frame_state(0)
    assert [s.name for s in ground.spheres] == ["moon"]
    assert ground.eye_separation_m == hall.stereo.eye_separation_m
    flight = m.fly_to("moon")
    m.barrier.frame = n = int((flight.end_s + 1.0) * m.fps)
    state = m.frame_state(n)
    layers = dict(state.layers)
    assert layers["landscape"] == 0.0 and layers["daylight"] == 0.0 and layers["stars"] == 1.0
    assert not state.refraction
    moon = next(b for b in state.bodies if b.name == "Moon")
    assert moon.angular_diameter_deg == pytest.approx(math.degrees(2 * math.asin(1 / 3)), rel=1e-3)
    assert "earth" in {s.name for s in state.spheres} and "moon" in {s.name for s in state.spheres}
    sphere = next(s for s in state.spheres if s.name == "moon")
    assert math.dist((0, 0, 0), sphere.centre_m) == pytest.approx(3 * RADIUS_M["Moon"], rel=1e-9)
    assert {o.name for o in state.orbits} >= {"moon", "earth", "mars"}
    m.current = state                   # what the frame loop keeps
    status = m.status()
    assert status["voyage"]["in_space"] and status["voyage"]["nearest"] == "moon"


def test_stereo_is_limited_to_the_comfort_disparity(hall, eph):
    from domectl.stereo import horizon_disparity_deg

    m = _master(hall, eph, eye_separation_m=math.inf)        # "auto": as much depth as is comfortable
    flight = m.fly_to("moon")
    n = int((flight.end_s + 1.0) * m.fps)
    state = m.frame_state(n)
    nearest = 3 * RADIUS_M["Moon"] - RADIUS_M["Moon"]
    assert horizon_disparity_deg(nearest, state.eye_separation_m) == pytest.approx(
        hall.stereo.comfort_disparity_deg, rel=1e-6)
    assert m.stereo_status["limited"] is False and m.stereo_status["nearest"] == "moon"
    m.scene.eye_separation_m = 1e9                            # far too wide: narrowed
    state = m.frame_state(n + 1)
    assert horizon_disparity_deg(nearest, state.eye_separation_m) <= hall.stereo.comfort_disparity_deg * (1 + 1e-9)
    assert m.stereo_status["limited"] is True
