"""Vector layers: constellation stick figures and IAU boundaries as antialiased lines.

Geometry is fixed in ICRS and uploaded once: every polyline is subdivided so
that no chord spans more than ``MAX_STEP_DEG`` (0.5 deg; a chord's largest
departure from the projected curve is then below 0.02 px even on a 10K
domemaster), and stored as one row per segment (start, end, arc length at
each) in a static GPU buffer. Each frame the vertex shader (``lines.glsl``)
rotates the ends into the dome frame, projects them with ``fisheye_uv`` and
builds a quad around the chord in output pixels; the numpy twin of that stage
is :func:`project_segments`.

Drawing is two passes (the core profile has no wide lines, and quads of
consecutive segments overlap at their round caps): pass 1 writes each
fragment's coverage (distance to the chord, the dash pattern, the springline)
into a one-channel target of the frame's size with MAX blending; pass 2
(``lines_composite.glsl``) lays the layer's colour over the frame with alpha =
coverage x opacity. A line therefore has the same weight along its length,
at its joints and where lines cross, at any opacity.

Width (:func:`line_width_px`) is ``width_deg`` of arc at the frame's
``px_per_deg`` but never under ``min_width_px``: on the hall's 10K slices a
line keeps its angular width (0.15 deg, 1.7 px on a 2048 px domemaster), and a
small preview keeps a visible 1 px line instead of a vanishing one. The width
is measured in output pixels across the projected chord, so it is the same
near the zenith and near the rim. Lines under one pixel are drawn one pixel
wide with proportionally less ink.

Boundaries are not great circles: the IAU drew them along hour circles and
parallels of the B1875.0 equator. Hour circles are great circles; parallels
are small circles, so a boundary segment whose ends share a B1875 declination
is subdivided along that parallel (:func:`subdivide_boundary`) - a long one
(up to 30 deg in the data) would otherwise bow by more than a degree.

Zoom (``view.zoom``, ``domectl.projection.zoom_dir``): the lines are attached
to the sky and move with it; their width stays in output pixels, and the dash
pattern keeps its length on the dome at the zoom centre (it is divided by the
zoom, in degrees of sky). A zoom magnifies the sky locally by up to
:func:`~domectl.projection.zoom_max_magnification` (the zoom itself when it
magnifies, 3.75 at the back of the dome for a zoom of 0.25), and a chord with
it: each segment is then drawn in :func:`line_pieces` pieces, one per draw, so
that no chord spans more than ``MAX_DRAWN_STEP_DEG`` on the dome. A zoom that
magnifies shows less sky: only the segments :func:`visible_segments` keeps are
drawn (chosen per frame on the CPU, written to a batch of the painter's), so
that a strong zoom, with its many pieces, costs no more than none (measured on
llvmpipe, constellation lines and boundaries at 1024 px: 14 ms at zoom 1,
140 ms at zoom 100 without the choice, 6 ms with it; benchmarks/bench_render.py
test_lines_under_zoom).

Slices: everything is computed in domemaster coordinates and mapped to the
slice's pixels by ``rect_uv``, so adjacent slices of one frame agree at their
seam to float rounding.

Not applied (yet): refraction and aberration. LayerView carries neither; a
line ending on a star within a few degrees of the horizon may miss the
refracted star by up to 0.6 deg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np

from domectl import skydata
from domectl.projection import (
    ZOOM_CENTRE_DOME,
    ZOOM_CENTRE_ELEV_DEG,
    fisheye_uv,
    zoom_dir,
    zoom_max_magnification,
    zoom_sky_radius_deg,
    zoom_uniform,
)
from render.context import InstanceBuffer, check_gl, release_framebuffers
from render.shaders import load_program

#: Longest chord after subdivision, in degrees of arc.
MAX_STEP_DEG = 0.5
#: Under a zoom no chord spans more than this on the dome. A chord's departure from the
#: projected curve grows as its square: 4x that of the unzoomed 0.5 deg chords (0.05 px on a
#: 10K domemaster), at most 0.2 px (tests/test_render_zoom.py, zooms 0.25 to 100).
MAX_DRAWN_STEP_DEG = 1.0
#: Pieces per segment at most: the shows' largest zoom (100) needs 50; a zoom beyond it
#: (a peer's mistake) draws coarser chords instead of stalling the frame.
MAX_LINE_PIECES = 64
#: Domemaster radius past the springline still drawn (as the stars: 0.36 deg), then clipped.
RIM_MARGIN_R = 0.002
#: Floats per segment row: a (3), b (3), arc length at a and at b (2).
SEGMENT_FLOATS = 8
#: Two B1875 declinations closer than this (deg) make a boundary segment a parallel; the data's
#: 4-decimal rounding leaves ~1e-4 deg, and a real hour-circle segment is far longer.
PARALLEL_TOLERANCE_DEG = 0.01
#: Constellation figures stop this short of their stars (the star stays clear of the lines).
STAR_GAP_DEG = 0.45
#: Julian date of the Besselian epoch B1875.0, the frame of the IAU boundaries (Delporte 1930).
B1875_JD = 2405889.258550475
J2000_JD = 2451545.0


@dataclass(frozen=True)
class LineStyle:
    """How a line layer looks.

    rgb: display-encoded colour (the frame's gamma-2.2 values); width_deg:
    line width in degrees of arc, never under min_width_px output pixels;
    dash_deg, gap_deg: dash and gap lengths along the line in degrees (0:
    solid), stretched so that a dash period is at least min_dash_period_px.
    """

    rgb: tuple[float, float, float] = (0.30, 0.50, 0.85)
    width_deg: float = 0.15
    min_width_px: float = 1.0
    dash_deg: float = 0.0
    gap_deg: float = 0.0
    min_dash_period_px: float = 6.0


#: Stick figures: the conventional muted blue.
CONSTELLATION_LINES_STYLE = LineStyle(rgb=(0.30, 0.50, 0.85), width_deg=0.15)
#: IAU boundaries: thinner, dim red-brown, dashed: present without competing with the figures.
CONSTELLATION_BOUNDARIES_STYLE = LineStyle(rgb=(0.55, 0.28, 0.20), width_deg=0.10, dash_deg=0.8, gap_deg=0.5)


def line_width_px(style: LineStyle, px_per_deg: float) -> float:
    """The drawn width in output pixels at ``px_per_deg`` (see the module docstring)."""
    return max(float(style.width_deg) * float(px_per_deg), float(style.min_width_px))


def dash_deg(style: LineStyle, px_per_deg: float) -> tuple[float, float]:
    """(on, period) of the dash pattern in degrees at ``px_per_deg``; (0, 0) for a solid line."""
    period = float(style.dash_deg) + float(style.gap_deg)
    if style.dash_deg <= 0.0 or style.gap_deg <= 0.0:
        return 0.0, 0.0
    scale = max(1.0, float(style.min_dash_period_px) / (period * max(float(px_per_deg), 1e-9)))
    return float(style.dash_deg) * scale, period * scale


def line_pieces(zoom: float, max_step_deg: float = MAX_STEP_DEG) -> int:
    """Pieces each segment is drawn in under ``zoom`` (module docstring): 1 without zoom."""
    drawn_deg = zoom_max_magnification(zoom) * float(max_step_deg)
    return min(MAX_LINE_PIECES, max(1, int(np.ceil(drawn_deg / MAX_DRAWN_STEP_DEG - 1e-9))))


def visible_segments(segments: np.ndarray, rotation: np.ndarray, zoom: float, longest_deg: float) -> np.ndarray:
    """Which segment rows the dome can show under a ``zoom`` > 1: (S, 8) -> (S,) bool.

    Those with an end within the sky the dome shows (:func:`~domectl.projection.zoom_sky_radius_deg`
    of the back of the springline plus the rim margin), widened by ``longest_deg``
    (the longest segment's arc), of the zoom centre; ``rotation`` (3, 3) takes
    the rows' frame to the dome's.
    """
    seg = np.asarray(segments, dtype=np.float64)
    centre = np.asarray(rotation, dtype=np.float64).T @ ZOOM_CENTRE_DOME
    rim_deg = 180.0 * RIM_MARGIN_R  # r = theta / pi: domemaster radius -> degrees
    reach_deg = zoom_sky_radius_deg(180.0 - ZOOM_CENTRE_ELEV_DEG + rim_deg, zoom) + float(longest_deg)
    cos_reach = np.cos(np.radians(min(reach_deg, 180.0)))
    return (seg[:, 0:3] @ centre >= cos_reach) | (seg[:, 3:6] @ centre >= cos_reach)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _arc_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between unit vectors, (N, 3), (N, 3) -> (N,) degrees; atan2 keeps short arcs exact."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1)))


def subdivide_great_circles(polyline: np.ndarray, max_step_deg: float = MAX_STEP_DEG) -> np.ndarray:
    """Points along the great circles joining consecutive vertices, no two more than ``max_step_deg`` apart.

    (M, 3) unit vectors -> (K, 3) unit vectors, K >= M, the vertices kept.
    Antipodal neighbours (no unique great circle) raise ValueError.
    """
    p = _unit(np.asarray(polyline, dtype=np.float64))
    if len(p) < 2:
        return p.copy()
    out = [p[:1]]
    for a, b in zip(p[:-1], p[1:]):
        angle = np.radians(_arc_deg(a[None], b[None])[0])
        if np.pi - angle < 1e-9:
            raise ValueError(f"polyline has antipodal neighbours {a} and {b}: no unique great circle; insert a vertex between them")
        n = max(1, int(np.ceil(np.degrees(angle) / max_step_deg - 1e-9)))
        t = np.arange(1, n + 1)[:, None] / n
        if angle < 1e-12:
            out.append(np.repeat(b[None], n, axis=0))
            continue
        # Slerp: sin((1-t)w)/sin w a + sin(tw)/sin w b.
        out.append((np.sin((1.0 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle))
    return _unit(np.concatenate(out))


def icrs_from_b1875() -> np.ndarray:
    """Precession matrix (3, 3): mean equator and equinox of B1875.0 -> J2000 (~ICRS, 0.02" bias ignored).

    IAU 1976 precession, angles zeta, z, theta of Lieske et al. (1977, A&A 58, 1)
    for a start epoch T and an interval t in Julian centuries; ``P = Rz(z) Ry(-theta) Rz(zeta)``
    as active rotations (the passive ``R3(-z) R2(theta) R3(-zeta)`` of the literature).
    """
    big_t = (B1875_JD - J2000_JD) / 36525.0
    t = (J2000_JD - B1875_JD) / 36525.0
    arcsec = np.pi / (180.0 * 3600.0)
    base = 2306.2181 + 1.39656 * big_t - 0.000139 * big_t**2
    zeta = (base * t + (0.30188 - 0.000344 * big_t) * t**2 + 0.017998 * t**3) * arcsec
    z = (base * t + (1.09468 + 0.000066 * big_t) * t**2 + 0.018203 * t**3) * arcsec
    theta = ((2004.3109 - 0.85330 * big_t - 0.000217 * big_t**2) * t - (0.42665 + 0.000217 * big_t) * t**2
             - 0.041833 * t**3) * arcsec

    def rz(a: float) -> np.ndarray:
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def ry(a: float) -> np.ndarray:
        c, s = np.cos(a), np.sin(a)
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])

    return rz(z) @ ry(-theta) @ rz(zeta)


def subdivide_boundary(polyline_icrs: np.ndarray, max_step_deg: float = MAX_STEP_DEG,
                       icrs_from_epoch: np.ndarray | None = None) -> np.ndarray:
    """Points along an IAU boundary: parallels of B1875 declination, other segments great circles.

    (M, 3) ICRS unit vectors -> (K, 3), K >= M, consecutive points at most
    ``max_step_deg`` apart. ``icrs_from_epoch`` (3, 3) defaults to :func:`icrs_from_b1875`.
    """
    rot = icrs_from_b1875() if icrs_from_epoch is None else np.asarray(icrs_from_epoch, np.float64)
    p = _unit(np.asarray(polyline_icrs, dtype=np.float64))
    if len(p) < 2:
        return p.copy()
    q = p @ rot  # rows: epoch-frame vectors (rot.T @ u)
    dec = np.degrees(np.arcsin(np.clip(q[:, 2], -1.0, 1.0)))
    ra = np.degrees(np.arctan2(q[:, 1], q[:, 0]))
    out = [p[:1]]
    for i in range(len(p) - 1):
        if abs(dec[i + 1] - dec[i]) >= PARALLEL_TOLERANCE_DEG:
            out.append(subdivide_great_circles(p[i : i + 2], max_step_deg)[1:])
            continue
        d_ra = (ra[i + 1] - ra[i] + 180.0) % 360.0 - 180.0  # the short way round
        arc = abs(d_ra) * np.cos(np.radians(dec[i]))
        n = max(1, int(np.ceil(arc / max_step_deg - 1e-9)))
        t = np.arange(1, n)[:, None] / n
        ra_t = np.radians(ra[i] + t[:, 0] * d_ra)
        dec_t = np.radians(0.5 * (dec[i] + dec[i + 1]))
        between = np.stack([np.cos(dec_t) * np.cos(ra_t), np.cos(dec_t) * np.sin(ra_t), np.full_like(ra_t, np.sin(dec_t))], axis=-1)
        out.append(between @ rot.T)
        out.append(p[i + 1 : i + 2])
    return _unit(np.concatenate(out))


def trim_edges(polyline: np.ndarray, gap_deg: float, min_keep: float = 1.0 / 3.0) -> list[np.ndarray]:
    """Each edge of a stick figure as its own (2, 3) polyline, cut back by ``gap_deg`` at both ends.

    Constellation figures join stars; stopping the lines short of them leaves
    the stars clear, as planetarium figures do. An edge keeps at least
    ``min_keep`` of its length, so short edges shrink but never vanish.
    """
    p = _unit(np.asarray(polyline, dtype=np.float64))
    edges = []
    for a, b in zip(p[:-1], p[1:]):
        length_deg = float(_arc_deg(a[None], b[None])[0])
        if length_deg <= 0.0:
            continue
        cut = min(float(gap_deg), 0.5 * (1.0 - min_keep) * length_deg) / length_deg
        angle = np.radians(length_deg)
        t = np.array([[cut], [1.0 - cut]])
        edges.append(_unit((np.sin((1.0 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)))
    return edges


def polyline_segments(points: np.ndarray) -> np.ndarray:
    """(K, 3) points of one polyline -> (K-1, 8) float64 segment rows: a, b, arc length (deg) at a and b."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 2:
        return np.zeros((0, SEGMENT_FLOATS))
    step = _arc_deg(p[:-1], p[1:])
    arc = np.concatenate([[0.0], np.cumsum(step)])
    return np.concatenate([p[:-1], p[1:], arc[:-1, None], arc[1:, None]], axis=1)


def segments_from_polylines(polylines: Iterable[np.ndarray], max_step_deg: float = MAX_STEP_DEG,
                            boundary: bool = False) -> np.ndarray:
    """Polylines of unit vectors -> (S, 8) segment rows, each polyline subdivided first."""
    rows = []
    for line in polylines:
        points = subdivide_boundary(line, max_step_deg) if boundary else subdivide_great_circles(line, max_step_deg)
        rows.append(polyline_segments(points))
    return np.concatenate(rows) if rows else np.zeros((0, SEGMENT_FLOATS))


def piece_segments(segments: np.ndarray, piece: int, pieces: int) -> np.ndarray:
    """Piece ``piece`` of ``pieces`` of every segment row: (S, 8) -> (S, 8).

    Numpy twin of the piece choice in ``lines.glsl``: the chord's points at
    t = piece / pieces and (piece + 1) / pieces (not normalised: the
    projection takes their direction, on the segment's great circle), the arc
    lengths likewise; the segment's own ends are kept as they are.
    """
    seg = np.asarray(segments, dtype=np.float64)
    t0, t1 = piece / pieces, (piece + 1) / pieces
    out = seg.copy()
    if piece > 0:
        out[:, 0:3] = seg[:, 0:3] + t0 * (seg[:, 3:6] - seg[:, 0:3])
        out[:, 6] = seg[:, 6] + t0 * (seg[:, 7] - seg[:, 6])
    if piece + 1 < pieces:
        out[:, 3:6] = seg[:, 0:3] + t1 * (seg[:, 3:6] - seg[:, 0:3])
        out[:, 7] = seg[:, 6] + t1 * (seg[:, 7] - seg[:, 6])
    return out


def project_segments(segments: np.ndarray, rotation: np.ndarray, rect_uv: Sequence[float],
                     size_px: Sequence[int], zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy twin of ``lines.glsl``'s vertex stage.

    (S, 8) segment rows, rotation (3, 3) to the dome frame, the sky's ``zoom``
    -> (a_px (S, 2), b_px (S, 2), visible (S,)): window coordinates of the
    chord's ends (origin bottom-left, pixel centres at +0.5) and whether the
    segment is drawn (not both ends beyond the springline margin).
    """
    seg = np.asarray(segments, dtype=np.float64)
    rot = np.asarray(rotation, dtype=np.float64)
    rect = np.asarray(rect_uv, dtype=np.float64)
    size = np.asarray(size_px, dtype=np.float64)
    uv_a = fisheye_uv(zoom_dir(seg[:, 0:3] @ rot.T, zoom))
    uv_b = fisheye_uv(zoom_dir(seg[:, 3:6] @ rot.T, zoom))
    to_px = lambda uv: (uv - rect[:2]) / (rect[2:] - rect[:2]) * size  # noqa: E731
    rim = 0.5 + RIM_MARGIN_R
    visible = (np.hypot(*(uv_a - 0.5).T) <= rim) | (np.hypot(*(uv_b - 0.5).T) <= rim)
    return to_px(uv_a), to_px(uv_b), visible


def _mat3_bytes(matrix: np.ndarray) -> bytes:
    """Row-major numpy (3, 3) -> GLSL mat3 (column-major) bytes."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


class LineBatch:
    """Segments on the GPU, drawn by a :class:`LinePainter`. Made by :meth:`LinePainter.batch`.

    ``write(segments)`` replaces the segments (the buffer grows as needed):
    static figures are written once, a pointer's ring every frame.
    """

    def __init__(self, painter: LinePainter, segments: np.ndarray) -> None:
        self._rows = InstanceBuffer(painter.ctx, painter.program, painter.corners, "3f 3f 2f",
                                    ("in_a", "in_b", "in_arc_deg"), SEGMENT_FLOATS)
        self.segments = np.zeros((0, SEGMENT_FLOATS))
        self._longest_deg: float | None = None
        self.write(segments)

    @property
    def count(self) -> int:
        return self._rows.count

    @property
    def longest_deg(self) -> float:
        """The longest segment's arc in degrees (for :func:`visible_segments`; found on first use)."""
        if self._longest_deg is None:
            arcs = _arc_deg(self.segments[:, 0:3], self.segments[:, 3:6])
            self._longest_deg = float(arcs.max()) if len(arcs) else 0.0
        return self._longest_deg

    def write(self, segments: np.ndarray) -> None:
        """Replace the segments (kept in ``segments``, (S, 8) float64, for :func:`visible_segments`)."""
        self.segments = np.asarray(segments, dtype=np.float64).reshape(-1, SEGMENT_FLOATS)
        self._longest_deg = None
        self._rows.write(self.segments)

    def render(self) -> None:
        self._rows.render()

    def release(self) -> None:
        self._rows.release()


class LinePainter:
    """Draws :class:`LineBatch` es into the bound frame (two passes, module docstring).

    One painter may serve several layers (lines, boundaries, the pointer):
    they share its programs and its coverage target.
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = load_program(ctx, "lines")
        self._composite = load_program(ctx, "lines_composite")
        corners = np.array([[0, -1], [1, -1], [0, 1], [1, 1]], dtype=np.float32)
        self.corners = ctx.buffer(corners.tobytes())
        self._composite_vao = ctx.vertex_array(self._composite, [])
        self._targets: dict[tuple[int, int], tuple[moderngl.Texture, moderngl.Framebuffer]] = {}
        self._batches: list[LineBatch] = []
        # Per-frame batches of the segments a zoom leaves on the dome, one per batch drawn at once.
        self._visible: list[LineBatch] = []
        check_gl(ctx, "LinePainter setup")

    def batch(self, segments: np.ndarray) -> LineBatch:
        """A batch holding ``segments`` ((S, 8) rows, :func:`polyline_segments`); released with the painter."""
        batch = LineBatch(self, segments)
        self._batches.append(batch)
        return batch

    def _target(self, size: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        if size not in self._targets:
            texture = self.ctx.texture(size, 1, dtype="f1")
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._targets[size] = (texture, self.ctx.framebuffer(color_attachments=[texture]))
        return self._targets[size]

    def draw(self, view: Any, batches: Sequence[LineBatch], rotation: np.ndarray, style: LineStyle,
             opacity: float, zoom: float = 1.0) -> None:
        """Draw ``batches`` (rotated to the dome frame by ``rotation`` (3, 3)) over the bound frame of ``view``.

        ``zoom``: the sky's (``view.zoom``) for lines attached to the sky; 1 for
        lines already placed in the dome frame.
        """
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity <= 0.0 or not any(b.count for b in batches):
            return
        ctx = self.ctx
        frame = ctx.fbo
        size = (int(view.size_px[0]), int(view.size_px[1]))
        rect = tuple(float(x) for x in view.rect_uv)
        width = line_width_px(style, view.px_per_deg)
        on_deg, period_deg = dash_deg(style, view.px_per_deg)
        pieces = line_pieces(zoom)
        if zoom > 1.0:
            batches = self._visible_batches(batches, rotation, zoom)

        texture, target = self._target(size)
        target.use()
        ctx.viewport = (0, 0, *size)
        target.clear(0.0, 0.0, 0.0, 0.0)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_equation = moderngl.MAX
        prog = self.program
        prog["u_rot"].write(_mat3_bytes(rotation))
        prog["u_rect"].value = rect
        prog["u_size_px"].value = (float(size[0]), float(size[1]))
        prog["u_half_width_px"].value = 0.5 * max(width, 1.0)
        prog["u_ink"].value = min(width, 1.0)
        prog["u_rim_r"].value = 0.5 + RIM_MARGIN_R
        prog["u_dash_deg"].value = (on_deg / zoom, period_deg / zoom)
        prog["u_zoom"].value = zoom_uniform(zoom)
        prog["u_pieces"].value = pieces
        for piece in range(pieces):
            prog["u_piece"].value = piece
            for batch in batches:
                batch.render()

        frame.use()
        ctx.viewport = (0, 0, *size)
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        texture.use(location=0)
        comp = self._composite
        comp["u_coverage"].value = 0
        comp["u_rgb"].value = tuple(float(c) for c in style.rgb)
        comp["u_opacity"].value = opacity
        self._composite_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, "LinePainter.draw")

    def _visible_batches(self, batches: Sequence[LineBatch], rotation: np.ndarray, zoom: float) -> list[LineBatch]:
        """``batches`` cut down to the segments the dome shows under ``zoom`` (module docstring)."""
        while len(self._visible) < len(batches):
            self._visible.append(self.batch(np.zeros((0, SEGMENT_FLOATS))))
        for batch, visible in zip(batches, self._visible):
            visible.write(batch.segments[visible_segments(batch.segments, rotation, zoom, batch.longest_deg)])
        return self._visible[: len(batches)]

    def release(self) -> None:
        for batch in self._batches:
            batch.release()
        self._batches.clear()
        self._visible.clear()
        frame = self.ctx.fbo
        owned = [fbo for _, fbo in self._targets.values()]
        if frame in owned:
            release_framebuffers(self.ctx, *owned)
        else:
            for fbo in owned:
                fbo.release()
        for texture, _ in self._targets.values():
            texture.release()
        self._targets.clear()
        for obj in (self._composite_vao, self.corners, self.program, self._composite):
            obj.release()


class ConstellationLinesLayer:
    """The ``constellation-lines`` and ``constellation-boundaries`` layers (render/layers.py protocol).

    lines: IAU abbreviation -> list of (M, 3) ICRS polylines (default
    ``skydata.load_constellation_lines()``); borders: list of ((abbrev,
    abbrev), [(M, 3) ICRS polylines]) (default ``skydata.load_constellation_borders()``).
    ``painter`` may be shared with other line layers.
    """

    names = ("constellation-boundaries", "constellation-lines")

    def __init__(
        self,
        ctx: moderngl.Context,
        *,
        lines: Mapping[str, Sequence[np.ndarray]] | None = None,
        borders: Sequence[tuple[tuple[str, str], Sequence[np.ndarray]]] | None = None,
        painter: LinePainter | None = None,
        lines_style: LineStyle = CONSTELLATION_LINES_STYLE,
        boundaries_style: LineStyle = CONSTELLATION_BOUNDARIES_STYLE,
        max_step_deg: float = MAX_STEP_DEG,
        star_gap_deg: float = STAR_GAP_DEG,
    ) -> None:
        if lines is None:
            lines = skydata.load_constellation_lines()
        if borders is None:
            borders = skydata.load_constellation_borders()
        self._own_painter = painter is None
        self.painter = painter if painter is not None else LinePainter(ctx)
        self.styles = {"constellation-lines": lines_style, "constellation-boundaries": boundaries_style}
        figure_rows = segments_from_polylines(
            (edge for polys in lines.values() for p in polys for edge in trim_edges(p, star_gap_deg)), max_step_deg)
        border_rows = segments_from_polylines((p for _, polys in borders for p in polys), max_step_deg, boundary=True)
        self._batches = {
            "constellation-lines": self.painter.batch(figure_rows),
            "constellation-boundaries": self.painter.batch(border_rows),
        }

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name not in self._batches:
            raise ValueError(f"ConstellationLinesLayer draws {', '.join(self.names)}, not {name!r}")
        self.painter.draw(view, [self._batches[name]], view.dome_from_icrs, self.styles[name], opacity,
                          zoom=view.zoom)

    def release(self) -> None:
        for batch in self._batches.values():
            batch.release()
        if self._own_painter:
            self.painter.release()
