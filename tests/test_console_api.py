"""The console's REST API and the OSC control surfaces, over real sockets, on a live master.

A real Master runs live at the hall's fps in a thread (no nodes: each frame
swaps at once) with the real services: HTTP on a free port, the OSC control
port fed by Debian's ``oscsend`` (liblo, a client that is not this project's).
Every change is read back twice: in ``GET /api/state`` and in the next
FrameState the nodes would get (``GET /api/frame``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from domectl.control import ControlClient, ControlError
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.frame import decode_frame
from domectl.master import Master, Scene
from domectl.services import start_services
from tests.fakes import T0, NullLink

OSCSEND = shutil.which("oscsend")


@pytest.fixture(scope="module")
def ephemeris():
    return CachedEphemeris(Ephemeris())


class Live:
    def __init__(self, hall, ephemeris, tmp_path):
        self.master = Master(hall, NullLink(), ephemeris, Scene(start_utc=T0, language="en"), igs=(), fps=60.0)
        self.services = start_services(hall, self.master, tmp_path / "keys", preview=False)
        self.port = self.services.control.port
        self.client = ControlClient("127.0.0.1", self.port, self.services.control.token)
        self.osc_port = self.services.osc_control.port
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self.master.run, args=(None,),
                                       kwargs={"lockstep": False, "should_stop": self._stop.is_set}, daemon=True)
        self.thread.start()
        self.frame_after()

    def frame_after(self, timeout_s: float = 10.0):
        """The first FrameState computed after now (a command's effect is in it)."""
        start = self.master.barrier.frame
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                state = decode_frame(self.raw("/api/frame"))
            except urllib.error.HTTPError as e:        # 404 before the first frame
                assert e.code == 404
                state = None
            if state is not None and state.frame >= start + 2:
                return state
            time.sleep(0.01)
        raise AssertionError("no new frame")

    def raw(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return resp.read()

    def state(self) -> dict:
        return self.client.get("/api/state")

    def close(self):
        self._stop.set()
        self.thread.join(5)
        self.services.stop()


@pytest.fixture
def live(hall_on_free_ports, ephemeris, tmp_path):
    _, hall = hall_on_free_ports
    lv = Live(hall, ephemeris, tmp_path)
    yield lv
    lv.close()


def post_raw(port: int, path: str, body: bytes, token: str | None) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_each_control_reaches_the_state_and_the_next_frame(live):
    c = live.client
    c.post("/api/time/rate", {"rate": 600})
    a = live.frame_after()
    b = live.frame_after()
    assert live.state()["time"]["rate"] == 600.0
    assert (b.tt_jd - a.tt_jd) * 86400 / (b.show_time_s - a.show_time_s) == pytest.approx(600.0, rel=1e-3)

    c.post("/api/layer", {"name": "constellation-lines", "on": True, "fade_s": 0})
    assert live.frame_after().layer("constellation-lines") == 1.0
    assert {"name": "constellation-lines", "opacity": 1.0, "on": True} in live.state()["layers"]

    c.post("/api/view", {"az_deg": 90, "alt_deg": 10, "zoom": 2})
    state = live.frame_after()
    assert (state.view_az_deg, state.view_alt_deg, state.zoom) == (90.0, 10.0, 2.0)

    answer = c.post("/api/goto", {"target": "Jupiter"})
    assert answer["target"] == "jupiter" and answer["arrives_in_s"] > 0
    assert live.frame_after().pointer == "jupiter"
    assert live.state()["view"]["moving"] is True

    c.post("/api/place", {"name": "paris"})
    assert live.frame_after().latitude_deg == pytest.approx(48.857, abs=0.01)
    c.post("/api/language", {"language": "fr"})
    assert live.frame_after().language == "fr"

    c.post("/api/blackout", {"fade_s": 0})
    assert live.frame_after().blackout and live.state()["blackout"]["level"] == 1.0
    c.post("/api/restore", {"fade_s": 0})
    assert not live.frame_after().blackout


def test_reading_is_open_and_control_needs_the_token(live):
    assert live.state()["controlled_by"] == "operator"
    assert post_raw(live.port, "/api/time/rate", b'{"rate": 2}', None)[0] == 401
    assert post_raw(live.port, "/api/time/rate", b'{"rate": 2}', "wrong-token-wrong-token")[0] == 403
    assert live.state()["time"]["rate"] == 1.0


@pytest.mark.parametrize("path, body, status, message", [
    ("/api/time/rate", b'{"rate": "fast"}', 400, "rate must be a number"),
    ("/api/time/rate", b'{"rate": 1e9}', 400, "rate"),
    ("/api/time/rate", b'{"speed": 2}', 400, "unknown field(s) speed"),
    ("/api/time/rate", b'[1]', 400, "JSON object"),
    ("/api/time/rate", b'{"rate": NaN}', 400, "NaN"),
    ("/api/time/set", b'{"utc": "tomorrow"}', 400, "ISO 8601"),
    ("/api/time/set", b'{"utc": "1200-01-01T00:00:00Z"}', 409, ""),
    ("/api/view", b'{"alt_deg": 120}', 400, "alt_deg"),
    ("/api/layer", b'{"name": "nebulae", "on": true}', 400, "unknown layer"),
    ("/api/layer", b'{"on": true}', 400, "needs name"),
    ("/api/goto", b'{"target": "Vulcan"}', 409, "no object called 'Vulcan'"),
    ("/api/place", b'{"name": "atlantis"}', 409, "no place called"),
    ("/api/place", b'{"latitude_deg": 12}', 400, "needs longitude_deg"),
    ("/api/language", b'{"language": "xx"}', 400, "the hall speaks"),
    ("/api/blackout", b'{"fade_s": -1}', 400, "fade_s"),
    ("/api/voyage/fly", b'{"target": "krypton"}', 400, "target: 'krypton' is not a place to fly to"),
    ("/api/voyage/fly", b'{"target": "moon", "distance_km": 100}', 400, "inside it"),
    ("/api/voyage/fly", b'{}', 400, "needs target"),
    ("/api/voyage/orbit", b'{}', 409, "fly to a body first"),
    ("/api/stereo", b'{"separation": "wide"}', 400, "separation"),
    ("/api/model", b'{"name": "tardis"}', 400, "no model 'tardis'"),
])
def test_malformed_or_refused_requests_get_a_4xx_naming_the_problem(live, path, body, status, message):
    code, answer = post_raw(live.port, path, body, live.services.control.token)
    assert (code, message in answer["error"]) == (status, True), answer
    assert live.thread.is_alive()


def test_while_a_show_plays_the_operator_cannot_move_the_sky_but_can_black_out(live):
    from pathlib import Path

    import shows

    live.client.post("/api/show/load", {"path": str(Path(shows.__file__).parent / "live-sky-tour.show")})
    with pytest.raises(ControlError, match="409 view: the show"):
        live.client.post("/api/view", {"d_az_deg": 10})
    live.client.post("/api/blackout", {"fade_s": 0})
    assert live.frame_after().blackout
    assert live.state()["controlled_by"] == "show"


def test_search_places_shows_and_frame(live):
    results = live.client.get("/api/search?q=bet&limit=3")["results"]
    assert results[0]["key"] == "HIP 27989"
    with pytest.raises(ControlError, match="400"):
        live.client.get("/api/search?q=bet&limit=lots")
    places = live.client.get("/api/places")["places"]
    assert {"paris", "hall", "peenemunde"} <= {p["name"] for p in places}
    titles = [s["title"] for s in live.client.get("/api/shows")["shows"]]
    assert len(titles) >= 2
    assert decode_frame(live.raw("/api/frame")).frame > 0


def osc(port: int, address: str, types: str = "", *args) -> None:
    subprocess.run([OSCSEND, "127.0.0.1", str(port), address, types, *map(str, args)], check=True, timeout=10)


def wait_for(predicate, timeout_s: float = 10.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(OSCSEND is None, reason="oscsend (liblo-tools) missing: run `sh dev.sh setup`")
def test_osc_control_messages_change_the_same_state(live):
    port = live.osc_port
    osc(port, "/domectl/time/rate", "f", 60)
    assert wait_for(lambda: live.state()["time"]["rate"] == 60.0)
    osc(port, "/domectl/layer/constellation-lines", "f", 1)
    assert wait_for(lambda: live.frame_after().layer("constellation-lines") > 0)
    osc(port, "/domectl/goto", "s", "saturn")
    assert wait_for(lambda: live.state()["pointer"] == "saturn")
    osc(port, "/domectl/view/turn", "ff", 5, 0)
    osc(port, "/domectl/panic", "f", 0)                # a release: nothing happens
    osc(port, "/domectl/panic", "f", 1)                # the press
    assert wait_for(lambda: live.frame_after().blackout)
    osc(port, "/domectl/restore")
    assert wait_for(lambda: not live.frame_after().blackout)
    stats = live.state()["osc_control"]
    assert stats["accepted"] == 6 and stats["released"] == 1 and stats["rejected"] == {}


@pytest.mark.skipif(OSCSEND is None, reason="oscsend (liblo-tools) missing: run `sh dev.sh setup`")
def test_bad_osc_control_messages_are_dropped_and_counted(live):
    port = live.osc_port
    osc(port, "/domectl/time/rate", "s", "fast")       # bad arguments
    osc(port, "/domectl/warp/speed", "f", 9)           # unknown address
    osc(port, "/domectl/goto", "s", "Vulcan")          # refused
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"\x00garbage", b"/domectl/time/rate\x00\x00,f\x00\x00\x01", b"#bundle\x00" + b"\xff" * 20):
            s.sendto(junk, ("127.0.0.1", port))
    assert wait_for(lambda: sum(live.state()["osc_control"]["rejected"].values()) == 6)
    rejected = live.state()["osc_control"]["rejected"]
    assert rejected == {"bad_arguments": 1, "unknown_address": 1, "refused": 1, "malformed": 3}
    assert live.thread.is_alive() and live.state()["time"]["rate"] == 1.0


def test_osc_from_outside_the_allowed_networks_is_refused(hall_on_free_ports, ephemeris, tmp_path):
    _, hall = hall_on_free_ports
    hall = dataclasses.replace(hall, osc=dataclasses.replace(hall.osc, allowed_networks=("10.20.0.0/16",)))
    lv = Live(hall, ephemeris, tmp_path)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"/domectl/blackout\x00\x00\x00,\x00\x00\x00", ("127.0.0.1", lv.osc_port))
        assert wait_for(lambda: lv.state()["osc_control"]["rejected"].get("not_allowed_source") == 1)
        assert not lv.frame_after().blackout
    finally:
        lv.close()


def test_the_voyage_flies_from_the_console_and_comes_home(live):
    c = live.client
    answer = c.post("/api/voyage/fly", {"target": "lune"})
    assert answer["target"] == "moon" and 20.0 < answer["arrives_in_s"] < 60.0
    assert wait_for(lambda: live.state()["voyage"].get("doing") == "flying")
    # The sky is the ship's now: the sky controls that only make sense on the ground are refused.
    code, refused = post_raw(live.port, "/api/goto", b'{"target": "saturn"}', live.services.control.token)
    assert code == 409 and "in space" in refused["error"]
    c.post("/api/stereo", {"separation": "auto"})
    assert wait_for(lambda: live.state()["stereo"].get("auto") is True)
    state = live.frame_after()
    assert "moon" in {s.name for s in state.spheres}
    c.post("/api/model", {"name": "v2", "az_deg": 0, "elev_deg": 0, "distance_m": 12})
    assert [m.name for m in live.frame_after().models] == ["v2"]
    c.post("/api/model", {"name": "v2", "on": False})
    assert live.frame_after().models == ()
    home = c.post("/api/voyage/home", {})
    assert home["arrives_in_s"] > 0.0
    assert wait_for(lambda: live.state()["voyage"]["in_space"] is False, timeout_s=home["arrives_in_s"] + 10)
    assert live.frame_after().layer("landscape") == 1.0          # landed: the ground is back
    assert live.thread.is_alive()


def test_osc_flies_too(live):
    port = live.osc_port
    osc(port, "/domectl/voyage/fly", "s", "mars")
    assert wait_for(lambda: live.state()["voyage"].get("target") == "mars")
    osc(port, "/domectl/stereo", "s", "auto")
    assert wait_for(lambda: live.state()["stereo"].get("auto") is True)
    osc(port, "/domectl/voyage/park")
    assert wait_for(lambda: live.state()["voyage"].get("doing") == "parked")
