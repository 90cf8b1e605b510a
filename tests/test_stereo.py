"""Omnidirectional stereo in numpy (domectl/stereo.py): the fixed point against the closed form,
its error bound, mono, infinity, the taper, the comfort limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from domectl.stereo import (
    EYE_SIGN,
    ODS_ITERATIONS,
    comfort_separation_m,
    eye_offsets_m,
    horizon_dirs,
    horizon_disparity_deg,
    ods_dirs,
    ods_error_bound_rad,
    taper,
)

SEPARATION_M = 0.064
TAPER_FROM_DEG = 45.0
#: float64 rounding of unit vectors after a few operations.
FLOAT_RAD = 1e-12
MICRORADIAN = 1e-6


def points(n: int, elev_deg: tuple[float, float], distance_m: tuple[float, float], seed: int = 0) -> np.ndarray:
    """(n, 3) dome-frame points at random azimuths, elevations and distances in the ranges."""
    rng = np.random.default_rng(seed)
    az = rng.uniform(0.0, 2.0 * np.pi, n)
    el = np.radians(rng.uniform(*elev_deg, n))
    r = rng.uniform(*distance_m, n)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1) * r[:, None]


def angle_rad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


@pytest.mark.parametrize("eye", [-1, 1])
def test_the_fixed_point_converges_to_the_closed_form_where_the_taper_is_one(eye):
    # Below t0 minus a margin (the ray rises a little above the point), 0.5 m to 20 m away.
    p = points(4000, (-40.0, TAPER_FROM_DEG - 5.0), (0.5, 20.0))
    exact = horizon_dirs(p, eye, SEPARATION_M)
    assert np.max(angle_rad(ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG, iterations=40), exact)) < FLOAT_RAD
    error = angle_rad(ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG), exact)
    bound = ods_error_bound_rad(np.linalg.norm(p, axis=-1), SEPARATION_M)
    assert np.all(error <= bound + FLOAT_RAD)
    # The module docstring's figures at 1 m and 3 m.
    assert ods_error_bound_rad(1.0, SEPARATION_M) < 6e-6 and ods_error_bound_rad(3.0, SEPARATION_M) < 2.1e-8


def test_the_error_bound_holds_in_the_taper_band_too():
    p = points(4000, (TAPER_FROM_DEG - 5.0, 89.9), (0.5, 20.0), seed=1)
    for eye in (-1, 1):
        converged = ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG, iterations=60)
        # The converged direction solves P = o(d) + lambda d, lambda > 0.
        q = p - eye_offsets_m(converged, eye, SEPARATION_M, TAPER_FROM_DEG)
        assert np.max(angle_rad(q, converged)) < FLOAT_RAD
        error = angle_rad(ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG), converged)
        assert np.all(error <= ods_error_bound_rad(np.linalg.norm(p, axis=-1), SEPARATION_M) + FLOAT_RAD)


def test_the_closed_form_puts_the_right_eye_to_the_right():
    # A point straight ahead (+y) at the horizon, 2 m away: the right eye (at +x) sees it turned
    # toward -x (counter-clockwise seen from above), by asin(s / 2 / r); the left eye the other way.
    p = np.array([[0.0, 2.0, 0.0]])
    delta = math.asin(SEPARATION_M / 2.0 / 2.0)
    right, left = ods_dirs(p, EYE_SIGN["right"], SEPARATION_M, 45.0), ods_dirs(p, EYE_SIGN["left"], SEPARATION_M, 45.0)
    np.testing.assert_allclose(right[0], [-math.sin(delta), math.cos(delta), 0.0], atol=FLOAT_RAD)
    np.testing.assert_allclose(left[0], [math.sin(delta), math.cos(delta), 0.0], atol=FLOAT_RAD)
    # The eye sits to the right of its viewing direction.
    assert eye_offsets_m(right, +1, SEPARATION_M, 45.0)[0, 0] > 0.0
    disparity = math.degrees(angle_rad(left, right)[0])
    assert disparity == pytest.approx(float(horizon_disparity_deg(2.0, SEPARATION_M)), abs=1e-9)


def test_elevation_is_the_same_for_both_eyes_and_a_little_higher_than_mono():
    p = points(200, (5.0, 35.0), (0.5, 5.0), seed=2)
    elev = {eye: np.degrees(np.arcsin(horizon_dirs(p, eye, SEPARATION_M)[:, 2])) for eye in (-1, 0, 1)}
    np.testing.assert_allclose(elev[-1], elev[1], atol=1e-12)
    assert np.all(elev[1] > elev[0])


def test_mono_is_the_plain_direction():
    p = points(100, (-80.0, 90.0), (0.1, 1e6), seed=3)
    plain = p / np.linalg.norm(p, axis=-1, keepdims=True)
    np.testing.assert_array_equal(ods_dirs(p, 0, SEPARATION_M, TAPER_FROM_DEG), plain)
    np.testing.assert_array_equal(ods_dirs(p, 1, 0.0, TAPER_FROM_DEG), plain)


def test_points_at_infinity_show_no_disparity():
    p = points(100, (-60.0, 89.0), (1e15, 2e15), seed=4)
    plain = p / np.linalg.norm(p, axis=-1, keepdims=True)
    for eye in (-1, 1):
        assert np.max(angle_rad(ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG), plain)) < 1e-15
    assert horizon_disparity_deg(np.inf, SEPARATION_M) == 0.0


def test_the_taper_is_one_below_its_start_and_zero_at_the_zenith():
    elev = np.array([-90.0, 0.0, 44.9, 45.0, 67.5, 90.0])
    np.testing.assert_allclose(taper(elev, 45.0), [1.0, 1.0, 1.0, 1.0, 0.5, 0.0], atol=1e-15)
    t = taper(np.linspace(45.0, 90.0, 1001), 45.0)
    assert np.all(np.diff(t) <= 0.0)
    # Smooth at both ends: a slope of zero.
    assert (1.0 - taper(45.01, 45.0)) < 1e-6 and taper(89.99, 45.0) < 1e-6
    # At the zenith both eyes see the same direction; 0.02 deg from it, all but (the taper
    # falls as the square of the zenith angle: 3 (0.02 / 45)^2 x s / r = 1e-8 rad).
    p = np.array([[0.0, 0.0, 3.0], [0.001, 0.0, 3.0]])
    np.testing.assert_allclose(ods_dirs(p, -1, SEPARATION_M, 45.0), ods_dirs(p, 1, SEPARATION_M, 45.0), atol=2e-8)
    with pytest.raises(ValueError, match=r"taper_from_deg 90.0: must be in \[0, 90\)"):
        taper(0.0, 90.0)


def test_horizon_disparity_closed_form():
    assert float(horizon_disparity_deg(3.0, 0.064)) == pytest.approx(math.degrees(2.0 * math.asin(0.032 / 3.0)))
    np.testing.assert_allclose(horizon_disparity_deg(np.array([0.01, 0.0, -1.0]), 0.064), 180.0)


def test_comfort_separation():
    # The limit: the separation whose horizon disparity at the nearest distance is the comfort limit.
    s = comfort_separation_m(1.0, 3.0, 1.0)
    assert float(horizon_disparity_deg(3.0, s)) == pytest.approx(1.0, rel=1e-12)
    assert comfort_separation_m(0.064, 5.0, 1.0) == 0.064            # already comfortable
    assert comfort_separation_m(0.064, math.inf, 1.0) == 0.064       # nothing near
    assert comfort_separation_m(0.064, 0.0, 1.0) == 0.0              # something at the eye
    assert comfort_separation_m(0.064, -2.0, 1.0) == 0.0
    assert comfort_separation_m(0.064, 3.0, 0.0) == 0.0
    # Scene scales: a planet 1e7 m away allows a separation of ~1.7e5 m for a 1 deg disparity.
    assert comfort_separation_m(1e9, 1e7, 1.0) == pytest.approx(2e7 * math.sin(math.radians(0.5)))
    with pytest.raises(ValueError, match="not NaN"):
        comfort_separation_m(0.064, math.nan, 1.0)


def test_eye_signs_and_iterations():
    assert EYE_SIGN == {"left": -1, "right": 1, "mono": 0}
    assert ODS_ITERATIONS == 4
    # The GLSL twin uses the same count.
    from pathlib import Path

    glsl = (Path(__file__).resolve().parents[1] / "render" / "shaders" / "ods.glsl").read_text()
    assert f"const int ODS_ITERATIONS = {ODS_ITERATIONS};" in glsl
