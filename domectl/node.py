"""An image generator (IG) node: receive FrameState, render, report ready, present at swap.

:class:`NodeLoop` is the node's side of the protocol over a
:class:`~domectl.transport.NodeLink`; the picture comes from an injected
``render(state) -> image`` (the GL pipeline in :mod:`domectl.pipeline`, or a
stand-in in protocol tests). A node does no astronomy and reads no clock for
what it draws; it reads one only to measure itself and to notice a silent
master.

Life of a node: connect, wait until the master's PUB socket is heard (so no
frame is lost to ZeroMQ's slow-joiner gap), say hello, take the snapshot,
then per frame render -> ready -> present on swap. If the master falls
silent the node holds its last frame and reconnects with backoff; a final
``bye`` from the master ends it.

Calibration: the master sends the hall's calibration to a joiner before its
snapshot, publishes it whenever it changes and repeats it every few seconds.
The loop applies a message whose epoch is new or whose revision is newer
(repeats cost a header compare) through a :class:`Calibrator`: a small change
(colour, control grid: milliseconds) is applied before the next frame; a
rebuild (a new mesh or blend mask: 50-200 ms) is planned in a worker thread
while the node goes on rendering with the old calibration, and swapped in
between two frames. Each ``ready`` says which revision the frame was drawn
with.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from domectl.config import LATE_FRAME_CHOICES
from domectl.errors import DomectlError, PeerError
from domectl.frame import FrameState
from domectl.protocol import (
    HEARTBEAT_INTERVAL_S, LIVENESS, MAGIC, RECONNECT_BACKOFF_MAX_S, RECONNECT_BACKOFF_MIN_S,
    Bye, Calibration, Frame, Heartbeat, Hello, Kind, Mirror, Ready, Snapshot, Swap, calibration_set, decode,
)

log = logging.getLogger("domectl.node")


@dataclass
class NodeStats:
    frames_rendered: int = 0
    frames_presented: int = 0
    missed_swaps: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    render_ms: list[float] = field(default_factory=list)
    swap_wait_ms: list[float] = field(default_factory=list)
    reconnects: int = 0
    calibrations: int = 0                                   # calibration messages taken (not repeats)
    calibration_ms: list[float] = field(default_factory=list)   # plan + apply, per applied calibration

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class Calibrator:
    """Applies calibration sets to a pipeline (``plan_calibration`` / ``apply_calibration``,
    domectl.pipeline.IGPipeline) between frames.

    :meth:`submit` hands a set over; :meth:`poll` (on the render thread, before each
    frame) applies what is ready. One plan at a time: a set submitted while a rebuild is
    being planned waits, and only the newest waiting set is kept (a held arrow key
    produces many, the dome needs the last). ``threaded=False`` plans every set at once
    (tests, a pipeline too small to bother).
    """

    def __init__(self, pipeline, *, threaded: bool = True, clock_s: Callable[[], float] = time.perf_counter):
        self.pipeline = pipeline
        self.threaded = threaded
        self.clock_s = clock_s
        self.errors = 0
        self.applied_ms: list[float] = []
        self._lock = threading.Lock()
        self._waiting = None                 # the newest set not yet planned
        self._worker: threading.Thread | None = None
        self._ready = None                   # (plan, t0) planned by the worker, not yet applied

    def submit(self, calibration, *, now: bool = False) -> None:
        """Take ``calibration``; ``now``: plan and apply it before returning (a node not yet joined)."""
        with self._lock:
            self._waiting = calibration
        if now:
            self.wait()
        self.poll()

    def busy(self) -> bool:
        with self._lock:
            return self._worker is not None or self._waiting is not None or self._ready is not None

    def wait(self, timeout_s: float = 30.0) -> None:
        """Apply everything submitted, waiting for the worker (the render thread blocks)."""
        end = self.clock_s() + timeout_s
        while self.busy() and self.clock_s() < end:
            worker = self._worker
            if worker is not None:
                worker.join(max(0.0, end - self.clock_s()))
            self.poll(plan_here=True)

    def poll(self, plan_here: bool = False) -> bool:
        """Apply a finished plan, start planning the waiting set; True if something was applied."""
        applied = False
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is not None:
            applied = self._apply(*ready)
        with self._lock:
            if self._worker is not None or self._waiting is None:
                return applied
            calibration, self._waiting = self._waiting, None
        t0 = self.clock_s()
        try:
            # A rebuild (new mesh or blend mask) is planned in the worker; anything smaller
            # takes milliseconds and is applied before the next frame.
            here = plan_here or not self.threaded or not self.pipeline.rebuild_needed(calibration)
            if here:
                return self._apply(self.pipeline.plan_calibration(calibration), t0) or applied
        except (DomectlError, ValueError) as e:
            self._reject(e)
            return applied
        worker = threading.Thread(target=self._plan_in_worker, args=(calibration, t0),
                                  name="calibration-plan", daemon=True)
        with self._lock:
            self._worker = worker
        worker.start()
        return applied

    def _plan_in_worker(self, calibration, t0: float) -> None:
        try:
            plan = self.pipeline.plan_calibration(calibration)
        except (DomectlError, ValueError) as e:
            self._reject(e)
            plan = None
        except Exception:          # a bug: keep the node alive with its last calibration
            log.exception("planning a calibration")
            self.errors += 1
            plan = None
        with self._lock:
            self._worker = None
            if plan is not None:
                self._ready = (plan, t0)

    def _apply(self, plan, t0: float) -> bool:
        try:
            self.pipeline.apply_calibration(plan)
        except (DomectlError, ValueError) as e:
            self._reject(e)
            return False
        ms = (self.clock_s() - t0) * 1e3
        self.applied_ms.append(ms)
        log.info("calibration applied (%s) in %.1f ms (planned in %.1f ms)", plan.kind, ms, plan.plan_ms)
        return True

    def _reject(self, e: Exception) -> None:
        self.errors += 1
        log.warning("calibration refused, keeping the previous one: %s", e)


class NodeLoop:
    """The node's protocol loop around an injected renderer."""

    def __init__(self, ig: int, link, render: Callable[[FrameState], Any], *,
                 clock_ns: Callable[[], int] = time.monotonic_ns, exit_with_master: bool = True,
                 late_frame: str = "hold", black: Callable[[Any], Any] | None = None,
                 calibrator: Calibrator | None = None):
        self.ig = ig
        self.link = link
        self.render = render
        self.clock_ns = clock_ns
        self.exit_with_master = exit_with_master
        if late_frame not in LATE_FRAME_CHOICES:
            raise ValueError(f"late_frame {late_frame!r}: must be one of {', '.join(LATE_FRAME_CHOICES)}")
        # On a swap this node is not ready for: keep showing the last frame, or show black
        # (``black(last_image)`` makes the black picture; by default None, "nothing shown").
        self.late_frame = late_frame
        self.black = black or (lambda image: None)
        self.stats = NodeStats()
        self.joined = False
        self.pending: tuple[int, Any] | None = None    # rendered, waiting for its swap
        self.presented: Any = None                     # what the projector shows now
        self.presented_frame = -1
        self.state: FrameState | None = None
        self._last_heard_ns = clock_ns()
        self._last_sent_ns = 0
        self._ready_sent_ns = 0
        self._backoff_s = RECONNECT_BACKOFF_MIN_S
        self.finished = False
        #: Applies calibrations to the renderer (None: they are tracked but not drawn).
        self.calibrator = calibrator
        #: The calibration taken last: (epoch, revision, store version); None before the first.
        self.calibration: tuple[int, int, int] | None = None
        #: The revision the picture is drawn with (reported in each ready); -1 none yet.
        self.calibration_revision = -1
        self._taken_revision = -1
        if calibrator is not None:
            self.stats.calibration_ms = calibrator.applied_ms

    def _send(self, msg) -> None:
        self.link.send(msg)
        self._last_sent_ns = self.clock_ns()

    def _render(self, state: FrameState) -> Any:
        t0 = self.clock_ns()
        image = self.render(state)
        ms = (self.clock_ns() - t0) / 1e6
        self.stats.render_ms.append(ms)
        self.stats.frames_rendered += 1
        self.state = state
        return image, ms

    def handle(self, data: bytes) -> None:
        """One raw message from the master."""
        try:
            msg = decode(data)
        except PeerError as e:
            self.stats.drop("malformed")
            log.debug("ig%02d dropped a malformed message: %s", self.ig, e)
            return
        self._backoff_s = RECONNECT_BACKOFF_MIN_S
        try:
            self._dispatch(msg)
        finally:
            # Stamped after the work a message caused (a render can take longer than the
            # liveness window): silence counts only while the node is listening.
            self._last_heard_ns = self.clock_ns()

    def _dispatch(self, msg) -> None:
        if isinstance(msg, Calibration):
            self._take_calibration(msg)
        if not self.joined:
            # Anything heard on the link proves the subscription is live: now say hello.
            if isinstance(msg, Snapshot) and msg.ig == self.ig:
                self.joined = True
                if msg.state is not None:
                    self._render_and_report(msg.state)
            elif isinstance(msg, Bye) and msg.final:
                self.finished = True
            elif self._last_sent_ns == 0 or self.clock_ns() - self._last_sent_ns > HEARTBEAT_INTERVAL_S * 1e9:
                self._send(Hello(self.ig))
            return
        if isinstance(msg, Frame):
            self._render_and_report(msg.state)
        elif isinstance(msg, Swap):
            if self.pending is not None and self.pending[0] == msg.frame:
                self.presented_frame, self.presented = self.pending
                self.pending = None
                self.stats.frames_presented += 1
                self.stats.swap_wait_ms.append((self.clock_ns() - self._ready_sent_ns) / 1e6)
            elif msg.frame > self.presented_frame:
                # Swapped without us: hold the last frame (or go black), catch up with the next one.
                self.stats.missed_swaps += 1
                if self.late_frame == "black" and self.presented is not None:
                    self.presented = self.black(self.presented)
        elif isinstance(msg, Bye):
            if msg.final and self.exit_with_master:
                self.finished = True
        elif isinstance(msg, Heartbeat):
            rendered = self.state.frame if self.state is not None else -1
            if msg.frame > rendered and self.pending is None:
                # The master is on a frame this node never received (lost in a reconnect,
                # or dropped by a full queue): rejoin through a snapshot rather than stall.
                self.stats.drop("lost_frame")
                self.joined = False
                self._send(Hello(self.ig))
        elif isinstance(msg, (Mirror, Calibration)):
            pass  # the scene for the standby master (a node draws only FrameStates); calibration: above
        else:
            self.stats.drop("unexpected_type")

    def _take_calibration(self, msg: Calibration) -> None:
        """A new epoch or a newer revision: decode it and hand it to the calibrator; else a repeat."""
        if self.calibration is not None and msg.epoch == self.calibration[0] and msg.revision <= self.calibration[1]:
            return
        try:
            calibration = calibration_set(msg)
        except PeerError as e:
            self.stats.drop("malformed_calibration")
            log.warning("ig%02d: dropped a malformed calibration: %s", self.ig, e)
            return
        self.calibration = (msg.epoch, msg.revision, msg.version)
        self.stats.calibrations += 1
        if self.calibrator is None:
            self.calibration_revision = msg.revision
            return
        self._taken_revision = msg.revision
        # Not yet joined: nothing shown yet, so build it now and draw the first frame right.
        self.calibrator.submit(calibration, now=not self.joined)
        self._calibration_poll()

    def _calibration_poll(self) -> None:
        c = self.calibrator
        if c is None:
            return
        c.poll()
        if not c.busy():
            self.calibration_revision = self._taken_revision

    def _render_and_report(self, state: FrameState) -> None:
        self._calibration_poll()
        image, ms = self._render(state)
        self.pending = (state.frame, image)
        self._send(Ready(self.ig, state.frame, ms, self.calibration_revision))
        self._ready_sent_ns = self.clock_ns()

    def tick(self, timeout_ms: float = HEARTBEAT_INTERVAL_S * 1000) -> None:
        """Wait up to ``timeout_ms`` for messages, handle them, keep the link alive."""
        self._calibration_poll()
        received = self.link.receive(timeout_ms, direct=not self.joined)
        # Frames are stale one frame later: in a burst, render only the newest.
        superseded = [i for i, d in enumerate(received) if _is_frame(d)][:-1]
        if superseded:
            for _ in superseded:
                self.stats.drop("superseded_frame")
            received = [d for i, d in enumerate(received) if i not in superseded]
        for data in received:
            self.handle(data)
            if self.finished:
                return
        now = self.clock_ns()
        if now - self._last_heard_ns > HEARTBEAT_INTERVAL_S * LIVENESS * 1e9:
            # The master is silent: hold the last frame, reconnect, back off.
            log.warning("ig%02d: master silent; reconnecting in %.1f s", self.ig, self._backoff_s)
            time.sleep(self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2, RECONNECT_BACKOFF_MAX_S)
            self.link.reconnect()
            self.stats.reconnects += 1
            self.joined = False
            self._last_sent_ns = 0
            self._last_heard_ns = self.clock_ns()
        elif self.joined and now - self._last_sent_ns > HEARTBEAT_INTERVAL_S * 1e9:
            last_ms = self.stats.render_ms[-1] if self.stats.render_ms else 0.0
            fps = 1000.0 / max(last_ms, 1e-3) if last_ms else 0.0
            self._send(Heartbeat(self.ig, self.presented_frame, fps, last_ms, self.stats.missed_swaps))

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not self.finished and not should_stop():
            self.tick()
        try:
            self._send(Bye(self.ig))
        except Exception:   # the link may already be gone at shutdown; nothing to save
            pass


def _is_frame(data: bytes) -> bool:
    return len(data) >= 3 and data[0] == MAGIC and data[2] == Kind.FRAME.value
