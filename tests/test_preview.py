"""The console's live preview (domectl/preview.py) and `domectl preview` (domectl/cli_preview.py).

The preview's JPEG, drawn by its child process in the child's own EGL
context, is compared with ``render_still`` of the same FrameState (the code
`domectl render` runs) in this process's context. The child is real: it is
killed (-9), stopped (SIGSTOP: hung), left without GL (no EGL vendor), and
orphaned, and the tests look at /proc for what is left. `domectl preview`
runs as a user runs it, in a real window under xvfb-run, against a real
`domectl master`, and its screenshot is compared with a headless render of
the master's frame.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import domectl.preview
from domectl.cli_preview import (
    RECONNECT_S,
    TURN_STEP_DEG,
    ZOOM_STEP,
    FrameFeed,
    FrameSource,
    command_for_key,
    send_key,
)
from domectl.control import ControlError
from domectl.errors import PeerError
from domectl.preview import (
    ERROR,
    FRAME,
    HELLO,
    JPEG,
    MessageReader,
    PreviewRenderer,
    pack_message,
)

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)
SIZE_PX = 192
#: Bounds for waits that end as soon as their event happens; reaching one is a failure.
EVENT_WAIT_S = 60.0
#: JPEG at quality 70 of a starry sky against the exact render: mean |difference| per channel,
#: in 8-bit levels (measured 1.6 at 192 px: the black sky comes back as 1).
JPEG_MEAN_LEVELS = 2.5
#: The window against a headless render of the master's paused frame, same renderer, same size:
#: mean |difference| in 8-bit levels (measured 0; the frame numbers and show time differ).
WINDOW_MEAN_LEVELS = 0.5
#: The same sky turned TURN_DEG must look clearly different (the comparisons above can fail):
#: measured 8.3 levels from the preview's JPEG at 192 px.
TURN_DEG = 5.0
TURNED_MEAN_LEVELS = 5.0
#: A backoff short enough for tests, long enough to be told from none (a respawn takes ~0.5 s).
RESPAWN_S = 1.0
#: glvnd finds no EGL driver with this: what a computer without one looks like to the child.
NO_EGL_ENV = ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl_vendor.json")


@pytest.fixture(scope="module")
def hall():
    from domectl.config import load_hall

    return load_hall()


@pytest.fixture(scope="module")
def catalog():
    from domectl.skydata import load_stars

    return load_stars()


@pytest.fixture(scope="module")
def sky_state(hall):
    from domectl.ephemeris import Ephemeris
    from domectl.still import StillRequest, still_frame

    return still_frame(hall, StillRequest(utc=T0, size_px=SIZE_PX), Ephemeris())


def still_of(gl_ctx, hall, state, catalog, size_px: int = SIZE_PX) -> np.ndarray:
    from domectl.still import StillRequest, render_still

    return render_still(gl_ctx, hall, state, StillRequest(utc=T0, size_px=size_px), catalog)


def decode_jpeg(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def mean_levels(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


class Current:
    """A master's ``current``: returns ``state``; ``calls`` counts; ``called(n)`` waits for n calls.
    ``ticking``: each call returns the next frame number (a running master)."""

    def __init__(self, state, ticking: bool = False):
        self.state = state
        self.ticking = ticking
        self.calls = 0
        self._cond = threading.Condition()

    def __call__(self):
        with self._cond:
            self.calls += 1
            self._cond.notify_all()
            state = self.state
            if self.ticking and not isinstance(state, Exception):
                state = dataclasses.replace(state, frame=state.frame + self.calls)
        if isinstance(state, Exception):
            raise state
        return state

    def called(self, n: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.calls >= n, EVENT_WAIT_S), f"only {self.calls} calls"


def wait_until(condition) -> None:
    """Wait (polling) until ``condition()``; failing after EVENT_WAIT_S."""
    end = time.monotonic() + EVENT_WAIT_S
    while not condition():
        assert time.monotonic() < end, "the condition never came true"
        time.sleep(0.01)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not: a container's init may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def preview_children(parent_pid: int | None = None) -> list[int]:
    """Live `python -m domectl.preview` processes whose parent is ``parent_pid`` (default: this one)."""
    parent_pid = os.getpid() if parent_pid is None else parent_pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == parent_pid and b"domectl.preview" in cmdline and fields[0] not in "ZX":
            found.append(int(entry.name))
    return found


def niceness(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])


def is_preview_child(pid: int) -> bool:
    return alive(pid) and b"domectl.preview" in Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.fixture
def previews():
    """PreviewRenderers made here, stopped at the end whatever happens; none may leave a child."""
    made = []

    def make(*args, **kwargs) -> PreviewRenderer:
        preview = PreviewRenderer(*args, **kwargs)
        made.append(preview)
        return preview

    yield make
    for preview in made:
        preview.stop()
    assert preview_children() == []


# ------------------------------------------------------------ the pipe protocol


def test_messages_survive_any_split_of_the_stream():
    stream = pack_message(HELLO, b"hall") + pack_message(FRAME, b"") + pack_message(JPEG, bytes(range(256)) * 300)
    whole = MessageReader().feed(stream)
    assert whole == [(HELLO, b"hall"), (FRAME, b""), (JPEG, bytes(range(256)) * 300)]
    reader, byte_by_byte = MessageReader(), []
    for k in range(len(stream)):
        byte_by_byte += reader.feed(stream[k:k + 1])
    assert byte_by_byte == whole and reader.pending == 0
    reader = MessageReader()
    assert reader.feed(stream[:11]) == [(HELLO, b"hall")] and reader.pending == 2      # 5-byte headers


def test_a_corrupt_stream_is_the_peers_error_and_a_bad_message_ours():
    with pytest.raises(PeerError, match=r"unknown message kind b'x' \(a corrupt stream"):
        MessageReader().feed(b"x\x00\x00\x00\x00")
    with pytest.raises(PeerError, match="a 4294967295-byte message, at most 67108864"):
        MessageReader().feed(ERROR + b"\xff\xff\xff\xff")
    with pytest.raises(ValueError, match="preview message kind b'Q': not one of"):
        pack_message(b"Q", b"")


# ------------------------------------------------------------ PreviewRenderer


def test_a_master_nobody_watches_never_starts_the_preview_process():
    code = textwrap.dedent("""
        import json, os, sys
        from domectl.config import load_hall
        from domectl.preview import PreviewRenderer

        calls = []
        preview = PreviewRenderer(load_hall(), lambda: calls.append(1)).start()
        waited = preview.wait_jpeg(0, timeout_s=0.5)
        stats = preview.stats
        children = [p for p in os.listdir("/proc") if p.isdigit() and os.path.exists(f"/proc/{p}/stat")
                    and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
        preview.stop()
        print(json.dumps({"waited": waited, "calls": len(calls), "gl": stats["gl"], "frames": stats["frames"],
                          "spawns": stats["spawns"], "child_pid": stats["child_pid"], "children": children,
                          "imported": [m for m in ("moderngl", "numpy", "PIL") if m in sys.modules],
                          "alive": preview._thread.is_alive()}))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == {"waited": None, "calls": 0, "gl": "closed", "frames": 0, "spawns": 0,
                                         "child_pid": None, "children": [], "imported": [], "alive": False}


def test_the_preview_is_the_still_of_the_master_frame(gl_ctx, hall, catalog, sky_state, previews, tmp_failures):
    preview = previews(hall, Current(sky_state), size_px=SIZE_PX).start()
    assert preview.latest_jpeg() is None
    with preview.watch():
        got = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
    assert got is not None
    seq, jpeg = got
    assert seq == 1 and preview.latest_jpeg() == got
    image = decode_jpeg(jpeg)
    assert image.shape == (SIZE_PX, SIZE_PX, 3)
    expected = still_of(gl_ctx, hall, sky_state, catalog)
    assert expected.max() > 100                      # a sky with stars, not a black frame
    if mean_levels(image, expected) > JPEG_MEAN_LEVELS:
        tmp_failures("preview", image, expected)
    assert mean_levels(image, expected) <= JPEG_MEAN_LEVELS
    turned = dataclasses.replace(sky_state, view_az_deg=sky_state.view_az_deg + TURN_DEG)
    assert mean_levels(image, still_of(gl_ctx, hall, turned, catalog)) > TURNED_MEAN_LEVELS
    stats = preview.stats
    assert stats["frames"] == 1 and stats["errors"] == 0 and stats["gl"] == "open" and stats["spawns"] == 1
    assert 0 < stats["last_render_ms"] <= stats["round_trip_ms"] and stats["size_px"] == SIZE_PX
    # Drawn by a child process, which stays (idle) after the last watcher leaves, and gives way
    # to the master for the CPU.
    assert stats["child_pid"] != os.getpid() and preview_children() == [stats["child_pid"]]
    assert niceness(stats["child_pid"]) == min(19, niceness(os.getpid()) + domectl.preview.CHILD_NICE)


def test_a_frame_is_drawn_once_and_each_new_frame_again(hall, sky_state, previews):
    current = Current(sky_state)
    preview = previews(hall, current, size_px=64, fps=60.0).start()
    with preview.watch():
        seq, _ = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
        calls = current.calls
        current.called(calls + 3)                   # three more looks at the same frame number
        assert preview.stats["frames"] == 1 and preview.latest_jpeg()[0] == seq
        current.state = dataclasses.replace(sky_state, frame=sky_state.frame + 1)
        got = preview.wait_jpeg(seq, timeout_s=EVENT_WAIT_S)
    assert got is not None and got[0] == seq + 1
    assert preview.stats["frames"] == 2


def test_a_blacked_out_dome_previews_black(hall, sky_state, previews):
    preview = previews(hall, Current(dataclasses.replace(sky_state, blackout=True)), size_px=64).start()
    with preview.watch():
        _, jpeg = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
    assert decode_jpeg(jpeg).max() <= 2


def test_render_errors_are_counted_logged_and_the_child_carries_on(hall, sky_state, previews, caplog):
    current = Current(dataclasses.replace(sky_state, frame=1, layers=(("no-such-layer", 1.0),)))
    preview = previews(hall, current, size_px=64, fps=60.0).start()
    with caplog.at_level(logging.ERROR, logger="domectl.preview"), preview.watch():
        wait_until(lambda: preview.stats["errors"] == 1)      # the child's answer to the bad frame
        current.state = RuntimeError("the master's frame is unreadable")
        current.called(current.calls + 2)
        current.state = dataclasses.replace(sky_state, frame=2)
        got = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
    assert got is not None and got[0] == 1
    stats = preview.stats
    assert stats["frames"] == 1 and stats["spawns"] == 1       # the same child drew the good frame
    assert stats["errors"] >= 3                    # the bad frame once, the failing current() twice or more
    assert "the master's frame is unreadable" in stats["last_error"]
    logged = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("preview: frame 1: unknown layer 'no-such-layer'") for m in logged) == 1
    assert sum("the master's frame is unreadable" in m for m in logged) == 1   # repeats are counted, not logged


def test_wait_jpeg_times_out_stop_wakes_waiters_and_ends_the_child(hall, sky_state, previews):
    preview = previews(hall, Current(sky_state), size_px=64).start()
    assert preview.wait_jpeg(0, timeout_s=0.05) is None            # nobody watches: nothing drawn
    with preview.watch():
        seq, _ = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
        child_pid = preview.stats["child_pid"]
        # The same frame is never drawn twice: waiting for a newer image times out.
        assert preview.wait_jpeg(seq, timeout_s=0.3) is None
        results = []
        waiter = threading.Thread(target=lambda: results.append(preview.wait_jpeg(seq, EVENT_WAIT_S)))
        waiter.start()
        preview.stop()
        waiter.join(EVENT_WAIT_S)
    assert not waiter.is_alive() and results == [None]
    assert not preview._thread.is_alive()
    assert not alive(child_pid) and preview_children() == []        # ended and reaped
    stats = preview.stats
    assert stats["gl"] == "closed" and stats["child_pid"] is None and stats["errors"] == 0
    assert preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S) is None    # stopped: at once, no image
    assert preview.latest_jpeg()[0] == seq                          # the last image stays readable
    preview.stop()                                                  # twice is harmless


def test_a_killed_child_is_counted_said_once_and_replaced_after_the_backoff(hall, sky_state, previews, caplog):
    preview = previews(hall, Current(sky_state), size_px=64, fps=20.0, respawn_s=RESPAWN_S).start()
    with caplog.at_level(logging.ERROR, logger="domectl.preview"), preview.watch():
        seq, _ = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
        first_pid = preview.stats["child_pid"]
        killed_s = time.monotonic()
        os.kill(first_pid, signal.SIGKILL)
        # Seen while idle (the frame does not change), and the same frame drawn by the next child.
        wait_until(lambda: preview.stats["errors"] == 1)
        assert preview.stats["child_pid"] is None and preview.stats["gl"] == "closed"
        got = preview.wait_jpeg(seq, timeout_s=EVENT_WAIT_S)
        resumed_s = time.monotonic()
        assert got is not None and got[0] == seq + 1
    assert resumed_s - killed_s >= RESPAWN_S
    stats = preview.stats
    assert stats["spawns"] == 2 and stats["errors"] == 1 and stats["frames"] == 2
    assert stats["child_pid"] not in (None, first_pid) and is_preview_child(stats["child_pid"])
    assert not alive(first_pid)
    assert stats["last_error"] == "the preview process: ChildGone: it ended; exit status -9"
    assert [r.getMessage() for r in caplog.records] == ["preview: the preview process: it ended; exit status -9"]


def test_a_hung_child_is_killed_after_the_frame_deadline(hall, sky_state, previews, monkeypatch):
    monkeypatch.setattr(domectl.preview, "FRAME_TIMEOUT_S", 1.0)
    preview = previews(hall, Current(sky_state, ticking=True), size_px=64, fps=20.0, respawn_s=0.1).start()
    with preview.watch():
        seq, _ = preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
        hung_pid = preview.stats["child_pid"]
        os.kill(hung_pid, signal.SIGSTOP)
        wait_until(lambda: preview.stats["errors"] == 1)
        assert preview.stats["last_error"] == ("the preview process: ChildGone: no answer in 1 s (hung?): killed; "
                                               "exit status -9")
        assert not alive(hung_pid)
        assert preview.wait_jpeg(seq, timeout_s=EVENT_WAIT_S) is not None
    assert preview.stats["spawns"] == 2


def test_no_gl_is_counted_said_once_and_tried_again_after_the_backoff(hall, sky_state, previews, monkeypatch,
                                                                     caplog):
    monkeypatch.setenv(*NO_EGL_ENV)
    preview = previews(hall, Current(sky_state), size_px=64, fps=60.0, respawn_s=RESPAWN_S).start()
    with caplog.at_level(logging.ERROR, logger="domectl.preview"), preview.watch():
        wait_until(lambda: preview.stats["gl"] == "failed")
        failed_s = time.monotonic()
        with preview.watch():                        # more watchers, a dozen ticks at 60 fps...
            assert preview.wait_jpeg(0, timeout_s=0.2) is None
        if time.monotonic() - failed_s < RESPAWN_S:
            assert preview.stats["spawns"] == 1      # ...but no new child before the backoff
        wait_until(lambda: preview.stats["errors"] == 2)
        assert time.monotonic() - failed_s >= RESPAWN_S
    stats = preview.stats
    assert stats["gl"] == "failed" and stats["spawns"] == 2 and stats["frames"] == 0
    assert stats["last_error"].startswith("cannot open GL for the preview: RenderError: could not create an "
                                          "OpenGL 3.3 core context with backend='egl'")
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1                          # the second child's same failure is only counted
    assert logged[0].startswith("preview: cannot open GL for the preview: could not create an OpenGL 3.3 core "
                                "context with backend='egl': ")
    assert "apt-get install libegl1" in logged[0]   # what to do about it
    assert preview.latest_jpeg() is None and preview_children() == []


def test_the_child_holds_none_of_the_masters_sockets(hall, sky_state, previews):
    # Even an inheritable socket (a library may make one) stays the master's.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.set_inheritable(True)
    try:
        inode = os.fstat(listener.fileno()).st_ino
        preview = previews(hall, Current(sky_state), size_px=64).start()
        with preview.watch():
            preview.wait_jpeg(0, timeout_s=EVENT_WAIT_S)
            child_pid = preview.stats["child_pid"]
            fds = {int(fd.name): os.readlink(fd) for fd in Path(f"/proc/{child_pid}/fd").iterdir()}
    finally:
        listener.close()
    assert f"socket:[{inode}]" not in fds.values()
    assert fds[0].startswith("pipe:") and fds[2] == os.readlink("/proc/self/fd/2")   # its stderr is ours


def test_the_child_ends_when_the_master_is_killed(tmp_path):
    code = textwrap.dedent("""
        import sys, time
        from datetime import datetime, timezone
        from domectl.config import load_hall
        from domectl.ephemeris import Ephemeris
        from domectl.preview import PreviewRenderer
        from domectl.still import StillRequest, still_frame

        hall = load_hall()
        state = still_frame(hall, StillRequest(utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc), size_px=64),
                            Ephemeris())
        preview = PreviewRenderer(hall, lambda: state, size_px=64).start()
        with preview.watch():
            preview.wait_jpeg(0, timeout_s=60)
            print(preview.stats["child_pid"], flush=True)
            time.sleep(600)
    """)
    master = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(master.stdout.readline())
        assert is_preview_child(child_pid)
        master.kill()
        master.wait()
        wait_until(lambda: not alive(child_pid))
    finally:
        master.kill()
        master.wait()
        master.stdout.close()


@pytest.mark.parametrize("kwargs, message", [
    ({"size_px": 8}, "size_px=8: must be 16..4096"),
    ({"fps": 0.0}, "fps=0.0: must be in"),
    ({"quality": 100}, "JPEG quality must be 1..95"),
    ({"respawn_s": 0.0}, "respawn_s=0.0: must be > 0 seconds"),
])
def test_bad_settings_are_refused(hall, kwargs, message):
    with pytest.raises(ValueError, match=message):
        PreviewRenderer(hall, lambda: None, **kwargs)


# ------------------------------------------------------------ keys


STATE = {
    "time": {"rate": 1.0, "paused": False, "presets": [-3600, -60, -1, 1, 10, 60, 600, 3600, 86400]},
    "view": {"az_deg": 180.0, "alt_deg": 0.0, "zoom": 1.0},
    "layers": [{"name": "constellation-lines", "opacity": 0.0, "on": False},
               {"name": "stars", "opacity": 1.0, "on": True}],
}


def with_(**parts) -> dict:
    state = json.loads(json.dumps(STATE))
    for key, value in parts.items():
        state[key].update(value)
    return state


@pytest.mark.parametrize("key, state, command", [
    ("left", STATE, ("/api/view", {"d_az_deg": -TURN_STEP_DEG})),
    ("right", STATE, ("/api/view", {"d_az_deg": TURN_STEP_DEG})),
    ("up", STATE, ("/api/view", {"d_alt_deg": TURN_STEP_DEG})),
    ("down", STATE, ("/api/view", {"d_alt_deg": -TURN_STEP_DEG})),
    ("right", with_(view={"zoom": 10.0}), ("/api/view", {"d_az_deg": TURN_STEP_DEG / 10.0})),
    ("right", with_(view={"zoom": 0.5}), ("/api/view", {"d_az_deg": TURN_STEP_DEG})),
    ("+", STATE, ("/api/view", {"zoom_by": ZOOM_STEP})),
    ("=", STATE, ("/api/view", {"zoom_by": ZOOM_STEP})),
    ("-", STATE, ("/api/view", {"zoom_by": 1.0 / ZOOM_STEP})),
    ("0", STATE, ("/api/view/recenter", {})),
    ("space", STATE, ("/api/time/pause", {})),
    ("space", with_(time={"rate": 0.0, "paused": True}), ("/api/time/resume", {})),
    ("]", STATE, ("/api/time/rate", {"rate": 10.0})),
    ("[", STATE, ("/api/time/rate", {"rate": -1.0})),
    ("]", with_(time={"rate": 0.0, "paused": True}), ("/api/time/rate", {"rate": 1.0})),
    ("[", with_(time={"rate": 0.0, "paused": True}), ("/api/time/rate", {"rate": -1.0})),
    ("]", with_(time={"rate": 30.0}), ("/api/time/rate", {"rate": 60.0})),
    ("[", with_(time={"rate": 30.0}), ("/api/time/rate", {"rate": 10.0})),
    ("]", with_(time={"rate": 86400.0}), None),                    # already the fastest
    ("[", with_(time={"rate": -3600.0}), None),                    # already the fastest backwards
    ("l", STATE, ("/api/layer", {"name": "constellation-lines", "on": True})),
    ("L", {**STATE, "layers": [{"name": "constellation-lines", "opacity": 0.6, "on": True}]},
     ("/api/layer", {"name": "constellation-lines", "on": False})),
    ("b", STATE, ("/api/blackout", {})),
    ("B", STATE, ("/api/blackout", {})),
    ("r", STATE, ("/api/restore", {})),
    ("escape", STATE, None),
    ("x", STATE, None),
    ("space", {}, None),                                             # a master without those fields
    ("]", {}, None),
    ("l", {}, None),
])
def test_command_for_key(key, state, command):
    assert command_for_key(key, state) == command


class FakeClient:
    def __init__(self, token, state=STATE):
        self.token, self.state, self.posted = token, state, []

    def get(self, path):
        assert path == "/api/state"
        return self.state

    def post(self, path, body):
        self.posted.append((path, body))
        return {}


def test_send_key_posts_the_command_and_only_with_a_token():
    client = FakeClient("t" * 32)
    assert send_key(client, "b") == ("/api/blackout", {})
    assert send_key(client, "x") is None
    assert client.posted == [("/api/blackout", {})]
    read_only = FakeClient(None)
    with pytest.raises(ControlError, match=r"read-only, no control token \(give --token.*would POST /api/blackout"):
        send_key(read_only, "b")
    assert read_only.posted == []


# ------------------------------------------------------------ frames over HTTP


@pytest.fixture
def frame_server():
    """A stand-in for the master's GET /api/frame: ``replies`` is a list of (status, body, close)
    answered in turn (the last one repeats); ``peers`` the client ports seen."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    replies: list[tuple[int, bytes, bool]] = []
    peers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            assert self.path == "/api/frame"
            peers.append(self.client_address[1])
            status, body, close = replies.pop(0) if len(replies) > 1 else replies[0]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = close

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", replies, peers
    server.shutdown()
    server.server_close()


def test_frame_source_keeps_one_connection_and_reconnects_when_it_is_closed(frame_server):
    base, replies, peers = frame_server
    replies += [(404, b'{"error": "no frame yet"}', False), (200, b"frame-1", False), (200, b"frame-2", True),
                (200, b"frame-3", False)]
    source = FrameSource(base)
    try:
        assert source.fetch() is None                      # 404: no frame yet
        assert source.fetch() == b"frame-1"
        assert source.fetch() == b"frame-2"                # the server closes after this one
        assert source.fetch() == b"frame-3"
    finally:
        source.close()
    assert len(set(peers[:3])) == 1                        # one kept-alive connection
    assert peers[3] != peers[0]                            # then a new one


def test_frame_source_says_what_went_wrong(frame_server, hall_on_free_ports):
    base, replies, _ = frame_server
    replies.append((500, b"", False))
    with pytest.raises(ControlError, match=r"GET /api/frame: 500 Internal Server Error from http://127.0.0.1:"):
        FrameSource(base).fetch()
    _, hall = hall_on_free_ports                           # a port nothing listens on
    with pytest.raises(ControlError, match=r"no master answers on http://127.0.0.1:\d+ .*start `domectl master`"):
        FrameSource(f"http://127.0.0.1:{hall.master.http_port}").fetch()
    with pytest.raises(ControlError, match="is an http:// address"):
        FrameSource("ftp://example")


class ScriptedSource:
    def __init__(self, *answers):
        self.answers, self.fetches = list(answers), 0

    def fetch(self):
        self.fetches += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_lost_master_is_said_once_retried_slowly_and_welcomed_back(sky_state):
    from domectl.frame import encode_frame

    said, now = [], [100.0]
    good = encode_frame(sky_state)
    lost = ControlError("no master answers on http://127.0.0.1:1 (refused)")
    source = ScriptedSource(good, lost, lost, lost, None, b"garbage", b"garbage", good)
    feed = FrameFeed(source, say=said.append, clock=lambda: now[0])
    assert feed.latest() == sky_state
    assert feed.latest() is None and feed.lost
    assert said == [f"preview: {lost}; showing the last frame, trying again every {RECONNECT_S:g} s"]
    assert feed.latest() is None and source.fetches == 2     # not tried again before RECONNECT_S
    now[0] += RECONNECT_S
    assert feed.latest() is None and source.fetches == 3 and len(said) == 1
    now[0] += RECONNECT_S
    assert feed.latest() is None and source.fetches == 4
    now[0] += RECONNECT_S
    assert feed.latest() is None                             # back, but no frame yet (404)
    assert said[1:] == ["preview: the master answers again"] and not feed.lost
    assert feed.latest() is None and feed.latest() is None   # a frame it cannot read, said once
    assert len(said) == 3 and said[2].startswith("preview: the master sent a frame this version cannot read")
    assert feed.latest() == sky_state


# ------------------------------------------------------------ `domectl preview` against a real master


def domectl_preview(config: Path, *args: str, window: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "domectl", "preview", "--config", str(config), *args]
    if window:
        assert shutil.which("xvfb-run"), "xvfb-run is missing: sh dev.sh setup installs it (Debian package xvfb)"
        command = ["xvfb-run", "-a", "-s", "-screen 0 640x480x24", *command]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_preview_without_a_master_says_what_to_start(hall_on_free_ports):
    config, _ = hall_on_free_ports
    result = domectl_preview(config, window=False)
    assert result.returncode == 2
    assert "no master answers on http://127.0.0.1:" in result.stderr
    assert "start `domectl master`" in result.stderr


def test_the_preview_window_shows_the_master_frame(hall_on_free_ports, gl_ctx, catalog, tmp_path, tmp_failures):
    from test_poll_e2e import start_master, stop

    from domectl.control import ControlClient, read_token
    from domectl.frame import decode_frame
    from domectl.status import run_dir

    config, hall = hall_on_free_ports
    master = start_master(config)
    try:
        client = ControlClient(hall.master.host, hall.master.http_port, read_token(None, run_dir(hall.name)))
        client.post("/api/time/rate", {"rate": 0})            # a still sky: the frames only renumber
        shot = tmp_path / "shot.png"
        result = domectl_preview(config, "--size", str(SIZE_PX), "--frames", "5", "--screenshot", str(shot))
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"preview: connected to {client.base}, frame " in result.stdout
        assert f"wrote {shot} after 5 frames" in result.stdout
        source = FrameSource(client.base)
        state = decode_frame(source.fetch())
        source.close()
    finally:
        stop(master)
    from render.image import load_png

    shown = load_png(shot)
    assert shown.shape == (SIZE_PX, SIZE_PX, 3)
    expected = still_of(gl_ctx, hall, state, catalog)
    assert expected.max() > 100
    if mean_levels(shown, expected) > WINDOW_MEAN_LEVELS:
        tmp_failures("window", shown, expected)
    assert mean_levels(shown, expected) <= WINDOW_MEAN_LEVELS
    turned = dataclasses.replace(state, view_az_deg=state.view_az_deg + TURN_DEG)
    assert mean_levels(shown, still_of(gl_ctx, hall, turned, catalog)) > TURNED_MEAN_LEVELS


def test_preview_keys_reach_the_master(hall_on_free_ports):
    from test_poll_e2e import start_master, stop

    from domectl.control import ControlClient, read_token
    from domectl.status import run_dir

    config, hall = hall_on_free_ports
    master = start_master(config)
    try:
        token = read_token(None, run_dir(hall.name))
        client = ControlClient(hall.master.host, hall.master.http_port, token)
        before = client.get("/api/state")
        assert send_key(client, "right") == ("/api/view", {"d_az_deg": TURN_STEP_DEG})
        assert send_key(client, "up") == ("/api/view", {"d_alt_deg": TURN_STEP_DEG})
        assert send_key(client, "l") == ("/api/layer", {"name": "constellation-lines", "on": True})
        assert send_key(client, "space") == ("/api/time/pause", {})
        after = client.get("/api/state")
        assert after["view"]["az_deg"] == pytest.approx((before["view"]["az_deg"] + TURN_STEP_DEG) % 360.0)
        assert after["view"]["alt_deg"] == pytest.approx(before["view"]["alt_deg"] + TURN_STEP_DEG)
        lines = next(la for la in after["layers"] if la["name"] == "constellation-lines")
        assert lines["on"] is True
        assert after["time"]["paused"] is True
        assert send_key(client, "space", after) == ("/api/time/resume", {})
        assert client.get("/api/state")["time"]["paused"] is False
        # Without the token nothing changes, and the error says why.
        with pytest.raises(ControlError, match="read-only, no control token"):
            send_key(ControlClient(hall.master.host, hall.master.http_port, None), "left")
        assert client.get("/api/state")["view"]["az_deg"] == pytest.approx(after["view"]["az_deg"])
    finally:
        stop(master)
