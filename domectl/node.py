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
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from domectl.config import LATE_FRAME_CHOICES
from domectl.errors import PeerError
from domectl.frame import FrameState
from domectl.protocol import (
    HEARTBEAT_INTERVAL_S, LIVENESS, MAGIC, RECONNECT_BACKOFF_MAX_S, RECONNECT_BACKOFF_MIN_S,
    Bye, Frame, Heartbeat, Hello, Kind, Mirror, Ready, Snapshot, Swap, decode,
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

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


class NodeLoop:
    """The node's protocol loop around an injected renderer."""

    def __init__(self, ig: int, link, render: Callable[[FrameState], Any], *,
                 clock_ns: Callable[[], int] = time.monotonic_ns, exit_with_master: bool = True,
                 late_frame: str = "hold", black: Callable[[Any], Any] | None = None):
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
        elif isinstance(msg, Mirror):
            pass  # the scene for the standby master: a node draws only FrameStates
        else:
            self.stats.drop("unexpected_type")

    def _render_and_report(self, state: FrameState) -> None:
        image, ms = self._render(state)
        self.pending = (state.frame, image)
        self._send(Ready(self.ig, state.frame, ms))
        self._ready_sent_ns = self.clock_ns()

    def tick(self, timeout_ms: float = HEARTBEAT_INTERVAL_S * 1000) -> None:
        """Wait up to ``timeout_ms`` for messages, handle them, keep the link alive."""
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
