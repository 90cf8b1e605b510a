"""Master and nodes over real ZeroMQ sockets on loopback (stand-in renderers, real protocol)."""

import os
import threading
import time
import types
from datetime import datetime, timezone

import numpy as np
import pytest
import zmq

from domectl.master import Master, Scene
from domectl.node import NodeLoop
from domectl.protocol import Frame, Ready, decode, encode
from domectl.transport import MasterLink, NodeLink


class StillSky:
    """Stands in for the ephemeris: a fixed sky (these tests are about the protocol)."""

    def sample(self, utc, lat, lon, elev):
        return types.SimpleNamespace(tt_jd=2461000.5, enu_from_icrs=np.eye(3), beta_icrs=np.zeros(3),
                                     years_since_epoch=35.0, sun_alt_deg=-30.0, bodies=())


def _hall(fps=60.0, deadline_ms=14.0):
    return types.SimpleNamespace(
        timing=types.SimpleNamespace(fps=fps, swap_deadline_ms=deadline_ms),
        site=types.SimpleNamespace(latitude_deg=50.707, longitude_deg=2.24, elevation_m=80.0), igs=())


class Cluster:
    def __init__(self, n, render=None, fps=60.0, deadline_ms=14.0):
        self.link = MasterLink()
        self.master = Master(_hall(fps, deadline_ms), self.link, StillSky(),
                             Scene(start_utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc)),
                             igs=tuple(range(1, n + 1)))
        self.loops = {}
        self.stops = {}
        self.threads = {}
        self.closed = False
        self.render = render or (lambda ig: (lambda state: state.frame))
        for ig in range(1, n + 1):
            self.start(ig)

    def start(self, ig):
        stop = threading.Event()
        loop = NodeLoop(ig, NodeLink(ig, self.link.frame_endpoint, self.link.control_endpoint),
                        self.render(ig))
        self.loops[ig], self.stops[ig] = loop, stop
        t = threading.Thread(target=loop.run, kwargs={"should_stop": stop.is_set}, daemon=True)
        self.threads[ig] = t
        t.start()

    def kill(self, ig):
        """Stop a node without a bye: as a crash looks to the master."""
        loop = self.loops[ig]
        loop.link.send = lambda msg: None
        self.stops[ig].set()
        self.threads[ig].join(5)
        loop.link.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.master.shutdown(final=True)
        for t in self.threads.values():
            t.join(5)
        self.link.close()


@pytest.fixture
def cluster_factory():
    made = []

    def make(*args, **kw):
        c = Cluster(*args, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_24_nodes_in_lockstep_present_every_frame(cluster_factory):
    c = cluster_factory(24)
    assert c.master.wait_for_nodes(20) == 24
    c.master.run(60, lockstep=True)
    c.master.shutdown(final=True)
    for t in c.threads.values():
        t.join(5)
    for loop in c.loops.values():
        assert loop.finished
        assert loop.presented == 59
        assert loop.stats.frames_presented == 60
        assert loop.stats.missed_swaps == 0
    assert c.master.metrics.late_swaps == 0
    assert all(n.swaps == 60 for n in c.master.barrier.nodes.values())


def test_a_dead_node_stalls_one_deadline_then_the_rest_keep_swapping(cluster_factory):
    c = cluster_factory(4, fps=60.0, deadline_ms=14.0)
    assert c.master.wait_for_nodes(10) == 4
    c.master.run(10, lockstep=False)
    c.kill(3)
    decisions = []
    for n in range(10, 40):
        decisions.append(c.master.step(n))
    late = [d for d in decisions if d.late]
    assert [d.late for d in late] == [(3,)]          # exactly one frame waited for it
    assert late[0].waited_ns >= 14e6
    assert all(d.waited_ns < 14e6 for d in decisions if not d.late)
    for ig in (1, 2, 4):
        c.master.pump(0)
        assert c.loops[ig].presented_frame >= 38


def test_a_restarted_node_rejoins_from_the_snapshot_within_a_second(cluster_factory):
    c = cluster_factory(3, fps=60.0)
    assert c.master.wait_for_nodes(10) == 3
    c.master.run(5, lockstep=False)
    c.kill(2)
    for n in range(5, 10):
        c.master.step(n)
    t0 = time.monotonic()
    c.start(2)
    n = 10
    while not c.master.barrier.nodes[2].in_barrier or c.loops[2].presented_frame < n - 1:
        c.master.step(n)
        n += 1
        assert time.monotonic() - t0 < 1.0, "restarted node not back in sync within 1 s"
    assert c.loops[2].state.frame == c.loops[1].state.frame


def test_garbage_on_the_control_socket_is_counted_and_harmless(cluster_factory):
    c = cluster_factory(2)
    assert c.master.wait_for_nodes(10) == 2
    ctx = zmq.Context.instance()
    stranger = ctx.socket(zmq.DEALER)
    stranger.setsockopt(zmq.IDENTITY, b"stranger")
    stranger.setsockopt(zmq.LINGER, 0)
    stranger.connect(c.link.control_endpoint)
    rng = np.random.default_rng(3)
    for _ in range(200):
        stranger.send(rng.bytes(int(rng.integers(0, 300))))
    stranger.send_multipart([b"two", b"parts"])
    stranger.send(encode(Ready(1, 0, 1.0)))       # a well-formed ready claiming to be ig01
    c.master.run(20, lockstep=True)
    stranger.close()
    rejected = c.master.barrier.rejected
    assert rejected.get("malformed", 0) >= 190
    assert rejected.get("identity_mismatch", 0) == 1
    assert c.master.metrics.frames == 20 and c.master.metrics.late_swaps == 0


def test_nodes_ignore_garbage_on_the_frame_socket(cluster_factory):
    c = cluster_factory(2)
    assert c.master.wait_for_nodes(10) == 2
    for _ in range(50):
        c.link.publish_raw(os.urandom(64))
    c.master.run(10, lockstep=True)
    c.close()
    for loop in c.loops.values():
        assert loop.presented_frame == 9
        assert loop.stats.dropped.get("malformed", 0) >= 45


def test_a_node_that_loses_a_frame_rejoins_from_a_snapshot_instead_of_stalling(cluster_factory):
    c = cluster_factory(3)
    loop = c.loops[2]
    receive = loop.link.receive
    lost = []

    def lossy_receive(timeout_ms, direct=True):
        got = receive(timeout_ms, direct)
        for i, data in enumerate(got):
            msg = decode(data)
            if isinstance(msg, Frame) and msg.state.frame == 3 and not lost:
                lost.append(msg)            # lose frame 3, once
                return got[:i] + got[i + 1:]
        return got

    loop.link.receive = lossy_receive
    assert c.master.wait_for_nodes(10) == 3
    c.master.run(3, lockstep=True)
    t0 = time.monotonic()
    decision = c.master.step(3, deadline_ns=int(30e9))
    assert lost, "the test link never saw frame 3"
    assert decision.late == () and time.monotonic() - t0 < 2.0
    assert loop.stats.dropped.get("lost_frame") == 1
    for n in (4, 5):
        assert c.master.step(n, deadline_ns=int(30e9)).late == ()
