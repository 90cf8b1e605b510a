"""`domectl status`: the master's frame and every IG's health, from another process."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes import NullLink, StillSky, T0
from domectl.config import load_hall
from domectl.errors import DomectlError
from domectl.master import Master, Scene
from domectl.protocol import Heartbeat
from domectl.status import STALE_AFTER_S, StatusError, format_status, read_status, status_path, write_status

ROOT = Path(__file__).resolve().parent.parent






@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMECTL_RUN_DIR", str(tmp_path))
    return tmp_path


def test_the_master_writes_frame_and_nodes(run_dir):
    hall = load_hall()
    path = status_path(hall.name)
    master = Master(hall, NullLink(), StillSky(), Scene(start_utc=T0), igs=(1, 2), deadline_ms=1.0,
                    status_file=path)
    master.barrier.hello(1, time.monotonic_ns())
    master.barrier.heartbeat(Heartbeat(1, 0, 59.5, 3.25, 2), time.monotonic_ns())
    for n in range(3):
        master.step(n)
    master.write_status(force=True)
    status = read_status(path)
    assert status["frame"] == 2
    assert status["stale"] is False and status["stopped"] is False
    nodes = {n["ig"]: n for n in status["nodes"]}
    assert set(nodes) == {1, 2}
    assert nodes[1]["online"] is True and nodes[2]["online"] is False
    assert nodes[1]["fps"] == pytest.approx(59.5) and nodes[1]["render_ms"] == pytest.approx(3.25)
    assert {"ig", "online", "fps", "render_ms", "missed"} <= set(nodes[2])
    assert "frame 2" in format_status(status)
    master.shutdown()
    assert read_status(path)["stopped"] is True


def test_a_status_without_a_master_says_so(run_dir):
    with pytest.raises(StatusError, match="is `domectl master`.*running"):
        read_status(status_path("Nowhere Hall"))
    assert issubclass(StatusError, DomectlError)


def test_an_old_status_is_stale(run_dir):
    path = run_dir / "x" / "status.json"
    write_status(path, {"frame": 5, "nodes": [], "updated_unix_s": 1000.0})
    assert read_status(path, now_unix_s=1000.0 + STALE_AFTER_S + 0.1)["stale"] is True
    path.write_text("{not json")
    with pytest.raises(StatusError, match="unreadable master status"):
        read_status(path)
    path.write_text(json.dumps({"frame": "five"}))
    with pytest.raises(StatusError, match="needs 'frame' and 'nodes'"):
        read_status(path)


def test_domectl_status_json_from_the_command_line(run_dir):
    hall = load_hall()
    master = Master(hall, NullLink(), StillSky(), Scene(start_utc=T0), igs=(3,), deadline_ms=1.0,
                    status_file=status_path(hall.name))
    master.step(0)
    master.write_status(force=True)
    env = {"DOMECTL_RUN_DIR": str(run_dir), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "domectl", "status", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["frame"] == 0 and status["nodes"][0]["ig"] == 3
    master.shutdown()
    result = subprocess.run([sys.executable, "-m", "domectl", "status"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "STOPPED" in result.stdout
