"""Swap barrier round trip with 24 node processes: domectl's protocol vs raw pyzmq, same run.

    sh dev.sh bench -k barrier        (or: .venv/bin/python -m pytest benchmarks/bench_barrier.py --benchmark-only)

Both sides run paced at 120 Hz (the active-stereo rate), use 24 processes on
this machine and the same socket pattern
(PUB for frames, one return path for acks): the raw baseline sends a 1 KB
frame and waits for 24 bare PUSH acks; domectl runs ``Master.step`` with a
real FrameState, the protocol codec, the Barrier and ``NodeLoop`` with a
renderer that draws nothing. The ratio of medians (domectl / raw) is what
the protocol costs on top of ZeroMQ; DESIGN.md asks for "close to raw" and
issue 6 for <= 1.3. Round trip = frame published -> last ready received.

Measured on the 2-core development machine (2026-11-20): raw p50 0.8-1.0 ms,
domectl 2.1-3.9 ms, ratio 2.1-3.1 (target 1.3, not met). Where the rest goes,
found by stripping domectl down in the same harness: a bare loop that only
decodes each FrameState and answers over DEALER/ROUTER already costs 1.67x
raw (every node decodes ~0.5-1.3 KB in Python, and 24 of them share two
cores); NodeLoop and the Master's barrier bookkeeping add the rest. On the
hall's 24 IG machines the node's share runs in parallel, not 12 deep.
Each figure is in the benchmark's ``extra_info``.

``test_barrier_round_trip_24_nodes_curve_vs_plaintext`` runs the same
domectl barrier twice in one run, plaintext then CURVE (every socket
encrypted, the master authenticating each node by ZAP and checking each
message's User-Id), and reports the ratio: what the hall's security costs.

    .venv/bin/python -m pytest benchmarks/bench_barrier.py --benchmark-only -k curve -s
"""

from __future__ import annotations

import multiprocessing as mp
import time
import types
from datetime import datetime, timezone

import numpy as np
import pytest
import zmq

NODES = 24
FRAMES = 240
FPS = 120.0       # both barriers are paced like the hall's active stereo: one frame per 8.33 ms
FRAME_BYTES = 1024


class StillSky:
    def sample(self, utc, lat, lon, elev):
        return types.SimpleNamespace(tt_jd=2461000.5, enu_from_icrs=np.eye(3), beta_icrs=np.zeros(3),
                                     years_since_epoch=35.0, sun_alt_deg=-30.0, bodies=())


def _raw_node(index: int, frame_ep: str, ack_ep: str) -> None:
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(frame_ep)
    push = ctx.socket(zmq.PUSH)
    push.connect(ack_ep)
    while True:
        msg = sub.recv()
        if msg == b"stop":
            break
        push.send(msg[:8] + bytes([index]))
    ctx.destroy(0)


def _domectl_node(ig: int, frame_ep: str, control_ep: str, keys=None) -> None:
    from domectl.node import NodeLoop
    from domectl.transport import NodeLink

    NodeLoop(ig, NodeLink(ig, frame_ep, control_ep, keys=keys), lambda state: None).run()


def _stats(round_trips_ms: list[float]) -> dict:
    a = np.asarray(round_trips_ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "frames": len(a)}


def _pace(period_s: float | None, next_s: float) -> float:
    """Wait for the next frame start (``period_s`` None: back to back); returns the one after."""
    if period_s is None:
        return 0.0
    while time.perf_counter() < next_s:
        time.sleep(min(0.0005, max(0.0, next_s - time.perf_counter())))
    return max(next_s + period_s, time.perf_counter())


def run_raw(fps: float | None = None) -> dict:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind("tcp://127.0.0.1:*")
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    frame_ep = pub.getsockopt_string(zmq.LAST_ENDPOINT)
    ack_ep = pull.getsockopt_string(zmq.LAST_ENDPOINT)
    procs = [mp.get_context("spawn").Process(target=_raw_node, args=(i, frame_ep, ack_ep)) for i in range(NODES)]
    for p in procs:
        p.start()
    # Slow joiners: beacon until all 24 answered one, then drain.
    joined: set[int] = set()
    while len(joined) < NODES:
        pub.send(b"\xff" * 8 + b"join")
        if pull.poll(50):
            while pull.poll(0):
                joined.add(pull.recv()[8])
    time.sleep(0.2)
    while pull.poll(50):
        pull.recv()
    payload = bytearray(FRAME_BYTES)
    trips = []
    period_s = 1.0 / fps if fps else None
    next_s = time.perf_counter()
    for n in range(FRAMES):
        next_s = _pace(period_s, next_s)
        payload[:8] = n.to_bytes(8, "little")
        t0 = time.perf_counter_ns()
        pub.send(bytes(payload))
        acks = 0
        while acks < NODES:
            if int.from_bytes(pull.recv()[:8], "little") == n:
                acks += 1
        trips.append((time.perf_counter_ns() - t0) / 1e6)
        pub.send(b"swap" + n.to_bytes(8, "little"))
    pub.send(b"stop")
    for p in procs:
        p.join(10)
    ctx.destroy(0)
    return _stats(trips)


def run_domectl(curve: bool = False, frames: int = FRAMES, fps: float | None = None) -> dict:
    """The domectl barrier with 24 node processes; ``curve``: with ephemeral CURVE keys."""
    from domectl.keys import ephemeral_hall_keys
    from domectl.master import Master, Scene
    from domectl.transport import MasterLink

    keys = ephemeral_hall_keys(range(1, NODES + 1)) if curve else None
    link = MasterLink(keys=keys.master if keys else None)
    hall = types.SimpleNamespace(timing=types.SimpleNamespace(fps=120.0, swap_deadline_ms=1000.0),
                                 site=types.SimpleNamespace(latitude_deg=50.7, longitude_deg=2.24,
                                                            elevation_m=80.0), igs=())
    master = Master(hall, link, StillSky(), Scene(start_utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc)),
                    igs=tuple(range(1, NODES + 1)))
    procs = [mp.get_context("spawn").Process(
        target=_domectl_node,
        args=(ig, link.frame_endpoint, link.control_endpoint, keys.nodes[ig] if keys else None))
        for ig in range(1, NODES + 1)]
    for p in procs:
        p.start()
    assert master.wait_for_nodes(60) == NODES
    trips = []
    period_s = 1.0 / fps if fps else None
    next_s = time.perf_counter()
    for n in range(frames):
        next_s = _pace(period_s, next_s)
        decision = master.step(n)
        assert decision.late == ()
        trips.append(decision.waited_ns / 1e6)
    master.shutdown(final=True)
    for p in procs:
        p.join(10)
    if keys is not None:
        assert link.rejected_peers == {}, link.rejected_peers
    link.close()
    return _stats(trips)


@pytest.mark.benchmark(group="barrier")
def test_barrier_round_trip_24_nodes_vs_raw_pyzmq(benchmark):
    raw = run_raw(fps=FPS)
    ours = benchmark.pedantic(run_domectl, kwargs={"fps": FPS}, rounds=1, iterations=1)
    ratio = ours["p50_ms"] / raw["p50_ms"]
    benchmark.extra_info.update({"raw": raw, "domectl": ours, "ratio_p50": ratio,
                                 "ratio_p99": ours["p99_ms"] / raw["p99_ms"]})
    print(f"\nbarrier, {NODES} processes: raw p50 {raw['p50_ms']:.2f} ms p99 {raw['p99_ms']:.2f} ms; "
          f"domectl p50 {ours['p50_ms']:.2f} ms p99 {ours['p99_ms']:.2f} ms; ratio p50 {ratio:.2f}")
    assert ours["frames"] == FRAMES


@pytest.mark.benchmark(group="barrier")
def test_barrier_round_trip_24_nodes_curve_vs_plaintext(benchmark):
    plain = run_domectl(curve=False, fps=FPS)
    curve = benchmark.pedantic(run_domectl, kwargs={"curve": True, "fps": FPS}, rounds=1, iterations=1)
    ratio = curve["p50_ms"] / plain["p50_ms"]
    benchmark.extra_info.update({"plaintext": plain, "curve": curve, "ratio_p50": ratio,
                                 "ratio_p99": curve["p99_ms"] / plain["p99_ms"]})
    print(f"\nbarrier, {NODES} processes: plaintext p50 {plain['p50_ms']:.2f} ms p99 {plain['p99_ms']:.2f} ms; "
          f"CURVE p50 {curve['p50_ms']:.2f} ms p99 {curve['p99_ms']:.2f} ms; ratio p50 {ratio:.2f}, "
          f"p99 {curve['p99_ms'] / plain['p99_ms']:.2f}")
    assert curve["frames"] == FRAMES


@pytest.mark.benchmark(group="master")
def test_master_frame_cost_real_ephemeris(benchmark):
    """Master per frame: scene + cached ephemeris + FrameState encoding (DESIGN: <= 0.5 ms median)."""
    from domectl.config import load_hall
    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from domectl.master import Master, Scene
    from domectl.protocol import Frame, encode

    hall = load_hall()
    master = Master(hall, None, CachedEphemeris(Ephemeris()),
                    Scene(start_utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc)))
    master.frame_state(0)   # fill the first cache block outside the measurement
    frames = iter(range(1, 10**9))
    benchmark(lambda: encode(Frame(master.frame_state(next(frames)))))
