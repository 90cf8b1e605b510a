"""The warp + blend pass against numpy: gamma-correct weights, orientation, invalid cells, black-level uplift."""

from __future__ import annotations

import moderngl
import numpy as np
import pytest

from render.warp_pass import WarpPass, mesh_triangles, warp_shade

GAMMA = 2.2
#: 8-bit rounding of the GPU's float result vs numpy's float64 (one level either way).
LEVEL_TOLERANCE = 1


def encode(linear: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    return np.clip(np.round(255.0 * np.clip(linear, 0.0, 1.0) ** (1.0 / gamma)), 0, 255).astype(np.uint8)


def decode(encoded: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    return (encoded.astype(np.float64) / 255.0) ** gamma


def slice_texture(ctx, rgb_top_first: np.ndarray):
    """An RGBA8 slice texture from a top-row-first image (GL rows are bottom-up, v up)."""
    h, w, _ = rgb_top_first.shape
    rgba = np.concatenate([rgb_top_first, np.full((h, w, 1), 255, np.uint8)], axis=-1)
    texture = ctx.texture((w, h), 4, np.ascontiguousarray(rgba[::-1]).tobytes())
    texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
    return texture


def identity_mesh(width: int, height: int, rect=(0.0, 0.0, 1.0, 1.0), step_px: int = 8):
    """A mesh whose projector pixel (x, y) sees the slice texel under it: uv spans ``rect``."""
    xs = np.linspace(0.0, width, width // step_px + 1)
    ys = np.linspace(0.0, height, height // step_px + 1)
    gx, gy = np.meshgrid(xs, ys)
    grid_px = np.stack([gx, gy], axis=-1)
    u0, v0, u1, v1 = rect
    grid_uv = np.stack([u0 + (u1 - u0) * gx / width, v1 - (v1 - v0) * gy / height], axis=-1)
    return grid_px, grid_uv, np.ones(gx.shape, bool)


def test_identity_mesh_with_half_weight_is_gamma_correct(gl_ctx):
    w, h = 96, 64
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    grid_px, grid_uv, valid = identity_mesh(w, h)
    blend = np.full((h, w), 0.5, np.float32)
    texture = slice_texture(gl_ctx, image)
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, blend, GAMMA, (w, h))
    try:
        out = warp.draw(texture, (0.0, 0.0, 1.0, 1.0)).copy()
    finally:
        warp.release()
        texture.release()
    expected = encode(decode(image) * 0.5)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= LEVEL_TOLERANCE
    # Gamma matters: a naive half of the encoded value is far off.
    assert np.abs(out.astype(int) - image.astype(int) // 2).max() > 30


def test_blend_rows_and_columns_keep_their_orientation(gl_ctx):
    # A weight ramp across x and a step along y (top half 1, bottom half 0.25),
    # over a slice that is a sub-rectangle of the domemaster.
    w, h = 80, 48
    rect = (0.25, 0.40, 0.65, 0.64)
    image = np.full((h, w, 3), 200, np.uint8)
    image[: h // 2, : w // 2] = (255, 128, 0)  # top-left quadrant orange
    ramp = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    blend = np.where(np.arange(h)[:, None] < h // 2, 1.0, 0.25).astype(np.float32) * ramp
    grid_px, grid_uv, valid = identity_mesh(w, h, rect)
    texture = slice_texture(gl_ctx, image)
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, blend, GAMMA, (w, h))
    try:
        out = warp.draw(texture, rect).copy()
        again = warp.draw(texture, rect)  # the read-back buffer is reused
        assert np.array_equal(out, again)
    finally:
        warp.release()
        texture.release()
    expected = encode(decode(image) * blend[..., None])
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= LEVEL_TOLERANCE


def test_invalid_vertices_leave_black(gl_ctx):
    w, h = 64, 64
    image = np.full((h, w, 3), 255, np.uint8)
    grid_px, grid_uv, valid = identity_mesh(w, h, step_px=8)  # 9 x 9 vertices
    valid[:, :3] = False  # vertex columns 0..2 (x <= 16) invalid: cells up to x = 24 dropped
    texture = slice_texture(gl_ctx, image)
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, np.ones((h, w), np.float32), GAMMA, (w, h))
    try:
        out = warp.draw(texture, (0.0, 0.0, 1.0, 1.0)).copy()
    finally:
        warp.release()
        texture.release()
    assert out[:, :24].max() == 0
    assert out[:, 24:].min() == 255


def test_mesh_triangles_skip_cells_with_invalid_vertices():
    valid = np.ones((3, 4), bool)
    assert mesh_triangles(valid).shape == (2 * 2 * 3, 3)
    valid[1, 1] = False
    triangles = mesh_triangles(valid)
    assert 1 * 4 + 1 not in triangles
    assert len(triangles) == 12 - 6  # the 4 cells around vertex (1, 1): 6 of their 8 triangles touch it


def test_blend_shape_is_checked(gl_ctx):
    grid_px, grid_uv, valid = identity_mesh(32, 16)
    with pytest.raises(ValueError, match=r"blend_linear is \(32,\), expected a 2-D \(h, w\) mask"):
        WarpPass(gl_ctx, grid_px, grid_uv, valid, np.ones(32, np.float32), GAMMA, (32, 16))
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, np.ones((16, 32), np.float32), GAMMA, (32, 16))
    with pytest.raises(ValueError, match=r"blend_linear is \(8, 16\), expected \(16, 32\) as at creation"):
        warp.set_blend(np.ones((8, 16), np.float32))
    warp.release()


def test_a_coarser_blend_mask_is_interpolated(gl_ctx):
    """A mask at a quarter of the projector's resolution gives the same smooth ramp as a full one."""
    w, h = 64, 32
    grid_px, grid_uv, valid = identity_mesh(w, h)
    slice_tex = gl_ctx.texture((8, 8), 4, np.full((8, 8, 4), 200, np.uint8).tobytes())
    def ramp(width, height):
        # Weights sampled at pixel centres of a linear ramp across the image.
        x = (np.arange(width) + 0.5) / width
        return np.tile(x.astype(np.float32), (height, 1))
    full = WarpPass(gl_ctx, grid_px, grid_uv, valid, ramp(w, h), GAMMA, (w, h))
    coarse = WarpPass(gl_ctx, grid_px, grid_uv, valid, ramp(w // 4, h // 4), GAMMA, (w, h))
    a = full.draw(slice_tex, (0.0, 0.0, 1.0, 1.0)).astype(int).copy()
    b = coarse.draw(slice_tex, (0.0, 0.0, 1.0, 1.0)).astype(int)
    inner = slice(4, w - 4)   # away from the clamped outer half-texel of the coarse mask
    assert np.abs(a[:, inner] - b[:, inner]).max() <= 1
    for obj in (full, coarse, slice_tex):
        obj.release()


def test_the_shader_with_uplift_and_colour_matches_its_numpy_twin(gl_ctx):
    """A synthetic slice through weight and uplift ramps, a gain and a LUT: the GL pass against
    render.warp_pass.warp_shade, within one 8-bit level."""
    w, h = 96, 64
    rng = np.random.default_rng(11)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    image[:, : w // 4] = 0                                   # a black band: the uplift alone shows there
    x = (np.arange(w) + 0.5) / w
    y = (np.arange(h) + 0.5) / h
    blend = np.outer(1.0 - 0.8 * y, x).astype(np.float32)
    # Uplifts far above the hall's (0.006) so that 8-bit rounding cannot hide a wrong formula.
    uplift = np.outer(y, 1.0 - x).astype(np.float32) * 0.3
    gain = (0.9, 1.0, 0.7)
    lut = (np.linspace(0, 1, 9) ** 0.8, np.linspace(0, 1, 9), np.linspace(0, 1, 9) ** 1.3)
    grid_px, grid_uv, valid = identity_mesh(w, h)
    texture = slice_texture(gl_ctx, image)
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, blend, GAMMA, (w, h), uplift_linear=uplift)
    try:
        warp.set_colour(gain, lut)
        out = warp.draw(texture, (0.0, 0.0, 1.0, 1.0)).copy()
    finally:
        warp.release()
        texture.release()
    expected = np.round(255.0 * warp_shade(image / 255.0, blend, uplift, GAMMA, gain, lut)).astype(int)
    assert np.abs(out.astype(int) - expected).max() <= LEVEL_TOLERANCE
    # Without the uplift the black band would be black; with it, it is the (coloured) uplift.
    assert out[h // 2:, : w // 4].min() > 0
    no_uplift = np.round(255.0 * warp_shade(image / 255.0, blend, 0.0, GAMMA, gain, lut)).astype(int)
    assert np.abs(out.astype(int) - no_uplift).max() > 30


def test_uplift_lifts_black_and_keeps_white_white(gl_ctx):
    """Black content shows encode(uplift); full-weight white stays 255 whatever the uplift."""
    w, h = 64, 32
    grid_px, grid_uv, valid = identity_mesh(w, h)
    uplift = np.tile(np.linspace(0.0, 0.5, w, dtype=np.float32), (h, 1))
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, np.ones((h, w), np.float32), GAMMA, (w, h), uplift_linear=uplift)
    black = slice_texture(gl_ctx, np.zeros((8, 8, 3), np.uint8))
    white = slice_texture(gl_ctx, np.full((8, 8, 3), 255, np.uint8))
    try:
        dark = warp.draw(black, (0.0, 0.0, 1.0, 1.0)).copy()
        light = warp.draw(white, (0.0, 0.0, 1.0, 1.0)).copy()
        warp.set_blend(np.ones((h, w), np.float32))          # None: the uplift goes
        plain = warp.draw(black, (0.0, 0.0, 1.0, 1.0)).copy()
        assert not warp.has_uplift
    finally:
        for obj in (warp, black, white):
            obj.release()
    assert np.abs(dark.astype(int) - encode(np.repeat(uplift[..., None], 3, axis=-1)).astype(int)).max() <= LEVEL_TOLERANCE
    assert light.min() == 255
    assert plain.max() == 0


def test_uplift_shape_and_range_are_checked(gl_ctx):
    grid_px, grid_uv, valid = identity_mesh(32, 16)
    ones = np.ones((16, 32), np.float32)
    with pytest.raises(ValueError, match=r"uplift_linear is \(8, 16\), expected \(16, 32\) \(the blend mask's texels\)"):
        WarpPass(gl_ctx, grid_px, grid_uv, valid, ones, GAMMA, (32, 16), uplift_linear=np.zeros((8, 16)))
    warp = WarpPass(gl_ctx, grid_px, grid_uv, valid, ones, GAMMA, (32, 16))
    try:
        for bad in (np.full((16, 32), 1.0), np.full((16, 32), -0.01), np.full((16, 32), np.nan)):
            with pytest.raises(ValueError, match=r"uplift_linear must be finite and in \[0, 1\)"):
                warp.set_blend(ones, bad)
    finally:
        warp.release()
