"""The vote boxes' OSC endpoint over real UDP: Debian's oscsend, a hall voting at once 100 times,
10,000 bad packets, refused sources, rate limits, kill -9 and restart, the simulator."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from domectl.cli_votes import (
    add_parser,
    cmd_votes,
    plan_presses,
    send_presses,
    vote_datagram,
)
from domectl.config import load_hall
from domectl.votes import (
    BOX_BURST,
    REJECT_REASONS,
    RateLimits,
    SeatMap,
    VoteDesk,
    VoteLog,
)
from domectl.voteserver import VoteServer, parse_presses

HALL = load_hall()
DRIVER = Path(__file__).resolve().parent / "vote_driver.py"
#: Generous: only a broken server takes this long (these are not timing assertions).
WAIT_S = 20.0
#: Datagrams sent before waiting for the server, so the kernel buffer never overflows.
CHUNK = 500


class Clock:
    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def hall_server(tmp_path):
    """A desk logging to tmp_path, its server on 127.0.0.1, and the rate limiter's clock."""
    mono = Clock(100.0)
    desk = VoteDesk(SeatMap.from_seats(HALL.seats), languages=HALL.languages,
                    default_language=HALL.default_language, log=VoteLog(tmp_path / "votes.jsonl"),
                    monotonic_s=mono)
    server = VoteServer(desk, 0, ("127.0.0.0/8",), host="127.0.0.1").start()
    yield desk, server, mono
    server.stop()


def message(address: str, *args) -> bytes:
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def sender(address: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    return sock


def counted(desk: VoteDesk) -> int:
    status = desk.status()
    return status["accepted"] + sum(status["rejected"].values())


# --------------------------------------------------------------- a real box


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="needs oscsend (apt install liblo-tools)")
def test_oscsend_votes_from_several_seats_give_exact_tallies(hall_server):
    desk, server, _ = hall_server
    desk.open("Where next?", ["Mars", "Saturn", "Moon"])
    sends = [("ii", "1", "1"), ("ii", "2", "2"), ("ii", "3", "2"), ("ii", "131", "3"),  # W1
             ("ii", "1", "3"),                   # seat 1 changes its mind
             ("is", "4", "saturn"),              # the option key
             ("si", "J13", "1"),                 # the seat's label (seat 130)
             ("ff", "5", "3"),                   # floats from a control surface
             ("hi", "134", "2"),                 # int64 seat
             ("ii", "135", "1"),                 # no such seat
             ("ii", "6", "4"),                   # no button 4
             ("i", "7")]                         # malformed: one argument
    for types, *values in sends:
        subprocess.run(["oscsend", "127.0.0.1", str(server.port), "/vote", types, *values], check=True, timeout=10)
    assert server.wait_processed(len(sends), WAIT_S)
    status = desk.status()
    assert desk.poll().votes == {1: 2, 2: 1, 3: 1, 131: 2, 4: 1, 130: 0, 5: 2, 134: 1}
    assert status["tally"] == {"Mars": 1, "Saturn": 4, "Moon": 3}
    assert status["rejected"]["unknown_seat"] == 1 and status["rejected"]["invalid_choice"] == 1
    assert status["rejected"]["malformed"] == 1
    assert counted(desk) == len(sends) and server.errors == 0


# ------------------------------------------------------------- the whole hall


def test_134_seats_voting_at_once_100_times_lose_no_vote(hall_server):
    desk, server, mono = hall_server
    rng = random.Random(8)
    boxes = {seat: sender(f"127.0.1.{seat}") for seat in HALL.seats.seat_ids()}   # one address per box
    sent = 0
    try:
        for round_ in range(100):
            desk.open(f"Round {round_}?", ["A", "B", "C", "D"], poll_id=f"r{round_}")
            presses = [(seat, rng.randint(1, 4)) for seat in boxes]
            presses += [(seat, rng.randint(1, 4)) for seat in rng.sample(list(boxes), 45)]  # changes of mind
            for seat, button in presses:
                boxes[seat].sendto(vote_datagram(seat, button), ("127.0.0.1", server.port))
            sent += len(presses)
            assert server.wait_processed(sent, WAIT_S)
            final = dict(presses)
            expected = [sum(1 for b in final.values() if b == k) for k in (1, 2, 3, 4)]
            result = desk.results()
            assert result.tally == tuple(expected), f"round {round_}"
            assert desk.poll().votes == {seat: b - 1 for seat, b in final.items()}
            desk.close("show")
            mono.t += 1.0                        # the next poll a second later, as far as rate limits go
    finally:
        for sock in boxes.values():
            sock.close()
    status = desk.status()
    assert status["accepted"] == sent and sum(status["rejected"].values()) == 0
    assert server.kernel_drops() in (0, None) and server.errors == 0
    # And the log holds every one of them: a restart gives every poll's tally back.
    restarted = VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(desk._log.path))
    assert restarted.replay_report.votes == sent
    assert restarted.results("r99") == desk.results("r99")


# --------------------------------------------------------------- bad input


def bad_packets(rng: random.Random, n: int) -> list[bytes]:
    """Random bytes, truncated and bit-flipped votes, wrong types, addresses and sizes."""
    valid = vote_datagram(3, 2)
    makers = [
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120))),
        lambda: valid[:rng.randint(0, len(valid) - 1)],
        lambda: bytes(b ^ (1 << rng.randint(0, 7)) if rng.random() < 0.2 else b for b in valid),
        lambda: message("/vote", rng.random(), "x"),
        lambda: message("/vote", 1, 2, 3),
        lambda: message("/vote"),
        lambda: message("/vote", b"\x00\x01", 1),
        lambda: message("/vote", True, 1),
        lambda: message(rng.choice(["/Vote", "/vote/1", "/", "/votes", "/domectl/frame"]), 1, 1),
        lambda: message("/vote", rng.randint(-2**31, 2**31 - 1), rng.randint(-2**31, 2**31 - 1)),
        lambda: message("/vote", rng.randint(1, 134), rng.choice(["", "Z", "mars" * 20, "\u00e9"])),
        lambda: b"#bundle\x00" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40))),
        lambda: b"/vote\x00\x00\x00,ii\x00" + struct.pack(">i", 5),
        lambda: b"/vote\x00\x00\x00,ii" + b"\xff" * rng.randint(0, 12),
        lambda: b"\x00" * rng.randint(1, 64),
    ]
    return [rng.choice(makers)() for _ in range(n)]


def test_10000_malformed_or_random_packets_never_crash_and_are_all_counted(hall_server, caplog):
    desk, server, mono = hall_server
    desk.open("?", ["Mars", "Saturn", "Moon"])
    packets = bad_packets(random.Random(10_000), 10_000)
    sock = sender()
    for i in range(0, len(packets), CHUNK):
        for p in packets[i:i + CHUNK]:
            sock.sendto(p, ("127.0.0.1", server.port))
        assert server.wait_processed(min(i + CHUNK, len(packets)), WAIT_S)
    # Every datagram counted once (no multi-message bundle can come out of bad_packets:
    # a random bundle body does not parse).
    assert counted(desk) == len(packets)
    status = desk.status()
    assert status["rejected"]["malformed"] > 3000 and status["rejected"]["unknown_address"] > 300
    assert status["rejected"]["unknown_seat"] > 300 and status["rejected"]["invalid_choice"] > 300
    assert server.errors == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []   # no log flood
    # Still alive and counting (a while later: the flood emptied this address's token bucket).
    mono.t += 10.0
    sock.sendto(vote_datagram(9, 1), ("127.0.0.1", server.port))
    assert server.wait_processed(len(packets) + 1, WAIT_S)
    assert desk.poll().votes[9] == 0
    sock.close()


def test_parse_presses_never_raises_on_any_prefix_or_flip_of_a_bundle():
    builder = OscBundleBuilder(IMMEDIATELY)
    for seat in (1, 2, 3):
        builder.add_content(OscMessageBuilder("/vote").build() if seat == 3 else
                            _built("/vote", seat, seat))
    data = builder.build().dgram
    for cut in range(len(data) + 1):
        out = parse_presses(data[:cut])
        assert all(isinstance(x, (str, tuple)) for x in out) and out
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x41
        assert parse_presses(bytes(flipped))


def _built(address, *args):
    builder = OscMessageBuilder(address)
    for a in args:
        builder.add_arg(a)
    return builder.build()


def test_parse_presses_reads_votes_and_names_what_is_wrong():
    assert parse_presses(message("/vote", 12, 2)) == [(12, 2)]
    assert parse_presses(message("/vote", "A7", "yes")) == [("A7", "yes")]
    assert parse_presses(message("/vote", 12.0, 2.0)) == [(12, 2)]
    assert parse_presses(message("/vote", 12.5, 2)) == [(12.5, 2)]        # the desk rejects the seat
    assert parse_presses(message("/vote", 12)) == ["malformed"]
    assert parse_presses(message("/vote", 12, b"\x01")) == ["malformed"]
    assert parse_presses(message("/other", 12, 2)) == ["unknown_address"]
    assert parse_presses(b"") == ["malformed"]
    assert parse_presses(OscBundleBuilder(IMMEDIATELY).build().dgram) == ["malformed"]
    # python-osc would skip the unknown type X and read two integers; it is malformed here.
    assert parse_presses(b"/vote\x00\x00\x00,iXi\x00\x00\x00\x00" + struct.pack(">ii", 1, 2)) == ["malformed"]
    assert parse_presses(message("/vote", 1, "x" * 600)) == ["malformed"]                  # MAX_MESSAGE_BYTES
    assert parse_presses(message("/vote", [1, 2], 1)) == ["malformed"]                     # an array


def test_bundles_of_votes_count_one_press_per_message(hall_server):
    desk, server, _ = hall_server
    desk.open("?", ["A", "B"])
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(_built("/vote", 4, 2))
    outer = OscBundleBuilder(IMMEDIATELY)
    for seat in (1, 2, 3):
        outer.add_content(_built("/vote", seat, 1))
    outer.add_content(_built("/nope", 5, 1))
    outer.add_content(inner.build())
    sock = sender()
    sock.sendto(outer.build().dgram, ("127.0.0.1", server.port))
    sock.sendto(OscBundleBuilder(IMMEDIATELY).build().dgram, ("127.0.0.1", server.port))
    assert server.wait_processed(2, WAIT_S)
    assert desk.poll().votes == {1: 0, 2: 0, 3: 0, 4: 1}
    assert desk.status()["rejected"]["unknown_address"] == 1 and desk.status()["rejected"]["malformed"] == 1
    sock.close()


# ------------------------------------------------------------ who may vote


def test_sources_outside_the_allowed_networks_are_refused_and_counted():
    desk = VoteDesk(SeatMap.from_seats(HALL.seats))
    desk.open("?", ["A", "B"])
    server = VoteServer(desk, 0, ("127.0.0.1/32", "10.1.0.0/16"), host="0.0.0.0").start()
    inside, outside = sender("127.0.0.1"), sender("127.0.3.9")
    try:
        for sock, seat in ((outside, 1), (inside, 2), (outside, 3), (outside, 4)):
            sock.sendto(vote_datagram(seat, 1), ("127.0.0.1", server.port))
        assert server.wait_processed(4, WAIT_S)
        assert desk.poll().votes == {2: 0}
        assert desk.status()["rejected"]["not_allowed_source"] == 3
    finally:
        server.stop()
        inside.close()
        outside.close()


def test_the_endpoint_takes_its_networks_from_the_hall_config(tmp_path):
    hall = dataclasses.replace(HALL, osc=dataclasses.replace(HALL.osc, vote_port=0,
                                                             allowed_networks=("127.0.0.1/32",)))
    desk = VoteDesk.for_hall(hall, log_path=tmp_path / "votes.jsonl")
    server = VoteServer.for_hall(hall, desk, host="127.0.0.1").start()
    try:
        desk.open("?", ["A", "B"])
        inside, outside = sender("127.0.0.1"), sender("127.0.0.2")
        inside.sendto(vote_datagram(1, 2), ("127.0.0.1", server.port))
        outside.sendto(vote_datagram(2, 2), ("127.0.0.1", server.port))
        assert server.wait_processed(2, WAIT_S)
        assert desk.poll().votes == {1: 1} and desk.status()["rejected"]["not_allowed_source"] == 1
        assert desk.languages == HALL.languages and desk.seats.total == HALL.seats.total
        inside.close()
        outside.close()
    finally:
        server.stop()
        desk.release()
    assert desk._log._fd is None
    reference = VoteServer.for_hall(dataclasses.replace(HALL, osc=dataclasses.replace(HALL.osc, vote_port=0)),
                                    desk, host="127.0.0.1")
    assert [str(n) for n in reference.networks] == list(HALL.osc.allowed_networks)
    reference.stop()


def test_a_stuck_box_cannot_flood_the_master(hall_server):
    desk, server, _ = hall_server
    desk.open("?", ["A", "B"])
    sock = sender("127.0.2.1")
    for _ in range(300):
        sock.sendto(vote_datagram(17, 2), ("127.0.0.1", server.port))
    sock.sendto(vote_datagram(18, 1), ("127.0.0.1", server.port))   # its neighbour is not held back
    assert server.wait_processed(301, WAIT_S)
    status = desk.status()
    assert status["rejected"]["rate_limited"] == 300 - BOX_BURST
    assert status["presses"] == BOX_BURST + 1 and status["tally"] == {"A": 1, "B": 1}
    # The log holds the accepted presses only.
    assert desk._log.path.read_text().count('"s":17,') == BOX_BURST
    sock.close()


def test_the_receive_buffer_holds_a_burst_and_the_server_stops(tmp_path):
    desk = VoteDesk(SeatMap.from_seats(HALL.seats), limits=RateLimits())
    server = VoteServer(desk, 0, ("127.0.0.0/8",), host="127.0.0.1")
    assert server.rcvbuf_bytes >= 1024 * 1024            # 134 boxes x several presses
    server.start()
    thread = server._thread
    server.stop()
    assert not thread.is_alive()
    with pytest.raises(OSError, match="is another master running"):
        busy = VoteServer(desk, 0, ("127.0.0.0/8",), host="127.0.0.1")
        try:
            VoteServer(desk, busy.port, ("127.0.0.0/8",), host="127.0.0.1")
        finally:
            busy.stop()


# ------------------------------------------------------------ kill -9


class Driver:
    """tests/vote_driver.py in a subprocess: a VoteDesk + VoteServer logging to ``log``."""

    def __init__(self, log: Path, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), str(log), *args], stdout=subprocess.PIPE,
                                     text=True, cwd=str(DRIVER.parent.parent))
        self.last = self.read()

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"vote driver exited with {self.proc.wait(WAIT_S)}")
        return json.loads(line)

    def until(self, datagrams: int) -> dict:
        while self.last["datagrams"] < datagrams:
            self.last = self.read()
        return self.last

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(WAIT_S)
        self.proc.stdout.close()


def recovered(log: Path) -> dict:
    out = subprocess.run([sys.executable, str(DRIVER), str(log), "--once"], capture_output=True, text=True,
                         check=True, timeout=60, cwd=str(DRIVER.parent.parent))
    return json.loads(out.stdout)


def test_kill_9_during_a_poll_and_restart_gives_identical_tallies(tmp_path):
    log = tmp_path / "votes.jsonl"
    driver = Driver(log, "--open")
    rng = random.Random(9)
    presses = [(rng.randint(1, 134), rng.randint(1, 3)) for _ in range(1500)]
    sock = sender()
    for seat, button in presses:
        sock.sendto(vote_datagram(seat, button), ("127.0.0.1", driver.last["port"]))
    before = driver.until(len(presses))
    driver.kill()
    after = recovered(log)
    assert after["poll"] == "kill-test" and after["open"] is True
    assert after["tally"] == before["tally"] and after["votes"] == before["votes"]
    assert after["votes"] == sorted([s, b] for s, b in dict(presses).items()) and after["replay"]["corrupt"] == []
    # A write cut short by the kill leaves a torn last line: tolerated, the tallies unchanged.
    with log.open("ab") as f:
        f.write(b'{"e":"vote","p":"kill-test","s":12')
    torn = recovered(log)
    assert torn["tally"] == before["tally"] and torn["replay"]["torn_bytes"] == 34
    sock.close()


def test_kill_9_in_the_middle_of_a_burst_keeps_every_vote_that_counted(tmp_path):
    log = tmp_path / "votes.jsonl"
    driver = Driver(log, "--open")
    rng = random.Random(99)
    presses = [(rng.randint(1, 134), rng.randint(1, 3)) for _ in range(20_000)]
    port = driver.last["port"]

    def send() -> None:
        sock = sender()
        try:
            for seat, button in presses:
                sock.sendto(vote_datagram(seat, button), ("127.0.0.1", port))
        except OSError:                      # the port closed under us (ICMP port unreachable)
            pass
        finally:
            sock.close()

    thread = threading.Thread(target=send)
    thread.start()
    acked = driver.until(4000)["datagrams"]
    driver.kill()                            # while the boxes are still sending
    thread.join(WAIT_S)
    after = recovered(log)
    assert after["replay"]["corrupt"] == []
    # The restored votes are exactly those of the first k presses, k >= what counted before the kill.
    votes: dict[int, int] = {}
    prefixes = []
    for k, (seat, button) in enumerate(presses, start=1):
        votes[seat] = button
        if k >= acked:
            prefixes.append(sorted([s, b] for s, b in votes.items()))
    assert after["votes"] in prefixes
    assert sum(after["tally"].values()) == len(after["votes"])
    assert after["replay"]["votes"] >= acked


# ----------------------------------------------------------- the simulator


def test_plan_presses_ends_with_the_totals_it_reports():
    plan = plan_presses(list(range(1, 135)), [3, 1, 0], rounds=2, change_fraction=0.3, seed=4)
    final: dict[int, int] = {}
    for seat, button in plan.presses:
        final[seat] = button
    assert final == plan.final and len(final) == 134
    assert sum(plan.totals().values()) == 134
    assert plan.totals()[3] == 0 and all(b != 3 for _, b in plan.presses)     # weight 0: never pressed
    assert len(plan.presses) > 2 * 134 and plan.changed > 0
    assert plan_presses(list(range(1, 135)), [3, 1, 0], 2, 0.3, seed=4) == plan


def test_votes_simulate_sends_what_the_tally_then_shows(hall_server, capsys):
    desk, server, _ = hall_server
    desk.open("?", ["A", "B", "C"])
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["votes", "simulate", "--seats", "all", "--rounds", "2", "--weights", "3,1,1",
                              "--rate", "20000", "--host", "127.0.0.1", "--port", str(server.port),
                              "--seed", "5", "--json"])
    assert cmd_votes(args) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "rate lowered to" in captured.err        # 134 boxes x 10/s x 0.8 < 20,000/s
    assert server.wait_processed(report["sent"], WAIT_S)
    assert desk.status()["tally"] == {k: report["final"][b] for k, b in (("A", "1"), ("B", "2"), ("C", "3"))}
    assert report["boxes"] == 134 and sum(report["final"].values()) == 134
    assert desk.status()["rejected"] == dict.fromkeys(REJECT_REASONS, 0)
    assert desk.status()["accepted"] == report["sent"]


def test_send_presses_paces_and_reports_progress():
    receiver = sender()
    t = [0.0]
    slept, progress = [], []

    def sleep(d):
        slept.append(d)
        t[0] += d

    presses = [(1, 1), (2, 2), (3, 1), (4, 2), (5, 1)]
    assert send_presses(presses, "127.0.0.1", receiver.getsockname()[1], 1.0,
                        progress=lambda n, total: progress.append((n, total)), clock_s=lambda: t[0],
                        sleep=sleep) == 5
    assert slept == [1.0, 1.0, 1.0, 1.0]
    assert progress == [(2, 5), (3, 5), (4, 5), (5, 5)]
    receiver.settimeout(WAIT_S)
    assert [parse_presses(receiver.recv(100))[0] for _ in presses] == presses
    receiver.close()


@pytest.mark.parametrize("argv, message", [
    (["--weights", "1,x"], "--weights '1,x': write one number per button"),
    (["--weights", "0,0"], "weights must be >= 0 and not all 0"),
    (["--seats", "200"], "--seats '200': give a number 1..134 or 'all'"),
    (["--rounds", "0"], "--rounds 0: must be >= 1"),
    (["--options", "2", "--weights", "1,1,1"], "--options 2 but --weights gives 3 buttons"),
    (["--rate", "0"], "--rate 0.0: must be > 0"),
])
def test_votes_simulate_names_the_bad_argument(argv, message):
    from domectl.cli_votes import cmd_votes_simulate
    from domectl.errors import DomectlError

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["votes", "simulate", "--port", "9", *argv])
    with pytest.raises(DomectlError, match=message):
        cmd_votes_simulate(args, out=io.StringIO(), err=io.StringIO())
