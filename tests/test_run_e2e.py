"""`domectl run` end to end, as a user runs it: real processes, sockets, EGL, Skyfield."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from domectl.config import load_hall

ROOT = Path(__file__).resolve().parent.parent
WHEN = "2026-11-20T21:00:00Z"
SCALE = 0.03125          # 128 x 68 per projector, a 320 px domemaster: seconds on two cores


def _domectl(*args, **kw):
    return subprocess.run([sys.executable, "-m", "domectl", *args], cwd=ROOT, capture_output=True,
                          text=True, **kw)


def _node_processes(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "domectl" in line and "node" in line]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = _domectl("run", "--config", "config/lacoupole", "--headless", "--frames", "3",
                      "--scale", str(SCALE), "--out", str(out), "--time", WHEN, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, result


def test_run_writes_every_ig_the_dome_and_metrics(run_dir):
    out, result = run_dir
    hall = load_hall(ROOT / "config/lacoupole")
    for ig in hall.igs:
        image = np.asarray(Image.open(out / f"{ig.name}.png"))
        proj = hall.projector(ig.projector)
        assert image.shape == (round(proj.height_px * SCALE), round(proj.width_px * SCALE), 3)
        # Every projector sees stars at this time: its image is lit, not black.
        assert (image.max(axis=2) > 40).sum() >= 5, f"{ig.name}.png is (nearly) black"
    dome = np.asarray(Image.open(out / "dome.png"))
    assert dome.shape == (320, 320, 3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ok"] is True and metrics["frames"] == 3
    assert metrics["missed_deadlines"] == 0
    assert metrics["barrier_ms"]["p50"] > 0 and metrics["barrier_ms"]["p99"] >= metrics["barrier_ms"]["p50"]
    assert len(metrics["nodes"]) == 24
    assert all(n["swaps"] == 3 and n["render_ms"]["p50"] > 0 for n in metrics["nodes"])
    assert "24/24 IGs joined" in result.stdout
    assert not _node_processes(str(out)), "node processes left behind"


def test_bright_stars_are_where_skyfield_puts_them(run_dir):
    """The reconstructed dome shows the brightest stars at the positions Skyfield predicts."""
    from datetime import datetime
    from domectl.astro import star_directions
    from domectl.ephemeris import Ephemeris
    from domectl.projection import dome_from_enu, fisheye_uv, uv_to_pixel, enu_to_altaz
    from domectl.skydata import load_stars

    out, _ = run_dir
    hall = load_hall(ROOT / "config/lacoupole")
    site = hall.site
    sample = Ephemeris().sample(datetime.fromisoformat(WHEN.replace("Z", "+00:00")), site.latitude_deg,
                                site.longitude_deg, site.elevation_m)
    stars = load_stars()
    bright = np.argsort(stars.mag)[:40]
    enu = star_directions(stars.icrs_xyz[bright], stars.pm_xyz_rad_per_yr[bright], sample.years_since_epoch,
                          sample.beta_icrs, sample.enu_from_icrs)
    alt, _ = enu_to_altaz(enu)
    up = alt > 15.0
    assert up.sum() >= 10
    dome_dirs = enu[up] @ dome_from_enu(hall.dome.front_az_deg, 0.0, hall.dome.tilt_deg).T
    px = uv_to_pixel(fisheye_uv(dome_dirs), 320)
    luma = np.asarray(Image.open(out / "dome.png")).astype(float).mean(axis=2)
    background = np.median(luma)
    found = 0
    for x, y in px:
        c, r = int(round(x)), int(round(y))
        patch = luma[r - 1:r + 2, c - 1:c + 2]
        found += patch.max() > background + 60
    assert found >= 0.9 * len(px), f"only {found} of {len(px)} bright stars found where predicted"

    # The Moon and the bright planets that are up, each where the ephemeris puts it.
    bodies = [b for b in sample.bodies if b.mag < 1.5 and b.alt_deg > 15.0]
    assert {b.name for b in bodies} >= {"Moon"}, [b.name for b in bodies]
    for b in bodies:
        x, y = uv_to_pixel(fisheye_uv(np.asarray(b.enu)[None] @ dome_from_enu(
            hall.dome.front_az_deg, 0.0, hall.dome.tilt_deg).T), 320)[0]
        c, r = int(round(x)), int(round(y))
        assert luma[r - 1:r + 2, c - 1:c + 2].max() > background + 80, f"{b.name} missing at ({c}, {r})"


def test_ctrl_c_stops_every_node(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "domectl", "run", "--headless", "--frames", "100000",
                             "--scale", str(SCALE), "--igs", "1,2,3", "--out", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        lines.append(line)
        if "frame 3/" in line or time.monotonic() > deadline:
            break
    assert _node_processes(str(tmp_path)), "".join(lines)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("domectl run did not stop within 60 s of Ctrl-C")
    assert proc.returncode == 130
    time.sleep(0.5)
    assert not _node_processes(str(tmp_path)), "node processes left behind after Ctrl-C"


def test_run_plays_a_show_on_the_cluster(tmp_path):
    from domectl.status import status_path
    from test_show_master import SHOW

    show = tmp_path / "test.show"
    show.write_text(SHOW)
    result = _domectl("run", "--headless", "--frames", "3", "--scale", str(SCALE), "--igs", "1,2",
                      "--out", str(tmp_path / "out"), "--show", str(show), "--show-from", "1.5", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"show: Master test ({show}) playing from 1.5 s" in result.stdout
    hall = load_hall()
    status = json.loads(status_path(hall.name).read_text())
    assert status["show"]["path"] == str(show) and status["show"]["state"] == "playing"
    assert status["show"]["show_time_s"] == pytest.approx(1.5 + 3 / hall.timing.fps)
    assert status["frame"] == 2 and status["missed_deadlines"] == 0          # frames 0, 1, 2
