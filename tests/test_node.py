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
