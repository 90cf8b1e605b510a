"""The sim clock: which UTC instant frame n shows, under live rate changes, pauses and jumps.

Pure and deterministic: the sky of frame n is a function of the frame number
and the operator's commands (each applied at a frame), never of a wall clock.
Between commands the sim time advances linearly:

    utc(n) = anchor_utc + (n - anchor_frame) / fps * rate

A command re-anchors at the frame it takes effect, so changing the rate or
pausing never makes the sky jump. The sim time is held inside the
ephemeris's range (DE421: 1900-01-01 to 2050-12-31): a time-lapse that runs
into either end stops there, paused, rather than failing mid-show.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from domectl.errors import TimeRangeError

# The ephemeris's range (DE421 as bundled by skyfield-data), UTC; end exclusive.
VALID_FROM_UTC = datetime(1900, 1, 1, tzinfo=timezone.utc)
VALID_UNTIL_UTC = datetime(2051, 1, 1, tzinfo=timezone.utc)
# Operators run time-lapses of up to a year per second; 1e7 is about 116 days per second,
# and faster than that the sky is a blur on a 60 Hz dome.
MAX_ABS_RATE = 1e7
# Held this far inside the end of the range, so the last sample's interpolation knots exist.
EDGE_MARGIN = timedelta(days=1)


def check_rate(rate: float) -> float:
    if not -MAX_ABS_RATE <= rate <= MAX_ABS_RATE:
        raise ValueError(f"rate = {rate:g}: must be within +-{MAX_ABS_RATE:g} sim seconds per second "
                         "(negative runs time backwards, 0 pauses)")
    return float(rate)


def check_utc(utc: datetime) -> datetime:
    if utc.tzinfo is None:
        raise TimeRangeError(f"{utc.isoformat()}: a time needs a zone; domectl takes UTC at its edges")
    if not VALID_FROM_UTC <= utc < VALID_UNTIL_UTC:
        raise TimeRangeError(f"{utc.isoformat()} is outside the ephemeris (JPL DE421): "
                             "choose a UTC time from 1900-01-01 to 2050-12-31")
    return utc.astimezone(timezone.utc)


@dataclass(frozen=True)
class SimClock:
    """Sim time per frame; each operator command returns a new clock anchored at its frame."""

    fps: float
    anchor_frame: int
    anchor_utc: datetime
    rate: float = 1.0

    @classmethod
    def start(cls, utc: datetime, fps: float, rate: float = 1.0, frame: int = 0) -> "SimClock":
        if not fps > 0:
            raise ValueError(f"fps = {fps}: must be > 0")
        return cls(fps=fps, anchor_frame=frame, anchor_utc=check_utc(utc), rate=check_rate(rate))

    def utc(self, frame: int) -> datetime:
        """The sim instant frame ``frame`` shows, held inside the ephemeris's range."""
        seconds = (frame - self.anchor_frame) / self.fps * self.rate
        low, high = VALID_FROM_UTC + EDGE_MARGIN, VALID_UNTIL_UTC - EDGE_MARGIN
        try:
            t = self.anchor_utc + timedelta(seconds=seconds)
        except OverflowError:
            return high if seconds > 0 else low
        return min(max(t, low), high)

    def at_edge(self, frame: int) -> bool:
        """True once a time-lapse has run into either end of the ephemeris."""
        t = self.utc(frame)
        return t <= VALID_FROM_UTC + EDGE_MARGIN or t >= VALID_UNTIL_UTC - EDGE_MARGIN

    def set_rate(self, frame: int, rate: float) -> "SimClock":
        """From ``frame`` on, run at ``rate`` (0 pauses, negative reverses), without a jump."""
        return replace(self, anchor_frame=frame, anchor_utc=self.utc(frame), rate=check_rate(rate))

    def pause(self, frame: int) -> "SimClock":
        return self.set_rate(frame, 0.0)

    def jump(self, frame: int, utc: datetime) -> "SimClock":
        """Show ``utc`` at ``frame`` and run on from there at the same rate."""
        return replace(self, anchor_frame=frame, anchor_utc=check_utc(utc))
