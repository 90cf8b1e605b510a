"""The operator's console in a real browser, against a real master.

`domectl master` runs as a user runs it (a subprocess, no nodes), Debian's
chromium (headless) opens the console with the token in the address's
fragment, and the test presses the page's buttons as an operator would.
Every change is read back twice, independently of the page: in ``GET
/api/state`` and in the FrameState the nodes draw (``GET /api/frame``,
decoded with domectl.frame.decode_frame). The live preview is the master's
real PreviewRenderer, through the WebSocket, into the page's <img>.

A screenshot of the console (1024 x 768, a landscape tablet) is written to
the test's tmp dir and to out/test-artifacts/console.png.

chromium and the playwright package come with `sh dev.sh setup`; without
them this test fails (it is part of the suite), saying so.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_poll_e2e import start_master, stop

from domectl.control import ControlServer, read_token
from domectl.frame import FrameState, decode_frame
from domectl.projection import ZOOM_CENTRE_ELEV_DEG
from domectl.status import run_dir

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "out" / "test-artifacts"
TABLET = {"width": 1024, "height": 768}
# The master answers within a frame; the page within its 5-per-second state. Generous for 2 busy cores.
WAIT_S = 15.0
# A goto turns at most 20°/s with 15°/s² ramps (docs/console.md): half a turn takes about 11 s.
MOVE_WAIT_S = 40.0
# After the move the sky turns on (15°/h at rate 1): the view lags the object by well under this.
AIM_TOL_DEG = 0.5
# A drag sends the sum of its moves: only rounding to 0.001° apart.
DRAG_TOL_DEG = 0.05


def browser_missing() -> str | None:
    """Why the browser cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: run `sh dev.sh setup` (it installs the dev extras)"
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is missing: run `sh dev.sh setup` (as root: it installs Debian's chromium)"
    return None


def need(browser):
    """The browser, or the test FAILS saying how to install one (never a skip: the suite needs this)."""
    if browser is None:
        pytest.fail(browser_missing())
    return browser


class Hall:
    """The running master, read over HTTP without the page."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def raw(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=5) as response:
            return response.read()

    def state(self) -> dict:
        return json.loads(self.raw("/api/state"))

    def frame(self) -> FrameState | None:
        try:
            return decode_frame(self.raw("/api/frame"))
        except urllib.error.HTTPError as e:
            assert e.code == 404, e                     # before the first frame
            return None

    def frame_after(self) -> FrameState:
        """The first FrameState computed after now: a command given before is in it."""
        first = self.frame()
        start = first.frame if first is not None else -1
        return self.wait_frame(lambda f: f.frame >= start + 2, "a new frame")

    def wait_state(self, predicate, what: str, timeout_s: float = WAIT_S) -> dict:
        end = time.monotonic() + timeout_s
        while True:
            state = self.state()
            if predicate(state):
                return state
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; /api/state: {json.dumps(state)[:2000]}")
            time.sleep(0.05)

    def wait_frame(self, predicate, what: str, timeout_s: float = WAIT_S) -> FrameState:
        end = time.monotonic() + timeout_s
        while True:
            frame = self.frame()
            if frame is not None and predicate(frame):
                return frame
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; last frame: {frame}")
            time.sleep(0.02)


@pytest.fixture
def master(hall_on_free_ports):
    config, hall = hall_on_free_ports
    proc = start_master(config)
    try:
        token = read_token(None, run_dir(hall.name))
        assert token, "the master wrote no control token"
        yield Hall(hall.master.http_port), token, hall
    finally:
        stop(proc)


@pytest.fixture
def browser():
    """Headless chromium, or None when it or playwright is missing (the test then fails via need())."""
    if browser_missing() is not None:
        yield None
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_console(browser, base: str, fragment: str = ""):
    """A fresh browser profile (no stored token) on the console; (page, console errors)."""
    context = browser.new_context(viewport=TABLET)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/" + fragment)
    page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=WAIT_S * 1000)
    return page, errors


def azimuth_deg(enu) -> float:
    east, north, _ = enu
    return math.degrees(math.atan2(east, north)) % 360.0


def altitude_deg(enu) -> float:
    return math.degrees(math.asin(max(-1.0, min(1.0, enu[2]))))


def turn_deg(a: float, b: float) -> float:
    """b - a as the shortest turn, in (-180, 180]."""
    return -((a - b + 180.0) % 360.0 - 180.0)


def layer(state: dict, name: str) -> dict:
    return next(item for item in state["layers"] if item["name"] == name)


def page_errors(errors: list[str]) -> list[str]:
    """The browser's console errors but those a refused request logs (the test provokes them)."""
    return [e for e in errors if not e.startswith("Failed to load resource: the server responded with a status of 4")]


def no_error_shown(page) -> None:
    status = page.get_by_test_id("status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()


def test_an_operator_drives_the_dome_from_the_console(master, browser, tmp_path):
    browser = need(browser)
    hall, token, config = master
    page, errors = open_console(browser, hall.base, f"#token={token}")

    # The token leaves the address bar at once and stays in the browser.
    assert "token" not in page.url
    assert page.evaluate("localStorage.getItem('domectl.token')") == token
    assert not page.get_by_test_id("read-only").is_visible()

    # The live preview: the master's renderer, over the WebSocket, in the <img>.
    page.locator("#preview-box.has-image").wait_for(timeout=60_000)
    size = page.eval_on_selector("#preview", "img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] == size[1] >= 128, size
    assert page.eval_on_selector("#preview", "img => img.src").startswith("blob:")
    assert page.get_by_test_id("nodes").locator(".node").count() == len(config.igs)

    # Time: a rate preset. The state says 60, and the sky in the frames runs 60 times faster.
    page.get_by_test_id("rate-preset-60").click()
    hall.wait_state(lambda s: s["time"]["rate"] == 60.0, "rate 60")
    a = hall.frame_after()
    time.sleep(0.5)
    b = hall.frame_after()
    assert (b.tt_jd - a.tt_jd) * 86400.0 / (b.show_time_s - a.show_time_s) == pytest.approx(60.0, rel=1e-3)
    assert page.get_by_test_id("rate-preset-60").get_attribute("aria-pressed") == "true"
    page.get_by_test_id("rate-preset-1").click()
    hall.wait_state(lambda s: s["time"]["rate"] == 1.0, "rate 1")
    no_error_shown(page)

    # View: a drag on the preview turns the sky by the drag's angle (180° across the image at zoom 1).
    before = hall.state()["view"]
    box = page.get_by_test_id("preview-box").bounding_box()
    image_px = page.eval_on_selector("#preview-box", "box => box.clientWidth")     # inside the border
    x, y = round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 100, y, steps=5)
    page.mouse.up()
    expected_deg = -100 * 180.0 / image_px / before["zoom"]
    after = hall.wait_state(lambda s: abs(turn_deg(before["az_deg"], s["view"]["az_deg"]) - expected_deg)
                            < DRAG_TOL_DEG, f"the view turned by {expected_deg:.2f}°")["view"]
    assert after["alt_deg"] == pytest.approx(before["alt_deg"], abs=DRAG_TOL_DEG)
    assert hall.frame_after().view_az_deg == pytest.approx(after["az_deg"], abs=1e-6)
    no_error_shown(page)

    # Layers: the constellation lines fade in, in the state and in the frames.
    assert layer(hall.state(), "constellation-lines")["on"] is False
    page.get_by_test_id("layer-constellation-lines").click()
    hall.wait_state(lambda s: layer(s, "constellation-lines")["on"], "constellation lines on")
    opacities = []
    end = time.monotonic() + WAIT_S
    while (not opacities or opacities[-1] < 1.0) and time.monotonic() < end:
        opacities.append(hall.frame_after().layer("constellation-lines"))
    assert opacities[-1] == 1.0 and opacities == sorted(opacities), opacities
    assert any(0.0 < o < 1.0 for o in opacities), f"no fade: {opacities}"
    page.get_by_test_id("layer-constellation-lines").and_(page.locator("[aria-pressed=true]")).wait_for()
    no_error_shown(page)

    # Go to Jupiter: search, pick the result; the view ends on Jupiter, framed 30° above the front.
    page.get_by_test_id("goto-search").fill("jupi")
    page.get_by_test_id("goto-result-jupiter").click()
    hall.wait_state(lambda s: s["pointer"] == "jupiter", "the pointer on Jupiter")
    assert hall.frame_after().pointer == "jupiter"
    hall.wait_state(lambda s: not s["view"]["moving"], "the move to end", MOVE_WAIT_S)
    frame = hall.frame_after()
    jupiter = next(body for body in frame.bodies if body.name.lower() == "jupiter")
    assert turn_deg(azimuth_deg(jupiter.enu), frame.view_az_deg) == pytest.approx(0.0, abs=AIM_TOL_DEG)
    framed_alt_deg = altitude_deg(jupiter.enu) - (ZOOM_CENTRE_ELEV_DEG - config.dome.tilt_deg)
    assert frame.view_alt_deg == pytest.approx(max(-90.0, min(90.0, framed_alt_deg)), abs=AIM_TOL_DEG)
    no_error_shown(page)

    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)           # the preview catches up with the view
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, full_page in (("console.png", False), ("console-full.png", True)):
        page.screenshot(path=tmp_path / name, full_page=full_page)
        shutil.copyfile(tmp_path / name, ARTIFACTS / name)

    # Blackout fades the dome to black; restore brings it back; PANIC is black at the next frame.
    page.get_by_test_id("blackout").click()
    hall.wait_state(lambda s: s["blackout"]["target"] == 1.0, "the blackout's target")
    hall.wait_frame(lambda f: f.blackout or all(o == 0.0 for _, o in f.layers), "a black frame")
    assert hall.wait_state(lambda s: s["blackout"]["level"] == 1.0, "black")["blackout"]["level"] == 1.0
    page.get_by_test_id("blackout-level").filter(has_text="BLACK").wait_for()
    page.get_by_test_id("restore").click()
    hall.wait_state(lambda s: s["blackout"]["level"] == 0.0, "the dome back")
    assert not hall.frame_after().blackout
    page.get_by_test_id("panic").click()
    hall.wait_state(lambda s: s["blackout"]["target"] == 1.0, "panic")
    assert hall.frame_after().blackout                        # no fade: the very next frame
    page.get_by_test_id("restore").click()
    hall.wait_state(lambda s: s["blackout"]["level"] == 0.0, "the dome back after panic")
    no_error_shown(page)

    # A refused command: the server's message in the status line.
    page.get_by_test_id("time-set-input").fill("1200-01-01T00:00:00")
    page.get_by_test_id("time-set").click()
    status = page.get_by_test_id("status")
    status.and_(page.locator(".error")).wait_for()
    assert "409" in status.inner_text(), status.inner_text()

    assert page_errors(errors) == []


def test_without_the_token_the_console_is_read_only_until_one_is_given(master, browser):
    browser = need(browser)
    hall, token, _ = master
    page, errors = open_console(browser, hall.base)
    assert page.get_by_test_id("read-only").is_visible()
    page.get_by_test_id("layer-constellation-lines").wait_for(state="attached")
    page.get_by_test_id("rate-preset-60").wait_for(state="attached")
    controls = page.locator("[data-control]")
    assert controls.count() > 40
    enabled = page.eval_on_selector_all("[data-control]", "els => els.filter(e => !e.disabled).map(e => e.id || e.dataset.testid)")
    assert enabled == []
    page.get_by_test_id("token-toggle").click()
    assert page.get_by_test_id("token-input").is_enabled()
    # The page reads the state all the same.
    page.get_by_test_id("time-utc").filter(has_text="UTC").wait_for()
    # A drag on the preview sends nothing without the token.
    view = hall.state()["view"]
    box = page.get_by_test_id("preview-box").bounding_box()
    page.mouse.move(box["x"] + 50, box["y"] + 50)
    page.mouse.down()
    page.mouse.move(box["x"] + 150, box["y"] + 50, steps=3)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert hall.state()["view"]["az_deg"] == view["az_deg"]

    # Given in the field, the token enables the controls.
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("token-save").click()
    assert not page.get_by_test_id("read-only").is_visible()
    page.get_by_test_id("rate-preset-10").click()
    hall.wait_state(lambda s: s["time"]["rate"] == 10.0, "rate 10")
    # A wrong one is refused by the master, and the page says so.
    page.get_by_test_id("token-toggle").click()
    page.get_by_test_id("token-input").fill("not-the-token-not-the-token")
    page.get_by_test_id("token-save").click()
    page.get_by_test_id("rate-preset-1").click()
    page.get_by_test_id("status").filter(has_text="403 wrong control token").wait_for()
    assert hall.state()["time"]["rate"] == 10.0
    assert page_errors(errors) == []


def test_the_page_reconnects_when_the_master_comes_back(browser):
    """A master restarting (or the hall's network dropping) leaves the page offline, retrying with
    backoff; it is live again, by itself, once a server answers on the same port."""
    browser = need(browser)
    frames = iter(range(1, 10**9))

    def serve(port: int, role: str) -> ControlServer:
        return ControlServer("127.0.0.1", port, "t" * 24, gets={}, posts={},
                             live=lambda: {"frame": next(frames), "role": role, "fps": 60.0, "nodes": []}).start()

    server = serve(0, "primary")
    port = server.port
    try:
        page, errors = open_console(browser, f"http://127.0.0.1:{port}")
        page.get_by_test_id("master-health").filter(has_text="primary").wait_for()
        server.stop()
        page.get_by_test_id("connection").filter(has_text="offline").wait_for(timeout=WAIT_S * 1000)
        assert "stale" in page.locator("body").get_attribute("class")
        server = serve(port, "standby")
        page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=WAIT_S * 1000)
        page.get_by_test_id("master-health").filter(has_text="standby").wait_for()
        assert server.ws_clients["open"] == 1
    finally:
        server.stop()
    # The page asks /api/places and /api/shows, which this bare server does not have (404s).
    assert page_errors(errors) == []


def test_polls_and_shows_run_from_the_console(master, browser):
    """Issue 8's tally on the console and issue 9's show controls: a poll opened from the page,
    votes from Debian's oscsend (the vote boxes), the live tally in the page; then a show loaded,
    played and sent to a cue from the page, while the sky controls wait for it to stop."""
    from test_poll_e2e import OSCSEND, vote

    browser = need(browser)
    hall, token, config = master
    page, errors = open_console(browser, hall.base, f"#token={token}")

    page.get_by_test_id("poll-question").fill("Which planet next?")
    page.get_by_test_id("poll-options").fill("Mars, Jupiter, Saturn")
    page.get_by_test_id("poll-duration").fill("300")
    page.get_by_test_id("poll-open").click()
    poll = hall.wait_state(lambda s: s["poll"]["open"], "the poll open")["poll"]
    assert poll["question"] == "Which planet next?" and poll["on_dome"] is True
    keys = poll["options"]
    assert OSCSEND, "oscsend (liblo-tools) is missing: run `sh dev.sh setup`"
    for seat, button in ((1, 2), (2, 2), (3, 1), (4, 3), (2, 1)):     # seat 2 changes its mind
        vote(config.osc.vote_port, seat, button)
    tally = hall.wait_state(lambda s: s["poll"]["presses"] == 5, "five presses")["poll"]["tally"]
    assert [tally[k] for k in keys] == [2, 1, 1]
    for key, count in zip(keys, (2, 1, 1)):                             # the page's bars, live
        page.get_by_test_id(f"tally-{key}").locator(".tally-count").filter(has_text=str(count)).wait_for()
    page.get_by_test_id("poll-close").click()
    closed = hall.wait_state(lambda s: not s["poll"]["open"], "the poll closed")["poll"]
    assert closed["close_reason"] == "operator" and closed["winner"] == keys[0]
    no_error_shown(page)

    shows = json.loads(hall.raw("/api/shows"))["shows"]
    tour = next(s for s in shows if s["path"].endswith("live-sky-tour.show"))
    page.get_by_test_id("show-select").select_option(value=tour["path"])
    page.get_by_test_id("show-load").click()
    state = hall.wait_state(lambda s: s["controlled_by"] == "show", "the show loaded")
    assert state["show"]["title"] == tour["title"] and state["show"]["state"] == "paused"
    from playwright.sync_api import expect

    expect(page.get_by_test_id("rate-preset-60")).to_be_disabled(timeout=WAIT_S * 1000)   # the show drives the sky
    page.get_by_test_id("show-play").click()
    hall.wait_state(lambda s: s["show"]["state"] == "playing", "the show playing")
    page.get_by_test_id("show-cue-north").click()
    state = hall.wait_state(lambda s: s["show"]["label"] == "north", "the cue 'north'")
    assert state["show"]["show_time_s"] >= 4 * 60 + 26
    assert hall.frame_after().show_time_s >= 4 * 60 + 26          # the frames are the show's, at the cue
    page.get_by_test_id("next-cue").filter(has_text=":").wait_for()
    page.get_by_test_id("show-stop").click()
    hall.wait_state(lambda s: s["controlled_by"] == "operator", "the show stopped")
    expect(page.get_by_test_id("rate-preset-60")).to_be_enabled(timeout=WAIT_S * 1000)
    no_error_shown(page)
    assert page_errors(errors) == []
