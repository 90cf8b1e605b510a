"""Grid layers (render/grids.py): lines where the numpy twin's coordinates say, a constant width in pixels."""

from __future__ import annotations

import numpy as np
import pytest

from domectl.projection import (
    altaz_to_enu,
    dome_from_enu,
    fisheye_dir,
    pixel_to_uv,
    rot_x,
    rot_z,
    unzoom_dir_grad,
)
from render.backdrop import fisheye_dir_grad
from render.context import release_framebuffers
from render.grids import (
    GRID_STYLES,
    OBLIQUITY_J2000_DEG,
    GridLayer,
    GridStyle,
    ecliptic_from_icrs,
    grid_coordinates_deg,
    grid_degrees_per_px,
    grid_frame,
    grid_line_offset_deg,
)
from render.image import read_rgb
from render.layers import LayerView

#: GL (float32) vs twin (float64) line coverage, alpha in 0..1 (measured on llvmpipe: 0.003).
COVERAGE_TOLERANCE = 0.01
#: A lit pixel's centre is at most half a pixel, plus this, beyond the edge of its line.
POSITION_TOLERANCE_PX = 0.05


def draw(ctx, view: LayerView, layer, names, opacity: float = 1.0) -> np.ndarray:
    """Draw grid layers on black: (H, W, 3) uint8, top row first."""
    texture = ctx.texture(view.size_px, 4)
    fbo = ctx.framebuffer(color_attachments=[texture])
    try:
        fbo.use()
        ctx.viewport = (0, 0, *view.size_px)
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        for name in names:
            layer.draw(view, name, opacity)
        return read_rgb(fbo).copy()
    finally:
        release_framebuffers(ctx, fbo)
        texture.release()


def a_view(size: int, dome_from_enu_m: np.ndarray, enu_from_icrs: np.ndarray) -> LayerView:
    return LayerView(rect_uv=(0.0, 0.0, 1.0, 1.0), size_px=(size, size), dome_from_enu=dome_from_enu_m,
                     enu_from_icrs=enu_from_icrs)


def alpha_of(image: np.ndarray, style: GridStyle) -> np.ndarray:
    """Line alpha per pixel, (H*W,), from the "over" colour on black: encoded = rgb * alpha."""
    channel = int(np.argmax(style.rgb))
    return image.reshape(-1, 3)[:, channel] / (255.0 * style.rgb[channel])


def twin_coverage(size: int, view: LayerView, name: str, style: GridStyle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel of a whole domemaster: (expected alpha, distance to the nearest line's edge in px, lat deg).

    Through the view's zoom: each pixel shows the sky direction ``unzoom_dir_grad`` gives.
    """
    rows, cols = np.mgrid[0:size, 0:size]
    uv = pixel_to_uv(np.stack([cols.ravel(), rows.ravel()], axis=-1), size)
    dome, d_dx, d_dy = unzoom_dir_grad(*fisheye_dir_grad(uv, (1.0 / size, 1.0 / size)), view.zoom)
    frame = grid_frame(name, view.enu_from_icrs)
    lon, lat = grid_coordinates_deg(dome @ view.dome_from_enu, frame)
    lon_per_px, lat_per_px = grid_degrees_per_px(dome, d_dx, d_dy, frame @ view.dome_from_enu.T)
    lat_off, lon_off = grid_line_offset_deg(lon, lat, style)
    lat_px, lon_px = lat_off / lat_per_px, lon_off / lon_per_px
    # Which latitude line is nearest decides its width and alpha (the equator may differ).
    k_lat = np.round(lat / style.lat_step_deg) if style.lat_step_deg else np.zeros_like(lat)
    on_equator = (k_lat == 0) & (style.equator_width_px > 0)
    lat_width = np.where(on_equator, style.equator_width_px, style.width_px)
    lat_alpha = np.where(on_equator, style.equator_alpha, style.alpha)
    cover = np.maximum(lat_alpha * np.clip(0.5 * lat_width + 0.5 - lat_px, 0.0, 1.0),
                       style.alpha * np.clip(0.5 * style.width_px + 0.5 - lon_px, 0.0, 1.0))
    distance = np.minimum(lat_px - 0.5 * lat_width, lon_px - 0.5 * style.width_px)
    return cover, distance, lat


def test_the_inverse_projections_derivatives_match_finite_differences():
    rng = np.random.default_rng(5)
    uv = np.concatenate([rng.uniform(0.0, 1.0, (500, 2)), [[0.5, 0.5], [0.5 + 1e-7, 0.5], [0.5, 0.9]]])
    step = (2e-4, 3e-4)  # a (u, v) step per pixel, unequal on purpose
    dirs, d_dx, d_dy = fisheye_dir_grad(uv, step)
    assert np.allclose(dirs, fisheye_dir(uv), atol=1e-12)
    h = 1e-3  # of a pixel
    for axis, grad in ((0, d_dx), (1, d_dy)):
        offset = np.zeros(2)
        offset[axis] = h * step[axis]
        numeric = (fisheye_dir(uv + offset) - fisheye_dir(uv - offset)) / (2 * h)
        assert np.allclose(grad, numeric, atol=1e-8)


@pytest.mark.parametrize("name", list(GRID_STYLES))
def test_grid_lines_lie_where_the_twin_says(gl_ctx, name):
    size = 192
    view = a_view(size, dome_from_enu(70.0, 25.0, 12.0), rot_x(0.9) @ rot_z(2.3) @ rot_x(-0.4))
    style = GRID_STYLES[name]
    layer = GridLayer(gl_ctx)
    try:
        alpha = alpha_of(draw(gl_ctx, view, layer, [name]), style)
    finally:
        layer.release()
    expected, distance, _ = twin_coverage(size, view, name, style)
    rows, cols = np.mgrid[0:size, 0:size]
    uv = pixel_to_uv(np.stack([cols.ravel(), rows.ravel()], axis=-1), size)
    checked = np.hypot(uv[:, 0] - 0.5, uv[:, 1] - 0.5) < 0.49  # inside the rim's margin
    lit = checked & (alpha > 0.1)
    assert lit.sum() > 200
    # Every lit pixel touches a line of the twin...
    assert distance[lit].max() <= 0.5 + POSITION_TOLERANCE_PX
    # ... with the coverage the twin gives it, and every pixel on a line is lit.
    assert np.abs(alpha - expected)[checked].max() <= COVERAGE_TOLERANCE
    assert alpha[checked & (distance < -0.4)].min() > 0.5 * style.alpha


def test_equatorial_lines_are_at_multiples_of_10_deg_of_dec_and_1h_of_ra():
    icrs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    enu_from_icrs = rot_x(0.3) @ rot_z(1.1)
    lon, lat = grid_coordinates_deg(icrs @ enu_from_icrs.T, grid_frame("grid-equatorial", enu_from_icrs))
    assert np.allclose(lon[:2], [0.0, 90.0]) and np.allclose(lat, [0.0, 0.0, 90.0])
    # Ecliptic: the north ecliptic pole at RA 18h, dec 90 - obliquity.
    nep = ecliptic_from_icrs().T @ [0.0, 0.0, 1.0]
    assert np.degrees(np.arcsin(nep[2])) == pytest.approx(90.0 - OBLIQUITY_J2000_DEG)
    assert np.degrees(np.arctan2(nep[1], nep[0])) % 360.0 == pytest.approx(270.0)
    # Alt-az: (azimuth from north through east, altitude).
    lon, lat = grid_coordinates_deg(altaz_to_enu([30.0, 10.0], [90.0, 200.0]), grid_frame("grid-altaz", np.eye(3)))
    assert np.allclose(lon % 360.0, [90.0, 200.0]) and np.allclose(lat, [30.0, 10.0])
    with pytest.raises(ValueError, match="unknown grid layer 'grid-galactic'"):
        grid_frame("grid-galactic", np.eye(3))


def test_line_width_is_constant_in_pixels(gl_ctx):
    # Altitude circles alone (no azimuth lines to cross them): the alpha summed over an
    # annulus round a circle, divided by its length in pixels, is the line's width.
    size = 256
    style = GridStyle(10.0, 0.0, (1.0, 1.0, 1.0), alpha=1.0, width_px=1.5)
    layer = GridLayer(gl_ctx, styles={name: style for name in GRID_STYLES})
    view = a_view(size, np.eye(3), np.eye(3))
    try:
        alpha = alpha_of(draw(gl_ctx, view, layer, ["grid-altaz"]), style).reshape(size, size)
    finally:
        layer.release()
    rows, cols = np.mgrid[0:size, 0:size]
    radius_px = np.hypot(cols + 0.5 - size / 2, rows + 0.5 - size / 2)
    widths = {}
    for alt in (80.0, 50.0, 10.0):
        circle_px = (90.0 - alt) / 180.0 * size
        annulus = np.abs(radius_px - circle_px) < 4.0
        widths[alt] = alpha[annulus].sum() / (2.0 * np.pi * circle_px)
    assert widths[80.0] == pytest.approx(1.5, abs=0.15)  # 14 px from the zenith
    assert widths[10.0] == pytest.approx(1.5, abs=0.15)  # 114 px, near the rim
    assert widths[80.0] == pytest.approx(widths[10.0], abs=0.1)
    assert widths[50.0] == pytest.approx(widths[10.0], abs=0.1)


def test_meridians_thin_out_near_the_pole(gl_ctx):
    # The north celestial pole at the dome zenith: dec circles are centred circles, RA lines radial.
    size = 256
    style = GridStyle(0.0, 15.0, (1.0, 1.0, 1.0), alpha=1.0)
    layer = GridLayer(gl_ctx, styles={name: style for name in GRID_STYLES})
    view = a_view(size, np.eye(3), np.eye(3))  # ICRS = ENU: the pole (z) at the zenith
    try:
        alpha = alpha_of(draw(gl_ctx, view, layer, ["grid-equatorial"]), style).reshape(size, size)
    finally:
        layer.release()

    def lines_crossed(dec_deg: float) -> int:
        radius_px = (90.0 - dec_deg) / 180.0 * size
        angle = np.linspace(0.0, 2.0 * np.pi, 2000, endpoint=False)
        col = np.round(size / 2 + radius_px * np.cos(angle) - 0.5).astype(int)
        row = np.round(size / 2 - radius_px * np.sin(angle) - 0.5).astype(int)
        on = alpha[row, col] > 0.5
        return int(np.sum(on & ~np.roll(on, 1)))

    assert lines_crossed(60.0) == 24  # every hour of RA
    assert lines_crossed(84.0) == 4   # within 10 deg of the pole: 0h, 6h, 12h, 18h only


def test_opacity_scales_and_the_ecliptic_is_stronger(gl_ctx):
    size = 128
    view = a_view(size, dome_from_enu(180.0, 30.0, 0.0), rot_x(0.5) @ rot_z(0.7))
    layer = GridLayer(gl_ctx)
    try:
        full = draw(gl_ctx, view, layer, ["grid-ecliptic"], 1.0).astype(int)
        half = draw(gl_ctx, view, layer, ["grid-ecliptic"], 0.5).astype(int)
    finally:
        layer.release()
    lit = full > 40
    assert np.abs(half[lit] - 0.5 * full[lit]).max() <= 1.0
    style = GRID_STYLES["grid-ecliptic"]
    alpha = alpha_of(full.astype(np.uint8), style)
    _, _, lat = twin_coverage(size, view, "grid-ecliptic", style)
    near_ecliptic = np.abs(lat) < 1.0
    near_other = np.abs(np.abs(lat) - 20.0) < 1.0
    assert alpha[near_ecliptic].max() > 0.95 and alpha[near_other].max() <= style.alpha + 0.02


def test_grid_layer_needs_a_style_for_every_name(gl_ctx):
    with pytest.raises(ValueError, match=r"GridLayer styles lack \['meridian', 'horizon'\]"):
        GridLayer(gl_ctx, styles={name: GRID_STYLES[name] for name in list(GRID_STYLES)[:3]})
