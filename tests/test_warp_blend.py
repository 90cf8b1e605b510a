"""Blend weights, masks, their storage, black-level uplift, and what the eye sees."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from domectl.projection import pixel_to_uv
from test_lacoupole_layout import load_lacoupole
from warp import (
    DomeModel,
    Lens,
    ProjectorModel,
    WarpModelError,
    black_uplift_at_points,
    black_uplift_mask,
    blend_mask,
    blend_weights,
    coverage_counts,
    coverage_fraction,
    coverage_map,
    decode_mask,
    dome_points_to_pixels,
    edge_weight,
    encode_mask,
    fibonacci_dome_points,
    max_overlap_count,
    reconstruct_domemaster,
    sample_bilinear,
    warp_domemaster,
)
from warp.reconstruct import domemaster_dome_points

# DESIGN.md's budget: the linear-light sum of overlapping projectors is 1 +- 1 %.
BLEND_SUM_TOLERANCE = 0.01
# The brief: a flat white frame, warped, blended and reconstructed, uniform within 2 %.
UNIFORMITY_TOLERANCE = 0.02
# Reconstructing a smooth test pattern through 512 x 270 projector images and
# back: the two bilinear resamplings cost well under this.
PATTERN_TOLERANCE = 0.01
# Masks and warped images in these tests are 512 x 270 texels (8 x 8 projector
# pixels, about 0.2 deg on the dome at the rim). A texel whose centre falls
# below the springline is black, and bilinear sampling lets it darken up to one
# texel above the springline: the uniformity checks start this far above it.
# (At full resolution the band is one projector pixel.)
RIM_BAND_DEG = 0.5
MASK_W, MASK_H = 512, 270
# 16-bit gamma-encoded storage: half a code step, through the steepest part of x ** gamma.
ENCODE_TOLERANCE = 2.2 / 65535

BLACK = 0.002


@pytest.fixture(scope="module")
def hall():
    return load_lacoupole()


@pytest.fixture(scope="module")
def masks(hall):
    dome, projectors, eye = hall
    return [blend_mask(dome, projectors, eye, i, MASK_W, MASK_H) for i in range(len(projectors))]


def domemaster_elevation(dome, eye, size_px):
    points, visible = domemaster_dome_points(dome, eye, size_px)
    el = np.degrees(np.arcsin(points[:, 2] / dome.radius_m))
    return el.reshape(size_px, size_px), visible.reshape(size_px, size_px)


def test_edge_weight_is_zero_on_the_edges_and_one_at_the_centre():
    w, h = 400, 200
    px = np.array([[0, 100], [400, 100], [200, 0], [200, 200], [200, 100], [-5, 100], [100, 50]], dtype=float)
    weight = edge_weight(px, w, h)
    np.testing.assert_allclose(weight[:6], [0, 0, 0, 0, 1, 0], atol=1e-15)
    # Half way to the centre on both axes: smoothstep(0.5) ** 2.
    np.testing.assert_allclose(weight[6], 0.25, atol=1e-15)
    ramp = edge_weight(np.stack([np.linspace(0, 200, 50), np.full(50, 100.0)], 1), w, h)
    assert (np.diff(ramp) > 0).all()


def test_two_projectors_split_their_overlap_symmetrically():
    dome = DomeModel(7.5)
    lens = Lens(throw_ratio=1.0)
    left = ProjectorModel("l", (0, 0, 0), -15.0, 30.0, 0.0, 400, 200, lens)
    right = ProjectorModel("r", (0, 0, 0), 15.0, 30.0, 0.0, 400, 200, lens)
    # The dome point on the symmetry plane, at the projectors' elevation.
    el = np.radians(30.0)
    point = np.array([[0.0, 7.5 * np.cos(el), 7.5 * np.sin(el)]])
    px_left, ok_l = dome_points_to_pixels(left, point)
    px_right, ok_r = dome_points_to_pixels(right, point)
    assert ok_l.all() and ok_r.all()
    w_left = blend_weights(dome, [left, right], (0, 0, 0), 0, px_left)
    w_right = blend_weights(dome, [left, right], (0, 0, 0), 1, px_right)
    np.testing.assert_allclose([w_left[0], w_right[0]], [0.5, 0.5], atol=1e-12)
    # A pixel only the left projector lights gets all the light.
    assert blend_weights(dome, [left, right], (0, 0, 0), 0, np.array([[2.0, 100.0]]))[0] == 1.0


def test_blend_weights_sum_to_one_wherever_the_dome_is_lit(hall):
    dome, projectors, eye = hall
    points = fibonacci_dome_points(dome, 50_000)
    total = np.zeros(len(points))
    for i, p in enumerate(projectors):
        px, ok = dome_points_to_pixels(p, points)
        total[ok] += blend_weights(dome, projectors, eye, i, px[ok])
    lit = coverage_counts(dome, projectors, points) > 0
    assert lit.mean() >= 0.999
    assert np.abs(total[lit] - 1.0).max() <= BLEND_SUM_TOLERANCE
    assert (total[~lit] == 0).all()


def test_sampled_masks_sum_to_one(hall, masks):
    # What the GPU does: each projector samples its (coarser) mask bilinearly.
    dome, projectors, eye = hall
    points = fibonacci_dome_points(dome, 50_000)
    points = points[np.degrees(np.arcsin(points[:, 2] / dome.radius_m)) >= RIM_BAND_DEG]
    total = np.zeros(len(points))
    for p, mask in zip(projectors, masks):
        px, ok = dome_points_to_pixels(p, points)
        texel = px[ok] * [MASK_W / p.width_px, MASK_H / p.height_px]
        total[ok] += sample_bilinear(mask, texel)
    assert np.abs(total - 1.0).max() <= BLEND_SUM_TOLERANCE


def test_mask_is_black_below_the_springline_and_float32(hall, masks):
    dome, projectors, eye = hall
    mask = masks[0]
    assert mask.shape == (MASK_H, MASK_W) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    # The lower ring's images run below the springline, across one end of the long (meridian) axis.
    assert (mask == 0).any() and (mask == 1).any()


def test_flat_white_warped_blended_and_reconstructed_is_uniform(hall, masks):
    dome, projectors, eye = hall
    white = np.ones((8, 8))
    images = [warp_domemaster(dome, p, eye, white, MASK_W, MASK_H) * m for p, m in zip(projectors, masks)]
    size = 256
    seen = reconstruct_domemaster(dome, projectors, eye, images, size)[:, :, 0]
    el, visible = domemaster_elevation(dome, eye, size)
    inner = visible & (el >= RIM_BAND_DEG)
    assert np.abs(seen[inner] - 1.0).max() <= UNIFORMITY_TOLERANCE
    assert (seen[~visible] == 0).all()


def test_reconstruction_returns_the_domemaster_that_was_warped(hall, masks):
    # A pattern that a mirrored or rotated warp would scramble (flat white cannot tell).
    dome, projectors, eye = hall

    def pattern(uv):
        u, v = uv[:, 0], uv[:, 1]
        return 0.5 + 0.2 * np.sin(2 * np.pi * (2 * u + v + 0.1)) + 0.15 * np.cos(2 * np.pi * (u - 3 * v + 0.3))

    def pixel_grid_uv(size):
        cols, rows = np.meshgrid(np.arange(size), np.arange(size))
        return pixel_to_uv(np.stack([cols.ravel(), rows.ravel()], axis=1), size)

    master = pattern(pixel_grid_uv(512)).reshape(512, 512)
    images = [warp_domemaster(dome, p, eye, master, MASK_W, MASK_H) * m for p, m in zip(projectors, masks)]
    size = 128
    seen = reconstruct_domemaster(dome, projectors, eye, images, size)[:, :, 0]
    truth = pattern(pixel_grid_uv(size)).reshape(size, size)
    el, visible = domemaster_elevation(dome, eye, size)
    inner = visible & (el >= RIM_BAND_DEG)
    assert np.abs(seen - truth)[inner].max() <= PATTERN_TOLERANCE


def test_coverage_map_and_fraction(hall):
    dome, projectors, eye = hall
    cmap = coverage_map(dome, projectors, eye, 128)
    assert cmap.shape == (128, 128)
    _, visible = domemaster_elevation(dome, eye, 128)
    assert (cmap[~visible] == -1).all()
    assert (cmap[visible] >= 1).mean() >= 0.999
    assert cmap.max() == max_overlap_count(dome, projectors)
    assert coverage_fraction(dome, projectors) >= 0.999
    assert coverage_fraction(dome, projectors[:6]) < 0.7  # half the layout leaves holes


def test_encode_decode_round_trip_through_a_16_bit_png():
    rng = np.random.default_rng(1)
    mask = np.concatenate([[0.0, 1.0, 1e-4], rng.uniform(0, 1, 997)]).reshape(10, 100).astype(np.float32)
    code = encode_mask(mask, 2.2)
    assert code.dtype == np.uint16 and code[0, 0] == 0 and code[0, 1] == 65535
    # Gamma encoding keeps the dark end: 1e-4 linear is code ~1004, not 7.
    assert code[0, 2] > 900
    buf = io.BytesIO()
    Image.fromarray(code).save(buf, format="PNG")
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue()))).astype(np.uint16)
    np.testing.assert_array_equal(back, code)
    decoded = decode_mask(back, 2.2)
    assert decoded.dtype == np.float32
    assert np.abs(decoded - mask).max() <= ENCODE_TOLERANCE


def test_black_uplift_evens_the_black_level(hall):
    dome, projectors, eye = hall
    max_count = max_overlap_count(dome, projectors)
    assert max_count >= 2
    points = fibonacci_dome_points(dome, 20_000)
    uplift = black_uplift_at_points(dome, projectors, points, max_count)
    count = coverage_counts(dome, projectors, points)
    lit = count > 0
    # Written apart from the model: each lit point ends at max_count blacks.
    np.testing.assert_allclose(uplift.sum(axis=1)[lit], (max_count - count[lit]) * BLACK, atol=1e-12)
    np.testing.assert_allclose(uplift[lit].sum(axis=1) + count[lit] * BLACK, max_count * BLACK, atol=1e-12)
    assert (uplift >= 0).all()


def test_black_uplift_mask_is_zero_where_most_projectors_overlap():
    dome = DomeModel(7.5)
    lens = Lens(throw_ratio=1.0)
    pair = [
        ProjectorModel("l", (0, 0, 0), -15.0, 30.0, 0.0, 400, 200, lens, black_level=BLACK),
        ProjectorModel("r", (0, 0, 0), 15.0, 30.0, 0.0, 400, 200, lens, black_level=BLACK),
    ]
    up = black_uplift_mask(dome, pair, (0, 0, 0), 0, 40, 20, max_count=2)
    assert up.dtype == np.float32
    np.testing.assert_allclose(up[10, 0], BLACK, atol=1e-9)  # left edge: only "l", raised by one black
    np.testing.assert_allclose(up[10, -1], 0.0, atol=1e-9)  # right edge: inside "r" too


def test_bad_blend_inputs_raise_clear_errors(hall):
    dome, projectors, eye = hall
    with pytest.raises(WarpModelError, match=r"gamma = 0: must be > 0"):
        encode_mask(np.zeros((2, 2)), 0)
    with pytest.raises(WarpModelError, match=r"within \[0, 1\]"):
        encode_mask(np.full((2, 2), 1.5), 2.2)
    with pytest.raises(WarpModelError, match="expected uint16"):
        decode_mask(np.zeros((2, 2), dtype=np.uint8), 2.2)
    with pytest.raises(WarpModelError, match=r"index = 12: must be in \[0, 12\)"):
        blend_mask(dome, projectors, eye, 12, 8, 4)
    with pytest.raises(WarpModelError, match="2 images for 12 projectors"):
        reconstruct_domemaster(dome, projectors, eye, [np.zeros((2, 2))] * 2, 8)
