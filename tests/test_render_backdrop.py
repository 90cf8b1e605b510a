"""Backdrop layers (render/backdrop.py): daylight, the Milky Way, the landscape, against their numpy twins."""

from __future__ import annotations

import numpy as np
import pytest

from domectl.projection import (
    altaz_to_enu,
    dome_from_enu,
    enu_to_altaz,
    fisheye_dir,
    fisheye_uv,
    pixel_to_uv,
    rot_x,
    rot_z,
    uv_to_pixel,
)
from domectl.skydata import radec_to_icrs
from render.backdrop import (
    ASTRONOMICAL_TWILIGHT_DEG,
    GALACTIC_FROM_ICRS,
    LUMA,
    MILKY_WAY_PEAK,
    MILKY_WAY_RGB,
    DaylightLayer,
    LandscapeLayer,
    MilkyWayLayer,
    fisheye_dir_grad,
    ground_rgb_linear,
    landscape_alt_deg,
    landscape_coverage,
    milky_way_intensity,
    milky_way_map,
    night_factor,
    sky_radiance_linear,
    twilight_limiting_mag,
)
from render.context import release_framebuffers
from render.grids import GridLayer
from render.image import read_rgb
from render.layers import LayerView

GAMMA = 2.2
#: GL (float32) vs the numpy twin (float64), in 8-bit levels of the encoded output.
TWIN_TOLERANCE_LEVELS = 2
#: A slice and the same pixels of the full render: the same arithmetic, float rounding only.
SLICE_TOLERANCE_LEVELS = 2
#: Pixels this close to the springline are inside the rim margin: left out of whole-disc checks.
RIM_GUARD_R = 0.49

GALACTIC_CENTRE_RADEC = (266.40, -28.94)
GALACTIC_NORTH_POLE_RADEC = (192.86, 27.13)


def draw(ctx, view: LayerView, *draws, clear=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Draw (layer, name, opacity) in order into a fresh RGBA8 target: (H, W, 3) uint8, top row first."""
    texture = ctx.texture(view.size_px, 4)
    fbo = ctx.framebuffer(color_attachments=[texture])
    try:
        fbo.use()
        ctx.viewport = (0, 0, *view.size_px)
        fbo.clear(*clear, 1.0)
        for layer, name, opacity in draws:
            layer.draw(view, name, opacity)
        return read_rgb(fbo).copy()
    finally:
        release_framebuffers(ctx, fbo)
        texture.release()


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(uv (S*S, 2), dome directions (S*S, 3)) of a whole domemaster's pixel centres, row-major from the top."""
    rows, cols = np.mgrid[0:size, 0:size]
    uv = pixel_to_uv(np.stack([cols.ravel(), rows.ravel()], axis=-1), size)
    return uv, fisheye_dir(uv)


def inside_disc(uv: np.ndarray, r: float = RIM_GUARD_R) -> np.ndarray:
    return np.hypot(uv[:, 0] - 0.5, uv[:, 1] - 0.5) < r


def encode(linear: np.ndarray) -> np.ndarray:
    return np.round(255.0 * np.clip(linear, 0.0, 1.0) ** (1.0 / GAMMA))


def decode(rgb: np.ndarray) -> np.ndarray:
    return (np.asarray(rgb, dtype=np.float64) / 255.0) ** GAMMA


def a_view(size: int, dome_from_enu_m: np.ndarray, enu_from_icrs: np.ndarray | None = None, *,
           sun_alt_deg: float = -40.0, sun_az_deg: float = 180.0, rect=(0.0, 0.0, 1.0, 1.0), size_px=None,
           landscape: np.ndarray | None = None) -> LayerView:
    """A whole domemaster (or the slice ``rect`` at ``size_px``); ICRS = ENU unless given; flat horizon."""
    return LayerView(
        rect_uv=rect, size_px=size_px or (size, size), dome_from_enu=dome_from_enu_m,
        enu_from_icrs=np.eye(3) if enu_from_icrs is None else enu_from_icrs,
        sun_enu=altaz_to_enu(sun_alt_deg, sun_az_deg), sun_alt_deg=sun_alt_deg,
        landscape_alt_deg=np.zeros(0) if landscape is None else landscape,
    )


# --- daylight ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sun_alt_deg, sun_az_deg", [(40.0, 100.0), (4.0, 250.0), (-3.0, 120.0), (-11.0, 200.0)])
def test_daylight_matches_the_numpy_twin(gl_ctx, sun_alt_deg, sun_az_deg):
    size, opacity = 96, 0.8
    view_m = dome_from_enu(100.0, 20.0, 15.0)  # tilted, turned: the horizon crosses the disc
    view = a_view(size, view_m, sun_alt_deg=sun_alt_deg, sun_az_deg=sun_az_deg)
    layer = DaylightLayer(gl_ctx)
    try:
        image = draw(gl_ctx, view, (layer, "daylight", opacity)).reshape(-1, 3).astype(int)
    finally:
        layer.release()
    uv, dome = pixel_grid(size)
    expected = encode(opacity * sky_radiance_linear(dome @ view_m, view.sun_enu))
    inside = inside_disc(uv)
    assert np.abs(image - expected)[inside].max() <= TWIN_TOLERANCE_LEVELS
    assert image[inside].max() > 20  # the test sees a sky
    # Past the springline (and its margin) nothing is drawn.
    assert image[~inside_disc(uv, 0.503)].max() == 0


def zenith_and_mean(sun_alt_deg: float) -> tuple[np.ndarray, float]:
    dirs = altaz_to_enu(np.repeat([5.0, 20.0, 45.0, 70.0, 90.0], 12), np.tile(np.arange(0.0, 360.0, 30.0), 5))
    rgb = sky_radiance_linear(dirs, altaz_to_enu(sun_alt_deg, 270.0))
    return rgb[-1], float(rgb.mean())


def test_twilight_darkens_monotonically_and_is_black_from_minus_18(gl_ctx):
    altitudes = [30.0, 10.0, 3.0, 0.0, -2.0, -4.0, -6.0, -9.0, -12.0, -15.0, -17.0, -17.9]
    means = [zenith_and_mean(h)[1] for h in altitudes]
    assert np.all(np.diff(means) < 0.0), means
    # Every direction's luminance too, once the Sun has set (its colour may shift: the glow
    # low toward the Sun turns from red to orange as the Earth's shadow takes the lowest air).
    dirs = altaz_to_enu(np.repeat([0.0, 10.0, 40.0, 89.0], 8), np.tile(np.arange(0.0, 360.0, 45.0), 4))
    below = [sky_radiance_linear(dirs, altaz_to_enu(h, 270.0)) @ LUMA for h in altitudes[3:]]
    assert np.all(np.diff(np.stack(below), axis=0) < 0.0)
    # The GL layer agrees: a dome's mean brightness falls, and is exactly black from -18 deg.
    layer = DaylightLayer(gl_ctx)
    try:
        gl_means = []
        for h in (0.0, -6.0, -12.0, -17.0, ASTRONOMICAL_TWILIGHT_DEG, -25.0):
            image = draw(gl_ctx, a_view(48, np.eye(3), sun_alt_deg=h, sun_az_deg=270.0), (layer, "daylight", 1.0))
            gl_means.append(decode(image).mean())
    finally:
        layer.release()
    assert np.all(np.diff(gl_means[:4]) < 0.0), gl_means
    assert gl_means[4] == gl_means[5] == 0.0


def test_sky_colours_by_day_and_at_sunset():
    # Day: a blue sky, brighter toward the horizon and toward the Sun.
    sun = altaz_to_enu(40.0, 180.0)
    zenith, horizon_side, near_sun = sky_radiance_linear(altaz_to_enu([90.0, 5.0, 45.0], [0.0, 90.0, 175.0]), sun)
    assert zenith[2] > 1.5 * zenith[0]
    assert horizon_side.sum() > zenith.sum()
    assert near_sun.sum() > zenith.sum()
    # Sunset: redder low toward the Sun than opposite it; the zenith stays bluish.
    sun = altaz_to_enu(1.0, 270.0)
    toward, opposite, zenith = sky_radiance_linear(altaz_to_enu([5.0, 5.0, 90.0], [270.0, 90.0, 0.0]), sun)
    assert toward[0] / toward[2] > 2.0 * opposite[0] / opposite[2]
    assert toward[0] > toward[1] > toward[2]
    assert zenith[2] > zenith[0]
    # Nautical twilight: a deep blue zenith, dark.
    zenith, _ = zenith_and_mean(-8.0)
    assert zenith[2] > 3.0 * zenith[0] and zenith.max() < 0.06


def test_twilight_limiting_magnitude():
    for night in (6.5, 5.0):
        assert twilight_limiting_mag(-18.0, night) == pytest.approx(night, abs=1e-9)
        assert twilight_limiting_mag(-40.0, night) == pytest.approx(night, abs=1e-9)
    altitudes = np.arange(-20.0, 60.0, 0.5)
    limits = np.array([twilight_limiting_mag(h, 6.5) for h in altitudes])
    assert np.all(np.diff(limits) <= 1e-12)
    assert 4.0 < twilight_limiting_mag(-12.0, 6.5) < 5.5   # nautical twilight ends: most stars
    assert 1.0 < twilight_limiting_mag(-3.0, 6.5) < 2.5    # civil twilight: the brightest stars
    assert -1.5 < twilight_limiting_mag(0.0, 6.5) < 0.5    # sunset: Venus, Jupiter, Sirius
    assert -4.2 < twilight_limiting_mag(30.0, 6.5) < -3.0  # day: only Venus-class objects
    assert twilight_limiting_mag(30.0, 5.0) == pytest.approx(twilight_limiting_mag(30.0, 6.5), abs=0.01)


def test_night_factor():
    assert night_factor(-18.0) == night_factor(-60.0) == 1.0
    assert night_factor(-12.0) < 0.2
    assert night_factor(0.0) < 1e-5
    factors = [night_factor(h) for h in np.arange(-20.0, 10.0, 0.5)]
    assert np.all(np.diff(factors) <= 0.0)


def test_daylight_opacity_scales_linear_light(gl_ctx):
    layer = DaylightLayer(gl_ctx)
    view = a_view(48, np.eye(3), sun_alt_deg=20.0)
    try:
        full = decode(draw(gl_ctx, view, (layer, "daylight", 1.0)))
        half = decode(draw(gl_ctx, view, (layer, "daylight", 0.5)))
        none = draw(gl_ctx, view, (layer, "daylight", 0.0))
    finally:
        layer.release()
    lit = full > 0.05
    assert np.allclose(half[lit] / full[lit], 0.5, atol=0.03)
    assert none.max() == 0


# --- Milky Way --------------------------------------------------------------------------------


def galaxy_view(size: int, rect=(0.0, 0.0, 1.0, 1.0), size_px=None, *, lon_deg: float = 0.0,
                turn_deg: float = 30.0) -> LayerView:
    """Night; galactic (lon_deg, 0) at the dome zenith, the galactic plane across the dome, turned by turn_deg."""
    # Dome axes in galactic coordinates: x along the plane (l + 90), y the north galactic pole, z = (l, 0).
    dome_from_galactic = rot_z(np.radians(turn_deg)) @ np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    dome_from_galactic = dome_from_galactic @ rot_z(-np.radians(lon_deg))
    return a_view(size, np.eye(3), dome_from_galactic @ GALACTIC_FROM_ICRS, sun_alt_deg=-30.0, rect=rect, size_px=size_px)


def test_milky_way_is_brighter_along_the_plane_than_at_the_pole(gl_ctx):
    size = 128
    # The galactic centre and the north galactic pole both high on the dome.
    centre, pole = radec_to_icrs([GALACTIC_CENTRE_RADEC, GALACTIC_NORTH_POLE_RADEC])
    middle = (centre + pole) / np.linalg.norm(centre + pole)
    x = np.cross(pole, centre)
    enu_from_icrs = np.stack([x / np.linalg.norm(x), np.cross(middle, x / np.linalg.norm(x)), middle])
    view = a_view(size, np.eye(3), enu_from_icrs)
    layer = MilkyWayLayer(gl_ctx, peak=CLOSE_UP_PEAK)
    try:
        image = decode(draw(gl_ctx, view, (layer, "milky-way", 1.0))).sum(axis=-1)
    finally:
        layer.release()
    (cc, cr), (pc, pr) = np.round(uv_to_pixel(fisheye_uv(np.stack([centre, pole]) @ enu_from_icrs.T), size)).astype(int)
    at_centre = image[cr - 1:cr + 2, cc - 1:cc + 2].mean()
    at_pole = image[pr - 1:pr + 2, pc - 1:pc + 2].mean()
    assert at_centre > 0.3 * MILKY_WAY_PEAK * sum(MILKY_WAY_RGB)
    assert at_pole < 0.02 * at_centre
    # The map itself: the galactic centre among the brightest, the poles dark.
    assert milky_way_intensity(np.array([centre]))[0] > 0.4
    assert milky_way_intensity(np.array([pole]))[0] < 1e-3


CLOSE_UP_PEAK = 0.035


def close_up(ctx, lon_deg: float, size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """GL and twin (S*S, 3) encoded pixels of a close-up (~0.06 deg per pixel, finer than the map)
    of the galactic plane at lon_deg, and the pixels' galactic longitudes (deg)."""
    rect = (0.45, 0.45, 0.55, 0.55)
    view = galaxy_view(size, rect=rect, size_px=(size, size), lon_deg=lon_deg)
    # A bright setting so that 8-bit rounding is small next to the band (the default is fainter).
    layer = MilkyWayLayer(ctx, peak=CLOSE_UP_PEAK)
    try:
        image = draw(ctx, view, (layer, "milky-way", 1.0)).reshape(-1, 3).astype(int)
    finally:
        layer.release()
    rows, cols = np.mgrid[0:size, 0:size]
    uv = np.stack([rect[0] + (cols.ravel() + 0.5) / size * (rect[2] - rect[0]),
                   rect[3] - (rows.ravel() + 0.5) / size * (rect[3] - rect[1])], axis=-1)
    icrs = fisheye_dir(uv) @ view.dome_from_icrs
    expected = encode(milky_way_intensity(icrs)[:, None] * (CLOSE_UP_PEAK * np.array(MILKY_WAY_RGB)))
    g = icrs @ GALACTIC_FROM_ICRS.T
    return image, expected, np.degrees(np.arctan2(g[:, 1], g[:, 0]))


@pytest.mark.parametrize("lon_deg", [0.0, 180.0], ids=["centre", "anticentre"])
def test_milky_way_matches_the_twin(gl_ctx, lon_deg):
    # The galactic centre: the brightest; the anticentre: where the longitude wraps in the
    # shader (atan2 jumps from +180 to -180): pixels on that seam are as right as the others.
    image, expected, gal_lon = close_up(gl_ctx, lon_deg)
    error = np.abs(image - expected).max(axis=-1)
    assert expected.max() > (40 if lon_deg == 0.0 else 15)  # the band is in view
    assert error.max() <= TWIN_TOLERANCE_LEVELS
    if lon_deg == 180.0:
        assert (np.abs(np.abs(gal_lon) - 180.0) < 0.15).sum() > 160  # the seam crosses the view


def test_milky_way_has_no_seam_at_dome_scale(gl_ctx):
    # At 1.4 deg per pixel the map is read from a coarse level: pixels on the longitude's
    # wrap (l = 180) must pick the same level as their neighbours, else the coarsest level's
    # average shows as a line across the band.
    size = 128
    view = galaxy_view(size, lon_deg=180.0)
    layer = MilkyWayLayer(gl_ctx, peak=CLOSE_UP_PEAK)
    try:
        image = decode(draw(gl_ctx, view, (layer, "milky-way", 1.0))).sum(axis=-1).ravel()
    finally:
        layer.release()
    uv, dome = pixel_grid(size)
    g = (dome @ view.dome_from_icrs) @ GALACTIC_FROM_ICRS.T
    from_seam_deg = 180.0 - np.abs(np.degrees(np.arctan2(g[:, 1], g[:, 0])))
    lat_deg = np.degrees(np.arcsin(np.clip(g[:, 2], -1, 1)))
    band = (np.abs(lat_deg) < 3.0) & inside_disc(uv, 0.3)
    seam = band & (from_seam_deg < 1.0)
    beside = band & (np.abs(from_seam_deg - 3.0) < 1.0)
    assert seam.sum() >= 4 and beside.sum() >= 4
    assert image[beside].mean() > 0.002  # the band is in view
    assert image[seam].mean() == pytest.approx(image[beside].mean(), rel=0.25)


def test_milky_way_fades_by_day_and_with_opacity(gl_ctx):
    layer = MilkyWayLayer(gl_ctx, peak=CLOSE_UP_PEAK)
    try:
        night = decode(draw(gl_ctx, galaxy_view(64), (layer, "milky-way", 1.0)))
        half = decode(draw(gl_ctx, galaxy_view(64), (layer, "milky-way", 0.5)))
        view = galaxy_view(64)
        day = draw(gl_ctx, LayerView(**{**view.__dict__, "sun_enu": altaz_to_enu(10.0, 90.0), "sun_alt_deg": 10.0}),
                   (layer, "milky-way", 1.0))
    finally:
        layer.release()
    lit = night > 0.01
    assert lit.sum() > 100
    assert np.allclose(half[lit] / night[lit], 0.5, atol=0.06)
    assert day.max() == 0


def test_milky_way_map_fills_rings_across_the_seam():
    from render.backdrop import fill_rings

    # A square straddling lon 0 and a band all round the sphere between lat -10 and +5.
    square = np.array([[350.0, -20.0], [10.0, -20.0], [10.0, 20.0], [350.0, 20.0]])
    mask = fill_rings([square], (360, 180))
    assert mask[90, 0] and mask[90, 359] and not mask[90, 20] and not mask[90, 339]
    assert mask[:, 5].sum() == 40
    lon = np.arange(0.0, 360.0, 7.0)
    band = [np.stack([lon, np.full_like(lon, 5.0)], -1), np.stack([lon[::-1], np.full_like(lon, -10.0)], -1)]
    mask = fill_rings(band, (360, 180))
    assert np.all(mask[81:95]) and not mask[:80].any() and not mask[95:].any()
    m = milky_way_map()
    assert m.shape == (1024, 2048) and 0.0 <= m.min() and m.max() <= 1.0


# --- landscape --------------------------------------------------------------------------------


def a_profile() -> np.ndarray:
    az = np.arange(72) * 5.0
    return 4.0 + 3.0 * np.sin(np.radians(3.0 * az)) + 12.0 * np.exp(-(((az - 200.0 + 180.0) % 360.0 - 180.0) / 12.0) ** 2)


@pytest.mark.parametrize("profile", [a_profile(), np.zeros(0)], ids=["hills", "flat"])
def test_landscape_hides_what_is_below_the_silhouette(gl_ctx, profile):
    size = 128
    view_m = dome_from_enu(200.0, 35.0, 10.0)  # looking up: the horizon well inside the disc
    view = a_view(size, view_m, landscape=profile)
    layer = LandscapeLayer(gl_ctx)
    try:
        image = draw(gl_ctx, view, (layer, "landscape", 1.0), clear=(1.0, 1.0, 1.0)).reshape(-1, 3).astype(int)
        half = draw(gl_ctx, view, (layer, "landscape", 0.5), clear=(1.0, 1.0, 1.0)).reshape(-1, 3).astype(int)
    finally:
        layer.release()
    uv, _ = pixel_grid(size)
    dome, d_dx, d_dy = fisheye_dir_grad(uv, (1.0 / size, 1.0 / size))
    alt, az = enu_to_altaz(dome @ view_m)
    depth_deg = landscape_alt_deg(az, profile) - alt
    inside = inside_disc(uv)
    ground = inside & (depth_deg > 1.0 * 180.0 / size)  # a pixel or more below the silhouette
    sky = inside & (depth_deg < -1.0 * 180.0 / size)
    assert ground.sum() > 1000 and sky.sum() > 1000
    colour = encode(ground_rgb_linear(-40.0))  # night: black
    assert np.abs(image[ground] - colour).max() <= 1
    assert image[sky].min() == 255
    # The antialiased edge, pixel by pixel ("over" on white, display-encoded).
    coverage = landscape_coverage(dome, d_dx, d_dy, view_m.T, profile)
    expected = np.round(255.0 * (1.0 - coverage))[:, None] + coverage[:, None] * colour
    assert np.abs(image - expected)[inside].max() <= TWIN_TOLERANCE_LEVELS
    assert np.sum(inside & (coverage > 0.1) & (coverage < 0.9)) > 50  # there is an edge
    # Half opacity: half of the white shows through.
    expected_half = np.round(255.0 * (1.0 - 0.5 * coverage))[:, None] + 0.5 * coverage[:, None] * colour
    assert np.abs(half - expected_half)[inside].max() <= TWIN_TOLERANCE_LEVELS


def test_landscape_is_lit_by_day(gl_ctx):
    view = a_view(64, dome_from_enu(0.0, 45.0, 0.0), sun_alt_deg=40.0)
    layer = LandscapeLayer(gl_ctx)
    try:
        image = draw(gl_ctx, view, (layer, "landscape", 1.0))
    finally:
        layer.release()
    day = encode(ground_rgb_linear(40.0))
    assert np.any(np.all(np.abs(image.reshape(-1, 3) - day) <= 1, axis=-1))
    assert 10 < day.max() < 160  # lit, but darker than the sky: a silhouette
    assert encode(ground_rgb_linear(-30.0)).max() == 0


def test_landscape_profile_is_validated(gl_ctx):
    layer = LandscapeLayer(gl_ctx)
    try:
        with pytest.raises(ValueError, match="landscape_alt_deg must be a 1-D array of finite altitudes"):
            layer.draw(a_view(16, np.eye(3), landscape=np.array([1.0, np.nan])), "landscape", 1.0)
    finally:
        layer.release()


# --- slices -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sun_alt_deg, c0, r0", [(12.0, 22, 40), (-14.0, 21, 41)])
def test_a_slice_equals_the_same_pixels_of_the_full_render(gl_ctx, sun_alt_deg, c0, r0):
    size = 128
    view_m = dome_from_enu(30.0, 20.0, 12.0)
    enu_from_icrs = rot_x(0.6) @ rot_z(1.9)
    layers = [DaylightLayer(gl_ctx), MilkyWayLayer(gl_ctx), LandscapeLayer(gl_ctx), GridLayer(gl_ctx)]
    draws = [(layers[0], "daylight", 1.0), (layers[1], "milky-way", 1.0), (layers[2], "landscape", 0.9)]
    draws += [(layers[3], name, 0.8) for name in layers[3].names]
    try:
        full_view = a_view(size, view_m, enu_from_icrs, sun_alt_deg=sun_alt_deg, sun_az_deg=60.0, landscape=a_profile())
        full = draw(gl_ctx, full_view, *draws)
        # Columns c0..86 and rows (from the top) r0..111: rect edges on pixel edges, the
        # slice starting at an even or an odd pixel (no 2x2-quad derivative in any layer).
        c1, r1 = 86, 111
        rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
        part = draw(gl_ctx, LayerView(**{**full_view.__dict__, "rect_uv": rect, "size_px": (c1 - c0, r1 - r0)}), *draws)
    finally:
        for layer in layers:
            layer.release()
    expected = full[r0:r1, c0:c1]
    assert expected.std() > 5
    assert np.abs(part.astype(int) - expected.astype(int)).max() <= SLICE_TOLERANCE_LEVELS
