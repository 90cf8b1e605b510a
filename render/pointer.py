"""The ``pointer`` layer: highlights the object the operator selected (``view.pointer``).

``view.pointer`` names a body of ``view.bodies`` ("mars"), a catalogue star
("HIP 27989") or a constellation by its IAU abbreviation ("Ori", any case);
:func:`resolve_pointer` turns it into a :class:`PointerTarget` (pure, no GL).
An unknown name draws nothing and is logged once.

* A body or a star gets a ring of constant angular size (``ring_radius_deg``,
  wider for a large Sun or Moon) made of three arcs, and its name in the
  frame's language below the ring. The arcs turn at ``RING_TURN_DEG_PER_S``
  when the view carries a time (``view.time_s``, seconds of show time; a node
  reads no clock, so the animation is a pure function of the frame); without
  one the ring stands still. Geometry: :func:`ring_polylines` (numpy, dome
  frame), drawn by the line painter; the label by the text painter.
* A constellation gets its stick figure redrawn bright and thick over the
  ``constellation-lines`` layer, and its name in the pointer colour at its
  label point(s).

Under the sky's zoom (``view.zoom``) the ring and the name go where the zoom
puts their object, at their own angular size; the ring stays clear of a disc
the zoom magnified (never smaller than without zoom). A constellation's figure
and names zoom as the constellation layers do.

Star positions are the catalogue's (J1991.25, no proper motion: at most a
few arcminutes for the fastest stars, well inside the ring).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np

from domectl.objects import BODY_NAMES

from domectl import skydata
from domectl.projection import zoom_dir, zoom_magnification
from render.labels import ZENITH_CAP_DEG, Label, TextPainter, offset_dirs
from render.lines import STAR_GAP_DEG, LinePainter, LineStyle, polyline_segments, segments_from_polylines, trim_edges

log = logging.getLogger(__name__)

#: The ring's arcs turn this fast (deg per second of view.time_s): alive, but slow enough not to distract.
RING_TURN_DEG_PER_S = 30.0
#: Three arcs of 90 deg with 30 deg gaps.
RING_ARCS = 3
RING_ARC_DEG = 90.0
#: Points per ring arc (a chord of 1/16 of 90 deg of a 1.5 deg ring is far below a pixel off the circle).
RING_ARC_POINTS = 17

POINTER_RGB = (1.0, 0.82, 0.35)
RING_STYLE = LineStyle(rgb=POINTER_RGB, width_deg=0.22, min_width_px=1.5)
HIGHLIGHT_STYLE = LineStyle(rgb=(0.70, 0.85, 1.0), width_deg=0.25, min_width_px=1.5)

#: Sun, Moon and planets in the label languages.

_HIP = re.compile(r"^\s*hip\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class PointerTarget:
    """What the pointer highlights.

    kind: "body", "star" or "constellation"; key: body name, HIP number or
    IAU abbreviation; frame: "enu" or "icrs", the frame of ``directions``
    ((K, 3) unit vectors: the object, or a constellation's label points);
    label: its name in the frame's language; radius_deg: the ring's radius
    (without zoom); angular_diameter_deg: a body's disc, 0 for the rest.
    """

    kind: str
    key: str
    frame: str
    directions: np.ndarray
    label: str
    radius_deg: float
    angular_diameter_deg: float = 0.0


def ring_radius_deg(base_deg: float, angular_diameter_deg: float = 0.0) -> float:
    """The ring's angular radius: ``base_deg``, or clear of a large disc (Sun, Moon) by 0.5 deg."""
    return max(float(base_deg), 0.5 * float(angular_diameter_deg) + 0.5)


def resolve_pointer(
    pointer: str,
    language: str,
    bodies: Sequence[Any] = (),
    *,
    stars: Any = None,
    star_names: Mapping[int, str] | None = None,
    constellation_points: Mapping[str, np.ndarray] | None = None,
    constellation_names: Mapping[str, str] | None = None,
    base_radius_deg: float = 1.5,
) -> PointerTarget | None:
    """``view.pointer`` -> a :class:`PointerTarget`, or None for "" or a name nothing matches.

    stars (StarCatalog: hip, icrs_xyz), star_names (HIP -> name),
    constellation_points (abbrev -> (K, 3) ICRS) and constellation_names
    (abbrev -> name) are the language's data; a missing one makes that kind
    of pointer unresolvable.
    """
    text = str(pointer or "").strip()
    if not text:
        return None
    lowered = text.lower()
    for body in bodies:
        name = str(body.name).lower()
        if name == lowered:
            label = BODY_NAMES.get(name, {}).get(language, str(body.name).capitalize())
            enu = np.asarray(body.enu, dtype=np.float64)
            diameter_deg = float(getattr(body, "angular_diameter_deg", 0.0) or 0.0)
            return PointerTarget("body", name, "enu", (enu / np.linalg.norm(enu))[None], label,
                                 ring_radius_deg(base_radius_deg, diameter_deg), diameter_deg)
    match = _HIP.match(text)
    if match is not None:
        if stars is None:
            return None
        number = int(match.group(1))
        hits = np.nonzero(np.asarray(stars.hip) == number)[0]
        if len(hits) == 0:
            return None
        direction = np.asarray(stars.icrs_xyz[hits[0]], dtype=np.float64)
        label = (star_names or {}).get(number, f"HIP {number}")
        return PointerTarget("star", str(number), "icrs", direction[None], label, float(base_radius_deg))
    if constellation_points:
        by_lower = {abbrev.lower(): abbrev for abbrev in constellation_points}
        abbrev = by_lower.get(lowered)
        if abbrev is not None:
            label = (constellation_names or {}).get(abbrev, abbrev)
            points = np.atleast_2d(np.asarray(constellation_points[abbrev], dtype=np.float64))
            return PointerTarget("constellation", abbrev, "icrs", points, label, float(base_radius_deg))
    return None


def ring_polylines(centre_dome: np.ndarray, radius_deg: float, phase_deg: float = 0.0,
                   zenith_cap_deg: float = ZENITH_CAP_DEG) -> list[np.ndarray]:
    """The ring's arcs about a dome-frame unit vector: a list of (RING_ARC_POINTS, 3) dome unit vectors.

    Arcs are placed in the centre's upright tangent basis (as labels), the
    first starting ``phase_deg`` counter-clockwise from "right".
    """
    centre = np.asarray(centre_dome, dtype=np.float64)
    centre = centre / np.linalg.norm(centre)
    radius = np.radians(float(radius_deg))
    arcs = []
    for k in range(RING_ARCS):
        start = phase_deg + k * 360.0 / RING_ARCS
        angles = np.radians(start + np.linspace(0.0, RING_ARC_DEG, RING_ARC_POINTS))
        offsets = radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
        arcs.append(offset_dirs(centre, offsets, zenith_cap_deg))
    return arcs


def ring_phase_deg(view: Any) -> float:
    """The arcs' turn for this frame: a pure function of the view (no clock; module docstring)."""
    time_s = getattr(view, "time_s", None)
    return 0.0 if time_s is None else float(time_s) * RING_TURN_DEG_PER_S % 360.0


class PointerLayer:
    """The ``pointer`` layer (render/layers.py protocol).

    ``stars``, ``constellation_lines``, ``constellation_points`` default to
    the sky data (read when first needed); ``text`` and ``lines`` painters
    may be shared with the other layers. A body's or star's name stands
    ``label_gap_deg`` below its ring, ``cap_height_deg`` tall; a
    constellation's name is ``constellation_cap_height_deg`` tall.
    """

    names = ("pointer",)

    def __init__(
        self,
        ctx: moderngl.Context,
        *,
        text: TextPainter | None = None,
        lines: LinePainter | None = None,
        stars: Any = None,
        constellation_lines: Mapping[str, Sequence[np.ndarray]] | None = None,
        constellation_points: Mapping[str, np.ndarray] | None = None,
        ring_radius_deg: float = 1.5,
        cap_height_deg: float = 1.2,
        constellation_cap_height_deg: float = 1.6,
        label_gap_deg: float = 0.4,
        rgb: tuple[float, float, float] = POINTER_RGB,
        ring_style: LineStyle = RING_STYLE,
        highlight_style: LineStyle = HIGHLIGHT_STYLE,
    ) -> None:
        self._own_text, self._own_lines = text is None, lines is None
        self.text = text if text is not None else TextPainter(ctx)
        self.lines = lines if lines is not None else LinePainter(ctx)
        self._stars = stars
        self._constellation_lines = constellation_lines
        self._constellation_points = constellation_points
        self.ring_radius_deg = float(ring_radius_deg)
        self.cap_height_deg = float(cap_height_deg)
        self.constellation_cap_height_deg = float(constellation_cap_height_deg)
        self.label_gap_deg = float(label_gap_deg)
        self.rgb = rgb
        self.ring_style = ring_style
        self.highlight_style = highlight_style
        self._ring = self.lines.batch(np.zeros((0, 8)))
        self._label = self.text.batch()
        self._figures: dict[str, Any] = {}
        self._unknown: set[str] = set()
        self._names: dict[tuple[str, str], Mapping[Any, str]] = {}
        self.last_target: PointerTarget | None = None

    def resolve(self, view: Any) -> PointerTarget | None:
        """The view's pointer target (the sky data read on first need)."""
        text = str(view.pointer or "").strip()
        if not text:
            return None
        language = view.language
        if _HIP.match(text) and self._stars is None:
            self._stars = skydata.load_stars()
        if self._constellation_points is None:
            self._constellation_points = skydata.load_constellation_labels()
        key = ("stars" if _HIP.match(text) else "constellations", language)
        if key not in self._names:
            load = skydata.load_star_names if key[0] == "stars" else skydata.load_constellation_names
            self._names[key] = load(language)
        names = self._names[key]
        target = resolve_pointer(
            text, language, view.bodies, stars=self._stars,
            star_names=names if key[0] == "stars" else None,
            constellation_points=self._constellation_points,
            constellation_names=names if key[0] == "constellations" else None,
            base_radius_deg=self.ring_radius_deg,
        )
        if target is None and text not in self._unknown:
            self._unknown.add(text)
            log.warning("pointer %r: no such body in this frame, catalogue star (HIP n) or constellation "
                        "abbreviation (Ori): nothing highlighted", text)
        return target

    def _figure(self, abbrev: str) -> Any:
        if abbrev not in self._figures:
            if self._constellation_lines is None:
                self._constellation_lines = skydata.load_constellation_lines()
            edges = (edge for p in self._constellation_lines.get(abbrev, ()) for edge in trim_edges(p, STAR_GAP_DEG))
            self._figures[abbrev] = self.lines.batch(segments_from_polylines(edges))
        return self._figures[abbrev]

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name != "pointer":
            raise ValueError(f"PointerLayer draws 'pointer', not {name!r}")
        target = self.last_target = self.resolve(view)
        if target is None or opacity <= 0.0:
            return
        rotation = view.dome_from_enu if target.frame == "enu" else view.dome_from_icrs
        cap = self.text.zenith_cap_deg
        if target.kind == "constellation":
            self.lines.draw(view, [self._figure(target.key)], rotation, self.highlight_style, opacity,
                            zoom=view.zoom)
            self._label.write([
                Label(tuple(p), target.label, self.constellation_cap_height_deg, self.rgb)
                for p in target.directions
            ])
            self.text.draw(view, [self._label], rotation, opacity, zoom=view.zoom)
            return
        # The ring and the name are placed in the dome frame round where the zoom draws the object.
        sky_centre = (np.asarray(rotation, np.float64) @ target.directions[0])[None]
        centre = zoom_dir(sky_centre, view.zoom)[0]
        drawn_diameter_deg = float(zoom_magnification(sky_centre, view.zoom)[0]) * target.angular_diameter_deg
        radius_deg = ring_radius_deg(target.radius_deg, drawn_diameter_deg)
        arcs = ring_polylines(centre, radius_deg, ring_phase_deg(view), cap)
        self._ring.write(np.concatenate([polyline_segments(arc) for arc in arcs]))
        self.lines.draw(view, [self._ring], np.eye(3), self.ring_style, opacity)
        below_deg = radius_deg + self.label_gap_deg + 0.5 * self.cap_height_deg
        self._label.write([Label(tuple(centre), target.label, self.cap_height_deg, self.rgb,
                                 offset_deg=(0.0, -below_deg))])
        self.text.draw(view, [self._label], np.eye(3), opacity)

    def release(self) -> None:
        for batch in (self._ring, self._label, *self._figures.values()):
            batch.release()
        self._figures.clear()
        if self._own_text:
            self.text.release()
        if self._own_lines:
            self.lines.release()
