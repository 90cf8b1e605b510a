"""Projector models, ray casting and warp meshes against independently written references."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domectl.projection import fisheye_uv
from test_lacoupole_layout import load_lacoupole
from warp import (
    DomeModel,
    Lens,
    ProjectorModel,
    WarpModelError,
    build_mesh,
    dome_points_to_pixels,
    pixels_to_dome_points,
    projector_basis,
    projector_pixels_to_uv,
    uv_to_dome_points,
)

PIXEL = 1.0
# The brief's bound on the mesh: bilinear interpolation of the vertex grid
# within a quarter of a projector pixel of the exact warp.
MAX_MESH_ERROR = 0.25 * PIXEL
# The mesh spacing a node uses for 4096 x 2160 (warp.mesh.DEFAULT_STEP_PX).
MESH_STEP_PX = 16
# Round trips pixel -> dome -> pixel are exact up to float64 rounding.
ROUND_TRIP = 1e-6 * PIXEL
MILLIMETRE = 1e-3
N_DIRECTIONS = 10_000

# Eyes to test the mesh from: the hall's sweet spot, and one off-centre (back
# and below the springline) to check nothing assumes the eye at the centre.
OFF_CENTRE_EYE_M = (0.4, -1.5, -1.0)


def rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def reference_camera(p: ProjectorModel) -> np.ndarray:
    """Columns (right, forward, up) of the projector, built as rotations of a camera at rest.

    At rest the camera looks along +y with its right along +x and its top along
    +z. Roll turns it clockwise about its axis as seen from behind (a right-handed
    turn about +y), pitch raises the axis (about +x), yaw swings it from +y
    toward +x (a left-handed turn about +z).
    """
    yaw, pitch, roll = np.radians([p.yaw_deg, p.pitch_deg, p.roll_deg])
    return rot_z(-yaw) @ rot_x(pitch) @ rot_y(roll)


def reference_pinhole(p: ProjectorModel, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dome points -> projector pixels for a perspective lens, written apart from warp.geometry."""
    cam = reference_camera(p)
    local = (points - np.asarray(p.position_m)) @ cam  # columns: along right, forward, up
    focal_px = p.lens.throw_ratio * p.width_px
    cx = p.width_px / 2 - p.lens.shift_x * p.width_px
    cy = p.height_px / 2 + p.lens.shift_y * p.height_px
    depth = local[:, 1]
    ahead = depth > 0
    depth = np.where(ahead, depth, 1.0)
    x = cx + focal_px * local[:, 0] / depth
    y = cy - focal_px * local[:, 2] / depth
    return np.stack([x, y], axis=1), ahead


def reference_sphere_hit(eye, dirs, radius_m):
    """Where rays from the eye meet the sphere: solve |e + t d|^2 = R^2 for t > 0 (quadratic formula)."""
    a = np.sum(dirs * dirs, axis=1)
    b = 2 * dirs @ eye
    c = eye @ eye - radius_m**2
    t = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    return eye + t[:, None] * dirs


def invert_mesh(mesh, uv_target, start_px, iterations=8):
    """Projector pixels where the mesh's bilinear uv equals ``uv_target`` (Newton from ``start_px``)."""
    px = start_px.copy()
    h = 0.25
    for _ in range(iterations):
        f = mesh.interpolate_uv(px) - uv_target
        jx = (mesh.interpolate_uv(px + [h, 0]) - mesh.interpolate_uv(px - [h, 0])) / (2 * h)
        jy = (mesh.interpolate_uv(px + [0, h]) - mesh.interpolate_uv(px - [0, h])) / (2 * h)
        jac = np.stack([jx, jy], axis=2)  # (N, 2 uv, 2 px)
        px = px - np.linalg.solve(jac, f[:, :, None])[:, :, 0]
    return px


def random_directions(rng, n, min_z):
    v = rng.normal(size=(4 * n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v[v[:, 2] >= min_z][:n]


def test_pose_convention_axes():
    right, up, forward = projector_basis(0.0, 0.0, 0.0)
    np.testing.assert_allclose([right, up, forward], [[1, 0, 0], [0, 0, 1], [0, 1, 0]], atol=1e-12)
    # yaw 90: the axis swings from the front (+y) to the right (+x).
    np.testing.assert_allclose(projector_basis(90.0, 0.0, 0.0)[2], [1, 0, 0], atol=1e-12)
    # pitch 90: the axis points at the zenith; the image's right stays horizontal.
    basis = projector_basis(0.0, 90.0, 0.0)
    np.testing.assert_allclose(basis[2], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(basis[0], [1, 0, 0], atol=1e-12)
    # roll 90 (clockwise from behind): the image's top goes where its right was.
    basis = projector_basis(0.0, 0.0, 90.0)
    np.testing.assert_allclose(basis[1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(basis[0], [0, 0, -1], atol=1e-12)


@given(
    yaw=st.floats(-360, 360), pitch=st.floats(-90, 90), roll=st.floats(-180, 180),
)
@settings(max_examples=50, deadline=None)
def test_pose_matches_composed_rotations(yaw, pitch, roll):
    p = ProjectorModel("t", (0, 0, 0), yaw, pitch, roll, 64, 32, Lens(throw_ratio=1.0))
    cam = reference_camera(p)
    right, up, forward = p.basis()
    np.testing.assert_allclose(np.stack([right, forward, up], axis=1), cam, atol=1e-12)


def test_pixel_convention_image_top_is_up_and_left_is_left():
    dome = DomeModel(7.5)
    p = ProjectorModel("t", (0, 0, 0), 0.0, 0.0, 0.0, 400, 200, Lens(throw_ratio=1.0))
    points, valid = pixels_to_dome_points(dome, p, np.array([[200.0, 100.0], [200.0, 0.5], [0.5, 100.0]]))
    assert valid.all()
    np.testing.assert_allclose(points[0], [0, 7.5, 0], atol=1e-9)  # the axis, through the image centre
    assert points[1, 2] > 0  # the top row lights above the axis
    assert points[2, 0] < 0  # the left column lights left of it
    # Throw ratio 1: the image is as wide as it is far; the left edge is at half the distance aside.
    edge, _ = pixels_to_dome_points(dome, p, np.array([[0.0, 100.0]]))
    np.testing.assert_allclose(edge[0, 0] / edge[0, 1], -0.5, atol=1e-12)


def test_lens_shift_moves_the_image_up():
    dome = DomeModel(7.5)
    shifted = ProjectorModel("t", (0, 0, 0), 0.0, 0.0, 0.0, 400, 200, Lens(throw_ratio=1.0, shift_y=0.5))
    points, _ = pixels_to_dome_points(dome, shifted, np.array([[200.0, 200.0], [200.0, 100.0]]))
    np.testing.assert_allclose(points[0], [0, 7.5, 0], atol=1e-9)  # the axis now meets the bottom edge
    assert points[1, 2] > 0


def test_fisheye_at_the_centre_pointing_up_is_a_domemaster():
    # An equidistant 180 deg fisheye at the centre, looking at the zenith, with
    # a square image: its image is the dome's own fisheye (mirrored: seen from below,
    # with the image's top toward the front).
    dome = DomeModel(7.5)
    p = ProjectorModel("f", (0, 0, 0), 0.0, 90.0, 0.0, 1000, 1000, Lens("fisheye", fov_deg=180.0))
    points, valid = pixels_to_dome_points(dome, p, np.array([[500.0, 500.0], [1000.0, 500.0], [500.0, 0.0], [750.0, 500.0]]))
    assert valid.all()
    np.testing.assert_allclose(points[0], [0, 0, 7.5], atol=1e-9)
    np.testing.assert_allclose(points[1], [7.5, 0, 0], atol=1e-9)  # right edge -> horizon at +x
    np.testing.assert_allclose(points[2], [0, -7.5, 0], atol=1e-9)  # top edge: image up is -y at pitch 90
    el = np.degrees(np.arcsin(points[3, 2] / 7.5))
    np.testing.assert_allclose(el, 45.0, atol=1e-9)  # equidistant: half way out = 45 deg


@pytest.mark.parametrize(
    "lens",
    [Lens(throw_ratio=0.8, shift_x=0.1, shift_y=-0.2), Lens("fisheye", fov_deg=200.0, shift_x=-0.05)],
    ids=["perspective", "fisheye"],
)
def test_pixels_to_dome_and_back_round_trip(lens):
    dome = DomeModel(7.5, springline_deg=-10.0)
    p = ProjectorModel("t", (1.0, -6.0, -0.5), 20.0, 30.0, 15.0, 1920, 1080, lens)
    rng = np.random.default_rng(5)
    px = rng.uniform([0, 0], [1920, 1080], size=(5000, 2))
    points, _ = pixels_to_dome_points(dome, p, px)
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 7.5, atol=1e-9)
    back, ok = dome_points_to_pixels(p, points)
    assert ok.all()
    np.testing.assert_allclose(back, px, atol=ROUND_TRIP)


def test_points_behind_the_lens_and_outside_the_image_are_invalid():
    p = ProjectorModel("t", (0, 0, 0), 0.0, 0.0, 0.0, 400, 200, Lens(throw_ratio=1.0))
    _, ok = dome_points_to_pixels(p, np.array([[0.0, -7.5, 0.0], [7.0, 1.0, 0.0], [0.0, 7.5, 0.0]]))
    assert ok.tolist() == [False, False, True]


def test_pixels_below_the_springline_are_invalid():
    dome = DomeModel(7.5)
    p = ProjectorModel("t", (0, 0, 0), 0.0, 0.0, 0.0, 400, 200, Lens(throw_ratio=1.0))
    _, valid = pixels_to_dome_points(dome, p, np.array([[200.0, 99.0], [200.0, 101.0]]))
    assert valid.tolist() == [True, False]


@pytest.mark.parametrize("eye_m", [None, OFF_CENTRE_EYE_M], ids=["hall-eye", "off-centre-eye"])
def test_mesh_matches_independent_raycast(eye_m):
    # 10 000 random directions seen from the eye -> the dome (quadratic formula)
    # -> each 4096 x 2160 projector (a pinhole built from composed rotations).
    # The mesh, inverted (where does its bilinear uv equal the direction's uv?),
    # must put each within MAX_MESH_ERROR of that pixel.
    dome, projectors, hall_eye = load_lacoupole()
    eye = hall_eye if eye_m is None else np.asarray(eye_m, dtype=np.float64)
    rng = np.random.default_rng(2024)
    dirs = random_directions(rng, 3 * N_DIRECTIONS, min_z=-0.5)
    hits = reference_sphere_hit(eye, dirs, dome.radius_m)
    on_dome = hits[:, 2] >= 0.0  # the visible dome (springline 0)
    points, uv_true = hits[on_dome][:N_DIRECTIONS], fisheye_uv(dirs[on_dome][:N_DIRECTIONS])
    assert len(points) == N_DIRECTIONS
    worst = 0.0
    seen_by = np.zeros(len(points), dtype=int)
    for p in projectors:
        px_ref, ahead = reference_pinhole(p, points)
        inside = ahead & np.all((px_ref > 0.5) & (px_ref < [p.width_px - 0.5, p.height_px - 0.5]), axis=1)
        mesh = build_mesh(dome, p, eye, step_px=MESH_STEP_PX)
        px_mesh = invert_mesh(mesh, uv_true[inside], px_ref[inside])
        err = np.linalg.norm(px_mesh - px_ref[inside], axis=1)
        worst = max(worst, float(err.max()))
        seen_by += inside
    assert seen_by.min() >= 1  # every direction was checked in at least one projector
    assert worst <= MAX_MESH_ERROR


def test_dense_warp_agrees_with_independent_raycast():
    # The exact (non-mesh) pixel -> uv map against the reference, in uv.
    dome, projectors, eye = load_lacoupole()
    rng = np.random.default_rng(7)
    for p in projectors[::4]:
        px = rng.uniform([0, 0], [p.width_px, p.height_px], size=(2000, 2))
        uv, valid = projector_pixels_to_uv(dome, p, eye, px)
        points, _ = pixels_to_dome_points(dome, p, px)
        px_ref, ahead = reference_pinhole(p, points)
        assert ahead.all()
        np.testing.assert_allclose(px_ref, px, atol=ROUND_TRIP)
        np.testing.assert_allclose(uv, fisheye_uv(points - eye), atol=1e-12)
        assert (valid == (points[:, 2] >= 0)).all()


def test_uv_to_dome_points_sees_what_the_eye_sees():
    dome = DomeModel(7.5)
    eye = np.array(OFF_CENTRE_EYE_M)
    rng = np.random.default_rng(3)
    dirs = random_directions(rng, 1000, min_z=0.2)
    points, visible = uv_to_dome_points(dome, eye, fisheye_uv(dirs))
    assert visible.all()
    np.testing.assert_allclose(points, reference_sphere_hit(eye, dirs, 7.5), atol=1e-6 * MILLIMETRE)


def test_mesh_grid_includes_the_image_edges():
    dome, projectors, eye = load_lacoupole()
    mesh = build_mesh(dome, projectors[0], eye, step_px=MESH_STEP_PX)
    assert mesh.shape == (2160 // 16 + 1, 4096 // 16 + 1)
    np.testing.assert_array_equal(mesh.pixel_xy[0, 0], [0, 0])
    np.testing.assert_array_equal(mesh.pixel_xy[-1, -1], [4096, 2160])
    assert mesh.valid.any() and not mesh.valid.all()  # the lower ring's images run below the springline


def test_region_and_render_size_hold_the_projectors_detail():
    dome, projectors, eye = load_lacoupole()
    p = projectors[9]
    mesh = build_mesh(dome, p, eye, step_px=MESH_STEP_PX)
    u0, v0, u1, v1 = mesh.domemaster_region(margin=0.0)
    uv_valid = mesh.uv[mesh.valid]
    assert (uv_valid >= [u0, v0]).all() and (uv_valid <= [u1, v1]).all()
    w, h = mesh.render_size_px(margin=0.0)
    px_per_u, px_per_v = w / (u1 - u0), h / (v1 - v0)
    # Neighbouring projector pixels must land at least one slice pixel apart.
    rng = np.random.default_rng(11)
    px = rng.uniform([1, 1], [p.width_px - 2, p.height_px - 2], size=(20000, 2))
    uv0, ok = projector_pixels_to_uv(dome, p, eye, px)
    for step in ([1.0, 0.0], [0.0, 1.0], [0.7071, 0.7071]):
        uv1, _ = projector_pixels_to_uv(dome, p, eye, px + step)
        d_slice = np.hypot((uv1[:, 0] - uv0[:, 0]) * px_per_u, (uv1[:, 1] - uv0[:, 1]) * px_per_v)
        assert d_slice[ok].min() >= 0.98  # interpolation across a 16-px cell, 2 %
    capped = mesh.render_size_px(margin=0.0, max_px=1024)
    assert max(capped) == 1024


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(WarpModelError, match=r"lens.throw_ratio = 0: must be > 0 \(throw distance / image width\)"):
        Lens(throw_ratio=0)
    with pytest.raises(WarpModelError, match="lens.kind = 'zoom': must be one of perspective, fisheye"):
        Lens("zoom", throw_ratio=1.0)
    with pytest.raises(WarpModelError, match="fov_deg is missing"):
        Lens("fisheye")
    with pytest.raises(WarpModelError, match=r"dome.radius_m = -1: must be > 0"):
        DomeModel(-1)
    with pytest.raises(WarpModelError, match=r"width_px = 0: must be a positive integer"):
        ProjectorModel("p", (0, 0, 0), 0, 0, 0, 0, 10, Lens(throw_ratio=1))
    with pytest.raises(WarpModelError, match=r"position_m = .*must be 3 finite numbers"):
        ProjectorModel("p", (0, 0), 0, 0, 0, 10, 10, Lens(throw_ratio=1))
    outside = ProjectorModel("p07", (0, 8.0, 0), 0, 0, 0, 10, 10, Lens(throw_ratio=1))
    with pytest.raises(WarpModelError, match=r"projector 'p07'.* outside the dome sphere of radius 7.5 m; move it inside"):
        pixels_to_dome_points(DomeModel(7.5), outside, np.array([[5.0, 5.0]]))
    with pytest.raises(WarpModelError, match="eye_m = .* outside the dome"):
        build_mesh(DomeModel(7.5), ProjectorModel("p", (0, 0, 0), 0, 0, 0, 10, 10, Lens(throw_ratio=1)), (0, 0, 9))
    with pytest.raises(WarpModelError, match="step_px = 0: must be > 0"):
        build_mesh(DomeModel(7.5), ProjectorModel("p", (0, 0, 0), 0, 0, 0, 10, 10, Lens(throw_ratio=1)), (0, 0, 0), 0)


def test_warp_imports_only_numpy_stdlib_projection_and_errors():
    code = "import sys, warp; print('\\n'.join(sorted(sys.modules)))"
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    third_party = {m.split(".")[0] for m in mods} & {"moderngl", "zmq", "scipy", "PIL", "skyfield", "glfw"}
    assert third_party == set()
    assert {m for m in mods if m.startswith("domectl")} == {"domectl", "domectl.errors", "domectl.projection"}
