"""The node loop over a fake link (the real-socket tests are in test_cluster_sockets.py)."""

from domectl.frame import FrameState
from domectl.node import NodeLoop
from domectl.protocol import Frame, Ready, Swap, decode, encode


def _state(frame):
    return FrameState(frame=frame, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.7,
                      longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0)


class FakeLink:
    def __init__(self, batches):
        self.batches = list(batches)
        self.sent = []

    def receive(self, timeout_ms, direct=True):
        return self.batches.pop(0) if self.batches else []

    def send(self, msg):
        self.sent.append(decode(encode(msg)))


def test_a_burst_of_frames_renders_only_the_newest_and_keeps_the_rest():
    burst = [encode(Frame(_state(4))), encode(Swap(3)), encode(Frame(_state(5))), encode(Frame(_state(6)))]
    link = FakeLink([burst, [encode(Swap(6))]])
    rendered = []
    loop = NodeLoop(1, link, lambda s: rendered.append(s.frame) or s.frame)
    loop.joined = True
    loop.tick(0)
    loop.tick(0)
    assert rendered == [6]
    assert loop.stats.dropped == {"superseded_frame": 2}
    assert [(m.ig, m.frame) for m in link.sent if isinstance(m, Ready)] == [(1, 6)]
    assert loop.presented_frame == 6 and loop.presented == 6


def _late_node(late_frame):
    """A node that presented frame 1, then missed the swap of frame 2 (it never got the frame)."""
    link = FakeLink([[encode(Frame(_state(1)))], [encode(Swap(1))], [encode(Swap(2))]])
    loop = NodeLoop(1, link, lambda s: f"picture {s.frame}", late_frame=late_frame,
                    black=lambda image: "black")
    loop.joined = True
    for _ in range(3):
        loop.tick(0)
    return loop


def test_a_late_node_holds_its_last_frame_by_default():
    loop = _late_node("hold")
    assert loop.stats.missed_swaps == 1
    assert loop.presented == "picture 1"


def test_a_late_node_goes_black_when_the_hall_says_so():
    loop = _late_node("black")
    assert loop.stats.missed_swaps == 1
    assert loop.presented == "black"


def test_an_unknown_late_frame_policy_is_refused():
    import pytest
    with pytest.raises(ValueError, match="late_frame 'grey'"):
        NodeLoop(1, FakeLink([]), lambda s: None, late_frame="grey")


def test_the_hall_config_chooses_the_late_frame_policy(tmp_path):
    import pytest
    from domectl.config import ConfigError, dump_hall, load_hall

    hall = load_hall()
    assert hall.timing.late_frame == "hold"
    root = dump_hall(hall, tmp_path / "hall")
    cluster = root / "cluster.toml"
    cluster.write_text(cluster.read_text().replace('late_frame = "hold"', 'late_frame = "black"'))
    assert load_hall(root).timing.late_frame == "black"
    cluster.write_text(cluster.read_text().replace('late_frame = "black"', 'late_frame = "grey"'))
    with pytest.raises(ConfigError, match="late_frame"):
        load_hall(root)
