"""The standby master: mirrors the primary's scene and carries on from its last frame."""

import types
from datetime import datetime, timezone

import pytest

from domectl.config import load_hall
from domectl.errors import PeerError
from domectl.frame import Overlay
from domectl.master import Master, Scene
from domectl.protocol import Mirror, decode, encode

T0 = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)


class StillSky:
    def sample(self, utc, lat, lon, elev):
        return types.SimpleNamespace(tt_jd=2461000.5 + (utc - T0).total_seconds() / 86400,
                                     enu_from_icrs=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], beta_icrs=(0.0, 0.0, 0.0),
                                     years_since_epoch=35.0, sun_alt_deg=-40.0, bodies=())


class Wire:
    """A fake PUB: keeps the last mirror, as encoded bytes."""

    def __init__(self):
        self.mirror = None

    def publish(self, msg):
        data = encode(msg)
        if isinstance(msg, Mirror):
            self.mirror = decode(data)

    def receive(self, timeout_ms):
        return []


def a_busy_primary():
    wire = Wire()
    primary = Master(load_hall(), wire, StillSky(), Scene(start_utc=T0, rate=30.0), igs=(), deadline_ms=1.0)
    for n in range(10):
        primary.step(n)
    primary.set_rate(-120.0)
    primary.fade_layer("constellation-lines", 1.0, fade_s=2.0)
    primary.scene.pointer = "Saturn"
    primary.scene.overlays = (Overlay("text", "Bienvenue à La Coupole", 0.0, 30.0, 3.0, 0.8, (1.0, 0.9, 0.7)),)
    primary.travel(-33.9, 18.4, 10.0)
    for n in range(10, 40):
        primary.step(n)
    primary.publish_mirror(force=True)
    return primary, wire


def test_the_standby_carries_on_exactly_where_the_primary_was():
    primary, wire = a_busy_primary()
    standby = Master(load_hall(), Wire(), StillSky(), Scene(start_utc=datetime(2000, 1, 1, tzinfo=timezone.utc)),
                     igs=())
    standby.restore(wire.mirror.state)
    for n in (40, 41, 100):
        expected, got = primary.frame_state(n), standby.frame_state(n)
        assert got == expected  # sim time, fade in progress, pointer, overlay, site: all of it
    assert 0.0 < dict(standby.frame_state(40).layers)["constellation-lines"] < 1.0  # mid-fade
    standby.step(40)  # and its first frame is the primary's next one
    assert standby.barrier.frame == 40


def test_a_malformed_mirror_is_refused_and_names_the_problem():
    primary, wire = a_busy_primary()
    standby = Master(load_hall(), Wire(), StillSky(), Scene(start_utc=T0), igs=())
    bad = dict(wire.mirror.state, v=99)
    with pytest.raises(PeerError, match="mirror format 99"):
        standby.restore(bad)
    broken = dict(wire.mirror.state)
    broken["scene"] = dict(broken["scene"], layers={"no-such-layer": [0, 1, 0, 0]})
    with pytest.raises(PeerError, match="no-such-layer"):
        standby.restore(broken)
    assert standby.barrier.frame == -1  # untouched: it keeps what it had
