"""CURVE on the cluster sockets and the hall's key files (real sockets, real CURVE).

What tests/test_cluster_sockets.py covers over plaintext (garbage from an
unauthenticated stranger, a two-part message, a ready under another node's
id, garbage on the frame socket) is not repeated here; these tests are about
who may join, and what an *authenticated* peer can still do wrong.
"""

import argparse
import logging
import stat
import threading
import time
import types
from datetime import datetime, timezone

import numpy as np
import pytest
import zmq
import zmq.auth

from domectl.config import dump_hall, load_hall
from domectl.errors import ConfigError, LocalError
from domectl.keys import (
    NodeKeys,
    allowed_node_keys,
    create_hall_keys,
    ephemeral_hall_keys,
    load_master_keys,
    load_node_keys,
    node_keys_from_env,
    node_keys_to_env,
)
from domectl.master import Master, Scene
from domectl.node import NodeLoop
from domectl.protocol import MAX_MESSAGE_BYTES, Heartbeat, encode
from domectl.transport import MasterLink, NodeLink, RateLimitedLog

pytestmark = pytest.mark.timeout(60)

T0 = datetime(2026, 11, 20, 21, tzinfo=timezone.utc)


class StillSky:
    """Stands in for the ephemeris: a fixed sky (these tests are about the link)."""

    def sample(self, utc, lat, lon, elev):
        return types.SimpleNamespace(tt_jd=2461000.5, enu_from_icrs=np.eye(3), beta_icrs=np.zeros(3),
                                     years_since_epoch=35.0, sun_alt_deg=-30.0, bodies=())


def _hall():
    return types.SimpleNamespace(
        timing=types.SimpleNamespace(fps=60.0, swap_deadline_ms=14.0),
        site=types.SimpleNamespace(latitude_deg=50.707, longitude_deg=2.24, elevation_m=80.0), igs=())


class SecureCluster:
    """A CURVE master with IGs ``igs``; node threads for ``running`` of them, with their own keys."""

    def __init__(self, igs=(1, 2, 3), running=(1, 2), keys=None):
        self.keys = keys or ephemeral_hall_keys(igs)
        self.link = MasterLink(keys=self.keys.master)
        self.master = Master(_hall(), self.link, StillSky(), Scene(start_utc=T0), igs=tuple(igs))
        self.loops, self.stops, self.threads = {}, {}, {}
        for ig in running:
            self.start(ig, self.keys.nodes[ig])

    def start(self, ig, keys, name=None):
        """A real NodeLoop over a NodeLink with ``keys`` (None: plaintext), in a thread."""
        name = name or ig
        link = NodeLink(ig, self.link.frame_endpoint, self.link.control_endpoint, keys=keys)
        loop = NodeLoop(ig, link, lambda state: state.frame)
        stop = threading.Event()
        thread = threading.Thread(target=loop.run, kwargs={"should_stop": stop.is_set}, daemon=True)
        self.loops[name], self.stops[name], self.threads[name] = loop, stop, thread
        thread.start()
        return loop

    def wait_joined(self, n, timeout_s=10.0):
        end = time.monotonic() + timeout_s
        while self.master.barrier.live_count() < n and time.monotonic() < end:
            self.master.beacon(0.05)
            self.master.pump(20)
        assert self.master.barrier.live_count() == n

    def pump_until(self, condition, timeout_s=3.0):
        end = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < end:
            self.master.beacon(0.05)
            self.master.pump(20)
        return condition()

    def close(self):
        self.master.shutdown(final=True)
        for name, stop in self.stops.items():
            stop.set()
        for name, t in self.threads.items():
            t.join(5)
            self.loops[name].link.close()
        self.link.close()


@pytest.fixture
def secure_cluster():
    made = []

    def make(*args, **kw):
        c = SecureCluster(*args, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _raw_client(ctx, sock_type, endpoint, keys=None, identity=None):
    s = ctx.socket(sock_type)
    s.setsockopt(zmq.LINGER, 0)
    if identity is not None:
        s.setsockopt(zmq.IDENTITY, identity)
    if keys is not None:
        s.setsockopt(zmq.CURVE_SERVERKEY, keys.master_public)
        s.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
        s.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
    s.connect(endpoint)
    return s


def _wait_presented(c, last, igs=(1, 2), timeout_s=2.0):
    """The node threads present a swap a moment after the master published it."""
    end = time.monotonic() + timeout_s
    while any(c.loops[ig].presented_frame < last for ig in igs) and time.monotonic() < end:
        time.sleep(0.002)
    assert [c.loops[ig].presented_frame for ig in igs] == [last] * len(igs)


def _assert_every_frame_swapped_by_all(c, first, last, igs=(1, 2)):
    assert c.master.metrics.late_swaps == 0
    _wait_presented(c, last, igs)
    for ig in igs:
        assert c.master.barrier.nodes[ig].swaps >= last - first + 1


# ------------------------------------------------------------------ joining


def test_nodes_holding_the_halls_keys_join_and_swap_over_curve(secure_cluster, tmp_path):
    # Keys from files, as on a real cluster.
    create_hall_keys(tmp_path / "keys", [1, 2])
    master_keys = load_master_keys(tmp_path / "keys", [1, 2])
    keys = types.SimpleNamespace(master=master_keys,
                                 nodes={ig: load_node_keys(tmp_path / "keys", ig) for ig in (1, 2)})
    c = secure_cluster(igs=(1, 2), running=(1, 2), keys=keys)
    assert c.link.secure
    assert c.master.wait_for_nodes(10) == 2
    c.master.run(20, lockstep=True)
    _assert_every_frame_swapped_by_all(c, 0, 19)
    assert c.link.rejected_peers == {}
    assert all(loop.link.auth_failures == {} for loop in c.loops.values())


def _unlisted_keys(c):
    public, secret = zmq.curve_keypair()
    return NodeKeys(3, public, secret, c.keys.master.public)


def _wrong_master_keys(c):
    other_master_public, _ = zmq.curve_keypair()
    k = c.keys.nodes[3]
    return NodeKeys(3, k.public, k.secret, other_master_public)


@pytest.mark.parametrize("stranger, reason", [
    (lambda c: None, "handshake_failed"),             # plaintext: no key at all
    (_wrong_master_keys, "handshake_failed"),         # ig03's own key, another master's public key
    (_unlisted_keys, "key_not_allowed"),              # a valid CURVE key the hall does not list
], ids=["no_key", "wrong_master_key", "unlisted_key"])
def test_a_stranger_is_refused_counted_and_the_frame_loop_goes_on(secure_cluster, stranger, reason):
    c = secure_cluster(igs=(1, 2, 3), running=(1, 2))
    c.wait_joined(2)
    c.master.run(5, lockstep=True)
    intruder = c.start(3, stranger(c), name="stranger")     # says hello as ig03, a configured IG
    assert c.pump_until(lambda: c.link.rejected_peers.get(reason, 0) >= 1)
    for n in range(5, 35):
        assert c.master.step(n, deadline_ns=int(5e9)).late == ()
    _assert_every_frame_swapped_by_all(c, 5, 34)
    ig03 = c.master.barrier.nodes[3]
    assert ig03.joins == 0 and not ig03.online
    assert intruder.stats.frames_rendered == 0 and not intruder.joined
    assert set(c.link.rejected_peers) == {reason}
    assert "unknown_ig" not in c.master.barrier.rejected
    # A refused node does not hang (a DEALER refused by the master has nowhere to send): it stops.
    c.stops["stranger"].set()
    c.threads["stranger"].join(3)
    assert not c.threads["stranger"].is_alive()


def test_a_node_with_ig05s_key_cannot_pose_as_ig06(secure_cluster):
    c = secure_cluster(igs=(5, 6), running=(5,))
    c.wait_joined(1)
    k5 = c.keys.nodes[5]
    # Holds ig05's (valid) key, connects with identity ig06 and says hello as ig06.
    imposter = c.start(6, NodeKeys(6, k5.public, k5.secret, k5.master_public), name="imposter")
    assert c.pump_until(lambda: c.link.rejected_peers.get("key_owner_mismatch", 0) >= 2)
    for n in range(20):
        assert c.master.step(n, deadline_ns=int(5e9)).late == ()
    ig06 = c.master.barrier.nodes[6]
    assert ig06.joins == 0 and not ig06.online
    assert not imposter.joined              # never got a snapshot
    _wait_presented(c, 19, igs=(5,))
    assert set(c.link.rejected_peers) == {"key_owner_mismatch"}


def test_refused_peers_are_logged_once_per_address_not_per_attempt(secure_cluster, caplog):
    c = secure_cluster(igs=(1, 2, 3), running=(1, 2))
    c.wait_joined(2)
    caplog.set_level(logging.WARNING, logger="domectl.transport")
    ctx = zmq.Context.instance()
    # From one address: a dozen plaintext peers, and a dozen with CURVE keys the hall does not list.
    strangers = [_raw_client(ctx, zmq.DEALER, c.link.control_endpoint, identity=b"ig03") for _ in range(12)]
    strangers += [_raw_client(ctx, zmq.DEALER, c.link.control_endpoint, keys=_unlisted_keys(c))
                  for _ in range(12)]
    n = 0
    while (c.link.rejected_peers.get("handshake_failed", 0) < 12
           or c.link.rejected_peers.get("key_not_allowed", 0) < 12):
        assert c.master.step(n, deadline_ns=int(5e9)).late == ()
        n += 1
        assert n < 2000, f"strangers not all refused: {c.link.rejected_peers}"
    for s in strangers:
        s.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "refused a peer on the control socket" in m]) == 1
    assert len([m for m in messages if "is not one of the hall's IG keys" in m]) == 1
    _wait_presented(c, n - 1)


def test_rate_limited_log_says_how_many_it_held_back(caplog):
    now = [0.0]
    say = RateLimitedLog(logging.getLogger("domectl.test"), interval_s=60.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="domectl.test")
    for i in range(100):
        now[0] = i * 0.1
        say(("handshake_failed", "10.0.0.9"), "refused %s", "10.0.0.9")
    say(("handshake_failed", "10.0.0.10"), "refused %s", "10.0.0.10")   # another address: its own line
    now[0] = 70.0
    say(("handshake_failed", "10.0.0.9"), "refused %s", "10.0.0.9")
    assert [r.getMessage() for r in caplog.records] == [
        "refused 10.0.0.9", "refused 10.0.0.10", "refused 10.0.0.9 (99 more in the last 60 s)"]


# ------------------------------------------------------------------ authenticated but malformed


def test_garbage_from_an_authenticated_node_on_the_control_socket_is_counted_and_dropped(secure_cluster):
    c = secure_cluster(igs=(1, 2, 3), running=(1, 2))
    c.wait_joined(2)
    ctx = zmq.Context.instance()
    buggy = _raw_client(ctx, zmq.DEALER, c.link.control_endpoint, keys=c.keys.nodes[3], identity=b"ig03")
    valid = encode(Heartbeat(3, 0))
    rng = np.random.default_rng(6)
    garbage = [rng.bytes(int(rng.integers(1, 300))) for _ in range(100)]
    truncated = [valid[:k] for k in range(len(valid))] + [valid + b"\0"]
    for data in garbage + truncated:
        buggy.send(data)
    assert c.pump_until(lambda: c.master.barrier.rejected.get("malformed", 0) >= len(garbage) + len(truncated))
    c.master.run(10, lockstep=True)
    _assert_every_frame_swapped_by_all(c, 0, 9)
    assert c.link.rejected_peers == {}         # authenticated, and speaking as itself
    assert c.master.barrier.nodes[3].joins == 0

    # Oversized: libzmq closes the connection before the message reaches Python; the node's
    # DEALER reconnects, authenticates again, and what it sends next is read as usual.
    before = dict(c.master.barrier.rejected)
    buggy.send(b"\xd0" * (MAX_MESSAGE_BYTES + 1))
    for n in range(10, 20):
        assert c.master.step(n, deadline_ns=int(5e9)).late == ()
    assert c.master.barrier.rejected == before
    buggy.send(b"still here")
    assert c.pump_until(lambda: c.master.barrier.rejected.get("malformed", 0) == before["malformed"] + 1)
    buggy.close()
    _assert_every_frame_swapped_by_all(c, 10, 19)


def test_garbage_from_an_authenticated_peer_on_the_frame_socket_is_harmless(secure_cluster):
    """PUB takes only subscriptions from its peers: libzmq drops anything else (uncounted: it never
    reaches Python) and closes a connection that sends more than MAX_MESSAGE_BYTES."""
    c = secure_cluster(igs=(1, 2, 3), running=(1, 2))
    c.wait_joined(2)
    ctx = zmq.Context.instance()
    xsub = _raw_client(ctx, zmq.XSUB, c.link.frame_endpoint, keys=c.keys.nodes[3])
    rng = np.random.default_rng(7)
    for _ in range(100):
        xsub.send(b"\x02" + rng.bytes(int(rng.integers(0, 300))))     # neither (un)subscribe
    for data in (b"", b"\x01", b"\x00", b"\x01" + b"\xd0" * (MAX_MESSAGE_BYTES + 1)):
        xsub.send(data)
    c.master.run(30, lockstep=True)
    xsub.close()
    _assert_every_frame_swapped_by_all(c, 0, 29)
    assert c.link.rejected_peers == {}
    assert c.master.barrier.rejected == {}


def test_one_secured_link_per_zmq_context():
    keys = ephemeral_hall_keys([1])
    ctx = zmq.Context()
    first = MasterLink(context=ctx, keys=keys.master)
    try:
        with pytest.raises(LocalError, match="own"):
            MasterLink(context=ctx, keys=keys.master)
    finally:
        first.close()
        ctx.term()


def test_a_node_refuses_keys_made_for_another_ig():
    keys = ephemeral_hall_keys([1, 2])
    with pytest.raises(LocalError, match="ig02 was given the keys of ig01"):
        NodeLink(2, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", keys=keys.nodes[1])


# ------------------------------------------------------------------ key files


def test_create_hall_keys_writes_private_secrets_that_load_back(tmp_path):
    keys_dir = tmp_path / "hall" / "keys"
    files = create_hall_keys(keys_dir, [1, 2, 24])
    assert sorted(files) == ["ig01", "ig02", "ig24", "master"]
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for public, secret in files.values():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(public.stat().st_mode) == 0o644
        # The format of zmq.auth / czmq certificates.
        assert zmq.auth.load_certificate(secret)[1] is not None
        assert zmq.auth.load_certificate(public)[0] == zmq.auth.load_certificate(secret)[0]
    assert not list(keys_dir.glob(".*"))          # no temporary file left behind

    master = load_master_keys(keys_dir)
    assert sorted(master.allowed.values()) == ["ig01", "ig02", "ig24"]
    assert zmq.curve_public(master.secret) == master.public
    node = load_node_keys(keys_dir, 24)
    assert master.allowed[node.public] == "ig24"
    assert node.master_public == master.public
    assert allowed_node_keys(keys_dir, [1, 24]) == {k: v for k, v in master.allowed.items() if v != "ig02"}
    assert node.secret.decode() not in repr(node) and master.secret.decode() not in repr(master)


def test_existing_keys_are_never_replaced_unless_asked(tmp_path):
    keys_dir = tmp_path / "keys"
    create_hall_keys(keys_dir, [1, 2])
    before = {p.name: p.read_bytes() for p in keys_dir.iterdir()}
    with pytest.raises(ConfigError, match=r"keys exist already .*--force"):
        create_hall_keys(keys_dir, [1, 2, 3])
    assert {p.name: p.read_bytes() for p in keys_dir.iterdir()} == before   # not even ig03 written
    create_hall_keys(keys_dir, [1, 2], overwrite=True)
    after = {p.name: p.read_bytes() for p in keys_dir.iterdir()}
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)
    assert stat.S_IMODE((keys_dir / "ig01.key_secret").stat().st_mode) == 0o600


def _replace_line(path, prefix, new_value):
    lines = path.read_text().splitlines()
    lines = [f'    {prefix} = "{new_value}"' if line.strip().startswith(prefix) else line for line in lines]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.unlink(), r"ig02\.key_secret: missing: run `domectl keys --config "),
    (lambda p: p.write_text("not a certificate\n"), r"ig02\.key_secret:1: unexpected section"),
    (lambda p: p.write_text(p.read_text()[:-30]), r"ig02\.key_secret:\d+: cannot read"),
    (lambda p: _replace_line(p, "secret-key", "0" * 40), r"ig02\.key_secret: the secret key does not belong"),
    (lambda p: _replace_line(p, "public-key", "short"), r"ig02\.key_secret: public-key = 'short': not a CURVE key"),
    (lambda p: p.chmod(0o644), r"ig02\.key_secret: mode 0644: .*chmod 600"),
], ids=["missing", "garbage", "truncated", "wrong_secret", "bad_z85", "readable_by_others"])
def test_a_damaged_secret_key_file_is_named_with_the_fix(tmp_path, damage, message):
    keys_dir = tmp_path / "keys"
    create_hall_keys(keys_dir, [1, 2])
    path = keys_dir / "ig02.key_secret"
    damage(path)
    with pytest.raises(ConfigError, match=message):
        load_node_keys(keys_dir, 2)


def test_master_key_errors_name_the_file(tmp_path):
    keys_dir = tmp_path / "keys"
    with pytest.raises(ConfigError, match=r"keys: no key directory: .*domectl keys --config"):
        load_master_keys(keys_dir)
    create_hall_keys(keys_dir, [1, 2])
    with pytest.raises(ConfigError, match=r"ig03\.key: missing"):
        load_master_keys(keys_dir, [1, 2, 3])           # an IG of cluster.toml without a key
    (keys_dir / "ig02.key").write_text((keys_dir / "ig01.key").read_text().replace("ig01", "ig02"))
    with pytest.raises(ConfigError, match=r"ig02\.key: the same public key as ig01\.key"):
        load_master_keys(keys_dir)
    (keys_dir / "ig02.key").write_text((keys_dir / "ig01.key").read_text())
    with pytest.raises(ConfigError, match=r"ig02\.key: name = 'ig01'"):
        load_master_keys(keys_dir)


def test_embedded_keys_travel_through_the_environment_only():
    keys = ephemeral_hall_keys(range(1, 25))
    assert len(keys.nodes) == 24 and len(set(keys.master.allowed)) == 24
    env = node_keys_to_env(keys.nodes[7])
    assert node_keys_from_env(env, 7) == keys.nodes[7]
    with pytest.raises(ConfigError, match="another IG's keys"):
        node_keys_from_env(env, 8)
    with pytest.raises(ConfigError, match="not set"):
        node_keys_from_env({}, 7)
    damaged = dict(env, DOMECTL_CURVE_NODE_SECRET=keys.nodes[8].secret.decode())
    with pytest.raises(ConfigError, match="does not belong"):
        node_keys_from_env(damaged, 7)


def test_domectl_keys_command_writes_the_keys_once(tmp_path, capsys):
    from domectl import cli_keys

    config = dump_hall(load_hall(), tmp_path / "hall")
    parser = argparse.ArgumentParser(prog="domectl")
    cli_keys.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["keys", "--config", str(config)])
    assert cli_keys.cmd_keys(args) == 0
    out = capsys.readouterr().out
    assert f"{config / 'keys'}/" in out and "ig24 (127.0.0.1): master.key ig24.key_secret" in out
    assert len(load_master_keys(config / "keys", range(1, 25)).allowed) == 24
    with pytest.raises(ConfigError, match="--force"):
        cli_keys.cmd_keys(args)
    assert cli_keys.cmd_keys(parser.parse_args(["keys", "--config", str(config), "--force"])) == 0
    assert "no longer work" in capsys.readouterr().out
