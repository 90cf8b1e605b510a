"""The hall's calibration drives the cluster, and a technician refines it by hand.

The Calibration message (round trip, malformed and oversized payloads), the
control grid's interpolation (calibration/adjust.py), a node's pipeline
drawing a moved control point where it was moved to, the colour step against
its numpy twin, the node loop's and the master's handling of revisions and
rate limits, and end to end: `domectl master` and `domectl node` processes
over real CURVE sockets, refined through the control API, saved to the store,
a node killed with -9 and back with the current calibration.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from calibration import adjust
from calibration.model import ControlGrid, from_hall
from domectl.config import load_hall
from domectl.errors import LocalError, PeerError
from domectl.protocol import (
    MAX_CALIBRATION_JSON_BYTES, MAX_CALIBRATION_MESSAGE_BYTES, MAX_MESSAGE_BYTES, Calibration, Kind, Ready,
    calibration_message, calibration_set, decode, encode,
)
from fakes import StillSky, T0
from test_standby import wait_for_line

ROOT = Path(__file__).resolve().parent.parent
#: Positions compared in projector pixels of the scaled (test) image.
PX = 1.0


@pytest.fixture(scope="module")
def hall():
    return load_hall()


@pytest.fixture(scope="module")
def hall_set(hall):
    return from_hall(hall)


def moved(calibration, projector: str, row: int, col: int, dx_px: float, dy_px: float):
    p = calibration.projector(projector)
    return calibration.replace_projector(
        dataclasses.replace(p, control=adjust.set_offset(p.control, row, col, dx_px, dy_px)))


# ---------------------------------------------------------------- the message


def test_a_calibration_round_trips_through_its_message(hall_set):
    changed = moved(hall_set, "p03", 1, 2, 3.25, -7.5)
    msg = calibration_message(changed, version=4, epoch=0xDEADBEEF, revision=17, dirty=True)
    data = encode(msg)
    assert data[2] == Kind.CALIBRATION.value
    back = decode(data)
    assert back == msg
    assert (back.version, back.epoch, back.revision, back.dirty) == (4, 0xDEADBEEF, 17, True)
    assert calibration_set(back) == changed
    # The reference hall's set is small on the wire: far inside even the ordinary message limit.
    assert len(data) < MAX_MESSAGE_BYTES // 16


def _raw(payload: bytes, header: bytes = b"") -> bytes:
    import struct

    return bytes([0xD0, 1, Kind.CALIBRATION.value]) + (header or struct.pack("<IIqB", 1, 2, 3, 0)) + payload


def test_malformed_and_oversized_calibrations_are_peer_errors(hall_set):
    import struct

    with pytest.raises(PeerError, match="truncated"):
        decode(bytes([0xD0, 1, Kind.CALIBRATION.value]) + b"\x00" * 5)
    with pytest.raises(PeerError, match="malformed header"):
        decode(_raw(b"x", struct.pack("<IIqB", 1, 2, 3, 7)))          # dirty flag 7
    with pytest.raises(PeerError, match="malformed header"):
        decode(_raw(b""))                                             # no payload
    with pytest.raises(PeerError, match="exceeds the 2097152-byte limit"):
        decode(_raw(b"\x00" * MAX_CALIBRATION_MESSAGE_BYTES))
    # Any other kind keeps the ordinary limit.
    with pytest.raises(PeerError, match=f"exceeds the {MAX_MESSAGE_BYTES}-byte limit"):
        decode(bytes([0xD0, 1, Kind.MIRROR.value]) + b"{}" * MAX_MESSAGE_BYTES)
    # Header fine, payload not: decode passes it, calibration_set refuses it.
    cases = {
        "not zlib": b"definitely not deflate",
        "truncated": zlib.compress(hall_set.to_json().encode())[:-10],
        "inflates beyond": zlib.compress(b" " * (MAX_CALIBRATION_JSON_BYTES + 1), 9),   # a zip bomb: ~16 KB
        "not JSON": zlib.compress(b"\xff\xfe not json"),
        "not a domectl-calibration": zlib.compress(b'{"format": "something else"}'),
        "control grid": zlib.compress(hall_set.to_json().replace('"rows": 5', '"rows": 500').encode()),
        "nested": zlib.compress(b"[" * 100000 + b"]" * 100000),
    }
    for why, payload in cases.items():
        msg = decode(_raw(payload))
        with pytest.raises(PeerError) as e:
            calibration_set(msg)
        assert why.split()[0] in str(e.value) or why == "nested", (why, str(e.value))


def test_a_calibration_too_large_to_send_is_refused_at_the_master(hall_set):
    big = Calibration(1, 2, 3, False, os.urandom(MAX_CALIBRATION_MESSAGE_BYTES))
    with pytest.raises(LocalError, match="exceeds the 2097152-byte message limit"):
        encode(big)


def test_a_large_calibration_crosses_real_sockets_to_a_node():
    """The node's sockets take a master's calibration of 1.5 MB (libzmq would otherwise drop the
    connection: MAXMSGSIZE)."""
    from domectl.transport import MasterLink, NodeLink

    link = MasterLink("127.0.0.1", "*", "*")
    node = NodeLink(1, link.frame_endpoint, link.control_endpoint)
    try:
        big = Calibration(1, 2, 3, False, os.urandom(1_500_000))
        got = []
        end = time.monotonic() + 10.0
        while not got and time.monotonic() < end:
            link.publish(big)
            got = [d for d in node.receive(100) if decode(d) == big]
        assert got, "the calibration never reached the node"
    finally:
        node.close()
        link.close()


# ---------------------------------------------------------------- interpolation


def test_the_interpolation_is_exact_at_the_control_points():
    rng = np.random.default_rng(7)
    for rows, cols in ((2, 2), (3, 5), (5, 7), (9, 4)):
        offsets = rng.uniform(-20.0, 20.0, (rows, cols, 2))
        grid = adjust.grid_from_array(offsets)
        points = adjust.control_points_px(rows, cols, 4096.0, 2160.0).reshape(-1, 2)
        at = adjust.displace_px(points, grid, 4096.0, 2160.0)
        assert np.max(np.abs(at - points - offsets.reshape(-1, 2))) < 1e-9


def test_the_interpolation_is_c1_and_reproduces_linear_fields():
    rng = np.random.default_rng(3)
    grid = adjust.grid_from_array(rng.uniform(-10.0, 10.0, (5, 7, 2)))
    # Across every cell boundary along x (at y = 0.37), value and slope are continuous.
    h = 1e-6
    for c in range(1, 6):
        s = c / 6
        left, mid, right = (adjust.offsets_at(grid, [[s + d, 0.37]]) for d in (-h, 0.0, h))
        slope_l, slope_r = (mid - left) / h, (right - mid) / h
        assert np.max(np.abs(left - right)) < 1e-4
        assert np.max(np.abs(slope_l - slope_r)) < 1e-2 * max(1.0, np.max(np.abs(slope_l)))
    # A linear field (uniform shift plus a scale) is reproduced everywhere, edges included.
    pts = adjust.control_points_px(4, 6, 1.0, 1.0)
    linear = np.stack([3.0 + 8.0 * pts[..., 0], -2.0 + 5.0 * pts[..., 1]], axis=-1)
    st = rng.uniform(0.0, 1.0, (500, 2))
    got = adjust.offsets_at(adjust.grid_from_array(linear), st)
    assert np.max(np.abs(got - np.stack([3.0 + 8.0 * st[:, 0], -2.0 + 5.0 * st[:, 1]], axis=1))) < 1e-9


def test_a_nudge_stays_local_and_a_refined_grid_keeps_the_field():
    grid = adjust.nudge(ControlGrid.zero(5, 7), 2, 3, 10.0, -4.0)
    s = np.linspace(0.0, 1.0, 301)
    st = np.stack(np.meshgrid(s, s), axis=-1).reshape(-1, 2)
    field = adjust.offsets_at(grid, st)
    far = (np.abs(st[:, 0] - 0.5) >= 2 / 6) | (np.abs(st[:, 1] - 0.5) >= 2 / 4)   # two cells away
    assert np.max(np.abs(field[far])) == 0.0
    assert np.min(field[:, 0]) >= -0.075 * 10.0          # the Catmull-Rom lobe, documented
    finer = adjust.resample(grid, 9, 13)                 # old points are among the new ones
    assert finer.offsets_px[4][6] == (10.0, -4.0)
    assert np.max(np.abs(adjust.offsets_at(finer, st) - field)) < 1.0
    with pytest.raises(ValueError, match="outside the 5 x 7 grid"):
        adjust.nudge(grid, 5, 0, 1.0, 0.0)
    with pytest.raises(ValueError, match="within \\+-512 px"):
        adjust.set_offset(grid, 0, 0, 600.0, 0.0)


# ---------------------------------------------------------------- a node's pipeline (GL)


SCALE = 0.125


@pytest.fixture(scope="module")
def pipeline(_gl_session_ctx, hall):
    from domectl.pipeline import IGPipeline
    from domectl.skydata import load_stars

    return IGPipeline(_gl_session_ctx, hall, 1, SCALE, load_stars())


def _dot_slice(ctx, pipeline, uv, sigma_px=1.5):
    """A black slice texture with one bright Gaussian dot at domemaster ``uv``."""
    w, h = pipeline.slice_size
    u0, v0, u1, v1 = pipeline.rect_uv
    sx, sy = (uv[0] - u0) / (u1 - u0) * w, (uv[1] - v0) / (v1 - v0) * h
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    dot = np.exp(-((xx - sx) ** 2 + (yy - sy) ** 2) / (2 * sigma_px ** 2))
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = np.round(255 * dot)[..., None]
    rgba[..., 3] = 255
    return ctx.texture((w, h), 4, rgba.tobytes())


def _centroid(image: np.ndarray) -> np.ndarray:
    light = image[..., 0].astype(np.float64) ** 2.2
    light[light < 0.02 * light.max()] = 0.0
    yy, xx = np.mgrid[0:light.shape[0], 0:light.shape[1]] + 0.5
    return np.array([(xx * light).sum(), (yy * light).sum()]) / light.sum()


def test_a_moved_control_point_moves_the_picture_there_by_that_much(gl_ctx, pipeline, hall_set):
    """p01's centre control point moved by (48, -32) full-resolution px: the content the node
    drew at that point is now drawn 6 px right and 4 px up in its 1/8-scale image."""
    width, height = pipeline.projector.width_px, pipeline.projector.height_px
    plan = pipeline.set_calibration(hall_set)
    assert plan.kind in ("control", "none")           # the hall's own models: nothing rebuilt
    centre = np.array([[width / 2, height / 2]])
    uv = pipeline.mesh.interpolate_uv(centre)[0]
    tex = _dot_slice(gl_ctx, pipeline, uv)
    try:
        before = _centroid(pipeline.warp.draw(tex, pipeline.rect_uv).copy())
        warp_before = pipeline.warp
        plan = pipeline.set_calibration(moved(hall_set, "p01", 2, 3, 48.0, -32.0))
        assert plan.kind == "control"                 # the fast path: vertices only
        assert pipeline.warp is warp_before            # same pass, same blend mask
        after = _centroid(pipeline.warp.draw(tex, pipeline.rect_uv).copy())
    finally:
        tex.release()
        pipeline.set_calibration(hall_set)
    assert np.all(np.abs(before - centre[0]) < 0.5 * PX)
    assert np.all(np.abs((after - before) - (48.0 * SCALE, -32.0 * SCALE)) < 0.3 * PX)


def test_a_model_change_rebuilds_and_colour_is_applied_in_linear_light(gl_ctx, pipeline, hall_set):
    from render.warp_pass import colour_linear

    p = hall_set.projector("p01")
    yawed = hall_set.replace_projector(dataclasses.replace(p, model=dataclasses.replace(p.model, yaw_deg=p.model.yaw_deg + 1.0)))
    old_rect = pipeline.rect_uv
    plan = pipeline.set_calibration(yawed)
    assert plan.kind == "rebuild" and plan.mesh is not None and plan.blend is not None
    assert pipeline.rect_uv != old_rect
    # Colour: flat grey through the pass, with a gain and a LUT, against the numpy twin.
    lut = (tuple(np.linspace(0, 1, 17) ** 0.8), tuple(np.linspace(0, 1, 17)), tuple(np.linspace(0, 1, 17) ** 1.3))
    coloured = yawed.replace_projector(dataclasses.replace(
        yawed.projector("p01"), colour=dataclasses.replace(p.colour, gain_rgb=(0.5, 1.0, 0.8), lut=lut)))
    plan = pipeline.set_calibration(coloured)
    assert plan.kind == "colour"
    pipeline.warp.set_blend(np.ones(pipeline.blend.shape, np.float32))
    w, h = pipeline.slice_size
    grey = np.full((h, w, 4), 180, np.uint8)
    tex = gl_ctx.texture((w, h), 4, grey.tobytes())
    try:
        out = pipeline.warp.draw(tex, pipeline.rect_uv)
        gamma = pipeline.projector.gamma
        lit = out[out.shape[0] // 2, out.shape[1] // 2].astype(np.float64) / 255.0
        expected = colour_linear(np.full(3, (180 / 255) ** gamma), (0.5, 1.0, 0.8), lut) ** (1 / gamma)
        assert np.max(np.abs(lit - expected)) <= 2.0 / 255.0
    finally:
        tex.release()
        pipeline.set_calibration(hall_set)           # back: the hall's models, a fresh blend mask


# ---------------------------------------------------------------- the node loop and the master


class StubPipeline:
    def __init__(self):
        self.applied = []

    def rebuild_needed(self, calibration):
        return False

    def plan_calibration(self, calibration):
        return dataclasses.make_dataclass("Plan", ["calibration", "kind", "plan_ms"])(calibration, "control", 0.0)

    def apply_calibration(self, plan):
        self.applied.append(plan.calibration)


class Link:
    def __init__(self):
        self.sent, self.inbox = [], []

    def send(self, msg):
        self.sent.append(msg)

    def receive(self, timeout_ms, direct=True):
        out, self.inbox = self.inbox, []
        return out

    def reconnect(self):
        pass


def test_the_node_applies_new_revisions_once_and_counts_malformed_ones(hall_set):
    from domectl.frame import FrameState
    from domectl.node import Calibrator, NodeLoop
    from domectl.protocol import Frame, Snapshot

    stub, link = StubPipeline(), Link()
    loop = NodeLoop(1, link, lambda state: "image", calibrator=Calibrator(stub, threaded=False))
    first = calibration_message(hall_set, 1, epoch=5, revision=1, dirty=False)
    second = calibration_message(moved(hall_set, "p01", 0, 0, 1.0, 0.0), 1, epoch=5, revision=2, dirty=True)
    def frame_state(n: int) -> FrameState:
        return FrameState(frame=n, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.7,
                          longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0)

    state = frame_state(0)
    link.inbox = [encode(first), encode(Snapshot(1, state))]
    loop.tick(0)
    assert loop.joined and stub.applied == [hall_set]
    assert link.sent[-1] == Ready(1, 0, link.sent[-1].render_ms, 1)     # drawn with revision 1
    link.inbox = [encode(second), encode(first), encode(second), encode(Frame(frame_state(1)))]
    loop.tick(0)
    assert len(stub.applied) == 2 and loop.calibration == (5, 2, 1)      # the repeat and the stale: nothing
    assert link.sent[-1].calibration_revision == 2
    link.inbox = [encode(calibration_message(hall_set, 1, epoch=6, revision=1, dirty=False))]   # a new master
    loop.tick(0)
    assert len(stub.applied) == 3 and loop.calibration == (6, 1, 1)
    link.inbox = [_raw(b"garbage", __import__("struct").pack("<IIqB", 1, 7, 9, 0))]
    loop.tick(0)
    assert loop.stats.dropped == {"malformed_calibration": 1} and len(stub.applied) == 3


def test_a_rebuild_is_planned_off_the_render_thread_and_swapped_in_between_frames(hall_set):
    """While a slow rebuild is planned, frames go on with the old calibration; sets that arrive
    meanwhile coalesce to the newest, planned next."""
    import threading

    from domectl.node import Calibrator

    release = threading.Event()

    class Slow(StubPipeline):
        def rebuild_needed(self, calibration):
            return True

        def plan_calibration(self, calibration):
            release.wait(10)
            return super().plan_calibration(calibration)

    stub = Slow()
    calibrator = Calibrator(stub)
    a, b, c = (moved(hall_set, "p01", 0, 0, float(i), 0.0) for i in (1, 2, 3))
    calibrator.submit(a)
    calibrator.submit(b)
    calibrator.submit(c)                      # b is superseded before it is planned
    for _ in range(5):                        # five frames' polls: nothing blocks, nothing applied yet
        assert not calibrator.poll()
    assert stub.applied == [] and calibrator.busy()
    release.set()
    calibrator.wait()
    assert stub.applied == [a, c] and not calibrator.busy()


class Wire:
    def __init__(self):
        self.published, self.direct = [], []

    def publish(self, msg):
        self.published.append(decode(encode(msg)))

    def send_to(self, identity, msg):
        self.direct.append((identity, decode(encode(msg))))

    def receive(self, timeout_ms, direct=True):
        return []


def test_the_master_coalesces_changes_to_ten_a_second_and_repeats_the_last(hall, hall_set):
    from domectl.master import CALIBRATION_REPEAT_S, Master, Scene

    now = [0]
    wire = Wire()
    master = Master(hall, wire, StillSky(), Scene(start_utc=T0), igs=(), clock_ns=lambda: now[0])
    master.set_calibration(hall_set, version=3, dirty=False)
    cal = hall_set
    for i in range(60):              # a held arrow key: 60 nudges over 2 s, a frame every 1/60 s
        cal = moved(cal, "p02", 1, 1, float(i + 1), 0.0)
        master.set_calibration(cal, dirty=True)
        master.publish_calibration()
        now[0] += int(1e9 / 30)
    sent = [m for m in wire.published if isinstance(m, Calibration)]
    assert 10 <= len(sent) <= 21           # <= 10 a second over 2 s, the first at once
    for _ in range(3):                     # then quiet: the last change goes out, then repeats only
        now[0] += int(0.05e9)
        master.publish_calibration()
    sent = [m for m in wire.published if isinstance(m, Calibration)]
    assert sent[-1].revision == master.calibration_revision == 61 and calibration_set(sent[-1]) == cal
    count = len(sent)
    now[0] += int(CALIBRATION_REPEAT_S * 1e9)
    assert master.publish_calibration() and not master.publish_calibration()
    assert len(wire.published) == count + 1
    assert master.status()["calibration"] == {"version": 3, "dirty": True, "revision": 61}


def test_a_standby_takes_over_the_calibration_without_making_the_nodes_rebuild(hall, hall_set):
    from domectl.master import Master, Scene
    from domectl.protocol import Mirror
    from domectl.standby import Watch, take_over

    wire = Wire()
    primary = Master(hall, wire, StillSky(), Scene(start_utc=T0), igs=(), deadline_ms=1.0)
    primary.set_calibration(moved(hall_set, "p05", 0, 0, 2.0, 2.0), version=7, dirty=True)
    primary.step(0)
    primary.publish_mirror(force=True)
    watch = Watch()
    for msg in wire.published:
        watch.feed(encode(msg))
    assert watch.calibration is not None and isinstance(wire.published[-1], Mirror)
    standby = Master(hall, Wire(), StillSky(), Scene(start_utc=T0), igs=())
    take_over(standby, watch)
    assert standby.calibration == primary.calibration
    assert (standby.calibration_version, standby.calibration_dirty) == (7, True)
    assert (standby.calibration_epoch, standby.calibration_revision) == (primary.calibration_epoch,
                                                                         primary.calibration_revision)


# ---------------------------------------------------------------- end to end: processes, sockets, the API


def _start(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "domectl", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, what: str, timeout_s: float = 60.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_end_to_end_refine_by_hand_save_and_a_killed_node_comes_back_calibrated(hall_on_free_ports, tmp_path):
    from calibration.store import CalibrationStore, default_store_root
    from domectl.control import ControlClient, read_token
    from domectl.keys import create_hall_keys
    from domectl.status import run_dir
    from render.image import load_png

    from domectl.config import dump_hall

    config, hall = hall_on_free_ports
    # 10 Hz with a 90 ms deadline: two software-rendered nodes on two cores make every swap, so
    # each ready (and the calibration revision it reports) counts.
    hall = dataclasses.replace(hall, timing=dataclasses.replace(hall.timing, fps=10.0, swap_deadline_ms=90.0))
    config = dump_hall(hall, tmp_path / "hall10")
    hall = load_hall(config)
    keys = tmp_path / "keys"
    create_hall_keys(keys, [g.id for g in hall.igs])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "out"
    master = _start(["master", "--config", str(config), "--keys", str(keys), "--join-timeout", "1",
                     "--rate", "0", "--time", "2026-11-20T21:00:00Z"], env)
    nodes: dict[str, subprocess.Popen] = {}

    def node(ig: int, name: str) -> subprocess.Popen:
        nodes[name] = _start(["node", "--config", str(config), "--keys", str(keys), "--ig", str(ig), "--headless",
                              "--scale", "0.0625", "--out", str(out / name)], env)
        return nodes[name]

    def joins(ig: int) -> int:
        return next(n["joins"] for n in api.get("/api/state")["nodes"] if n["ig"] == ig)

    def at_revision(ig: int, revision: int, after_joins: int = 0):
        """ig drawing ``revision``, in a process that joined after ``after_joins`` joins."""
        return lambda: joins(ig) > after_joins and any(
            n["ig"] == ig and n["online"] and n["calibration_revision"] == revision
            for n in api.get("/api/calibration")["nodes"])

    try:
        wait_for_line(master, "control API on", 60.0)
        api = ControlClient("127.0.0.1", hall.master.http_port, read_token(keys, run_dir(hall.name)))
        state = api.get("/api/calibration")
        start = state["calibration"]
        assert start["loaded"] and start["version"] == 1 and not start["dirty"]     # the store, made from the hall
        node(1, "a"), node(2, "live")
        for ig in (1, 2):
            _wait_for(at_revision(ig, start["revision"]), f"ig{ig:02d} drawing revision {start['revision']}")
        nodes["a"].send_signal(signal.SIGTERM)           # ig01's picture with the store's calibration
        assert nodes["a"].wait(30) == 0

        for _ in range(2):                                # two nudges: (64, -32) px at p01's centre point
            answer = api.post("/api/calibration/adjust", {"projector": "p01", "row": 2, "col": 3,
                                                          "dx_px": 32, "dy_px": -16})
        assert answer["point"] == {"row": 2, "col": 3, "offset_px": [64.0, -32.0]}
        assert answer["calibration"]["dirty"]
        revision = answer["calibration"]["revision"]
        _wait_for(at_revision(2, revision), "the running ig02 drawing the refinement", 20.0)

        joined = joins(1)
        node(1, "b1")                                     # a restarted node joins with it ...
        _wait_for(at_revision(1, revision, joined), "ig01 rejoining with the refinement")
        nodes["b1"].kill()                                # ... and after a kill -9, again
        nodes["b1"].wait(10)
        joined = joins(1)
        node(1, "b")
        _wait_for(at_revision(1, revision, joined), "ig01 back after kill -9 with the refinement")
        nodes["b"].send_signal(signal.SIGTERM)
        assert nodes["b"].wait(30) == 0

        before, after = load_png(out / "a" / "ig01.png"), load_png(out / "b" / "ig01.png")
        h, w = before.shape[:2]
        diff = np.abs(before.astype(int) - after.astype(int)).max(axis=-1)
        assert diff.max() > 0                                         # the picture changed ...
        # ... only within two cells of the point (x within w/3 of the centre; all rows, as the grid
        # has 4 cells down), plus one mesh step (4 px) where triangles straddle that edge.
        x = np.arange(w) + 0.5
        far = np.abs(x - w / 2) > w / 3 + 5
        assert diff[:, far].max() == 0
        assert diff[:, ~far].max() > 0

        saved = api.post("/api/calibration/save", {"note": "p01 centre nudged"})["calibration"]
        assert saved["version"] == 2 and not saved["dirty"]
        store = CalibrationStore.open(default_store_root(hall))
        assert store.current_version() == 2 and store.info(2).note == "p01 centre nudged"
        loaded = store.load(2)
        assert loaded.projector("p01").control.offsets_px[2][3] == (64.0, -32.0)
        assert _controls_from_api(api) == [(p.name, p.control) for p in loaded.projectors]

        api.post("/api/calibration/adjust", {"projector": "p01", "grid": [9, 13]})
        assert api.get("/api/calibration")["calibration"]["dirty"]
        reverted = api.post("/api/calibration/revert", {})["calibration"]
        assert reverted["version"] == 2 and not reverted["dirty"]
        assert _controls_from_api(api) == [(p.name, p.control) for p in loaded.projectors]
        with pytest.raises(Exception, match="outside the 5 x 7 grid"):
            api.post("/api/calibration/adjust", {"projector": "p01", "row": 9, "col": 0, "dx_px": 1})

        # `domectl calibrate adjust` with scripted keys: starts on the centre point, dots on p01 meanwhile.
        script = subprocess.run([sys.executable, "-m", "calibration.cli_adjust", "adjust", "--projector", "p01",
                                 "--config", str(config), "--keys", str(keys),
                                 "--keys-script", "right,right,up,shift+up,next,save"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert script.returncode == 0, script.stderr
        lines = script.stdout.splitlines()
        assert lines[0].startswith("p01 point (2, 3) of 5 x 7: offset (+64.0, -32.0) px   version 2   [dots]")
        assert "offset (+66.0, -43.0) px" in lines[4] and "unsaved" in lines[4]
        assert lines[-1].startswith("p01 point (2, 4) of 5 x 7: offset (+0.0, +0.0) px   version 3   [dots]")
        assert store.load(3).projector("p01").control.offsets_px[2][3] == (66.0, -43.0)
        assert api.get("/api/state")["pattern"] == ""          # the sky is back
    finally:
        for proc in nodes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in nodes.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if master.poll() is None:
            master.send_signal(signal.SIGTERM)
        try:
            master.wait(20)
        except subprocess.TimeoutExpired:
            master.kill()


def _controls_from_api(api) -> list:
    """(name, ControlGrid) per projector, as GET /api/calibration tells them."""
    return [(p["name"], ControlGrid(p["control"]["rows"], p["control"]["cols"],
                                    tuple(tuple(tuple(o) for o in row) for row in p["control"]["offsets_px"])))
            for p in api.get("/api/calibration")["projectors"]]
