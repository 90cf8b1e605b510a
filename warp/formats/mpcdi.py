"""MPCDI 2.0 (VESA Multiple Projection Common Data Interchange): import and export.

An ``.mpcdi`` file is a zip archive holding one XML document (usually
``mpcdi.xml``; any single ``*.xml`` is accepted, e.g. ``mpcdi1_.xml``) and the
files it names::

    <MPCDI profile="2d|3d|a3d|sl" geometry="1" version="2.0" date="...">
      <display>
        <buffer id xResolution yResolution>        the picture the content fills
          <region id x y xSize ySize xResolution yResolution>   one per projector
            <frustum> yaw pitch roll leftAngle rightAngle upAngle downAngle
              (degrees; 3d profile) </frustum>
      <files>
        <fileset region="ID">
          <geometryWarpFile> <path> <interpolation>linear
          <alphaMap> <path> <componentDepth> <bitDepth> <gammaEmbedded>
          <betaMap> <path> <componentDepth> <bitDepth>

Conventions (as read by the MPCDI reference library and MPACS viewer):

* A region's ``x, y, xSize, ySize`` place it in its buffer in normalised
  coordinates, (0, 0) the buffer's **top-left**, y **down**; its
  ``xResolution x yResolution`` is the projector's.
* The geometry warp file is a "PF" PFM. Sample (row i, column j), texel
  centres over the projector image (row 0 = the top, see
  :func:`warp.formats.pfm.texel_grid`), holds the normalised coordinate,
  within the region (top-left origin, y down), of the content that projector
  pixel shows. PFM rows are stored bottom first (:mod:`warp.formats.pfm`).
  Real files also hold displacements from the sample's own position (SGCT's
  fixtures); :class:`MpcdiRegion` keeps the values as stored plus the
  convention that reads them.
* The alpha map is the linear-light blend weight, gamma-encoded:
  ``linear = (code / max) ** gammaEmbedded``. The beta map is the linear
  black-level uplift ``code / max``. The output a projector shows is
  ``beta + (1 - beta) * alpha * content`` in linear light.

Attribute names are matched case-insensitively (real files spell
``xSize``/``xsize``, ``xResolution``/``Xresolution``); a UTF-8 byte-order
mark is skipped. domectl writes ``xSize``/``ySize``/``xResolution``
(SGCT's spelling) and records each warp's convention in an
``<extension Name="domectl">`` so that its own files never need a guess.

``decode_mpcdi(encode_mpcdi(m)) == m`` exactly: float32 warp values and
8/16-bit maps bit for bit, numbers through ``repr``.
"""

from __future__ import annotations

import io
import math
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import numpy as np

from warp.formats._io import MAX_FILE_BYTES, FormatError, atomic_write_bytes, read_bytes
from warp.formats.pfm import (
    WARP_CONVENTIONS,
    PfmWarp,
    decode_pfm,
    encode_pfm,
    warp_from_values,
    warp_values_image,
)
from warp.formats.png import decode_png, encode_png

MPCDI_VERSION = "2.0"
PROFILES = ("2d", "3d", "a3d", "sl")
INTERPOLATIONS = ("linear", "cubic")
# The extension domectl writes to record what the standard leaves open.
EXTENSION_NAME = "domectl"

_UTF8_BOM = b"\xef\xbb\xbf"
_FRUSTUM_FIELDS = (
    ("yaw_deg", "yaw"), ("pitch_deg", "pitch"), ("roll_deg", "roll"),
    ("left_deg", "leftAngle"), ("right_deg", "rightAngle"), ("up_deg", "upAngle"), ("down_deg", "downAngle"),
)


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Bitwise equality (dtype, shape and bytes: NaN equals the same NaN)."""
    if a is None or b is None:
        return a is None and b is None
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@dataclass(frozen=True)
class MpcdiFrustum:
    """A region's view (3d profile), degrees: orientation and the four half-angles (left/down usually negative)."""

    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    left_deg: float
    right_deg: float
    up_deg: float
    down_deg: float


@dataclass(frozen=True, eq=False)
class MpcdiRegion:
    """One region (one projector) with its files.

    ``x, y, x_size, y_size``: placement in the buffer, normalised, top-left
    origin, y down. ``warp`` (H, W, 2) float32: the geometry warp's first two
    channels as stored, top row first (NaN = no warp there), read with
    ``warp_convention``. ``alpha``/``beta``: (h, w) uint8 or uint16 codes
    (or (h, w, 3) uint8), top row first. ``alpha_gamma``: gammaEmbedded.
    ``*_path``: the file names inside the archive (chosen on export when
    None; not part of equality).
    """

    id: str
    x_resolution_px: int
    y_resolution_px: int
    x: float = 0.0
    y: float = 0.0
    x_size: float = 1.0
    y_size: float = 1.0
    warp: np.ndarray | None = None
    warp_convention: str = "absolute"
    warp_interpolation: str = "linear"
    alpha: np.ndarray | None = None
    alpha_gamma: float = 1.0
    beta: np.ndarray | None = None
    frustum: MpcdiFrustum | None = None
    warp_path: str | None = field(default=None, compare=False)
    alpha_path: str | None = field(default=None, compare=False)
    beta_path: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        who = f"MPCDI region {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise FormatError(f"MPCDI region id {self.id!r}: must be a non-empty string")
        for name in ("x_resolution_px", "y_resolution_px"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise FormatError(f"{who}: {name} = {v!r}: must be a positive integer (pixels)")
            object.__setattr__(self, name, int(v))
        for name in ("x", "y", "x_size", "y_size", "alpha_gamma"):
            v = float(getattr(self, name))
            if not math.isfinite(v):
                raise FormatError(f"{who}: {name} = {v!r}: must be finite")
            object.__setattr__(self, name, v)
        if self.x_size <= 0 or self.y_size <= 0:
            raise FormatError(f"{who}: size {self.x_size} x {self.y_size}: must be positive (fractions of the buffer)")
        if self.alpha_gamma <= 0:
            raise FormatError(f"{who}: alpha_gamma = {self.alpha_gamma}: must be > 0 (gammaEmbedded)")
        if self.warp is not None:
            w = np.asarray(self.warp)
            if w.dtype != np.float32 or w.ndim != 3 or w.shape[2] != 2 or min(w.shape[:2]) < 1:
                raise FormatError(f"{who}: warp {w.shape} {w.dtype}: must be (H, W, 2) float32")
            object.__setattr__(self, "warp", w)
        if self.warp_convention not in WARP_CONVENTIONS:
            raise FormatError(f"{who}: warp_convention {self.warp_convention!r}: must be one of {WARP_CONVENTIONS}")
        if self.warp_interpolation not in INTERPOLATIONS:
            raise FormatError(f"{who}: warp_interpolation {self.warp_interpolation!r}: must be one of {INTERPOLATIONS}")
        for name in ("alpha", "beta"):
            m = getattr(self, name)
            if m is None:
                continue
            m = np.asarray(m)
            grey = m.ndim == 2 and m.dtype in (np.uint8, np.uint16)
            rgb = m.ndim == 3 and m.shape[2] == 3 and m.dtype == np.uint8
            if not (grey or rgb) or min(m.shape[:2]) < 1:
                raise FormatError(
                    f"{who}: {name} map {m.shape} {m.dtype}: must be (h, w) uint8/uint16 or (h, w, 3) uint8"
                )
            object.__setattr__(self, name, m)

    @property
    def region_uv(self) -> tuple[float, float, float, float]:
        """``(u0, v0, u1, v1)``: the region in a buffer's texture coordinates with v up (domectl's domemaster uv)."""
        return (self.x, 1.0 - self.y - self.y_size, self.x + self.x_size, 1.0 - self.y)

    def absolute_warp(self) -> PfmWarp:
        """The warp as absolute region coordinates (see :class:`warp.formats.pfm.PfmWarp`)."""
        if self.warp is None:
            raise FormatError(f"MPCDI region {self.id!r} has no geometry warp file")
        return warp_from_values(self.warp, self.warp_convention, f"region {self.id!r} warp")

    def alpha_linear(self) -> np.ndarray | None:
        """Linear-light blend weights, float32, same shape as ``alpha``: ``(code / max) ** alpha_gamma``."""
        if self.alpha is None:
            return None
        top = np.iinfo(self.alpha.dtype).max
        return ((self.alpha.astype(np.float64) / top) ** self.alpha_gamma).astype(np.float32)

    def beta_linear(self) -> np.ndarray | None:
        """Linear black-level uplift, float32: ``code / max``."""
        if self.beta is None:
            return None
        return (self.beta.astype(np.float64) / np.iinfo(self.beta.dtype).max).astype(np.float32)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MpcdiRegion):
            return NotImplemented
        for f in fields(self):
            if not f.compare:
                continue
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not _same_array(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class MpcdiBuffer:
    """A buffer: the picture its regions share (for domectl, the domemaster)."""

    id: str
    x_resolution_px: int
    y_resolution_px: int
    regions: tuple[MpcdiRegion, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "regions", tuple(self.regions))
        for name in ("x_resolution_px", "y_resolution_px"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise FormatError(f"MPCDI buffer {self.id!r}: {name} = {v!r}: must be a positive integer (pixels)")
            object.__setattr__(self, name, int(v))


@dataclass(frozen=True)
class Mpcdi:
    """A whole MPCDI document: profile, geometry level and buffers (region ids unique across buffers).

    ``date`` ("YYYY-MM-DD HH:MM:SS") is written as the current UTC time when None.
    """

    buffers: tuple[MpcdiBuffer, ...]
    profile: str = "2d"
    geometry_level: int = 1
    version: str = MPCDI_VERSION
    date: str | None = None
    color_level: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "buffers", tuple(self.buffers))
        if self.profile not in PROFILES:
            raise FormatError(f"MPCDI profile {self.profile!r}: must be one of {', '.join(PROFILES)}")
        if isinstance(self.geometry_level, bool) or not isinstance(self.geometry_level, int) or self.geometry_level < 1:
            raise FormatError(f"MPCDI geometry level {self.geometry_level!r}: must be a positive integer")
        ids = [r.id for r in self.regions()]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise FormatError(f"MPCDI region ids {dupes} appear more than once: every region needs its own id")

    def regions(self) -> list[MpcdiRegion]:
        """Every region of every buffer, in document order."""
        return [r for b in self.buffers for r in b.regions]

    def region(self, region_id: str) -> MpcdiRegion:
        for r in self.regions():
            if r.id == region_id:
                return r
        raise KeyError(region_id)


# ------------------------------------------------------------------- export


def _num(value: float) -> str:
    return repr(float(value))


def _safe_name(region_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", region_id).strip(".") or "region"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def _map_element(parent: ET.Element, tag: str, path: str, image: np.ndarray, gamma: float | None) -> None:
    e = _sub(parent, tag)
    _sub(e, "path", path)
    _sub(e, "componentDepth", "3" if image.ndim == 3 else "1")
    _sub(e, "bitDepth", str(8 * image.dtype.itemsize))
    if gamma is not None:
        _sub(e, "gammaEmbedded", _num(gamma))


def encode_mpcdi(mpcdi: Mpcdi) -> bytes:
    """:class:`Mpcdi` -> the bytes of an ``.mpcdi`` zip (``mpcdi.xml`` + PFM warps + PNG maps)."""
    root = ET.Element("MPCDI", {"profile": mpcdi.profile, "geometry": str(mpcdi.geometry_level)})
    if mpcdi.color_level is not None:
        root.set("color", mpcdi.color_level)
    root.set("date", mpcdi.date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    root.set("version", mpcdi.version)
    display = _sub(root, "display")
    files = _sub(root, "files")
    members: dict[str, bytes] = {}
    conventions = []

    def add_member(path: str, data: bytes) -> None:
        if path in members or path.lower().endswith(".xml"):
            raise FormatError(f"MPCDI file name {path!r} is used twice (or is an .xml): give each map its own name")
        members[path] = data

    for buf in mpcdi.buffers:
        b = _sub(display, "buffer", id=buf.id, xResolution=str(buf.x_resolution_px),
                 yResolution=str(buf.y_resolution_px))
        for r in buf.regions:
            e = _sub(b, "region", id=r.id, x=_num(r.x), y=_num(r.y), xSize=_num(r.x_size), ySize=_num(r.y_size),
                     xResolution=str(r.x_resolution_px), yResolution=str(r.y_resolution_px))
            if r.frustum is not None:
                fr = _sub(e, "frustum")
                for attr, tag in _FRUSTUM_FIELDS:
                    _sub(fr, tag, _num(getattr(r.frustum, attr)))
            if r.warp is None and r.alpha is None and r.beta is None:
                continue
            fs = _sub(files, "fileset", region=r.id)
            stem = _safe_name(r.id)
            if r.warp is not None:
                path = r.warp_path or f"{stem}_warp.pfm"
                g = _sub(fs, "geometryWarpFile")
                _sub(g, "path", path)
                _sub(g, "interpolation", r.warp_interpolation)
                add_member(path, encode_pfm(warp_values_image(r.warp)))
                conventions.append((r.id, r.warp_convention))
            if r.alpha is not None:
                path = r.alpha_path or f"{stem}_alpha.png"
                _map_element(fs, "alphaMap", path, r.alpha, r.alpha_gamma)
                add_member(path, encode_png(r.alpha))
            if r.beta is not None:
                path = r.beta_path or f"{stem}_beta.png"
                _map_element(fs, "betaMap", path, r.beta, None)
                add_member(path, encode_png(r.beta))
    if conventions:
        ext_set = _sub(root, "extensionSet")
        ext = _sub(ext_set, "extension", Name=EXTENSION_NAME, hasExternalFiles="false")
        for region_id, convention in conventions:
            _sub(ext, "warpConvention", convention, region=region_id)
    ET.indent(root)
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    out = io.BytesIO()
    # Level 1: float warp data shrinks by a third at any level (measured: 1.05 MB at 1 vs
    # 1.04 MB at 6 for a 512 x 270 map), and level 1 is three times faster.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("mpcdi.xml", xml)
        for path, data in members.items():
            z.writestr(path, data)
    return out.getvalue()


def write_mpcdi(path: str | os.PathLike, mpcdi: Mpcdi) -> Path:
    """Write an ``.mpcdi`` file atomically (see :func:`encode_mpcdi`)."""
    return atomic_write_bytes(path, encode_mpcdi(mpcdi))


# ------------------------------------------------------------------- import


def _local(tag: str) -> str:
    """Element name without a namespace, lower case (real files vary the case)."""
    return tag.rsplit("}", 1)[-1].lower()


def _children(elem: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in elem if _local(c.tag) == name.lower()]


def _child(elem: ET.Element, name: str) -> ET.Element | None:
    found = _children(elem, name)
    return found[0] if found else None


def _attr(elem: ET.Element, name: str) -> str | None:
    """An attribute by case-insensitive name: ``xSize`` finds ``xsize`` and ``XSize``."""
    want = name.lower()
    for key, value in elem.attrib.items():
        if _local(key) == want:
            return value
    return None


class _Reader:
    """Parses one archive; ``where`` prefixes every error with the archive and XML member."""

    def __init__(self, data: bytes, name: str, warp_convention: str):
        if warp_convention not in WARP_CONVENTIONS + ("guess",):
            raise FormatError(f"warp_convention {warp_convention!r}: must be 'absolute', 'displacement' or 'guess'")
        self.name = name
        self.warp_convention = warp_convention
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise FormatError(f"{name}: not an MPCDI archive (not a zip file)") from None
        self.members = {info.filename.replace("\\", "/"): info for info in self.zip.infolist() if not info.is_dir()}
        self.where = name

    def member(self, path: str, what: str) -> bytes:
        key = path.replace("\\", "/")
        key = key.removeprefix("./")
        info = self.members.get(key)
        if info is None:
            # Some writers put files in a folder or change the case: match the base name.
            base = PurePosixPath(key).name.lower()
            hits = [i for n, i in self.members.items() if PurePosixPath(n).name.lower() == base]
            info = hits[0] if len(hits) == 1 else None
        if info is None:
            raise FormatError(f"{self.where}: {what} {path!r} is not in the archive (it holds {sorted(self.members)})")
        if info.file_size > MAX_FILE_BYTES:
            raise FormatError(f"{self.name}:{info.filename}: {info.file_size} bytes uncompressed is too large")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise FormatError(f"{self.name}:{info.filename}: cannot be extracted: {e}") from None

    def xml_member(self) -> tuple[str, bytes]:
        xmls = [n for n in self.members if n.lower().endswith(".xml")]
        if not xmls:
            raise FormatError(f"{self.name}: no .xml document in the archive (it holds {sorted(self.members)})")
        if len(xmls) > 1:
            preferred = [n for n in xmls if PurePosixPath(n).name.lower() == "mpcdi.xml"]
            if len(preferred) != 1:
                raise FormatError(f"{self.name}: several .xml documents {sorted(xmls)}: expected one (mpcdi.xml)")
            xmls = preferred
        return xmls[0], self.member(xmls[0], "XML document")

    def _convert(self, text: str, kind, what: str):
        """``text`` as an int or a finite float, or :class:`FormatError` naming ``what``."""
        try:
            value = kind(text.strip())
        except ValueError:
            raise FormatError(f"{self.where}: {what}: must be {'an integer' if kind is int else 'a number'}") from None
        if kind is float and not math.isfinite(value):
            raise FormatError(f"{self.where}: {what}: must be finite")
        return value

    def number(self, elem: ET.Element, attr: str, context: str, kind=float, default=None):
        """A numeric attribute (name matched case-insensitively); ``default`` if absent, else an error."""
        text = _attr(elem, attr)
        if text is None:
            if default is not None:
                return default
            raise FormatError(f"{self.where}: {context} has no {attr} attribute")
        return self._convert(text, kind, f"{context} {attr} = {text!r}")

    def text_number(self, elem: ET.Element, tag: str, context: str, kind=float, default=None):
        """A child element's numeric text; ``default`` if absent or empty, else an error."""
        child = _child(elem, tag)
        text = (child.text or "").strip() if child is not None else ""
        if not text:
            if default is not None:
                return default
            raise FormatError(f"{self.where}: {context} has no <{tag}>")
        return self._convert(text, kind, f"{context} <{tag}>{text}</{tag}>")

    def parse(self) -> Mpcdi:
        xml_name, xml = self.xml_member()
        self.where = f"{self.name}:{xml_name}"
        xml = xml.removeprefix(_UTF8_BOM)
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as e:
            line, col = e.position
            reason = str(e).split(":")[0]  # "mismatched tag: line 17, column 4" -> the reason alone
            raise FormatError(f"{self.where}:{line}:{col + 1}: not well-formed XML: {reason}") from None
        if _local(root.tag) != "mpcdi":
            raise FormatError(f"{self.where}: root element <{root.tag}>: expected <MPCDI>")
        profile = (_attr(root, "profile") or "").strip().lower()
        if profile not in PROFILES:
            raise FormatError(
                f"{self.where}: <MPCDI profile={_attr(root, 'profile')!r}>: must be one of {', '.join(PROFILES)}"
            )
        geometry = self.number(root, "geometry", "<MPCDI>", int, default=1)
        version = _attr(root, "version")
        if version is None:
            raise FormatError(f"{self.where}: <MPCDI> has no version attribute (expected version=\"2.0\")")
        display = _child(root, "display")
        if display is None:
            raise FormatError(f"{self.where}: <MPCDI> has no <display> element")
        conventions = self.extension_conventions(root)
        filesets = self.filesets(root)
        buffers = []
        for b in _children(display, "buffer"):
            buffer_id = _attr(b, "id")
            if not buffer_id:
                raise FormatError(f"{self.where}: a <buffer> has no id attribute")
            context = f"<buffer id={buffer_id!r}>"
            bx = self.number(b, "xResolution", context, int)
            by = self.number(b, "yResolution", context, int)
            regions = [self.region(r, buffer_id, filesets, conventions) for r in _children(b, "region")]
            buffers.append(MpcdiBuffer(buffer_id, bx, by, tuple(regions)))
        if not buffers:
            raise FormatError(f"{self.where}: <display> holds no <buffer>")
        known = {r.id for b in buffers for r in b.regions}
        unknown = sorted(set(filesets) - known)
        if unknown:
            raise FormatError(
                f"{self.where}: <fileset region={unknown[0]!r}> names no <region>; regions are {sorted(known)}"
            )
        try:
            return Mpcdi(tuple(buffers), profile=profile, geometry_level=geometry, version=version,
                         date=_attr(root, "date"), color_level=_attr(root, "color"))
        except FormatError as e:
            raise FormatError(f"{self.where}: {e}") from None

    def extension_conventions(self, root: ET.Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for ext in root.iter():
            if _local(ext.tag) != "extension" or (_attr(ext, "name") or "") != EXTENSION_NAME:
                continue
            for c in _children(ext, "warpConvention"):
                value = (c.text or "").strip()
                if value not in WARP_CONVENTIONS:
                    raise FormatError(f"{self.where}: <warpConvention region={_attr(c, 'region')!r}>{value}: "
                                      f"must be one of {WARP_CONVENTIONS}")
                out[_attr(c, "region") or ""] = value
        return out

    def filesets(self, root: ET.Element) -> dict[str, ET.Element]:
        # The standard puts <fileset> in <files>; some writers put it at the top level.
        out: dict[str, ET.Element] = {}
        for fs in root.iter():
            if _local(fs.tag) != "fileset":
                continue
            region = _attr(fs, "region")
            if not region:
                raise FormatError(f"{self.where}: a <fileset> has no region attribute")
            if region in out:
                raise FormatError(f"{self.where}: two <fileset region={region!r}>: expected one per region")
            out[region] = fs
        return out

    def region(self, r: ET.Element, buffer_id: str, filesets, conventions) -> MpcdiRegion:
        region_id = _attr(r, "id")
        if not region_id:
            raise FormatError(f"{self.where}: a <region> of buffer {buffer_id!r} has no id attribute")
        context = f"<region id={region_id!r}>"
        kw = {
            "id": region_id,
            "x": self.number(r, "x", context),
            "y": self.number(r, "y", context),
            "x_size": self.number(r, "xSize", context),
            "y_size": self.number(r, "ySize", context),
            "x_resolution_px": self.number(r, "xResolution", context, int),
            "y_resolution_px": self.number(r, "yResolution", context, int),
        }
        fr = _child(r, "frustum")
        if fr is not None:
            kw["frustum"] = MpcdiFrustum(**{attr: self.text_number(fr, tag, f"{context} <frustum>")
                                            for attr, tag in _FRUSTUM_FIELDS})
        fs = filesets.get(region_id)
        if fs is not None:
            kw.update(self.fileset(fs, region_id, conventions))
        try:
            return MpcdiRegion(**kw)
        except FormatError as e:
            raise FormatError(f"{self.where}: {e}") from None

    def fileset(self, fs: ET.Element, region_id: str, conventions) -> dict:
        out: dict = {}
        context = f"<fileset region={region_id!r}>"
        g = _child(fs, "geometryWarpFile")
        path = _path_of(g)
        if path:
            image = decode_pfm(self.member(path, f"{context} geometryWarpFile"), f"{self.name}:{path}")
            if image.ndim != 3:
                raise FormatError(f"{self.name}:{path}: a geometry warp file must be a colour 'PF' PFM "
                                  "(x, y and an unused third channel), this one is grey 'Pf'")
            values = np.ascontiguousarray(image[..., :2])
            convention = conventions.get(region_id, self.warp_convention)
            # Validates (infinities, all-NaN) and resolves "guess".
            convention = warp_from_values(values, convention, f"{self.name}:{path}").convention
            interp_elem = _child(g, "interpolation")
            interp = ((interp_elem.text if interp_elem is not None else None) or "linear").strip().lower()
            if interp not in INTERPOLATIONS:
                raise FormatError(f"{self.where}: {context} <interpolation>{interp}: must be one of {INTERPOLATIONS}")
            out.update(warp=values, warp_convention=convention, warp_interpolation=interp, warp_path=path)
        for tag, key in (("alphaMap", "alpha"), ("betaMap", "beta")):
            m = _child(fs, tag)
            path = _path_of(m)
            if not path:
                continue
            image = decode_png(self.member(path, f"{context} {tag}"), f"{self.name}:{path}")
            depth = 3 if image.ndim == 3 else 1
            bits = 8 * image.dtype.itemsize
            if image.ndim == 3 and image.shape[2] == 4:
                raise FormatError(f"{self.name}:{path}: {tag} has an alpha channel: expected grey or RGB")
            want_depth = self.text_number(m, "componentDepth", f"{context} <{tag}>", int, default=depth)
            want_bits = self.text_number(m, "bitDepth", f"{context} <{tag}>", int, default=bits)
            if (want_depth, want_bits) != (depth, bits):
                raise FormatError(
                    f"{self.where}: {context} <{tag}> says componentDepth {want_depth}, bitDepth {want_bits}, "
                    f"but {path} holds {depth} component(s) of {bits} bits"
                )
            out[key] = image
            out[f"{key}_path"] = path
            if key == "alpha":
                out["alpha_gamma"] = self.text_number(m, "gammaEmbedded", f"{context} <{tag}>", float, default=1.0)
        return out


def _path_of(elem: ET.Element | None) -> str | None:
    if elem is None:
        return None
    p = _child(elem, "path")
    text = (p.text or "").strip() if p is not None else ""
    return text or None


def decode_mpcdi(data: bytes, name: str = "<mpcdi>", *, warp_convention: str = "guess") -> Mpcdi:
    """The bytes of an ``.mpcdi`` zip -> :class:`Mpcdi`.

    ``warp_convention``: how to read geometry warp values where the file does
    not say (domectl's extension does): "absolute" (the standard),
    "displacement" (SGCT's meshes) or "guess"
    (:func:`warp.formats.pfm.guess_warp_convention`). Errors name the archive,
    the member and the element.
    """
    return _Reader(data, name, warp_convention).parse()


def read_mpcdi(path: str | os.PathLike, *, warp_convention: str = "guess") -> Mpcdi:
    """Read an ``.mpcdi`` file (see :func:`decode_mpcdi`)."""
    return decode_mpcdi(read_bytes(path), str(path), warp_convention=warp_convention)
