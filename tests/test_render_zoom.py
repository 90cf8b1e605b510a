"""The sky's zoom: the GLSL against its numpy twins and the stereographic law; stars, bodies,
lines, labels, the pointer and the per-pixel passes through it; overlays untouched; zoom 1 unchanged."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import moderngl
import numpy as np
import pytest
from PIL import Image

from domectl.projection import (
    ZOOM_CENTRE_DOME,
    ZOOM_CENTRE_ELEV_DEG,
    altaz_to_enu,
    dome_from_enu,
    enu_to_altaz,
    fisheye_uv,
    rot_x,
    rot_z,
    unzoom_dir,
    unzoom_dir_grad,
    uv_to_pixel,
    zoom_dir,
    zoom_magnification,
    zoom_max_magnification,
    zoom_uniform,
)
from render.backdrop import (
    DaylightLayer,
    LandscapeLayer,
    fisheye_dir_grad,
    ground_rgb_linear,
    landscape_coverage,
    sky_radiance_linear,
)
from render.compose import ZOOM_MAG_PER_DECADE, DomeRenderer
from render.context import release_framebuffers
from render.grids import GRID_STYLES, GridLayer
from render.labels import Label, TextPainter, glyph_corner_dirs
from render.layers import LayerView, Overlay
from render.lines import (
    MAX_DRAWN_STEP_DEG,
    LinePainter,
    line_pieces,
    piece_segments,
    project_segments,
    segments_from_polylines,
    visible_segments,
)
from render.pointer import PointerLayer
from render.shaders import load_program
from render.sky import SkyParams, StarLook
from test_render_backdrop import TWIN_TOLERANCE_LEVELS, a_view, encode, inside_disc, pixel_grid
from test_render_backdrop import draw as draw_pass
from test_render_grids import COVERAGE_TOLERANCE, POSITION_TOLERANCE_PX, alpha_of, twin_coverage
from test_render_lines import render
from test_render_sky import CENTROID_TOLERANCE_PX, catalog, centroid, linear

#: GLSL (float32) vs the float64 twin: the angle between their directions, per unit of the
#: map's local magnification (an input's float32 rounding is magnified with it). Measured on
#: llvmpipe: 4.3e-7 rad at zooms 0.25 to 100; 1e-6 rad is 0.003 px of a 10K domemaster.
ANGLE_TOLERANCE_RAD = 1e-6
#: The derivatives of the inverse, relative (measured: 1.3e-5 at zoom 100, 1.5e-6 at 7).
GRAD_TOLERANCE = 5e-5
#: A disc's radius, measured from its antialiased area, against the magnified one, relative
#: (measured: 0.7 % for 6 to 26 px discs; 1.9 % for a 3.5 px one, whose 8-bit edge weighs more).
DISC_RADIUS_TOLERANCE = 0.02
SMALL_DISC_RADIUS_TOLERANCE = 0.05
#: The pointer's ring centre against where the zoom puts its body (as tests/test_render_overlays.py).
RING_CENTRE_TOLERANCE_PX = 1.0
ZOOMS = (0.25, 0.5, 2.0, 7.0, 100.0)


def around_centre(theta_deg, azimuth_deg) -> np.ndarray:
    """Dome directions at ``theta_deg`` from the zoom centre, ``azimuth_deg`` about it from the
    dome's right (+x) toward the zenith side: (N, 3). Built without domectl's zoom code."""
    theta, phi = np.radians(np.atleast_1d(theta_deg)), np.radians(np.atleast_1d(azimuth_deg))
    c = np.array([0.0, np.cos(np.radians(30.0)), np.sin(np.radians(30.0))])
    right = np.array([1.0, 0.0, 0.0])
    up = np.cross(right, c)
    return (np.cos(theta)[:, None] * c
            + np.sin(theta)[:, None] * (np.cos(phi)[:, None] * right + np.sin(phi)[:, None] * up))


def drawn_theta_deg(theta_deg, zoom: float) -> np.ndarray:
    """The stereographic law: theta' = 2 atan(zoom tan(theta / 2))."""
    return np.degrees(2.0 * np.arctan(zoom * np.tan(np.radians(np.asarray(theta_deg)) / 2.0)))


def law_magnification(theta_deg, zoom: float) -> np.ndarray:
    """d theta' / d theta of the law, differentiated by hand."""
    half = np.radians(np.asarray(theta_deg)) / 2.0
    return zoom / (np.cos(half) ** 2 + zoom**2 * np.sin(half) ** 2)


def angle_rad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), np.sum(a * b, axis=-1))


def random_dirs(n: int, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def glsl_zoom(ctx, dirs: np.ndarray, d_dx: np.ndarray, d_dy: np.ndarray, zoom: float):
    """zoom_probe.glsl by transform feedback: (zoom_dir, unzoom_dir, its d/dx, d/dy), each (N, 3)."""
    prog = load_program(ctx, "zoom_probe", varyings=["out_zoomed", "out_sky", "out_dx", "out_dy"])
    data = np.concatenate([dirs, d_dx, d_dy], axis=1).astype(np.float32)
    src = ctx.buffer(data.tobytes())
    dst = ctx.buffer(reserve=len(dirs) * 48)
    vao = ctx.vertex_array(prog, [(src, "3f 3f 3f", "in_dir", "in_dx", "in_dy")])
    fbo = ctx.simple_framebuffer((1, 1))  # headless EGL: even this draw needs a framebuffer
    fbo.use()
    try:
        prog["u_zoom"].value = zoom_uniform(zoom)
        vao.transform(dst, vertices=len(dirs))
        out = np.frombuffer(dst.read(), dtype=np.float32).reshape(-1, 4, 3).astype(np.float64)
    finally:
        release_framebuffers(ctx, fbo)
        for obj in (vao, dst, src, prog):
            obj.release()
    return out[:, 0], out[:, 1], out[:, 2], out[:, 3]


def tangents(dirs: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.cross(dirs, np.random.default_rng(seed).normal(size=dirs.shape))
    return t, np.cross(dirs, t)


def f32(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# --------------------------------------------------------------------------- the map


def test_the_zoom_centre_is_30_degrees_up_at_the_dome_front():
    assert ZOOM_CENTRE_ELEV_DEG == 30.0
    assert np.allclose(ZOOM_CENTRE_DOME, altaz_to_enu(30.0, 0.0))  # dome frame: az from +y toward +x
    (u, v), = fisheye_uv(ZOOM_CENTRE_DOME[None])
    assert u == pytest.approx(0.5) and v == pytest.approx(0.5 - 60.0 / 180.0)  # 60 deg below the centre


@pytest.mark.parametrize("zoom", ZOOMS)
def test_the_numpy_zoom_follows_the_stereographic_law(zoom):
    theta = np.repeat([0.5, 10.0, 45.0, 90.0, 135.0, 179.0], 8)
    phi = np.tile(np.arange(0.0, 360.0, 45.0) + 7.0, 6)
    drawn = zoom_dir(around_centre(theta, phi), zoom)
    expected = around_centre(drawn_theta_deg(theta, zoom), phi)  # same azimuth about the centre
    assert angle_rad(drawn, expected).max() < 1e-12
    np.testing.assert_allclose(zoom_magnification(around_centre(theta, phi), zoom), law_magnification(theta, zoom),
                               rtol=1e-12)
    # The centre and its antipode stay put, magnified by zoom and 1 / zoom.
    poles = np.array([ZOOM_CENTRE_DOME, -ZOOM_CENTRE_DOME])
    assert np.allclose(zoom_dir(poles, zoom), poles)
    np.testing.assert_allclose(zoom_magnification(poles, zoom), [zoom, 1.0 / zoom], rtol=1e-12)
    # The largest magnification on the dome: at the centre when magnifying, else at the back
    # of the springline, 150 deg from the centre once drawn.
    largest = zoom if zoom >= 1.0 else float(law_magnification(drawn_theta_deg(150.0, 1.0 / zoom), zoom))
    assert zoom_max_magnification(zoom) == pytest.approx(largest, rel=1e-12)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_forward_then_inverse_is_the_identity(gl_ctx, zoom):
    dirs = random_dirs(3000, 1)
    assert angle_rad(unzoom_dir(zoom_dir(dirs, zoom), zoom), dirs).max() < 1e-12
    assert angle_rad(zoom_dir(unzoom_dir(dirs, zoom), zoom), dirs).max() < 1e-12
    # The GLSL pair: zoom_dir, then unzoom_dir of what it drew. Where the zoom shrinks the sky,
    # the inverse magnifies the drawn direction's float32 rounding by as much.
    t, s = tangents(dirs, 2)
    drawn = glsl_zoom(gl_ctx, dirs, t, s, zoom)[0]
    back = glsl_zoom(gl_ctx, drawn, t, s, zoom)[1]
    magnification = zoom_magnification(dirs, zoom)
    tolerance = 2.0 * ANGLE_TOLERANCE_RAD * np.maximum.reduce([np.ones(len(dirs)), magnification, 1.0 / magnification])
    assert np.all(angle_rad(back, dirs) <= tolerance)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_the_glsl_zoom_matches_its_numpy_twin(gl_ctx, zoom):
    dirs = np.concatenate([random_dirs(5000, 3), around_centre([0.0, 1e-3, 0.01, 1.0, 150.0, 179.9], 40.0)])
    d_dx, d_dy = tangents(dirs, 4)
    drawn, sky, sky_dx, sky_dy = glsl_zoom(gl_ctx, dirs, d_dx, d_dy, zoom)
    # The twin on the float32 inputs the GPU got.
    x, tx, ty = f32(dirs), f32(d_dx), f32(d_dy)
    expected = zoom_dir(x, zoom)
    forward_limit = ANGLE_TOLERANCE_RAD * np.maximum(1.0, zoom_magnification(x, zoom))
    assert np.all(angle_rad(drawn, expected) <= forward_limit)
    expected_sky, expected_dx, expected_dy = unzoom_dir_grad(x / np.linalg.norm(x, axis=1, keepdims=True), tx, ty, zoom)
    inverse_limit = ANGLE_TOLERANCE_RAD * np.maximum(1.0, 1.0 / zoom_magnification(expected_sky, zoom))
    assert np.all(angle_rad(sky, expected_sky) <= inverse_limit)
    for actual, twin in ((sky_dx, expected_dx), (sky_dy, expected_dy)):
        error = np.linalg.norm(actual - twin, axis=1) / np.linalg.norm(twin, axis=1)
        assert error.max() <= GRAD_TOLERANCE


def test_zoom_one_is_the_identity_bit_for_bit(gl_ctx):
    dirs = 1.7 * random_dirs(2000, 5)  # not unit: zoom 1 does not even normalise
    d_dx, d_dy = tangents(dirs, 6)
    assert zoom_uniform(1.0)[3] == 0.0  # also the value of a u_zoom a program never sets
    for out, given in zip(glsl_zoom(gl_ctx, dirs, d_dx, d_dy, 1.0), (dirs, dirs, d_dx, d_dy)):
        assert np.array_equal(out, f32(given))
    assert np.array_equal(zoom_dir(dirs, 1.0), dirs)
    assert np.array_equal(unzoom_dir(dirs, 1.0), dirs)
    assert np.array_equal(zoom_magnification(dirs, 1.0), np.ones(len(dirs)))
    assert zoom_max_magnification(1.0) == 1.0 and line_pieces(1.0) == 1


@pytest.mark.parametrize("zoom", ZOOMS)
def test_the_inverse_derivatives_match_finite_differences(zoom):
    dirs = random_dirs(500, 7)
    t, s = tangents(dirs, 8)
    _, d_t, d_s = unzoom_dir_grad(dirs, t, s, zoom)
    h = 1e-6
    for v, grad in ((t, d_t), (s, d_s)):
        numeric = (unzoom_dir(dirs + h * v, zoom) - unzoom_dir(dirs - h * v, zoom)) / (2 * h)
        assert np.allclose(grad, numeric, atol=1e-7 * max(zoom, 1.0 / zoom))


# --------------------------------------------------------------------------- stars and bodies


def sky_view(size: int, zoom: float, bodies=(), **fields) -> LayerView:
    """A whole domemaster whose ICRS, ENU and dome frames coincide: a star's ICRS vector is its dome direction."""
    eye = np.eye(3)
    return LayerView(rect_uv=(0.0, 0.0, 1.0, 1.0), size_px=(size, size), dome_from_enu=eye, enu_from_icrs=eye,
                     bodies=bodies, sky=SkyParams(dome_from_icrs=eye, dome_from_enu=eye, bodies=bodies),
                     zoom=zoom, **fields)


def draw_layers(ctx, stars, view: LayerView, layers: dict[str, float]) -> np.ndarray:
    renderer = DomeRenderer(ctx, stars, look=StarLook(limiting_mag=6.5))
    try:
        renderer.render(view, layers)
        return renderer.read_rgb().copy()
    finally:
        renderer.release()


@pytest.mark.parametrize("zoom", [2.0, 0.5])
def test_a_star_lands_where_the_stereographic_law_puts_it(gl_ctx, zoom):
    size = 1024
    theta = np.repeat([0.0, 8.0, 25.0, 45.0, 70.0], 6)
    phi = np.tile(np.arange(0.0, 360.0, 60.0) + 15.0, 5)
    sky = around_centre(theta, phi)
    drawn = around_centre(drawn_theta_deg(theta, zoom), phi)  # the law, not domectl's code
    shown = drawn[:, 2] > np.sin(np.radians(3.0))  # above the springline
    sky, drawn, theta = sky[shown], drawn[shown], theta[shown]
    image = draw_layers(gl_ctx, catalog(sky, np.full(len(sky), 3.0)), sky_view(size, zoom), {"stars": 1.0})
    predicted = uv_to_pixel(fisheye_uv(drawn), size)
    lit = linear(image)
    measured = np.array([centroid(lit, c, r) for c, r in predicted])
    assert len(measured) >= 20
    assert np.hypot(*(measured - predicted).T).max() <= CENTROID_TOLERANCE_PX
    # The test can tell: unzoomed, the stars off the centre would be tens of pixels away.
    unzoomed = uv_to_pixel(fisheye_uv(sky), size)
    assert np.median(np.hypot(*(measured - unzoomed)[theta > 0].T)) > 20.0


def test_the_star_limit_deepens_with_the_zoom_and_the_stars_stay_points(gl_ctx):
    renderer = DomeRenderer(gl_ctx, catalog(np.zeros((0, 3)), []), look=StarLook(limiting_mag=6.5))
    try:
        limits = [renderer.star_look(sky_view(64, zoom), {}).limiting_mag for zoom in (0.25, 1.0, 10.0, 100.0)]
        assert renderer.star_look(sky_view(64, 10.0), {}).sigma0_px == renderer.look.sigma0_px
    finally:
        renderer.release()
    assert limits[1] == 6.5
    np.testing.assert_allclose(limits, 6.5 + ZOOM_MAG_PER_DECADE * np.log10([0.25, 1.0, 10.0, 100.0]))
    # A star of magnitude 8 shows only through a zoom.
    star = catalog(ZOOM_CENTRE_DOME[None], [8.0])
    assert linear(draw_layers(gl_ctx, star, sky_view(128, 1.0), {"stars": 1.0})).max() == 0.0
    assert linear(draw_layers(gl_ctx, star, sky_view(128, 10.0), {"stars": 1.0})).max() > 0.0


def disc_radius_and_centre(image: np.ndarray, rgb_r: float) -> tuple[float, np.ndarray]:
    """A full, phase-0 disc of linear red ``rgb_r`` on black: (radius from its antialiased area,
    centroid (col, row))."""
    coverage = (image[..., 0] / 255.0) ** 2.2 / rgb_r
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    total = coverage.sum()
    return float(np.sqrt(total / np.pi)), np.array([(coverage * cols).sum(), (coverage * rows).sum()]) / total


@pytest.mark.parametrize("zoom", [2.5, 0.5])
def test_a_body_disc_grows_by_the_local_magnification(gl_ctx, zoom):
    size, diameter_deg, theta = 1024, 4.0, 15.0
    sky = around_centre(theta, 60.0)[0]
    moon = SimpleNamespace(name="Moon", enu=sky, mag=-12.0, angular_diameter_deg=diameter_deg, phase_angle_deg=0.0)
    nothing = catalog(np.zeros((0, 3)), [])
    radius = {}
    for z in (1.0, zoom):
        image = draw_layers(gl_ctx, nothing, sky_view(size, z, bodies=(moon,)), {"planets": 1.0})
        radius[z], centre = disc_radius_and_centre(image, 0.85)  # the Moon's red, render/sky.py
    drawn = around_centre(drawn_theta_deg(theta, zoom), 60.0)
    assert np.hypot(*(centre - uv_to_pixel(fisheye_uv(drawn), size)[0])) <= CENTROID_TOLERANCE_PX
    unzoomed_px = 0.5 * np.radians(diameter_deg) * size / np.pi  # r = theta / pi across the domemaster
    assert radius[1.0] == pytest.approx(unzoomed_px, rel=DISC_RADIUS_TOLERANCE)
    assert radius[zoom] / radius[1.0] == pytest.approx(law_magnification(theta, zoom), rel=DISC_RADIUS_TOLERANCE)


def test_a_planet_too_small_for_a_disc_shows_one_under_a_strong_zoom(gl_ctx):
    size, zoom = 1024, 100.0
    jupiter = SimpleNamespace(name="Jupiter", enu=ZOOM_CENTRE_DOME, mag=-2.5, angular_diameter_deg=0.0125,
                              phase_angle_deg=0.0)
    nothing = catalog(np.zeros((0, 3)), [])
    image = draw_layers(gl_ctx, nothing, sky_view(size, zoom, bodies=(jupiter,)), {"planets": 1.0})
    radius, _ = disc_radius_and_centre(image, 1.0)
    expected = 0.5 * np.radians(0.0125) * size / np.pi * zoom  # 3.5 px: a disc (a point under 1.5 px)
    assert radius == pytest.approx(expected, rel=SMALL_DISC_RADIUS_TOLERANCE)


# --------------------------------------------------------------------------- lines, labels, pointer


@pytest.mark.parametrize("zoom", [0.25, 2.0, 10.0, 100.0])
def test_zoomed_chords_stay_on_the_projected_curve_at_10k(zoom):
    # As tests/test_render_lines.py checks unzoomed: chord midpoints against the true curve,
    # for half-degree segments over the sky the dome shows at this zoom.
    size, rng = 10240, np.random.default_rng(9)
    visible_deg = float(drawn_theta_deg(150.0, 1.0 / zoom))  # the back springline, seen from the centre
    a = around_centre(rng.uniform(0.0, visible_deg, 4000), rng.uniform(0.0, 360.0, 4000))
    t = np.cross(a, rng.normal(size=a.shape))
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    b = np.cos(np.radians(0.5)) * a + np.sin(np.radians(0.5)) * t
    rows = np.concatenate([a, b, np.zeros((len(a), 1)), np.full((len(a), 1), 0.5)], axis=1)
    pieces = line_pieces(zoom)
    assert zoom_max_magnification(zoom) * 0.5 / pieces <= MAX_DRAWN_STEP_DEG
    worst, checked = 0.0, 0
    for piece in range(pieces):
        part = piece_segments(rows, piece, pieces)
        a_px, b_px, visible = project_segments(part, np.eye(3), (0.0, 0.0, 1.0, 1.0), (size, size), zoom)
        middle = fisheye_uv(zoom_dir(0.5 * (part[:, 0:3] + part[:, 3:6]), zoom)) * size
        error = np.hypot(*(0.5 * (a_px + b_px) - middle)[visible].T)
        worst, checked = max(worst, error.max()), checked + visible.sum()
    assert checked > 1000
    assert worst < 0.25


@pytest.mark.parametrize("zoom", [1.5, 10.0, 100.0])
def test_a_zoom_keeps_every_segment_the_dome_shows_and_drops_most_others(zoom):
    rng = np.random.default_rng(12)
    rotation = dome_from_enu(40.0, 25.0, 10.0) @ rot_x(0.3)
    # Half a million half-degree segments, a third of them near the zoom centre (where a strong zoom looks).
    a = np.concatenate([random_dirs(300_000, 13), around_centre(rng.uniform(0.0, 8.0, 150_000),
                                                                rng.uniform(0.0, 360.0, 150_000)) @ rotation])
    t = np.cross(a, rng.normal(size=a.shape))
    b = np.cos(np.radians(0.5)) * a + np.sin(np.radians(0.5)) * t / np.linalg.norm(t, axis=1, keepdims=True)
    rows = np.concatenate([a, b, np.zeros((len(a), 2))], axis=1)
    kept = visible_segments(rows, rotation, zoom, 0.5)
    _, _, shown = project_segments(rows, rotation, (0.0, 0.0, 1.0, 1.0), (1024, 1024), zoom)
    assert shown.sum() > 1000
    assert np.all(kept[shown])  # nothing the dome shows is lost
    if zoom >= 10.0:
        assert kept[:300_000].mean() < 0.15  # of the whole sky's segments (zoom 10 shows 41 deg round the centre)


def test_the_line_vertex_shader_matches_its_twin_under_zoom(gl_ctx):
    rows = segments_from_polylines([random_dirs(20, 10), random_dirs(20, 11)])
    rotation, zoom, pieces = dome_from_enu(75.0, 30.0, 20.0) @ rot_x(0.2), 3.0, 3
    rect, size_px = (0.25, 0.1, 0.75, 0.6), (2048, 2048)
    painter = LinePainter(gl_ctx)
    program = load_program(gl_ctx, "lines", varyings=["v_a_px", "v_b_px", "v_arc_deg", "gl_Position"])
    segments = gl_ctx.buffer(rows.astype(np.float32).tobytes())
    vao = gl_ctx.vertex_array(program, [(painter.corners, "2f", "in_corner"),
                                        (segments, "3f 3f 2f/i", "in_a", "in_b", "in_arc_deg")])
    out = gl_ctx.buffer(reserve=len(rows) * 4 * 40)
    fbo = gl_ctx.simple_framebuffer((1, 1))  # headless EGL: even this draw needs a framebuffer
    fbo.use()
    captured = []
    try:
        program["u_rot"].write(np.ascontiguousarray(rotation.T, dtype=np.float32).tobytes())
        program["u_rect"].value = rect
        program["u_size_px"].value = tuple(float(x) for x in size_px)
        program["u_half_width_px"].value = 1.0
        program["u_rim_r"].value = 0.502
        program["u_zoom"].value = zoom_uniform(zoom)
        program["u_pieces"].value = pieces
        for piece in range(pieces):
            program["u_piece"].value = piece
            vao.transform(out, mode=moderngl.POINTS, vertices=4, instances=len(rows))
            captured.append(np.frombuffer(out.read(), dtype=np.float32).reshape(len(rows), 4, 10).copy())
    finally:
        release_framebuffers(gl_ctx, fbo)
        for obj in (vao, out, segments, program):
            obj.release()
        painter.release()
    for piece, got in enumerate(captured):
        part = piece_segments(rows, piece, pieces)
        a_px, b_px, visible = project_segments(part, rotation, rect, size_px, zoom)
        seen = visible & np.all(np.abs(np.concatenate([a_px, b_px], 1)) < 1e5, axis=1)
        # float32 window coordinates of a 2048 px render, magnified up to 3x: hundredths of a pixel.
        assert np.abs(got[seen, 0, 0:2] - a_px[seen]).max() < 0.03
        assert np.abs(got[seen, 0, 2:4] - b_px[seen]).max() < 0.03
        assert np.allclose(got[:, 0, 4:6], part[:, 6:8], rtol=1e-6, atol=1e-5)
        assert np.array_equal(np.all(got[:, :, 6] == 2.0, axis=1), ~visible)
    assert np.array_equal(piece_segments(rows, 0, 1), rows)  # one piece: the segment itself


def test_line_pixels_follow_the_zoomed_great_circles(gl_ctx):
    from test_render_lines import WHITE, window_to_image

    size, zoom = 512, 3.0
    # Well inside the dome once zoomed (the rim clips lines, which the truth below does not model).
    polylines = [around_centre([20.0, 2.0, 15.0], [150.0, 90.0, 30.0]), around_centre([12.0, 12.0], [60.0, 170.0])]
    painter = LinePainter(gl_ctx)
    view = sky_view(size, zoom)
    try:
        batch = painter.batch(segments_from_polylines(polylines))
        image = render(gl_ctx, view, lambda: painter.draw(view, [batch], np.eye(3), WHITE, 1.0, zoom=zoom))
    finally:
        painter.release()
    from render.lines import line_width_px, subdivide_great_circles

    dense = zoom_dir(np.concatenate([subdivide_great_circles(p, 0.01) for p in polylines]), zoom)
    curve = window_to_image(fisheye_uv(dense[dense[:, 2] > 0.0]) * size, size)
    lit_rows, lit_cols = np.nonzero(image[..., 0] > 64)
    lit = np.stack([lit_cols, lit_rows], axis=-1).astype(np.float64)
    distance = np.full(len(lit), np.inf)
    for chunk in np.array_split(np.arange(len(curve)), 40):
        d = np.hypot(*(lit[:, None, :] - curve[None, chunk, :]).transpose(2, 0, 1))
        distance = np.minimum(distance, d.min(axis=1))
    assert len(lit) > 500
    assert distance.max() <= 0.5 * line_width_px(WHITE, view.px_per_deg) + 1.0  # tests/test_render_lines.py's bound
    # And the whole curve is drawn (no segment the dome shows was left out).
    inside = np.all((curve > 2) & (curve < size - 3), axis=1)
    assert image[np.round(curve[inside, 1]).astype(int), np.round(curve[inside, 0]).astype(int), 0].min() > 128


def test_the_text_vertex_shader_matches_its_twin_under_zoom(gl_ctx):
    painter = TextPainter(gl_ctx)
    zoom, rotation, rect = 4.0, rot_x(0.4) @ rot_z(1.0), (0.2, 0.1, 0.7, 0.8)
    anchors = around_centre([3.0, 10.0, 0.0, 6.0], [0.0, 100.0, 0.0, 250.0]) @ rotation  # dome -> ICRS
    labels = [Label(tuple(a), text, 1.5, offset_deg=(0.6, 0.0)) for a, text in zip(anchors, ["Véga", "Ab", "T", "Mars"])]
    program = load_program(gl_ctx, "label_text", varyings=["gl_Position", "v_tex", "v_rgba"])
    batch = painter.batch(labels)
    rows = batch.instances
    instances = gl_ctx.buffer(rows.astype(np.float32).tobytes())
    vao = gl_ctx.vertex_array(program, [
        (painter.corners, "2f", "in_corner"),
        (instances, "3f 4f 2f 1f 4f/i", "in_anchor", "in_quad", "in_atlas", "in_rad_per_texel", "in_rgba"),
    ])
    out = gl_ctx.buffer(reserve=batch.count * 4 * 40)
    fbo = gl_ctx.simple_framebuffer((1, 1))
    fbo.use()
    try:
        program["u_rot"].write(np.ascontiguousarray(rotation.T, dtype=np.float32).tobytes())
        program["u_rect"].value = rect
        program["u_zenith_cap_rad"].value = np.radians(painter.zenith_cap_deg)
        program["u_cull_theta_rad"].value = np.pi
        program["u_zoom"].value = zoom_uniform(zoom)
        vao.transform(out, mode=moderngl.POINTS, vertices=4, instances=batch.count)
        clip = np.frombuffer(out.read(), dtype=np.float32).reshape(batch.count, 4, 10)[..., 0:4]
    finally:
        release_framebuffers(gl_ctx, fbo)
        for obj in (vao, out, instances, program):
            obj.release()
        painter.release()
    cap_deg = painter.zenith_cap_deg
    corners = glyph_corner_dirs(rows, rotation, cap_deg, zoom)
    uv = fisheye_uv(corners.reshape(-1, 3))
    ndc = (uv.reshape(-1, 4, 2) - rect[:2]) / (np.array(rect[2:]) - rect[:2]) * 2.0 - 1.0
    # As tests/test_render_labels.py: 1e-5 of the rectangle (measured under this zoom: 1.6e-6).
    assert np.abs(clip[..., :2] - ndc).max() < 1e-5
    # The anchors moved with the zoom; the glyphs kept their angular size round them.
    plain = glyph_corner_dirs(rows, rotation, cap_deg)
    assert np.abs(fisheye_uv(plain.reshape(-1, 3)) - uv).max() > 0.01
    np.testing.assert_allclose(angle_rad(corners[:, 0], corners[:, 3]), angle_rad(plain[:, 0], plain[:, 3]), rtol=1e-9)


def test_the_pointer_ring_goes_round_the_zoomed_body_and_clears_its_disc(gl_ctx):
    size, zoom = 1024, 3.0
    moon = SimpleNamespace(name="moon", enu=around_centre(12.0, 110.0)[0], mag=-12.0, angular_diameter_deg=2.0,
                           phase_angle_deg=0.0)
    text, lines = TextPainter(gl_ctx), LinePainter(gl_ctx)
    layer = PointerLayer(gl_ctx, text=text, lines=lines, ring_radius_deg=1.5)
    view = sky_view(size, zoom, bodies=(moon,), pointer="moon")
    try:
        image = render(gl_ctx, view, lambda: layer.draw(view, "pointer", 1.0))
    finally:
        layer.release()
        text.release()
        lines.release()
    drawn = around_centre(drawn_theta_deg(12.0, zoom), 110.0)
    predicted = uv_to_pixel(fisheye_uv(drawn), size)[0]
    disc_deg = law_magnification(12.0, zoom) * 2.0  # 5.6 deg: wider than the 1.5 deg ring
    ring_deg = 0.5 * disc_deg + 0.5
    rows, cols = np.mgrid[0:size, 0:size]
    distance_px = np.hypot(cols - predicted[0], rows - predicted[1])
    ring = np.where(distance_px <= (ring_deg + 0.7) * view.px_per_deg, image[..., 0].astype(float), 0.0)
    assert ring.sum() > 255 * 50
    assert np.hypot(*(np.array([(ring * cols).sum(), (ring * rows).sum()]) / ring.sum() - predicted)) \
        <= RING_CENTRE_TOLERANCE_PX
    assert image[distance_px < (ring_deg - 0.5) * view.px_per_deg].max() == 0  # clear of the magnified disc


# --------------------------------------------------------------------------- the per-pixel passes


@pytest.mark.parametrize("name, zoom", [("grid-altaz", 3.0), ("horizon", 0.5), ("grid-equatorial", 2.0)])
def test_grid_lines_lie_where_the_twin_says_under_zoom(gl_ctx, name, zoom):
    from test_render_grids import a_view as grid_view, draw as draw_grid

    size = 192
    view = dataclasses.replace(grid_view(size, dome_from_enu(70.0, 25.0, 12.0), rot_x(0.9) @ rot_z(2.3)), zoom=zoom)
    style = GRID_STYLES[name]
    layer = GridLayer(gl_ctx)
    try:
        alpha = alpha_of(draw_grid(gl_ctx, view, layer, [name]), style)
    finally:
        layer.release()
    expected, distance, _ = twin_coverage(size, view, name, style)
    uv, _ = pixel_grid(size)
    checked = inside_disc(uv)
    lit = checked & (alpha > 0.1)
    assert lit.sum() > 200
    assert distance[lit].max() <= 0.5 + POSITION_TOLERANCE_PX
    assert np.abs(alpha - expected)[checked].max() <= COVERAGE_TOLERANCE
    # The test can tell: the unzoomed twin misses.
    unzoomed, _, _ = twin_coverage(size, dataclasses.replace(view, zoom=1.0), name, style)
    assert np.abs(alpha - unzoomed)[checked].max() > 0.5


def test_daylight_and_landscape_follow_the_zoom(gl_ctx):
    size, zoom = 96, 2.5
    view_m = dome_from_enu(100.0, -10.0, 15.0)  # looking down a little: the zoomed horizon is on the dome
    profile = 4.0 + 3.0 * np.sin(np.radians(np.arange(0.0, 360.0, 2.0)) * 3.0)
    view = dataclasses.replace(a_view(size, view_m, sun_alt_deg=8.0, sun_az_deg=120.0, landscape=profile), zoom=zoom)
    daylight, landscape = DaylightLayer(gl_ctx), LandscapeLayer(gl_ctx)
    try:
        sky = draw_pass(gl_ctx, view, (daylight, "daylight", 1.0)).reshape(-1, 3).astype(int)
        ground = draw_pass(gl_ctx, view, (landscape, "landscape", 1.0), clear=(1.0, 1.0, 1.0)).reshape(-1, 3)
    finally:
        daylight.release()
        landscape.release()
    uv, _ = pixel_grid(size)
    inside = inside_disc(uv)
    dome, d_dx, d_dy = unzoom_dir_grad(*fisheye_dir_grad(uv, (1.0 / size, 1.0 / size)), zoom)
    expected_sky = encode(sky_radiance_linear(dome @ view_m, view.sun_enu))
    assert np.abs(sky - expected_sky)[inside].max() <= TWIN_TOLERANCE_LEVELS
    coverage = landscape_coverage(dome, d_dx, d_dy, view_m.T, profile)
    colour = encode(ground_rgb_linear(8.0))
    expected_ground = np.round(255.0 * (1.0 - coverage))[:, None] + coverage[:, None] * colour
    assert np.abs(ground.astype(int) - expected_ground)[inside].max() <= TWIN_TOLERANCE_LEVELS
    assert np.sum(inside & (coverage > 0.1) & (coverage < 0.9)) > 20  # an edge to check
    # The test can tell: the unzoomed twins miss.
    plain = fisheye_dir_grad(uv, (1.0 / size, 1.0 / size))[0]
    assert np.abs(sky - encode(sky_radiance_linear(plain @ view_m, view.sun_enu)))[inside].max() > 10
    alt, _ = enu_to_altaz(plain @ view_m)
    assert np.any(inside & (alt < -2.0) & (coverage < 0.5))  # unzoomed ground, zoomed sky


# --------------------------------------------------------------------------- what does not zoom


def smooth_png(path, size: int = 64) -> str:
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.4 * np.cos(5 * y), 0.3 + 0.5 * x * y], axis=-1)
    Image.fromarray(np.round(rgb * 255).astype(np.uint8)).save(path)
    return str(path)


def test_overlays_and_fulldome_frames_do_not_zoom(gl_ctx, tmp_path):
    picture = smooth_png(tmp_path / "picture.png")
    overlays = (Overlay("fulldome", picture, 0.0, 90.0, 180.0, opacity=0.6),
                Overlay("image", picture, 30.0, 40.0, 20.0), Overlay("text", "Début", -30.0, 60.0, 5.0))
    nothing = catalog(np.zeros((0, 3)), [])
    images = [draw_layers(gl_ctx, nothing, sky_view(256, zoom, overlays=overlays), {"overlays": 1.0})
              for zoom in (1.0, 3.0, 0.25)]
    assert images[0].max() > 200
    assert np.array_equal(images[0], images[1]) and np.array_equal(images[0], images[2])


def test_zoom_one_leaves_a_full_render_unchanged(gl_ctx):
    # Every layer through the node's path (FrameState -> frame_view -> DomeRenderer) at zoom 1
    # gives the committed golden images bit for bit: they were rendered before the zoom existed.
    from datetime import datetime, timezone

    from domectl.config import load_hall
    from domectl.ephemeris import Ephemeris
    from domectl.layermix import parse_layers
    from domectl.skydata import load_stars
    from domectl.still import StillRequest, render_still, still_frame
    from render.image import load_png
    from test_render_sky import GOLDEN_DIR

    hall, eph = load_hall(), Ephemeris()
    request = StillRequest(utc=datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc), size_px=256,
                           layers=parse_layers("all"), language="fr", pointer="Ori")
    state = still_frame(hall, request, eph)
    assert state.zoom == 1.0
    actual = render_still(gl_ctx, hall, state, request, load_stars())
    expected = load_png(GOLDEN_DIR / "night_all_fr_256.png")
    assert np.array_equal(actual, expected), (
        "zoom 1 changed the frame; if the goldens were regenerated on another GL, run this test where they were made")
    # And the zoom is continuous there: a hair away from 1 the formula itself runs, to within a level.
    near = render_still(gl_ctx, hall, dataclasses.replace(state, zoom=1.0 + 1e-9), request, load_stars())
    assert np.abs(near.astype(int) - actual).max() <= 1
