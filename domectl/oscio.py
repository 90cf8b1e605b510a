"""OSC for the master's frame loop: frame cues out to the audio server, timecode in.

Both are non-blocking UDP sockets driven from the frame loop (no thread):

* :class:`AudioCues` sends ``/domectl/frame <int frame> <float show_time_s>``
  each frame to the configured audio server (``cluster.toml`` ``osc.audio_host``
  / ``osc.audio_port``), so 5.2 sound follows the picture. A send that fails
  (no route, buffer full) is counted, never raised: the dome does not wait
  for the sound.
* :class:`TimecodeChase` listens on ``osc.timecode_port`` (0 = off) for
  ``/domectl/timecode <float show_time_s>`` from an external clock (a
  show-control system, the audio server's transport) and gives the show time
  to render now: the last timecode plus the time elapsed since it arrived, so
  the picture runs smoothly between timecode packets (typically 25-30 a
  second). Packets from outside ``osc.allowed_networks``, malformed packets,
  other addresses and non-finite times are dropped and counted.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

log = logging.getLogger("domectl.osc")

FRAME_ADDRESS = "/domectl/frame"
TIMECODE_ADDRESS = "/domectl/timecode"
#: An external timecode older than this is no longer chased: its source stopped, and the
#: show should not run on a guess for long (about 15 missed packets at 30 Hz).
TIMECODE_TIMEOUT_S = 0.5
#: Datagrams read per frame at most, so a flood cannot stall the frame loop.
MAX_DATAGRAMS_PER_POLL = 256


def frame_cue(frame: int, show_time_s: float) -> bytes:
    """The OSC datagram of one frame cue."""
    builder = OscMessageBuilder(FRAME_ADDRESS)
    builder.add_arg(int(frame), OscMessageBuilder.ARG_TYPE_INT64 if frame > 2**31 - 1 else OscMessageBuilder.ARG_TYPE_INT)
    builder.add_arg(float(show_time_s), OscMessageBuilder.ARG_TYPE_DOUBLE)
    return builder.build().dgram


def osc_message(address: str, args: tuple[int | float | str, ...] = ()) -> bytes:
    """The OSC datagram of ``address`` with ``args`` (ints as int32, else int64; floats as float32)."""
    builder = OscMessageBuilder(address)
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, (int, float, str)):
            raise TypeError(f"OSC argument {arg!r}: must be an int, a float or a string")
        if isinstance(arg, int) and not -2**31 <= arg < 2**31:
            builder.add_arg(arg, OscMessageBuilder.ARG_TYPE_INT64)
        else:
            builder.add_arg(arg)
    return builder.build().dgram


class AudioCues:
    """Frame cues to the audio server (fire and forget)."""

    def __init__(self, host: str, port: int):
        self.address = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = 0
        self.failed = 0

    def frame(self, frame: int, show_time_s: float) -> None:
        self._send(frame_cue(frame, show_time_s))

    def cue(self, address: str, args: tuple[int | float | str, ...] = ()) -> None:
        """A show's ``audio`` cue: ``address`` with its arguments (int, float or string)."""
        self._send(osc_message(address, args))

    def _send(self, datagram: bytes) -> None:
        try:
            self.sock.sendto(datagram, self.address)
            self.sent += 1
        except OSError as e:
            self.failed += 1
            if self.failed == 1 or self.failed % 1000 == 0:
                log.warning("audio cue to %s:%d failed (%d so far): %s", *self.address, self.failed, e)

    def close(self) -> None:
        self.sock.close()


class UdpInbox:
    """A non-blocking UDP socket the frame loop reads: datagrams from ``allowed_networks`` only.

    :meth:`datagrams` yields what has arrived (at most ``limit``), never blocks or
    raises; a sender outside the networks is counted under ``not_allowed`` and a
    socket error under ``socket_error`` in ``rejected``.
    """

    def __init__(self, port: int, allowed_networks: tuple[str, ...], host: str = "0.0.0.0", *,
                 not_allowed: str = "not_allowed_source"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.bind((host, int(port)))
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks)
        self.rejected: Counter[str] = Counter()
        self._not_allowed = not_allowed

    def _allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def datagrams(self, limit: int = MAX_DATAGRAMS_PER_POLL) -> Iterator[bytes]:
        for _ in range(limit):
            try:
                data, (host, _port) = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.rejected["socket_error"] += 1
                log.debug("udp port %d: %s", self.port, e)
                return
            if not self._allowed(host):
                self.rejected[self._not_allowed] += 1
                continue
            yield data

    def close(self) -> None:
        self.sock.close()


class TimecodeChase(UdpInbox):
    """The show time an external OSC timecode asks for, extrapolated between packets."""

    def __init__(self, port: int, allowed_networks: tuple[str, ...], host: str = "0.0.0.0",
                 clock_s: Callable[[], float] = time.monotonic):
        super().__init__(port, allowed_networks, host, not_allowed="network")
        self.clock_s = clock_s
        self.received = 0
        self._timecode_s: float | None = None
        self._received_at_s = 0.0

    def poll(self) -> None:
        """Read what has arrived (at most MAX_DATAGRAMS_PER_POLL datagrams); never blocks or raises."""
        for data in self.datagrams():
            try:
                message = OscMessage(data)
            except Exception:  # python-osc raises several types for bad datagrams
                self.rejected["malformed"] += 1
                continue
            if message.address != TIMECODE_ADDRESS:
                self.rejected["address"] += 1
                continue
            params = message.params
            if len(params) != 1 or isinstance(params[0], bool) or not isinstance(params[0], (int, float)) \
                    or not math.isfinite(params[0]) or params[0] < 0:
                self.rejected["bad_time"] += 1
                continue
            self._timecode_s = float(params[0])
            self._received_at_s = self.clock_s()
            self.received += 1

    def show_time_s(self) -> float | None:
        """The chased show time now, or None when no timecode is live (never came, or stopped)."""
        if self._timecode_s is None:
            return None
        elapsed = self.clock_s() - self._received_at_s
        if elapsed > TIMECODE_TIMEOUT_S:
            return None
        return self._timecode_s + elapsed
