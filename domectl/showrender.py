"""``domectl show render``: a show, offline, as numbered domemaster PNGs, a manifest and subtitles.

    domectl show render FILE --out DIR [--config C] [--size PX] [--fps F] [--from T] [--to T]
                        [--poll ID=KEY ...] [--language L] [--start ISO] [--eye left|right]
                        [--refraction] [--restart]

**The same frame as live.** The frame at show time *t* comes from the code the
live master runs: a :class:`~domectl.master.Master` built as ``domectl master``
builds it (same Scene, a :class:`~domectl.ephemeris.CachedEphemeris`; no link,
no IGs) turns ``Player.scene_at(t, poll results)`` into a FrameState with
:meth:`Master.show_frame_state`, the function the live master calls for every
frame of a playing show; one :class:`~render.compose.DomeRenderer`, reused for
every frame, draws it whole as ``domectl render`` draws a still (black when
the frame is blacked out, as a node shows it). Frame *k* shows
``t = from_s + k / fps``; a live master at the same fps playing from 0 shows
frame *n* at ``n / fps``, the same float for ``from_s = 0``. Holds do not
stop show time offline.

**Output** in DIR (``_left`` / ``_right`` added with ``--eye``)::

    frame_000000.png ...        frame k, k from 0 (an ffmpeg pattern: frame_%06d.png)
    manifest.json               what was rendered and what is done (below)
    subtitles.<lang>.srt/.vtt   every language of the show, times from --from

Every file is written whole or not at all (a temporary file renamed over the
target, domectl/atomic.py): a killed render never leaves half a frame.

**Resume.** The manifest lists the render's parameters and the frames done
(half-open ranges); it is rewritten at most every ``MANIFEST_EVERY_S`` while
frames finish, and at the end (also after Ctrl-C or SIGTERM, exit 130). The
same command again keeps every frame the manifest lists as done that is still
a whole PNG of the right size (every chunk's CRC checked) and renders the
rest. Different parameters are refused, naming the fields, unless
``--restart``. A show that says ``start now`` takes ``--start`` (default: now,
or the manifest's start when resuming the same show).

**Stereo** (``--eye``): that eye's picture of omnidirectional stereo
(domectl/stereo.py), as the hall's IG for that eye draws it: what lies at
infinity or on the dome (stars, planets' discs, lines, labels, overlays) is
the same for both eyes; the near things a voyage shows (lit spheres, models,
orbits) are drawn from that eye, with the frame's eye separation. Without
``--eye``, mono. Rendering the left and the right eye into the same DIR gives
the two sequences of a stereo film.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import struct
import sys
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domectl.cli import size_px_arg
from domectl.errors import DomectlError

if TYPE_CHECKING:
    import numpy as np

    from domectl.config import Hall
    from domectl.frame import FrameState
    from shows.format import Show

#: Version of the manifest's layout; a resume refuses another.
MANIFEST_FORMAT = 1
#: While frames finish, the manifest is rewritten at most this often: a render killed without
#: warning (SIGKILL, power cut) re-renders at most this long of frames; rewriting it per frame
#: would cost a file per frame for nothing.
MANIFEST_EVERY_S = 1.0
#: The progress bar on a terminal is redrawn at most this often.
BAR_REFRESH_S = 0.2
#: Without a terminal (a log, CI), one progress line this often.
PROGRESS_LINE_S = 5.0
#: PNG zlib level: Pillow's default, as ``domectl render`` writes (level 1 would be 20 % faster
#: at 1024 px on two cores, and its files 30 % larger).
PNG_COMPRESS_LEVEL = 6
#: Threads encoding and writing PNGs: Pillow's zlib runs without the GIL, so they work in parallel
#: with each other and with the next frame's drawing (2 writers: 13 -> 17 fps at 1024 px on two
#: cores with llvmpipe, benchmarks/bench_show_render.py); more where there are more cores.
PNG_WRITERS = min(4, max(2, (os.cpu_count() or 2) // 2))
#: Frames drawn but not yet written: two per writer keeps them busy ...
WRITE_AHEAD = 2 * PNG_WRITERS
#: ... within this much memory (a 16384 px frame is 768 MiB).
WRITE_AHEAD_BYTES = 2 << 30
#: Frames whose time lies this close past --to (in frames) still count: 2.0 s at 30 fps is 61 frames.
FRAME_EPSILON = 1e-6

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ShowRenderError(DomectlError, ValueError):
    """``domectl show render`` cannot run with these arguments (nothing was written)."""


# ----------------------------------------------------------------- arguments


def _fps(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fps {text!r}: not a number") from None
    if not (math.isfinite(value) and value > 0.0):
        raise argparse.ArgumentTypeError(f"--fps {text}: must be a number > 0 (frames per second of show time)")
    return value


def _start(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--start {text!r}: not an ISO 8601 time; write e.g. 2026-11-20T21:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def add_render_parser(actions) -> argparse.ArgumentParser:
    from domectl.config import LANGUAGES

    r = actions.add_parser(
        "render", help="render a show offline to numbered domemaster PNGs, a manifest and subtitles",
        description="Render FILE frame by frame, exactly as the live master plays it: numbered domemaster "
                    "PNGs (frame k at show time FROM + k / FPS), a manifest.json, and SRT and WebVTT "
                    "subtitles for every language of the show. Run the same command again to continue "
                    "an interrupted render (finished frames are kept).")
    r.add_argument("file", type=Path, metavar="FILE", help="the .show file")
    r.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall)")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    r.add_argument("--size", type=size_px_arg, default=1024, metavar="PX",
                   help="domemaster side in pixels (default: 1024)")
    r.add_argument("--fps", type=_fps, default=30.0, metavar="F",
                   help="frames per second of show time (default: 30)")
    r.add_argument("--from", dest="from_t", default=None, metavar="T",
                   help="first show time: seconds, MM:SS, HH:MM:SS.s or a label (default: 0)")
    r.add_argument("--to", dest="to_t", default=None, metavar="T",
                   help="last show time, included (default: the end of the show on this path)")
    r.add_argument("--poll", action="append", default=[], metavar="ID=KEY",
                   help="the winning option of a poll (repeatable; KEY 'none': nobody voted). "
                        "Default: nobody votes, every poll takes its default branch")
    r.add_argument("--language", choices=LANGUAGES, default=None,
                   help="language of the texts on the dome (default: the hall's)")
    r.add_argument("--start", type=_start, default=None, metavar="ISO",
                   help="for a show that says 'start now': the sim time at show time 0, UTC "
                        "(default: now; when resuming, the manifest's)")
    r.add_argument("--eye", choices=("left", "right"), default=None,
                   help="render one eye of the stereo pair (files frame_NNNNNN_left.png; default: mono)")
    r.add_argument("--refraction", action="store_true",
                   help="apply atmospheric refraction (as `domectl master --refraction`)")
    r.add_argument("--restart", action="store_true",
                   help="render from the start even if DIR holds a render with other parameters")
    return r


def parse_show_time(text: str, show: Show, what: str) -> float:
    """``--from``/``--to``: seconds, ``MM:SS(.s)``, ``HH:MM:SS(.s)`` or a label -> show seconds."""
    from shows.format import parse_clock

    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not (math.isfinite(seconds) and seconds >= 0.0):
            raise ShowRenderError(f"{what} {text}: show time must be >= 0 seconds")
        return seconds
    try:
        clock = parse_clock(text)
    except ValueError as e:
        raise ShowRenderError(f"{what} {text!r}: {e} (write seconds, MM:SS or HH:MM:SS.s)") from None
    if clock is not None:
        return clock / 1e6
    if text in show.labels():
        return show.label_time_s(text)
    from shows.format import did_you_mean

    hint = did_you_mean(text, show.labels())
    raise ShowRenderError(f"{what} {text!r}: not a show time nor a label of {show.name}"
                          + (f" ({hint})" if hint else "")
                          + f"; write seconds, MM:SS, HH:MM:SS.s or one of: {', '.join(show.labels()) or 'no labels'}")


def parse_polls(items: list[str], show: Show) -> dict[str, str | None]:
    """``--poll ID=KEY`` items -> every poll of the show -> its winning key (None: nobody voted)."""
    polls = {p.id: p for p in show.polls}
    results: dict[str, str | None] = {pid: None for pid in polls}
    given: set[str] = set()
    for item in items:
        poll_id, sep, key = item.partition("=")
        poll_id, key = poll_id.strip(), key.strip()
        if not sep or not poll_id:
            raise ShowRenderError(f"--poll {item!r}: write ID=KEY, e.g. --poll next=2")
        if poll_id not in polls:
            raise ShowRenderError(f"--poll {item!r}: {show.name} has no poll {poll_id!r}; its polls: "
                                  f"{', '.join(polls) or 'none'}")
        if poll_id in given:
            raise ShowRenderError(f"--poll {item!r}: poll {poll_id!r} given twice")
        given.add(poll_id)
        choice = None if key.lower() in ("", "none") else key
        try:
            polls[poll_id].target(choice)
        except ValueError as e:
            raise ShowRenderError(f"--poll {item!r}: {e}") from None
        results[poll_id] = choice
    return results


# ----------------------------------------------------------------- the plan


@dataclass(frozen=True)
class RenderPlan:
    """Everything one render needs, checked: frame k shows ``from_s + k / fps``."""

    show_path: Path                          # resolved
    show: Show
    sha256: str
    hall: Hall
    out_dir: Path
    size_px: int
    fps: float
    from_s: float
    to_s: float
    eye: str | None
    language: str
    refraction: bool
    start_utc: datetime                      # the sim time at show time 0
    poll_results: Mapping[str, str | None]   # every poll of the show

    @property
    def frame_count(self) -> int:
        return math.floor((self.to_s - self.from_s) * self.fps + FRAME_EPSILON) + 1

    def time_s(self, k: int) -> float:
        """Show time of frame ``k`` (exactly this expression: live and offline agree)."""
        return self.from_s + k / self.fps

    @property
    def suffix(self) -> str:
        return f"_{self.eye}" if self.eye else ""

    @property
    def pattern(self) -> str:
        return f"frame_%06d{self.suffix}.png"

    def frame_path(self, k: int) -> Path:
        return self.out_dir / (self.pattern % k)

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / f"manifest{self.suffix}.json"

    def subtitle_names(self) -> dict[str, dict[str, str]]:
        return {lang: {"srt": f"subtitles.{lang}.srt", "vtt": f"subtitles.{lang}.vtt"}
                for lang in self.show.languages}

    def params(self) -> dict[str, Any]:
        """The fields a resume must find unchanged in the manifest."""
        from domectl import __version__

        return {"domectl_version": __version__, "show_path": str(self.show_path), "show_sha256": self.sha256,
                "hall": self.hall.name, "size_px": self.size_px, "fps": self.fps, "from_s": self.from_s,
                "to_s": self.to_s, "eye": self.eye, "language": self.language, "refraction": self.refraction,
                "start_utc": _iso(self.start_utc), "poll_results": dict(self.poll_results)}


def _iso(utc: datetime) -> str:
    return utc.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _clock(seconds: float) -> str:
    minutes, s = divmod(seconds, 60.0)
    return f"{int(minutes)}:{s:06.3f}"


def plan_render(args) -> RenderPlan:
    """Check every argument (ShowRenderError, ShowError for an invalid show); writes nothing."""
    from domectl.config import load_hall
    from domectl.showrun import file_sha256
    from shows.format import load_show

    path = Path(args.file)
    if not path.is_file():
        raise ShowRenderError(f"{path}: no such show file (give the path of a .show file)")
    hall = load_hall(args.config)
    language = args.language or hall.default_language
    if language not in hall.languages:
        raise ShowRenderError(f"--language {language}: the hall {hall.name} speaks {', '.join(hall.languages)}")
    sha = file_sha256(path)
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise ShowRenderError(f"--out {out_dir}: not a directory (give a directory for the frames)")
    start = args.start
    if start is None:
        # Resuming a 'start now' show: the start the render began with, not a new now.
        old = _read_json(out_dir / f"manifest{'_' + args.eye if args.eye else ''}.json")
        if isinstance(old, dict) and old.get("show_sha256") == sha and isinstance(old.get("start_utc"), str):
            try:
                start = _start(old["start_utc"])
            except argparse.ArgumentTypeError:
                start = None
    now = datetime.now(timezone.utc).replace(microsecond=0)
    show = load_show(path, now_utc=start or now)          # ShowError: every issue
    if show.start_utc is not None:
        if args.start is not None:
            raise ShowRenderError(f"--start: {path} starts at {_iso(show.start_utc)} (its header); --start is "
                                  "only for shows that say 'start now', as the live master does")
        start = show.start_utc
    else:
        start = start or now
    results = parse_polls(args.poll, show)
    sections = show.walk(results)
    duration_s = sections[-1].cues[-1].time_s
    on_path = {s.label for s in sections}

    def show_time(text: str | None, what: str, default: float) -> float:
        if text is None:
            return default
        t = parse_show_time(text, show, what)
        if text.strip() in show.labels() and text.strip() not in on_path:
            reaching = show.results_reaching(text.strip())
            polls = " ".join(f"--poll {k}={'none' if v is None else v}" for k, v in reaching.items())
            raise ShowRenderError(f"{what} {text}: label {text.strip()!r} is on another branch than these poll "
                                  f"results take; add {polls}")
        if t > duration_s + 1e-9:
            raise ShowRenderError(f"{what} {text}: past the end of the show ({_clock(duration_s)} on this path)")
        return t

    from_s = show_time(args.from_t, "--from", 0.0)
    to_s = show_time(args.to_t, "--to", duration_s)
    if from_s > to_s:
        raise ShowRenderError(f"--from {args.from_t} ({_clock(from_s)}) is after --to "
                              f"{args.to_t if args.to_t is not None else '(the end)'} ({_clock(to_s)})")
    return RenderPlan(show_path=path.resolve(), show=show, sha256=sha, hall=hall, out_dir=out_dir,
                      size_px=int(args.size), fps=float(args.fps), from_s=from_s, to_s=to_s, eye=args.eye,
                      language=language, refraction=bool(args.refraction), start_utc=start,
                      poll_results=results)


# ----------------------------------------------------------------- frames


class ShowFrames:
    """FrameStates of one show, as the live master makes them (see the module docstring)."""

    def __init__(self, hall: Hall, show: Show, *, start_utc: datetime, poll_results: Mapping[str, object],
                 language: str | None = None, refraction: bool = False, ephemeris=None):
        from domectl.ephemeris import CachedEphemeris, Ephemeris
        from domectl.master import Master, Scene
        from shows.player import Player

        # Exactly the Scene `domectl master` starts with (domectl/cli.py, cmd_master).
        scene = Scene(start_utc=start_utc, rate=1.0, view_az_deg=hall.dome.front_az_deg,
                      language=language or hall.default_language, refraction=refraction)
        self.master = Master(hall, None, ephemeris if ephemeris is not None else CachedEphemeris(Ephemeris()),
                             scene, igs=())
        # As ShowRun.load: the master's start only for a show that says 'start now'.
        self.player = Player(show, start_utc=start_utc if show.start_utc is None else None,
                             hall_site=self.master.hall_site())
        self.poll_results = dict(poll_results)

    @classmethod
    def for_plan(cls, plan: RenderPlan, ephemeris=None) -> ShowFrames:
        return cls(plan.hall, plan.show, start_utc=plan.start_utc, poll_results=plan.poll_results,
                   language=plan.language, refraction=plan.refraction, ephemeris=ephemeris)

    def state(self, show_time_s: float, frame: int = 0) -> FrameState:
        return self.master.show_frame_state(self.player.scene_at(show_time_s, self.poll_results), frame=frame)


def make_renderer(ctx, hall: Hall, size_px: int, catalog=None):
    """One DomeRenderer for every frame of a ``size_px`` domemaster, looking as a still does."""
    from render.compose import DomeRenderer
    from render.sky import look_for_density

    if catalog is None:
        from domectl.skydata import load_stars

        catalog = load_stars()
    return DomeRenderer(ctx, catalog, look=look_for_density(hall.render.limiting_mag, size_px / 180.0))


def draw_domemaster(renderer, state: FrameState, hall: Hall, size_px: int, eye: str | None = None) -> np.ndarray:
    """The whole domemaster of ``state`` for ``eye`` ("left", "right"; None: mono) as (H, W, 3)
    uint8, top row first; black when the frame is blacked out (as every node shows it). The array
    is the renderer's buffer: copy it to keep it."""
    import numpy as np

    from domectl.pipeline import render_frame
    from domectl.stereo import EYE_SIGN

    if state.blackout:
        return np.zeros((size_px, size_px, 3), np.uint8)
    render_frame(renderer, state, hall, (0.0, 0.0, 1.0, 1.0), (size_px, size_px), EYE_SIGN[eye or "mono"])
    return renderer.read_rgb()


def encode_png(rgb: np.ndarray) -> bytes:
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG",
                                                                      compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def write_frame(path: Path, rgb: np.ndarray) -> None:
    """Encode and write one frame whole (temporary file + rename; no fsync per frame: a frame lost
    to a power cut is found by :func:`png_ok` and rendered again)."""
    from domectl.atomic import atomic_write_bytes

    atomic_write_bytes(path, encode_png(rgb), durable=False)


def png_ok(path: Path, size_px: int) -> bool:
    """A whole 8-bit RGB PNG of ``size_px`` square: signature, IHDR, every chunk's CRC, IEND last.

    Checked by hand (not Pillow) so a 16384 px frame is not refused as a decompression bomb."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    if not data.startswith(_PNG_SIGNATURE):
        return False
    pos, first = len(_PNG_SIGNATURE), True
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return False
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            return False
        if first:
            if kind != b"IHDR" or length != 13:
                return False
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            if (width, height, depth, color) != (size_px, size_px, 8, 2):
                return False
            first = False
        if kind == b"IEND":
            return end == len(data)
        pos = end
    return False


# ----------------------------------------------------------------- manifest


def done_ranges(done) -> list[list[int]]:
    """Frame numbers -> sorted half-open ranges ``[[start, stop], ...]``."""
    out: list[list[int]] = []
    for k in sorted(set(done)):
        if out and out[-1][1] == k:
            out[-1][1] = k + 1
        else:
            out.append([k, k + 1])
    return out


def frames_in(ranges) -> set[int]:
    """Half-open ranges -> the frame numbers (malformed ones ignored)."""
    out: set[int] = set()
    for r in ranges if isinstance(ranges, list) else ():
        if (isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r) and 0 <= r[0] <= r[1]):
            out.update(range(r[0], r[1]))
    return out


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return e


def build_manifest(plan: RenderPlan, done, *, subtitles: Mapping[str, Mapping[str, str]]) -> dict:
    """The manifest: parameters (:meth:`RenderPlan.params`), what the path is, and what is done."""
    labels = []
    for s in plan.show.walk(plan.poll_results):
        if not s.label:
            continue
        t = s.time_us / 1e6
        k = max(0, math.ceil((t - plan.from_s) * plan.fps - FRAME_EPSILON))
        labels.append({"label": s.label, "show_time_s": t,
                       "frame": k if plan.from_s <= t <= plan.to_s and k < plan.frame_count else None})
    done = set(done)
    return {
        "format": MANIFEST_FORMAT,
        **plan.params(),
        "title": plan.show.title,
        "frame_count": plan.frame_count,
        "frame_pattern": plan.pattern,
        "frame_time": "show_time_s = from_s + k / fps",
        "stereo": f"omnidirectional stereo, the {plan.eye} eye" if plan.eye else None,
        "labels": labels,
        "subtitles": {lang: dict(files) for lang, files in subtitles.items()},
        "done": done_ranges(done),
        "done_count": len(done),
        "complete": len(done) == plan.frame_count,
        "updated_utc": _iso(datetime.now(timezone.utc).replace(microsecond=0)),
    }


def write_manifest(path: Path, manifest: Mapping, *, durable: bool) -> None:
    from domectl.atomic import atomic_write_bytes

    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def parameter_changes(old: Mapping, new: Mapping) -> list[str]:
    """``field: old -> new`` for every parameter that differs."""
    return [f"{key}: {old.get(key)!r} -> {value!r}" for key, value in new.items() if old.get(key) != value]


# ----------------------------------------------------------------- subtitles


def clipped_subtitles(entries, from_s: float, to_s: float) -> list[tuple[float, float, str]]:
    """Entries overlapping [from_s, to_s], clipped to it, with times relative to ``from_s``."""
    out = []
    for start_s, end_s, text in entries:
        a, b = max(start_s, from_s), min(end_s, to_s)
        if b > a:
            out.append((a - from_s, b - from_s, text))
    return out


def write_subtitle_files(plan: RenderPlan) -> dict[str, dict[str, str]]:
    """SRT and WebVTT of the rendered stretch in every language of the show (written whole)."""
    from shows.player import subtitles, write_subtitles

    names = plan.subtitle_names()
    for lang, files in names.items():
        entries = clipped_subtitles(subtitles(plan.show, plan.poll_results, lang), plan.from_s, plan.to_s)
        write_subtitles(plan.out_dir / files["srt"], entries)
        write_subtitles(plan.out_dir / files["vtt"], entries)
    return names


# ----------------------------------------------------------------- progress


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Frames done of total, frames per second and ETA on ``stream``: a bar redrawn in place on a
    terminal, else a line every ``PROGRESS_LINE_S``. The clock is injected (tests)."""

    WIDTH = 30

    def __init__(self, total: int, kept: int, stream=None, *, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.kept = total, kept
        self.stream = stream if stream is not None else sys.stderr
        self.tty = tty if tty is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.started = clock()
        self.rendered = 0
        self._last = -math.inf

    @property
    def done(self) -> int:
        return self.kept + self.rendered

    def fps(self) -> float:
        elapsed = self.clock() - self.started
        return self.rendered / elapsed if elapsed > 0 and self.rendered else 0.0

    def text(self) -> str:
        fps = self.fps()
        eta = (self.total - self.done) / fps if fps > 0 else math.inf
        pct = 100.0 * self.done / self.total if self.total else 100.0
        counts = f"{self.done}/{self.total} frames ({pct:.1f} %), {fps:.2f} fps, ETA {_hms(eta)}"
        if not self.tty:
            return f"render: {counts}"
        filled = round(self.WIDTH * self.done / self.total) if self.total else self.WIDTH
        return f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {counts}"

    def frame_done(self) -> None:
        self.rendered += 1
        self.show()

    def show(self, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last < (BAR_REFRESH_S if self.tty else PROGRESS_LINE_S):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.text() + "\x1b[K")
        else:
            self.stream.write(self.text() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self.show(force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ----------------------------------------------------------------- the render


@dataclass(frozen=True)
class RenderResult:
    total: int
    kept: int                 # finished frames found and kept
    rendered: int             # frames rendered by this run
    elapsed_s: float
    manifest_path: Path

    @property
    def complete(self) -> bool:
        return self.kept + self.rendered == self.total


@dataclass(frozen=True)
class Previous:
    """What an earlier render in the same directory left: the frames to keep, its manifest."""

    kept: frozenset[int]
    manifest: dict | None


def check_previous(plan: RenderPlan, restart: bool = False) -> Previous:
    """The frames an earlier render with the same parameters finished that are still whole PNGs;
    ShowRenderError naming the fields when the parameters differ (unless ``restart``)."""
    kept, old = _previous(plan, restart)
    return Previous(frozenset(kept), old)


def _previous(plan: RenderPlan, restart: bool) -> tuple[set[int], dict | None]:
    old = _read_json(plan.manifest_path)
    if old is None:
        return set(), None
    if isinstance(old, Exception) or not isinstance(old, dict):
        if restart:
            return set(), None
        raise ShowRenderError(f"{plan.manifest_path}: not a readable manifest ({old}); give --restart to "
                              "render again from the start, or another --out")
    if old.get("format") != MANIFEST_FORMAT:
        changes = [f"format: {old.get('format')!r} -> {MANIFEST_FORMAT}"]
    else:
        changes = parameter_changes(old, plan.params())
    if changes:
        if restart:
            return set(), old
        raise ShowRenderError(f"{plan.out_dir} holds a render with other parameters ("
                              + "; ".join(changes) + "): give --restart to render again from the start, "
                              "or another --out")
    if restart:
        return set(), old
    wanted = frames_in(old.get("done")) & set(range(plan.frame_count))
    return {k for k in wanted if png_ok(plan.frame_path(k), plan.size_px)}, old


def _remove_leftovers(plan: RenderPlan, old: Mapping | None) -> None:
    """After --restart: frames of the old render past the new frame count go (same file names only)."""
    if not old or old.get("frame_pattern") != plan.pattern or not isinstance(old.get("frame_count"), int):
        return
    for k in range(plan.frame_count, old["frame_count"]):
        try:
            plan.frame_path(k).unlink()
        except FileNotFoundError:
            pass


def render_show(plan: RenderPlan, *, ctx, restart: bool = False, previous: Previous | None = None,
                catalog=None, ephemeris=None, stream=None, tty: bool | None = None,
                clock: Callable[[], float] = time.monotonic) -> RenderResult:
    """Render ``plan``'s frames not done yet into ``plan.out_dir`` (see the module docstring).

    ``previous``: :func:`check_previous`'s answer, when the caller asked already (before making
    a GL context). KeyboardInterrupt (Ctrl-C) stops after the frames in flight are written, with
    the manifest saying what is done, and is raised again for the caller.
    """
    from concurrent.futures import ThreadPoolExecutor

    if previous is None:
        previous = check_previous(plan, restart)
    kept, old = set(previous.kept), previous.manifest
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    if restart:
        _remove_leftovers(plan, old)
    subtitle_files = write_subtitle_files(plan)
    done = set(kept)
    write_manifest(plan.manifest_path, build_manifest(plan, done, subtitles=subtitle_files), durable=True)
    todo = [k for k in range(plan.frame_count) if k not in done]
    progress = Progress(plan.frame_count, len(kept), stream, tty=tty, clock=clock)
    started = clock()
    rendered = 0
    last_manifest = clock()
    if todo:
        progress.show(force=True)
        frames = ShowFrames.for_plan(plan, ephemeris)
        renderer = make_renderer(ctx, plan.hall, plan.size_px, catalog)
        writer = ThreadPoolExecutor(max_workers=PNG_WRITERS, thread_name_prefix="show-render-png")
        pending: deque = deque()
        ahead = max(1, min(WRITE_AHEAD, WRITE_AHEAD_BYTES // (3 * plan.size_px ** 2)))

        def finish_oldest() -> None:
            nonlocal rendered
            k, future = pending.popleft()
            try:
                future.result()
            except OSError as e:                  # a full disk stops the render; what is done stays
                raise ShowRenderError(f"cannot write {plan.frame_path(k)}: {e}; make room and run the same "
                                      "command again to continue") from None
            done.add(k)
            rendered += 1
            progress.frame_done()

        try:
            for k in todo:
                state = frames.state(plan.time_s(k), frame=k)
                rgb = draw_domemaster(renderer, state, plan.hall, plan.size_px, plan.eye).copy()
                pending.append((k, writer.submit(write_frame, plan.frame_path(k), rgb)))
                while len(pending) > ahead or (pending and pending[0][1].done()):
                    finish_oldest()
                if clock() - last_manifest >= MANIFEST_EVERY_S:
                    last_manifest = clock()
                    write_manifest(plan.manifest_path, build_manifest(plan, done, subtitles=subtitle_files),
                                   durable=False)
        finally:
            try:
                while pending:
                    finish_oldest()
            finally:
                writer.shutdown(wait=True)
                renderer.release()
                write_manifest(plan.manifest_path, build_manifest(plan, done, subtitles=subtitle_files),
                               durable=True)
                progress.finish()
    return RenderResult(total=plan.frame_count, kept=len(kept), rendered=rendered, elapsed_s=clock() - started,
                        manifest_path=plan.manifest_path)


# ----------------------------------------------------------------- the command


def cmd_show_render(args, *, ctx=None) -> int:
    """``domectl show render``; the exit status (0 done, 1 invalid show, 2 bad arguments, 130 stopped).

    ``ctx``: a GL context to draw with (default: a new headless EGL one)."""
    import signal
    import threading

    from domectl.cli_show import EXIT_INVALID
    from shows.format import ShowError

    try:
        plan = plan_render(args)
    except ShowError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        count = len(e.issues)
        print(f"{args.file}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return EXIT_INVALID
    previous = check_previous(plan, args.restart)        # refused before a GL context is made
    if ctx is None:
        from render.context import create_context

        ctx = create_context("egl")

    def stop_on_term(signum, frame):      # a scheduler's stop: the same orderly end as Ctrl-C
        raise KeyboardInterrupt

    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, stop_on_term)
    result = None
    try:
        result = render_show(plan, ctx=ctx, restart=args.restart, previous=previous)
    except OSError as e:
        raise ShowRenderError(f"cannot write in {plan.out_dir}: {e}") from None
    except KeyboardInterrupt:
        manifest = _read_json(plan.manifest_path)
        count = manifest.get("done_count", 0) if isinstance(manifest, dict) else 0
        print(f"domectl show render: interrupted with {count} of {plan.frame_count} frames done "
              f"({plan.manifest_path}); run the same command again to continue", file=sys.stderr)
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    eye = f", {plan.eye} eye" if plan.eye else ""
    print(f"wrote {plan.out_dir}/{plan.pattern}: {result.total} frames ({result.rendered} rendered, "
          f"{result.kept} kept), {plan.size_px} x {plan.size_px}, {plan.fps:g} fps, show time "
          f"{_clock(plan.from_s)} to {_clock(plan.to_s)}{eye}, in {result.elapsed_s:.1f} s; "
          f"manifest {plan.manifest_path}; subtitles {', '.join(plan.show.languages)}")
    return 0
