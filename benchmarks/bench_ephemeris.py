"""Per-frame ephemeris cost: Skyfield directly vs the cached interpolation (pytest-benchmark).

    .venv/bin/python -m pytest benchmarks/bench_ephemeris.py --benchmark-only -p no:cacheprovider

DESIGN.md budgets 0.5 ms median per master frame for scene + ephemeris +
encode; ``Ephemeris.sample`` (Skyfield for 10 bodies) costs ~9.5 ms median, so
the master should use ``CachedEphemeris`` (0.06 ms median within cached knots;
a new block of 16 knots ~13 ms, once per 8 h of sky time). Measured on the
2-core dev machine, 2026-11-20.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import numpy as np
import pytest

from domectl import astro, skydata
from domectl.ephemeris import CachedEphemeris, Ephemeris

LA_COUPOLE = (50.707, 2.240, 80.0)
START = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)
FRAME_S = 1.0 / 60.0


@pytest.fixture(scope="module")
def eph():
    with Ephemeris() as e:
        yield e


def test_direct_skyfield_sample(benchmark, eph):
    frames = count()
    benchmark(lambda: eph.sample(START + timedelta(seconds=next(frames) * FRAME_S), *LA_COUPOLE))


def test_cached_sample_real_time(benchmark, eph):
    cached = CachedEphemeris(eph)
    frames = count()
    benchmark(lambda: cached.sample(START + timedelta(seconds=next(frames) * FRAME_S), *LA_COUPOLE))


def test_cached_sample_reverse_time_lapse(benchmark, eph):
    """One sky minute per frame backwards: a new block every 480 frames, amortised."""
    cached = CachedEphemeris(eph)
    frames = count()
    benchmark(lambda: cached.sample(START - timedelta(minutes=next(frames)), *LA_COUPOLE))


def test_cached_block_compute(benchmark, eph):
    cached = CachedEphemeris(eph)
    cached.sample(START, *LA_COUPOLE)
    blocks = count(1)
    first = int(cached.sample(START, *LA_COUPOLE).tt_jd / cached.knot_step_d) // cached.block_knots
    benchmark(lambda: cached._compute_block(first + next(blocks)))


def test_star_twin_all_stars(benchmark, eph):
    """The numpy twin for all 117,955 stars (the GPU does this per frame; numpy only for tests)."""
    stars = skydata.load_stars()
    sample = eph.sample(START, *LA_COUPOLE)
    out = benchmark(
        astro.star_directions,
        stars.icrs_xyz,
        stars.pm_xyz_rad_per_yr,
        sample.years_since_epoch,
        sample.beta_icrs,
        sample.enu_from_icrs,
    )
    assert np.isfinite(out).all()
