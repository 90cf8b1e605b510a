"""Test patterns: drawn right, carried by the FrameState, shown by the nodes, asked for by a technician."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from calibration.patterns import GREY_LINEAR, GRID_STEP_PX, PATTERNS, encode, parse_spec, pattern_image, shows
from domectl.config import load_hall
from domectl.errors import ConfigError
from domectl.frame import FrameState, Overlay, decode_frame, encode_frame

ROOT = Path(__file__).resolve().parents[1]
W, H = 1024, 540


def test_flat_fields_and_bars_are_exact():
    assert (pattern_image("white", W, H) == 255).all()
    assert (pattern_image("black", W, H) == 0).all()
    grey = pattern_image("grey", W, H, gamma=2.4)
    assert (grey == encode(GREY_LINEAR, 2.4)).all() and (grey / 255.0) ** 2.4 == pytest.approx(0.18, abs=0.003)
    bars = pattern_image("bars", W, H)
    row = bars[H // 2]
    centres = [row[int((k + 0.5) * W / 8)] for k in range(8)]
    assert [tuple(c) for c in centres] == [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
                                           (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]


def test_grid_dots_edges_and_id_are_where_they_should_be():
    grid = pattern_image("grid", W, H)
    lit_columns = np.nonzero((grid[H - 40] > 0).any(axis=1))[0]      # a row clear of the label
    assert {0, 64, 128, 256, 1023} <= set(lit_columns.tolist())
    assert grid[H - 40, 32].max() == 0                               # between lines: dark
    dots = pattern_image("dots", W, H)
    assert dots[GRID_STEP_PX * 3, GRID_STEP_PX * 5].max() == 255 and dots[GRID_STEP_PX * 3 + 32, 300].max() == 0
    edges = pattern_image("edges", W, H)
    assert edges[8, W // 4].tolist() == [255, 255, 0] and edges[H // 2, W - 9].tolist() == [255, 255, 0]
    a, b = pattern_image("id", W, H, projector_id="p03"), pattern_image("id", W, H, projector_id="p04")
    assert (a != b).any() and (a == (255, 255, 255)).all(axis=2).sum() > 1000     # big white letters
    labelled = pattern_image("crosshatch", W, H, projector_id="p07", ig_id=13, eye="left")
    assert (labelled[:40, :200] == (255, 200, 64)).all(axis=2).any()           # the id in the corner


def test_specs_name_a_pattern_and_optionally_projectors():
    assert parse_spec("grid") == ("grid", ())
    assert parse_spec("white:p01, p03") == ("white", ("p01", "p03"))
    assert shows("white:p01,p03", "p03") and not shows("white:p01,p03", "p02") and shows("grid", "p12")
    with pytest.raises(ConfigError, match="the patterns are"):
        parse_spec("plaid")
    assert set(PATTERNS) >= {"grid", "crosshatch", "dots", "bars", "white", "grey", "black", "id", "edges"}


def test_a_pattern_travels_in_the_frame_state():
    state = FrameState(frame=1, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.0,
                       longitude_deg=2.0, elevation_m=0.0, view_az_deg=180.0, view_alt_deg=0.0,
                       overlays=(Overlay("pattern", "grid:p01,p02", 0.0, 0.0),))
    assert decode_frame(encode_frame(state)).overlays == state.overlays


def test_the_cluster_shows_the_pattern_on_the_named_projector_and_black_elsewhere(tmp_path):
    """`domectl run`: master and IG processes over real ZeroMQ; p03's two IGs draw the grid
    exactly as calibration/patterns.py does, p05's IG (not named) is black."""
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "domectl", "run", "--headless", "--frames", "2", "--scale", "0.125",
                    "--igs", "5,6,9", "--pattern", "grid:p03", "--out", str(out)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    hall = load_hall()
    p03 = next(p for p in hall.projectors if p.id == "p03")
    for ig in (5, 6):
        shown = np.asarray(Image.open(out / f"ig{ig:02d}.png").convert("RGB"))
        expected = pattern_image("grid", shown.shape[1], shown.shape[0], projector_id="p03", ig_id=ig,
                                 eye=hall.ig(ig).eye, gamma=p03.gamma)
        assert np.array_equal(shown, expected)
    assert np.asarray(Image.open(out / "ig09.png")).max() == 0


def test_domectl_run_refuses_a_bad_pattern():
    r = subprocess.run([sys.executable, "-m", "domectl", "run", "--headless", "--pattern", "plaid"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "the patterns are" in r.stderr


def test_the_technician_asks_for_a_pattern_through_the_api_and_osc(hall_on_free_ports, tmp_path):
    from test_console_api import Live, post_raw

    from domectl.ephemeris import CachedEphemeris, Ephemeris

    _, hall = hall_on_free_ports
    live = Live(hall, CachedEphemeris(Ephemeris()), tmp_path)
    try:
        assert live.client.post("/api/calibration/pattern", {"pattern": "white", "projectors": ["p02"]}) \
            == {"pattern": "white:p02"}
        overlays = live.frame_after().overlays
        assert Overlay("pattern", "white:p02", 0.0, 0.0) in overlays
        token = live.services.control.token
        assert post_raw(live.port, "/api/calibration/pattern", b'{"pattern": "plaid"}', token)[0] == 400
        code, answer = post_raw(live.port, "/api/calibration/pattern", b'{"pattern": "grid", "projectors": ["p99"]}',
                                token)
        assert code == 400 and "no p99" in answer["error"]
        live.services.osc_control.handle("/domectl/pattern", [""])
        assert all(o.kind != "pattern" for o in live.frame_after().overlays)
        assert live.state()["pattern"] == ""
    finally:
        live.close()


def test_calibrate_pattern_commands(hall_on_free_ports, tmp_path):
    from test_poll_e2e import domectl, start_master, stop

    config, _ = hall_on_free_ports
    master = start_master(config)
    try:
        r = domectl("calibrate", "pattern", "crosshatch", "--projectors", "p01,p02", "--config", str(config))
        assert "pattern crosshatch:p01,p02 on the projectors" in r.stdout
        r = domectl("calibrate", "pattern", "--off", "--config", str(config))
        assert "the sky is back" in r.stdout
        r = domectl("calibrate", "pattern", "grid", "--projectors", "p42", "--config", str(config), check=False)
        assert r.returncode == 2 and "no p42" in r.stderr
    finally:
        stop(master)
    r = domectl("calibrate", "pattern", "id", "--projectors", "p01,p12", "--out", str(tmp_path / "png"))
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["p01.png", "p12.png"]
    assert Image.open(tmp_path / "png" / "p01.png").size == (4096, 2160)
