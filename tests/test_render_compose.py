"""DomeRenderer: layers in order, the daylight hiding the stars, unknown layers named."""

import numpy as np
import pytest

from domectl.errors import RenderError
from domectl.projection import altaz_to_enu, dome_from_enu
from render.compose import DomeRenderer, twilight_limit
from render.layers import LayerView
from render.sky import SkyParams, StarLook
from test_render_sky import catalog, linear


def view(sun_alt_deg: float, size: int = 96) -> LayerView:
    dome = dome_from_enu(180.0, 0.0, 0.0)
    sun = altaz_to_enu(sun_alt_deg, 180.0)
    return LayerView(rect_uv=(0.0, 0.0, 1.0, 1.0), size_px=(size, size), dome_from_enu=dome,
                     enu_from_icrs=np.eye(3), sun_enu=sun, sun_alt_deg=sun_alt_deg,
                     sky=SkyParams(dome_from_icrs=dome, dome_from_enu=dome))


def test_the_stars_fade_as_the_sun_rises_unless_the_daylight_is_off():
    night = 6.5
    limits = [twilight_limit(night, alt, 1.0) for alt in (-30.0, -18.0, -12.0, -6.0, 0.0, 20.0)]
    assert limits[0] == night and limits[1] == pytest.approx(night, abs=0.05)
    assert all(b < a for a, b in zip(limits[1:], limits[2:]))  # fainter stars vanish first
    assert limits[-1] < -2.0  # by day only Venus-class objects
    assert twilight_limit(night, 20.0, 0.0) == night  # daylight off: the planetarium's night by day
    assert twilight_limit(night, 20.0, 0.5) == pytest.approx((night + limits[-1]) / 2)


def test_a_first_magnitude_star_shows_at_night_and_not_by_day(gl_ctx):
    star = catalog(altaz_to_enu(np.array([60.0]), np.array([200.0])), [1.0])
    renderer = DomeRenderer(gl_ctx, star, look=StarLook(limiting_mag=6.5))
    try:
        layers = {"daylight": 1.0, "stars": 1.0}
        renderer.render(view(-30.0), layers)
        at_night = linear(renderer.read_rgb()).max()
        renderer.render(view(30.0), {"stars": 1.0})
        daylight_off = linear(renderer.read_rgb()).max()
        renderer.render(view(30.0), {"stars": 1.0, "daylight": 1.0})
        by_day = renderer.read_rgb().astype(int)
        renderer.render(view(30.0), {"daylight": 1.0})
        sky_only = renderer.read_rgb().astype(int)
    finally:
        renderer.release()
    assert at_night > 0.5 and daylight_off == pytest.approx(at_night, rel=1e-6)
    assert np.array_equal(by_day, sky_only)  # the star is gone: only the sky is left


def test_unknown_layers_are_named(gl_ctx):
    renderer = DomeRenderer(gl_ctx, catalog(np.zeros((0, 3)), []))
    try:
        with pytest.raises(RenderError, match="unknown layer 'galaxies'.*known layers: daylight"):
            renderer.render(view(-30.0), {"galaxies": 1.0})
    finally:
        renderer.release()
