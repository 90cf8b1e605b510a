"""Omnidirectional stereo on the GPU: the disparity of a near sphere against the closed form, stars
the same for both eyes, and the shaders' ODS against domectl/stereo.py."""

from __future__ import annotations

import math

import moderngl
import numpy as np
import pytest
from test_render_sky import catalog
from test_render_spheres import dome_view, draw, pixel_of, sphere

from domectl.frame import ModelView
from domectl.projection import altaz_to_enu, fisheye_uv, uv_to_pixel, zoom_uniform
from domectl.stereo import eye_offsets_m, horizon_dirs, ods_dirs
from render.context import release_framebuffers
from render.models import project_vertices
from render.shaders import load_program

SEPARATION_M = 0.064
TAPER_FROM_DEG = 45.0
#: The brief's bound on a measured disparity vs the closed form, pixels.
DISPARITY_TOLERANCE_PX = 0.5
#: A rendered feature's centroid vs its predicted place, pixels.
CENTROID_TOLERANCE_PX = 0.5
#: GLSL (float32) vs numpy (float64) ODS directions: a few float32 roundings of unit vectors.
FLOAT32_RAD = 2e-6
#: GLSL vs numpy window positions of model vertices, pixels.
VERTEX_TOLERANCE_PX = 0.01


def lit_centroid(image: np.ndarray) -> np.ndarray:
    """(col, row) centroid of the linear light of an (H, W, 3) uint8 display-encoded image."""
    light = ((image.astype(np.float64) / 255.0) ** 2.2).sum(axis=-1)
    rows, cols = np.indices(light.shape)
    return np.array([(light * cols).sum(), (light * rows).sum()]) / light.sum()


def test_a_near_sphere_shows_the_closed_form_disparity(gl_ctx):
    # A small sphere 3 m away at 10 deg elevation in front of the dome, fully lit (the Sun behind
    # the observer), seen by each eye with s = 0.064: its image moves between the eyes by the
    # closed form's 2 asin(s / (2 r_h)) of azimuth (domectl/stereo.py), about 5 px at 768 px.
    size = 768
    direction = altaz_to_enu(10.0, 180.0)
    centre = direction * 3.0
    s = [sphere("probe", centre, 0.08, -direction)]
    images, predicted = {}, {}
    for eye in (-1, 1):
        view = dome_view(size, eye=eye, separation_m=SEPARATION_M, spheres=s)
        images[eye] = draw(gl_ctx, view, ["planets"])
        dome_centre = view.dome_from_enu @ centre
        predicted[eye] = pixel_of(view, horizon_dirs(dome_centre[None], eye, SEPARATION_M))[0]
    measured = {eye: lit_centroid(images[eye]) for eye in (-1, 1)}
    shift = measured[1] - measured[-1]
    expected = predicted[1] - predicted[-1]
    # The closed form's azimuth difference, as pixels along the sphere's circle on the domemaster.
    r_h = math.hypot(*(dome_view(size).dome_from_enu @ centre)[:2])
    disparity_rad = 2.0 * math.asin(SEPARATION_M / (2.0 * r_h))
    radius_px = np.hypot(*(predicted[1] - (size / 2.0 - 0.5)))
    assert np.hypot(*expected) == pytest.approx(2.0 * radius_px * math.sin(disparity_rad / 2.0), rel=1e-9)
    assert np.hypot(*expected) > 4.0
    assert np.hypot(*(shift - expected)) < DISPARITY_TOLERANCE_PX
    # The right eye sees the sphere turned counter-clockwise seen from above, i.e. to the audience's
    # left when they face the front: toward -x, the image's left.
    assert shift[0] < -4.0


def test_the_stars_are_the_same_for_both_eyes(gl_ctx):
    rng = np.random.default_rng(5)
    xyz = rng.normal(size=(400, 3))
    stars = catalog(xyz / np.linalg.norm(xyz, axis=-1, keepdims=True), rng.uniform(-1.0, 5.0, 400))
    pictures = [draw(gl_ctx, dome_view(256, eye=eye, separation_m=separation), ["stars", "milky-way"], stars=stars)
                for eye, separation in ((0, 0.0), (-1, 1e6), (1, 1e6), (1, 1e12))]
    assert pictures[0].max() > 100
    for picture in pictures[1:]:
        np.testing.assert_array_equal(picture, pictures[0])


def ods_probe(ctx, points: np.ndarray, eye: int, separation_m: float) -> tuple[np.ndarray, np.ndarray]:
    """ods_probe.glsl by transform feedback: (directions, eye positions), each (N, 3)."""
    prog = load_program(ctx, "ods_probe", varyings=["out_dir", "out_origin"])
    prog["u_eye"].value = float(eye)
    prog["u_separation"].value = float(separation_m)
    prog["u_taper_from"].value = TAPER_FROM_DEG
    vbo = ctx.buffer(np.asarray(points, np.float32).tobytes())
    out = ctx.buffer(reserve=len(points) * 6 * 4)
    vao = ctx.vertex_array(prog, [(vbo, "3f", "in_point")])
    fbo = ctx.simple_framebuffer((1, 1))  # headless EGL: even this draw needs a framebuffer
    fbo.use()
    try:
        vao.transform(out, moderngl.POINTS, vertices=len(points))
        result = np.frombuffer(out.read(), np.float32).reshape(-1, 6).astype(np.float64)
    finally:
        release_framebuffers(ctx, fbo)
        for obj in (vao, out, vbo, prog):
            obj.release()
    return result[:, :3], result[:, 3:]


@pytest.mark.parametrize("eye", [-1, 0, 1])
def test_the_glsl_ods_matches_numpy(gl_ctx, eye):
    rng = np.random.default_rng(6)
    n = 3000
    el = np.radians(rng.uniform(-55.0, 89.5, n))                 # the taper band included
    az = rng.uniform(0.0, 2.0 * np.pi, n)
    r = rng.uniform(0.3, 50.0, n)
    p = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1) * r[:, None]
    got, origin = ods_probe(gl_ctx, p, eye, SEPARATION_M)
    want = ods_dirs(p, eye, SEPARATION_M, TAPER_FROM_DEG)
    assert np.max(np.linalg.norm(got - want, axis=-1)) < FLOAT32_RAD
    np.testing.assert_allclose(origin, eye_offsets_m(want, eye, SEPARATION_M, TAPER_FROM_DEG), atol=1e-7)


def model_probe(ctx, view, model, points: np.ndarray) -> np.ndarray:
    """model.glsl's vertex stage by transform feedback: window px (N, 2) of model-unit points."""
    from render.models import model_transform

    # Every output captured: without a fragment stage the driver drops what no varying uses.
    prog = load_program(ctx, "model", varyings=["gl_Position", "v_normal", "v_rgb", "v_dir"])
    dome_from_model, rotation, position, zoom = model_transform(view, model)

    def put(name, value):
        if name in prog:
            if isinstance(value, bytes):
                prog[name].write(value)
            else:
                prog[name].value = value

    mat = lambda m: np.ascontiguousarray(np.asarray(m, np.float64).T, dtype=np.float32).tobytes()
    put("u_dome_from_model", mat(dome_from_model))
    put("u_normal_dome_from_model", mat(rotation))
    put("u_position_dome", tuple(position))
    put("u_eye", float(view.eye))
    put("u_separation", float(view.eye_separation_m))
    put("u_taper_from", float(view.taper_from_deg))
    put("u_zoom", zoom_uniform(zoom))
    put("u_rect", tuple(float(x) for x in view.rect_uv))
    put("u_near_m", 1e-3)
    put("u_max_zenith_cos", -1.0)
    put("u_depth", (0.0, 0.01))
    pts = np.asarray(points, np.float32)
    rows = np.zeros((len(pts), 16), np.float32)
    rows[:, 0:3] = rows[:, 3:6] = rows[:, 6:9] = pts
    rows[:, 10:13] = (0.0, 0.0, 1.0)
    vbo = ctx.buffer(rows.tobytes())
    out = ctx.buffer(reserve=len(pts) * 13 * 4)
    vao = ctx.vertex_array(prog, [(vbo, "3f 3f 3f 1f 3f 3f", "in_a", "in_b", "in_c", "in_corner", "in_normal",
                                   "in_rgb")])
    fbo = ctx.simple_framebuffer((1, 1))
    fbo.use()
    try:
        vao.transform(out, moderngl.POINTS, vertices=len(pts))
        clip = np.frombuffer(out.read(), np.float32).reshape(-1, 13).astype(np.float64)
    finally:
        release_framebuffers(ctx, fbo)
        for obj in (vao, out, vbo, prog):
            obj.release()
    return (clip[:, :2] + 1.0) / 2.0 * np.asarray(view.size_px, dtype=np.float64)


@pytest.mark.parametrize(("on_dome", "eye", "zoom"), [(False, 1, 1.0), (False, -1, 3.0), (True, 1, 3.0)],
                         ids=["sky-right", "sky-left-zoomed", "dome-right"])
def test_model_vertices_land_where_numpy_puts_them(gl_ctx, on_dome, eye, zoom):
    rng = np.random.default_rng(7)
    points = rng.uniform(-1.0, 1.0, (500, 3))
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    model = ModelView("probe", on_dome, tuple(altaz_to_enu(30.0, 170.0) * 4.0), tuple(rotation.ravel()), 0.7, 1.0)
    view = dome_view(1024, eye=eye, separation_m=SEPARATION_M, zoom=zoom, view_az_deg=200.0, tilt_deg=20.0)
    got = model_probe(gl_ctx, view, model, points)
    want, _ = project_vertices(view, model, points)
    assert np.max(np.hypot(*(got - want).T)) < VERTEX_TOLERANCE_PX


def test_a_sphere_surface_mark_lands_where_ods_puts_it(gl_ctx, tmp_failures):
    # A bright mark on a dark texture at latitude -15, east longitude 80 (the side facing the
    # observer: the body's axes are ENU's, the sphere to the south), on a sphere 4 m away:
    # the mark's body-fixed point, taken through ods_dirs and the fisheye, is where each eye sees it.
    height, width = 256, 512
    texture = np.full((height, width, 3), 20, np.uint8)
    lat = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    lon = -180.0 + (np.arange(width) + 0.5) * 360.0 / width
    mark_lat, mark_lon, half_deg = -15.0, 80.0, 3.0
    rows, cols = np.abs(lat - mark_lat) < half_deg, np.abs(lon - mark_lon) < half_deg
    texture[np.ix_(rows, cols)] = 255
    # The mark's middle is that of its texels (up to half a texel, 0.35 deg, off the asked place).
    mark_lat, mark_lon = lat[rows].mean(), lon[cols].mean()
    direction = altaz_to_enu(25.0, 180.0)
    centre = direction * 4.0
    radius_m = 1.0
    lat_r, lon_r = math.radians(mark_lat), math.radians(mark_lon)
    mark_body = np.array([math.cos(lat_r) * math.cos(lon_r), math.cos(lat_r) * math.sin(lon_r), math.sin(lat_r)])
    # Light from the mark's normal: its brightness is symmetric about its centre.
    s = [sphere("mars", centre, radius_m, mark_body)]            # body_from_enu = identity
    for eye in (-1, 1):
        view = dome_view(1024, eye=eye, separation_m=SEPARATION_M, spheres=s)
        image = draw(gl_ctx, view, ["planets"], textures=lambda name: texture)
        point = view.dome_from_enu @ (centre + radius_m * mark_body)
        expected = uv_to_pixel(fisheye_uv(ods_dirs(point[None], eye, SEPARATION_M, TAPER_FROM_DEG)), 1024)[0]
        mark = np.where(image.min(axis=-1)[..., None] > 120, image, 0).astype(np.uint8)
        got = lit_centroid(mark)
        if np.hypot(*(got - expected)) >= CENTROID_TOLERANCE_PX:
            tmp_failures(f"mark_{eye}", image, image)
        assert mark.any()
        assert np.hypot(*(got - expected)) < CENTROID_TOLERANCE_PX


def test_the_frame_carries_stereo_to_the_layers():
    from domectl.config import EYES, load_hall
    from domectl.frame import FrameState, OrbitView
    from domectl.pipeline import frame_view
    from domectl.stereo import EYE_SIGN

    hall = load_hall()
    state = FrameState(frame=1, deadline_ns=0, show_time_s=0.0, tt_jd=2460000.5, latitude_deg=50.7,
                       longitude_deg=2.24, elevation_m=0.0, view_az_deg=180.0, view_alt_deg=0.0,
                       eye_separation_m=0.05,
                       spheres=(sphere("moon", altaz_to_enu(30.0, 180.0) * 10.0, 1.0, (0.0, 0.0, 1.0)),),
                       models=(ModelView("ball", False, (0.0, 3.0, 1.0), tuple(np.eye(3).ravel()), 1.0, 1.0),),
                       orbits=(OrbitView("moon", (0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),))
    view = frame_view(state, hall, (0.0, 0.0, 1.0, 1.0), (64, 64), eye=EYE_SIGN["left"])
    assert (view.eye, view.eye_separation_m, view.taper_from_deg) == (-1, 0.05, hall.stereo.taper_from_deg)
    assert (view.spheres, view.models, view.orbits) == (state.spheres, state.models, state.orbits)
    assert frame_view(state, hall, (0.0, 0.0, 1.0, 1.0), (64, 64)).eye == 0
    # Every eye an IG may be configured for has a sign.
    assert set(EYE_SIGN) == set(EYES)


def test_the_render_command_takes_an_eye():
    from domectl.cli import build_parser

    args = build_parser().parse_args(["render", "--eye", "left", "--out", "x.png"])
    assert args.eye == "left"
    assert build_parser().parse_args(["render", "--out", "x.png"]).eye == "mono"
