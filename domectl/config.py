"""Hall configuration: TOML files in one directory, loaded into frozen dataclasses.

A hall directory (``config/lacoupole/`` is the reference) holds:

    hall.toml        hall name and languages, site, dome, eye point, render defaults, stereo
    projectors.toml  the projectors: pose in the dome frame, resolution, lens, gamma
    cluster.toml     control computers, ports, frame timing, OSC, the image generators
    seats.toml       rows of seats and wheelchair places (one vote box each)

:func:`load_hall` validates everything once and raises :class:`ConfigError`
with ``<file>: <key.path> = <value>: <what is allowed>``. Nothing downstream
re-validates; the config object is passed down, never read from a global.
:func:`dump_hall` writes the same files back: ``load_hall(dump_hall(cfg)) == cfg``.
"""

from __future__ import annotations

import ipaddress
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w

from domectl.errors import ConfigError

LATE_FRAME_CHOICES = ("hold", "black")
FILES = ("hall.toml", "projectors.toml", "cluster.toml", "seats.toml")
LANGUAGES = ("fr", "en", "nl", "de")
EYES = ("left", "right", "mono")
LENS_KINDS = ("perspective", "fisheye")

REFERENCE_HALL = Path(__file__).resolve().parent.parent / "config" / "lacoupole"


# ----------------------------------------------------------------- records


@dataclass(frozen=True)
class Site:
    name: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float


@dataclass(frozen=True)
class Dome:
    radius_m: float
    tilt_deg: float
    springline_deg: float
    front_az_deg: float


@dataclass(frozen=True)
class RenderDefaults:
    domemaster_px: int
    limiting_mag: float


@dataclass(frozen=True)
class Stereo:
    """Omnidirectional stereo (domectl/stereo.py): the eyes' separation in the scene, the
    largest disparity the audience is asked to fuse, and where the separation starts to
    taper toward the dome's zenith (elevation in the dome frame)."""

    eye_separation_m: float = 0.064
    comfort_disparity_deg: float = 1.0
    taper_from_deg: float = 45.0


@dataclass(frozen=True)
class Lens:
    kind: str
    throw_ratio: float | None
    fov_deg: float | None
    shift: tuple[float, float]


@dataclass(frozen=True)
class Projector:
    id: str
    position_m: tuple[float, float, float]
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    resolution: tuple[int, int]
    gamma: float
    black_level: float
    lens: Lens

    @property
    def width_px(self) -> int:
        return self.resolution[0]

    @property
    def height_px(self) -> int:
        return self.resolution[1]


@dataclass(frozen=True)
class Master:
    host: str
    standby_host: str
    frame_port: int
    control_port: int
    http_port: int
    # The standby's ports: the same as the primary's on a second computer; different ones
    # let both run on one machine (tests, a laptop rehearsal).
    standby_frame_port: int = 0          # 0: frame_port
    standby_control_port: int = 0        # 0: control_port

    @property
    def endpoints(self) -> tuple[str, str]:
        """The primary's (frame, control) endpoints, as nodes connect to them."""
        host, frame_port, control_port = self.sockets()
        return f"tcp://{host}:{frame_port}", f"tcp://{host}:{control_port}"

    def sockets(self, standby: bool = False) -> tuple[str, int, int]:
        """(host, frame port, control port) of the primary, or of the standby."""
        if standby:
            return (self.standby_host, self.standby_frame_port or self.frame_port,
                    self.standby_control_port or self.control_port)
        return self.host, self.frame_port, self.control_port

    @property
    def standby_endpoints(self) -> tuple[str, str]:
        host, frame_port, control_port = self.sockets(standby=True)
        return f"tcp://{host}:{frame_port}", f"tcp://{host}:{control_port}"

    @property
    def has_standby(self) -> bool:
        return self.standby_endpoints != self.endpoints


@dataclass(frozen=True)
class Timing:
    fps: float
    swap_deadline_ms: float
    # What a node's projector shows for a frame it missed (late, or just rejoining):
    # "hold" its last frame (the sky barely moves in 1/60 s) or "black" (a hall that would
    # rather lose a slice for a frame than show a stale one, e.g. during fast fly-throughs).
    late_frame: str = "hold"


@dataclass(frozen=True)
class Osc:
    vote_port: int
    control_port: int
    allowed_networks: tuple[str, ...]
    audio_host: str
    audio_port: int
    timecode_port: int = 0               # 0: free-running; else chase /domectl/timecode on this port


@dataclass(frozen=True)
class IG:
    id: int
    projector: str
    eye: str
    host: str

    @property
    def name(self) -> str:
        return f"ig{self.id:02d}"


@dataclass(frozen=True)
class SeatRow:
    name: str
    count: int


@dataclass(frozen=True)
class Seats:
    rows: tuple[SeatRow, ...]
    wheelchair: int

    @property
    def total(self) -> int:
        return sum(r.count for r in self.rows) + self.wheelchair

    def seat_ids(self) -> range:
        """Vote-box seat numbers: 1..total (wheelchair places last)."""
        return range(1, self.total + 1)


@dataclass(frozen=True)
class Hall:
    name: str
    languages: tuple[str, ...]
    default_language: str
    site: Site
    dome: Dome
    eye_m: tuple[float, float, float]
    render: RenderDefaults
    projectors: tuple[Projector, ...]
    master: Master
    timing: Timing
    osc: Osc
    igs: tuple[IG, ...]
    seats: Seats
    # The horizon silhouette: altitude (deg) at azimuths evenly spaced from north through
    # east; empty: a flat horizon.
    landscape_alt_deg: tuple[float, ...] = ()
    stereo: Stereo = Stereo()
    # Where it was loaded from; not part of the hall's identity.
    root: Path | None = field(default=None, compare=False)

    def projector(self, projector_id: str) -> Projector:
        for p in self.projectors:
            if p.id == projector_id:
                return p
        raise KeyError(projector_id)

    def ig(self, ig_id: int) -> IG:
        for ig in self.igs:
            if ig.id == ig_id:
                return ig
        allowed = f"{self.igs[0].id}..{self.igs[-1].id}" if self.igs else "none configured"
        raise ConfigError(f"cluster.toml: no [[ig]] with id = {ig_id}: this hall has IGs {allowed}")


# ---------------------------------------------------------------- checking


class _Table:
    """A TOML table with the file and key path it came from, for error messages."""

    def __init__(self, file: str, path: str, data: Any):
        self.file = file
        self.path = path
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: {path or '(top level)'}: must be a table")
        self.data = data

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, value: Any, allowed: str) -> ConfigError:
        shown = value if not isinstance(value, str) else repr(value)
        return ConfigError(f"{self.file}: {self._key(key)} = {shown}: {allowed}")

    def missing(self, key: str, allowed: str) -> ConfigError:
        return ConfigError(f"{self.file}: {self._key(key)} is missing: {allowed}")

    def table(self, key: str) -> "_Table":
        if key not in self.data:
            raise ConfigError(f"{self.file}: [{self._key(key)}] is missing")
        return _Table(self.file, self._key(key), self.data[key])

    def tables(self, key: str) -> list["_Table"]:
        items = self.data.get(key)
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{self.file}: [[{self._key(key)}]] is missing: at least one is needed")
        return [_Table(self.file, f"{self._key(key)}[{i}]", item) for i, item in enumerate(items)]

    def number(self, key: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, default: float | None = None) -> float:
        allowed = _range_text(low, high, low_open)
        if key not in self.data:
            if default is not None:
                return default
            raise self.missing(key, f"a number {allowed}".strip())
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, value, f"must be a number {allowed}".strip())
        if (low is not None and (value <= low if low_open else value < low)) or (
                high is not None and value > high):
            raise self.fail(key, value, f"must be {allowed}")
        return float(value)

    def integer(self, key: str, *, low: int | None = None, high: int | None = None,
                default: int | None = None) -> int:
        allowed = _range_text(low, high, False)
        if key not in self.data:
            if default is not None:
                return default
            raise self.missing(key, f"an integer {allowed}".strip())
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, value, f"must be an integer {allowed}".strip())
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(key, value, f"must be {allowed}")
        return value

    def string(self, key: str, *, choices: tuple[str, ...] | None = None,
               default: str | None = None) -> str:
        if key not in self.data:
            if default is not None:
                return default
            raise self.missing(key, "a string" + (f", one of {', '.join(choices)}" if choices else ""))
        value = self.data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, value, "must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.fail(key, value, f"must be one of {', '.join(choices)}")
        return value

    def vector(self, key: str, length: int, *, kind: Callable = float, check: Callable | None = None,
               allowed: str = "") -> tuple:
        what = f"a list of {length} {'integers' if kind is int else 'numbers'}"
        if key not in self.data:
            raise self.missing(key, what)
        value = self.data[key]
        ok = isinstance(value, list) and len(value) == length and all(
            not isinstance(x, bool) and isinstance(x, (int,) if kind is int else (int, float))
            and math.isfinite(x) for x in value)
        if not ok:
            raise self.fail(key, value, f"must be {what}")
        out = tuple(kind(x) for x in value)
        if check is not None and not check(out):
            raise self.fail(key, value, allowed)
        return out

    def strings(self, key: str, *, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(x, str) for x in value):
            raise self.fail(key, value, "must be a non-empty list of strings") if key in self.data \
                else self.missing(key, "a non-empty list of strings")
        if choices is not None:
            bad = [x for x in value if x not in choices]
            if bad:
                raise self.fail(key, value, f"{bad[0]!r} is not one of {', '.join(choices)}")
        return tuple(value)


def _range_text(low, high, low_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"<= {high:g}"
    return ""


def _read(root: Path, name: str) -> _Table:
    path = root / name
    if not path.is_file():
        raise ConfigError(f"{path}: missing: a hall directory needs {', '.join(FILES)}")
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: {e}") from None
    return _Table(name, "", data)


# ------------------------------------------------------------------ loading


def load_hall(root: str | Path | None = None) -> Hall:
    """Load and validate a hall directory; ``None`` loads the embedded reference hall."""
    root = Path(root) if root is not None else REFERENCE_HALL
    if not root.is_dir():
        raise ConfigError(f"{root}: not a directory: pass a hall directory such as config/lacoupole")
    hall_t = _read(root, "hall.toml")
    proj_t = _read(root, "projectors.toml")
    cluster_t = _read(root, "cluster.toml")
    seats_t = _read(root, "seats.toml")

    h = hall_t.table("hall")
    languages = h.strings("languages", choices=LANGUAGES)
    default_language = h.string("default_language", choices=languages)

    s = hall_t.table("site")
    site = Site(
        name=s.string("name"),
        latitude_deg=s.number("latitude_deg", low=-90, high=90),
        longitude_deg=s.number("longitude_deg", low=-180, high=180),
        elevation_m=s.number("elevation_m", low=-500, high=9000),
    )
    d = hall_t.table("dome")
    dome = Dome(
        radius_m=d.number("radius_m", low=0, high=100, low_open=True),
        tilt_deg=d.number("tilt_deg", low=0, high=30),
        springline_deg=d.number("springline_deg", low=-30, high=30),
        front_az_deg=d.number("front_az_deg", low=0, high=360),
    )
    e = hall_t.table("eye")
    eye_m = e.vector("position_m", 3, check=lambda v: math.dist(v, (0, 0, 0)) < dome.radius_m,
                     allowed=f"must lie inside the dome (distance from the centre < radius_m = {dome.radius_m:g})")
    r = hall_t.table("render")
    render = RenderDefaults(
        domemaster_px=r.integer("domemaster_px", low=256, high=16384),
        limiting_mag=r.number("limiting_mag", low=-2, high=12),
    )

    stereo = Stereo()
    if "stereo" in hall_t.data:
        st = hall_t.table("stereo")
        stereo = Stereo(
            eye_separation_m=st.number("eye_separation_m", low=0, high=1e12, default=Stereo.eye_separation_m),
            comfort_disparity_deg=st.number("comfort_disparity_deg", low=0, high=10, low_open=True,
                                            default=Stereo.comfort_disparity_deg),
            taper_from_deg=st.number("taper_from_deg", low=0, high=90, default=Stereo.taper_from_deg),
        )
    landscape_alt_deg: tuple[float, ...] = ()
    if "landscape" in hall_t.data:
        lt = hall_t.table("landscape")
        value = lt.data.get("horizon_alt_deg")
        allowed = ("must be a list of 2 to 3600 altitudes in [-10, 60] degrees, evenly spaced in "
                   "azimuth from north through east")
        if not isinstance(value, list) or not 2 <= len(value) <= 3600:
            raise lt.fail("horizon_alt_deg", value, allowed)
        for i, x in enumerate(value):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not (math.isfinite(x) and -10 <= x <= 60):
                raise ConfigError(f"{lt.file}: {lt._key('horizon_alt_deg')}[{i}] = {x!r} (azimuth "
                                  f"{360.0 * i / len(value):g} deg): {allowed}")
        landscape_alt_deg = tuple(float(x) for x in value)

    projectors = tuple(_projector(t, dome) for t in proj_t.tables("projector"))
    ids = [p.id for p in projectors]
    for i, pid in enumerate(ids):
        if ids.index(pid) != i:
            raise ConfigError(f"projectors.toml: projector[{i}].id = {pid!r}: duplicate: "
                              f"projector[{ids.index(pid)}] has the same id")

    m = cluster_t.table("master")
    master = Master(
        host=m.string("host"),
        standby_host=m.string("standby_host"),
        frame_port=m.integer("frame_port", low=1, high=65535),
        control_port=m.integer("control_port", low=1, high=65535),
        http_port=m.integer("http_port", low=1, high=65535),
        standby_frame_port=m.integer("standby_frame_port", low=0, high=65535, default=0),
        standby_control_port=m.integer("standby_control_port", low=0, high=65535, default=0),
    )
    ports = {"frame_port": master.frame_port, "control_port": master.control_port,
             "http_port": master.http_port}
    if len(set(ports.values())) != len(ports):
        raise ConfigError(f"cluster.toml: master: ports {ports} must all differ")
    t = cluster_t.table("timing")
    fps = t.number("fps", low=1, high=240)
    timing = Timing(fps=fps, swap_deadline_ms=t.number("swap_deadline_ms", low=0, low_open=True, high=10000),
                    late_frame=t.string("late_frame", choices=LATE_FRAME_CHOICES, default="hold"))
    o = cluster_t.table("osc")
    networks = o.strings("allowed_networks")
    for n in networks:
        try:
            ipaddress.ip_network(n, strict=False)
        except ValueError:
            raise o.fail("allowed_networks", n, "each must be a network such as 127.0.0.0/8") from None
    osc = Osc(
        vote_port=o.integer("vote_port", low=1, high=65535),
        control_port=o.integer("control_port", low=1, high=65535),
        allowed_networks=networks,
        audio_host=o.string("audio_host"),
        audio_port=o.integer("audio_port", low=1, high=65535),
        timecode_port=o.integer("timecode_port", low=0, high=65535, default=0),
    )
    igs = []
    for it in cluster_t.tables("ig"):
        ig = IG(
            id=it.integer("id", low=1, high=999),
            projector=it.string("projector", choices=tuple(ids)),
            eye=it.string("eye", choices=EYES),
            host=it.string("host"),
        )
        if any(g.id == ig.id for g in igs):
            raise it.fail("id", ig.id, "duplicate: each IG needs its own id")
        if any(g.projector == ig.projector and g.eye == ig.eye for g in igs):
            raise it.fail("eye", ig.eye, f"projector {ig.projector!r} already has an IG for this eye")
        igs.append(ig)

    st = seats_t.table("seats")
    rows = []
    for rt in st.tables("row"):
        rows.append(SeatRow(name=rt.string("name"), count=rt.integer("count", low=1, high=200)))
    seats = Seats(rows=tuple(rows), wheelchair=st.integer("wheelchair", low=0, high=200))

    return Hall(
        name=h.string("name"), languages=languages, default_language=default_language,
        site=site, dome=dome, eye_m=eye_m, render=render, projectors=projectors,
        master=master, timing=timing, osc=osc, igs=tuple(sorted(igs, key=lambda g: g.id)),
        seats=seats, landscape_alt_deg=landscape_alt_deg, stereo=stereo, root=root,
    )


def _projector(t: _Table, dome: Dome) -> Projector:
    lt = t.table("lens")
    kind = lt.string("kind", choices=LENS_KINDS)
    if kind == "perspective":
        throw_ratio = lt.number("throw_ratio", low=0, high=20, low_open=True)
        fov_deg = None
    else:
        throw_ratio = None
        fov_deg = lt.number("fov_deg", low=0, high=360, low_open=True)
    lens = Lens(kind=kind, throw_ratio=throw_ratio, fov_deg=fov_deg,
                shift=lt.vector("shift", 2, check=lambda v: all(abs(x) <= 2 for x in v),
                                allowed="each lens shift must be within [-2, 2] image sizes"))
    return Projector(
        id=t.string("id"),
        position_m=t.vector("position_m", 3, check=lambda v: math.dist(v, (0, 0, 0)) < dome.radius_m,
                            allowed=f"must lie inside the dome (distance from the centre < "
                                    f"radius_m = {dome.radius_m:g})"),
        yaw_deg=t.number("yaw_deg", low=-360, high=360),
        pitch_deg=t.number("pitch_deg", low=-90, high=90),
        roll_deg=t.number("roll_deg", low=-180, high=180),
        resolution=t.vector("resolution", 2, kind=int, check=lambda v: all(16 <= x <= 16384 for x in v),
                            allowed="width and height must be in [16, 16384]"),
        gamma=t.number("gamma", low=1, high=3),
        black_level=t.number("black_level", low=0, high=0.2, default=0.0),
        lens=lens,
    )


# ------------------------------------------------------------------ dumping


def dump_hall(hall: Hall, root: str | Path) -> Path:
    """Write ``hall`` as a hall directory; :func:`load_hall` reads it back equal."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    docs = {
        "hall.toml": {
            "hall": {"name": hall.name, "languages": list(hall.languages),
                     "default_language": hall.default_language},
            "site": vars(hall.site),
            "dome": vars(hall.dome),
            "eye": {"position_m": list(hall.eye_m)},
            "render": vars(hall.render),
            "stereo": vars(hall.stereo),
            **({"landscape": {"horizon_alt_deg": list(hall.landscape_alt_deg)}} if hall.landscape_alt_deg else {}),
        },
        "projectors.toml": {"projector": [_projector_doc(p) for p in hall.projectors]},
        "cluster.toml": {
            "master": vars(hall.master),
            "timing": vars(hall.timing),
            "osc": {**vars(hall.osc), "allowed_networks": list(hall.osc.allowed_networks)},
            "ig": [vars(g) for g in hall.igs],
        },
        "seats.toml": {"seats": {"wheelchair": hall.seats.wheelchair,
                                 "row": [vars(r) for r in hall.seats.rows]}},
    }
    for name, doc in docs.items():
        (root / name).write_text(tomli_w.dumps(doc))
    return root


def _projector_doc(p: Projector) -> dict:
    lens: dict[str, Any] = {"kind": p.lens.kind, "shift": list(p.lens.shift)}
    if p.lens.throw_ratio is not None:
        lens["throw_ratio"] = p.lens.throw_ratio
    if p.lens.fov_deg is not None:
        lens["fov_deg"] = p.lens.fov_deg
    return {"id": p.id, "position_m": list(p.position_m), "yaw_deg": p.yaw_deg,
            "pitch_deg": p.pitch_deg, "roll_deg": p.roll_deg, "resolution": list(p.resolution),
            "gamma": p.gamma, "black_level": p.black_level, "lens": lens}
