"""The show player's cost per frame, as a ratio to building the frame's FrameState (same run).

    .venv/bin/python -m pytest benchmarks/bench_show.py --benchmark-only -p no:cacheprovider

Per frame the master will ask the player for the scene at the frame's show
time (``Player.scene_at``), turn its texts, images and poll into overlays in
the session's language and dim the layers by the blackout level; that is what
is measured, stepping through each committed show at 60 frames a second (so
every kind of cue, transition and open text is met). The baseline is
constructing the frame's ``FrameState`` with the same overlays and layers,
which the master does every frame anyway; ``extra_info.ratio_to_frame_state``
is the player's median over the baseline's. DESIGN.md budgets 0.5 ms median
per master frame for scene + ephemeris + encoding.
"""

from __future__ import annotations

import time
from itertools import count
from pathlib import Path

import numpy as np
import pytest

from domectl.frame import FrameState
from shows.format import load_show
from shows.player import Player

SHOWS = Path(__file__).resolve().parent.parent / "shows"
FPS = 60.0
#: Baseline timing: this many FrameState constructions per sample, this many samples.
BASELINE_LOOPS, BASELINE_SAMPLES = 2000, 15


def _frame_state(scene, language: str) -> FrameState:
    lat, lon, elev = scene.site
    return FrameState(frame=0, deadline_ns=0, show_time_s=scene.show_time_s, tt_jd=2461000.5,
                      latitude_deg=lat, longitude_deg=lon, elevation_m=elev, view_az_deg=scene.view_az_deg,
                      view_alt_deg=scene.view_alt_deg, zoom=scene.zoom, layers=scene.frame_layers(),
                      language=language, pointer=scene.pointer, overlays=scene.overlays(language))


def _baseline_us(scene, language: str) -> float:
    """Median µs to construct one FrameState from ready fields (no player work)."""
    lat, lon, elev = scene.site
    layers, overlays = scene.frame_layers(), scene.overlays(language)
    samples = []
    for _ in range(BASELINE_SAMPLES):
        start = time.perf_counter()
        for _ in range(BASELINE_LOOPS):
            FrameState(frame=0, deadline_ns=0, show_time_s=scene.show_time_s, tt_jd=2461000.5,
                       latitude_deg=lat, longitude_deg=lon, elevation_m=elev, view_az_deg=scene.view_az_deg,
                       view_alt_deg=scene.view_alt_deg, zoom=scene.zoom, layers=layers, language=language,
                       pointer=scene.pointer, overlays=overlays)
        samples.append((time.perf_counter() - start) / BASELINE_LOOPS * 1e6)
    return float(np.median(samples))


@pytest.mark.parametrize("name, results", [
    ("live-sky-tour", {"next": "2"}),
    ("from-v2-to-the-moon", {"road": "2", "moonstep": None}),
])
def test_player_per_frame(benchmark, name, results):
    player = Player(load_show(SHOWS / f"{name}.show"))
    language = "nl"
    frames_in_show = int(player.duration_s(results) * FPS)
    frames = count()

    def one_frame():
        t = (next(frames) % frames_in_show) / FPS
        scene = player.scene_at(t, results)
        scene.overlays(language)
        scene.frame_layers()

    one_frame()                                          # compiles the path once (cached afterwards)
    # A text and a poll on the dome: the baseline's FrameState carries overlays like a busy frame.
    busy = player.scene_at(player.show.polls[0].time_s + 1.0, results)
    baseline = _baseline_us(busy, language)
    benchmark(one_frame)
    median_us = benchmark.stats.stats.median * 1e6
    benchmark.extra_info.update({"frame_state_us": baseline, "player_us": median_us,
                                 "ratio_to_frame_state": median_us / baseline})
    assert _frame_state(busy, language).overlays                     # the baseline frame is a busy one
