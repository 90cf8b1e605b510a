"""Sim time: rate (reverse included), pause, jump, the ephemeris range; and the master's live commands."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from domectl.errors import TimeRangeError
from domectl.simclock import MAX_ABS_RATE, VALID_UNTIL_UTC, SimClock

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


def test_time_lapse_reverse_and_pause_never_jump():
    clock = SimClock.start(T0, fps=60.0, rate=3600.0)           # an hour per second
    assert clock.utc(60) == T0 + timedelta(hours=1)
    clock = clock.set_rate(60, -86400.0)                          # a day per second, backwards
    assert clock.utc(60) == T0 + timedelta(hours=1)               # no jump where the rate changed
    assert abs(clock.utc(90) - (T0 + timedelta(hours=1) - timedelta(hours=12))) <= US
    paused = clock.pause(90)
    assert paused.utc(90) == paused.utc(10_000) == clock.utc(90)


def test_jump_keeps_the_rate():
    clock = SimClock.start(T0, fps=50.0, rate=10.0).jump(100, datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc))
    assert clock.utc(100) == datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc)
    assert clock.utc(150) == datetime(1969, 7, 20, 20, 17, 10, tzinfo=timezone.utc)


def test_the_range_is_the_ephemeris_and_a_time_lapse_stops_at_its_end():
    with pytest.raises(TimeRangeError, match="choose a UTC time from 1900-01-01 to 2050-12-31"):
        SimClock.start(datetime(2051, 6, 1, tzinfo=timezone.utc), fps=60.0)
    with pytest.raises(TimeRangeError, match="outside the ephemeris"):
        SimClock.start(T0, fps=60.0).jump(5, datetime(1899, 12, 31, tzinfo=timezone.utc))
    clock = SimClock.start(datetime(2050, 12, 1, tzinfo=timezone.utc), fps=60.0, rate=MAX_ABS_RATE)
    assert clock.utc(10**9) < VALID_UNTIL_UTC and clock.at_edge(10**9)
    assert not clock.at_edge(0)
    with pytest.raises(ValueError, match="must be within"):
        clock.set_rate(0, 2e7)


def test_master_commands_match_skyfield_for_the_new_time_and_place():
    """Travel and jump change what the next frame shows, exactly as Skyfield computes it."""
    import types
    from domectl.config import load_hall
    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from domectl.master import Master, Scene

    eph = Ephemeris()
    master = Master(load_hall(), types.SimpleNamespace(), CachedEphemeris(eph), Scene(start_utc=T0, rate=600.0))
    master.barrier.frame = 9                 # as if frame 9 had just been shown
    master.travel(-33.87, 151.21, 58.0)      # Sydney
    master.jump(datetime(2030, 3, 1, 12, tzinfo=timezone.utc))
    state = master.frame_state(10)
    direct = eph.sample(datetime(2030, 3, 1, 12, tzinfo=timezone.utc), -33.87, 151.21, 58.0)
    assert (state.latitude_deg, state.longitude_deg) == (-33.87, 151.21)
    arcsec = np.radians(1 / 3600)
    rotation = np.asarray(state.enu_from_icrs).reshape(3, 3)
    assert np.abs(rotation - direct.enu_from_icrs).max() < 0.05 * arcsec
    master.set_rate(-600.0)
    later = master.frame_state(70)           # one second at 60 fps, backwards
    assert later.tt_jd == pytest.approx(state.tt_jd - 600 / 86400, abs=1e-9)


def test_refraction_is_carried_per_frame_with_temperature_and_pressure():
    import types
    from domectl.astro import standard_pressure_mbar
    from domectl.config import load_hall
    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from domectl.frame import decode_frame, encode_frame
    from domectl.master import Master, Scene

    hall = load_hall()
    master = Master(hall, types.SimpleNamespace(), CachedEphemeris(Ephemeris()),
                    Scene(start_utc=T0, refraction=True, temperature_C=-5.0))
    state = decode_frame(encode_frame(master.frame_state(0)))
    assert state.refraction and state.temperature_C == -5.0
    assert state.pressure_mbar == pytest.approx(standard_pressure_mbar(hall.site.elevation_m))
