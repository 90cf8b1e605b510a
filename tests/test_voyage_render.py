"""The voyage end to end: master (ephemeris, voyage) -> FrameState -> the node's renderer.

The Moon seen from a point near it has the phase the ephemeris predicts (Skyfield's own
vectors, not ours), and a near model shows the disparity the closed form predicts while the
stars show none, through the same path a node takes.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.layermix import LayerMix
from domectl.master import Master, Scene
from domectl.pipeline import render_frame
from domectl.skydata import load_stars
from domectl.voyage import Parked, Point, Sky, look_frame, view_look
from render.compose import DomeRenderer
from render.image import read_rgb

#: Near full Moon from the Earth that night; seen from the point below, a half Moon.
UTC = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
SIZE = 1024
ZOOM = 8.0
#: The lit fraction of a textured disc, counted in pixels of a 100 px disc with a soft terminator.
PHASE_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def eph():
    e = Ephemeris()
    yield CachedEphemeris(e)
    e.close()


@pytest.fixture(scope="module")
def hall():
    return load_hall("config/lacoupole")


def _moon_from(master, eph, offset_m):
    """Park the observer at ``offset_m`` (ICRS) from the Moon, looking at it from the sweet spot."""
    from domectl.voyage import Voyage

    state0 = master.frame_state(0)
    sky = Sky(eph, state0.tt_jd)
    look, up = view_look(master.scene.view_az_deg, master.scene.view_alt_deg, hall_tilt(master))
    frame = look_frame(-np.asarray(offset_m), look, up)
    master.voyage = Voyage(eph)
    master.voyage.motion = Parked(Point("Moon", tuple(offset_m)), tuple(frame.ravel()))
    return sky


def write_png_for_people(rgb, name: str) -> None:
    from pathlib import Path

    from render.image import save_png

    out = Path("out/test-artifacts")
    out.mkdir(parents=True, exist_ok=True)
    save_png(out / name, rgb.astype(np.uint8))


def hall_tilt(master) -> float:
    return master.hall.dome.tilt_deg


def test_the_moon_near_it_shows_the_phase_the_ephemeris_predicts(gl_ctx, eph, hall):
    master = Master(hall, None, eph, Scene(start_utc=UTC, rate=0.0, zoom=ZOOM, layers=LayerMix(on=("planets",))),
                    igs=())
    t = eph.eph.ts.from_datetime(UTC)
    moon = eph.eph.planets["moon"].at(t).position.m
    sun = eph.eph.planets["sun"].at(t).position.m
    earth = eph.eph.planets["earth"].at(t).position.m
    # 60,000 km from the Moon, at right angles to the Sun: a half Moon (the Earth sees it nearly full).
    to_sun = (sun - moon) / np.linalg.norm(sun - moon)
    side = np.cross(to_sun, [0.0, 0.0, 1.0])
    offset = 6.0e7 * side / np.linalg.norm(side)
    _moon_from(master, eph, offset)
    state = master.frame_state(0)
    here = moon + offset
    cos_phase = (sun - moon) @ (here - moon) / np.linalg.norm(sun - moon) / np.linalg.norm(here - moon)
    predicted = 0.5 * (1.0 + cos_phase)
    from_earth = 0.5 * (1.0 + (sun - moon) @ (earth - moon) / np.linalg.norm(sun - moon) / np.linalg.norm(earth - moon))
    assert from_earth > 0.9 and abs(predicted - 0.5) < 0.05       # the point of the test: not the Earth's phase

    renderer = DomeRenderer(gl_ctx, load_stars())
    try:
        render_frame(renderer, state, hall, (0.0, 0.0, 1.0, 1.0), (SIZE, SIZE))
        rgb = read_rgb(renderer.framebuffer).astype(float)
    finally:
        renderer.release()
    radius_deg = math.degrees(math.asin(1737.4e3 / np.linalg.norm(offset)))
    radius_px = radius_deg * SIZE / 180.0 * ZOOM                  # at the zoom centre, magnified ZOOM times
    # The fisheye (azimuthal equidistant) keeps radial scale and stretches tangentially by
    # theta / sin(theta): 1.21 at the zoom centre, 60 deg from the zenith.
    theta = math.radians(60.0)
    disc_px = math.pi * radius_px ** 2 * theta / math.sin(theta)
    assert radius_px > 40
    # Only the Moon's neighbourhood: the Earth and the Sun are in this sky too.
    from domectl.projection import ZOOM_CENTRE_DOME, fisheye_uv

    (u, v), = fisheye_uv(np.asarray(ZOOM_CENTRE_DOME)[None])
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    near = np.hypot(cols + 0.5 - u * SIZE, rows + 0.5 - (1.0 - v) * SIZE) < 1.2 * radius_px
    lit = (rgb.max(axis=2) > 10.0) & near
    write_png_for_people(rgb, "moon_half_from_60000km.png")
    assert lit.sum() / disc_px == pytest.approx(predicted, abs=PHASE_TOLERANCE)


def test_a_near_model_has_disparity_and_the_stars_none(gl_ctx, eph, hall):
    from domectl.placement import place_model
    from domectl.stereo import horizon_dirs
    from domectl.projection import fisheye_uv

    master = Master(hall, None, eph, Scene(start_utc=UTC, rate=0.0, layers=LayerMix(on=("stars", "models"))), igs=())
    # The spacecraft 6 m in front of the audience, 10 deg up: left and right eyes see it apart.
    master.scene.models = (place_model("spacecraft", on_dome=True, az_deg=20.0, elev_deg=10.0, distance_m=6.0,
                                       scale=0.3),)
    state = master.frame_state(0)
    assert state.eye_separation_m == pytest.approx(hall.stereo.eye_separation_m)
    renderer = DomeRenderer(gl_ctx, load_stars())
    images = {}
    try:
        for eye in (-1, 1):
            for layers in (("models",), ("stars",)):
                shown = dataclasses.replace(state, layers=tuple((n, 1.0) for n in layers))
                render_frame(renderer, shown, hall, (0.0, 0.0, 1.0, 1.0), (SIZE, SIZE), eye)
                images[eye, layers[0]] = read_rgb(renderer.framebuffer).astype(float).copy()
    finally:
        renderer.release()
    assert np.array_equal(images[-1, "stars"], images[1, "stars"])          # stars: no disparity at all

    def centroid(img):
        w = img.max(axis=2)
        rows, cols = np.nonzero(w > 5)
        weight = w[rows, cols]
        return np.array([(cols * weight).sum(), (rows * weight).sum()]) / weight.sum()

    shift = centroid(images[1, "models"]) - centroid(images[-1, "models"])
    position = np.asarray(state.models[0].position_m)[None]
    expected = [fisheye_uv(horizon_dirs(position, eye, state.eye_separation_m))[0] * SIZE for eye in (-1, 1)]
    expected_shift = (expected[1] - expected[0]) * np.array([1.0, -1.0])      # image rows grow downward
    # The model's centroid is not its origin, but both eyes see it from nearly the same side.
    assert np.linalg.norm(shift - expected_shift) < 0.5
    assert np.linalg.norm(expected_shift) > 3.0
