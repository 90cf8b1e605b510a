"""The console's live preview: ms per frame at 384 px, and what it costs the master's frame loop.

    .venv/bin/python -m pytest benchmarks/bench_preview.py --benchmark-only -p no:cacheprovider

``test_preview_frame_at_384``: one round is what the preview's child process does per frame
(domectl/preview.py :func:`~domectl.preview.draw_jpeg`): draw the whole 384 px domemaster with the
kept DomeRenderer, read it back, encode the JPEG. The baseline, measured in the same run on the
same renderer and frames, is the drawing and read-back alone (``draw_domemaster``, as
``render_still`` draws). ``extra_info``: ``ms_per_frame``, ``baseline_ms_per_frame``,
``ratio_to_bare_render`` (1 would be a free JPEG), ``jpeg_bytes``; and from a PreviewRenderer
with its child, the medians of ``stats["last_render_ms"]`` (``child_ms``: the same work in the
child) and of ``stats["round_trip_ms"]`` (``round_trip_ms``: from sending the frame to the JPEG
back in the master's thread; the difference is the pipes and the scheduling).

``test_frame_loop_lateness_with_a_watched_preview``: why the preview draws in a child process.
A 60 Hz loop paced like ``Master.run`` (sleep until the frame's start, a little Python work)
runs while a 5 fps preview starts (the first watch: spawn, the child's start, first frames),
then, interleaved in 2 s chunks, alone (``alone``), beside the watched preview
(``with_preview``), and beside the same drawing done in a thread of the loop's own process
(``preview_in_a_thread``, the design given up: moderngl holds the GIL in every GL call, and
llvmpipe finishes its drawing inside the read-back). ``extra_info`` gives how late the loop's
frames start in each case (median, p99, max, and how many more than 8 ms late).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.ephemeris import Ephemeris
from domectl.preview import DEFAULT_FPS, DEFAULT_QUALITY, PreviewRenderer, draw_jpeg
from domectl.showrender import draw_domemaster, make_renderer
from domectl.skydata import load_stars
from domectl.still import StillRequest, still_frame
from render.context import create_context

SIZE_PX = 384
ROUNDS = 30
T0 = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)
#: The frame loop's rate, and the lateness counted as a miss (half a frame at 60 Hz).
LOOP_HZ = 60.0
LATE_MS = 8.0
#: 5 chunks of 2 s per case: 600 frames, the p99 is the 6th latest.
CHUNK_S = 2.0
CHUNKS = 5
#: The loop while the preview's child starts (about 0.5 s) and draws its first frames.
START_S = 4.0
#: Frames the child draws for the child_ms and round_trip_ms medians (the first, with the
#: child's start, shader JIT and lazily built layers, is left out).
CHILD_FRAMES = 20


@pytest.fixture(scope="module")
def setting():
    hall = load_hall()
    eph = Ephemeris()
    # A minute of sky per frame: every frame a different picture.
    states = [dataclasses.replace(still_frame(hall, StillRequest(utc=T0 + timedelta(minutes=k), size_px=SIZE_PX),
                                              eph), frame=k) for k in range(ROUNDS)]
    return hall, states


def test_preview_frame_at_384(benchmark, setting):
    hall, states = setting
    ctx = create_context("egl")
    renderer = make_renderer(ctx, hall, SIZE_PX, load_stars())
    try:
        draw_jpeg(renderer, states[0], hall, SIZE_PX, DEFAULT_QUALITY)   # warm-up: shader JIT, lazy layers
        draw_domemaster(renderer, states[1], hall, SIZE_PX)
        rounds = iter(range(10**9))
        baseline, sizes = [], []

        def bare_then_args():
            # Untimed by the benchmark: the baseline's frame, interleaved with the measured ones
            # so both see the same machine (caches, clocks, the other core's load).
            k = 2 * next(rounds)
            t0 = time.perf_counter()
            draw_domemaster(renderer, states[k % len(states)], hall, SIZE_PX)
            baseline.append(time.perf_counter() - t0)
            return (states[(k + 1) % len(states)],), {}

        def one_frame(state):
            sizes.append(len(draw_jpeg(renderer, state, hall, SIZE_PX, DEFAULT_QUALITY)))

        benchmark.pedantic(one_frame, setup=bare_then_args, rounds=ROUNDS, iterations=1)
    finally:
        renderer.release()
        ctx.release()
    ms, baseline_ms = benchmark.stats.stats.median * 1e3, float(np.median(baseline)) * 1e3

    child_ms, round_trip_ms = [], []
    current = {"state": states[0]}
    preview = PreviewRenderer(hall, lambda: current["state"], size_px=SIZE_PX).start()
    try:
        with preview.watch():
            seq = 0
            for k in range(CHILD_FRAMES + 1):
                current["state"] = states[k % len(states)]
                seq, _ = preview.wait_jpeg(seq, timeout_s=60.0)
                stats = preview.stats
                child_ms.append(stats["last_render_ms"])
                round_trip_ms.append(stats["round_trip_ms"])
    finally:
        preview.stop()
    benchmark.extra_info.update({
        "size_px": SIZE_PX, "ms_per_frame": ms, "baseline_ms_per_frame": baseline_ms,
        "ratio_to_bare_render": ms / baseline_ms, "jpeg_bytes": int(np.median(sizes)),
        "child_ms": float(np.median(child_ms[1:])), "round_trip_ms": float(np.median(round_trip_ms[1:])),
    })


def _paced_loop(seconds: float, on_frame) -> np.ndarray:
    """Start lateness of each frame of a LOOP_HZ loop, ms."""
    period_s = 1.0 / LOOP_HZ
    start = time.perf_counter()
    late_ms = []
    for n in range(int(seconds * LOOP_HZ)):
        due = start + n * period_s
        while (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        late_ms.append((time.perf_counter() - due) * 1e3)
        on_frame(n)
    return np.asarray(late_ms)


class _InAThread:
    """The design given up, for comparison in the same run: the preview drawn at DEFAULT_FPS by a
    thread of the loop's process, in its own EGL context (what PreviewRenderer did before)."""

    def __init__(self, hall, current):
        self.hall, self.current = hall, current
        self.watched = threading.Event()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.frames = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(60.0)

    def _run(self) -> None:
        ctx = create_context("egl")
        renderer = make_renderer(ctx, self.hall, SIZE_PX)
        draw_jpeg(renderer, self.current(), self.hall, SIZE_PX, DEFAULT_QUALITY)    # warm-up
        self.ready.set()
        next_s = time.monotonic()
        while not self.stopping.is_set():
            if self.watched.wait(0.1):
                draw_jpeg(renderer, self.current(), self.hall, SIZE_PX, DEFAULT_QUALITY)
                self.frames += 1
                next_s = max(next_s + 1.0 / DEFAULT_FPS, time.monotonic())
                self.stopping.wait(max(0.0, next_s - time.monotonic()))
        renderer.release()
        ctx.release()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def test_frame_loop_lateness_with_a_watched_preview(benchmark, setting):
    hall, states = setting
    current = {"state": states[0]}

    def on_frame(n: int) -> None:
        # The master's frame: a new FrameState (a fraction of a millisecond of Python).
        current["state"] = dataclasses.replace(states[n % len(states)], frame=n)

    preview = PreviewRenderer(hall, lambda: current["state"], size_px=SIZE_PX, fps=DEFAULT_FPS).start()
    in_a_thread = _InAThread(hall, lambda: current["state"])
    runs: dict[str, list[np.ndarray]] = {"alone": [], "with_preview": [], "preview_in_a_thread": []}
    try:
        runs["alone"].append(_paced_loop(CHUNK_S, on_frame))
        with ExitStack() as watching:
            def watch_from_the_first_frame(n: int) -> None:
                if n == 0:
                    watching.enter_context(preview.watch())       # spawns the child
                on_frame(n)

            starting = _paced_loop(START_S, watch_from_the_first_frame)
        started = preview.stats
        # Interleaved in short chunks, so that the other processes of the machine weigh on
        # each case alike.
        for _ in range(CHUNKS):
            runs["alone"].append(_paced_loop(CHUNK_S, on_frame))
            with preview.watch():
                runs["with_preview"].append(_paced_loop(CHUNK_S, on_frame))
            in_a_thread.watched.set()
            runs["preview_in_a_thread"].append(_paced_loop(CHUNK_S, on_frame))
            in_a_thread.watched.clear()
        stats = preview.stats
    finally:
        preview.stop()
        in_a_thread.stop()
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)      # the numbers are in extra_info

    def summary(late_ms: np.ndarray) -> dict:
        return {"median_ms": float(np.median(late_ms)), "p99_ms": float(np.percentile(late_ms, 99)),
                "max_ms": float(late_ms.max()), "late": int((late_ms > LATE_MS).sum()), "frames": len(late_ms)}

    benchmark.extra_info.update({
        "loop_hz": LOOP_HZ, "late_threshold_ms": LATE_MS, "preview_fps": DEFAULT_FPS,
        "preview_frames": stats["frames"] - started["frames"], "preview_errors": stats["errors"],
        "preview_round_trip_ms": stats["round_trip_ms"], "preview_child_ms": stats["last_render_ms"],
        "thread_frames": in_a_thread.frames, "while_the_preview_starts": summary(starting),
        **{name: summary(np.concatenate(chunks)) for name, chunks in runs.items()}})
