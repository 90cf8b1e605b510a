"""The cluster protocol, without I/O: messages, their encoding, the swap barrier.

Bytes in, events out (after h11): :func:`decode` turns bytes into a frozen
message or raises :class:`PeerError`; :func:`encode` does the reverse. The
:class:`Barrier` is the master's swap barrier as a state machine driven by
messages and an injected clock; it never reads a clock and never touches a
socket, so it is tested over a fake link with a fake clock, and again over
real sockets in ``domectl.transport``'s tests.

Wire format: ``0xD0, PROTOCOL_VERSION, type, payload`` (little-endian).

    hello      node -> master   ig id, protocol version, FrameState version, software
    snapshot   master -> node   the full current state for a joiner (an encoded FrameState, or none yet)
    frame      master -> all    an encoded FrameState (sequence number and deadline inside)
    ready      node -> master   ig, frame rendered, render ms, calibration revision it was drawn with
    swap       master -> all    frame to present now
    heartbeat  both ways        sender (0 = master), last frame, node stats
    bye        both ways        sender (0 = master), final (master: the run is over, exit)
    mirror     master -> all    the scene as UTF-8 JSON, for the standby master (nodes ignore it)
    calibration master -> all, and to a joiner before its snapshot
                                the hall's CalibrationSet (zlib-compressed JSON) with its store
                                version, the master's epoch and the set's revision

A calibration is the one large message (up to MAX_CALIBRATION_MESSAGE_BYTES
on the wire, MAX_CALIBRATION_JSON_BYTES once inflated); every other message
stays within MAX_MESSAGE_BYTES. :func:`decode` checks a calibration's header
and sizes; its set is parsed by :func:`calibration_set` (PeerError when
malformed), so a node that already holds that revision never pays for the
parse of a repeat.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from enum import Enum

from domectl import __version__
from domectl.errors import LocalError, PeerError
from domectl.frame import FORMAT_VERSION, FrameState, decode_frame, encode_frame

MAGIC = 0xD0
PROTOCOL_VERSION = 1
MASTER_ID = 0
# A FrameState is ~1 KB; a message 64x larger is an attack or a bug, never a frame.
MAX_MESSAGE_BYTES = 64 * 1024

# A calibration: 12 projectors with 64 x 64 control grids and 1024-entry LUTs is ~4 MB of JSON,
# ~1 MB compressed; a reference hall's is 26 KB (1 KB compressed). Bounded on the wire and once
# inflated, so a corrupt or hostile payload cannot make a node allocate more (a zip bomb).
MAX_CALIBRATION_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_CALIBRATION_JSON_BYTES = 16 * 1024 * 1024
#: What the sockets that receive from a master (a node's SUB and DEALER, the standby's SUB) accept.
MAX_DOWNSTREAM_BYTES = MAX_CALIBRATION_MESSAGE_BYTES

# Why these values (see benchmarks/bench_barrier.py for the measurements behind them):
# Nodes and master send a heartbeat this often when they have nothing else to say. At 60 Hz,
# frames and readies already prove liveness; heartbeats matter when the show is paused.
HEARTBEAT_INTERVAL_S = 0.2
# The standby master's copy of the scene is refreshed this often: a takeover repeats at most
# this much of the operator's last command (a fade restarts from 0.1 s earlier, not from scratch).
MIRROR_INTERVAL_S = 0.1
# A mirror holds the scene (layers, overlays, show and poll state): a few KB; this bounds it.
MAX_MIRROR_BYTES = 48 * 1024
# A peer silent for this many heartbeat intervals is dead: 3 x 0.2 = 0.6 s, so a node that dies
# is out of the barrier well before the 1 s a restarted node has to be back in sync.
LIVENESS = 3
# Node reconnect backoff when the master is silent: start fast (a master restart is quick),
# double up to a ceiling that still rejoins within a couple of seconds.
RECONNECT_BACKOFF_MIN_S = 0.1
RECONNECT_BACKOFF_MAX_S = 2.0


class Kind(Enum):
    HELLO = 1
    SNAPSHOT = 2
    FRAME = 3
    READY = 4
    SWAP = 5
    HEARTBEAT = 6
    BYE = 7
    MIRROR = 8
    CALIBRATION = 9


@dataclass(frozen=True)
class Hello:
    ig: int
    protocol_version: int = PROTOCOL_VERSION
    frame_format: int = FORMAT_VERSION
    software: str = __version__


@dataclass(frozen=True)
class Snapshot:
    ig: int
    state: FrameState | None


@dataclass(frozen=True)
class Frame:
    state: FrameState


@dataclass(frozen=True)
class Ready:
    ig: int
    frame: int
    render_ms: float
    calibration_revision: int = -1      # the Calibration revision this frame was drawn with; -1 none


@dataclass(frozen=True)
class Swap:
    frame: int


@dataclass(frozen=True)
class Heartbeat:
    sender: int
    frame: int
    fps: float = 0.0
    render_ms: float = 0.0
    missed: int = 0


@dataclass(frozen=True)
class Bye:
    sender: int
    final: bool = False


@dataclass(frozen=True)
class Mirror:
    """The master's scene state for the standby master (nodes ignore it).

    ``state`` is a JSON object (``Master.mirror()``), carried as UTF-8 JSON
    with a version field inside: explicit, readable, no pickle; at most
    MAX_MIRROR_BYTES.
    """

    state: dict


@dataclass(frozen=True)
class Calibration:
    """The hall's calibration as the master holds it (calibration.model.CalibrationSet).

    ``version``: the store version it was loaded from or saved as (0: none, the
    hall config's own); ``epoch``: chosen at random by each master at start (a
    standby that takes over keeps the primary's); ``revision``: counts the
    master's changes to the set within its epoch. A node applies a message
    whose epoch differs from its own or whose revision is newer, so a repeat
    or a late copy of an older revision changes nothing. ``dirty``: the set
    differs from the store's version (a technician's unsaved refinement).
    ``payload``: the set's JSON, zlib-compressed (:func:`calibration_message`).
    """

    version: int
    epoch: int
    revision: int
    dirty: bool
    payload: bytes


_KINDS = {k.value: k for k in Kind}    # a dict lookup: Kind(value) costs ~1 us per message

Message = Hello | Snapshot | Frame | Ready | Swap | Heartbeat | Bye | Mirror | Calibration

_PREFIX = struct.Struct("<BBB")
_HELLO = struct.Struct("<HHH")
_SNAPSHOT = struct.Struct("<HB")
_READY = struct.Struct("<Hqfq")
_SWAP = struct.Struct("<q")
_HEARTBEAT = struct.Struct("<Hqffi")
_BYE = struct.Struct("<HB")
_CALIBRATION = struct.Struct("<IIqB")


def encode(msg: Message) -> bytes:
    """A message -> bytes. Raises LocalError for values the wire cannot carry."""
    try:
        if isinstance(msg, Frame):
            return _prefix(Kind.FRAME) + encode_frame(msg.state)
        if isinstance(msg, Ready):
            return _prefix(Kind.READY) + _READY.pack(msg.ig, msg.frame, msg.render_ms,
                                                                 msg.calibration_revision)
        if isinstance(msg, Swap):
            return _prefix(Kind.SWAP) + _SWAP.pack(msg.frame)
        if isinstance(msg, Heartbeat):
            return _prefix(Kind.HEARTBEAT) + _HEARTBEAT.pack(msg.sender, msg.frame, msg.fps,
                                                             msg.render_ms, msg.missed)
        if isinstance(msg, Hello):
            software = msg.software.encode("utf-8")
            if len(software) > 64:
                raise LocalError("hello: software version string longer than 64 bytes")
            return _prefix(Kind.HELLO) + _HELLO.pack(msg.ig, msg.protocol_version,
                                                     msg.frame_format) + software
        if isinstance(msg, Snapshot):
            body = encode_frame(msg.state) if msg.state is not None else b""
            return _prefix(Kind.SNAPSHOT) + _SNAPSHOT.pack(msg.ig, msg.state is not None) + body
        if isinstance(msg, Bye):
            return _prefix(Kind.BYE) + _BYE.pack(msg.sender, msg.final)
        if isinstance(msg, Mirror):
            try:
                body = json.dumps(msg.state, separators=(",", ":"), allow_nan=False).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise LocalError(f"mirror state is not plain finite JSON: {e}") from None
            if len(body) > MAX_MIRROR_BYTES:
                raise LocalError(f"mirror state of {len(body)} bytes exceeds {MAX_MIRROR_BYTES}")
            return _prefix(Kind.MIRROR) + body
        if isinstance(msg, Calibration):
            if len(msg.payload) > MAX_CALIBRATION_MESSAGE_BYTES - _PREFIX.size - _CALIBRATION.size:
                raise LocalError(f"calibration payload of {len(msg.payload)} bytes exceeds the "
                                 f"{MAX_CALIBRATION_MESSAGE_BYTES}-byte message limit")
            return (_prefix(Kind.CALIBRATION) + _CALIBRATION.pack(msg.version, msg.epoch, msg.revision, msg.dirty)
                    + bytes(msg.payload))
    except struct.error as e:
        raise LocalError(f"cannot encode {msg!r}: {e}") from None
    raise LocalError(f"not a protocol message: {msg!r}")


def _prefix(kind: Kind) -> bytes:
    return _PREFIX.pack(MAGIC, PROTOCOL_VERSION, kind.value)


def _exact(s: struct.Struct, payload: bytes, what: str) -> tuple:
    if len(payload) != s.size:
        raise PeerError(f"{what}: payload of {len(payload)} bytes, expected {s.size}")
    return s.unpack(payload)


def decode(data: bytes) -> Message:
    """bytes -> a message. Raises PeerError for anything malformed: never anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise PeerError(f"message must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_MESSAGE_BYTES and not (
            len(data) <= MAX_CALIBRATION_MESSAGE_BYTES and data[0] == MAGIC and data[2] == Kind.CALIBRATION.value):
        limit = MAX_CALIBRATION_MESSAGE_BYTES if data[2] == Kind.CALIBRATION.value else MAX_MESSAGE_BYTES
        raise PeerError(f"message of {len(data)} bytes exceeds the {limit}-byte limit")
    if len(data) < _PREFIX.size:
        raise PeerError(f"message truncated: {len(data)} bytes")
    magic, version, kind_value = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise PeerError(f"not a domectl message (first byte 0x{magic:02x})")
    if version != PROTOCOL_VERSION:
        raise PeerError(f"protocol version {version}; this build speaks {PROTOCOL_VERSION}: "
                        "run the same domectl version on master and nodes")
    kind = _KINDS.get(kind_value)
    if kind is None:
        raise PeerError(f"unknown message type {kind_value}")
    payload = data[_PREFIX.size:]
    if kind is Kind.FRAME:
        return Frame(decode_frame(payload))
    if kind is Kind.READY:
        return Ready(*_exact(_READY, payload, "ready"))
    if kind is Kind.SWAP:
        (frame,) = _exact(_SWAP, payload, "swap")
        return Swap(frame)
    if kind is Kind.HEARTBEAT:
        return Heartbeat(*_exact(_HEARTBEAT, payload, "heartbeat"))
    if kind is Kind.HELLO:
        if len(payload) < _HELLO.size or len(payload) > _HELLO.size + 64:
            raise PeerError(f"hello: payload of {len(payload)} bytes")
        ig, proto, fmt = _HELLO.unpack_from(payload)
        try:
            software = payload[_HELLO.size:].decode("utf-8")
        except UnicodeDecodeError:
            raise PeerError("hello: software version is not UTF-8") from None
        return Hello(ig, proto, fmt, software)
    if kind is Kind.SNAPSHOT:
        if len(payload) < _SNAPSHOT.size:
            raise PeerError("snapshot truncated")
        ig, has_state = _SNAPSHOT.unpack_from(payload)
        rest = payload[_SNAPSHOT.size:]
        if has_state not in (0, 1) or (not has_state and rest):
            raise PeerError("snapshot: malformed state flag")
        return Snapshot(ig, decode_frame(rest) if has_state else None)
    if kind is Kind.MIRROR:
        if len(payload) > MAX_MIRROR_BYTES:
            raise PeerError(f"mirror of {len(payload)} bytes exceeds {MAX_MIRROR_BYTES}")
        try:
            state = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as e:
            raise PeerError(f"mirror: not UTF-8 JSON: {e}") from None
        if not isinstance(state, dict):
            raise PeerError("mirror: the state must be a JSON object")
        return Mirror(state)
    if kind is Kind.CALIBRATION:
        if len(payload) < _CALIBRATION.size:
            raise PeerError("calibration truncated")
        version, epoch, revision, dirty = _CALIBRATION.unpack_from(payload)
        body = payload[_CALIBRATION.size:]
        if dirty not in (0, 1) or revision < 0 or not body:
            raise PeerError("calibration: malformed header")
        return Calibration(version, epoch, revision, bool(dirty), body)
    sender, final = _exact(_BYE, payload, "bye")
    return Bye(sender, bool(final))


def calibration_message(calibration, version: int, epoch: int, revision: int, dirty: bool) -> Calibration:
    """A :class:`Calibration` carrying ``calibration`` (a CalibrationSet); LocalError if too large."""
    text = calibration.to_json().encode("utf-8")
    if len(text) > MAX_CALIBRATION_JSON_BYTES:
        raise LocalError(f"calibration of {len(text)} bytes of JSON exceeds {MAX_CALIBRATION_JSON_BYTES}: "
                         "smaller control grids or LUTs")
    msg = Calibration(int(version), int(epoch), int(revision), bool(dirty), zlib.compress(text, 6))
    encode(msg)          # refuses an oversized payload here, not in the frame loop
    return msg


def calibration_set(msg: Calibration):
    """The CalibrationSet a :class:`Calibration` carries; PeerError if it is not one (or too large)."""
    from calibration.model import CalibrationSet
    from domectl.errors import DomectlError

    inflate = zlib.decompressobj()
    try:
        text = inflate.decompress(msg.payload, MAX_CALIBRATION_JSON_BYTES)
    except zlib.error as e:
        raise PeerError(f"calibration: payload is not zlib data: {e}") from None
    if inflate.unconsumed_tail:
        raise PeerError(f"calibration: payload inflates beyond {MAX_CALIBRATION_JSON_BYTES} bytes")
    if not inflate.eof:
        raise PeerError("calibration: payload truncated")
    try:
        return CalibrationSet.from_json(text.decode("utf-8"), "calibration message")
    except UnicodeDecodeError:
        raise PeerError("calibration: payload is not UTF-8") from None
    except (DomectlError, ValueError, TypeError, KeyError, RecursionError) as e:
        # from_json reports ConfigError; a model's own checks (WarpModelError) and a JSON
        # nested past the parser's depth come out as the others.
        raise PeerError(f"calibration: {e}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed")


# ------------------------------------------------------------------ barrier


@dataclass
class NodeStatus:
    """What the master knows of one IG."""

    ig: int
    online: bool = False
    in_barrier: bool = False
    last_seen_ns: int = 0
    ready_frame: int = -1
    presented_frame: int = -1
    render_ms: float = 0.0
    missed: int = 0
    swaps: int = 0
    fps: float = 0.0
    joins: int = 0
    calibration_revision: int = -1      # of the last frame it reported ready


@dataclass(frozen=True)
class SwapDecision:
    frame: int
    waited_ns: int                      # from the frame's start to the decision
    late: tuple[int, ...]               # IGs in the barrier that were not ready: they leave it
    by_deadline: bool


@dataclass
class Barrier:
    """The master's swap barrier for a fixed set of IGs.

    Per frame: :meth:`begin` (frame sent), :meth:`ready` per node, and
    :meth:`poll` until it returns a :class:`SwapDecision`: all nodes in the
    barrier are ready, or the deadline has passed. A node that misses a
    deadline leaves the barrier at once, so a dead node stalls the dome for at
    most one deadline; it rejoins as soon as it reports ready for the current
    frame. A node silent for ``LIVENESS`` heartbeat intervals is offline.
    """

    igs: tuple[int, ...]
    liveness_ns: int = int(HEARTBEAT_INTERVAL_S * LIVENESS * 1e9)
    nodes: dict[int, NodeStatus] = field(default_factory=dict)
    frame: int = -1
    started_ns: int = 0
    deadline_ns: int = 0
    decided: bool = True
    rejected: dict[str, int] = field(default_factory=dict)
    # IGs in the barrier not yet ready for the current frame (kept in step with every change,
    # so poll() is O(1) when called after each of 24 readies).
    _waiting: set[int] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self):
        self.nodes = {ig: NodeStatus(ig) for ig in self.igs}

    def reject(self, reason: str) -> None:
        """Count a message dropped for ``reason`` (kept in ``rejected``, reported in metrics)."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def _node(self, ig: int) -> NodeStatus | None:
        node = self.nodes.get(ig)
        if node is None:
            self.reject("unknown_ig")
        return node

    def seen(self, ig: int, now_ns: int) -> NodeStatus | None:
        node = self._node(ig)
        if node is not None:
            node.last_seen_ns = now_ns
            node.online = True
        return node

    def hello(self, ig: int, now_ns: int) -> bool:
        """A node (re)joins; it enters the barrier from the next frame on."""
        node = self.seen(ig, now_ns)
        if node is None:
            return False
        node.joins += 1
        node.in_barrier = True
        node.ready_frame = -1
        node.calibration_revision = -1      # a (re)joiner has drawn nothing yet
        if not self.decided:
            self._waiting.add(ig)
        return True

    def bye(self, ig: int) -> None:
        node = self._node(ig)
        if node is not None:
            node.online = False
            node.in_barrier = False
            self._waiting.discard(ig)

    def heartbeat(self, hb: Heartbeat, now_ns: int) -> None:
        node = self.seen(hb.sender, now_ns)
        if node is not None:
            node.fps = hb.fps
            node.render_ms = hb.render_ms

    def begin(self, frame: int, now_ns: int, deadline_ns: int) -> None:
        if frame <= self.frame:
            raise LocalError(f"barrier: frame {frame} after {self.frame}: frames must increase")
        self.frame = frame
        self.started_ns = now_ns
        self.deadline_ns = deadline_ns
        self.decided = False
        self._waiting = {n.ig for n in self.nodes.values() if n.in_barrier}

    def ready(self, msg: Ready, now_ns: int) -> bool:
        """Record a node's ready; False (and counted) if it is stale or unknown."""
        node = self.seen(msg.ig, now_ns)
        if node is None:
            return False
        # What the node draws with, late or not (a technician watches it follow the refinement).
        node.calibration_revision = msg.calibration_revision
        if msg.frame != self.frame or self.decided:
            if msg.frame == self.frame and not node.in_barrier and node.online \
                    and not any(n.in_barrier for n in self.nodes.values()):
                # Caught up with a frame nobody was waited for (with nobody left in the barrier, each
                # frame is decided as it starts, so a ready could never be in time): in again from
                # the next frame, where it must be ready by the deadline like any other. With others
                # in the barrier a node gets back in only by being ready before the swap.
                node.in_barrier = True
            self.reject("stale_ready")
            return False
        node.ready_frame = msg.frame
        node.render_ms = msg.render_ms
        self._waiting.discard(msg.ig)
        if not node.in_barrier:
            node.in_barrier = True      # caught up: back in the barrier
        return True

    def expire(self, now_ns: int) -> list[int]:
        """Mark silent nodes offline; returns the IGs that just went offline."""
        gone = []
        for node in self.nodes.values():
            if node.online and now_ns - node.last_seen_ns > self.liveness_ns:
                node.online = False
                node.in_barrier = False
                self._waiting.discard(node.ig)
                gone.append(node.ig)
        return gone

    def waiting_for(self) -> list[int]:
        return [n.ig for n in self.nodes.values()
                if n.in_barrier and n.ready_frame != self.frame]

    def poll(self, now_ns: int) -> SwapDecision | None:
        """The swap decision for the current frame, once it is due; else None."""
        if self.decided or (self._waiting and now_ns < self.deadline_ns):
            return None
        waiting = self.waiting_for()
        by_deadline = now_ns >= self.deadline_ns
        if waiting and not by_deadline:
            return None
        for ig in waiting:
            node = self.nodes[ig]
            node.missed += 1
            node.in_barrier = False
        for node in self.nodes.values():
            if node.ready_frame == self.frame:
                node.presented_frame = self.frame
                node.swaps += 1
        self.decided = True
        self._waiting.clear()
        return SwapDecision(self.frame, now_ns - self.started_ns, tuple(waiting), bool(waiting))

    def live_count(self) -> int:
        return sum(1 for n in self.nodes.values() if n.in_barrier)
