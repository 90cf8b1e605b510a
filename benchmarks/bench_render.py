"""Frame times of the render pipeline (pytest-benchmark).

    .venv/bin/python -m pytest benchmarks/bench_render.py --benchmark-only -p no:cacheprovider

Stars: all Hipparcos stars (or a synthetic 117,955-star sky if the data is
absent) into a display-encoded slice, finished on the GPU. Warp: a 16-px mesh
(257 x 136 vertices, as warp.mesh.DEFAULT_STEP_PX) sampling a slice into a
projector image, including the read-back into the preallocated buffer.
"""

from __future__ import annotations


import numpy as np
import pytest

from domectl.projection import dome_from_enu, rot_x, rot_z
from render.sky import SkyParams, SkyRenderer, StarLook
from render.warp_pass import WarpPass




def sky_params() -> SkyParams:
    view = dome_from_enu(180.0, 0.0, 20.0)
    return SkyParams(dome_from_icrs=view @ rot_x(0.7) @ rot_z(2.1), beta_icrs=np.array([5e-5, -8e-5, 2e-5]),
                     years_since_epoch=35.0, dome_from_enu=view)


@pytest.mark.parametrize(
    ("size_px", "rect_uv", "limiting_mag"),
    [
        ((1024, 1024), (0.0, 0.0, 1.0, 1.0), 6.5),
        ((2048, 2048), (0.0, 0.0, 1.0, 1.0), 6.5),
        ((4096, 4096), (0.0, 0.0, 1.0, 1.0), 6.5),
        ((2048, 2048), (0.0, 0.0, 1.0, 1.0), 14.0),  # every star drawn, down to Hp 14
        ((4096, 2160), (0.3, 0.05, 0.7, 0.26), 6.5),  # a projector-sized slice
    ],
    ids=["1024", "2048", "4096", "2048-all-stars", "slice-4096x2160"],
)
def test_stars(benchmark, ctx, stars, size_px, rect_uv, limiting_mag):
    renderer = SkyRenderer(ctx, stars, look=StarLook(limiting_mag=limiting_mag))
    params = sky_params()

    def frame():
        renderer.render(params, rect_uv, size_px)
        ctx.finish()

    frame()  # warm-up: shader JIT, target allocation
    benchmark.pedantic(frame, rounds=5, iterations=1)
    renderer.release()


@pytest.mark.parametrize("out_size", [(1024, 540), (4096, 2160)])
def test_warp_pass(benchmark, ctx, out_size):
    w, h = out_size
    slice_px = 4096 if w >= 4096 else 1024
    slice_tex = ctx.texture((slice_px, slice_px), 4, np.full((slice_px, slice_px, 4), 128, np.uint8).tobytes())
    xs, ys = np.linspace(0, w, w // 16 + 1), np.linspace(0, h, -(-h // 16) + 1)
    gx, gy = np.meshgrid(xs, ys)
    # A gentle non-linear warp so the texture is sampled off the texel grid.
    uv = np.stack([0.1 + 0.8 * gx / w + 0.02 * np.sin(gy / h * 3), 0.1 + 0.8 * (1 - gy / h) + 0.02 * np.sin(gx / w * 4)], -1)
    blend = np.tile(np.linspace(0.0, 1.0, w, dtype=np.float32), (h, 1))
    warp = WarpPass(ctx, np.stack([gx, gy], -1), uv, np.ones(gx.shape, bool), blend, 2.2, out_size)
    warp.draw(slice_tex, (0.0, 0.0, 1.0, 1.0))
    benchmark.pedantic(lambda: warp.draw(slice_tex, (0.0, 0.0, 1.0, 1.0)), rounds=5, iterations=1)
    warp.release()
    slice_tex.release()


# ---------------------------------------------------------------- every layer (issue 4)

ALL_LAYER_SIZES = [1024, 2048]


@pytest.fixture(scope="module")
def tonight():
    """A real frame: 2026-11-20 21:00 UTC over La Coupole, Orion rising, Moon and Saturn south."""
    from datetime import datetime, timezone

    from domectl.config import load_hall
    from domectl.ephemeris import Ephemeris
    from domectl.layermix import LAYER_NAMES
    from domectl.still import StillRequest, still_frame

    hall = load_hall()
    request = StillRequest(utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc), layers=LAYER_NAMES,
                           pointer="saturn")
    return hall, still_frame(hall, request, Ephemeris())


def _median_s(fn, rounds: int = 5) -> float:
    import time

    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _dome_frame(ctx, renderer, hall, state, size, layers):
    from domectl.pipeline import frame_view

    view = frame_view(state, hall, (0.0, 0.0, 1.0, 1.0), (size, size))
    opacities = {name: 1.0 for name in layers}

    def frame():
        renderer.render(view, opacities)
        ctx.finish()

    return frame


@pytest.mark.parametrize("size", ALL_LAYER_SIZES, ids=[f"{s}" for s in ALL_LAYER_SIZES])
def test_dome_all_layers(benchmark, ctx, stars, tonight, size):
    """A whole domemaster with every layer on, as a ratio to the star layer alone in the same run."""
    from domectl.layermix import LAYER_NAMES
    from render.compose import DomeRenderer
    from render.sky import look_for_density

    hall, state = tonight
    renderer = DomeRenderer(ctx, stars, look=look_for_density(hall.render.limiting_mag, size / 180.0))
    everything = _dome_frame(ctx, renderer, hall, state, size, LAYER_NAMES)
    stars_only = _dome_frame(ctx, renderer, hall, state, size, ("stars",))
    everything()  # warm-up: every layer built, shaders compiled
    stars_only()
    benchmark.extra_info["stars_only_ms"] = 1e3 * _median_s(stars_only)
    benchmark.pedantic(everything, rounds=5, iterations=1)
    benchmark.extra_info["ratio_to_stars"] = benchmark.stats.stats.median * 1e3 / benchmark.extra_info["stars_only_ms"]
    renderer.release()


@pytest.mark.parametrize("zoom", [1.0, 0.25, 10.0, 100.0])
def test_lines_under_zoom(benchmark, ctx, stars, tonight, zoom):
    """Constellation lines and boundaries at 1024 px under a zoom: more pieces per segment
    (render/lines.py line_pieces), fewer segments left on the dome (visible_segments)."""
    import dataclasses

    from render.compose import DomeRenderer
    from render.sky import look_for_density

    hall, state = tonight
    renderer = DomeRenderer(ctx, stars, look=look_for_density(hall.render.limiting_mag, 1024 / 180.0))
    frame = _dome_frame(ctx, renderer, hall, dataclasses.replace(state, zoom=zoom), 1024,
                        ("constellation-lines", "constellation-boundaries"))
    frame()
    benchmark.pedantic(frame, rounds=5, iterations=1)
    renderer.release()


LAYER_COST = [name for name in __import__("domectl.layermix", fromlist=["LAYER_NAMES"]).LAYER_NAMES if name != "stars"]


@pytest.mark.parametrize("layer", LAYER_COST)
def test_layer_cost_1024(benchmark, ctx, stars, tonight, layer):
    """One layer alone at 1024 px; extra_info.ratio_to_stars = its time / the star layer's, same run."""
    from render.compose import DomeRenderer
    from render.sky import look_for_density

    hall, state = tonight
    renderer = DomeRenderer(ctx, stars, look=look_for_density(hall.render.limiting_mag, 1024 / 180.0))
    alone = _dome_frame(ctx, renderer, hall, state, 1024, (layer,))
    stars_only = _dome_frame(ctx, renderer, hall, state, 1024, ("stars",))
    alone()
    stars_only()
    stars_ms = 1e3 * _median_s(stars_only)
    benchmark.pedantic(alone, rounds=5, iterations=1)
    benchmark.extra_info["stars_ms"] = stars_ms
    benchmark.extra_info["ratio_to_stars"] = benchmark.stats.stats.median * 1e3 / stars_ms
    renderer.release()
