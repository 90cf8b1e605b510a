"""``domectl preview``: the live dome in a window, drawn here from the running master's frames.

    domectl preview --config C [--size PX] [--token T] [--keys DIR] [--frames N] [--screenshot FILE]

About 30 times a second the window fetches the master's last FrameState
(``GET /api/frame``, the bytes of :func:`domectl.frame.encode_frame`) and
draws it whole with the renderer the nodes use
(:func:`domectl.showrender.make_renderer`, :func:`domectl.pipeline.render_frame`),
in the window's own GL context: what a still of that size shows, black while
the dome is blacked out. The keys are the console's controls
(docs/console.md, ``domectl preview``), each one POST to the master's
control API; :func:`command_for_key` is the whole mapping. Without the
control token the window only watches, and says so when a key is pressed.

The master not answering at the start is an error (exit status 2, as every
`domectl` command that cannot run); lost later, the window keeps its last
frame and tries again every ``RECONNECT_S``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:          # the parser is built for every `domectl` command: keep its imports light
    import http.client

    from domectl.control import ControlClient

#: Frames fetched and drawn per second: smooth enough to follow a drag or a time-lapse, and
#: 30 small GETs a second cost the master's process little (one kept-alive connection).
FETCH_HZ = 30.0
#: A GET of the frame that takes longer than this is given up (the window stays responsive).
FRAME_TIMEOUT_S = 1.0
#: A master lost is tried again this often (the window keeps its last frame meanwhile).
RECONNECT_S = 1.0
#: At the start, how long to wait for the master's first frame (a master that just started
#: answers 404 until its frame loop has drawn one).
FIRST_FRAME_WAIT_S = 10.0
#: Default window and render side: the whole dome legible on a laptop screen.
DEFAULT_SIZE_PX = 768
#: One arrow press turns the sky by this much (divided by the zoom: a zoomed view turns as much
#: on the dome).
TURN_STEP_DEG = 5.0
#: One + or - press multiplies or divides the zoom by this (about 10 presses per decade).
ZOOM_STEP = 1.25

KEYS_HELP = ("arrows turn the sky, + / - zoom, 0 recenter, space pause/resume, [ ] slower/faster, "
             "L constellation lines, B blackout, R restore, Esc quit")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``preview`` to ``domectl``'s subparsers."""
    from domectl.argtypes import positive_int_arg
    from domectl.cli import size_px_arg

    p = subparsers.add_parser(
        "preview", help="the live dome in a window, from the running master (keys control it)",
        description="Open a window showing the live domemaster, drawn on this computer from the running "
                    f"master's frames with the renderer the nodes use. Keys: {KEYS_HELP}. Needs a display "
                    "(a desktop session, or xvfb-run).")
    p.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall)")
    p.add_argument("--size", type=size_px_arg, default=DEFAULT_SIZE_PX, metavar="PX",
                   help=f"domemaster side drawn, in pixels (default: {DEFAULT_SIZE_PX}; the window is at most "
                        "1024 px)")
    p.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="key directory with control.token (default: <config dir>/keys)")
    p.add_argument("--token", default=None,
                   help="the control token (default: found on this machine; without one the window only watches)")
    p.add_argument("--frames", type=positive_int_arg, default=None, metavar="N",
                   help="close the window after N frames (default: when closed or Esc)")
    p.add_argument("--screenshot", type=Path, default=None, metavar="FILE",
                   help="write the window's last picture to this PNG when it closes")
    return p


# ------------------------------------------------------------ keys -> commands


def _presets(state: dict) -> list[float]:
    return sorted(float(r) for r in state.get("time", {}).get("presets", ()))


def command_for_key(key_name: str, state: dict) -> tuple[str, dict] | None:
    """The control API call a key makes: ``(path, body)``, or None when the key does nothing now.

    ``key_name``: ``left``, ``right``, ``up``, ``down`` or a typed character (``+``, ``=``,
    ``-``, ``0``, ``space``, ``[``, ``]``, ``l``, ``b``, ``r``; letters in either case).
    ``state``: the master's ``GET /api/state`` (docs/console.md), for the keys that depend on it:
    the zoom (an arrow turns ``TURN_STEP_DEG / zoom``, at most ``TURN_STEP_DEG``), whether time
    is paused (space), the rate and its presets (``[`` steps to the preset below the rate, ``]``
    to the one above; the presets run from fastest backwards to fastest forwards), and whether
    the constellation lines are on (L).
    """
    key = key_name.lower() if len(key_name) == 1 else key_name
    if key in ("left", "right", "up", "down"):
        zoom = float(state.get("view", {}).get("zoom", 1.0) or 1.0)
        step_deg = TURN_STEP_DEG / max(1.0, zoom)
        field = "d_az_deg" if key in ("left", "right") else "d_alt_deg"
        sign = -1.0 if key in ("left", "down") else 1.0
        return "/api/view", {field: sign * step_deg}
    if key in ("+", "="):
        return "/api/view", {"zoom_by": ZOOM_STEP}
    if key == "-":
        return "/api/view", {"zoom_by": 1.0 / ZOOM_STEP}
    if key == "0":
        return "/api/view/recenter", {}
    if key == "space":
        paused = state.get("time", {}).get("paused")
        if paused is None:
            return None
        return ("/api/time/resume" if paused else "/api/time/pause"), {}
    if key in ("[", "]"):
        rate = state.get("time", {}).get("rate")
        presets = _presets(state)
        if rate is None or not presets:
            return None
        rate = float(rate)
        if key == "]":
            faster = [p for p in presets if p > rate]
            return ("/api/time/rate", {"rate": faster[0]}) if faster else None
        slower = [p for p in presets if p < rate]
        return ("/api/time/rate", {"rate": slower[-1]}) if slower else None
    if key == "l":
        layer = next((la for la in state.get("layers", ()) if la.get("name") == "constellation-lines"), None)
        if layer is None:
            return None
        return "/api/layer", {"name": "constellation-lines", "on": not layer.get("on", False)}
    if key == "b":
        return "/api/blackout", {}
    if key == "r":
        return "/api/restore", {}
    return None


def send_key(client: ControlClient, key_name: str, state: dict | None = None) -> tuple[str, dict] | None:
    """Do on the master behind ``client`` what ``key_name`` does (``state``: its /api/state, read
    now when None); returns the ``(path, body)`` posted, None when the key does nothing now.

    Raises ControlError without a control token (saying what the key would have done) and when
    the master refuses (a show drives the dome, a wrong token, ...).
    """
    from domectl.control import ControlError

    if state is None:
        state = client.get("/api/state")
    command = command_for_key(key_name, state)
    if command is None:
        return None
    path, body = command
    if not client.token:
        raise ControlError(f"read-only, no control token (give --token, or run this on the master's computer): "
                           f"this key would POST {path} {body}")
    client.post(path, body)
    return command


# ------------------------------------------------------------ frames over HTTP


class FrameSource:
    """``GET /api/frame`` on one kept-alive connection (a new connection per frame would cost the
    master's process a thread each, 30 times a second)."""

    def __init__(self, base_url: str, timeout_s: float = FRAME_TIMEOUT_S):
        import urllib.parse

        from domectl.control import ControlError

        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ControlError(f"{base_url!r}: the master's control API is an http:// address")
        self.base = base_url
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def fetch(self) -> bytes | None:
        """The master's last FrameState as bytes; None while it has none yet (404). Raises
        ControlError when the master does not answer (or answers anything else)."""
        import http.client

        from domectl.control import ControlError

        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            try:
                self._conn.request("GET", "/api/frame")
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.HTTPException, OSError) as e:
                self.close()
                # A kept-alive connection the server closed while idle fails once: reconnect.
                if attempt == 0 and isinstance(e, (http.client.RemoteDisconnected, ConnectionResetError,
                                                   BrokenPipeError)):
                    continue
                raise ControlError(f"no master answers on {self.base} ({e}): start `domectl master` "
                                   "(or `domectl run`) for this hall first") from None
            if resp.status == 404:
                return None
            if resp.status != 200:
                raise ControlError(f"GET /api/frame: {resp.status} {resp.reason} from {self.base}")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def first_frame(source: FrameSource, wait_s: float = FIRST_FRAME_WAIT_S) -> bytes:
    """The master's first frame; ControlError when it does not answer, or has no frame after ``wait_s``."""
    from domectl.control import ControlError

    end = time.monotonic() + wait_s
    while True:
        data = source.fetch()
        if data is not None:
            return data
        if time.monotonic() >= end:
            raise ControlError(f"the master on {source.base} has drawn no frame in {wait_s:g} s "
                               "(GET /api/frame: 404): is its frame loop running?")
        time.sleep(0.1)


class FrameFeed:
    """The master's frames for the window: :meth:`latest` is the newest FrameState, or None when
    there is nothing new. A master lost is said once (``say``), then tried again every
    ``RECONNECT_S`` (a host gone from the network would block each try for FRAME_TIMEOUT_S),
    and said again when it answers; a frame this version cannot decode is said once per error."""

    def __init__(self, source: FrameSource, say=None, clock=time.monotonic):
        self.source = source
        self.say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self.clock = clock
        self.lost = False
        self._retry_s = 0.0
        self._bad: str | None = None

    def latest(self):
        from domectl.control import ControlError
        from domectl.errors import PeerError
        from domectl.frame import decode_frame

        if self.lost and self.clock() < self._retry_s:
            return None
        try:
            data = self.source.fetch()
        except ControlError as e:
            if not self.lost:
                self.say(f"preview: {e}; showing the last frame, trying again every {RECONNECT_S:g} s")
                self.lost = True
            self._retry_s = self.clock() + RECONNECT_S
            return None
        if self.lost:
            self.say("preview: the master answers again")
            self.lost = False
        if data is None:
            return None
        try:
            state = decode_frame(data)
        except PeerError as e:
            if str(e) != self._bad:
                self.say(f"preview: the master sent a frame this version cannot read: {e}")
                self._bad = str(e)
            return None
        self._bad = None
        return state


# ------------------------------------------------------------ the window


class PreviewWindow:
    """FrameStates drawn by a DomeRenderer in a window's own GL context (render.window.LiveWindow,
    which owns everything GLFW and GL; ``keys`` collects what the user typed since it was emptied)."""

    def __init__(self, hall, size_px: int, title: str, catalog=None):
        from domectl.showrender import make_renderer
        from render.window import LiveWindow

        self.hall = hall
        self.size_px = size_px
        self.window = LiveWindow((size_px, size_px), title)
        try:
            self.renderer = make_renderer(self.window.ctx, hall, size_px, catalog)
        except BaseException:
            self.window.close()
            raise
        self.keys = self.window.keys

    def should_close(self) -> bool:
        return self.window.should_close()

    def draw(self, state) -> None:
        """Draw ``state`` (a FrameState) into the texture the window shows (black when blacked out)."""
        from domectl.pipeline import render_frame

        self.window.show(None if state.blackout else render_frame(
            self.renderer, state, self.hall, (0.0, 0.0, 1.0, 1.0), (self.size_px, self.size_px)))

    def present(self) -> None:
        self.window.present()

    def swap(self) -> None:
        self.window.swap("showing the preview")

    def poll(self, timeout_s: float) -> None:
        self.window.poll(timeout_s)

    def read_back(self):
        """What the window shows, (h, w, 3) uint8, top row first."""
        return self.window.read_back()

    def close(self) -> None:
        if self.renderer is not None:
            self.window.show(None)
            self.renderer.release()
            self.renderer = None
        self.window.close()


# ------------------------------------------------------------ the command


def cmd_preview(args) -> int:
    from domectl.control import client_for
    from domectl.frame import decode_frame

    hall, client = client_for(args, control=False)
    source = FrameSource(client.base)
    try:
        state = decode_frame(first_frame(source))
        read_only = "" if client.token else "; read-only: no control token (give --token, or run this on the " \
                                            "master's computer), keys only show what they would do"
        print(f"preview: connected to {client.base}, frame {state.frame}{read_only}", flush=True)
        print(f"preview: keys: {KEYS_HELP}", flush=True)
        window = PreviewWindow(hall, args.size, f"domectl preview: {hall.name} ({client.base})")
        try:
            frames = _run_window(window, FrameFeed(source), client, state, args.frames)
            if args.screenshot is not None:
                from render.image import save_png

                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                save_png(args.screenshot, window.read_back())
                print(f"preview: wrote {args.screenshot} after {frames} frames", flush=True)
        finally:
            window.close()
    finally:
        source.close()
    return 0


def _run_window(window: PreviewWindow, feed: FrameFeed, client: ControlClient, state,
                max_frames: int | None) -> int:
    """Fetch, draw, show and answer keys until the window closes, Esc, or ``max_frames``."""
    period_s = 1.0 / FETCH_HZ
    drawn = None
    frames = 0
    next_s = time.monotonic()
    while not window.should_close() and (max_frames is None or frames < max_frames):
        if frames > 0:
            state = feed.latest() or state
        if drawn is None or state.frame != drawn:
            window.draw(state)
            drawn = state.frame
        window.present()
        window.swap()
        frames += 1
        next_s = max(next_s + period_s, time.monotonic())
        window.poll(next_s - time.monotonic())
        for key in window.keys:
            if key == "escape":
                return frames
            _press(client, key)
        window.keys.clear()
    return frames


def _press(client: ControlClient, key: str) -> None:
    from domectl.control import ControlError

    try:
        send_key(client, key)
    except ControlError as e:
        print(f"preview: key {key!r}: {e}", file=sys.stderr, flush=True)
