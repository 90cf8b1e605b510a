"""Latency from a console action to the FrameState that carries it.

    .venv/bin/python -m pytest benchmarks/bench_console_latency.py --benchmark-only -p no:cacheprovider

A real Master runs live at the hall's 60 Hz in a thread, with the real
control API (HTTP on loopback). One action = ``POST /api/view {"az_deg": X}``
as the console page sends it; it is timed from the request's start to the
moment the master publishes the first Frame whose FrameState has that view
(a link that records each published Frame and its time). The floor is the
HTTP round trip plus the wait for the next frame to start (0 to 16.7 ms at 60
Hz, 8.3 ms on average) plus the frame's computation.

Baseline in the same run: the same POST's bare round trip (request to
answer), so ``extra_info`` has both and their ratio; what the console adds
over HTTP is the frame wait.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.control import ControlClient
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.master import Master, Scene
from domectl.protocol import Frame
from domectl.services import start_services

ACTIONS = 60
T0 = __import__("datetime").datetime(2026, 11, 20, 21, tzinfo=__import__("datetime").timezone.utc)


class RecordingLink:
    """Publishes nowhere; remembers when each frame's view first appeared."""

    def __init__(self):
        self.first_seen: dict[float, int] = {}
        self.changed = threading.Condition()

    def publish(self, msg):
        if isinstance(msg, Frame):
            az = msg.state.view_az_deg
            if az not in self.first_seen:
                with self.changed:
                    self.first_seen[az] = time.perf_counter_ns()
                    self.changed.notify_all()

    def receive(self, timeout_ms, direct=True):
        time.sleep(timeout_ms / 1000.0)
        return []


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    import dataclasses

    hall = load_hall()
    # Port 0: each server takes a free one (the benchmark talks to services.control.port).
    hall = dataclasses.replace(hall, master=dataclasses.replace(hall.master, http_port=0),
                               osc=dataclasses.replace(hall.osc, vote_port=0, control_port=0))
    link = RecordingLink()
    master = Master(hall, link, CachedEphemeris(Ephemeris()), Scene(start_utc=T0), igs=())
    services = start_services(hall, master, tmp_path_factory.mktemp("keys"), preview=False)
    stop = threading.Event()
    thread = threading.Thread(target=master.run, args=(None,), kwargs={"lockstep": False, "should_stop": stop.is_set},
                              daemon=True)
    thread.start()
    client = ControlClient("127.0.0.1", services.control.port, services.control.token)
    yield master, link, client
    stop.set()
    thread.join(5)
    services.stop()


def test_console_action_to_framestate(benchmark, live):
    master, link, client = live
    latencies, round_trips = [], []
    azimuths = iter(np.linspace(10.0, 170.0, ACTIONS * 4))
    # Actions at random phases of the frame period (a fixed pause would lock onto the frame clock).
    pauses = iter(np.random.default_rng(9).uniform(0.0, 2.0 / master.fps, ACTIONS * 4))

    def action():
        az = float(next(azimuths))
        t0 = time.perf_counter_ns()
        client.post("/api/view", {"az_deg": az})
        t1 = time.perf_counter_ns()
        with link.changed:
            assert link.changed.wait_for(lambda: az in link.first_seen, timeout=5.0)
        round_trips.append((t1 - t0) / 1e6)
        latencies.append((max(link.first_seen[az], t0) - t0) / 1e6)
        time.sleep(float(next(pauses)))

    benchmark.pedantic(action, rounds=ACTIONS, iterations=1, warmup_rounds=3)
    p50, p99 = np.percentile(latencies, [50, 99])
    rt50 = float(np.percentile(round_trips, 50))
    benchmark.extra_info.update({
        "fps": master.fps, "action_to_frame_ms_p50": float(p50), "action_to_frame_ms_p99": float(p99),
        "http_round_trip_ms_p50": rt50, "ratio_p50_vs_round_trip": float(p50) / rt50,
    })
    print(f"\nconsole action -> FrameState: p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"bare HTTP round trip p50 {rt50:.1f} ms; ratio {p50 / rt50:.2f} (frame period {1000 / master.fps:.1f} ms)")
