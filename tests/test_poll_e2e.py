"""Audience polls end to end: `domectl master`, `domectl poll`, Debian's oscsend as the vote boxes.

The master runs as a user runs it (a subprocess, no nodes: the poll does not
need them), the votes come from liblo's ``oscsend`` (a client that is not
this project's), and the tallies are read back through `domectl poll status
--json` and `domectl status --json`. Then the master is killed with SIGKILL
in the middle of the poll and restarted: the poll is still open with the
same tallies, from the vote log.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OSCSEND = shutil.which("oscsend")


def domectl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "domectl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=check)


def start_master(config: Path) -> subprocess.Popen:
    if not (config / "keys").is_dir():
        domectl("keys", "--config", str(config))
    proc = subprocess.Popen([sys.executable, "-m", "domectl", "master", "--config", str(config),
                             "--join-timeout", "0.2"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    end = time.monotonic() + 60
    said = []
    while time.monotonic() < end:
        line = proc.stdout.readline()
        said.append(line)
        if "control API on" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("the master never started its control API: " + "".join(said))


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def vote(port: int, seat: int, button: int) -> None:
    subprocess.run([OSCSEND, "127.0.0.1", str(port), "/vote", "ii", str(seat), str(button)], check=True,
                   timeout=10)


def poll_status(config: Path) -> dict:
    return json.loads(domectl("poll", "status", "--config", str(config), "--json").stdout)


def wait_for_tally(config: Path, presses: int) -> dict:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        status = poll_status(config)
        if status["presses"] >= presses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"only {status['presses']} of {presses} presses counted: {status}")


@pytest.mark.skipif(OSCSEND is None, reason="liblo-tools' oscsend is not installed (sh dev.sh setup installs it)")
def test_a_poll_from_the_command_line_counts_oscsend_votes_and_survives_kill_9(hall_on_free_ports, tmp_path):
    config, hall = hall_on_free_ports
    port = hall.osc.vote_port
    master = start_master(config)
    try:
        opened = domectl("poll", "open", "--config", str(config), "--question", "fr=Quelle planète ?",
                         "--question", "en=Which planet?", "--options", "Mars,Jupiter,Saturne", "--json")
        assert json.loads(opened.stdout)["open"] is True
        # Seats 1-6 vote; seat 2 changes its mind (last press wins); seat 999 does not exist.
        presses = [(1, 1), (2, 3), (3, 2), (4, 2), (5, 2), (6, 3), (2, 1), (999, 1), (7, 9)]
        for seat, button in presses:
            vote(port, seat, button)
        status = wait_for_tally(config, presses=7)
        assert status["question"] == "Quelle planète ?"        # the hall's default language
        assert status["tally"] == {"Mars": 2, "Jupiter": 3, "Saturne": 1}
        assert status["rejected"]["unknown_seat"] == 1 and status["rejected"]["invalid_choice"] == 1
        assert status["on_dome"] is True
        # `domectl status --json` carries the same poll (from the status file).
        time.sleep(0.6)
        overall = json.loads(domectl("status", "--config", str(config), "--json").stdout)
        assert overall["poll"]["tally"] == status["tally"]
        human = domectl("poll", "status", "--config", str(config), "--png", str(tmp_path / "tally.png")).stdout
        assert "Jupiter" in human and "seats voted: 6 of 134" in human
        assert (tmp_path / "tally.png").stat().st_size > 1000

        master.send_signal(signal.SIGKILL)
        master.wait(10)
        master = start_master(config)
        restored = poll_status(config)
        assert restored["open"] is True and restored["poll"] == status["poll"]
        assert restored["tally"] == status["tally"] and restored["seats_voted"] == 6
        assert restored["on_dome"] is True
        vote(port, 8, 1)
        assert wait_for_tally(config, presses=8)["tally"] == {"Mars": 3, "Jupiter": 3, "Saturne": 1}

        closed = json.loads(domectl("poll", "close", "--config", str(config), "--json").stdout)
        assert closed["open"] is False and closed["close_reason"] == "operator"
        assert closed["winner"] == "Mars"                       # a tie goes to the first option
        vote(port, 9, 2)
        time.sleep(0.3)
        assert poll_status(config)["rejected"]["no_open_poll"] >= 1
    finally:
        stop(master)


def test_control_needs_the_token_and_bad_requests_get_4xx(hall_on_free_ports):
    from domectl.control import ControlClient, ControlError, read_token
    from domectl.status import run_dir

    config, hall = hall_on_free_ports
    master = start_master(config)
    try:
        url_host, port = hall.master.host, hall.master.http_port
        with pytest.raises(ControlError, match="401"):
            ControlClient(url_host, port, None).post("/api/poll/open", {"question": "Q", "options": ["A", "B"]})
        with pytest.raises(ControlError, match="403 wrong control token"):
            ControlClient(url_host, port, "x" * 32).post("/api/poll/close", {})
        good = ControlClient(url_host, port, read_token(None, run_dir(hall.name)))
        with pytest.raises(ControlError, match="400 poll open: needs options"):
            good.post("/api/poll/open", {"question": "Q"})
        with pytest.raises(ControlError, match="409 .*options"):
            good.post("/api/poll/open", {"question": "Q", "options": ["only one"]})
        with pytest.raises(ControlError, match="404 no /api/nothing"):
            good.get("/api/nothing")
        with pytest.raises(ControlError, match="409 poll close: no poll is open"):
            good.post("/api/poll/close", {})
        import urllib.error
        import urllib.request

        req = urllib.request.Request(good.base + "/api/poll/open", data=b"not json", method="POST",
                                     headers={"Authorization": f"Bearer {good.token}"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 400 and "not UTF-8 JSON" in e.value.read().decode()
        # The master is still there and answers.
        state = good.get("/api/state")
        assert isinstance(state["frame"], int) and len(state["nodes"]) == 24
    finally:
        stop(master)


def test_poll_without_a_master_says_what_to_start(hall_on_free_ports):
    config, _ = hall_on_free_ports
    result = domectl("poll", "status", "--config", str(config), check=False)
    assert result.returncode != 0
    assert "start `domectl master`" in result.stderr


@pytest.mark.skipif(OSCSEND is None, reason="liblo-tools' oscsend is not installed (sh dev.sh setup installs it)")
def test_poll_status_watch_shows_the_tally_live(hall_on_free_ports):
    config, hall = hall_on_free_ports
    master = start_master(config)
    watcher = None
    try:
        domectl("poll", "open", "--config", str(config), "--question", "Encore ?", "--options", "Oui,Non")
        watcher = subprocess.Popen([sys.executable, "-m", "domectl", "poll", "status", "--watch", "--json",
                                    "--config", str(config)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        first = json.loads(watcher.stdout.readline())
        assert first["open"] and first["tally"] == {"Oui": 0, "Non": 0}
        vote(hall.osc.vote_port, 4, 2)
        second = json.loads(watcher.stdout.readline())           # printed when the tally changed
        assert second["tally"] == {"Oui": 0, "Non": 1}
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
        stop(master)
