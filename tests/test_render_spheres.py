"""Lit spheres (render/spheres.py): the GL ray cast against its numpy twin, the phase, the texture's
orientation, a sphere filling most of the sky, and the discs left out for bodies drawn as spheres."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_render_sky import body, catalog

from domectl.frame import SphereView
from domectl.projection import (
    altaz_to_enu,
    dome_from_enu,
    fisheye_uv,
    rot_x,
    uv_to_pixel,
)
from render.compose import DomeRenderer
from render.layers import LayerView
from render.sky import SkyParams
from render.spheres import (
    SPHERE_MIN_RADIUS_PX,
    UNTEXTURED_ALBEDO,
    sphere_pixels,
    sphere_placements,
)

GAMMA = 2.2
#: The GL ray cast and its numpy twin: lit areas (pixels over LIT_LEVEL) overlap this much.
MIN_LIT_IOU = 0.97
#: Per-pixel difference from the twin, 8-bit levels (float32 vs float64, texture-free).
TWIN_TOLERANCE_LEVELS = 3
#: A pixel is lit when its brightest channel is above this (8-bit, display-encoded).
LIT_LEVEL = 40
IDENTITY = tuple(np.eye(3).ravel())


def sphere(name: str, centre_enu, radius_m: float, sun_dir, *, polar_ratio: float = 1.0,
           body_from_enu=IDENTITY) -> SphereView:
    return SphereView(name, tuple(float(x) for x in centre_enu), float(radius_m), float(polar_ratio),
                      tuple(float(x) for x in np.asarray(body_from_enu).ravel()),
                      tuple(float(x) for x in np.asarray(sun_dir, dtype=np.float64) / np.linalg.norm(sun_dir)))


def dome_view(size: int = 256, *, eye: int = 0, separation_m: float = 0.0, spheres=(), models=(), orbits=(),
              bodies=(), sun_enu=(0.0, 0.0, 0.0), zoom: float = 1.0, view_az_deg: float = 180.0,
              view_alt_deg: float = 0.0, tilt_deg: float = 0.0, rect_uv=(0.0, 0.0, 1.0, 1.0),
              size_px: tuple[int, int] | None = None) -> LayerView:
    dome = dome_from_enu(view_az_deg, view_alt_deg, tilt_deg)
    return LayerView(rect_uv=tuple(rect_uv), size_px=size_px or (size, size), dome_from_enu=dome,
                     enu_from_icrs=np.eye(3), bodies=tuple(bodies), sun_enu=np.asarray(sun_enu, dtype=np.float64),
                     sky=SkyParams(dome_from_icrs=dome, dome_from_enu=dome, bodies=tuple(bodies)), zoom=zoom,
                     eye=eye, eye_separation_m=separation_m, taper_from_deg=45.0, spheres=tuple(spheres),
                     models=tuple(models), orbits=tuple(orbits))


def draw(ctx, view: LayerView, layers, *, textures=None, models=None, stars=None) -> np.ndarray:
    """One render of ``layers`` (names, opacity 1, or a dict) through a DomeRenderer: (H, W, 3) uint8."""
    renderer = DomeRenderer(ctx, stars if stars is not None else catalog(np.zeros((0, 3)), []),
                            textures=textures or (lambda name: None), models=models)
    try:
        renderer.render(view, layers if isinstance(layers, dict) else {name: 1.0 for name in layers})
        return renderer.read_rgb().copy()
    finally:
        renderer.release()


def pixel_of(view: LayerView, dome_dirs: np.ndarray) -> np.ndarray:
    """Dome-frame directions -> (col, row) pixel of a whole-domemaster render of ``view``."""
    return uv_to_pixel(fisheye_uv(dome_dirs), view.size_px[0])


def twin_image(view: LayerView, albedo=UNTEXTURED_ALBEDO) -> np.ndarray:
    """The numpy twin's (H, W, 3) display-encoded float image of ``view``'s spheres, far to near."""
    out = np.zeros((view.size_px[1], view.size_px[0], 3))
    for placement in sphere_placements(view):
        coverage, rgb, _ = sphere_pixels(view, placement, albedo)
        encoded = rgb ** (1.0 / GAMMA) * coverage[..., None]
        out = encoded * 255.0 + out * (1.0 - coverage[..., None])
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize(("eye", "zoom", "polar_ratio"), [(0, 1.0, 1.0), (1, 1.0, 0.9), (-1, 2.0, 1.0)],
                         ids=["mono", "right-oblate", "left-zoomed"])
def test_the_lit_area_matches_the_numpy_ray_cast(gl_ctx, tmp_failures, eye, zoom, polar_ratio):
    centre = altaz_to_enu(35.0, 160.0) * 4.0
    sun = altaz_to_enu(10.0, 300.0)                            # a gibbous phase
    tilt = rot_x(0.3)
    view = dome_view(384, eye=eye, separation_m=0.064, zoom=zoom,
                     spheres=[sphere("mars", centre, 1.0, sun, polar_ratio=polar_ratio, body_from_enu=tilt)])
    image = draw(gl_ctx, view, ["planets"])
    twin = twin_image(view)
    lit, lit_twin = image.max(axis=-1) > LIT_LEVEL, twin.max(axis=-1) > LIT_LEVEL
    assert lit.sum() > 500
    if iou(lit, lit_twin) <= MIN_LIT_IOU or np.abs(image - twin).max() > TWIN_TOLERANCE_LEVELS:
        tmp_failures("sphere", image, np.round(twin).astype(np.uint8))
    assert iou(lit, lit_twin) > MIN_LIT_IOU
    assert np.abs(image - twin).max() <= TWIN_TOLERANCE_LEVELS


@pytest.mark.parametrize(("phase_deg", "lit_fraction"), [(180.0, 0.0), (90.0, 0.5), (0.0, 1.0)],
                         ids=["new", "quarter", "full"])
def test_the_phase_follows_the_sun(gl_ctx, phase_deg, lit_fraction):
    # Seen from the dome centre, a sphere 10 radii away toward the south at 30 deg; the Sun at
    # phase angle `phase_deg` from the observer's direction as seen from the sphere, toward the east.
    direction = altaz_to_enu(30.0, 180.0)
    east = np.array([1.0, 0.0, 0.0])
    side = east - direction * (east @ direction)
    side /= np.linalg.norm(side)
    to_observer = -direction
    phase = np.radians(phase_deg)
    sun = np.cos(phase) * to_observer + np.sin(phase) * side
    view = dome_view(384, spheres=[sphere("moon", direction * 10.0, 1.0, sun)])
    image = draw(gl_ctx, view, ["planets"])
    coverage, _, _ = sphere_pixels(view, sphere_placements(view)[0])
    disc_px = (coverage >= 0.5).sum()
    lit_px = (image.max(axis=-1) > LIT_LEVEL).sum()
    # The lit share of the disc: the illuminated fraction (1 + cos phase) / 2, less the dim rim
    # near the terminator (Lambert at grazing incidence) for the quarter.
    assert lit_px / disc_px == pytest.approx(lit_fraction, abs=0.08)
    if phase_deg == 90.0:
        # Lit on the Sun's side: east is to the left on a dome facing south.
        cols = np.nonzero(image.max(axis=-1) > LIT_LEVEL)[1]
        centre_col = pixel_of(view, (view.dome_from_enu @ direction)[None])[0, 0]
        assert cols.mean() < centre_col


def test_the_textures_north_pole_is_where_the_rotation_puts_it(gl_ctx, tmp_failures):
    # A grey texture with a white cap north of latitude 60: the body's +z pole, tilted by
    # body_from_enu, must light up where the rotation puts it on the image.
    height, width = 128, 256
    texture = np.full((height, width, 3), 60, np.uint8)
    lat = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    texture[lat > 60.0] = 255
    direction = altaz_to_enu(40.0, 180.0)
    centre = direction * 6.0
    # The pole leans west and toward the observer (north of the sphere): the rows of
    # body_from_enu are the body's axes in ENU.
    pole_enu = np.array([-0.5, 0.8, 0.2])
    pole_enu /= np.linalg.norm(pole_enu)
    x_enu = np.cross([0.0, 0.0, 1.0], pole_enu)
    x_enu /= np.linalg.norm(x_enu)
    body_from_enu = np.stack([x_enu, np.cross(pole_enu, x_enu), pole_enu])
    view = dome_view(512, spheres=[sphere("mars", centre, 1.0, -direction, body_from_enu=body_from_enu)])
    image = draw(gl_ctx, view, ["planets"], textures=lambda name: texture if name == "mars" else None)
    cap = image.min(axis=-1) > 100                # the grey (linear 0.04) stays under 60
    assert cap.sum() > 30
    rows, cols = np.nonzero(cap)
    # The cap's middle is near the pole's image (the cap is a disc about the pole, seen obliquely).
    pole_point = centre + pole_enu * 1.0
    expected = pixel_of(view, (view.dome_from_enu @ pole_point)[None])[0]
    got = np.array([cols.mean(), rows.mean()])
    centre_px = pixel_of(view, (view.dome_from_enu @ centre)[None])[0]
    radius_px = sphere_placements(view)[0].radius_px
    if np.hypot(*(got - expected)) > 0.35 * radius_px:
        tmp_failures("pole", image, image)
    assert np.hypot(*(got - expected)) < 0.35 * radius_px
    # And not anywhere near the south pole's side of the disc.
    assert (got - centre_px) @ (expected - centre_px) > 0.0


def test_a_sphere_filling_most_of_the_sky_draws_no_streaks(gl_ctx, tmp_failures):
    # 400 km above the Earth: the Earth fills everything 19.8 deg below the horizon, a cap 140 deg
    # across. The view puts its centre (the nadir) 40 and 30 deg below the dome's front: the cap
    # covers the fisheye's antipode (the dome nadir), where a mesh would smear. The back of the
    # dome (the image's top) stays dark.
    radius_m = 6.371e6
    centre = np.array([0.0, 0.0, -(radius_m + 4.0e5)])
    sun = altaz_to_enu(30.0, 90.0)
    for view_alt_deg in (-50.0, -60.0):
        view = dome_view(384, view_alt_deg=view_alt_deg, eye=1, separation_m=1.0e3,
                         spheres=[sphere("earth", centre, radius_m, sun)])
        image = draw(gl_ctx, view, ["planets"])
        twin = twin_image(view)
        lit, lit_twin = image.max(axis=-1) > LIT_LEVEL, twin.max(axis=-1) > LIT_LEVEL
        if iou(lit, lit_twin) <= MIN_LIT_IOU or (lit & ~lit_twin).sum() > 0.01 * lit.sum():
            tmp_failures(f"earth_{view_alt_deg:.0f}", image, np.round(twin).astype(np.uint8))
        assert lit.sum() > 0.1 * image.shape[0] * image.shape[1]
        assert iou(lit, lit_twin) > MIN_LIT_IOU
        # Nothing lit where the twin has no Earth (streaks would be long runs across the image).
        assert (lit & ~lit_twin).sum() <= 0.01 * lit.sum()
        covered = (image.max(axis=-1) > 0) | (twin.max(axis=-1) > 0)
        assert not covered[: image.shape[0] // 8].any()


def test_the_disc_renderer_skips_bodies_drawn_as_spheres_but_keeps_the_sun(gl_ctx):
    # The Moon as a big sphere on the left; its disc (a bright tiny disc elsewhere) must not be drawn.
    moon_dir = altaz_to_enu(30.0, 200.0)
    sun_dir = altaz_to_enu(20.0, 150.0)
    moon_disc_dir = altaz_to_enu(60.0, 120.0)                  # where a stray disc would show
    bodies = (body("Moon", moon_disc_dir, mag=-10.0, angular_diameter_deg=5.0),
              body("Sun", sun_dir, mag=-26.7, angular_diameter_deg=2.0))
    spheres = [sphere("moon", moon_dir * 20.0, 1.0, -moon_dir), sphere("sun", sun_dir * 1e3, 100.0, sun_dir)]
    view = dome_view(256, spheres=spheres, bodies=bodies, sun_enu=sun_dir)
    image = draw(gl_ctx, view, ["planets"])
    disc_px = np.round(pixel_of(view, (view.dome_from_enu @ moon_disc_dir)[None])[0]).astype(int)
    sun_px = np.round(pixel_of(view, (view.dome_from_enu @ sun_dir)[None])[0]).astype(int)
    sphere_px = np.round(pixel_of(view, (view.dome_from_enu @ moon_dir)[None])[0]).astype(int)
    assert image[disc_px[1], disc_px[0]].max() == 0            # no Moon disc
    assert image[sphere_px[1], sphere_px[0]].max() > 100       # the Moon sphere
    assert image[sun_px[1], sun_px[0]].max() > 200             # the Sun's disc, never a sphere
    # A sphere too small to draw leaves the body to its disc.
    far = [sphere("moon", moon_disc_dir * 1e6, 1.0, -moon_disc_dir)]
    view = dome_view(256, spheres=far, bodies=bodies, sun_enu=sun_dir)
    assert sphere_placements(view) == []
    assert draw(gl_ctx, view, ["planets"])[disc_px[1], disc_px[0]].max() > 100


def test_the_size_threshold_and_what_is_never_a_sphere():
    direction = altaz_to_enu(30.0, 180.0)
    px_per_rad = 256 / np.pi
    radius_for = lambda px: np.sin(px / px_per_rad) * 10.0
    small = sphere("mars", direction * 10.0, radius_for(SPHERE_MIN_RADIUS_PX * 0.9), direction)
    large = sphere("mars", direction * 10.0, radius_for(SPHERE_MIN_RADIUS_PX * 1.1), direction)
    assert sphere_placements(dome_view(256, spheres=[small])) == []
    assert [p.name for p in sphere_placements(dome_view(256, spheres=[large]))] == ["mars"]
    # The zoom magnifies: the small one shows as a sphere under a zoom of 2.
    assert len(sphere_placements(dome_view(256, spheres=[small], zoom=2.0))) == 1
    inside = sphere("earth", (0.0, 0.0, -1.0), 2.0, direction)            # the observer inside
    sun = sphere("sun", direction * 10.0, 1.0, direction)
    broken = SphereView("x", (0.0, 1.0, 0.0), float("nan"), 1.0, IDENTITY, (0.0, 0.0, 1.0))
    assert sphere_placements(dome_view(256, spheres=[inside, sun, broken])) == []
    # Far to near.
    near = sphere("moon", direction * 5.0, 1.0, direction)
    assert [p.name for p in sphere_placements(dome_view(256, spheres=[near, large]))] == ["mars", "moon"]


def test_a_texture_that_fails_to_load_draws_grey(gl_ctx, caplog):
    def broken(name):
        raise OSError("no such file")

    direction = altaz_to_enu(30.0, 180.0)
    view = dome_view(128, spheres=[sphere("moon", direction * 10.0, 2.0, -direction)])
    image = draw(gl_ctx, view, ["planets"], textures=broken)
    assert image.max() > 100
    assert "texture of 'moon' cannot be used (no such file); drawing it untextured" in caplog.text


def test_real_textures_load_when_present(gl_ctx):
    textures = pytest.importorskip("domectl.textures")
    try:
        image = textures.load_texture("moon")
    except Exception as exc:  # the data may not be built in this checkout
        pytest.skip(f"moon texture not available: {exc}")
    assert image is not None and image.ndim == 3
    direction = altaz_to_enu(30.0, 180.0)
    view = dome_view(256, spheres=[sphere("moon", direction * 10.0, 2.0, -direction)])
    renderer = DomeRenderer(gl_ctx, catalog(np.zeros((0, 3)), []))
    try:
        renderer.render(view, {"planets": 1.0})
        shown = renderer.read_rgb().copy()
    finally:
        renderer.release()
    assert shown.max() > 50


def test_a_slice_matches_the_whole(gl_ctx):
    direction = altaz_to_enu(50.0, 170.0)
    spheres = [sphere("mars", direction * 5.0, 0.6, altaz_to_enu(10.0, 90.0))]
    whole = draw(gl_ctx, dome_view(256, spheres=spheres, eye=1, separation_m=0.064), ["planets"])
    rect = (0.25, 0.5, 0.75, 1.0)
    part = draw(gl_ctx, dome_view(spheres=spheres, eye=1, separation_m=0.064, rect_uv=rect, size_px=(128, 128)),
                ["planets"])
    assert np.abs(part.astype(int) - whole[0:128, 64:192].astype(int)).max() <= 2


def test_sphere_view_namespace_is_enough():
    # Layers take any object with the SphereView fields (tests and the frame alike).
    direction = altaz_to_enu(30.0, 180.0)
    s = SimpleNamespace(name="Moon", centre_m=direction * 10.0, radius_m=2.0, polar_ratio=1.0,
                        body_from_enu=np.eye(3), sun_dir=-direction)
    assert [p.name for p in sphere_placements(dome_view(256, spheres=[s]))] == ["moon"]
