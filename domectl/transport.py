"""ZeroMQ transport: the only module that imports zmq.

Master: a PUB socket (frame, swap, master heartbeat and bye, to every node)
and a ROUTER socket (hello, ready, heartbeat, bye from nodes; snapshot to one
node). Node: SUB + DEALER with its identity ``igNN``. The protocol objects go
through :mod:`domectl.protocol`; what arrives here undecodable is counted and
dropped by the caller, never raised into the frame loop.

Security (CURVE, with keys from :mod:`domectl.keys`; ``keys=None`` is
plaintext, for protocol tests and benchmarks):

* The master's PUB and ROUTER are CURVE servers with the master's key pair;
  a node's SUB and DEALER are CURVE clients with the node's key pair and the
  master's public key. Frames are encrypted; only the hall's IGs read them.
* Who may join is decided by a ZAP handler (RFC 27) that the master serves
  *in its own poll loop* (:meth:`MasterLink.receive`), not in a
  ``zmq.auth.ThreadAuthenticator``: the master is single-threaded, so the
  counters and the log need no lock, and a thread taking the GIL at random
  moments cannot add jitter to the frame loop. A handshake waits in libzmq's
  I/O thread until the master next polls, which it does whenever it is not
  computing a frame (the ZAP socket is in the same poller as the ROUTER, so
  a request wakes it at once). The ZAP socket
  is bound in a context of the link's own: ZeroMQ allows one handler per
  context, and a shared context would let another socket answer for us.
* The handler accepts a CURVE key only if it is one of the hall's IG keys and
  answers with its owner (``"ig05"``) as the ZAP User-Id. ZAP does not see the
  DEALER's identity, so :meth:`MasterLink.receive` checks each ROUTER message:
  its routing identity must equal the ``User-Id`` libzmq attached to it. A
  node holding ig05's key can speak only as ig05 (the master then checks that
  the message's own ig matches the identity).
* Refused peers are counted in ``MasterLink.rejected_peers`` (reason ->
  count, one count per refused connection attempt or dropped message) and
  logged at most once per peer address and reason per
  ``REJECT_LOG_INTERVAL_S``. Handshakes that fail before ZAP (a plaintext
  peer, a client with the wrong master public key) are seen through socket
  monitors, which do not tell the peer's address: those are logged once per
  socket per interval, with libzmq's reason for the first of them.

  ============================ =================================================
  ``handshake_failed``          the handshake failed before authentication: a
                                peer without CURVE (no key), or with another
                                master's public key or a corrupt key (which of
                                these libzmq reports is racy: a plaintext peer
                                that hangs up first shows as a broken pipe)
  ``key_not_allowed``           a valid CURVE key that is not one of the hall's IGs
  ``not_curve``                 a ZAP request for another mechanism (never
                                expected: the sockets are CURVE servers)
  ``zap_malformed``             a malformed ZAP request (never expected)
  ``key_owner_mismatch``        an authenticated node sent a message under
                                another IG's identity: dropped
  ============================ =================================================

  What libzmq drops by itself is not counted: a TCP peer that is not ZeroMQ
  at all (closed at the greeting), an oversized message (the connection is
  closed, ``MAXMSGSIZE``), anything but subscriptions sent up to the PUB
  socket.
"""

from __future__ import annotations

import itertools
import logging
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import zmq
from zmq.utils import z85

from domectl.errors import LocalError
from domectl.protocol import MAX_DOWNSTREAM_BYTES, MAX_MESSAGE_BYTES, Message, encode

if TYPE_CHECKING:
    from domectl.keys import MasterKeys, NodeKeys

log = logging.getLogger("domectl.transport")

# High-water marks: a frame is ~1 KB and is stale one frame later; a node that
# cannot keep up should lose old frames, not buffer seconds of them.
PUB_HWM = 100
CONTROL_HWM = 1000

# A refused peer may retry every 100 ms (libzmq reconnects after a failed CURVE handshake) or every
# few seconds (a domectl node's backoff): one log line per peer address and reason per minute says
# it is there without flooding the log; the counters keep the total.
REJECT_LOG_INTERVAL_S = 60.0
# Forget rate-limit entries beyond this many addresses (a scan from many addresses must not grow
# the master's memory without bound); the oldest are dropped first.
REJECT_LOG_MAX_KEYS = 4096
# ZAP requests and monitor events handled per poll: a flood of handshakes (each costs the master a
# round trip of a few microseconds) is served in slices between the nodes' messages, which
# receive() returns as soon as they arrive, so it cannot hold a frame's readies back.
MAX_AUTH_PER_RECEIVE = 64

ZAP_ENDPOINT = "inproc://zeromq.zap.01"      # fixed by RFC 27
ZAP_DOMAIN_FRAMES = b"domectl.frames"
ZAP_DOMAIN_CONTROL = b"domectl.control"
_ZAP_VERSION = b"1.0"
_CURVE_KEY_BYTES = 32
_HANDSHAKE_FAILURES = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
_MONITOR_EVENT = struct.Struct("=HI")
# Monitor endpoints are named once and never reused: a reconnecting node closes a socket and opens
# another, and libzmq frees the old inproc name only when it has reaped the old socket.
_monitor_ids = itertools.count()


def _monitor(sock: zmq.Socket, events: int) -> zmq.Socket:
    return sock.get_monitor_socket(events, addr=f"inproc://domectl.monitor.{next(_monitor_ids)}")


_REASONS = {
    "handshake_failed": "refused a peer on the %s socket: %s",
    "key_not_allowed": "refused %s on the %s socket: its CURVE key %s is not one of the hall's IG keys",
    "not_curve": "refused %s on the %s socket: mechanism %r, only CURVE is accepted",
    "zap_malformed": "malformed ZAP request (%d frames) refused",
    "key_owner_mismatch": "dropped a message from %s: it calls itself %r but holds the key of %s",
}


def _tcp(host: str, port: int | str) -> str:
    return f"tcp://{host}:{port}"


class RateLimitedLog:
    """Log a message at most once per key per ``interval_s``; say how many were held back."""

    def __init__(self, logger: logging.Logger, interval_s: float = REJECT_LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = REJECT_LOG_MAX_KEYS):
        self.logger = logger
        self.interval_s = interval_s
        self.clock = clock
        self.max_keys = max_keys
        self._last: dict[tuple, list] = {}       # key -> [time logged, held back since]

    def __call__(self, key: tuple, msg: str, *args) -> bool:
        now = self.clock()
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self.interval_s:
            entry[1] += 1
            return False
        held = entry[1] if entry is not None else 0
        if entry is None and len(self._last) >= self.max_keys:
            for old in sorted(self._last, key=lambda k: self._last[k][0])[: self.max_keys // 4]:
                del self._last[old]
        self._last[key] = [now, 0]
        if held:
            msg += " (%d more in the last %.0f s)"
            args = (*args, held, self.interval_s)
        self.logger.warning(msg, *args)
        return True


class MasterLink:
    """The master's two sockets. Bind to port 0 (``"*"``) to let the OS choose.

    With ``keys`` (:class:`domectl.keys.MasterKeys`) both sockets are CURVE
    servers and only the allowed IG keys join; the link then owns a context
    (or uses ``context``, which must serve no other ZAP handler).
    """

    def __init__(self, host: str = "127.0.0.1", frame_port: int | str = "*",
                 control_port: int | str = "*", context: zmq.Context | None = None,
                 keys: MasterKeys | None = None, clock: Callable[[], float] = time.monotonic):
        self.keys = keys
        self.rejected_peers: dict[str, int] = {}
        self._log = RateLimitedLog(log, clock=clock)
        self._own_ctx = keys is not None and context is None
        self.ctx = zmq.Context() if self._own_ctx else (context or zmq.Context.instance())
        self.zap: zmq.Socket | None = None
        self._monitors: dict[zmq.Socket, str] = {}
        self._allowed: dict[bytes, str] = {}
        try:
            if keys is not None:
                self._allowed = {z85.decode(k): owner for k, owner in keys.allowed.items()}
                # The standby master holds the hall's master key pair and watches the frame
                # socket with it (domectl.standby); it never sends on the control socket.
                self._allowed.setdefault(z85.decode(keys.public), STANDBY_OWNER)
                self.zap = self.ctx.socket(zmq.REP)
                self.zap.setsockopt(zmq.LINGER, 0)
                try:
                    self.zap.bind(ZAP_ENDPOINT)
                except zmq.ZMQError as e:
                    raise LocalError(f"cannot serve authentication ({e}): another secured MasterLink "
                                     "uses this zmq context; give each its own (context=None)") from None
            self.pub = self.ctx.socket(zmq.PUB)
            self.pub.setsockopt(zmq.SNDHWM, PUB_HWM)
            self.pub.setsockopt(zmq.LINGER, 0)
            # Peers may send only subscriptions up to a PUB socket: nothing needs to be large.
            self.pub.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            self.router = self.ctx.socket(zmq.ROUTER)
            self.router.setsockopt(zmq.RCVHWM, CONTROL_HWM)
            self.router.setsockopt(zmq.LINGER, 0)
            # Oversized messages are refused by libzmq before they reach Python.
            self.router.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)
            if keys is not None:
                self._curve_server(self.pub, ZAP_DOMAIN_FRAMES, "frame")
                self._curve_server(self.router, ZAP_DOMAIN_CONTROL, "control")
            self.pub.bind(_tcp(host, frame_port))
            self.router.bind(_tcp(host, control_port))
        except BaseException:
            self.close()
            raise
        self.frame_endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.control_endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.poller = zmq.Poller()
        self.poller.register(self.router, zmq.POLLIN)
        if self.zap is not None:
            self.poller.register(self.zap, zmq.POLLIN)
        for monitor in self._monitors:
            self.poller.register(monitor, zmq.POLLIN)

    def _curve_server(self, sock: zmq.Socket, domain: bytes, name: str) -> None:
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
        sock.setsockopt(zmq.ZAP_DOMAIN, domain)
        self._monitors[_monitor(sock, _HANDSHAKE_FAILURES)] = name

    @property
    def secure(self) -> bool:
        return self.keys is not None

    def publish(self, msg: Message) -> None:
        self.pub.send(encode(msg), copy=True)

    def publish_raw(self, data: bytes) -> None:
        self.pub.send(data)

    def send_to(self, identity: bytes, msg: Message) -> None:
        self.router.send_multipart([identity, encode(msg)])

    def receive(self, timeout_ms: float) -> list[tuple[bytes, list[bytes]]]:
        """Everything that arrived within ``timeout_ms``: [(identity, frames)].

        On a secured link this also answers authentication requests and reads
        handshake failures; it returns as soon as a node's message is there.
        """
        if self.zap is None:
            out = []
            if self.poller.poll(max(0, int(timeout_ms))):
                while True:
                    try:
                        parts = self.router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    out.append((parts[0], parts[1:]))
            return out
        out = []
        end = time.monotonic() + max(0.0, timeout_ms) / 1000.0
        while True:
            events = dict(self.poller.poll(max(0, int((end - time.monotonic()) * 1000))))
            if not events:
                break
            if self.zap in events:
                self._serve_zap()
            for monitor, name in self._monitors.items():
                if monitor in events:
                    self._read_monitor(monitor, name)
            if self.router in events:
                self._receive_authenticated(out)
            if out or time.monotonic() >= end:
                break
        return out

    # ------------------------------------------------------------ security

    def _reject(self, reason: str, key: tuple, *args) -> None:
        self.rejected_peers[reason] = self.rejected_peers.get(reason, 0) + 1
        self._log((reason, *key), _REASONS[reason], *args)

    def _serve_zap(self) -> None:
        for _ in range(MAX_AUTH_PER_RECEIVE):
            try:
                request = self.zap.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.zap.send_multipart(self._authenticate(request))

    def _authenticate(self, request: list[bytes]) -> list[bytes]:
        """One ZAP request (RFC 27) -> its reply: 200 with the key's owner as User-Id, or 400."""
        if len(request) < 6 or request[0] != _ZAP_VERSION:
            self._reject("zap_malformed", (), len(request))
            request_id = request[1] if len(request) > 1 else b""
            return [_ZAP_VERSION, request_id, b"500", b"malformed ZAP request", b"", b""]
        _version, request_id, domain, address, _identity, mechanism, *credentials = request
        peer = address.decode("ascii", "replace") or "a peer"
        where = "frame" if domain == ZAP_DOMAIN_FRAMES else "control"
        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != _CURVE_KEY_BYTES:
            self._reject("not_curve", (peer,), peer, where, mechanism.decode("ascii", "replace"))
            return [_ZAP_VERSION, request_id, b"400", b"CURVE only", b"", b""]
        owner = self._allowed.get(credentials[0])
        if owner is None:
            shown = z85.encode(credentials[0]).decode("ascii")[:12] + "..."
            self._reject("key_not_allowed", (peer,), peer, where, shown)
            return [_ZAP_VERSION, request_id, b"400", b"key not allowed", b"", b""]
        return [_ZAP_VERSION, request_id, b"200", b"OK", owner.encode("ascii"), b""]

    def _read_monitor(self, monitor: zmq.Socket, name: str) -> None:
        for _ in range(MAX_AUTH_PER_RECEIVE):
            try:
                parts = monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) != 2 or len(parts[0]) != _MONITOR_EVENT.size:
                continue
            event, value = _MONITOR_EVENT.unpack(parts[0])
            if event & _HANDSHAKE_FAILURES:
                self._reject("handshake_failed", (name,), name, _explain_handshake_failure(event, value))

    def _receive_authenticated(self, out: list) -> None:
        while True:
            try:
                frames = self.router.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            identity = frames[0].bytes
            try:
                owner = frames[-1].get("User-Id")
            except zmq.ZMQError:
                owner = None
            if owner is None or owner.encode("ascii", "replace") != identity:
                try:
                    peer = frames[-1].get("Peer-Address")
                except zmq.ZMQError:
                    peer = "a peer"
                self._reject("key_owner_mismatch", (peer, identity), peer,
                             identity.decode("ascii", "replace"), owner)
                continue
            out.append((identity, [f.bytes for f in frames[1:]]))

    def close(self) -> None:
        for monitor in self._monitors:
            monitor.close(0)
        for name in ("pub", "router", "zap"):
            sock = getattr(self, name, None)
            if sock is not None:
                sock.close(0)
        self._monitors = {}
        if self._own_ctx:
            self.ctx.term()
            self._own_ctx = False


def _explain_handshake_failure(event: int, value: int) -> str:
    """libzmq's handshake failure event -> what it most likely means for a hall."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return ("it does not use CURVE (no key): a node needs its igNN.key_secret and master.key "
                "(`domectl keys --config C`)")
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "CURVE handshake failed: the peer's master.key is not this master's, or its key is corrupt"
    return (f"handshake failed ({_describe_event(event, value)}): a peer without CURVE, or with another "
            "master's public key")


def _describe_event(event: int, value: int) -> str:
    try:
        what = zmq.Event(value).name if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL else None
    except ValueError:
        what = None
    if what is None:
        what = f"errno {value}" if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL else f"code {value:#x}"
    return what.lower().replace("protocol_error_", "")


#: The owner name of the hall's master key when the standby master watches with it.
STANDBY_OWNER = "standby"


class WatchLink:
    """The standby master's view of the primary: a SUB socket on its frame endpoint.

    With ``keys`` (the hall's :class:`domectl.keys.MasterKeys`, which the
    standby holds to serve the nodes once it takes over) it is a CURVE client
    presenting the master's own key, which the primary allows as ``standby``.
    """

    def __init__(self, frame_endpoint: str, keys: MasterKeys | None = None,
                 context: zmq.Context | None = None):
        self.ctx = context or zmq.Context.instance()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVHWM, PUB_HWM)
        self.sub.setsockopt(zmq.LINGER, 0)
        # A master's calibration is the one large message (protocol.MAX_CALIBRATION_MESSAGE_BYTES);
        # a smaller limit here would make libzmq drop the connection at every calibration.
        self.sub.setsockopt(zmq.MAXMSGSIZE, MAX_DOWNSTREAM_BYTES)
        if keys is not None:
            self.sub.setsockopt(zmq.CURVE_SERVERKEY, keys.public)
            self.sub.setsockopt(zmq.CURVE_PUBLICKEY, keys.public)
            self.sub.setsockopt(zmq.CURVE_SECRETKEY, keys.secret)
        self.sub.connect(frame_endpoint)

    def receive(self, timeout_ms: float) -> list[bytes]:
        out = []
        if self.sub.poll(max(0, int(timeout_ms))):
            while True:
                try:
                    out.append(self.sub.recv(zmq.NOBLOCK))
                except zmq.Again:
                    break
        return out

    def close(self) -> None:
        self.sub.close(0)


class NodeLink:
    """A node's two sockets, connected to the master's endpoints.

    With ``keys`` (:class:`domectl.keys.NodeKeys`) both are CURVE clients of the
    master. Refusals by the master are counted in ``auth_failures`` and logged
    once per minute with how to fix them; libzmq keeps retrying meanwhile.
    """

    def __init__(self, ig: int, frame_endpoint: str, control_endpoint: str,
                 context: zmq.Context | None = None, keys: NodeKeys | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 standby: tuple[str, str] | None = None):
        if keys is not None and keys.ig != ig:
            raise LocalError(f"ig{ig:02d} was given the keys of ig{keys.ig:02d}: load igNN.key_secret "
                             "for this node's own id")
        self.ctx = context or zmq.Context.instance()
        self.identity = f"ig{ig:02d}".encode()
        # The masters to try in turn: the primary, then the standby (frame, control endpoints).
        self.masters = [(frame_endpoint, control_endpoint)] + ([tuple(standby)] if standby else [])
        self._master_index = 0
        self.frame_endpoint, self.control_endpoint = self.masters[0]
        self.keys = keys
        self.auth_failures: dict[str, int] = {}
        self.unsent = 0
        self._log = RateLimitedLog(log, clock=clock)
        self.monitor: zmq.Socket | None = None
        self._open()

    def _open(self) -> None:
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVHWM, PUB_HWM)
        self.sub.setsockopt(zmq.LINGER, 0)
        # Calibrations (published, and sent to a joiner) are larger than any other message.
        self.sub.setsockopt(zmq.MAXMSGSIZE, MAX_DOWNSTREAM_BYTES)
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.IDENTITY, self.identity)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.setsockopt(zmq.MAXMSGSIZE, MAX_DOWNSTREAM_BYTES)
        self.monitor = None
        if self.keys is not None:
            for sock in (self.sub, self.dealer):
                sock.setsockopt(zmq.CURVE_SERVERKEY, self.keys.master_public)
                sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keys.public)
                sock.setsockopt(zmq.CURVE_SECRETKEY, self.keys.secret)
            self.monitor = _monitor(self.dealer, _HANDSHAKE_FAILURES | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        self.sub.connect(self.frame_endpoint)
        self.dealer.connect(self.control_endpoint)
        self._rcvtimeo = -1
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)
        self.poller.register(self.dealer, zmq.POLLIN)
        if self.monitor is not None:
            self.poller.register(self.monitor, zmq.POLLIN)

    def reconnect(self) -> None:
        """Drop both sockets and connect afresh (after the master went silent), to the next
        master in turn when there is a standby: a dead primary is not tried twice in a row."""
        self.close()
        self._master_index = (self._master_index + 1) % len(self.masters)
        self.frame_endpoint, self.control_endpoint = self.masters[self._master_index]
        self._open()

    def send(self, msg: Message) -> bool:
        """Queue ``msg`` for the master; False (counted in ``unsent``) if it cannot be queued.

        Never blocks: a DEALER with no connection to send on (the master refused
        this node's key, and libzmq does not retry after a refusal) would block
        forever, and the node would never reach its reconnect with backoff.
        """
        try:
            self.dealer.send(encode(msg), zmq.NOBLOCK)
        except zmq.Again:
            self.unsent += 1
            return False
        return True

    def receive(self, timeout_ms: float, direct: bool = True) -> list[bytes]:
        """Raw messages from the master (broadcast and direct) within ``timeout_ms``.

        ``direct``: a direct message (a snapshot) may come, so wait on both sockets.
        A joined node passes False and waits in a plain blocking ``recv`` on the
        frame socket: waiting through ``zmq_poll`` costs a node several times the
        CPU of the frame it receives, and 24 nodes sharing a machine's cores pay
        it on every frame (benchmarks/bench_barrier.py). Direct messages and
        monitor events still get read, at the next wake.
        """
        timeout = max(0, int(timeout_ms))
        if direct:
            if not self.poller.poll(timeout):
                return []
            out = []
        else:
            if timeout != self._rcvtimeo:
                self.sub.setsockopt(zmq.RCVTIMEO, timeout)
                self._rcvtimeo = timeout
            try:
                out = [self.sub.recv()]
            except zmq.Again:
                return []
        out.extend(_drain(self.dealer))
        out.extend(_drain(self.sub))
        if self.monitor is not None and self.monitor.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            self._read_monitor()
        return out

    def _read_monitor(self) -> None:
        name = self.identity.decode()
        for _ in range(MAX_AUTH_PER_RECEIVE):
            try:
                parts = self.monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) != 2 or len(parts[0]) != _MONITOR_EVENT.size:
                continue
            event, value = _MONITOR_EVENT.unpack(parts[0])
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                reason = "refused_by_master"
                self._log((reason,), "%s: the master refused this node's key (ZAP status %d): copy "
                          "%s.key_secret and master.key from the master's keys/ directory "
                          "(made by `domectl keys --config C`)", name, value, name)
            else:
                reason = "handshake_failed"
                self._log((reason,), "%s: CURVE handshake with the master failed (%s): check that "
                          "keys/master.key is this master's", name, _describe_event(event, value))
            self.auth_failures[reason] = self.auth_failures.get(reason, 0) + 1

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.close(0)
            self.monitor = None
        self.sub.close(0)
        self.dealer.close(0)


def _drain(sock: zmq.Socket) -> list[bytes]:
    """Every message waiting on ``sock``, without blocking."""
    out = []
    while sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
        try:
            out.append(sock.recv(zmq.NOBLOCK))
        except zmq.Again:   # EVENTS is a hint; the message can be gone (a reconnect)
            break
    return out
