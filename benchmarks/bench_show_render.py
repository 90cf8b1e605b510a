"""``domectl show render``'s frames per second at 1024 px, as a ratio to drawing the same frames bare.

    .venv/bin/python -m pytest benchmarks/bench_show_render.py --benchmark-only -p no:cacheprovider

One round renders a stretch of the live tour (the Moon section from 2:00, the view turning and
the zoom starting, a text on the dome: ``STRETCH_FRAMES`` frames at 30 fps) the way the command
does: show evaluation (Player + Master.show_frame_state + the cached ephemeris), drawing with
one DomeRenderer, PNG encoding on the writer thread, atomic writes, the manifest. The baseline,
measured in the same run, draws the very same FrameStates (computed beforehand) with
render_still's path: a DomeRenderer, ``render_frame`` and the read-back, nothing else. Both
build their renderer inside the round. ``extra_info``: ``fps`` and ``baseline_fps``, and
``ratio_to_bare_render`` = fps / baseline_fps (1 would be no overhead at all); what is left
between them is the show's evaluation, the PNG encoding not hidden behind the next frame, and
the file writes.
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.showrender import (
    Previous,
    RenderPlan,
    ShowFrames,
    draw_domemaster,
    make_renderer,
    render_show,
)
from domectl.showrun import file_sha256
from domectl.skydata import load_stars
from shows.format import load_show

TOUR = Path(__file__).resolve().parent.parent / "shows" / "live-sky-tour.show"
SIZE_PX = 1024
FPS = 30.0
FROM_S = 120.0
STRETCH_FRAMES = 48
ROUNDS = 3


@pytest.fixture(scope="module")
def plan_and_tools(tmp_path_factory):
    hall = load_hall()
    show = load_show(TOUR)
    out = tmp_path_factory.mktemp("show-render")
    plan = RenderPlan(show_path=TOUR.resolve(), show=show, sha256=file_sha256(TOUR), hall=hall, out_dir=out,
                      size_px=SIZE_PX, fps=FPS, from_s=FROM_S, to_s=FROM_S + (STRETCH_FRAMES - 1) / FPS,
                      eye=None, language=hall.default_language, refraction=False, start_utc=show.start_utc,
                      poll_results={p.id: None for p in show.polls})
    assert plan.frame_count == STRETCH_FRAMES
    return plan, load_stars(), CachedEphemeris(Ephemeris())


def _bare_round_s(ctx, plan, catalog, states) -> float:
    """Seconds to draw ``states`` as render_still does (renderer built inside, no PNG, no show)."""
    start = time.perf_counter()
    renderer = make_renderer(ctx, plan.hall, plan.size_px, catalog)
    try:
        for state in states:
            draw_domemaster(renderer, state, plan.hall, plan.size_px).copy()
        ctx.finish()
    finally:
        renderer.release()
    return time.perf_counter() - start


def test_offline_render_fps_at_1024(benchmark, ctx, plan_and_tools):
    plan, catalog, eph = plan_and_tools
    frames = ShowFrames.for_plan(plan, eph)
    states = [frames.state(plan.time_s(k), frame=k) for k in range(plan.frame_count)]
    assert sum(not s.blackout for s in states) == len(states)          # real pictures, not black frames

    def fresh():
        shutil.rmtree(plan.out_dir, ignore_errors=True)
        return (), {}

    def one_round():
        result = render_show(plan, ctx=ctx, previous=Previous(frozenset(), None), catalog=catalog, ephemeris=eph,
                             stream=io.StringIO(), tty=False)
        assert result.rendered == STRETCH_FRAMES

    fresh()
    one_round()                                   # warm-up: shader JIT, ephemeris blocks
    _bare_round_s(ctx, plan, catalog, states)
    baseline_s = float(np.median([_bare_round_s(ctx, plan, catalog, states) for _ in range(ROUNDS)]))
    benchmark.pedantic(one_round, setup=fresh, rounds=ROUNDS, iterations=1)
    round_s = benchmark.stats.stats.median
    fps, baseline_fps = STRETCH_FRAMES / round_s, STRETCH_FRAMES / baseline_s
    benchmark.extra_info.update({"size_px": SIZE_PX, "frames": STRETCH_FRAMES, "fps": fps,
                                 "baseline_fps": baseline_fps, "ratio_to_bare_render": fps / baseline_fps,
                                 "ms_per_frame": 1e3 / fps, "baseline_ms_per_frame": 1e3 / baseline_fps})
