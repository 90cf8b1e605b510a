"""FrameState: the one message that drives a frame, and its binary encoding.

The master computes one FrameState per frame; a node renders from it alone (a
node does no astronomy and reads no clock). The encoding is explicit and
versioned, little-endian, never pickle:

    header   "<4sHI"    magic b"DFS1", FORMAT_VERSION, total length in bytes
    core     CORE       frame, deadline_ns, show_time_s, tt_jd, site (lat, lon, elev),
                        view (az, alt, zoom > 0), enu_from_icrs (9, row-major), beta_icrs (3),
                        years_since_epoch, sun_alt_deg, temperature_C, pressure_mbar, flags
                        star_brightness, star_contrast, limiting_mag_delta
    layers   u8 count, u16 length + the names (UTF-8, joined by newlines), count f32 opacities
    bodies   u8 count, u16 length + the names (as for layers), count BODY (9 f64 each:
             enu (3), distance_au, mag, angular diameter, illuminated fraction, phase angle,
             bright-limb angle)
    language 2 ASCII bytes
    pointer  u8 length, UTF-8 (empty: nothing selected)
    overlays u8 count, then per overlay: u8 kind (0 text, 1 image, 2 fulldome, 3 pattern), u16 length,
             UTF-8 content, OVERLAY (dome az, dome elevation, size, opacity, rgb)
    stereo   f64 eye_separation_m
    spheres  u8 count, names block, count SPHERE (17 f64 each: centre_m (3), radius_m, polar_ratio,
             body_from_enu (9), sun_dir (3))
    models   u8 count, names block, count MODEL (u8 on_dome, then 14 f64: position_m (3),
             frame_from_model (9), scale, opacity)
    orbits   u8 count, names block, count ORBIT (9 f64: centre_m (3), axis_a_m (3), axis_b_m (3))

Version 4 added the overlay kind "fulldome" (version 3 nodes would refuse it)
and refuses a zoom that is not a magnification (<= 0). Version 5 added the
kind "pattern": a technician's test pattern (calibration/patterns.py) the
named projectors show instead of the sky. Version 6 added the space voyage and
stereo: the eyes' separation, lit spheres, 3D models and orbit ellipses, all
placed relative to the observer (domectl/voyage.py, domectl/stereo.py).

Sizes: about 1 KB with the 11 solar-system bodies and a dozen layers; a
frame is at most MAX_ENCODED_BYTES (a caption of a few hundred characters
fits many times over).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from domectl.errors import LocalError, PeerError

MAGIC = b"DFS1"
FORMAT_VERSION = 6
MAX_ENCODED_BYTES = 64 * 1024

_HEADER = struct.Struct("<4sHI")
_CORE = struct.Struct("<Qqdd3d3d9d3dddddIddd")
_U16 = struct.Struct("<H")
_OVERLAY = struct.Struct("<4d3d")
_F64 = struct.Struct("<d")
_SPHERE = struct.Struct("<17d")
_MODEL = struct.Struct("<B14d")
_ORBIT = struct.Struct("<9d")
# Appended only: a kind's code is its index.
_OVERLAY_KINDS = ("text", "image", "fulldome", "pattern")

FLAG_BLACKOUT = 1 << 0
FLAG_REFRACTION = 1 << 1

IDENTITY3 = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


class BodyView(NamedTuple):
    """A solar-system body as the frame shows it (apparent, topocentric).

    A NamedTuple rather than a frozen dataclass: each node builds eleven of these
    per frame, and a tuple is built several times faster (immutable all the same).
    """

    name: str
    enu: tuple[float, float, float]      # unit direction, East-North-Up
    distance_au: float
    mag: float
    angular_diameter_deg: float
    illuminated_fraction: float
    phase_angle_deg: float
    limb_angle_deg: float                # position angle of the bright limb, from north through east


class SphereView(NamedTuple):
    """A body drawn as a lit sphere (render/spheres.py), placed relative to the observer.

    Frames as for BodyView: ``centre_m`` is the body's centre seen from the
    observer (the dome's centre) in the frame's ENU axes, in metres; in space
    the "ENU" axes are the ship's (domectl/voyage.py), as the stars' are.
    ``body_from_enu`` (3, 3, row-major) takes ENU vectors to the body-fixed
    frame (+z the north pole, +x the prime meridian: IAU WGCCRE), which the
    surface texture (equirectangular, longitude 0 at the centre, east to the
    right) is wrapped on; ``polar_ratio`` = polar / equatorial radius;
    ``sun_dir`` the unit ENU direction from the body's centre to the Sun.
    """

    name: str                            # lower-case: "moon", "earth", "mars"; the texture's name
    centre_m: tuple[float, float, float]
    radius_m: float                      # equatorial
    polar_ratio: float
    body_from_enu: tuple[float, ...]     # (3, 3) row-major
    sun_dir: tuple[float, float, float]


class ModelView(NamedTuple):
    """A 3D model (an OBJ asset, domectl/meshes.py) placed in the scene, lit by the Sun.

    ``on_dome``: True: ``position_m`` and ``frame_from_model`` are in the dome
    frame (+z zenith, +y front, metres from the dome centre): the model stays
    on the dome whatever the sky does; False: in the sky's ENU axes, relative
    to the observer: it turns with the view like a body. ``scale``: metres
    per model unit.
    """

    name: str                            # the asset: domectl/data/models/NAME.obj
    on_dome: bool
    position_m: tuple[float, float, float]
    frame_from_model: tuple[float, ...]  # (3, 3) row-major
    scale: float
    opacity: float


class OrbitView(NamedTuple):
    """A body's orbit as an ellipse: ``centre_m + axis_a_m cos E + axis_b_m sin E``, E in [0, 2 pi),
    relative to the observer in the frame's ENU axes, metres (the osculating orbit about the
    body's primary at the frame's time)."""

    name: str
    centre_m: tuple[float, float, float]
    axis_a_m: tuple[float, float, float]
    axis_b_m: tuple[float, float, float]


@dataclass(frozen=True)
class Overlay:
    """A text, an image or a full-dome frame fixed on the dome (not on the sky).

    kind: "text", "image" or "fulldome"; content: the text itself (already in
    the frame's language; lines split on "\\n") or the path of a PNG the node
    can read. Position in the dome frame: ``dome_az_deg`` from the dome's front
    (+y) toward its right (+x), ``dome_elev_deg`` above the springline;
    ``size_deg``: text cap height or image height, in degrees seen from the eye.
    A "fulldome" PNG is a square domemaster (the convention of our own output)
    filling the dome, under the texts and images: only ``opacity`` applies,
    the placement fields and ``rgb`` are ignored. A "pattern" is a test
    pattern in projector pixels, ``content`` = ``NAME`` or ``NAME:p01,p03``
    (calibration/patterns.py): the named projectors (all without a list)
    show it unwarped instead of the sky, the others black; placement,
    ``opacity`` and ``rgb`` are ignored.
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
    zoom: float = 1.0                    # the sky's magnification (> 0; shows: 0.25 .. 100), domectl.projection
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
    eye_separation_m: float = 0.0        # ODS eye separation in the scene (already comfort-limited; 0: mono)
    spheres: tuple[SphereView, ...] = ()
    models: tuple[ModelView, ...] = ()
    orbits: tuple[OrbitView, ...] = ()

    def layer(self, name: str, default: float = 0.0) -> float:
        for layer_name, opacity in self.layers:
            if layer_name == name:
                return opacity
        return default


def _names_block(names: list[str], what: str) -> bytes:
    """Names joined by newlines (the block a decoder splits and caches as one string)."""
    for name in names:
        raw_len = len(name.encode("utf-8"))
        if not 0 < raw_len < 256 or "\n" in name:
            raise LocalError(f"FrameState {what} name {name!r}: must be 1-255 UTF-8 bytes without a newline")
    block = "\n".join(names).encode("utf-8")
    if len(block) > 0xFFFF:
        raise LocalError(f"FrameState {what} names take {len(block)} bytes: at most 65535")
    return _U16.pack(len(block)) + block


def encode_frame(state: FrameState) -> bytes:
    """FrameState -> bytes (see the module docstring for the layout)."""
    if len(state.enu_from_icrs) != 9 or len(state.beta_icrs) != 3:
        raise LocalError("FrameState.enu_from_icrs needs 9 numbers and beta_icrs 3")
    if len(state.layers) > 255 or len(state.bodies) > 255:
        raise LocalError("FrameState carries at most 255 layers and 255 bodies")
    if len(state.overlays) > 255:
        raise LocalError("FrameState carries at most 255 overlays")
    if not state.zoom > 0.0:
        raise LocalError(f"FrameState.zoom {state.zoom!r}: must be a magnification > 0 (1: none)")
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
    if not all(map(math.isfinite, numbers)):
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
        parts += [bytes([len(state.layers)]), _names_block([n for n, _ in state.layers], "layer"),
                  _floats("f", len(state.layers)).pack(*(o for _, o in state.layers))]
        parts += [bytes([len(state.bodies)]), _names_block([b.name for b in state.bodies], "body"),
                  _floats("d", 9 * len(state.bodies)).pack(*(
                      x for b in state.bodies for x in (*b.enu, b.distance_au, b.mag, b.angular_diameter_deg,
                                                        b.illuminated_fraction, b.phase_angle_deg,
                                                        b.limb_angle_deg)))]
    except struct.error as e:
        raise LocalError(f"FrameState frame {state.frame}: cannot encode: {e}") from None
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
        parts += [bytes([_OVERLAY_KINDS.index(o.kind)]), _U16.pack(len(content)), content,
                  _OVERLAY.pack(o.dome_az_deg, o.dome_elev_deg, o.size_deg, o.opacity, *o.rgb)]
    parts += _space_blocks(state)
    body = b"".join(parts)
    return _HEADER.pack(MAGIC, FORMAT_VERSION, _HEADER.size + len(body)) + body


def _space_blocks(state: FrameState) -> list[bytes]:
    """The version 6 blocks: eye separation, spheres, models, orbits."""
    if not (math.isfinite(state.eye_separation_m) and state.eye_separation_m >= 0.0):
        raise LocalError(f"FrameState.eye_separation_m {state.eye_separation_m!r}: must be a finite number >= 0")
    parts = [struct.pack("<d", state.eye_separation_m)]
    for what, items, s, row in (
            ("sphere", state.spheres, _SPHERE,
             lambda v: (*v.centre_m, v.radius_m, v.polar_ratio, *v.body_from_enu, *v.sun_dir)),
            ("model", state.models, _MODEL,
             lambda v: (1 if v.on_dome else 0, *v.position_m, *v.frame_from_model, v.scale, v.opacity)),
            ("orbit", state.orbits, _ORBIT, lambda v: (*v.centre_m, *v.axis_a_m, *v.axis_b_m))):
        if len(items) > 255:
            raise LocalError(f"FrameState carries at most 255 {what}s")
        parts += [bytes([len(items)]), _names_block([v.name for v in items], what)]
        for v in items:
            values = row(v)
            if not all(map(math.isfinite, values)):
                raise LocalError(f"FrameState {what} {v.name!r}: a non-finite number")
            try:
                parts.append(s.pack(*values))
            except struct.error as e:
                raise LocalError(f"FrameState {what} {v.name!r}: cannot encode: {e}") from None
    return parts


def _floats(code: str, n: int) -> struct.Struct:
    """The struct of ``n`` little-endian floats of type ``code`` (cached: a frame reuses a few)."""
    s = _FLOAT_STRUCTS.get((code, n))
    if s is None:
        s = _FLOAT_STRUCTS[(code, n)] = struct.Struct(f"<{n}{code}")
    return s


_FLOAT_STRUCTS: dict[tuple[str, int], struct.Struct] = {}
# Name blocks seen lately -> their names: layers and bodies repeat frame after frame, so a node
# splits and checks each block once. Bounded: a peer sending ever-new names only refills it.
_NAMES_CACHE: dict[bytes, tuple[str, ...]] = {}
_NAMES_CACHE_MAX = 64


def _truncated(data, offset: int, n: int) -> PeerError:
    return PeerError(f"FrameState truncated: needed {n} bytes at offset {offset}, have {len(data) - offset}")


def _names(data: bytes, offset: int, count: int, what: str) -> tuple[tuple[str, ...], int]:
    """The ``count`` names of the block at ``offset`` and the offset after it."""
    end = offset + 2
    if end > len(data):
        raise _truncated(data, offset, 2)
    (n,) = _U16.unpack_from(data, offset)
    if end + n > len(data):
        raise _truncated(data, end, n)
    block = data[end:end + n]
    names = _NAMES_CACHE.get(block)
    if names is None:
        if count == 0:
            if n:
                raise PeerError(f"FrameState has {what} names but no {what}s")
            names = ()
        else:
            try:
                names = tuple(block.decode("utf-8").split("\n"))
            except UnicodeDecodeError:
                raise PeerError(f"FrameState {what} names are not UTF-8") from None
            if not all(names):
                raise PeerError(f"FrameState {what} name is empty")
        if len(_NAMES_CACHE) >= _NAMES_CACHE_MAX:
            _NAMES_CACHE.clear()
        _NAMES_CACHE[block] = names
    if len(names) != count:
        raise PeerError(f"FrameState says {count} {what}s but names {len(names)}")
    return names, end + n


def _numbers(data: bytes, offset: int, s: struct.Struct, what: str) -> tuple[tuple, int]:
    if offset + s.size > len(data):
        raise _truncated(data, offset, s.size)
    v = s.unpack_from(data, offset)
    if not all(map(math.isfinite, v)):
        raise PeerError(f"FrameState {what}: non-finite number")
    return v, offset + s.size


def decode_frame(data: bytes) -> FrameState:
    """bytes -> FrameState; raises PeerError on anything malformed.

    The node's hot path (one call per frame on each of 24 IGs): fixed-size parts
    are read with one ``unpack_from`` each and finite-checked in C
    (``all(map(math.isfinite, ...))``), and the name blocks come from a cache.
    """
    size = len(data)
    if size > MAX_ENCODED_BYTES:
        raise PeerError(f"FrameState of {size} bytes exceeds {MAX_ENCODED_BYTES}")
    if size < _HEADER.size + _CORE.size:
        raise PeerError(f"FrameState truncated: {size} bytes, header and core need {_HEADER.size + _CORE.size}")
    magic, version, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise PeerError(f"not a FrameState: magic {magic!r}, expected {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise PeerError(f"FrameState format version {version}; this build reads {FORMAT_VERSION}: "
                        "run the same domectl version on master and nodes")
    if length != size:
        raise PeerError(f"FrameState length field says {length} bytes, got {size}")
    core = _CORE.unpack_from(data, _HEADER.size)
    if not (all(map(math.isfinite, core[2:26])) and all(map(math.isfinite, core[27:30]))):
        raise PeerError(f"FrameState {core[0]}: non-finite number in the core fields")
    if not core[9] > 0.0:
        raise PeerError(f"FrameState {core[0]}: zoom {core[9]} is not a magnification (> 0)")
    o = _HEADER.size + _CORE.size
    n_layers = data[o]
    layer_names, o = _names(data, o + 1, n_layers, "layer")
    opacities, o = _numbers(data, o, _floats("f", n_layers), "layer opacity")
    if o >= size:
        raise _truncated(data, o, 1)
    n_bodies = data[o]
    body_names, o = _names(data, o + 1, n_bodies, "body")
    v, o = _numbers(data, o, _floats("d", 9 * n_bodies), "body")
    bodies = tuple(BodyView(name, v[i:i + 3], *v[i + 3:i + 9])
                   for name, i in zip(body_names, range(0, 9 * n_bodies, 9)))
    if o + 3 > size:
        raise _truncated(data, o, 3)
    try:
        language = data[o:o + 2].decode("ascii")
    except UnicodeDecodeError:
        raise PeerError("FrameState language is not ASCII") from None
    n = data[o + 2]
    o += 3
    if o + n + 1 > size:
        raise _truncated(data, o, n + 1)
    try:
        pointer = data[o:o + n].decode("utf-8")
    except UnicodeDecodeError:
        raise PeerError("FrameState pointer is not UTF-8") from None
    o += n
    n_overlays = data[o]
    o += 1
    overlays = []
    for _ in range(n_overlays):
        if o + 3 > size:
            raise _truncated(data, o, 3)
        kind = data[o]
        if kind >= len(_OVERLAY_KINDS):
            raise PeerError(f"FrameState overlay kind {kind}: unknown")
        (n,) = _U16.unpack_from(data, o + 1)
        o += 3
        if o + n > size:
            raise _truncated(data, o, n)
        try:
            content = data[o:o + n].decode("utf-8")
        except UnicodeDecodeError:
            raise PeerError("FrameState overlay content is not UTF-8") from None
        w, o = _numbers(data, o + n, _OVERLAY, f"overlay {content[:40]!r}")
        overlays.append(Overlay(kind=_OVERLAY_KINDS[kind], content=content, dome_az_deg=w[0],
                                dome_elev_deg=w[1], size_deg=w[2], opacity=w[3], rgb=w[4:7]))
    (eye_separation_m,), o = _numbers(data, o, _F64, "eye separation")
    if eye_separation_m < 0.0:
        raise PeerError(f"FrameState eye separation {eye_separation_m}: must be >= 0")
    blocks = []
    for what, s in (("sphere", _SPHERE), ("model", _MODEL), ("orbit", _ORBIT)):
        if o >= size:
            raise _truncated(data, o, 1)
        n = data[o]
        names, o = _names(data, o + 1, n, what)
        rows = []
        for name in names:
            v, o = _numbers(data, o, s, f"{what} {name!r}")
            rows.append(v)
        blocks.append((names, rows))
    spheres = tuple(SphereView(name, v[0:3], v[3], v[4], v[5:14], v[14:17]) for name, v in zip(*blocks[0]))
    models = tuple(ModelView(name, bool(v[0]), v[1:4], v[4:13], v[13], v[14]) for name, v in zip(*blocks[1]))
    orbits = tuple(OrbitView(name, v[0:3], v[3:6], v[6:9]) for name, v in zip(*blocks[2]))
    if o != size:
        raise PeerError(f"FrameState has {size - o} trailing bytes")
    flags = core[26]
    return FrameState(
        frame=core[0], deadline_ns=core[1], show_time_s=core[2], tt_jd=core[3], latitude_deg=core[4],
        longitude_deg=core[5], elevation_m=core[6], view_az_deg=core[7], view_alt_deg=core[8],
        zoom=core[9], enu_from_icrs=core[10:19], beta_icrs=core[19:22], years_since_epoch=core[22],
        sun_alt_deg=core[23], temperature_C=core[24], pressure_mbar=core[25],
        blackout=bool(flags & FLAG_BLACKOUT), refraction=bool(flags & FLAG_REFRACTION),
        layers=tuple(zip(layer_names, opacities)), bodies=bodies, language=language, pointer=pointer,
        overlays=tuple(overlays), star_brightness=core[27], star_contrast=core[28],
        limiting_mag_delta=core[29], eye_separation_m=eye_separation_m, spheres=spheres, models=models,
        orbits=orbits,
    )
