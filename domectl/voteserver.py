"""The vote boxes' OSC endpoint: a thread reading UDP datagrams into a :class:`~domectl.votes.VoteDesk`.

Address pattern (docs/votes.md is the integrators' version):

    /vote <int seat> <int button>     seat 1..N of the hall's seat map (seats.toml: row by row,
                                      wheelchair places last), button 1..number of options
    /vote <int seat> <string key>     the option's key instead of its button ("B", "yes"; any case)
    /vote <string label> <...>        the seat's label instead of its number ("A7", "W2")

Integers may be OSC ``i`` (int32) or ``h`` (int64); a float (``f``, ``d``) that is a whole
number (2.0) counts as that integer, for control surfaces that send only floats. Any other
argument count or type (blobs, booleans, arrays, ...) is malformed, as is a message longer
than MAX_MESSAGE_BYTES. Bundles (``#bundle``, nested up to MAX_BUNDLE_DEPTH) of such
messages are accepted, one press per message; their time tags are ignored: a vote counts
when it arrives. The endpoint never answers (boxes are fire-and-forget).

Each datagram is counted at least once (VoteDesk.status()["rejected"] and ``accepted``):

    not_allowed_source  the sender is outside cluster.toml ``osc.allowed_networks`` (per datagram)
    malformed           not OSC, a broken bundle, an empty bundle, a wrong argument count or type
                        (per datagram; per message inside a bundle that parsed)
    unknown_address     a message to another address than /vote (per message)

then the desk's own checks, per press (rate_limited, unknown_seat, no_open_poll, ...).

One thread (:meth:`VoteServer.start`) waits on the socket, then drains up to
MAX_BATCH_DATAGRAMS datagrams that are already queued and hands their presses to the desk
in one :meth:`~domectl.votes.VoteDesk.ingest_many`, so a burst costs one log write.

Parsing: the address and type tags are vetted here, then python-osc's ``OscMessage``
decodes the arguments; bundles are walked here (python-osc logs a warning to the root
logger for every unknown type tag or bundle element, and skips them instead of failing).
Measured on the reference 2-core machine (benchmarks/bench_votes.py): 2.9 us a message
(OscMessage alone 1.9 us; a fixed-layout ``struct`` parse would be 0.11 us), and the whole
path, log included, keeps up with 100,000 votes/s without loss, so a second, hand-written
decoder is not worth having.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import select
import socket
import threading
import time
from collections import Counter

from pythonosc.osc_message import OscMessage

from domectl.votes import VoteDesk

log = logging.getLogger("domectl.votes")

VOTE_ADDRESS = "/vote"
#: Kernel receive buffer asked for. Measured on the reference machine: 4 MiB queues ~10,000
#: vote datagrams (the kernel charges ~830 bytes for each 20-byte one), i.e. 75 bursts of the
#: whole hall pressing at once, or half a second of 20,000 votes/s while this thread is held
#: up (GC, the frame loop holding the GIL). Linux caps it at net.core.rmem_max unless we may
#: force it (root); :attr:`VoteServer.rcvbuf_bytes` says what we got.
RCVBUF_BYTES = 4 * 1024 * 1024
#: Datagrams drained into one desk batch (one log write): a whole-hall burst (134) fits, and
#: the desk lock is held for well under a millisecond (~2 us a press), so the frame loop
#: reading the tally never waits long.
MAX_BATCH_DATAGRAMS = 256
#: The largest UDP payload; anything shorter than this is read whole.
MAX_DATAGRAM_BYTES = 65535
#: Source addresses whose allowed/refused verdict is remembered (parsing an address costs
#: ~2 us); past this the cache starts over, so spoofed floods cannot grow it.
MAX_CACHED_SOURCES = 4096

#: A /vote message is under 100 bytes even with two 24-character strings; longer ones are
#: malformed without parsing (python-osc reads strings a byte at a time in Python).
MAX_MESSAGE_BYTES = 512
#: Bundles nested deeper than this are malformed: a relay may wrap a bundle once or twice.
MAX_BUNDLE_DEPTH = 8
#: Argument types a press may use (type tag characters).
_PRESS_TYPES = frozenset("ihfds")

_MALFORMED = "malformed"
_UNKNOWN_ADDRESS = "unknown_address"
_BUNDLE_PREFIX = b"#bundle\x00"
_BUNDLE_HEADER_BYTES = 16               # the prefix and the 8-byte time tag


class _Malformed(Exception):
    """The datagram's structure is broken: it counts as one malformed datagram."""


def _value(x: object) -> object:
    """An OSC argument as a seat or choice: int and str as they are, whole floats as int,
    other floats as they are (the desk rejects them by reason)."""
    if type(x) is float and math.isfinite(x) and x.is_integer():
        return int(x)
    return x


def _osc_string_end(data: bytes, start: int) -> int:
    """Index after the OSC string at ``start`` (NUL-terminated, padded to 4 bytes)."""
    end = (data.index(b"\x00", start) + 4) & ~3
    if end > len(data):
        raise _Malformed
    return end


def _message_press(data: bytes) -> tuple[object, object] | str:
    """One OSC message -> (seat, choice) or a rejection reason.

    The address and type tags are checked here first, because python-osc's OscMessage logs
    a warning to the root logger for each unknown type tag and then skips it (so ",iXi"
    would pass as two integers); only then does OscMessage decode the arguments.
    """
    if len(data) > MAX_MESSAGE_BYTES or not data.startswith(b"/") or len(data) % 4:
        return _MALFORMED
    try:
        tags_at = _osc_string_end(data, 0)
        if data[:tags_at].rstrip(b"\x00") != b"/vote":
            return _UNKNOWN_ADDRESS
        tags = data[tags_at:_osc_string_end(data, tags_at)].rstrip(b"\x00").decode("ascii")
        if len(tags) != 3 or tags[0] != "," or not _PRESS_TYPES.issuperset(tags[1:]):
            return _MALFORMED
        params = OscMessage(data).params
    except Exception:  # ValueError, UnicodeError, _Malformed, python-osc's ParseError, ...
        return _MALFORMED
    if len(params) != 2:
        return _MALFORMED
    return _value(params[0]), _value(params[1])


def _bundle_presses(data: bytes, depth: int, out: list) -> None:
    """Append the presses of a bundle's messages (recursively) to ``out``; _Malformed if
    its structure is broken. OscBundle is not used: it logs to the root logger and drops
    elements it cannot identify."""
    if depth > MAX_BUNDLE_DEPTH or len(data) < _BUNDLE_HEADER_BYTES:
        raise _Malformed
    index = _BUNDLE_HEADER_BYTES
    while index < len(data):
        if index + 4 > len(data):
            raise _Malformed
        size = int.from_bytes(data[index:index + 4], "big", signed=True)
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise _Malformed
        element = data[index:index + size]
        index += size
        if element.startswith(_BUNDLE_PREFIX):
            _bundle_presses(element, depth + 1, out)
        else:
            out.append(_message_press(element))


def parse_presses(data: bytes) -> list[tuple[object, object] | str]:
    """One datagram -> a (seat, choice) press or a rejection reason per message; never raises.

    A datagram that is not OSC, or a bundle whose structure is broken (then none of its
    messages count), is one ``"malformed"``; so is an empty bundle.
    """
    if not data.startswith(_BUNDLE_PREFIX):
        return [_message_press(data)]
    out: list[tuple[object, object] | str] = []
    try:
        _bundle_presses(data, 1, out)
    except _Malformed:
        return [_MALFORMED]
    return out or [_MALFORMED]


class VoteServer:
    """Reads vote datagrams on ``(host, port)`` in a thread and feeds ``desk``.

    Thread-safety: :meth:`start`, :meth:`stop`, :meth:`wait_processed` and the counters may
    be used from any thread; the desk is only touched through its own locked methods.
    """

    def __init__(self, desk: VoteDesk, port: int, allowed_networks: tuple[str, ...], *,
                 host: str = "0.0.0.0", rcvbuf_bytes: int = RCVBUF_BYTES):
        self.desk = desk
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rcvbuf_bytes = self._grow_rcvbuf(rcvbuf_bytes)
        try:
            self.sock.bind((host, int(port)))
        except OSError as e:
            self.sock.close()
            raise OSError(e.errno, f"vote port {host}:{port}: {e.strerror}: is another master running? "
                                   f"(cluster.toml osc.vote_port)") from None
        self.sock.setblocking(False)
        self.host, self.port = self.sock.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._sources: dict[str, bool] = {}
        self._processed = threading.Condition()
        #: Datagrams read and handled (every one is also counted by the desk somehow).
        self.datagrams = 0
        #: Presses handed to the desk.
        self.presses = 0
        #: Batches handed to the desk, and the largest.
        self.batches = 0
        self.max_batch = 0
        #: time.perf_counter_ns() when the last batch had counted (for latency measurements).
        self.last_counted_ns = 0
        #: Unexpected errors caught in the thread (a bug: logged with its traceback).
        self.errors = 0

    @classmethod
    def for_hall(cls, hall, desk: VoteDesk, *, host: str = "0.0.0.0") -> VoteServer:
        """On the hall's ``osc.vote_port``, accepting ``osc.allowed_networks``."""
        return cls(desk, hall.osc.vote_port, hall.osc.allowed_networks, host=host)

    def _grow_rcvbuf(self, wanted: int) -> int:
        force = getattr(socket, "SO_RCVBUFFORCE", None)
        try:
            if force is None:
                raise PermissionError
            self.sock.setsockopt(socket.SOL_SOCKET, force, wanted)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
        got = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2  # Linux reports double
        if got < wanted:
            log.warning("vote socket receive buffer is %d KiB, not %d KiB: raise net.core.rmem_max "
                        "(sysctl) or run as root, or a burst of votes may be dropped by the kernel",
                        got // 1024, wanted // 1024)
        return got

    # ------------------------------------------------------------ lifecycle

    def start(self) -> VoteServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"votes:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread (after the batch in hand) and close the socket."""
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.sock.close()
        self._wake_r.close()
        self._wake_w.close()

    def wait_processed(self, datagrams: int, timeout_s: float) -> bool:
        """Block until at least ``datagrams`` have been handled; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._processed:
            while self.datagrams < datagrams:
                left = deadline - time.monotonic()
                if left <= 0 or not self._processed.wait(left):
                    return self.datagrams >= datagrams
            return True

    def kernel_drops(self) -> int | None:
        """Datagrams the kernel dropped on this socket (receive buffer full), from /proc/net/udp;
        None where that cannot be read."""
        try:
            inode = str(os.fstat(self.sock.fileno()).st_ino)
            with open("/proc/net/udp") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == inode:
                        return int(fields[-1])
        except (OSError, ValueError):
            return None
        return None

    # --------------------------------------------------------------- thread

    def _run(self) -> None:
        sock, wake = self.sock, self._wake_r
        while not self._stopping:
            try:
                ready, _, _ = select.select([sock, wake], [], [])
            except (OSError, ValueError):
                return                                  # closed under us: stopping
            if wake in ready:
                return
            batch: list[tuple[bytes, str]] = []
            for _ in range(MAX_BATCH_DATAGRAMS):
                try:
                    data, address = sock.recvfrom(MAX_DATAGRAM_BYTES)
                except BlockingIOError:
                    break
                except OSError as e:                    # e.g. ICMP errors reported on the socket
                    log.debug("vote socket: %s", e)
                    break
                batch.append((data, address[0]))
            if batch:
                self.handle(batch)

    def _allowed(self, host: str) -> bool:
        verdict = self._sources.get(host)
        if verdict is None:
            try:
                address = ipaddress.ip_address(host)
                verdict = any(address in network for network in self.networks)
            except ValueError:
                verdict = False
            if len(self._sources) >= MAX_CACHED_SOURCES:
                self._sources.clear()
            self._sources[host] = verdict
        return verdict

    def handle(self, batch: list[tuple[bytes, str]]) -> None:
        """Datagrams (payload, source address) -> the desk; never raises. Used by the thread,
        and directly by tests and benchmarks that need no socket."""
        refused: Counter[str] = Counter()
        presses: list[tuple[object, object, str]] = []
        try:
            for data, host in batch:
                if not self._allowed(host):
                    refused["not_allowed_source"] += 1
                    continue
                for item in parse_presses(data):
                    if type(item) is str:
                        refused[item] += 1
                    else:
                        presses.append((item[0], item[1], host))
            for reason, n in refused.items():
                self.desk.count_rejected(reason, n)
            if presses:
                self.desk.ingest_many(presses)
        except Exception:
            self.errors += 1
            log.exception("vote server: %d datagrams not handled", len(batch))
        self.last_counted_ns = time.perf_counter_ns()
        with self._processed:
            self.presses += len(presses)
            self.datagrams += len(batch)
            self.batches += 1
            self.max_batch = max(self.max_batch, len(batch))
            self._processed.notify_all()
