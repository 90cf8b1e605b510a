"""FrameState: the one message that drives a frame, and its binary encoding.

The master computes one FrameState per frame; a node renders from it alone (a
node does no astronomy and reads no clock). The encoding is explicit and
versioned, little-endian, never pickle:

    header   "<4sHI"    magic b"DFS1", FORMAT_VERSION, total length in bytes
    core     CORE       frame, deadline_ns, show_time_s, tt_jd, site (lat, lon, elev),
                        view (az, alt, zoom), enu_from_icrs (9, row-major), beta_icrs (3),
                        years_since_epoch, sun_alt_deg, temperature_C, pressure_mbar, flags
                        star_brightness, star_contrast, limiting_mag_delta
    layers   u8 count, then per layer: u8 name length, UTF-8 name, f32 opacity
    bodies   u8 count, then per body: u8 name length, UTF-8 name, BODY
    language 2 ASCII bytes
    pointer  u8 length, UTF-8 (empty: nothing selected)
    overlays u8 count, then per overlay: u8 kind (0 text, 1 image), u16 length,
             UTF-8 content, OVERLAY (dome az, dome elevation, size, opacity, rgb)

Sizes: about 1 KB with the 11 solar-system bodies and a dozen layers; a
frame is at most MAX_ENCODED_BYTES (a caption of a few hundred characters
fits many times over).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from domectl.errors import LocalError, PeerError

MAGIC = b"DFS1"
FORMAT_VERSION = 2
MAX_ENCODED_BYTES = 64 * 1024

_HEADER = struct.Struct("<4sHI")
_CORE = struct.Struct("<Qqdd3d3d9d3dddddIddd")
_BODY = struct.Struct("<3d6d")
_OPACITY = struct.Struct("<f")
_OVERLAY = struct.Struct("<4d3d")
_OVERLAY_KINDS = ("text", "image")

FLAG_BLACKOUT = 1 << 0
FLAG_REFRACTION = 1 << 1

IDENTITY3 = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class BodyView:
    """A solar-system body as the frame shows it (apparent, topocentric)."""

    name: str
    enu: tuple[float, float, float]      # unit direction, East-North-Up
    distance_au: float
    mag: float
    angular_diameter_deg: float
    illuminated_fraction: float
    phase_angle_deg: float
    limb_angle_deg: float                # position angle of the bright limb, from north through east


@dataclass(frozen=True)
class Overlay:
    """A text or an image fixed on the dome (not on the sky).

    kind: "text" or "image"; content: the text itself (already in the frame's
    language; lines split on "\\n") or the path of a PNG the node can read.
    Position in the dome frame: ``dome_az_deg`` from the dome's front (+y)
    toward its right (+x), ``dome_elev_deg`` above the springline;
    ``size_deg``: text cap height or image height, in degrees seen from the eye.
    """

    kind: str
    content: str
    dome_az_deg: float
    dome_elev_deg: float
    size_deg: float = 2.0
    opacity: float = 1.0
    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class FrameState:
    """Everything a node needs to draw frame ``frame``."""

    frame: int
    deadline_ns: int                     # the master's monotonic clock: when this frame must swap
    show_time_s: float
    tt_jd: float
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    view_az_deg: float
    view_alt_deg: float
    zoom: float = 1.0
    enu_from_icrs: tuple[float, ...] = IDENTITY3   # (3, 3) row-major
    beta_icrs: tuple[float, float, float] = (0.0, 0.0, 0.0)  # observer velocity / c
    years_since_epoch: float = 0.0       # Julian years since the star catalogue epoch
    sun_alt_deg: float = -90.0
    temperature_C: float = 10.0          # for refraction
    pressure_mbar: float = 1010.0
    blackout: bool = False
    refraction: bool = False
    layers: tuple[tuple[str, float], ...] = ()
    bodies: tuple[BodyView, ...] = field(default=())
    language: str = "en"
    pointer: str = ""                    # the selected object: "mars", "HIP 32349", "Ori"; "" none
    overlays: tuple[Overlay, ...] = ()
    star_brightness: float = 1.0         # the operator's multipliers on the hall's star look
    star_contrast: float = 1.0
    limiting_mag_delta: float = 0.0      # added to the hall's limiting magnitude

    def layer(self, name: str, default: float = 0.0) -> float:
        for layer_name, opacity in self.layers:
            if layer_name == name:
                return opacity
        return default


def _name_bytes(name: str, what: str) -> bytes:
    raw = name.encode("utf-8")
    if not 0 < len(raw) < 256:
        raise LocalError(f"FrameState {what} name {name!r}: must be 1-255 UTF-8 bytes")
    return raw


def encode_frame(state: FrameState) -> bytes:
    """FrameState -> bytes (see the module docstring for the layout)."""
    if len(state.enu_from_icrs) != 9 or len(state.beta_icrs) != 3:
        raise LocalError("FrameState.enu_from_icrs needs 9 numbers and beta_icrs 3")
    if len(state.layers) > 255 or len(state.bodies) > 255:
        raise LocalError("FrameState carries at most 255 layers and 255 bodies")
    if len(state.overlays) > 255:
        raise LocalError("FrameState carries at most 255 overlays")
    if len(state.language) != 2 or not state.language.isascii():
        raise LocalError(f"FrameState.language {state.language!r}: must be a 2-letter code such as 'fr'")
    flags = (FLAG_BLACKOUT if state.blackout else 0) | (FLAG_REFRACTION if state.refraction else 0)
    numbers = (state.show_time_s, state.tt_jd, state.latitude_deg, state.longitude_deg, state.elevation_m,
               state.view_az_deg, state.view_alt_deg, state.zoom, *state.enu_from_icrs, *state.beta_icrs,
               state.years_since_epoch, state.sun_alt_deg, state.temperature_C, state.pressure_mbar,
               state.star_brightness, state.star_contrast, state.limiting_mag_delta,
               *(x for o in state.overlays for x in (o.dome_az_deg, o.dome_elev_deg, o.size_deg, o.opacity, *o.rgb)),
               *(x for b in state.bodies for x in (*b.enu, b.distance_au, b.mag, b.angular_diameter_deg,
                                                   b.illuminated_fraction, b.phase_angle_deg,
                                                   b.limb_angle_deg)))
    if not all(math.isfinite(x) for x in numbers):
        # Nodes refuse non-finite frames; failing here names the culprit at the source.
        raise LocalError(f"FrameState frame {state.frame}: a non-finite number in {state!r}")
    try:
        parts = [_CORE.pack(
            state.frame, state.deadline_ns, state.show_time_s, state.tt_jd,
            state.latitude_deg, state.longitude_deg, state.elevation_m,
            state.view_az_deg, state.view_alt_deg, state.zoom,
            *state.enu_from_icrs, *state.beta_icrs,
            state.years_since_epoch, state.sun_alt_deg, state.temperature_C, state.pressure_mbar,
            flags, state.star_brightness, state.star_contrast, state.limiting_mag_delta)]
    except struct.error as e:
        raise LocalError(f"FrameState frame {state.frame}: cannot encode: {e}") from None
    parts.append(bytes([len(state.layers)]))
    for name, opacity in state.layers:
        raw = _name_bytes(name, "layer")
        parts += [bytes([len(raw)]), raw, _OPACITY.pack(opacity)]
    parts.append(bytes([len(state.bodies)]))
    for b in state.bodies:
        raw = _name_bytes(b.name, "body")
        parts += [bytes([len(raw)]), raw, _BODY.pack(
            *b.enu, b.distance_au, b.mag, b.angular_diameter_deg, b.illuminated_fraction,
            b.phase_angle_deg, b.limb_angle_deg)]
    parts.append(state.language.encode("ascii"))
    pointer = state.pointer.encode("utf-8")
    if len(pointer) > 255:
        raise LocalError(f"FrameState.pointer {state.pointer!r}: at most 255 UTF-8 bytes")
    parts += [bytes([len(pointer)]), pointer, bytes([len(state.overlays)])]
    for o in state.overlays:
        if o.kind not in _OVERLAY_KINDS:
            raise LocalError(f"FrameState overlay kind {o.kind!r}: must be one of {', '.join(_OVERLAY_KINDS)}")
        if len(o.rgb) != 3:
            raise LocalError(f"FrameState overlay {o.content!r}: rgb needs 3 numbers")
        content = o.content.encode("utf-8")
        if len(content) > 0xFFFF:
            raise LocalError(f"FrameState overlay text of {len(content)} bytes: at most 65535")
        parts += [bytes([_OVERLAY_KINDS.index(o.kind)]), struct.pack("<H", len(content)), content,
                  _OVERLAY.pack(o.dome_az_deg, o.dome_elev_deg, o.size_deg, o.opacity, *o.rgb)]
    body = b"".join(parts)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, _HEADER.size + len(body)) + body


class _Reader:
    def __init__(self, data: bytes, offset: int):
        self.data = data
        self.offset = offset

    def take(self, n: int) -> bytes:
        if self.offset + n > len(self.data):
            raise PeerError(f"FrameState truncated: needed {n} bytes at offset {self.offset}, "
                            f"have {len(self.data) - self.offset}")
        out = self.data[self.offset:self.offset + n]
        self.offset += n
        return out

    def unpack(self, s: struct.Struct) -> tuple:
        return s.unpack(self.take(s.size))

    def name(self, what: str) -> str:
        n = self.take(1)[0]
        if n == 0:
            raise PeerError(f"FrameState {what} name is empty")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise PeerError(f"FrameState {what} name is not UTF-8") from None


def decode_frame(data: bytes) -> FrameState:
    """bytes -> FrameState; raises PeerError on anything malformed."""
    if len(data) > MAX_ENCODED_BYTES:
        raise PeerError(f"FrameState of {len(data)} bytes exceeds {MAX_ENCODED_BYTES}")
    if len(data) < _HEADER.size:
        raise PeerError(f"FrameState truncated: {len(data)} bytes, header needs {_HEADER.size}")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PeerError(f"not a FrameState: magic {magic!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise PeerError(f"FrameState format version {version}; this build reads {FORMAT_VERSION}: "
                        "run the same domectl version on master and nodes")
    if length != len(data):
        raise PeerError(f"FrameState length field says {length} bytes, got {len(data)}")
    r = _Reader(data, _HEADER.size)
    core = r.unpack(_CORE)
    (frame, deadline_ns, show_time_s, tt_jd, lat, lon, elev, view_az, view_alt, zoom) = core[:10]
    enu_from_icrs = tuple(core[10:19])
    beta = tuple(core[19:22])
    years, sun_alt, temperature_C, pressure_mbar, flags = core[22:27]
    star_brightness, star_contrast, limiting_mag_delta = core[27:30]
    if not all(math.isfinite(x) for x in core[2:26] + core[27:30]):
        raise PeerError(f"FrameState {frame}: non-finite number in the core fields")
    layers = []
    for _ in range(r.take(1)[0]):
        name = r.name("layer")
        (opacity,) = r.unpack(_OPACITY)
        if not math.isfinite(opacity):
            raise PeerError(f"FrameState layer {name!r} opacity is not finite")
        layers.append((name, opacity))
    bodies = []
    for _ in range(r.take(1)[0]):
        name = r.name("body")
        v = r.unpack(_BODY)
        if not all(math.isfinite(x) for x in v):
            raise PeerError(f"FrameState body {name!r}: non-finite number")
        bodies.append(BodyView(name=name, enu=tuple(v[0:3]), distance_au=v[3], mag=v[4],
                               angular_diameter_deg=v[5], illuminated_fraction=v[6],
                               phase_angle_deg=v[7], limb_angle_deg=v[8]))
    language = r.take(2)
    try:
        pointer = r.take(r.take(1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        raise PeerError("FrameState pointer is not UTF-8") from None
    overlays = []
    for _ in range(r.take(1)[0]):
        kind = r.take(1)[0]
        if kind >= len(_OVERLAY_KINDS):
            raise PeerError(f"FrameState overlay kind {kind}: unknown")
        (n,) = struct.unpack("<H", r.take(2))
        try:
            content = r.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise PeerError("FrameState overlay content is not UTF-8") from None
        v = r.unpack(_OVERLAY)
        if not all(math.isfinite(x) for x in v):
            raise PeerError(f"FrameState overlay {content[:40]!r}: non-finite number")
        overlays.append(Overlay(kind=_OVERLAY_KINDS[kind], content=content, dome_az_deg=v[0],
                                dome_elev_deg=v[1], size_deg=v[2], opacity=v[3], rgb=tuple(v[4:7])))
    if r.offset != len(data):
        raise PeerError(f"FrameState has {len(data) - r.offset} trailing bytes")
    try:
        lang = language.decode("ascii")
    except UnicodeDecodeError:
        raise PeerError("FrameState language is not ASCII") from None
    return FrameState(
        frame=frame, deadline_ns=deadline_ns, show_time_s=show_time_s, tt_jd=tt_jd,
        latitude_deg=lat, longitude_deg=lon, elevation_m=elev, view_az_deg=view_az,
        view_alt_deg=view_alt, zoom=zoom, enu_from_icrs=enu_from_icrs, beta_icrs=beta,
        years_since_epoch=years, sun_alt_deg=sun_alt, temperature_C=temperature_C,
        pressure_mbar=pressure_mbar, blackout=bool(flags & FLAG_BLACKOUT),
        refraction=bool(flags & FLAG_REFRACTION), layers=tuple(layers), bodies=tuple(bodies),
        language=lang, pointer=pointer, overlays=tuple(overlays), star_brightness=star_brightness,
        star_contrast=star_contrast, limiting_mag_delta=limiting_mag_delta,
    )
