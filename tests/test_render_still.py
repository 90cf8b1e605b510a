"""`domectl render`'s frame against Skyfield: stars, planets and the Moon where Skyfield puts them.

The truth is Skyfield's full apparent place (set up from hip2.dat and DE421 by
the test, not by domectl), projected by the numpy twin of the dome projection;
the image is the one the CLI writes (master frame state -> DomeRenderer).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.ephemeris import Ephemeris
from domectl.projection import dome_from_enu, fisheye_uv, uv_to_pixel
from domectl.skydata import load_stars
from domectl.still import StillRequest, render_still, still_frame
from test_render_sky import CENTROID_TOLERANCE_PX, centroid, linear

TONIGHT = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)
SIZE = 2048


@pytest.fixture(scope="module")
def eph():
    return Ephemeris()


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def enu(alt, az) -> np.ndarray:
    a, z = np.radians(alt.degrees), np.radians(az.degrees)
    return np.stack([np.cos(a) * np.sin(z), np.cos(a) * np.cos(z), np.sin(a)], axis=-1)


def pixels(hall, state, enu_dirs) -> np.ndarray:
    """(N, 3) ENU -> (N, 2) (col, row) in the SIZE domemaster, through the numpy twin."""
    dome = dome_from_enu(state.view_az_deg, state.view_alt_deg, hall.dome.tilt_deg)
    return uv_to_pixel(fisheye_uv(np.atleast_2d(enu_dirs) @ dome.T), SIZE)


def observer(eph, hall):
    site = hall.site
    return eph.observer(eph.time(TONIGHT), site.latitude_deg, site.longitude_deg, site.elevation_m)[1]


def render(gl_ctx, hall, eph, layers, **changes):
    request = StillRequest(utc=TONIGHT, size_px=SIZE, layers=layers)
    state = dataclasses.replace(still_frame(hall, request, eph), **changes)
    return state, linear(render_still(gl_ctx, hall, state, request, load_stars()))


def test_bright_star_centroids_match_skyfield_at_2048(gl_ctx, eph, hall):
    from skyfield.api import Star

    from domectl.skydata import build

    # Only stars brighter than 4.5 are drawn, so that no faint neighbour pulls a centroid.
    state, lit = render(gl_ctx, hall, eph, ("stars",), limiting_mag_delta=4.5 - hall.render.limiting_mag)
    cols = build.parse_hip2(build.read_hip2().decode("ascii"))
    bright = np.flatnonzero(cols["hp_mag"] < 3.0)
    stars = Star(ra_hours=cols["ra_rad"][bright] * 12.0 / np.pi, dec_degrees=np.degrees(cols["dec_rad"][bright]),
                 ra_mas_per_year=cols["pmra_mas_per_yr"][bright], dec_mas_per_year=cols["pmdec_mas_per_yr"][bright],
                 parallax_mas=cols["parallax_mas"][bright], epoch=eph.ts.J(1991.25))
    alt, az, _ = observer(eph, hall).observe(stars).apparent().altaz()
    up = alt.degrees > 10.0
    truth = pixels(hall, state, enu(alt, az)[up])
    assert len(truth) >= 40
    errors_px = np.array([np.hypot(*(centroid(lit, c, r, radius_px=8) - (c, r))) for c, r in truth])
    # Close doubles (within the 17 px window) pull each other: all but a few are within tolerance.
    assert np.median(errors_px) < 0.1
    assert (errors_px < CENTROID_TOLERANCE_PX).mean() > 0.9


def test_planets_and_the_moon_are_where_skyfield_puts_them(gl_ctx, eph, hall):
    state, _ = render(gl_ctx, hall, eph, ("planets",))
    # A full Moon for the position test: its disc's centroid is then its centre.
    moon_full = tuple(b._replace(phase_angle_deg=0.0) if b.name == "Moon" else b for b in state.bodies)
    # The disc path (the textured sphere's placement is tested in tests/test_render_spheres.py
    # and tests/test_voyage_render.py): without spheres the Moon is the phase-lit disc.
    state, lit = render(gl_ctx, hall, eph, ("planets",), bodies=moon_full, spheres=())
    obs = observer(eph, hall)
    checked = []
    for name, key in (("Moon", "moon"), ("Saturn", "saturn barycenter"), ("Uranus", "uranus barycenter")):
        alt, az, _ = obs.observe(eph.planets[key]).apparent().altaz()
        assert alt.degrees > 10.0, f"{name} should be up on {TONIGHT}"
        (c, r), = pixels(hall, state, enu(alt, az))
        radius = 40 if name == "Moon" else 6
        error_px = np.hypot(*(centroid(lit, c, r, radius_px=radius) - (c, r)))
        assert error_px < CENTROID_TOLERANCE_PX, (name, error_px)
        checked.append(name)
    assert checked == ["Moon", "Saturn", "Uranus"]


def test_the_moons_lit_side_faces_the_sun(gl_ctx, eph, hall):
    # A close-up: a small rectangle of a 40960 px domemaster around the Moon (its disc ~120 px).
    # The disc path, as above.
    state = dataclasses.replace(still_frame(hall, StillRequest(utc=TONIGHT, layers=("planets",)), eph), spheres=())
    moon = next(b for b in state.bodies if b.name == "Moon")
    sun = next(b for b in state.bodies if b.name == "Sun")
    assert 20.0 < moon.phase_angle_deg < 160.0  # tonight's Moon is gibbous: a clear lit side
    dome = dome_from_enu(state.view_az_deg, state.view_alt_deg, hall.dome.tilt_deg)
    (u, v), = fisheye_uv(np.array(moon.enu)[None] @ dome.T)
    half = 0.005
    request = StillRequest(utc=TONIGHT, size_px=40960, layers=("planets",),
                           rect_uv=(u - half, v - half, u + half, v + half))
    lit = linear(render_still(gl_ctx, hall, state, request, load_stars()))
    n = lit.shape[0]

    def to_px(d):
        (uu, vv), = fisheye_uv(np.asarray(d)[None] @ dome.T)
        return np.array([(uu - (u - half)) / (2 * half) * n - 0.5, ((v + half) - vv) / (2 * half) * n - 0.5])

    centre = to_px(moon.enu)
    # The direction toward the Sun in the image: a small step from the Moon along the great circle.
    m, s = np.array(moon.enu), np.array(sun.enu)
    toward = s - (s @ m) * m
    step = m + 1e-4 * toward / np.linalg.norm(toward)
    sun_dir = to_px(step / np.linalg.norm(step)) - centre
    sun_dir /= np.linalg.norm(sun_dir)
    rows, cols = np.mgrid[0:n, 0:n]
    lit_centroid = np.array([(lit * cols).sum(), (lit * rows).sum()]) / lit.sum()
    lit_offset = lit_centroid - centre
    radius_px = 0.5 * np.radians(moon.angular_diameter_deg) * 40960 / np.pi
    assert np.linalg.norm(lit_offset) > 0.05 * radius_px  # the lit part is off-centre...
    cos_angle = lit_offset @ sun_dir / np.linalg.norm(lit_offset)
    assert cos_angle > math.cos(math.radians(5.0))  # ...toward the Sun
    # and the dark limb is dark: the pixel 80 % of a radius from the centre away from the Sun.
    dark = np.round(centre - 0.8 * radius_px * sun_dir).astype(int)
    bright = np.round(centre + 0.8 * radius_px * sun_dir).astype(int)
    assert lit[dark[1], dark[0]] < 0.05 < 0.5 < lit[bright[1], bright[0]]


GOLDEN_SCENES = {
    # name: (UTC, layers, language, view)
    "night_all_fr_256": (TONIGHT, "all", "fr", None),
    "sunset_256": (datetime(2026, 11, 20, 16, 5, tzinfo=timezone.utc), "default,cardinals", "en", (235.0, 0.0)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_SCENES))
def test_golden_domemasters(gl_ctx, eph, hall, tmp_failures, name):
    """Small whole-dome renders through every layer, against committed images (DOMECTL_UPDATE_GOLDEN=1)."""
    from domectl.layermix import parse_layers
    from test_render_sky import assert_matches_golden

    utc, layers, language, view = GOLDEN_SCENES[name]
    request = StillRequest(utc=utc, size_px=256, layers=parse_layers(layers), language=language,
                           view_az_deg=None if view is None else view[0], view_alt_deg=0.0 if view is None else view[1],
                           pointer="Ori")
    actual = render_still(gl_ctx, hall, still_frame(hall, request, eph), request, load_stars())
    assert_matches_golden(name, actual, tmp_failures)



def test_a_still_carries_the_zoom_to_the_frame(eph, hall):
    """`domectl render --zoom` reaches the FrameState (how a zoom draws: tests/test_render_zoom.py)."""
    when = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)
    assert still_frame(hall, StillRequest(utc=when), eph).zoom == 1.0
    assert still_frame(hall, StillRequest(utc=when, zoom=4.0), eph).zoom == 4.0


def test_a_blacked_out_still_is_black(eph, hall):
    when = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)
    request = StillRequest(utc=when, size_px=64, rect_uv=(0.0, 0.0, 1.0, 0.5))
    state = dataclasses.replace(still_frame(hall, request, eph), blackout=True)
    image = render_still(None, hall, state, request, catalog=None)     # drawn without GL at all
    assert image.shape == (32, 64, 3) and not image.any()
