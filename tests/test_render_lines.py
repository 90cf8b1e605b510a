"""Constellation lines and boundaries: geometry against the numpy twin, width, dashes, opacity, slices."""

from __future__ import annotations

import moderngl
import numpy as np
import pytest

from domectl import skydata
from domectl.projection import altaz_to_enu, dome_from_enu, fisheye_uv, rot_x, rot_z
from render.context import render_target, release_framebuffers
from render.image import read_rgb
from render.layers import LayerView
from render.lines import (
    CONSTELLATION_BOUNDARIES_STYLE,
    MAX_STEP_DEG,
    ConstellationLinesLayer,
    LinePainter,
    LineStyle,
    icrs_from_b1875,
    line_width_px,
    polyline_segments,
    project_segments,
    segments_from_polylines,
    subdivide_boundary,
    subdivide_great_circles,
    trim_edges,
)
from render.shaders import load_program

#: The brief's bound: a lit pixel lies within this of the projected great circle (beyond the half width).
CURVE_TOLERANCE_PX = 1.0
#: Width measured by summing coverage over a window: window-edge effects stay under this fraction
#: (measured: 1-3 %).
WIDTH_TOLERANCE = 0.05
#: A slice and the same pixels of the full render differ only by float rounding.
SLICE_TOLERANCE_LEVELS = 2
WHITE = LineStyle(rgb=(1.0, 1.0, 1.0), width_deg=1.0, min_width_px=1.0)


def view_of(size: int, dome_from_icrs: np.ndarray = np.eye(3), rect=(0.0, 0.0, 1.0, 1.0), size_px=None,
            language: str = "en") -> LayerView:
    return LayerView(rect_uv=rect, size_px=size_px or (size, size), dome_from_enu=np.asarray(dome_from_icrs),
                     enu_from_icrs=np.eye(3), language=language)


def render(ctx, view: LayerView, draw) -> np.ndarray:
    """Run ``draw()`` into a cleared RGBA8 frame of ``view.size_px``; (H, W, 3) uint8, top row first."""
    texture, fbo = render_target(ctx, view.size_px)
    try:
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        draw()
        return read_rgb(fbo).copy()
    finally:
        release_framebuffers(ctx, fbo)
        texture.release()


def window_to_image(px: np.ndarray, height: int) -> np.ndarray:
    """Window coordinates (x right, y up, centres at +0.5) -> image (col, row from the top, centres at 0)."""
    px = np.asarray(px, dtype=np.float64)
    return np.stack([px[..., 0] - 0.5, height - px[..., 1] - 0.5], axis=-1)


# --------------------------------------------------------------------------- geometry (numpy)


def test_subdivision_keeps_vertices_on_the_great_circle_in_short_steps():
    poly = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.6, 0.8]])
    points = subdivide_great_circles(poly)
    steps = np.degrees(np.arccos(np.clip((points[1:] * points[:-1]).sum(1), -1, 1)))
    assert steps.max() <= MAX_STEP_DEG + 1e-9
    assert np.allclose(np.linalg.norm(points, axis=1), 1.0)
    assert np.allclose(points[0], poly[0]) and np.allclose(points[-1], poly[-1])
    assert any(np.allclose(p, poly[1]) for p in points)
    first_leg = points[:181]  # 90 deg in 0.5 deg steps: all on the equator plane z = 0
    assert np.abs(first_leg[:, 2]).max() < 1e-12
    rows = polyline_segments(points)
    assert rows.shape == (len(points) - 1, 8)
    assert rows[-1, 7] == pytest.approx(90.0 + 53.13010235, abs=1e-6)  # arc length along the polyline


def test_antipodal_neighbours_are_refused_with_a_fix():
    with pytest.raises(ValueError, match="antipodal.*insert a vertex"):
        subdivide_great_circles(np.array([[1.0, 0, 0], [-1.0, 0, 0]]))


def test_figure_edges_stop_short_of_their_stars():
    poly = altaz_to_enu(np.array([10.0, 10.0, 10.0]), np.array([0.0, 5.0, 5.6]))
    edges = trim_edges(poly, 0.45)
    assert len(edges) == 2
    first = np.degrees(np.arccos(np.clip([edges[0][0] @ poly[0], edges[0][1] @ poly[1]], -1, 1)))
    assert np.allclose(first, 0.45)
    # A short edge (0.59 deg) keeps a third of its length.
    kept = np.degrees(np.arccos(np.clip(edges[1][0] @ edges[1][1], -1, 1)))
    short = np.degrees(np.arccos(np.clip(poly[1] @ poly[2], -1, 1)))
    assert kept == pytest.approx(short / 3.0)


def test_precession_to_b1875_matches_skyfield():
    from skyfield.api import load
    from skyfield.positionlib import position_of_radec

    t1875 = load.timescale(builtin=True).tt_jd(2405889.258550475)
    rotation = icrs_from_b1875()
    for ra_deg, dec_deg in ((10.0, 20.0), (200.0, -60.0), (80.0, 85.0)):
        ra, dec, _ = position_of_radec(ra_deg / 15.0, dec_deg).radec(epoch=t1875)
        u = skydata.radec_to_icrs([[ra_deg, dec_deg]])[0]
        expected = skydata.radec_to_icrs([[ra._degrees, dec.degrees]])[0]
        # Skyfield's epoch frame includes nutation (< 20"); boundaries need ~0.01 deg.
        assert np.degrees(np.arccos(np.clip(expected @ (rotation.T @ u), -1, 1))) < 0.01


def test_boundary_parallels_follow_their_b1875_declination():
    rotation = icrs_from_b1875()
    checked = 0
    for _, polylines in skydata.load_constellation_borders():
        for line in polylines:
            points = subdivide_boundary(line)
            dec = np.degrees(np.arcsin((points @ rotation)[:, 2]))
            steps = np.degrees(np.arccos(np.clip((points[1:] * points[:-1]).sum(1), -1, 1)))
            assert steps.max() <= MAX_STEP_DEG + 1e-6
            vertex_dec = np.degrees(np.arcsin((line @ rotation)[:, 2]))
            for i in np.nonzero(np.abs(np.diff(vertex_dec)) < 1e-3)[0]:
                # Points between two vertices on one parallel stay on it (a great circle would bow).
                start = np.nonzero(np.all(np.isclose(points, line[i]), axis=1))[0][0]
                stop = np.nonzero(np.all(np.isclose(points, line[i + 1]), axis=1))[0][-1]
                assert np.abs(dec[start : stop + 1] - vertex_dec[i]).max() < 1e-3
                checked += 1
    assert checked > 300


def test_chords_of_half_a_degree_stay_on_the_projected_curve_at_10k():
    # The twin of the vertex stage draws straight chords between projected ends; at the
    # hall's 10K the midpoint of every chord is within 0.05 px of the true projected great circle.
    size = 10240
    rotation = rot_x(0.3) @ rot_z(0.5)
    poly = altaz_to_enu(np.array([2.0, 40.0, 85.0, 10.0]), np.array([0.0, 70.0, 200.0, 300.0]))
    rows = segments_from_polylines([poly])
    a_px, b_px, visible = project_segments(rows, rotation, (0.0, 0.0, 1.0, 1.0), (size, size))
    mid_true = fisheye_uv((rows[:, 0:3] + rows[:, 3:6]) @ rotation.T) * size
    error_px = np.hypot(*(0.5 * (a_px + b_px) - mid_true)[visible].T)
    assert visible.sum() > 100
    assert error_px.max() < 0.05


def test_width_follows_the_angular_size_with_a_floor_in_pixels():
    style = LineStyle(width_deg=0.15, min_width_px=1.0)
    assert line_width_px(style, 2048 / 180) == pytest.approx(1.707, abs=1e-3)  # the brief's 1.5-2 px at 2048
    assert line_width_px(style, 10240 / 180) == pytest.approx(8.53, abs=1e-2)  # the same 0.15 deg on the hall's 10K
    assert line_width_px(style, 512 / 180) == 1.0  # a preview keeps a visible line


# --------------------------------------------------------------------------- rendered lines


def test_the_line_vertex_shader_matches_its_numpy_twin(gl_ctx):
    # Capture the projected chord ends by transform feedback; compare with project_segments.
    rng = np.random.default_rng(4)
    points = rng.normal(size=(40, 3))
    rows = segments_from_polylines([points[:20], points[20:]])
    rotation = dome_from_enu(75.0, 30.0, 20.0) @ rot_x(0.2)
    rect, size_px = (0.25, 0.1, 0.75, 0.6), (2048, 2048)
    painter = LinePainter(gl_ctx)
    program = load_program(gl_ctx, "lines", varyings=["v_a_px", "v_b_px", "v_arc_deg", "gl_Position"])
    segments = gl_ctx.buffer(rows.astype(np.float32).tobytes())
    vao = gl_ctx.vertex_array(program, [(painter.corners, "2f", "in_corner"),
                                        (segments, "3f 3f 2f/i", "in_a", "in_b", "in_arc_deg")])
    out = gl_ctx.buffer(reserve=len(rows) * 4 * 40)
    fbo = gl_ctx.simple_framebuffer((1, 1))  # headless EGL: even this draw needs a framebuffer
    fbo.use()
    try:
        program["u_rot"].write(np.ascontiguousarray(rotation.T, dtype=np.float32).tobytes())
        program["u_rect"].value = rect
        program["u_size_px"].value = tuple(float(x) for x in size_px)
        program["u_half_width_px"].value = 1.0
        program["u_rim_r"].value = 0.502
        vao.transform(out, mode=moderngl.POINTS, vertices=4, instances=len(rows))
        captured = np.frombuffer(out.read(), dtype=np.float32).reshape(len(rows), 4, 10)
    finally:
        release_framebuffers(gl_ctx, fbo)
        for obj in (vao, out, segments, program):
            obj.release()
        painter.release()
    a_px, b_px, visible = project_segments(rows, rotation, rect, size_px)
    # float32 window coordinates of a 2048 px render: a few thousandths of a pixel.
    assert np.abs(captured[:, 0, 0:2] - a_px).max() < 0.01
    assert np.abs(captured[:, 0, 2:4] - b_px).max() < 0.01
    assert np.allclose(captured[:, 0, 4:6], rows[:, 6:8], rtol=1e-6)
    culled = np.all(captured[:, :, 6] == 2.0, axis=1)  # gl_Position.x = 2: outside the clip volume
    assert visible.sum() > 100 and (~visible).sum() > 100
    assert np.array_equal(culled, ~visible)


def test_line_pixels_lie_on_the_projected_great_circles(gl_ctx):
    size = 512
    rotation = dome_from_enu(30.0, 20.0, 10.0) @ rot_x(0.4) @ rot_z(1.1)
    icrs = altaz_to_enu(np.array([80.0, 20.0, 60.0, 5.0, 45.0]), np.array([10.0, 60.0, 150.0, 230.0, 300.0])) @ rotation
    polylines = [icrs[[0, 1, 2]], icrs[[3, 4]], icrs[[2, 4, 0]]]
    painter = LinePainter(gl_ctx)
    try:
        batch = painter.batch(segments_from_polylines(polylines))
        view = view_of(size, rotation)
        image = render(gl_ctx, view, lambda: painter.draw(view, [batch], view.dome_from_icrs, WHITE, 1.0))
    finally:
        painter.release()
    # The truth: each great circle sampled every 0.05 deg (a tenth of a pixel here), projected.
    dense = np.concatenate([subdivide_great_circles(p, 0.05) for p in polylines]) @ rotation.T
    dense = dense[dense[:, 2] > 0.0]
    curve = window_to_image(fisheye_uv(dense) * size, size)
    lit_rows, lit_cols = np.nonzero(image[..., 0] > 64)
    assert len(lit_rows) > 500
    lit = np.stack([lit_cols, lit_rows], axis=-1).astype(np.float64)
    distance = np.full(len(lit), np.inf)
    for chunk in np.array_split(np.arange(len(curve)), 20):
        d = np.hypot(*(lit[:, None, :] - curve[None, chunk, :]).transpose(2, 0, 1))
        distance = np.minimum(distance, d.min(axis=1))
    half_width = 0.5 * line_width_px(WHITE, view.px_per_deg)
    # Measured on llvmpipe: 1.67 px for a 1.42 px half width (the 25 % coverage threshold).
    assert distance.max() <= half_width + CURVE_TOLERANCE_PX
    # And the whole curve is drawn: every point above the horizon has ink at it.
    inside = (curve[:, 0] > 2) & (curve[:, 0] < size - 3) & (curve[:, 1] > 2) & (curve[:, 1] < size - 3)
    ink = image[np.round(curve[inside, 1]).astype(int), np.round(curve[inside, 0]).astype(int), 0]
    assert ink.min() > 128


def _width_at(image: np.ndarray, centre: np.ndarray, radius_px: float, curve: np.ndarray) -> float:
    """Coverage summed within a disc / the twin curve's length within it: the line's width in px."""
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    disc = np.hypot(cols - centre[0], rows - centre[1]) <= radius_px
    coverage = image[..., 0][disc].astype(np.float64).sum() / 255.0
    mids = 0.5 * (curve[1:] + curve[:-1])
    inside = np.hypot(*(mids - centre).T) <= radius_px
    length = np.hypot(*(curve[1:] - curve[:-1]).T)[inside].sum()
    return coverage / length


@pytest.mark.parametrize("tilt_deg", [0.0, 35.0])
def test_line_width_is_the_same_in_pixels_near_the_zenith_and_near_the_rim(gl_ctx, tilt_deg):
    # A great circle through the zenith (radial on the domemaster) and one tilted 35 deg to it
    # cross the rim at an angle, where the fisheye stretches tangentially by up to pi/2.
    size = 512
    plane = rot_x(np.radians(tilt_deg)) @ rot_z(0.3)
    steps = np.radians(np.arange(-180, 180.5, 0.5))
    circle = np.stack([np.zeros_like(steps), np.sin(steps), np.cos(steps)], axis=-1) @ plane.T
    painter = LinePainter(gl_ctx)
    try:
        batch = painter.batch(segments_from_polylines([circle]))
        view = view_of(size)
        image = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 1.0))
    finally:
        painter.release()
    dense = np.radians(np.arange(-180.0, 180.0, 0.02))  # the twin curve in steps far below a pixel
    dense = np.stack([np.zeros_like(dense), np.sin(dense), np.cos(dense)], axis=-1) @ plane.T
    up = dense[dense[:, 2] > 0.0]
    curve = window_to_image(fisheye_uv(up) * size, size)
    expected = line_width_px(WHITE, view.px_per_deg)
    theta = np.degrees(np.arccos(up[:, 2]))
    near_zenith = curve[np.argmin(np.abs(theta - tilt_deg - 1.0))]
    near_rim = curve[np.argmin(np.abs(theta - 80.0))]
    assert _width_at(image, near_zenith, 8.0, curve) == pytest.approx(expected, rel=WIDTH_TOLERANCE)
    assert _width_at(image, near_rim, 8.0, curve) == pytest.approx(expected, rel=WIDTH_TOLERANCE)


def test_opacity_scales_and_joints_do_not_add_up(gl_ctx):
    size = 256
    zig = altaz_to_enu(np.array([50.0, 55.0, 50.0, 55.0, 50.0, 55.0]), np.arange(6) * 6.0 + 150.0)
    painter = LinePainter(gl_ctx)
    try:
        batch = painter.batch(segments_from_polylines([zig, zig[::-1]]))  # drawn twice: overlaps
        view = view_of(size)
        full = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 1.0))
        half = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 0.5))
        none = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 0.0))
    finally:
        painter.release()
    assert full.max() == 255
    assert half.max() == pytest.approx(128, abs=1)  # the joints and the overlap stay at 50 %
    lit = full[..., 0] > 0
    assert np.abs(half[..., 0][lit].astype(int) - np.round(full[..., 0][lit] * 0.5)).max() <= 1
    assert none.max() == 0


def test_dashed_boundaries_have_gaps_and_solid_lines_do_not(gl_ctx):
    size = 512
    arc = altaz_to_enu(np.full(60, 45.0), np.linspace(100.0, 160.0, 60))
    painter = LinePainter(gl_ctx)
    try:
        batch = painter.batch(segments_from_polylines([arc]))
        view = view_of(size)
        dashed_style = LineStyle(rgb=(1.0, 1.0, 1.0), width_deg=0.5, dash_deg=2.0, gap_deg=1.0)
        dashed = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), dashed_style, 1.0))
        solid = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 1.0))
    finally:
        painter.release()
    on = fisheye_uv(altaz_to_enu(np.full(600, 45.0), np.linspace(101.0, 159.0, 600)))
    cols, rows = np.round(on[:, 0] * size - 0.5).astype(int), np.round((1 - on[:, 1]) * size - 0.5).astype(int)
    dashed_ink = dashed[rows, cols, 0] > 128
    assert (solid[rows, cols, 0] > 128).all()
    # 2 deg on, 1 deg off along the arc.
    assert 0.55 < dashed_ink.mean() < 0.8
    assert np.count_nonzero(np.diff(dashed_ink.astype(int)) == 1) >= 8


def test_lines_below_the_springline_are_culled_and_clipped_at_the_rim(gl_ctx):
    size = 256
    below = altaz_to_enu(np.array([-10.0, -20.0]), np.array([30.0, 40.0]))
    crossing = altaz_to_enu(np.array([-10.0, 10.0]), np.array([200.0, 200.0]))
    painter = LinePainter(gl_ctx)
    try:
        batch = painter.batch(segments_from_polylines([below, crossing]))
        view = view_of(size)
        image = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 1.0))
    finally:
        painter.release()
    rows, cols = np.nonzero(image[..., 0] > 0)
    r = np.hypot((cols + 0.5) / size - 0.5, 0.5 - (rows + 0.5) / size)
    assert len(rows) > 10
    assert r.max() <= 0.5 + 0.002 + 1.0 / size


def test_the_layer_draws_real_figures_and_boundaries_in_their_colours(gl_ctx):
    layer = ConstellationLinesLayer(gl_ctx)
    try:
        view = view_of(256, dome_from_enu(180.0, 0.0, 0.0) @ rot_x(-0.6))
        figures = render(gl_ctx, view, lambda: layer.draw(view, "constellation-lines", 1.0))
        borders = render(gl_ctx, view, lambda: layer.draw(view, "constellation-boundaries", 1.0))
        with pytest.raises(ValueError, match="constellation-lines"):
            layer.draw(view, "stars", 1.0)
    finally:
        layer.release()
    blue = figures[(figures[..., 2] > figures[..., 0]) & (figures[..., 2] > 100)]
    brown = borders[(borders[..., 0] > borders[..., 2]) & (borders[..., 0] > 60)]
    assert len(blue) > 1000 and len(brown) > 1000
    assert CONSTELLATION_BOUNDARIES_STYLE.dash_deg > 0


def test_a_slice_equals_the_same_pixels_of_the_full_render(gl_ctx):
    size = 512
    layer = ConstellationLinesLayer(gl_ctx)
    rotation = dome_from_enu(40.0, 10.0, 15.0) @ rot_x(0.7) @ rot_z(2.1)
    try:
        full_view = view_of(size, rotation)
        c0, c1, r0, r1 = 96, 352, 160, 448
        rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
        part_view = view_of(size, rotation, rect=rect, size_px=(c1 - c0, r1 - r0))

        def draw(view):
            return lambda: [layer.draw(view, name, 1.0) for name in layer.names]

        full = render(gl_ctx, full_view, draw(full_view))
        part = render(gl_ctx, part_view, draw(part_view))
    finally:
        layer.release()
    expected = full[r0:r1, c0:c1]
    assert (expected > 60).sum() > 500
    assert np.abs(part.astype(int) - expected.astype(int)).max() <= SLICE_TOLERANCE_LEVELS
