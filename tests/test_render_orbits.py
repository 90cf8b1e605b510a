"""Orbit lines (render/orbits.py): where the projection puts them, for each eye; dense where near;
the part at the observer left out; colours per body."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_render_spheres import dome_view, draw

from domectl.frame import OrbitView
from domectl.stereo import horizon_dirs
from render.orbits import (
    DEFAULT_ORBIT_RGB,
    ORBIT_BASE_SAMPLES,
    ORBIT_RGB,
    ORBIT_STEP_DEG,
    eye_gap_m,
    orbit_anomalies,
    orbit_polylines,
    orbit_style,
)

SEPARATION_M = 0.064
#: The ring's measured radius vs the predicted one, pixels (a 1 px antialiased line).
RING_RADIUS_TOLERANCE_PX = 0.3


def ring(radius_m: float, height_m: float, name: str = "moon") -> OrbitView:
    """A horizontal circle about the observer (ENU), ``height_m`` above them."""
    return OrbitView(name, (0.0, 0.0, height_m), (radius_m, 0.0, 0.0), (0.0, radius_m, 0.0))


def step_deg(points: np.ndarray) -> np.ndarray:
    p, q = points[:-1], points[1:]
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(p, q), axis=-1), np.sum(p * q, axis=-1)))


@pytest.mark.parametrize("eye", [-1, 0, 1])
def test_a_circle_renders_where_the_projection_puts_it(gl_ctx, eye):
    size = 512
    orbit = ring(5.0, 2.0)
    view = dome_view(size, eye=eye, separation_m=SEPARATION_M, orbits=[orbit])
    image = draw(gl_ctx, view, ["orbits"])
    light = ((image.astype(float) / 255.0) ** 2.2).sum(axis=-1)
    rows, cols = np.nonzero(light > 0)
    centre = size / 2.0 - 0.5
    radius_px = np.hypot(cols - centre, rows - centre)
    measured = np.sum(radius_px * light[rows, cols]) / np.sum(light[rows, cols])
    # The closed form (tau = 1 below 45 deg): every point at elevation atan2(2, sqrt(25 - a^2)).
    a = 0.5 * SEPARATION_M * abs(eye)
    elev = math.atan2(2.0, math.sqrt(25.0 - a * a))
    expected = (math.pi / 2.0 - elev) / math.pi * size
    assert measured == pytest.approx(expected, abs=RING_RADIUS_TOLERANCE_PX)
    # All round: every 10 deg sector of the domemaster holds some of the line.
    sectors = np.floor(np.degrees(np.arctan2(rows - centre, cols - centre)) % 360.0 / 10.0)
    assert len(np.unique(sectors)) == 36
    assert np.max(np.abs(radius_px - expected)) < 2.0
    # The numpy sampling agrees with the closed form too.
    line, = orbit_polylines(view, orbit)
    sample = view.dome_from_enu @ np.array([5.0, 0.0, 2.0])            # E = 0, in the dome frame
    np.testing.assert_allclose(line[0], horizon_dirs(sample[None], eye, SEPARATION_M)[0], atol=1e-12)


def test_the_part_at_the_observer_is_left_out(gl_ctx):
    # An orbit through the observer in the vertical plane x = 0 (front, zenith, back of the dome):
    # drawn whole it would join "just behind" and "just ahead" with a chord across the dome; left
    # out near the eye, it stays on the front-back line of the domemaster.
    size = 256
    orbit = OrbitView("iss", (0.0, 0.0, 10.0), (0.0, 0.0, -10.0), (0.0, 10.0, 0.0))
    view = dome_view(size, view_az_deg=0.0, orbits=[orbit])
    runs = orbit_polylines(view, orbit)
    assert len(runs) == 1
    gap = eye_gap_m(orbit)
    assert gap == pytest.approx(0.1)
    image = draw(gl_ctx, view, ["orbits"])
    rows, cols = np.nonzero(image.max(axis=-1) > 0)
    assert len(rows) > size // 2
    assert np.max(np.abs(cols - (size / 2.0 - 0.5))) < 2.0


def test_sampling_is_dense_near_the_observer_and_sparse_far_away():
    near = OrbitView("iss", (0.0, 0.0, 10.0), (0.0, 0.0, -10.5), (0.0, 10.5, 0.0))   # passes 0.5 m by
    anomalies = orbit_anomalies(near)
    centre, a, b = (np.asarray(v) for v in (near.centre_m, near.axis_a_m, near.axis_b_m))
    points = centre + np.cos(anomalies)[:, None] * a + np.sin(anomalies)[:, None] * b
    assert np.max(step_deg(points)) <= ORBIT_STEP_DEG + 1e-9
    assert len(anomalies) > ORBIT_BASE_SAMPLES + 100                # refined where it passes by
    # The Moon's orbit seen from the Earth: every base step is already short.
    moon = OrbitView("moon", (-2.1e7, 0.0, 0.0), (3.84e8, 0.0, 0.0), (0.0, 3.2e8, 2.1e8))   # e = 0.055
    assert len(orbit_anomalies(moon)) == ORBIT_BASE_SAMPLES + 1
    assert orbit_anomalies(moon)[0] == 0.0 and orbit_anomalies(moon)[-1] == pytest.approx(2.0 * np.pi)


def test_a_far_orbit_is_the_same_for_both_eyes(gl_ctx):
    moon = OrbitView("moon", (0.0, 0.0, 0.0), (3.84e8, 0.0, 1.0e8), (0.0, 3.84e8, 0.0))
    left = draw(gl_ctx, dome_view(256, eye=-1, separation_m=SEPARATION_M, orbits=[moon]), ["orbits"])
    right = draw(gl_ctx, dome_view(256, eye=1, separation_m=SEPARATION_M, orbits=[moon]), ["orbits"])
    assert left.max() > 50
    np.testing.assert_array_equal(left, right)


def test_colours_and_opacity(gl_ctx):
    assert orbit_style("Mars").rgb == ORBIT_RGB["mars"]
    assert orbit_style("ceres").rgb == DEFAULT_ORBIT_RGB
    view = dome_view(256, orbits=[ring(5.0, 2.0, "mars"), ring(5.0, 4.0, "moon")])
    image = draw(gl_ctx, view, ["orbits"]).astype(int)
    reddish = (image[..., 0] > image[..., 2] + 40).sum()
    grey = ((image[..., 0] > 40) & (np.abs(image[..., 0] - image[..., 2]) < 8)).sum()
    assert reddish > 100 and grey > 100
    assert draw(gl_ctx, view, {"orbits": 0.0}).max() == 0
    none = draw(gl_ctx, dome_view(256), ["orbits"])
    assert none.max() == 0
    bad = OrbitView("x", (math.nan, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    assert orbit_polylines(view, bad) == []
