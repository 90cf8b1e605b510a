"""The sans-IO protocol: codec and barrier, over a fake link with a fake clock."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domectl.errors import LocalError, PeerError
from domectl.frame import FrameState
from domectl.protocol import (
    HEARTBEAT_INTERVAL_S, LIVENESS, MAX_MESSAGE_BYTES, Barrier, Bye, Frame, Heartbeat, Hello, Ready,
    Snapshot, Swap, decode, encode,
)

MS = 1_000_000  # ns


def _state(frame=3) -> FrameState:
    return FrameState(frame=frame, deadline_ns=99, show_time_s=0.05, tt_jd=2461000.5, latitude_deg=50.7,
                      longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0)


MESSAGES = [Hello(7), Snapshot(7, _state()), Snapshot(7, None), Frame(_state()), Ready(7, 3, 12.5),
            Swap(3), Heartbeat(0, 3), Heartbeat(7, 3, 59.5, 14.0, 2), Bye(0, True), Bye(7)]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(msg):
    assert decode(encode(msg)) == msg


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_peer_error(data):
    try:
        decode(data)
    except PeerError:
        pass


def test_mutated_messages_only_ever_raise_peer_error():
    rng = random.Random(1)
    decoded = 0
    for _ in range(5000):
        data = bytearray(encode(rng.choice(MESSAGES)))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data) + 1)]
        try:
            decode(bytes(data))
            decoded += 1
        except PeerError:
            pass
    assert decoded < 5000  # most mutations are caught, none crash


def test_oversized_and_foreign_messages_are_named():
    with pytest.raises(PeerError, match="exceeds"):
        decode(b"\xd0\x01\x05" + bytes(MAX_MESSAGE_BYTES))
    with pytest.raises(PeerError, match="not a domectl message"):
        decode(b"GET / HTTP/1.1\r\n")
    with pytest.raises(PeerError, match="protocol version 9"):
        decode(b"\xd0\x09\x05" + bytes(8))
    with pytest.raises(PeerError, match="unknown message type 42"):
        decode(b"\xd0\x01\x2a")


def test_unencodable_values_are_local_errors():
    with pytest.raises(LocalError):
        encode(Ready(70000, 1, 1.0))
    with pytest.raises(LocalError):
        encode("not a message")


class FakeClock:
    def __init__(self):
        self.ns = 1_000 * MS

    def __call__(self):
        return self.ns

    def advance(self, ms):
        self.ns += int(ms * MS)


@pytest.fixture
def joined():
    clock = FakeClock()
    barrier = Barrier((1, 2, 3))
    for ig in (1, 2, 3):
        assert barrier.hello(ig, clock())
    return barrier, clock


def test_swap_when_all_ready(joined):
    barrier, clock = joined
    barrier.begin(0, clock(), clock() + 14 * MS)
    for ig in (1, 2):
        assert barrier.ready(Ready(ig, 0, 5.0), clock())
    assert barrier.poll(clock()) is None
    clock.advance(3)
    barrier.ready(Ready(3, 0, 5.0), clock())
    decision = barrier.poll(clock())
    assert decision.frame == 0 and decision.late == () and not decision.by_deadline
    assert decision.waited_ns == 3 * MS
    assert barrier.poll(clock()) is None  # decided once


def test_late_node_leaves_at_the_deadline_and_rejoins_when_caught_up(joined):
    barrier, clock = joined
    barrier.begin(0, clock(), clock() + 14 * MS)
    barrier.ready(Ready(1, 0, 5.0), clock())
    barrier.ready(Ready(2, 0, 5.0), clock())
    clock.advance(13.9)
    assert barrier.poll(clock()) is None
    clock.advance(0.1)
    decision = barrier.poll(clock())
    assert decision.late == (3,) and decision.by_deadline
    assert barrier.nodes[3].missed == 1 and not barrier.nodes[3].in_barrier
    # The next frame does not wait for the late node: one stall only.
    barrier.begin(1, clock(), clock() + 14 * MS)
    barrier.ready(Ready(1, 1, 5.0), clock())
    barrier.ready(Ready(2, 1, 5.0), clock())
    assert barrier.poll(clock()).late == ()
    # Its stale ready for frame 0 is refused and counted; a current one brings it back.
    barrier.begin(2, clock(), clock() + 14 * MS)
    assert not barrier.ready(Ready(3, 0, 5.0), clock())
    assert barrier.rejected["stale_ready"] == 1
    assert barrier.ready(Ready(3, 2, 5.0), clock())
    assert barrier.nodes[3].in_barrier
    barrier.ready(Ready(1, 2, 5.0), clock())
    assert barrier.poll(clock()) is None  # now it waits for node 2 again, as a member
    barrier.ready(Ready(2, 2, 5.0), clock())
    assert barrier.poll(clock()).late == ()


def test_silent_node_goes_offline_after_liveness(joined):
    barrier, clock = joined
    liveness_ms = HEARTBEAT_INTERVAL_S * 1000 * LIVENESS
    clock.advance(liveness_ms - 100)
    for ig in (1, 2):
        barrier.heartbeat(Heartbeat(ig, 0), clock())
    assert barrier.expire(clock()) == []
    clock.advance(100.001)
    assert barrier.expire(clock()) == [3]
    assert not barrier.nodes[3].online and not barrier.nodes[3].in_barrier
    assert barrier.nodes[1].online and barrier.nodes[2].online


def test_unknown_ig_is_counted(joined):
    barrier, clock = joined
    assert not barrier.hello(42, clock())
    assert not barrier.ready(Ready(42, 0, 1.0), clock())
    assert barrier.rejected["unknown_ig"] == 2


def test_frames_must_increase(joined):
    barrier, clock = joined
    barrier.begin(5, clock(), clock())
    with pytest.raises(LocalError, match="frames must increase"):
        barrier.begin(5, clock(), clock())


def test_mirror_round_trips_as_json_and_refuses_anything_else():
    from domectl.protocol import MAX_MIRROR_BYTES, Mirror

    state = {"v": 1, "frame": 12, "scene": {"pointer": "Mars", "layers": {"stars": [0.0, 1.0, 0.0, 0.0]}}}
    assert decode(encode(Mirror(state))) == Mirror(state)
    data = encode(Mirror(state))
    with pytest.raises(PeerError, match="mirror: not UTF-8 JSON"):
        decode(data[:-3])
    with pytest.raises(PeerError, match="JSON object"):
        decode(data[:3] + b"[1, 2]")
    with pytest.raises(PeerError, match="NaN is not allowed"):
        decode(data[:3] + b'{"x": NaN}')
    with pytest.raises(LocalError, match="not plain finite JSON"):
        encode(Mirror({"x": float("inf")}))
    with pytest.raises(LocalError, match="exceeds"):
        encode(Mirror({"x": "a" * MAX_MIRROR_BYTES}))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["hello", "bye", "ready", "stale", "expire", "begin", "poll",
                                           "tick"]), st.sampled_from([1, 2, 3, 4])), max_size=80))
def test_the_barrier_decides_exactly_when_the_slow_definition_says(ops):
    """poll() gates on a waiting set kept in step with every event; it must decide exactly when
    "every node in the barrier is ready for this frame, or the deadline passed" says so."""
    clock = FakeClock()
    barrier = Barrier((1, 2, 3, 4))
    frame = -1
    for op, ig in ops:
        if op == "hello":
            barrier.hello(ig, clock())
        elif op == "bye":
            barrier.bye(ig)
        elif op in ("ready", "stale"):
            barrier.ready(Ready(ig, frame if op == "ready" else frame - 1, 1.0), clock())
        elif op == "expire":
            clock.advance(HEARTBEAT_INTERVAL_S * LIVENESS * 1000 / 2)
            barrier.expire(clock())
        elif op == "begin":
            frame += 1
            barrier.begin(frame, clock(), clock() + 14 * MS)
        elif op == "tick":
            clock.advance(5)
        else:
            expected_due = not barrier.decided and (not barrier.waiting_for() or clock() >= barrier.deadline_ns)
            decision = barrier.poll(clock())
            assert (decision is not None) == expected_due


def test_a_node_out_of_an_empty_barrier_gets_back_in_when_it_catches_up():
    """With no node left in the barrier every frame is decided as it starts: a late node's ready for
    the current frame brings it back in for the next one, which then waits for it."""
    clock = FakeClock()
    barrier = Barrier((1,))
    assert barrier.hello(1, clock())
    barrier.begin(0, clock(), clock() + 14 * MS)
    clock.advance(14)
    assert barrier.poll(clock()).late == (1,)                      # missed: out of the barrier
    barrier.begin(1, clock(), clock() + 14 * MS)
    assert barrier.poll(clock()) is not None                       # nobody to wait for
    assert not barrier.ready(Ready(1, 1, 5.0), clock())            # too late for frame 1, but current
    assert barrier.nodes[1].in_barrier
    barrier.begin(2, clock(), clock() + 14 * MS)
    assert barrier.poll(clock()) is None                           # frame 2 waits for it again
    assert barrier.ready(Ready(1, 2, 5.0), clock()) and barrier.poll(clock()).late == ()


def test_with_others_in_the_barrier_a_late_node_must_be_ready_before_the_swap_to_get_back_in(joined):
    barrier, clock = joined
    barrier.begin(0, clock(), clock() + 14 * MS)
    barrier.ready(Ready(1, 0, 5.0), clock())
    barrier.ready(Ready(2, 0, 5.0), clock())
    clock.advance(14)
    assert barrier.poll(clock()).late == (3,)
    barrier.begin(1, clock(), clock() + 14 * MS)
    barrier.ready(Ready(1, 1, 5.0), clock())
    barrier.ready(Ready(2, 1, 5.0), clock())
    assert barrier.poll(clock()).late == ()
    assert not barrier.ready(Ready(3, 1, 5.0), clock())           # after the swap: still out
    assert not barrier.nodes[3].in_barrier
