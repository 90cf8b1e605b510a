"""The standby master: watch the primary, mirror its scene, take over when it dies.

The standby subscribes to the primary's frame socket (it holds the hall's
master key pair, which the primary accepts as ``standby``) and keeps the
latest ``Mirror`` (the scene, published every MIRROR_INTERVAL_S), the
latest ``Calibration`` (published on every change and repeated every
CALIBRATION_REPEAT_S: the set is too large for the mirror) and the number of
the last frame it saw. It binds its own sockets at start, so a
takeover costs no bind. When the primary has been silent for
TAKEOVER_AFTER_S it restores the mirror into its own :class:`Master` and
runs live from the primary's next frame: same show time, same fades, same
pointer, same registered parts (show player, open poll). The nodes, silent
for their own liveness window, reconnect to the next master in their list
(``NodeLink(standby=...)``) and rejoin from a snapshot.

Timeline of a takeover (primary killed at t = 0, 60 Hz):
    0.30 s  the standby declares the primary dead and starts publishing frames
    0.60 s  nodes declare the master silent, reconnect to the standby
    ~0.75 s nodes hear the standby, say hello, render the snapshot: in the barrier
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from domectl.errors import PeerError
from domectl.protocol import HEARTBEAT_INTERVAL_S, LIVENESS, Calibration, Frame, Heartbeat, Mirror, decode

log = logging.getLogger("domectl.standby")

#: The primary is dead after this much silence. A live primary publishes a frame every
#: 1/fps and a heartbeat or mirror at least every 0.2 s, so 0.3 s is 18 missed frames at
#: 60 Hz; it must stay below the nodes' own liveness window (3 x 0.2 s) so the standby is
#: publishing when the nodes come looking.
TAKEOVER_AFTER_S = 0.3
assert TAKEOVER_AFTER_S < HEARTBEAT_INTERVAL_S * LIVENESS


class Watch:
    """What the standby knows of the primary (sans I/O: bytes in, a decision out)."""

    def __init__(self, clock_s: Callable[[], float] = time.monotonic):
        self.clock_s = clock_s
        self.mirror: dict | None = None
        self.calibration: Calibration | None = None
        self.last_frame = -1
        self.last_heard_s: float | None = None
        self.malformed = 0

    def feed(self, data: bytes) -> None:
        try:
            msg = decode(data)
        except PeerError as e:
            self.malformed += 1
            log.debug("standby: dropped a malformed message from the primary: %s", e)
            return
        self.last_heard_s = self.clock_s()
        if isinstance(msg, Mirror):
            self.mirror = msg.state
        elif isinstance(msg, Frame):
            self.last_frame = max(self.last_frame, msg.state.frame)
        elif isinstance(msg, Heartbeat):
            self.last_frame = max(self.last_frame, msg.frame)
        elif isinstance(msg, Calibration):
            old = self.calibration
            if old is None or msg.epoch != old.epoch or msg.revision >= old.revision:
                self.calibration = msg

    def primary_dead(self) -> bool:
        """True once a primary that was heard (with a mirror) has been silent TAKEOVER_AFTER_S."""
        return (self.mirror is not None and self.last_heard_s is not None
                and self.clock_s() - self.last_heard_s > TAKEOVER_AFTER_S)


def take_over(master, watch: Watch) -> None:
    """Restore the primary's scene into ``master``; its next frame follows the last one seen."""
    master.restore(watch.mirror)
    master.barrier.frame = max(master.barrier.frame, watch.last_frame)
    if watch.calibration is not None:
        try:
            master.adopt_calibration(watch.calibration)
        except PeerError as e:
            log.error("standby: the primary's calibration is unreadable (%s): keeping this master's", e)
    if master.show is not None:     # the primary sent the show's audio cues up to its last frame
        master.show.catch_up(master.next_time_s() - 1.0 / master.fps)
    master.role = "primary (took over)"
    log.warning("standby: the primary is silent; taking over after frame %d", master.barrier.frame)


def watch_until_dead(watch: Watch, link, should_stop: Callable[[], bool] = lambda: False,
                     on_idle: Callable[[], None] = lambda: None) -> bool:
    """Feed ``watch`` from ``link`` (a WatchLink) until the primary is dead (True) or stop (False)."""
    while not should_stop():
        for data in link.receive(50):
            watch.feed(data)
        if watch.primary_dead():
            return True
        on_idle()
    return False
