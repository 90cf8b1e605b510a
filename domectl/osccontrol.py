"""OSC control surfaces (TouchOSC, a lighting desk, a hardware panel): the console's controls over UDP.

The namespace (docs/console.md, "OSC control surfaces") mirrors the REST API:
:func:`translate` turns an OSC message into the REST path and JSON body the
console would send, and :class:`OscControl` hands it to the very same handler
(domectl/services.py). One implementation of every control, whichever way it
comes.

The socket is read by the master's frame loop before each frame (non-blocking,
at most ``MAX_DATAGRAMS_PER_POLL``), like the timecode: a command applies
between frames, never while one is computed. Nothing is sent back. Anything
the master cannot use is dropped and counted by reason: ``not_allowed_source``,
``malformed``, ``unknown_address``, ``bad_arguments``, ``refused`` (the
command's handler said no: a show is playing, no such object, ...).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage

from domectl.layermix import LAYER_NAMES
from domectl.oscio import UdpInbox

log = logging.getLogger("domectl.osccontrol")

PREFIX = "/domectl"
#: A surface sends a few messages per gesture; more than this per frame waits for the next.
MAX_DATAGRAMS_PER_POLL = 16
#: Bundles nest; deeper than this is an attack or a bug.
MAX_BUNDLE_DEPTH = 8
MAX_DATAGRAM_BYTES = 4096


class BadArguments(ValueError):
    pass


class Release(Exception):
    """A button's release (a 0 where a press is expected): nothing to do."""


def _press(args: list) -> None:
    """A press is no argument or one non-zero number; a 0 is the button's release."""
    if not args:
        return
    if len(args) == 1 and _is_number(args[0]):
        if args[0] == 0:
            raise Release
        return
    raise BadArguments(f"a button: no argument or one number, not {args!r}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _one(args: list, kind: type | tuple, what: str):
    if len(args) != 1:
        raise BadArguments(f"one {what}, not {len(args)} arguments")
    x = args[0]
    if kind is float:
        if not _is_number(x):
            raise BadArguments(f"{what}: a number, not {x!r}")
        return float(x)
    if not isinstance(x, kind):
        raise BadArguments(f"{what}: {kind.__name__}, not {x!r}")
    return x


def _numbers(args: list, counts: tuple[int, ...], what: str) -> list[float]:
    if len(args) not in counts or not all(_is_number(x) for x in args):
        raise BadArguments(f"{what}: {' or '.join(map(str, counts))} numbers, not {args!r}")
    return [float(x) for x in args]


_PRESSES = {
    "time/pause": "/api/time/pause", "time/resume": "/api/time/resume", "time/now": "/api/time/now",
    "view/recenter": "/api/view/recenter", "blackout": "/api/blackout", "restore": "/api/restore",
    "show/play": "/api/show/play", "show/pause": "/api/show/pause", "show/resume": "/api/show/resume",
    "show/skip": "/api/show/skip", "show/stop": "/api/show/stop", "poll/close": "/api/poll/close",
    "poll/show": "/api/poll/show", "poll/hide": "/api/poll/hide",
    "voyage/home": "/api/voyage/home", "voyage/park": "/api/voyage/park",
}


def translate(address: str, args: list) -> tuple[str, dict] | None:
    """(REST path, body) for an OSC control message; None for an unknown address.

    Raises BadArguments for arguments the address does not take and Release for
    a button's release."""
    if not address.startswith(PREFIX + "/"):
        return None
    name = address[len(PREFIX) + 1:]
    if name in _PRESSES:
        _press(args)
        return _PRESSES[name], {}
    if name == "panic":
        _press(args)
        return "/api/blackout", {"fade_s": 0.0}
    if name == "time/rate":
        return "/api/time/rate", {"rate": _one(args, float, "rate")}
    if name == "time/set":
        return "/api/time/set", {"utc": _one(args, str, "ISO time")}
    if name == "place":
        if len(args) == 1 and isinstance(args[0], str):
            return "/api/place", {"name": args[0]}
        values = _numbers(args, (2, 3), "latitude, longitude [, elevation]")
        return "/api/place", dict(zip(("latitude_deg", "longitude_deg", "elevation_m"), values))
    if name == "view":
        az, alt = _numbers(args, (2,), "azimuth, altitude")
        return "/api/view", {"az_deg": az, "alt_deg": alt}
    if name == "view/turn":
        d_az, d_alt = _numbers(args, (2,), "azimuth step, altitude step")
        return "/api/view", {"d_az_deg": d_az, "d_alt_deg": d_alt}
    if name == "view/zoom":
        return "/api/view", {"zoom": _one(args, float, "zoom")}
    if name == "goto":
        return "/api/goto", {"target": _one(args, str, "object name")}
    if name == "voyage/fly":
        return "/api/voyage/fly", {"target": _one(args, str, "body name")}
    if name == "voyage/orbit":
        return "/api/voyage/orbit", {"target": _one(args, str, "body name")} if args else {}
    if name == "stereo":
        what = "separation: \"natural\", \"auto\" or metres"
        if len(args) == 1 and isinstance(args[0], str):
            return "/api/stereo", {"separation": args[0]}
        return "/api/stereo", {"separation": _one(args, float, what)}
    if name == "pattern":
        return "/api/calibration/pattern", {"pattern": _one(args, str, "pattern name (\"\" ends it)")}
    if name == "language":
        return "/api/language", {"language": _one(args, str, "language code")}
    if name == "show/seek":
        if len(args) == 1 and isinstance(args[0], str):
            return "/api/show/seek", {"to": args[0]}
        return "/api/show/seek", {"to": _one(args, float, "show time")}
    if name.startswith("layer/") and name[len("layer/"):] in LAYER_NAMES:
        value = _one(args, float, "layer opacity (0 off, 1 on)")
        layer = name[len("layer/"):]
        if value in (0.0, 1.0):
            return "/api/layer", {"name": layer, "on": value == 1.0}
        return "/api/layer", {"name": layer, "opacity": value}
    return None


def _messages(data: bytes, depth: int = 0):
    """The OSC messages in a datagram (a message, or a bundle of them, nested)."""
    if data.startswith(b"#bundle"):
        if depth >= MAX_BUNDLE_DEPTH:
            raise ValueError("bundles nested too deep")
        for element in OscBundle(data):
            if isinstance(element, OscBundle):
                yield from _messages(element.dgram, depth + 1)
            else:
                yield element
    else:
        yield OscMessage(data)


class OscControl(UdpInbox):
    """The master's OSC control endpoint: read by the frame loop, handled by the REST handlers."""

    name = "osc_control"

    def __init__(self, handlers: Mapping[str, Callable[[dict], dict]], port: int,
                 allowed_networks: tuple[str, ...], host: str = "0.0.0.0",
                 refusals: tuple[type[BaseException], ...] = (ValueError,)):
        super().__init__(port, allowed_networks, host)
        self.handlers = dict(handlers)
        self.refusals = refusals
        self.accepted = 0
        self.released = 0

    def poll(self) -> None:
        """Handle what has arrived; never blocks, never raises into the frame loop."""
        for data in self.datagrams(MAX_DATAGRAMS_PER_POLL):
            if len(data) > MAX_DATAGRAM_BYTES or len(data) % 4:      # OSC packets are whole 32-bit words
                self.rejected["malformed"] += 1
                continue
            try:
                messages = list(_messages(data))
            except Exception:             # python-osc raises several types for bad datagrams
                self.rejected["malformed"] += 1
                continue
            for message in messages:
                self.handle(message.address, list(message.params))

    def handle(self, address: str, args: list) -> None:
        try:
            request = translate(address, args)
        except Release:
            self.released += 1
            return
        except BadArguments as e:
            self.rejected["bad_arguments"] += 1
            log.info("osc control %s: %s", address, e)
            return
        if request is None or request[0] not in self.handlers:
            self.rejected["unknown_address"] += 1
            return
        path, body = request
        try:
            self.handlers[path](body)
        except self.refusals as e:
            self.rejected["refused"] += 1
            log.info("osc control %s refused: %s", address, e)
            return
        except Exception:                  # a bug in a handler: logged, the frame loop carries on
            self.rejected["internal_error"] += 1
            log.exception("osc control %s failed", address)
            return
        self.accepted += 1

    def stats(self) -> dict:
        return {"port": self.port, "accepted": self.accepted, "released": self.released,
                "rejected": dict(self.rejected)}

    def stop(self) -> None:
        self.close()
