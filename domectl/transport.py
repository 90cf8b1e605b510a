"""ZeroMQ transport: the only module that imports zmq.

Master: a PUB socket (frame, swap, master heartbeat and bye, to every node)
and a ROUTER socket (hello, ready, heartbeat, bye from nodes; snapshot to one
node). Node: SUB + DEALER with its identity ``igNN``. The protocol objects go
through :mod:`domectl.protocol`; what arrives here undecodable is counted and
dropped by the caller, never raised into the frame loop.
"""

from __future__ import annotations

import zmq

from domectl.protocol import MAX_MESSAGE_BYTES, Message, encode

# High-water marks: a frame is ~1 KB and is stale one frame later; a node that
# cannot keep up should lose old frames, not buffer seconds of them.
PUB_HWM = 100
CONTROL_HWM = 1000


def _tcp(host: str, port: int | str) -> str:
    return f"tcp://{host}:{port}"


class MasterLink:
    """The master's two sockets. Bind to port 0 (``"*"``) to let the OS choose."""

    def __init__(self, host: str = "127.0.0.1", frame_port: int | str = "*",
                 control_port: int | str = "*", context: zmq.Context | None = None):
        self.ctx = context or zmq.Context.instance()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.SNDHWM, PUB_HWM)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.RCVHWM, CONTROL_HWM)
        self.router.setsockopt(zmq.LINGER, 0)
        # Oversized messages are refused by libzmq before they reach Python.
        self.router.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.pub.bind(_tcp(host, frame_port))
        self.router.bind(_tcp(host, control_port))
        self.frame_endpoint = self.pub.getsockopt_string(zmq.LAST_ENDPOINT)
        self.control_endpoint = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        self.poller = zmq.Poller()
        self.poller.register(self.router, zmq.POLLIN)

    def publish(self, msg: Message) -> None:
        self.pub.send(encode(msg), copy=True)

    def publish_raw(self, data: bytes) -> None:
        self.pub.send(data)

    def send_to(self, identity: bytes, msg: Message) -> None:
        self.router.send_multipart([identity, encode(msg)])

    def receive(self, timeout_ms: float) -> list[tuple[bytes, list[bytes]]]:
        """Everything that arrived within ``timeout_ms``: [(identity, frames)]."""
        out = []
        if self.poller.poll(max(0, int(timeout_ms))):
            while True:
                try:
                    parts = self.router.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                out.append((parts[0], parts[1:]))
        return out

    def close(self) -> None:
        self.pub.close(0)
        self.router.close(0)


class NodeLink:
    """A node's two sockets, connected to the master's endpoints."""

    def __init__(self, ig: int, frame_endpoint: str, control_endpoint: str,
                 context: zmq.Context | None = None):
        self.ctx = context or zmq.Context.instance()
        self.identity = f"ig{ig:02d}".encode()
        self.frame_endpoint = frame_endpoint
        self.control_endpoint = control_endpoint
        self._open()

    def _open(self) -> None:
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVHWM, PUB_HWM)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.dealer = self.ctx.socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.IDENTITY, self.identity)
        self.dealer.setsockopt(zmq.LINGER, 0)
        self.dealer.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.sub.connect(self.frame_endpoint)
        self.dealer.connect(self.control_endpoint)
        self.poller = zmq.Poller()
        self.poller.register(self.sub, zmq.POLLIN)
        self.poller.register(self.dealer, zmq.POLLIN)

    def reconnect(self) -> None:
        """Drop both sockets and connect afresh (after the master went silent)."""
        self.close()
        self._open()

    def send(self, msg: Message) -> None:
        self.dealer.send(encode(msg))

    def receive(self, timeout_ms: float) -> list[bytes]:
        """Raw messages from the master (broadcast and direct) within ``timeout_ms``."""
        out = []
        events = dict(self.poller.poll(max(0, int(timeout_ms))))
        for sock in (self.dealer, self.sub):
            if sock in events:
                while True:
                    try:
                        out.append(sock.recv(zmq.NOBLOCK))
                    except zmq.Again:
                        break
        return out

    def close(self) -> None:
        self.sub.close(0)
        self.dealer.close(0)
