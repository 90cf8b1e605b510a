"""Dome-comfortable view moves: the operator's "go to", "recenter" and smooth view changes.

A move takes the view (azimuth, altitude, zoom) from where it is to a target
along a straight line in (azimuth, altitude, log zoom), with a trapezoidal
speed profile: it starts at rest, accelerates at most ``max_accel_deg_s2``,
cruises at most ``max_speed_deg_s``, and comes to rest exactly at the
target. Sky motion on a 15 m dome is felt, not just seen: a whole sky that
swings or jerks makes an audience queasy, so these limits are low (a slew of
90 degrees takes about 6 s).

Distances are measured in the parameter space: the azimuth the short way
round, the altitude, and ``zoom_deg_per_e`` degrees per factor e of zoom. The
sky at the dome's front moves by ``cos(alt) * d_az`` for an azimuth step, never
more than the step, so the limits hold on the dome too.

A moving target (a planet while time runs) is planned where it will be when
the move ends: the duration depends on the distance and the distance on the
duration, so the plan iterates that fixed point a few times, and the move
ends exactly on the target's position at its end time. Pure functions of
show time: the master evaluates a move per frame, a standby re-evaluates the
same move from its mirror.
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

View = tuple[float, float, float]            # (az_deg, alt_deg, zoom)


def wrap_delta_deg(a_from: float, a_to: float) -> float:
    """The azimuth step from ``a_from`` to ``a_to`` the short way round, in (-180, 180]."""
    d = (a_to - a_from) % 360.0
    return d - 360.0 if d > 180.0 else d


def distance(a: View, b: View, limits: Limits = COMFORT) -> float:
    """The length of the move from ``a`` to ``b`` in degrees of the parameter space."""
    d_az = wrap_delta_deg(a[0], b[0])
    d_alt = b[1] - a[1]
    d_zoom = math.log(b[2] / a[2]) * limits.zoom_deg_per_e
    return math.sqrt(d_az * d_az + d_alt * d_alt + d_zoom * d_zoom)


def duration_s(dist_deg: float, limits: Limits = COMFORT) -> float:
    """How long a trapezoidal (or, when short, triangular) move of ``dist_deg`` takes."""
    v, a = limits.max_speed_deg_s, limits.max_accel_deg_s2
    if dist_deg <= 0.0:
        return 0.0
    if dist_deg >= v * v / a:                 # reaches cruising speed
        return dist_deg / v + v / a
    return 2.0 * math.sqrt(dist_deg / a)


def travelled(t_s: float, dist_deg: float, limits: Limits = COMFORT) -> float:
    """Degrees covered ``t_s`` after the start of a move of ``dist_deg`` (0 before, dist after)."""
    total = duration_s(dist_deg, limits)
    if t_s <= 0.0 or total <= 0.0:
        return 0.0
    if t_s >= total:
        return dist_deg
    a = limits.max_accel_deg_s2
    ramp = min(limits.max_speed_deg_s / a, total / 2.0)      # seconds accelerating (and braking)
    peak = a * ramp
    if t_s <= ramp:
        return 0.5 * a * t_s * t_s
    cruise_end = total - ramp
    if t_s <= cruise_end:
        return 0.5 * a * ramp * ramp + peak * (t_s - ramp)
    left = total - t_s
    return dist_deg - 0.5 * a * left * left


@dataclass(frozen=True)
class Move:
    """A view move from ``start`` at ``start_s`` to ``end`` (show seconds)."""

    start: View
    end: View
    start_s: float
    duration_s: float
    target: str = ""                          # what it goes to ("jupiter"), for the console
    limits: Limits = COMFORT

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def done(self, t_s: float) -> bool:
        return t_s >= self.end_s

    def at(self, t_s: float) -> View:
        """The view at show time ``t_s``: ``start`` before, ``end`` (exactly) from ``end_s`` on."""
        if t_s >= self.end_s:
            return self.end
        dist = distance(self.start, self.end, self.limits)
        k = travelled(t_s - self.start_s, dist, self.limits) / dist if dist > 0.0 else 1.0
        az0, alt0, z0 = self.start
        az = (az0 + k * wrap_delta_deg(az0, self.end[0])) % 360.0
        alt = alt0 + k * (self.end[1] - alt0)
        zoom = z0 * math.exp(k * math.log(self.end[2] / z0))
        return az, alt, zoom

    def mirror(self) -> dict:
        return {"start": list(self.start), "end": list(self.end), "start_s": self.start_s,
                "duration_s": self.duration_s, "target": self.target}

    @classmethod
    def restore(cls, m: dict) -> Move:
        return cls(tuple(float(x) for x in m["start"]), tuple(float(x) for x in m["end"]),
                   float(m["start_s"]), float(m["duration_s"]), str(m.get("target", "")))


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


def plan(start: View, start_s: float, target_at: Callable[[float], View], *, target: str = "",
         limits: Limits = COMFORT, iterations: int = 4) -> Move:
    """A move from ``start`` to where ``target_at(t)`` says the target is when the move ends.

    ``target_at`` maps a show time to the target view (fixed targets ignore it).
    """
    end = target_at(start_s)
    for _ in range(iterations):
        end = target_at(start_s + duration_s(distance(start, end, limits), limits))
    return Move(start, end, start_s, duration_s(distance(start, end, limits), limits), target, limits)
