"""Issue 10's manual refinement from the operator's console, in a real browser against a real master.

`domectl master` runs as a subprocess on the hall's calibration store (made from the hall config
in this test's DOMECTL_STATE_DIR, which conftest sets per test); Debian's chromium opens the console
and a technician opens the Calibration panel, picks p03, taps a control point and nudges it. Every
step is read back independently of the page: ``GET /api/calibration`` and ``/api/state``, the
FrameState the nodes draw (``GET /api/frame``), and the store on disk
(calibration.store.CalibrationStore).

A screenshot of the panel is written to out/test-artifacts/console-calibration.png.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time

import test_console_browser as console
from test_console_browser import (
    ARTIFACTS,
    WAIT_S,
    need,
    no_error_shown,
    open_console,
    page_errors,
)

from calibration.store import CalibrationStore, default_store_root
from domectl.control import ControlClient
from domectl.frame import FrameState

# The console test's fixtures: a real master on free ports and headless chromium.
master = console.master
browser = console.browser

PROJECTOR = "p03"
# The store made from the reference hall: a 5 x 7 grid, every offset zero.
ROWS, COLS = 5, 7
# The point the technician taps: not the centre (2, 3), where the panel starts, so the tap counts.
ROW, COL = 1, 2


def calibration(hall) -> dict:
    return json.loads(hall.raw("/api/calibration"))


def control(hall, name: str = PROJECTOR) -> dict:
    return next(p["control"] for p in calibration(hall)["projectors"] if p["name"] == name)


def offset(hall, row: int = ROW, col: int = COL) -> list[float]:
    return control(hall)["offsets_px"][row][col]


def still(frame: FrameState) -> FrameState:
    """The frame without what changes from one frame to the next while time is paused."""
    return dataclasses.replace(frame, frame=0, deadline_ns=0, show_time_s=0.0)


def wait_offset(hall, expected: list[float], what: str) -> None:
    end = time.monotonic() + WAIT_S
    while offset(hall) != expected:
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}: {PROJECTOR} ({ROW}, {COL}) is at {offset(hall)}, "
                                 f"not {expected}")
        time.sleep(0.05)


def test_a_technician_refines_a_projector_grid_from_the_console(master, browser, tmp_path):
    from playwright.sync_api import expect

    browser = need(browser)
    hall, token, config = master
    api = ControlClient("127.0.0.1", config.master.http_port, token)
    start = calibration(hall)
    assert start["calibration"]["loaded"] and start["calibration"]["version"] == 1
    assert not start["calibration"]["dirty"]
    assert control(hall)["rows"] == ROWS and control(hall)["cols"] == COLS
    assert {tuple(o) for row in control(hall)["offsets_px"] for o in row} == {(0.0, 0.0)}
    revision = start["calibration"]["revision"]

    page, errors = open_console(browser, hall.base, f"#token={token}")
    panel = page.get_by_test_id("calib-panel")
    assert not panel.is_visible()                      # the presenter's page: closed unless asked for
    page.get_by_test_id("calib-toggle").click()
    expect(panel).to_be_visible()
    page.get_by_test_id(f"calib-row-{PROJECTOR}").wait_for()
    page.get_by_test_id("calib-projector").select_option(PROJECTOR)
    point = page.get_by_test_id("calib-point")
    expect(point).to_contain_text(f"{PROJECTOR} (2, 3) of {ROWS} × {COLS}")
    expect(page.get_by_test_id("calib-version")).to_contain_text("store v1")
    expect(page.get_by_test_id("calib-dirty")).to_be_hidden()
    for testid in (f"calib-point-{r}-{c}" for r in range(ROWS) for c in range(COLS)):
        assert page.get_by_test_id(testid).count() == 1

    # Time stands still, so the FrameState can be compared whole before and after the refinement.
    api.post("/api/time/pause", {})
    before = still(hall.frame_after())

    page.get_by_test_id(f"calib-point-{ROW}-{COL}").click()
    expect(point).to_contain_text(f"({ROW}, {COL})")
    for _ in range(3):
        page.get_by_test_id("calib-right").click()
    page.get_by_test_id("calib-up").click()
    wait_offset(hall, [3.0, -1.0], "three nudges right and one up (x right, y down)")
    state = hall.wait_state(lambda s: s["calibration"]["dirty"], "the calibration dirty")
    assert state["calibration"]["version"] == 1
    assert state["calibration"]["revision"] > revision                    # published to the nodes ...
    assert calibration(hall)["calibration"]["revision"] == state["calibration"]["revision"]
    assert still(hall.frame_after()) == before                             # ... not through the frame
    others = [o for r, row in enumerate(control(hall)["offsets_px"]) for c, o in enumerate(row) if (r, c) != (ROW, COL)]
    assert set(map(tuple, others)) == {(0.0, 0.0)}
    expect(point).to_contain_text("+3.0, −1.0 px")
    expect(page.get_by_test_id("calib-dirty")).to_be_visible()
    no_error_shown(page)

    # The keyboard, with the focus in the panel: an arrow 1 px, shift 10 px.
    page.get_by_test_id("calib-grid").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    wait_offset(hall, [4.0, 9.0], "arrow right and shift+arrow down")
    expect(point).to_contain_text("+4.0, +9.0 px")

    # The test pattern on p03 alone, in the state and in the frame's overlays.
    page.get_by_test_id("calib-pattern-dots").click()
    hall.wait_state(lambda s: s["pattern"] == f"dots:{PROJECTOR}", "the dots on p03")
    assert [o.content for o in hall.frame_after().overlays if o.kind == "pattern"] == [f"dots:{PROJECTOR}"]
    expect(page.get_by_test_id("calib-pattern-dots")).to_have_attribute("aria-pressed", "true")

    page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=tmp_path / "console-calibration.png")
    shutil.copyfile(tmp_path / "console-calibration.png", ARTIFACTS / "console-calibration.png")

    page.get_by_test_id("calib-pattern-off").click()
    hall.wait_state(lambda s: s["pattern"] == "", "the sky back")

    # Save with a note: a new store version with the offset; clean again.
    page.get_by_test_id("calib-note").fill("p03 seam with p02 by eye")
    page.get_by_test_id("calib-save").click()
    state = hall.wait_state(lambda s: not s["calibration"]["dirty"], "the calibration saved")
    assert state["calibration"]["version"] == 2
    store = CalibrationStore.open(default_store_root(config))
    assert store.current_version() == 2
    assert store.info(2).note == "p03 seam with p02 by eye"
    assert store.load(2).projector(PROJECTOR).control.offsets_px[ROW][COL] == (4.0, 9.0)
    expect(page.get_by_test_id("calib-version")).to_contain_text("store v2")
    expect(page.get_by_test_id("calib-dirty")).to_be_hidden()
    expect(page.get_by_test_id("calib-note")).to_have_value("")

    # Another nudge and a resample, then Revert (two taps): back to the saved grid and offset.
    page.get_by_test_id("calib-left").click()
    wait_offset(hall, [3.0, 9.0], "a nudge left after the save")
    page.get_by_test_id("calib-rows").select_option("7")
    page.get_by_test_id("calib-cols").select_option("9")
    page.get_by_test_id("calib-resample").click()
    hall.wait_state(lambda s: control(hall)["rows"] == 7 and control(hall)["cols"] == 9, "the grid 7 x 9")
    expect(point).to_contain_text("of 7 × 9")
    page.get_by_test_id("calib-revert").click()
    assert hall.state()["calibration"]["dirty"]                          # one tap only arms it
    page.get_by_test_id("calib-revert").click()
    state = hall.wait_state(lambda s: not s["calibration"]["dirty"], "the calibration reverted")
    assert state["calibration"]["version"] == 2
    assert control(hall)["rows"] == ROWS and control(hall)["cols"] == COLS
    assert offset(hall) == [4.0, 9.0]
    expect(point).to_contain_text(f"of {ROWS} × {COLS}")
    expect(point).to_contain_text("+4.0, +9.0 px")
    assert CalibrationStore.open(default_store_root(config)).current_version() == 2     # revert writes nothing
    no_error_shown(page)
    assert page_errors(errors) == []


def test_without_the_token_the_calibration_panel_only_reads(master, browser):
    browser = need(browser)
    hall, _, _ = master
    page, errors = open_console(browser, hall.base)
    page.get_by_test_id("calib-toggle").click()
    page.get_by_test_id(f"calib-row-{PROJECTOR}").wait_for()
    controls = page.locator("#calibration [data-control]")
    assert controls.count() >= 15
    enabled = page.eval_on_selector_all("#calibration [data-control]",
                                        "els => els.filter(e => !e.disabled).map(e => e.id || e.dataset.testid)")
    assert enabled == []
    # Reading is open: the projector, its point and the readouts.
    page.get_by_test_id("calib-projector").select_option(PROJECTOR)
    page.get_by_test_id(f"calib-point-{ROW}-{COL}").click()
    page.get_by_test_id("calib-point").filter(has_text=f"{PROJECTOR} ({ROW}, {COL})").wait_for()
    page.get_by_test_id(f"calib-row-{PROJECTOR}").filter(has_text=f"{ROWS} × {COLS}").wait_for()
    # The keyboard sends nothing without the token.
    revision = hall.state()["calibration"]["revision"]
    page.get_by_test_id("calib-grid").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert hall.state()["calibration"]["revision"] == revision
    assert offset(hall) == [0.0, 0.0]
    page.get_by_test_id("status").filter(has_text="read-only").wait_for()
    assert page_errors(errors) == []
