"""A show from the command line: `domectl show load/seek/status/stop` on a running `domectl master`,
its poll answered by Debian's oscsend, the branch taken by the winning option."""

from __future__ import annotations

import json
import time

import pytest

from test_poll_e2e import OSCSEND, domectl, start_master, stop, vote
from test_show_master import SHOW


def show_status(config) -> dict | None:
    return json.loads(domectl("show", "status", "--config", str(config), "--json").stdout)


def wait_for(config, what, predicate, timeout_s=20.0) -> dict:
    end = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < end:
        status = show_status(config)
        if status is not None and predicate(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"the show never got to {what}: {status}")


@pytest.mark.skipif(OSCSEND is None, reason="liblo-tools' oscsend is not installed (sh dev.sh setup installs it)")
def test_a_show_plays_in_the_master_and_branches_on_the_vote_boxes(hall_on_free_ports, tmp_path):
    config, hall = hall_on_free_ports
    show = tmp_path / "test.show"
    show.write_text(SHOW)
    master = start_master(config)
    try:
        assert show_status(config) is None
        loaded = json.loads(domectl("show", "load", str(show), "--config", str(config), "--json").stdout)
        assert loaded["state"] == "paused" and loaded["show_time_s"] == 0.0 and loaded["title"] == "Master test"
        domectl("show", "seek", "4.5", "--config", str(config))
        human = domectl("show", "play", "--config", str(config)).stdout
        assert "Master test" in human and "playing" in human
        wait_for(config, "its poll", lambda s: s["poll"] == "pick")
        poll = json.loads(domectl("poll", "status", "--config", str(config), "--json").stdout)
        assert poll["open"] and poll["question"] == "Où aller ?" and poll["options"] == ["1", "2"]
        for seat, button in [(1, 2), (2, 2), (3, 1)]:
            vote(hall.osc.vote_port, seat, button)
        status = wait_for(config, "the branch", lambda s: "pick" in s["poll_results"])
        assert status["poll_results"] == {"pick": "2"}
        status = wait_for(config, "the venus section", lambda s: s["label"] == "venus")
        overall = json.loads(domectl("status", "--config", str(config), "--json").stdout)
        assert overall["show"]["path"] == str(show) and overall["poll"]["close_reason"] == "show"

        refused = domectl("show", "seek", "nowhere", "--config", str(config), check=False)
        assert refused.returncode != 0 and "nowhere" in refused.stderr
        bad = tmp_path / "bad.show"
        bad.write_text(SHOW.replace("00:04   view 200 30 over 2", "00:04   veiw 200 30"))
        refused = domectl("show", "load", str(bad), "--config", str(config), check=False)
        assert refused.returncode != 0 and "bad.show:12:9" in refused.stderr
        assert show_status(config)["path"] == str(show)                  # the show playing carries on

        assert "stopped" in domectl("show", "stop", "--config", str(config)).stdout
        assert show_status(config) is None
    finally:
        stop(master)


def test_show_control_needs_the_token(hall_on_free_ports, tmp_path):
    config, _ = hall_on_free_ports
    master = start_master(config)
    try:
        refused = domectl("show", "play", "--config", str(config), "--token", "wrong", check=False)
        assert refused.returncode != 0 and "wrong control token" in refused.stderr
        refused = domectl("show", "play", "--config", str(config), check=False)
        assert refused.returncode != 0 and "no show is loaded" in refused.stderr
    finally:
        stop(master)
