"""The console's live preview: the master's FrameState as a small domemaster JPEG, drawn in a child process.

The web console (domectl/control.py: ``/ws`` and ``/api/preview.jpg``) shows
what the dome shows, a few times a second. :class:`PreviewRenderer` has it
drawn with the code every node and ``domectl render`` use for a whole
domemaster (:func:`domectl.showrender.make_renderer` and
:func:`~domectl.showrender.draw_domemaster`: the same look as a still of that
size, black while the dome is blacked out)::

    preview = PreviewRenderer(hall, lambda: master.current).start()
    with preview.watch():                      # one per WebSocket that asked for the preview
        seq = 0
        while True:
            got = preview.wait_jpeg(seq, timeout_s=1.0)
            if got is not None:
                seq, jpeg = got                # send jpeg
    preview.stop()                             # at shutdown

Why a child process: moderngl holds the GIL in every GL call, and llvmpipe
(the master is a control computer, often without a GPU) finishes its drawing
inside the read-back. Drawn in a thread of the master, a 384 px frame (11-15
ms) held the GIL nearly throughout, and a 60 Hz frame loop beside the
watched preview started frames up to 9-14 ms late (p99 7-12 ms; 0.2 ms
alone). Drawn in a child, at a lower priority (``CHILD_NICE``), the loop's
p99 is the loop's alone (0.2 ms), its latest frame 2-4 ms late (0.3-1.4 ms
alone), none by 8 ms; the master's thread spends ~0.4 ms of CPU per frame
(encode, pipes) and ~1 ms per spawn (benchmarks/bench_preview.py,
``test_frame_loop_lateness_with_a_watched_preview``: the cases interleaved
in one run; llvmpipe, 2 cores).

The two processes::

    master: PreviewRenderer's thread              child: python -m domectl.preview
      (no GL, no numpy)                             (owns the EGL context and the DomeRenderer)
      spawn on the first watch  -- HELLO hall, size, quality -->  opens EGL, loads the stars
                                <-- READY  (or ERROR: no GL; it exits)
      fps times a second:       -- FRAME encode_frame(state) -->  draws, reads back, JPEG
                                <-- JPEG render_ms + bytes   (or ERROR: a bad frame; it goes on)

Messages are framed by :func:`pack_message` and :class:`MessageReader`
(pure: bytes in, messages out) on the child's stdin and stdout; the child's
stderr is the master's, and anything printed by a library in the child goes
there, not into the stream. One frame at most is in flight: the thread sends
a frame and waits for its answer; frames the master draws meanwhile are not
queued, the next tick takes the newest. A frame whose number is the one sent
last is not sent again (a master whose frame loop stands still costs
nothing). Nobody watching, the thread sleeps and the child stays idle; a
master nobody ever watches never starts one (nor imports numpy or moderngl).

The child is spawned fresh (``subprocess``: exec, ``close_fds``, its own
session, so it holds none of the master's sockets and a Ctrl-C in the
master's terminal is the master's alone). It ends when its stdin closes:
:meth:`PreviewRenderer.stop`, or the master's process gone however it went,
and it checks its parent is still there every ``PARENT_CHECK_S``. Nothing the
preview does can stop the master: a child that cannot open GL, dies (a crash,
a kill -9), hangs past a deadline or sends garbage is counted in
:attr:`PreviewRenderer.stats`, logged once (the same failure again is only
counted), and a new one is started at the next need after a backoff
(``respawn_s``, doubling while children keep failing, up to
``RESPAWN_MAX_S``); a frame the child cannot draw is counted and the next
one tried.
"""

from __future__ import annotations

import json
import logging
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from domectl.errors import PeerError

if TYPE_CHECKING:
    from domectl.config import Hall
    from domectl.frame import FrameState

log = logging.getLogger("domectl.preview")

#: docs/console.md: the WebSocket's preview is 384 px, five times a second. 384 px shows the
#: constellations' shapes on a tablet; at 5 Hz a drag on the page is followed smoothly enough
#: while the child spends about 6 % of one core on it (12 ms a frame on llvmpipe).
DEFAULT_SIZE_PX = 384
DEFAULT_FPS = 5.0
#: JPEG quality: a starry 384 px domemaster is ~10 KB at 70 and stars stay round.
DEFAULT_QUALITY = 70
#: A child that failed (no GL, died, hung) is replaced at the next need, this long after its
#: failure at the earliest: a missing driver does not come back by itself, and each try costs a
#: Python start (~0.5 s of a core) that the master's computer should not spend every second.
RESPAWN_S = 10.0
#: The backoff doubles while children keep failing without drawing a frame, up to this.
RESPAWN_MAX_S = 160.0
#: From spawn to READY: a Python start, numpy, moderngl, the EGL context and the catalogue
#: take about 1 s on llvmpipe; a loaded 2-core computer or a cold disk may take many times that.
START_TIMEOUT_S = 60.0
#: From FRAME to its answer: 12 ms normally, about 1 s for a child's first frame (shader JIT,
#: lazily built layers). A child slower than this is taken as hung: killed and replaced.
FRAME_TIMEOUT_S = 10.0
#: While waiting for the child, the thread looks whether stop() was called this often.
STOP_POLL_S = 0.05
#: A child asked to end (stdin closed) gets this long to release GL and exit, then is killed.
CHILD_EXIT_S = 5.0
#: stop() waits this long for the thread: one STOP_POLL_S, then CHILD_EXIT_S at most.
JOIN_TIMEOUT_S = CHILD_EXIT_S + 5.0
#: The child's niceness (added to the master's): where the cores are few and busy, the frame
#: loop gets the CPU first and the preview waits (benchmarks/bench_preview.py).
CHILD_NICE = 10
#: The child checks its parent is alive this often (its stdin closing says so at once, unless
#: another process inherited the pipe's other end).
PARENT_CHECK_S = 1.0

# ------------------------------------------------------------ the pipe protocol
#
# A message: kind (1 byte), payload length (4 bytes, big-endian), payload. Kinds:
#   parent -> child  HELLO  pickle {"version", "hall", "size_px", "quality"}   (first message, once)
#                    FRAME  domectl.frame.encode_frame bytes
#   child -> parent  READY  JSON {"version", "gl_renderer", "setup_ms"}        (answer to HELLO)
#                    JPEG   render ms (big-endian double), then the JPEG      (answer to FRAME)
#                    ERROR  JSON {"kind", "where", "type", "message", "traceback"}; kind "gl" and
#                           "hello" answer HELLO and the child exits, kind "render" answers FRAME
# Both ends run the same checkout (the parent starts the child from its own files), so a
# version mismatch is a bug; the number is checked to say so rather than misread.

PROTOCOL_VERSION = 1
HELLO, FRAME, READY, JPEG, ERROR = b"H", b"F", b"R", b"J", b"E"
KINDS = frozenset((HELLO, FRAME, READY, JPEG, ERROR))
_HEADER = struct.Struct(">cI")
_RENDER_MS = struct.Struct(">d")
#: The largest message either side accepts: a 4096 px JPEG at quality 95 of a busy sky is a few
#: MB; a length beyond this is a corrupt stream, not a picture.
MAX_MESSAGE_BYTES = 64 << 20


def pack_message(kind: bytes, payload: bytes) -> bytes:
    """One framed message: ``kind`` (one of KINDS) and ``payload``."""
    if kind not in KINDS:
        raise ValueError(f"preview message kind {kind!r}: not one of {sorted(KINDS)}")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ValueError(f"preview message of {len(payload)} bytes: at most {MAX_MESSAGE_BYTES}")
    return _HEADER.pack(kind, len(payload)) + payload


class MessageReader:
    """Bytes in, whole messages out: ``feed(data)`` returns the ``(kind, payload)`` completed by
    ``data``, in order. Raises PeerError for an unknown kind or an oversized length (the stream
    cannot be resynchronised after that: the caller drops the peer)."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= _HEADER.size:
            kind, length = _HEADER.unpack_from(self._buffer)
            if kind not in KINDS:
                raise PeerError(f"preview stream: unknown message kind {kind!r} (a corrupt stream, or "
                                "something else writing to the child's stdout)")
            if length > MAX_MESSAGE_BYTES:
                raise PeerError(f"preview stream: a {length}-byte message, at most {MAX_MESSAGE_BYTES}")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            messages.append((kind, bytes(self._buffer[_HEADER.size:end])))
            del self._buffer[:end]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that are not yet a whole message."""
        return len(self._buffer)


def pack_jpeg(render_ms: float, jpeg: bytes) -> bytes:
    return _RENDER_MS.pack(render_ms) + jpeg


def unpack_jpeg(payload: bytes) -> tuple[float, bytes]:
    if len(payload) < _RENDER_MS.size:
        raise PeerError(f"preview stream: a JPEG message of {len(payload)} bytes has no render time")
    return _RENDER_MS.unpack_from(payload)[0], payload[_RENDER_MS.size:]


def error_payload(kind: str, where: str, error: BaseException, traceback_text: str = "") -> bytes:
    return json.dumps({"kind": kind, "where": where, "type": type(error).__name__, "message": str(error),
                       "traceback": traceback_text}).encode()


class ChildGone(Exception):
    """The child process ended, hung past a deadline, or broke the stream (internal: counted
    and logged by PreviewRenderer, never raised out of it)."""


# ------------------------------------------------------------ the master's side


class PreviewRenderer:
    """Has ``current()`` (the master's last FrameState, or None before the first frame) drawn as a
    ``size_px`` x ``size_px`` domemaster JPEG, ``fps`` times a second while watched, by a child
    process. ``respawn_s``: the first backoff after a failed child (tests shorten it).
    """

    def __init__(self, hall: Hall, current: Callable[[], FrameState | None], *, size_px: int = DEFAULT_SIZE_PX,
                 fps: float = DEFAULT_FPS, quality: int = DEFAULT_QUALITY, respawn_s: float = RESPAWN_S):
        if not 16 <= int(size_px) <= 4096:
            raise ValueError(f"preview size_px={size_px}: must be 16..4096 pixels")
        if not 0.0 < fps <= 60.0:
            raise ValueError(f"preview fps={fps}: must be in (0, 60]")
        if not 1 <= int(quality) <= 95:
            raise ValueError(f"preview quality={quality}: JPEG quality must be 1..95")
        if not respawn_s > 0.0:
            raise ValueError(f"preview respawn_s={respawn_s}: must be > 0 seconds")
        self.hall = hall
        self.size_px = int(size_px)
        self.fps = float(fps)
        self.quality = int(quality)
        self.respawn_s = float(respawn_s)
        self._current = current
        self._cond = threading.Condition()
        self._watchers = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._image: tuple[int, bytes] | None = None
        self._seq = 0
        self._frames = 0
        self._errors = 0
        self._spawns = 0
        self._failures_in_a_row = 0      # children failed since the last image: the backoff's exponent
        self._respawn_at = 0.0
        self._last_render_ms: float | None = None
        self._last_round_trip_ms: float | None = None
        self._last_error: str | None = None
        self._last_failure: tuple[str, str, str] | None = None
        self._gl = "closed"          # closed | starting | open | failed

    # ------------------------------------------------------------ life

    def start(self) -> PreviewRenderer:
        """Start the thread (idle, no child, until somebody watches); returns self."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("PreviewRenderer.start() called twice")
            self._thread = threading.Thread(target=self._run, name="console-preview", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and its child process (asked to exit, killed after CHILD_EXIT_S);
        waiters get None. Idempotent."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("preview: the thread did not end within %.0f s", JOIN_TIMEOUT_S)
        with self._cond:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            # Only when the thread is stuck (in current()?): no child outlives stop().
            proc.kill()
            proc.wait()

    @contextmanager
    def watch(self) -> Iterator[PreviewRenderer]:
        """One watcher while inside: frames are drawn while there is at least one."""
        with self._cond:
            self._watchers += 1
            self._cond.notify_all()
        try:
            yield self
        finally:
            with self._cond:
                self._watchers -= 1
                self._cond.notify_all()

    # ------------------------------------------------------------ images

    def latest_jpeg(self) -> tuple[int, bytes] | None:
        """(seq, JPEG bytes) of the last image drawn, or None before the first. seq counts from 1."""
        with self._cond:
            return self._image

    def wait_jpeg(self, after_seq: int, timeout_s: float) -> tuple[int, bytes] | None:
        """Block until an image with seq > ``after_seq`` exists and return it; None when
        ``timeout_s`` passes first or the renderer is stopped."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping or self._seq > after_seq, timeout=max(0.0, timeout_s))
            if self._stopping or self._seq <= after_seq:
                return None
            return self._image

    @property
    def stats(self) -> dict:
        """For the master's status: frames drawn; the last frame's ms in the child (draw, read-back,
        JPEG) and from sending it to its JPEG back (``round_trip_ms``); errors and the last one;
        watchers; the GL state (closed: no child; starting; open; failed: the last child could
        not open GL); the child's pid (None without one) and how many were started."""
        with self._cond:
            return {"frames": self._frames, "last_render_ms": self._last_render_ms,
                    "round_trip_ms": self._last_round_trip_ms, "errors": self._errors,
                    "last_error": self._last_error, "watchers": self._watchers, "gl": self._gl,
                    "child_pid": self._proc.pid if self._proc is not None else None, "spawns": self._spawns,
                    "size_px": self.size_px, "fps": self.fps}

    # ------------------------------------------------------------ the thread

    def _stopped(self) -> bool:
        return self._stopping

    def _run(self) -> None:
        child: _Child | None = None
        last_frame: int | None = None
        period_s = 1.0 / self.fps
        next_s = time.monotonic()
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopping or self._watchers > 0)
                    if self._stopping:
                        return
                    respawn_in_s = self._respawn_at - time.monotonic()
                if child is None:
                    if respawn_in_s > 0:
                        with self._cond:
                            self._cond.wait_for(self._stopped, timeout=respawn_in_s)
                        continue
                    child = self._spawn()
                    last_frame = None    # a new child draws the current frame, even an old one
                    if child is None:
                        continue
                    next_s = time.monotonic()
                try:
                    last_frame = self._tick(child, last_frame)
                except ChildGone as e:
                    self._child_failed(child, "the preview process", e)
                    child = None
                    continue
                # Paced from the last tick, never in a burst to catch up (a frame that took
                # longer than the period just makes the next one start at once).
                next_s = max(next_s + period_s, time.monotonic())
                with self._cond:
                    self._cond.wait_for(self._stopped, timeout=next_s - time.monotonic())
        except Exception as e:      # a bug here must not leave a child behind nor reach the master
            self._failed("the preview thread", e, "thread")
        finally:
            if child is not None:
                self._close(child)

    def _spawn(self) -> _Child | None:
        """Start a child and wait for its READY; None (failure counted, backoff set) if it fails."""
        import pickle

        hello = pickle.dumps({"version": PROTOCOL_VERSION, "hall": self.hall, "size_px": self.size_px,
                              "quality": self.quality})
        with self._cond:
            self._spawns += 1
            self._gl = "starting"
        t0 = time.monotonic()
        try:
            child = _Child.spawn()
        except OSError as e:
            self._failed("cannot start the preview process", e, "spawn")
            self._back_off("closed")
            return None
        with self._cond:
            self._proc = child.proc
        try:
            child.send(HELLO, hello)
            reply = child.receive(START_TIMEOUT_S, self._stopped)
            if reply is None:                   # stop() meanwhile
                self._close(child)
                return None
            kind, payload = reply
            if kind == ERROR:
                error = _json(payload)
                self._close(child, gl="failed")
                self._back_off("failed")
                self._child_error(error.get("where", "the preview process"), error, error.get("kind", "hello"))
                return None
            if kind != READY:
                raise ChildGone(f"answered HELLO with message kind {kind!r}, not READY")
            ready = _json(payload)
            if ready.get("version") != PROTOCOL_VERSION:
                raise ChildGone(f"speaks preview protocol {ready.get('version')!r}, this master "
                                f"{PROTOCOL_VERSION}: reinstall domectl")
        except ChildGone as e:
            self._child_failed(child, "the preview process", e)
            return None
        with self._cond:
            self._gl = "open"
        log.info("preview: process %d ready in %.1f s: %d px at %g fps on %s", child.proc.pid,
                 time.monotonic() - t0, self.size_px, self.fps, ready.get("gl_renderer"))
        return child

    def _tick(self, child: _Child, last_frame: int | None) -> int | None:
        """Have the current frame drawn unless it is the one sent last; returns the frame now sent.
        Raises ChildGone when the child fails."""
        from domectl.frame import encode_frame

        if child.proc.poll() is not None:       # seen while idle too: stats say so at once
            raise ChildGone("it ended")
        try:
            state = self._current()
            if state is None or state.frame == last_frame:
                return last_frame
            data = encode_frame(state)
        except Exception as e:
            self._failed("reading the master's frame", e, "current")
            return last_frame
        t0 = time.perf_counter()
        child.send(FRAME, data)
        reply = child.receive(FRAME_TIMEOUT_S, self._stopped)
        if reply is None:                       # stop() meanwhile: the loop ends
            return state.frame
        kind, payload = reply
        if kind == ERROR:
            # Counted and tried again at the next frame: the preview never takes the master down.
            error = _json(payload)
            self._child_error(error.get("where", f"frame {state.frame}"), error, "render")
            return state.frame
        if kind != JPEG:
            raise ChildGone(f"answered FRAME with message kind {kind!r}, not JPEG")
        try:
            render_ms, jpeg = unpack_jpeg(payload)
        except PeerError as e:
            raise ChildGone(str(e)) from None
        with self._cond:
            self._seq += 1
            self._image = (self._seq, jpeg)
            self._frames += 1
            self._failures_in_a_row = 0
            self._last_render_ms = render_ms
            self._last_round_trip_ms = (time.perf_counter() - t0) * 1e3
            self._cond.notify_all()
        return state.frame

    def _child_failed(self, child: _Child, where: str, error: ChildGone) -> None:
        status = child.proc.poll()
        self._close(child, kill=True)          # dead, hung or babbling: no time to exit is given
        if status is None:
            status = child.proc.returncode
        said = f"{error}; exit status {status}" if status is not None else str(error)
        self._back_off("closed")
        self._failed(where, ChildGone(said), "child")

    def _back_off(self, gl: str) -> None:
        with self._cond:
            self._failures_in_a_row += 1
            delay_s = min(self.respawn_s * 2 ** (self._failures_in_a_row - 1), max(self.respawn_s, RESPAWN_MAX_S))
            self._respawn_at = time.monotonic() + delay_s
            self._gl = gl

    def _close(self, child: _Child, gl: str = "closed", kill: bool = False) -> None:
        child.close(kill)
        with self._cond:
            if self._proc is child.proc:
                self._proc = None
            self._gl = gl

    def _child_error(self, where: str, error: dict, kind: str) -> None:
        # A frame that fails is a bug to report: its traceback is logged. No GL is said plainly.
        self._count(where, error.get("type", "Exception"), error.get("message", "?"), kind,
                    (error.get("traceback") or None) if kind == "render" else None)

    def _failed(self, where: str, error: Exception, kind: str) -> None:
        import traceback

        text = None if kind in ("gl", "child", "spawn") else "".join(traceback.format_exception(error))
        self._count(where, type(error).__name__, str(error), kind, text)

    def _count(self, where: str, type_name: str, message: str, kind: str, traceback_text: str | None) -> None:
        """Count a failure; log it unless it repeats the last one (a failure that recurs every
        frame, or every child, is counted, and logged once)."""
        key = (kind, type_name, message)
        with self._cond:
            self._errors += 1
            self._last_error = f"{where}: {type_name}: {message}"
            repeated, self._last_failure = key == self._last_failure, key
        if not repeated:
            log.error("preview: %s: %s%s", where, message, f"\n{traceback_text.rstrip()}" if traceback_text else "")


def _readable(fd: int, timeout_s: float) -> bool:
    """Whether ``fd`` has data or its end of file within ``timeout_s`` (poll, not select: a busy
    master's descriptors may number beyond select's 1024)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0.0, timeout_s) * 1e3))


def _json(payload: bytes) -> dict:
    try:
        value = json.loads(payload)
    except ValueError:
        raise ChildGone(f"sent a message that is not JSON: {payload[:80]!r}") from None
    if not isinstance(value, dict):
        raise ChildGone(f"sent a message that is not a JSON object: {payload[:80]!r}")
    return value


class _Child:
    """The master's end of one child: its process, framed messages on its pipes, deadlines."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.reader = MessageReader()
        self._ready: list[tuple[bytes, bytes]] = []

    @classmethod
    def spawn(cls) -> _Child:
        # The child runs this checkout's files whatever the master's working directory is.
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        proc = subprocess.Popen([sys.executable, "-m", "domectl.preview"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, bufsize=0, close_fds=True, start_new_session=True,
                                env=env)
        return cls(proc)

    def send(self, kind: bytes, payload: bytes) -> None:
        view = memoryview(pack_message(kind, payload))
        try:
            while view:
                view = view[os.write(self.proc.stdin.fileno(), view):]
        except OSError as e:                     # BrokenPipeError: the child is gone
            raise ChildGone(f"cannot write to it ({e.strerror or e})") from None

    def receive(self, timeout_s: float, stopped: Callable[[], bool]) -> tuple[bytes, bytes] | None:
        """The next message; None when ``stopped()`` comes true first. Raises ChildGone at its
        end of file, after ``timeout_s`` without a whole message, or on a corrupt stream."""
        end_s = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while not self._ready:
            if stopped():
                return None
            left_s = end_s - time.monotonic()
            if left_s <= 0:
                raise ChildGone(f"no answer in {timeout_s:g} s (hung?): killed")
            if not _readable(fd, min(STOP_POLL_S, left_s)):
                continue
            try:
                data = os.read(fd, 1 << 16)
            except OSError as e:
                raise ChildGone(f"cannot read from it ({e.strerror or e})") from None
            if not data:
                raise ChildGone("it ended" + (f" in the middle of a message ({self.reader.pending} bytes)"
                                              if self.reader.pending else ""))
            try:
                self._ready += self.reader.feed(data)
            except PeerError as e:
                raise ChildGone(str(e)) from None
        return self._ready.pop(0)

    def close(self, kill: bool = False) -> None:
        """Ask the child to exit (its stdin and stdout closed: it stops at its next read or write),
        kill it after CHILD_EXIT_S (at once with ``kill``), and reap it."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.proc.stdout, self.proc.stdin):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.proc.wait(CHILD_EXIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------ the child


def draw_jpeg(renderer, state: FrameState, hall: Hall, size_px: int, quality: int) -> bytes:
    """``state`` as a ``size_px`` domemaster JPEG, drawn with ``renderer`` (a DomeRenderer made by
    :func:`domectl.showrender.make_renderer` for that size): what the child does per frame."""
    import io

    import numpy as np
    from PIL import Image

    from domectl.showrender import draw_domemaster

    rgb = draw_domemaster(renderer, state, hall, size_px)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


class _ChildLink:
    """The child's end: framed messages on fds; None from receive() at the end of its input or
    when its parent is gone."""

    def __init__(self, in_fd: int, out_fd: int, parent_pid: int):
        self.in_fd, self.out_fd, self.parent_pid = in_fd, out_fd, parent_pid
        self.reader = MessageReader()
        self._ready: list[tuple[bytes, bytes]] = []

    def receive(self) -> tuple[bytes, bytes] | None:
        while not self._ready:
            if not _readable(self.in_fd, PARENT_CHECK_S):
                if os.getppid() != self.parent_pid:
                    return None
                continue
            data = os.read(self.in_fd, 1 << 16)
            if not data:
                return None
            self._ready += self.reader.feed(data)
        return self._ready.pop(0)

    def send(self, kind: bytes, payload: bytes) -> None:
        view = memoryview(pack_message(kind, payload))
        while view:
            view = view[os.write(self.out_fd, view):]


def child_main() -> int:
    """``python -m domectl.preview``: the child's whole life (started by PreviewRenderer only).
    Exit status 0 when asked to end (or the parent is gone), 3 when GL cannot be opened, 2 for a
    stream it cannot read."""
    import pickle
    import traceback

    logging.basicConfig(level=logging.WARNING, format="domectl preview process: %(message)s")
    parent_pid = os.getppid()
    os.nice(CHILD_NICE)
    # The messages go to a private copy of stdout; fd 1 becomes stderr, so whatever a library
    # prints lands in the master's log instead of corrupting the stream.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    link = _ChildLink(0, out_fd, parent_pid)
    try:
        message = link.receive()
        if message is None:
            return 0
        kind, payload = message
        if kind != HELLO:
            raise PeerError(f"the first message is {kind!r}, not HELLO")
        hello = pickle.loads(payload)
        if hello.get("version") != PROTOCOL_VERSION:
            link.send(ERROR, error_payload("hello", "the preview process", PeerError(
                f"the master speaks preview protocol {hello.get('version')!r}, this child {PROTOCOL_VERSION}")))
            return 2
        hall, size_px, quality = hello["hall"], int(hello["size_px"]), int(hello["quality"])
        t0 = time.perf_counter()
        try:
            from domectl.showrender import make_renderer
            from render.context import create_context

            ctx = create_context("egl")
            try:
                renderer = make_renderer(ctx, hall, size_px)
            except BaseException:
                ctx.release()
                raise
        except Exception as e:
            from domectl.errors import RenderError

            where = "cannot open GL for the preview" if isinstance(e, RenderError) else \
                "cannot set up the preview's renderer"
            link.send(ERROR, error_payload("gl", where, e, traceback.format_exc()))
            return 3
        try:
            link.send(READY, json.dumps({"version": PROTOCOL_VERSION, "gl_renderer": ctx.info.get("GL_RENDERER"),
                                         "setup_ms": (time.perf_counter() - t0) * 1e3}).encode())
            _serve(link, renderer, hall, size_px, quality)
        finally:
            renderer.release()
            ctx.release()
    except BrokenPipeError:            # the parent closed the stream: it asked us to end, or is gone
        return 0
    except PeerError as e:
        log.error("%s", e)
        return 2
    return 0


def _serve(link: _ChildLink, renderer, hall: Hall, size_px: int, quality: int) -> None:
    import traceback

    from domectl.frame import decode_frame

    while (message := link.receive()) is not None:
        kind, payload = message
        if kind != FRAME:
            raise PeerError(f"expected FRAME, got message kind {kind!r}")
        where = "decoding the master's frame"
        try:
            state = decode_frame(payload)
            where = f"frame {state.frame}"
            t0 = time.perf_counter()
            jpeg = draw_jpeg(renderer, state, hall, size_px, quality)
            render_ms = (time.perf_counter() - t0) * 1e3
        except Exception as e:
            link.send(ERROR, error_payload("render", where, e, traceback.format_exc()))
            continue
        link.send(JPEG, pack_jpeg(render_ms, jpeg))


if __name__ == "__main__":
    sys.exit(child_main())
