"""OSC in the frame loop over real UDP: frame cues to the audio server, timecode chase."""

import shutil
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from fakes import NullLink, StillSky, T0
from domectl.config import load_hall
from domectl.master import Master, Scene
from domectl.oscio import FRAME_ADDRESS, TIMECODE_TIMEOUT_S, AudioCues, TimecodeChase







def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def test_every_presented_frame_is_cued_to_the_audio_server():
    audio_in = receiver()
    audio = AudioCues("127.0.0.1", audio_in.getsockname()[1])
    master = Master(load_hall(), NullLink(), StillSky(), Scene(start_utc=T0), igs=(), deadline_ms=1.0,
                    audio=audio)
    for n in range(5):
        master.step(n)
    cues = [OscMessage(audio_in.recv(1024)) for _ in range(5)]
    assert [c.address for c in cues] == [FRAME_ADDRESS] * 5
    assert [c.params[0] for c in cues] == [0, 1, 2, 3, 4]
    assert [c.params[1] for c in cues] == pytest.approx([n / master.fps for n in range(5)])
    audio.close()


def test_an_unreachable_audio_server_never_stops_the_frames():
    audio = AudioCues("127.0.0.1", 9)  # discard port: nobody listens, ICMP errors come back
    master = Master(load_hall(), NullLink(), StillSky(), Scene(start_utc=T0), igs=(), deadline_ms=1.0,
                    audio=audio)
    for n in range(20):
        master.step(n)
    assert master.metrics.frames == 20
    assert audio.sent + audio.failed == 20


def chase(**kwargs):
    clock = {"t": 100.0}
    tc = TimecodeChase(0, kwargs.get("networks", ("127.0.0.0/8",)), host="127.0.0.1", clock_s=lambda: clock["t"])
    return tc, clock, SimpleUDPClient("127.0.0.1", tc.port)


def wait_for(tc, received):
    end = time.monotonic() + 2.0
    while tc.received < received and time.monotonic() < end:
        tc.poll()
        time.sleep(0.005)


def test_the_master_chases_an_external_timecode():
    tc, clock, client = chase()
    sky = StillSky()
    master = Master(load_hall(), NullLink(), sky, Scene(start_utc=T0, rate=60.0), igs=(), deadline_ms=1.0,
                    timecode=tc)
    assert master.frame_state(0).show_time_s == 0.0  # no timecode yet: free-running
    client.send_message("/domectl/timecode", 754.25)
    wait_for(tc, 1)
    state = master.frame_state(1)
    assert state.show_time_s == pytest.approx(754.25)
    assert sky.last_utc == T0 + timedelta(seconds=754.25 * 60.0)  # sim time follows (rate 60)
    clock["t"] += 0.1  # between packets the show time runs on smoothly
    assert master.frame_state(2).show_time_s == pytest.approx(754.35)
    # The timecode stops: the show runs on from where it was, at the frame rate, without a jump back.
    clock["t"] += TIMECODE_TIMEOUT_S + 0.1
    assert master.frame_state(3).show_time_s == pytest.approx(754.35 + 1 / master.fps)
    tc.close()


def test_oscsend_from_liblo_is_understood():
    oscsend = shutil.which("oscsend")
    assert oscsend, "oscsend is missing: sh dev.sh setup installs liblo-tools"
    tc, clock, _ = chase()
    subprocess.run([oscsend, "127.0.0.1", str(tc.port), "/domectl/timecode", "f", "42.5"], check=True, timeout=10)
    wait_for(tc, 1)
    assert tc.show_time_s() == pytest.approx(42.5)
    tc.close()


def test_bad_timecode_packets_are_counted_and_dropped():
    tc, clock, client = chase()
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw.sendto(b"\x00garbage\xff" * 3, ("127.0.0.1", tc.port))
    raw.sendto(b"/domectl/timecode\x00\x00\x00,f\x00", ("127.0.0.1", tc.port))  # truncated argument
    client.send_message("/domectl/other", 1.0)
    client.send_message("/domectl/timecode", "soon")
    client.send_message("/domectl/timecode", -5.0)
    client.send_message("/domectl/timecode", 9.0)  # a good one last
    wait_for(tc, 1)
    assert tc.show_time_s() == pytest.approx(9.0)
    assert tc.rejected["malformed"] >= 1
    assert tc.rejected["address"] == 1
    assert tc.rejected["bad_time"] == 2
    assert sum(tc.rejected.values()) == 5
    tc.close()


def test_timecode_from_outside_the_allowed_networks_is_refused():
    tc, clock, client = chase(networks=("10.20.0.0/16",))
    client.send_message("/domectl/timecode", 9.0)
    end = time.monotonic() + 1.0
    while not tc.rejected and time.monotonic() < end:
        tc.poll()
        time.sleep(0.005)
    assert tc.rejected["network"] == 1 and tc.show_time_s() is None
    tc.close()
