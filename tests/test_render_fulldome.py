"""Full-dome frames (overlay kind "fulldome"): a domemaster PNG comes back as itself, a slice shows
its part, opacity mixes with the sky, texts and images stay on top, a bad file draws nothing."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from domectl.config import load_hall
from domectl.frame import FrameState, Overlay, decode_frame, encode_frame
from domectl.pipeline import render_frame
from domectl.projection import altaz_to_enu, dome_from_enu
from render.compose import DomeRenderer
from render.image import load_png
from render.layers import LayerView
from render.overlays import fulldome_lod
from render.sky import SkyParams
from test_render_sky import GOLDEN_DIR, catalog

#: Blending in 8-bit: at most one level off the mix rounded to a level, i.e. 1.5 off the exact
#: mix (measured: 1.0 at opacity 0.5, 1.25 at 0.25: the source is scaled, then blended).
MIX_TOLERANCE_LEVELS = 1.5
#: A frame drawn at half its size against its exact 2 x 2 means (the mip level GL built,
#: rounded to a level; measured: 1.0).
MIP_TOLERANCE_LEVELS = 1.5
#: A domemaster rendered by domectl: the committed golden image (all layers, 256 px).
RENDERED_DOMEMASTER = GOLDEN_DIR / "night_all_fr_256.png"


def sky_view(size_px, rect=(0.0, 0.0, 1.0, 1.0), overlays=(), sun_alt_deg=-40.0) -> LayerView:
    dome = dome_from_enu(180.0, 0.0, 10.0)
    return LayerView(rect_uv=rect, size_px=size_px, dome_from_enu=dome, enu_from_icrs=np.eye(3),
                     sun_enu=altaz_to_enu(sun_alt_deg, 200.0), sun_alt_deg=sun_alt_deg, overlays=overlays,
                     sky=SkyParams(dome_from_icrs=dome, dome_from_enu=dome))


@pytest.fixture
def renderer(gl_ctx):
    dome_renderer = DomeRenderer(gl_ctx, catalog(np.zeros((0, 3)), []))
    yield dome_renderer
    dome_renderer.release()


def draw(renderer, view: LayerView, layers: dict[str, float]) -> np.ndarray:
    renderer.render(view, layers)
    return renderer.read_rgb().copy()


def noise_png(path, size: int) -> np.ndarray:
    """A domemaster-sized PNG of random pixels (the harshest content for a resampling): (S, S, 3)."""
    pixels = np.random.default_rng(size).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def fulldome(path, opacity: float = 1.0) -> Overlay:
    return Overlay("fulldome", str(path), 0.0, 90.0, 180.0, opacity)


def test_a_rendered_domemaster_drawn_full_size_comes_back_pixel_equal(renderer):
    expected = load_png(RENDERED_DOMEMASTER)
    size = expected.shape[0]
    view = sky_view((size, size), overlays=(fulldome(RENDERED_DOMEMASTER),))
    actual = draw(renderer, view, {"milky-way": 1.0, "overlays": 1.0})  # an opaque frame hides the sky
    assert fulldome_lod((size, size), view) == 0.0
    assert np.array_equal(actual, expected)


@pytest.mark.parametrize("size", [256, 300])
def test_any_domemaster_drawn_full_size_comes_back_pixel_equal(renderer, tmp_path, size):
    # Each output pixel samples its texel's centre at level 0: exactly, also where (i + 0.5) / 300
    # is not a binary fraction (the bilinear weights' rounding stays below half a level).
    path = tmp_path / "noise.png"
    expected = noise_png(path, size)
    actual = draw(renderer, sky_view((size, size), overlays=(fulldome(path),)), {"overlays": 1.0})
    assert np.array_equal(actual, expected)


def test_a_slice_shows_its_part_of_the_frame(renderer, tmp_path):
    path = tmp_path / "noise.png"
    size = 256
    film = noise_png(path, size)
    c0, c1, r0, r1 = 37, 201, 90, 171  # a projector's rectangle, odd edges
    rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
    part = draw(renderer, sky_view((c1 - c0, r1 - r0), rect, overlays=(fulldome(path),)), {"overlays": 1.0})
    assert np.array_equal(part, film[r0:r1, c0:c1])


def test_a_frame_larger_than_the_render_is_filtered_by_its_mip_level(renderer, tmp_path):
    path = tmp_path / "noise.png"
    film = noise_png(path, 512).astype(float)
    view = sky_view((256, 256), overlays=(fulldome(path),))
    assert fulldome_lod((512, 512), view) == 1.0
    actual = draw(renderer, view, {"overlays": 1.0}).astype(int)
    means = film.reshape(256, 2, 256, 2, 3).mean(axis=(1, 3))
    assert np.abs(actual - means).max() <= MIP_TOLERANCE_LEVELS


def test_half_opacity_mixes_with_the_sky(renderer, tmp_path):
    path = tmp_path / "noise.png"
    film = noise_png(path, 128).astype(float)
    sky_only = draw(renderer, sky_view((128, 128), sun_alt_deg=20.0), {"daylight": 1.0}).astype(float)
    assert sky_only.max() > 100  # a day sky to mix with
    view = sky_view((128, 128), overlays=(fulldome(path, 0.5),), sun_alt_deg=20.0)
    mixed = draw(renderer, view, {"daylight": 1.0, "overlays": 1.0}).astype(float)
    # "over" in the frame's display-encoded values, as every overlay: 0.5 film + 0.5 sky.
    assert np.abs(mixed - (0.5 * film + 0.5 * sky_only)).max() <= MIX_TOLERANCE_LEVELS
    # The layer's opacity multiplies the frame's, as for every overlay.
    quarter = draw(renderer, view, {"daylight": 1.0, "overlays": 0.5}).astype(float)
    assert np.abs(quarter - (0.25 * film + 0.75 * sky_only)).max() <= MIX_TOLERANCE_LEVELS


def test_texts_and_images_stay_over_the_frame_whatever_their_order(renderer, tmp_path):
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(black)
    text = Overlay("text", "FIN", 0.0, 60.0, 12.0)
    # Over a day sky, so that an opaque black frame drawn last would show.
    layers = {"daylight": 1.0, "overlays": 1.0}
    listed_first = draw(renderer, sky_view((128, 128), (0, 0, 1, 1), (text, fulldome(black)), 20.0), layers)
    listed_last = draw(renderer, sky_view((128, 128), (0, 0, 1, 1), (fulldome(black), text), 20.0), layers)
    # The frame hides the sky; the text lies on it as it would on a black sky.
    text_alone = draw(renderer, sky_view((128, 128), overlays=(text,)), {"overlays": 1.0})
    assert text_alone.max() > 128
    assert np.array_equal(listed_first, text_alone) and np.array_equal(listed_last, text_alone)


def test_a_missing_or_unreadable_frame_draws_nothing_is_logged_once_and_counted(renderer, tmp_path, caplog):
    missing, garbage = tmp_path / "film" / "0001.png", tmp_path / "0002.png"
    garbage.write_bytes(b"\x89PNG but not really")
    layers = {"daylight": 1.0, "overlays": 1.0}
    sky_only = draw(renderer, sky_view((96, 96), sun_alt_deg=20.0), {"daylight": 1.0})
    view = sky_view((96, 96), overlays=(fulldome(missing), fulldome(garbage)), sun_alt_deg=20.0)
    with caplog.at_level(logging.WARNING, logger="render.overlays"):
        frames = [draw(renderer, view, layers) for _ in range(3)]
    assert all(np.array_equal(frame, sky_only) for frame in frames)
    messages = [r.getMessage() for r in caplog.records]
    assert sum(str(missing) in m for m in messages) == 1
    assert sum(str(garbage) in m and "not a readable image" in m for m in messages) == 1
    assert renderer.layer("overlays").unreadable == 6  # two files, three frames


def test_a_fulldome_frame_travels_in_the_frame_state_to_a_nodes_slice(renderer, tmp_path):
    path = tmp_path / "noise.png"
    size = 256
    film = noise_png(path, size)
    state = FrameState(frame=1, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.7,
                       longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0,
                       zoom=4.0, layers=(("overlays", 1.0),), overlays=(fulldome(path),))
    received = decode_frame(encode_frame(state))
    assert received.overlays == (fulldome(path),)
    c0, c1, r0, r1 = 64, 192, 16, 144
    rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
    render_frame(renderer, received, load_hall(), rect, (c1 - c0, r1 - r0))
    assert np.array_equal(renderer.read_rgb(), film[r0:r1, c0:c1])  # the zoom does not move it
