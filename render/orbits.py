"""The ``orbits`` layer: each body's orbit ellipse as a thin line, seen by the IG's eye.

An :class:`domectl.frame.OrbitView` is the ellipse ``centre + a cos E + b sin E``
(E in [0, 2 pi)), metres relative to the observer in the sky's ENU axes. Per
frame, in numpy (:func:`orbit_polylines`):

* **sampling**: ``ORBIT_BASE_SAMPLES`` even steps of E, then every step that
  spans more than :data:`ORBIT_STEP_DEG` as seen from the observer is split
  (twice over: a step passing close by sweeps more than its ends show), up to
  :data:`MAX_ORBIT_POINTS`: the orbit is dense where it passes near the
  observer and costs little where it is far (the Moon's orbit from the Earth:
  the base samples alone);
* **the observer's neighbourhood is left out**: points nearer than
  :func:`eye_gap_m` (:data:`ORBIT_EYE_GAP` of the ellipse's semi-major axis,
  at least twice the eyes' separation) break the line. An orbit through the
  eye (the ship's own) would otherwise join the directions just behind and
  just ahead with one chord sweeping across the dome;
* **projection**: to the dome frame (``LayerView.dome_from_enu``), then the
  direction the IG's eye sees each point in (omnidirectional stereo,
  ``domectl.stereo.ods_dirs``), drawn by render/lines.py's
  :class:`~render.lines.LinePainter` with the sky's zoom (its chords are
  :data:`ORBIT_STEP_DEG` long at most, as the constellation lines').

Colours (:data:`ORBIT_RGB`, display-encoded) per body, :data:`DEFAULT_ORBIT_RGB`
for others; the lines are :data:`ORBIT_WIDTH_DEG` wide (at least a pixel), x the
layer's opacity. The layer is drawn after the stars and before the planets, so
a planet's disc or sphere covers its own orbit line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import moderngl
import numpy as np

from domectl.stereo import ods_dirs
from render.lines import SEGMENT_FLOATS, LinePainter, LineStyle, polyline_segments

#: Longest step of an orbit line as seen from the observer, degrees (as render.lines.MAX_STEP_DEG).
ORBIT_STEP_DEG = 0.5
#: Even steps of the eccentric anomaly before refinement: 0.35 deg each, so that an orbit seen from
#: near its centre (the Moon's from the Earth, eccentricity 0.055) needs no refinement.
ORBIT_BASE_SAMPLES = 1024
#: Points per orbit at most (a frame's cost stays bounded whatever the geometry).
MAX_ORBIT_POINTS = 20_000
#: The part of an orbit within this fraction of its semi-major axis of the observer is not drawn.
ORBIT_EYE_GAP = 0.01
#: Line width, degrees of arc (thinner than the constellation lines: an orbit is a guide).
ORBIT_WIDTH_DEG = 0.1
#: Display-encoded line colours per body.
ORBIT_RGB: dict[str, tuple[float, float, float]] = {
    "moon": (0.62, 0.62, 0.62),
    "mercury": (0.60, 0.55, 0.50),
    "venus": (0.80, 0.75, 0.45),
    "earth": (0.30, 0.55, 0.90),
    "mars": (0.85, 0.35, 0.25),
    "jupiter": (0.80, 0.60, 0.40),
    "saturn": (0.80, 0.70, 0.45),
    "uranus": (0.45, 0.75, 0.80),
    "neptune": (0.35, 0.45, 0.90),
    "pluto": (0.60, 0.50, 0.45),
}
DEFAULT_ORBIT_RGB = (0.50, 0.60, 0.70)


def orbit_style(name: str) -> LineStyle:
    """The line style of body ``name``'s orbit."""
    return LineStyle(rgb=ORBIT_RGB.get(str(name).lower(), DEFAULT_ORBIT_RGB), width_deg=ORBIT_WIDTH_DEG)


def eye_gap_m(orbit: Any, separation_m: float = 0.0) -> float:
    """Points of ``orbit`` nearer than this (metres) to the observer are not drawn (module docstring)."""
    semi_major = max(float(np.linalg.norm(orbit.axis_a_m)), float(np.linalg.norm(orbit.axis_b_m)))
    return max(ORBIT_EYE_GAP * semi_major, 2.0 * float(separation_m))


def _points(orbit: Any, anomaly: np.ndarray) -> np.ndarray:
    centre, a, b = (np.asarray(v, dtype=np.float64) for v in (orbit.centre_m, orbit.axis_a_m, orbit.axis_b_m))
    return centre + np.cos(anomaly)[:, None] * a + np.sin(anomaly)[:, None] * b


def _step_deg(points: np.ndarray) -> np.ndarray:
    """Angles (deg) seen from the origin between consecutive rows of (K, 3): -> (K-1,)."""
    p, q = points[:-1], points[1:]
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(p, q), axis=-1), np.sum(p * q, axis=-1)))


def orbit_anomalies(orbit: Any, step_deg: float = ORBIT_STEP_DEG, base: int = ORBIT_BASE_SAMPLES,
                    max_points: int = MAX_ORBIT_POINTS) -> np.ndarray:
    """Eccentric anomalies (K,) from 0 to 2 pi (both ends: a closed loop) sampling ``orbit`` so that
    no step spans more than ``step_deg`` as seen from the observer (module docstring)."""
    anomaly = np.linspace(0.0, 2.0 * np.pi, int(base) + 1)
    for _ in range(2):
        with np.errstate(invalid="ignore"):
            pieces = np.ceil(np.nan_to_num(_step_deg(_points(orbit, anomaly)), nan=0.0) / step_deg - 1e-9)
        pieces = np.maximum(pieces, 1).astype(np.int64)
        budget = max_points - 1
        if pieces.sum() > budget:                      # too many: the same share, coarser
            pieces = np.maximum(1, np.floor(pieces * budget / pieces.sum())).astype(np.int64)
        if np.all(pieces == 1):
            break
        starts = np.repeat(anomaly[:-1], pieces)
        widths = np.repeat(np.diff(anomaly) / pieces, pieces)
        offsets = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
        anomaly = np.append(starts + offsets * widths, anomaly[-1])
    return anomaly


def orbit_polylines(view: Any, orbit: Any) -> list[np.ndarray]:
    """``orbit`` as the eye of ``view`` sees it: polylines of unit dome-frame directions, each (K, 3).

    Sampled by :func:`orbit_anomalies`; points within :func:`eye_gap_m` of the
    observer (and non-finite ones) split the line; projected with
    ``view.eye``, ``view.eye_separation_m``, ``view.taper_from_deg``.
    """
    values = np.concatenate([np.asarray(v, dtype=np.float64).ravel()
                             for v in (orbit.centre_m, orbit.axis_a_m, orbit.axis_b_m)])
    if not np.all(np.isfinite(values)):
        return []
    points = _points(orbit, orbit_anomalies(orbit))
    keep = np.linalg.norm(points, axis=-1) > eye_gap_m(orbit, view.eye_separation_m)
    if not keep.any():
        return []
    dome = points @ np.asarray(view.dome_from_enu, dtype=np.float64).T
    dirs = np.full_like(dome, np.nan)
    dirs[keep] = ods_dirs(dome[keep], view.eye, view.eye_separation_m, view.taper_from_deg)
    # Runs of kept points; a closed orbit kept all round is one run (first point repeated at the end).
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    runs = [dirs[start:stop] for start, stop in zip(edges[::2], edges[1::2]) if stop - start >= 2]
    if len(runs) >= 2 and keep[0] and keep[-1]:         # the run through E = 0 is cut in two: join them
        runs = [np.concatenate([runs[-1], runs[0][1:]])] + runs[1:-1]
    return runs


class OrbitsLayer:
    """The ``orbits`` layer (render/layers.py protocol).

    ``painter``: a LinePainter shared with other line layers, or a function
    making it (called at the first orbit drawn: a frame without orbits builds
    nothing); None: the layer makes and releases its own.
    """

    names = ("orbits",)

    def __init__(self, ctx: moderngl.Context, *,
                 painter: LinePainter | Callable[[], LinePainter] | None = None) -> None:
        self.ctx = ctx
        self._own_painter = painter is None
        self._painter_source = painter
        self._painter: LinePainter | None = painter if isinstance(painter, LinePainter) else None
        self._batches: list[Any] = []                  # reused frame after frame, one per colour

    @property
    def painter(self) -> LinePainter:
        if self._painter is None:
            source = self._painter_source
            self._painter = source() if callable(source) else LinePainter(self.ctx)
        return self._painter

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name not in self.names:
            raise ValueError(f"OrbitsLayer draws 'orbits', not {name!r}")
        if opacity <= 0.0 or not view.orbits:
            return
        by_style: dict[LineStyle, list[np.ndarray]] = {}
        for orbit in view.orbits:
            rows = [polyline_segments(line) for line in orbit_polylines(view, orbit)]
            if rows:
                by_style.setdefault(orbit_style(orbit.name), []).extend(rows)
        for i, (style, rows) in enumerate(by_style.items()):
            while len(self._batches) <= i:
                self._batches.append(self.painter.batch(np.zeros((0, SEGMENT_FLOATS))))
            batch = self._batches[i]
            batch.write(np.concatenate(rows))
            self.painter.draw(view, [batch], np.eye(3), style, opacity, zoom=view.zoom)

    def release(self) -> None:
        for batch in self._batches:
            batch.release()
        self._batches.clear()
        if self._own_painter and self._painter is not None:
            self._painter.release()
        self._painter = None
