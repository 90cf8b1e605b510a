"""Dome-comfortable view moves: the operator's "go to", "recenter" and smooth view changes.

A move takes the view (azimuth, altitude, zoom) from where it is to a target
as a :class:`Path` of legs. Each :class:`Leg` goes along a straight line in
(azimuth, altitude, log zoom) with a trapezoidal speed profile: it starts at
rest, accelerates at most ``max_accel_deg_s2``, cruises at most
``max_speed_deg_s`` and comes to rest exactly at its end. Sky motion on a
15 m dome is felt, not just seen: a whole sky that swings or jerks makes an
audience queasy, so the limits are low (a slew of 90 degrees takes about 6 s).

**What the audience sees moves within the limits.** Distances are measured
as the dome shows them: the azimuth (the short way round) and the altitude
in degrees times the zoom (at zoom Z the zoom centre, where the audience
looks, is magnified Z times; never less than 1), and ``zoom_deg_per_e``
degrees per factor e of zoom. When the view is zoomed in, panning across the
sky at that magnification would take long, so a path may zoom out to 1, pan,
and zoom back in, whichever is quicker. The sky at the dome's front moves by
``cos(alt) * d_az`` for an azimuth step, never more than the step.

**A move asked for during another** first brakes the one in progress (at
the acceleration limit, along its direction) and goes on from where that
stops: the view never stops dead.

**A moving target** (a planet while time runs) is planned where it will be
when the move ends: the duration depends on the distance and the distance on
the duration, so :func:`plan` iterates that fixed point until the end time is
settled to 0.1 ms, and the move ends on the target's position at its end. If
the sky turns too fast for that (time running at thousands of times real time
turns the sky faster than the comfortable speed) the iteration does not
settle and :class:`TooFast` says so: the operator slows time first.

Pure functions of show time: the master evaluates a path per frame, a
standby re-evaluates the same path from its mirror.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from domectl.projection import MAX_ZOOM, MIN_ZOOM


@dataclass(frozen=True)
class Limits:
    max_speed_deg_s: float = 20.0
    max_accel_deg_s2: float = 15.0
    zoom_deg_per_e: float = 30.0


COMFORT = Limits()
#: The fixed point of a moving target's end time: settled when it moves less than this.
SETTLED_S = 1e-4
MAX_ITERATIONS = 30

View = tuple[float, float, float]            # (az_deg, alt_deg, zoom)


class TooFast(ValueError):
    """The target moves too fast across the sky for a comfortable move to catch it."""


def wrap_delta_deg(a_from: float, a_to: float) -> float:
    """The azimuth step from ``a_from`` to ``a_to`` the short way round, in (-180, 180]."""
    d = (a_to - a_from) % 360.0
    return d - 360.0 if d > 180.0 else d


def _weight(a: View, b: View) -> float:
    """How much the dome magnifies a pan between ``a`` and ``b``: the larger zoom, at least 1."""
    return max(1.0, a[2], b[2])


def distance(a: View, b: View, limits: Limits = COMFORT) -> float:
    """The length of a straight leg from ``a`` to ``b`` as the dome shows it (degrees)."""
    w = _weight(a, b)
    d_az = wrap_delta_deg(a[0], b[0]) * w
    d_alt = (b[1] - a[1]) * w
    d_zoom = math.log(b[2] / a[2]) * limits.zoom_deg_per_e
    return math.sqrt(d_az * d_az + d_alt * d_alt + d_zoom * d_zoom)


def duration_s(dist_deg: float, limits: Limits = COMFORT) -> float:
    """How long a trapezoidal (or, when short, triangular) leg of ``dist_deg`` takes."""
    v, a = limits.max_speed_deg_s, limits.max_accel_deg_s2
    if dist_deg <= 0.0:
        return 0.0
    if dist_deg >= v * v / a:                 # reaches cruising speed
        return dist_deg / v + v / a
    return 2.0 * math.sqrt(dist_deg / a)


def travelled(t_s: float, dist_deg: float, limits: Limits = COMFORT) -> float:
    """Degrees covered ``t_s`` after the start of a leg of ``dist_deg`` (0 before, dist after)."""
    total = duration_s(dist_deg, limits)
    if t_s <= 0.0 or total <= 0.0:
        return 0.0
    if t_s >= total:
        return dist_deg
    a = limits.max_accel_deg_s2
    ramp = min(limits.max_speed_deg_s / a, total / 2.0)      # seconds accelerating (and braking)
    if t_s <= ramp:
        return 0.5 * a * t_s * t_s
    if t_s <= total - ramp:
        return 0.5 * a * ramp * ramp + a * ramp * (t_s - ramp)
    left = total - t_s
    return dist_deg - 0.5 * a * left * left


def _lerp(start: View, end: View, k: float) -> View:
    az0, alt0, z0 = start
    return ((az0 + k * wrap_delta_deg(az0, end[0])) % 360.0, alt0 + k * (end[1] - alt0),
            z0 * math.exp(k * math.log(end[2] / z0)))


@dataclass(frozen=True)
class Leg:
    """A straight leg from ``start`` at ``start_s`` to ``end``; ``braking``: a leg that starts
    at speed ``distance / duration * 2`` and slows at a constant rate to rest at ``end`` (the
    first leg of a move asked for while another was under way)."""

    start: View
    end: View
    start_s: float
    duration_s: float
    braking: bool = False
    limits: Limits = COMFORT

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def at(self, t_s: float) -> View:
        if t_s >= self.end_s or self.duration_s <= 0.0:
            return self.end
        tau = max(0.0, t_s - self.start_s)
        if self.braking:
            k = (2.0 * tau / self.duration_s) - (tau / self.duration_s) ** 2
        else:
            dist = distance(self.start, self.end, self.limits)
            k = travelled(tau, dist, self.limits) / dist if dist > 0.0 else 1.0
        return _lerp(self.start, self.end, k)

    def mirror(self) -> dict:
        return {"start": list(self.start), "end": list(self.end), "start_s": self.start_s,
                "duration_s": self.duration_s, "braking": self.braking}

    @classmethod
    def restore(cls, m: dict) -> Leg:
        """A leg from its mirror; ValueError when it is not one."""
        start, end = (check_view(*(float(x) for x in m[k])) if len(m[k]) == 3 else None for k in ("start", "end"))
        if start is None or end is None:
            raise ValueError("a leg's start and end are (az, alt, zoom)")
        start_s, dur = float(m["start_s"]), float(m["duration_s"])
        if not (math.isfinite(start_s) and math.isfinite(dur) and dur >= 0.0):
            raise ValueError(f"a leg's start_s {start_s!r} and duration_s {dur!r} must be finite, duration >= 0")
        return cls(start, end, start_s, dur, bool(m.get("braking", False)))


def _leg(start: View, end: View, start_s: float, limits: Limits) -> Leg:
    return Leg(start, end, start_s, duration_s(distance(start, end, limits), limits), False, limits)


@dataclass(frozen=True)
class Path:
    """A move: legs one after the other, to ``target`` (what it goes to, for the console)."""

    legs: tuple[Leg, ...]
    target: str = ""

    @property
    def start_s(self) -> float:
        return self.legs[0].start_s

    @property
    def end_s(self) -> float:
        return self.legs[-1].end_s

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def end(self) -> View:
        return self.legs[-1].end

    def done(self, t_s: float) -> bool:
        return t_s >= self.end_s

    def at(self, t_s: float) -> View:
        """The view at show time ``t_s``: the first leg's start before, ``end`` (exactly) from ``end_s`` on."""
        if t_s < self.start_s:
            return self.legs[0].start
        for leg in self.legs:
            if t_s < leg.end_s:
                return leg.at(t_s)
        return self.end

    def velocity(self, t_s: float, h_s: float = 1e-3) -> tuple[float, float, float]:
        """(d_az, d_alt, d_log_zoom) per second at ``t_s`` (backward difference)."""
        a, b = self.at(t_s - h_s), self.at(t_s)
        return (wrap_delta_deg(a[0], b[0]) / h_s, (b[1] - a[1]) / h_s, math.log(b[2] / a[2]) / h_s)

    def mirror(self) -> dict:
        return {"legs": [leg.mirror() for leg in self.legs], "target": self.target}

    @classmethod
    def restore(cls, m: dict) -> Path:
        legs = tuple(Leg.restore(leg) for leg in m["legs"])
        if not legs:
            raise ValueError("a move needs at least one leg")
        return cls(legs, str(m.get("target", "")))


def check_view(az_deg: float, alt_deg: float, zoom: float) -> View:
    """A view the renderer can draw: azimuth wrapped to [0, 360), altitude and zoom checked."""
    for name, value in (("az_deg", az_deg), ("alt_deg", alt_deg), ("zoom", zoom)):
        if not math.isfinite(value):
            raise ValueError(f"view {name} {value!r}: must be a finite number")
    if not -90.0 <= alt_deg <= 90.0:
        raise ValueError(f"view alt_deg {alt_deg:g}: must be in [-90, 90]")
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise ValueError(f"view zoom {zoom:g}: must be in [{MIN_ZOOM:g}, {MAX_ZOOM:g}]")
    return az_deg % 360.0, float(alt_deg), float(zoom)


def _brake(current: Path, t_s: float, limits: Limits) -> Leg | None:
    """The leg that stops ``current`` from its speed at ``t_s`` at the acceleration limit."""
    here = current.at(t_s)
    v_az, v_alt, v_lz = current.velocity(t_s)
    w = max(1.0, here[2])
    speed = math.sqrt((v_az * w) ** 2 + (v_alt * w) ** 2 + (v_lz * limits.zoom_deg_per_e) ** 2)
    if speed < 1e-6:
        return None
    stop_s = speed / limits.max_accel_deg_s2
    half = 0.5 * stop_s                        # distance = speed * stop_s / 2, per unit of velocity
    alt = min(90.0, max(-90.0, here[1] + v_alt * half))
    zoom = min(MAX_ZOOM, max(MIN_ZOOM, here[2] * math.exp(v_lz * half)))
    return Leg(here, ((here[0] + v_az * half) % 360.0, alt, zoom), t_s, stop_s, True, limits)


def _legs(start: View, end: View, start_s: float, limits: Limits) -> tuple[Leg, ...]:
    """The quicker of one straight leg and zoom out to 1 / pan / zoom in (when zoomed in)."""
    direct = (_leg(start, end, start_s, limits),)
    if max(start[2], end[2]) <= 1.0:
        return direct
    out_view = (start[0], start[1], min(start[2], 1.0))
    pan_end = (end[0], end[1], min(end[2], 1.0))
    legs = []
    t = start_s
    for a, b in ((start, out_view), (out_view, pan_end), (pan_end, end)):
        if a != b:
            legs.append(_leg(a, b, t, limits))
            t = legs[-1].end_s
    if not legs or t >= direct[0].end_s:
        return direct
    return tuple(legs)


def plan(start: View, start_s: float, target_at: Callable[[float], View], *, target: str = "",
         limits: Limits = COMFORT, current: Path | None = None) -> Path:
    """A move from ``start`` to where ``target_at(t)`` says the target is when the move ends.

    ``target_at`` maps a show time to the target view (a fixed target ignores it).
    ``current``: the move under way at ``start_s``, braked first. TooFast when the
    target's end time does not settle.
    """
    brake = _brake(current, start_s, limits) if current is not None and not current.done(start_s) else None
    t0, from_view = (brake.end_s, brake.end) if brake is not None else (start_s, start)
    end = target_at(t0)
    legs = _legs(from_view, end, t0, limits)
    for _ in range(MAX_ITERATIONS):
        end_s = legs[-1].end_s
        end = target_at(end_s)
        legs = _legs(from_view, end, t0, limits)
        if abs(legs[-1].end_s - end_s) < SETTLED_S:
            break
    else:
        raise TooFast(f"the target moves too fast across the sky to be caught at {limits.max_speed_deg_s:g} "
                      "deg/s; slow time down first")
    return Path(((brake,) if brake is not None else ()) + legs, target)
