"""The show file format: parse and validate a ``.show`` file into a :class:`Show`, all or nothing.

A show file is a line-oriented timeline (shows/README.md is the reference,
with examples of every command)::

    title "Tonight's sky over Wizernes"
    languages fr en nl de
    start 2026-11-20T21:00:00Z

    00:00      blackout 0 over 4
    00:02      text for 8 at 0 30
                 fr "Bienvenue"
                 en "Welcome"
    +10        view 0 30 over 6 in-out
    00:30      poll next for 30
                 ...
    01:00      label orion
    ...
    15:00      end

Pipeline (pure; the only file reads are the show itself and the existence
and PNG headers of the media it names):

1. lex each line into tokens with their columns (``"..."`` strings, ``#``
   comments at the start of a token);
2. parse each line: header (``title`` ...), cue (``TIME COMMAND ...``) or a
   continuation of the cue above (``fr "..."``, ``option``, ``branch``,
   ``default``); one error per broken line, then on to the next line;
3. cut the cues into sections at labels and check the flow: times in order,
   jump targets that exist and sit at the jump's show time, every section
   reached, every path ending with ``end``;
4. walk every path through the polls and check that the sim time stays
   inside the ephemeris, and that every ``orbit`` follows a ``fly to``.

Every error is an :class:`Issue` (file, line, column, message, hint); all of
them are collected and raised together as one :class:`ShowError`. A
:class:`Show` is returned only when there is none: nothing is half-loaded.

Also here, because they define what the format means: the easing curves and
their integrals (:data:`EASINGS`), a scalar :class:`Channel` of eased
transitions, and the :class:`SimTimeline` (sim time = integral of the eased
rate, with jumps and eased moves), used by the validator's range check and
by :mod:`shows.player`.
"""

from __future__ import annotations

import difflib
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from domectl import meshes, voyage
from domectl.config import LANGUAGES
from domectl.ephemeris import BODIES, VALID_FROM_UTC, VALID_UNTIL_UTC
from domectl.errors import DomectlError
from domectl.layermix import DEFAULT_LAYERS, LAYER_NAMES, expand_layer
from domectl.places import HALL, find_place, suggest_place
from domectl.projection import MAX_ZOOM, MIN_ZOOM     # zoom factors: the renderer's range
from domectl.simclock import EDGE_MARGIN, MAX_ABS_RATE

MICROS_PER_S = 1_000_000
#: Sim times a show may reach: the ephemeris's range, held EDGE_MARGIN inside it as the
#: master's sim clock is (domectl/simclock.py), so a show never runs into the clamp.
SIM_FROM_UTC = VALID_FROM_UTC + EDGE_MARGIN
SIM_UNTIL_UTC = VALID_UNTIL_UTC - EDGE_MARGIN
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: The transition curve when a cue says ``over D`` without one: starts and stops gently,
#: which is what a camera move or a fade on a dome should do.
DEFAULT_EASE = "in-out"
#: Texts, images and placed clips appear here unless the cue says ``at``: the front of the
#: dome, 30 deg up, in everybody's view in a unidirectional hall without craning.
DEFAULT_AT_DEG = (0.0, 30.0)
#: Text cap height: 2.5 deg is about 33 cm letters on a 7.5 m dome, readable from the back row.
DEFAULT_TEXT_SIZE_DEG = 2.5
#: Image and placed-clip height when the cue does not say ``size``.
DEFAULT_IMAGE_SIZE_DEG = 20.0
#: Texts, images and clips fade in and out over this long unless the cue says ``fade``:
#: a pop-in on a dark dome is harsh; a second reads as a fade without delaying the text.
DEFAULT_FADE_S = 1.0
#: Polls are shown here (front, a little above the texts) unless the poll says ``at``.
DEFAULT_POLL_AT_DEG = (0.0, 40.0)
#: A vote box has six buttons; two options is the least that makes a choice.
MIN_POLL_OPTIONS, MAX_POLL_OPTIONS = 2, 6
#: A vote longer than this loses the room; the master keeps the open poll in its log anyway.
MAX_POLL_S = 600.0
#: Site elevations: the Dead Sea shore (-430 m) to above Everest (8849 m).
MIN_ELEVATION_M, MAX_ELEVATION_M = -500.0, 9000.0
#: Clip frame rates: up to the dome's 120 Hz active-stereo rate.
MAX_CLIP_FPS = 120.0
#: Validation walks every path through the polls; a show with more paths than this is a
#: maze no producer can check by eye (five 5-way polls in a row already make 3125).
MAX_PATHS = 4096
#: The units of a sim-time offset (``time +6h``); a year is Julian, 365.25 days.
DELTA_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "y": 365.25 * 86400.0}

#: The units of a ``fly to BODY distance D UNIT`` (``radii``: of the target body).
FLY_UNITS_M = {"km": 1000.0, "m": 1.0}
#: The units of a ``stereo D UNIT`` eye separation.
STEREO_UNITS_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0}
#: The voyage's commands (VoyageCue.command).
VOYAGE_COMMANDS = ("fly", "orbit", "home", "park")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class Issue:
    """One problem in a show file; ``line`` and ``column`` count from 1 (0: the whole file)."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.message}" + (f" ({self.hint})" if self.hint else "")


class ShowError(DomectlError, ValueError):
    """A show file is invalid; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]):
        self.issues = tuple(sorted(issues, key=lambda i: (i.file, i.line, i.column)))
        count = len(self.issues)
        name = self.issues[0].file if self.issues else "show"
        super().__init__(f"{name}: {count} error{'s' if count != 1 else ''}:\n"
                         + "\n".join(f"  {i}" for i in self.issues))


class _LineError(Exception):
    def __init__(self, column: int, message: str, hint: str = ""):
        super().__init__(message)
        self.column, self.message, self.hint = column, message, hint


def did_you_mean(word: str, choices, what: str = "") -> str:
    """A hint: the closest of ``choices`` to ``word``, else the list of them."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{what or 'choose from'}: {', '.join(choices)}"


# ----------------------------------------------------------------- easing


@dataclass(frozen=True)
class Easing:
    """A transition curve on [0, 1] -> [0, 1] (f(0) = 0, f(1) = 1, non-decreasing) and its
    integral from 0 (what an eased rate adds to the sim time)."""

    name: str
    f: Callable[[float], float]
    integral: Callable[[float], float]


def _in_out(u: float) -> float:
    return 4.0 * u * u * u if u < 0.5 else 1.0 - 4.0 * (1.0 - u) ** 3


def _in_out_integral(u: float) -> float:
    return u ** 4 if u < 0.5 else u - 0.5 + (1.0 - u) ** 4


#: The easing names a cue may give after ``over D``: cubic curves, and smoothstep (the
#: curve of the master's layer fades, domectl/layermix.py).
EASINGS: dict[str, Easing] = {e.name: e for e in (
    Easing("linear", lambda u: u, lambda u: 0.5 * u * u),
    Easing("in", lambda u: u * u * u, lambda u: 0.25 * u ** 4),
    Easing("out", lambda u: 1.0 - (1.0 - u) ** 3, lambda u: u + 0.25 * ((1.0 - u) ** 4 - 1.0)),
    Easing("in-out", _in_out, _in_out_integral),
    Easing("smooth", lambda u: u * u * (3.0 - 2.0 * u), lambda u: u ** 3 - 0.5 * u ** 4),
)}


# ----------------------------------------------------------------- the show's records


@dataclass(frozen=True, kw_only=True)
class Cue:
    """One timeline line: its show time (integer microseconds, exact) and where it is."""

    time_us: int
    line: int
    column: int = 1

    @property
    def time_s(self) -> float:
        return self.time_us / MICROS_PER_S


@dataclass(frozen=True, kw_only=True)
class Transition(Cue):
    """A cue that moves a value to a target over ``over_s`` seconds (0: at once)."""

    over_s: float = 0.0
    ease: str = DEFAULT_EASE


@dataclass(frozen=True)
class Site:
    """An observer's place: degrees north, degrees east, metres; ``place`` the name it came from."""

    latitude_deg: float
    longitude_deg: float
    elevation_m: float = 0.0
    place: str = ""

    @property
    def is_hall(self) -> bool:
        return self.place == HALL


@dataclass(frozen=True, kw_only=True)
class Label(Cue):
    name: str


@dataclass(frozen=True, kw_only=True)
class TimeCue(Transition):
    """Sim time: jump (``over_s`` 0) or eased move to ``target_utc``, or by ``delta_s`` from where it is."""

    target_utc: datetime | None = None
    delta_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class RateCue(Transition):
    rate: float


@dataclass(frozen=True, kw_only=True)
class SiteCue(Transition):
    site: Site


@dataclass(frozen=True, kw_only=True)
class ViewCue(Transition):
    az_deg: float
    alt_deg: float


@dataclass(frozen=True, kw_only=True)
class ZoomCue(Transition):
    zoom: float


@dataclass(frozen=True, kw_only=True)
class LayerCue(Transition):
    names: tuple[str, ...]
    opacity: float


@dataclass(frozen=True, kw_only=True)
class BlackoutCue(Transition):
    level: float


@dataclass(frozen=True, kw_only=True)
class PointerCue(Cue):
    target: str                  # "" = off; "saturn", "HIP 27989", "Ori"


@dataclass(frozen=True, kw_only=True)
class Shown(Cue):
    """Something shown for ``duration_s``, fading in and out."""

    duration_s: float = 0.0
    fade_in_s: float = DEFAULT_FADE_S
    fade_out_s: float = DEFAULT_FADE_S

    @property
    def end_s(self) -> float:
        return self.time_s + self.duration_s


@dataclass(frozen=True, kw_only=True)
class Placed(Shown):
    """Something shown on the dome for ``duration_s``, fading in and out."""

    dome_az_deg: float = DEFAULT_AT_DEG[0]
    dome_elev_deg: float = DEFAULT_AT_DEG[1]
    size_deg: float = DEFAULT_TEXT_SIZE_DEG


@dataclass(frozen=True, kw_only=True)
class TextCue(Placed):
    variants: tuple[tuple[str, str], ...]          # (language, text) in file order
    rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def text(self, language: str, fallback: str) -> str:
        for lang, text in self.variants:
            if lang == language:
                return text
        return dict(self.variants)[fallback]


@dataclass(frozen=True, kw_only=True)
class ImageCue(Placed):
    path: Path                   # resolved
    source: str                  # as written in the file


@dataclass(frozen=True, kw_only=True)
class ClipCue(Placed):
    frames: tuple[Path, ...]     # resolved, in order
    source: str
    fps: float
    fulldome: bool = False

    def frame_index(self, show_time_s: float) -> int:
        """floor((t - start) * fps), clamped to the clip's frames."""
        k = math.floor((show_time_s - self.time_s) * self.fps)
        return min(max(k, 0), len(self.frames) - 1)


@dataclass(frozen=True, kw_only=True)
class VoyageCue(Cue):
    """A leg of the space voyage (domectl/voyage.py), from where the observer is at the cue.

    command "fly": to ``target`` (an ephemeris name: "Moon"), ending ``distance_m`` from its
    centre or ``radii`` of its radius (neither: the engine's default, 3 radii); "orbit":
    circle ``target`` ("" : the nearest body); "home": fly back to the site and land;
    "park": stop where the observer is. The flight's duration is the engine's (its comfort
    limits), not the show's.
    """

    command: str
    target: str = ""
    distance_m: float | None = None
    radii: float | None = None


@dataclass(frozen=True, kw_only=True)
class StereoCue(Cue):
    """The eye separation from this cue on: None the hall's own, ``math.inf`` as much depth as is
    comfortable (the master narrows it to the comfort limit of the nearest object), else metres."""

    eye_separation_m: float | None


@dataclass(frozen=True, kw_only=True)
class ModelCue(Shown):
    """A 3D model (domectl/meshes.py) shown for ``duration_s``, fading in and out like an image.

    Not a :class:`Placed`: its ``az_deg``/``elev_deg`` are dome coordinates only ``on_dome``
    (from the dome's front toward its right, above the springline: the dome frame, +x right,
    +y front, +z zenith); ``in sky`` they are a sky azimuth (from north through east) and an
    altitude in the observer's East-North-Up frame, so the model turns with the view like a
    body. Its origin sits ``distance_m`` metres from the frame's origin (the dome centre, the
    observer) in that direction; ``heading_deg`` and ``pitch_deg`` orient it, ``scale`` is
    metres per model unit: the placement the operator's models use too
    (:func:`domectl.placement.place_model`, which makes the scene's ModelView).
    """

    name: str
    az_deg: float
    elev_deg: float
    distance_m: float
    on_dome: bool = True
    scale: float = 1.0
    heading_deg: float = 0.0
    pitch_deg: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AudioCue(Cue):
    """An OSC message to the audio server: ``address`` and its arguments (int, float or str)."""

    address: str
    args: tuple[int | float | str, ...] = ()


@dataclass(frozen=True)
class PollOption:
    key: str
    variants: tuple[tuple[str, str], ...]
    line: int

    def text(self, language: str, fallback: str) -> str:
        return dict(self.variants).get(language) or dict(self.variants)[fallback]


@dataclass(frozen=True)
class Branch:
    key: str | None              # None: the default branch (nobody voted)
    label: str
    line: int
    column: int                  # of the label


@dataclass(frozen=True, kw_only=True)
class PollCue(Cue):
    id: str
    duration_s: float
    question: tuple[tuple[str, str], ...]
    options: tuple[PollOption, ...]
    branches: tuple[Branch, ...]                  # one per option, then the default
    dome_az_deg: float = DEFAULT_POLL_AT_DEG[0]
    dome_elev_deg: float = DEFAULT_POLL_AT_DEG[1]
    size_deg: float = DEFAULT_TEXT_SIZE_DEG

    @property
    def end_us(self) -> int:
        return self.time_us + round(self.duration_s * MICROS_PER_S)

    @property
    def end_s(self) -> float:
        return self.end_us / MICROS_PER_S

    @property
    def default(self) -> str:
        return next(b.label for b in self.branches if b.key is None)

    def question_text(self, language: str, fallback: str) -> str:
        return dict(self.question).get(language) or dict(self.question)[fallback]

    def target(self, choice) -> str:
        """The label the show branches to when ``choice`` won (None: nobody voted: the default)."""
        if choice is None:
            return self.default
        key = str(choice)
        for b in self.branches:
            if b.key == key:
                return b.label
        raise ValueError(f"poll {self.id!r} has no option {key!r}; its options: "
                         f"{', '.join(o.key for o in self.options)} (or None when nobody voted)")

    def winner(self, counts: Mapping[str, int]) -> str | None:
        """The option with the most votes; a tie goes to the option listed first; None if no votes."""
        best, best_count = None, 0
        for option in self.options:
            n = int(counts.get(option.key, 0))
            if n > best_count:
                best, best_count = option.key, n
        return best


@dataclass(frozen=True, kw_only=True)
class HoldCue(Cue):
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class GotoCue(Cue):
    label: str
    label_column: int


@dataclass(frozen=True, kw_only=True)
class EndCue(Cue):
    pass


@dataclass(frozen=True)
class Initial:
    """The scene before the first cue (the header's values, else these defaults)."""

    rate: float = 1.0
    site: Site = field(default_factory=lambda: _place_site(HALL))
    view_az_deg: float = 180.0           # as the master's Scene: south at the front
    view_alt_deg: float = 0.0
    zoom: float = 1.0
    layers: tuple[str, ...] = DEFAULT_LAYERS
    blackout: float = 0.0


@dataclass(frozen=True)
class Section:
    """Cues from a label (or the file's start: label "") to where the flow leaves it.

    exit: "fall" (into the next label, ``next``), "goto" (``next``), "poll" (branches of
    ``poll``) or "end". ``cues`` starts with the Label (none for the opening section).
    """

    label: str
    time_us: int
    cues: tuple[Cue, ...]
    exit: str
    next: str | None = None
    poll: PollCue | None = None


@dataclass(frozen=True)
class Show:
    """A valid show: header, every cue in file order, and its sections (the first opens it)."""

    name: str
    path: Path | None
    title: str
    languages: tuple[str, ...]               # the first is every text's fallback
    start_utc: datetime | None               # None: "start now" (the master's start time)
    initial: Initial
    cues: tuple[Cue, ...]
    sections: tuple[Section, ...]

    @property
    def fallback_language(self) -> str:
        return self.languages[0]

    def section(self, label: str) -> Section:
        for s in self.sections:
            if s.label == label:
                return s
        raise KeyError(f"{self.name}: no label {label!r}; labels: {', '.join(self.labels())}")

    def labels(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cues if isinstance(c, Label))

    def label_time_s(self, label: str) -> float:
        return self.section(label).time_us / MICROS_PER_S

    @property
    def polls(self) -> tuple[PollCue, ...]:
        return tuple(c for c in self.cues if isinstance(c, PollCue))

    @property
    def holds(self) -> tuple[HoldCue, ...]:
        return tuple(c for c in self.cues if isinstance(c, HoldCue))

    def walk(self, poll_results: Mapping[str, object] | None = None) -> tuple[Section, ...]:
        """The sections played, in order, for these poll results (poll id -> winning option
        key, or None / absent: nobody voted, the default branch)."""
        results = poll_results or {}
        by_label = {s.label: s for s in self.sections}
        section = self.sections[0]
        played = [section]
        while section.exit != "end":
            if section.exit == "poll":
                section = by_label[section.poll.target(results.get(section.poll.id))]
            else:
                section = by_label[section.next]
            played.append(section)
        return tuple(played)

    def paths(self) -> Iterator[tuple[tuple[Section, ...], dict[str, str | None]]]:
        """Every path through the polls: (sections, poll id -> the choice that takes it)."""
        yield from _paths(self.sections, lambda issue: None)

    def duration_s(self, poll_results: Mapping[str, object] | None = None) -> float:
        last = self.walk(poll_results)[-1].cues[-1]
        return last.time_s

    def durations_s(self) -> tuple[float, float]:
        """(shortest, longest) duration over every path."""
        ends = [sections[-1].cues[-1].time_s for sections, _ in self.paths()]
        return min(ends), max(ends)

    def results_reaching(self, label: str) -> dict[str, str | None]:
        """Poll results on a path that plays section ``label`` (for seeking to a branch)."""
        self.section(label)
        for sections, choices in self.paths():
            if any(s.label == label for s in sections):
                return dict(choices)
        raise KeyError(label)  # unreachable: every section is reached in a valid show


# ----------------------------------------------------------------- channels (what a cue means)


class Channel:
    """A scalar moved by eased transitions, added in show-time order.

    Each transition starts from the value the channel has when it starts (so a transition
    that interrupts another turns back from where it is) and reaches its target after
    ``over_s``; between transitions the value holds. ``value(t)`` is exact, and
    ``integral(t)`` (from show time 0) is the closed form of the eased curve's integral.
    """

    def __init__(self, initial: float):
        self.initial = float(initial)
        self.starts: list[float] = []
        self._segs: list[tuple[float, float, float, float, Easing]] = []
        self._cumulative: list[float] = []

    def add(self, t0: float, over_s: float, target: float, ease: str = DEFAULT_EASE) -> None:
        if self.starts and t0 < self.starts[-1]:
            raise ValueError(f"transition at {t0} s added after one at {self.starts[-1]} s")
        start_value = self.value(t0)
        before = self.integral(t0)
        self.starts.append(float(t0))
        self._segs.append((float(t0), float(over_s), start_value, float(target), EASINGS[ease]))
        self._cumulative.append(before)

    def value(self, t: float) -> float:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return self.initial
        t0, d, a, b, e = self._segs[i]
        if d <= 0.0 or t >= t0 + d:
            return b
        return a + (b - a) * e.f((t - t0) / d)

    def integral(self, t: float) -> float:
        """The integral of the value from show time 0 to ``t``."""
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return self.initial * t
        t0, d, a, b, e = self._segs[i]
        if d <= 0.0:
            return self._cumulative[i] + b * (t - t0)
        u = min((t - t0) / d, 1.0)
        s = a * d * u + (b - a) * d * e.integral(u)
        if t > t0 + d:
            s += b * (t - t0 - d)
        return self._cumulative[i] + s

    def breakpoints(self) -> list[float]:
        return [x for t0, d, *_ in self._segs for x in (t0, t0 + d)]

    def zero_crossings(self) -> list[float]:
        """Show times inside transitions where the value crosses 0 (the sim time's turning points)."""
        out = []
        for t0, d, a, b, e in self._segs:
            if d > 0.0 and a * b < 0.0:
                # Solve e.f(u) = a / (a - b) by bisection: e.f is non-decreasing.
                goal, lo, hi = a / (a - b), 0.0, 1.0
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    lo, hi = (mid, hi) if e.f(mid) < goal else (lo, mid)
                out.append(t0 + d * 0.5 * (lo + hi))
        return out


class SimTimeline:
    """Sim time (float seconds since 1970-01-01 UTC) at each show time of one path.

    Between time cues the sim time advances by the integral of the rate channel:
    ``utc(t) = utc(ta) + integral(rate, ta, t)`` from the last anchor ``ta``. A time cue with
    no ``over`` is a jump (the anchor moves to the cue); one with ``over D`` interpolates from
    the sim time at its start to its target with its easing, ignoring the rate while it
    lasts, and anchors at its target when it ends. Add the time cues in show-time order.
    """

    def __init__(self, start_s: float, rate: Channel):
        self.start_s = float(start_s)
        self.rate = rate
        self.starts: list[float] = []
        # (t0, d, u0, u1, easing, integral of the rate at t0 + d)
        self._events: list[tuple[float, float, float, float, Easing, float]] = []

    def add(self, t0: float, over_s: float, ease: str, *, target_s: float | None = None,
            delta_s: float | None = None) -> None:
        u0 = self.utc_s(t0)
        u1 = float(target_s) if target_s is not None else u0 + float(delta_s)
        self.starts.append(float(t0))
        self._events.append((float(t0), float(over_s), u0, u1, EASINGS[ease], self.rate.integral(t0 + over_s)))

    def utc_s(self, t: float) -> float:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return self.start_s + self.rate.integral(t)
        t0, d, u0, u1, e, anchor_integral = self._events[i]
        if d > 0.0 and t < t0 + d:
            return u0 + (u1 - u0) * e.f((t - t0) / d)
        return u1 + self.rate.integral(t) - anchor_integral

    def breakpoints(self) -> list[float]:
        return ([x for t0, d, *_ in self._events for x in (t0, t0 + d)]
                + self.rate.breakpoints() + self.rate.zero_crossings())


def utc_seconds(utc: datetime) -> float:
    return (utc - UNIX_EPOCH).total_seconds()


def sim_timeline(start_utc: datetime, initial_rate: float, cues) -> SimTimeline:
    """The sim time of a path's cues (in show-time order) from the show's start."""
    rate = Channel(initial_rate)
    for c in cues:
        if isinstance(c, RateCue):
            rate.add(c.time_s, c.over_s, c.rate, c.ease)
    sim = SimTimeline(utc_seconds(start_utc), rate)
    for c in cues:
        if isinstance(c, TimeCue):
            sim.add(c.time_s, c.over_s, c.ease,
                    target_s=None if c.target_utc is None else utc_seconds(c.target_utc), delta_s=c.delta_s)
    return sim


# ----------------------------------------------------------------- lexing


@dataclass(frozen=True)
class Token:
    text: str
    column: int          # 1-based, of the first character (the quote for a string)
    quoted: bool = False

    @property
    def end_column(self) -> int:
        return self.column + len(self.text) + (2 if self.quoted else 0)


_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


def lex(line: str) -> list[Token]:
    """A line's tokens: words, ``"strings"`` (escapes \\n \\" \\\\); ``#`` at a token's start ends the line."""
    tokens: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c.isspace():
            i += 1
        elif c == "#":
            break
        elif c == '"':
            start, i, chars = i, i + 1, []
            while True:
                if i >= n:
                    raise _LineError(start + 1, "unterminated string", 'close it with " on the same line')
                c = line[i]
                if c == "\\":
                    escape = line[i + 1] if i + 1 < n else ""
                    if escape not in _ESCAPES:
                        raise _LineError(i + 1, f"unknown escape '\\{escape}' in a string",
                                         'write \\n for a new line, \\" for a quote, \\\\ for a backslash')
                    chars.append(_ESCAPES[escape])
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            tokens.append(Token("".join(chars), start + 1, True))
        else:
            start = i
            while i < n and not line[i].isspace() and line[i] != '"':
                i += 1
            tokens.append(Token(line[start:i], start + 1))
    return tokens


# ----------------------------------------------------------------- values


def format_time(us: float) -> str:
    """Show time as HH:MM:SS(.s): 750.5 s -> '00:12:30.5'."""
    us = round(us)
    sign = "-" if us < 0 else ""
    us = abs(us)
    seconds, micros = divmod(us, MICROS_PER_S)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    frac = f"{micros / MICROS_PER_S:.6f}"[1:].rstrip("0").rstrip(".")
    return f"{sign}{h:02d}:{m:02d}:{s:02d}{frac}"


_SECONDS = re.compile(r"^\d+(\.\d+)?$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")
TIME_HINT = "write HH:MM:SS.s, MM:SS or +SECONDS, e.g. 00:12:30.5, 12:30 or +2.5"


def _micros(text: str) -> int:
    try:
        return int((Decimal(text) * MICROS_PER_S).to_integral_value())
    except InvalidOperation:
        raise ValueError(text) from None


_TIME_REASONS = ("seconds run 0-59", "minutes run 0-59 after hours")


def parse_clock(text: str) -> int | None:
    """'HH:MM:SS(.s)' or 'MM:SS(.s)' -> microseconds; None if it is not that form; ValueError
    (with the reason) if it is but a field is out of range."""
    m = _CLOCK.match(text)
    if m is None:
        return None
    hours, minutes, seconds = m.group(1), m.group(2), m.group(3)
    if Decimal(seconds) >= 60:
        raise ValueError("seconds run 0-59")
    if hours is not None and int(minutes) >= 60:
        raise ValueError("minutes run 0-59 after hours")
    return (int(hours or 0) * 3600 + int(minutes) * 60) * MICROS_PER_S + _micros(seconds)


def parse_duration_us(text: str) -> int:
    """'2.5', '2.5s' or 'MM:SS(.s)' -> microseconds (ValueError otherwise)."""
    body = text.removesuffix("s")
    if _SECONDS.match(body):
        return _micros(body)
    clock = parse_clock(text)
    if clock is None:
        raise ValueError("not a duration")
    return clock


def parse_show_time(text: str, previous_us: int) -> int:
    """A cue's time -> microseconds: absolute, or ``+`` relative to ``previous_us``."""
    if text.startswith("+"):
        return previous_us + parse_duration_us(text[1:])
    clock = parse_clock(text)
    if clock is None:
        raise ValueError("not a time")
    return clock


_DELTA = re.compile(r"^([+-])((?:\d+(?:\.\d+)?[smhdy])+)$")
_DELTA_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdy])")


def parse_delta_s(text: str) -> float | None:
    """'+6h', '-30d', '+1d12h' -> signed seconds; None if not that form."""
    m = _DELTA.match(text)
    if m is None:
        return None
    seconds = sum(float(v) * DELTA_UNITS_S[u] for v, u in _DELTA_PART.findall(m.group(2)))
    return seconds if m.group(1) == "+" else -seconds


def parse_utc(text: str) -> datetime:
    """ISO 8601 (a date, or a date and time; no zone or Z: UTC; an offset is converted) -> UTC."""
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def _iso(utc: datetime) -> str:
    return utc.isoformat().replace("+00:00", "Z")


def _place_site(name: str) -> Site:
    p = find_place(name)
    return Site(p.latitude_deg, p.longitude_deg, p.elevation_m, p.name)


# ----------------------------------------------------------------- the line parser

HEADER_KEYS = ("title", "languages", "start", "site", "view", "zoom", "rate", "layers", "blackout")
REQUIRED_HEADER = ("title", "languages", "start")
COMMANDS = ("label", "time", "rate", "site", "view", "zoom", "layer", "blackout", "pointer", "text",
            "image", "clip", "audio", "fly", "orbit", "home", "park", "stereo", "model", "poll", "hold",
            "goto", "end")
CONTINUATION_KEYS = (*LANGUAGES, "option", "branch", "default")
FLOW_COMMANDS = ("label", "poll", "goto", "end")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_OSC_ADDRESS = re.compile(r"^(/[A-Za-z0-9_.\-]+)+$")
_HEX_RGB = re.compile(r"^[0-9A-Fa-f]{6}$")


class _Args:
    """The tokens after a command, consumed left to right; errors point at a column."""

    def __init__(self, tokens: list[Token], end_column: int):
        self.tokens, self.i, self.end_column = tokens, 0, end_column

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def take(self, what: str, hint: str = "") -> Token:
        if self.done():
            raise _LineError(self.end_column, f"missing {what}", hint)
        self.i += 1
        return self.tokens[self.i - 1]

    def word(self, what: str, hint: str = "") -> Token:
        tok = self.take(what, hint)
        if tok.quoted:
            raise _LineError(tok.column, f"expected {what}, not a quoted string", hint)
        return tok

    def string(self, what: str, hint: str = "") -> Token:
        tok = self.take(what, hint)
        if not tok.quoted:
            raise _LineError(tok.column, f"expected {what} in double quotes, got {tok.text!r}",
                             hint or f'write "{tok.text}"')
        return tok

    def number(self, what: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, hint: str = "") -> float:
        tok = self.word(what, hint)
        try:
            value = float(tok.text)
        except ValueError:
            raise _LineError(tok.column, f"{what} {tok.text!r} is not a number", hint) from None
        if not math.isfinite(value):
            raise _LineError(tok.column, f"{what} {tok.text!r} is not a finite number", hint)
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            left = "(" if low_open else "["
            raise _LineError(tok.column, f"{what} {tok.text} is out of range",
                             hint or f"{what} must be in {left}{low:g}, {high:g}]")
        return value

    def duration(self, what: str) -> float:
        tok = self.word(what, "write seconds (2.5 or 2.5s) or MM:SS")
        try:
            return parse_duration_us(tok.text) / MICROS_PER_S
        except ValueError:
            raise _LineError(tok.column, f"bad {what} {tok.text!r}",
                             "write seconds (2.5 or 2.5s) or MM:SS") from None


@dataclass
class _Pending:
    """A text or poll cue being completed by its continuation lines."""

    kind: str                        # "text", "poll" or "broken" (its cue line failed: swallow)
    line: int
    column: int
    fields: dict
    variants: list[tuple[str, str, int, int]] = field(default_factory=list)   # (lang, text, line, col)
    options: list[tuple[str, list[tuple[str, str, int, int]], int, int]] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    tainted: bool = False            # a line under it was not understood


def _looks_like_language(tokens: list[Token]) -> bool:
    """``es "..."``: a language line in a language the hall does not have."""
    return (len(tokens) >= 2 and len(tokens[0].text) == 2 and tokens[0].text.isalpha()
            and tokens[0].text.islower() and tokens[1].quoted)


class _Parser:
    def __init__(self, text: str, name: str, base_dir: Path):
        self.text, self.name, self.base_dir = text, name, base_dir
        self.issues: list[Issue] = []
        self.header: dict[str, tuple[object, int]] = {}
        self.cues: list[Cue] = []
        self.pending: _Pending | None = None
        self.previous_us = 0
        self.first_cue_line: int | None = None
        self.flow_broken = False     # a label/goto/poll/end line failed: skip the flow checks
        self.voyage_broken = False   # a fly/orbit/home/park line failed: skip the voyage check
        self.label_lines: dict[str, int] = {}
        self.header_seen: set[str] = set()     # header keys written, valid or not
        self._pointer_cache: dict[str, str] | None = None

    def issue(self, line: int, column: int, message: str, hint: str = "") -> None:
        self.issues.append(Issue(self.name, line, column, message, hint))

    @property
    def languages(self) -> tuple[str, ...]:
        value = self.header.get("languages")
        return value[0] if value else LANGUAGES

    # ------------------------------------------------------------ lines

    def run(self) -> None:
        lines = self.text.splitlines()
        for line_no, raw in enumerate(lines, 1):
            try:
                tokens = lex(raw)
            except _LineError as e:
                self._finish_pending()
                self.issue(line_no, e.column, e.message, e.hint)
                continue
            if not tokens:
                continue
            first = tokens[0]
            end_column = len(raw.rstrip()) + 1
            try:
                if not first.quoted and (first.text[0].isdigit() or first.text[0] == "+"):
                    self._finish_pending()
                    if self.first_cue_line is None:
                        self.first_cue_line = line_no
                    self._cue(line_no, tokens, end_column)
                elif not first.quoted and (first.text in CONTINUATION_KEYS or _looks_like_language(tokens)):
                    self._continuation(line_no, tokens, end_column)
                elif not first.quoted and first.text in HEADER_KEYS:
                    self._finish_pending()
                    self._header(line_no, tokens, end_column)
                elif not first.quoted and first.text in COMMANDS:
                    self._finish_pending()
                    if first.text in FLOW_COMMANDS:
                        self.flow_broken = True
                    raise _LineError(first.column, f"{first.text!r} needs a time before it",
                                     f"a cue line starts with its show time: e.g. '00:10 {first.text} ...' "
                                     f"or '+0 {first.text} ...'")
                else:
                    if self.pending is not None:
                        # A mistyped line under a text or poll: the cue is incomplete, so drop it
                        # quietly at its end instead of also reporting what it lacks.
                        self.pending.tainted = True
                    close = difflib.get_close_matches(first.text, HEADER_KEYS + CONTINUATION_KEYS + COMMANDS,
                                                      n=1, cutoff=0.6) if not first.quoted else []
                    raise _LineError(first.column, f"unknown line starting {first.text!r}",
                                     f"did you mean {close[0]!r}?" if close else
                                     "a cue starts with its time (00:12:30.5 or +2.5); header lines with "
                                     f"{', '.join(HEADER_KEYS)}; a text's lines with a language")
            except _LineError as e:
                self.issue(line_no, e.column, e.message, e.hint)
        self._finish_pending()
        for key in REQUIRED_HEADER:
            if key not in self.header_seen:
                example = {"title": 'title "My show"', "languages": "languages fr en nl de",
                           "start": "start 2026-11-20T21:00:00Z (or: start now)"}[key]
                self.issue(1, 1, f"the header has no {key!r} line", f"add {example} before the first cue")

    # ------------------------------------------------------------ header

    def _header(self, line_no: int, tokens: list[Token], end_column: int) -> None:
        key = tokens[0].text
        self.header_seen.add(key)
        if self.first_cue_line is not None:
            raise _LineError(tokens[0].column, f"header line {key!r} after the first cue (line {self.first_cue_line})",
                             f"move it above line {self.first_cue_line}, or make it a cue: '00:00 {key} ...'"
                             if key in COMMANDS else f"move it above line {self.first_cue_line}")
        if key in self.header:
            raise _LineError(tokens[0].column, f"{key!r} is given twice (first on line {self.header[key][1]})",
                             "keep one")
        args = _Args(tokens[1:], end_column)
        if key == "title":
            value = args.string("the title").text
        elif key == "languages":
            value = self._languages(args)
        elif key == "start":
            tok = args.word("the start time", "write an ISO 8601 UTC time, e.g. 2026-11-20T21:00:00Z, or now")
            value = None if tok.text == "now" else self._utc(tok)
        elif key == "site":
            value = self._site(args)
        elif key == "view":
            value = (args.number("azimuth") % 360.0, args.number("altitude", -90.0, 90.0))
        elif key == "zoom":
            value = args.number("zoom", MIN_ZOOM, MAX_ZOOM)
        elif key == "rate":
            value = args.number("rate", -MAX_ABS_RATE, MAX_ABS_RATE,
                                hint=f"sim seconds per show second, within +-{MAX_ABS_RATE:g}")
        elif key == "layers":
            value = self._layer_set(args.word("layer names", "e.g. default,constellation-lines"))
        else:  # blackout
            value = self._level(args)
        self._no_more(args, key)
        self.header[key] = (value, line_no)

    def _languages(self, args: _Args) -> tuple[str, ...]:
        langs: list[str] = []
        while not args.done():
            tok = args.word("a language")
            if tok.text not in LANGUAGES:
                raise _LineError(tok.column, f"unknown language {tok.text!r}",
                                 f"the hall's languages are {', '.join(LANGUAGES)}")
            if tok.text in langs:
                raise _LineError(tok.column, f"language {tok.text!r} is listed twice", "list each once")
            langs.append(tok.text)
        if not langs:
            raise _LineError(args.end_column, "missing languages",
                             "list them, the fallback first: languages fr en nl de")
        return tuple(langs)

    def _layer_set(self, tok: Token) -> tuple[str, ...]:
        chosen: set[str] = set()
        offset = 0
        for part in tok.text.split(","):
            column = tok.column + offset
            offset += len(part) + 1
            layers = expand_layer(part)
            if layers is None:
                raise _LineError(column, f"unknown layer {part!r}",
                                 did_you_mean(part, (*LAYER_NAMES, "all", "default", "none"), "layers"))
            chosen.update(layers)
        return tuple(n for n in LAYER_NAMES if n in chosen)

    # ------------------------------------------------------------ cues

    def _cue(self, line_no: int, tokens: list[Token], end_column: int) -> None:
        time_tok = tokens[0]
        command = tokens[1] if len(tokens) > 1 else None
        broken_kind = command.text if command is not None and command.text in ("text", "poll") else None
        flow = command is not None and command.text in FLOW_COMMANDS
        try:
            try:
                time_us = parse_show_time(time_tok.text, self.previous_us)
            except ValueError as e:
                detail = f": {e}" if str(e) in _TIME_REASONS else ""
                raise _LineError(time_tok.column, f"bad time {time_tok.text!r}{detail}", TIME_HINT) from None
            self.previous_us = time_us
            if command is None:
                raise _LineError(end_column, "missing command after the time", did_you_mean("", COMMANDS, "commands"))
            if command.quoted or command.text not in COMMANDS:
                raise _LineError(command.column, f"unknown command {command.text!r}",
                                 did_you_mean(command.text, COMMANDS, "commands"))
            args = _Args(tokens[2:], end_column)
            base = {"time_us": time_us, "line": line_no, "column": time_tok.column}
            cue = getattr(self, f"_cmd_{command.text}")(args, base, line_no)
        except _LineError:
            if broken_kind:
                self.pending = _Pending("broken", line_no, 1, {})
            if flow:
                self.flow_broken = True
            if command is not None and command.text in VOYAGE_COMMANDS:
                self.voyage_broken = True
            raise
        if isinstance(cue, _Pending):
            self.pending = cue
        else:
            self.cues.append(cue)

    def _no_more(self, args: _Args, command: str) -> None:
        if not args.done():
            tok = args.peek()
            raise _LineError(tok.column, f"unexpected {tok.text!r} after {command!r}",
                             f"see shows/README.md for what {command!r} takes")

    def _transition(self, args: _Args, command: str) -> dict:
        """An optional ``over D [EASE]`` clause ending the line."""
        if args.done():
            return {}
        tok = args.word("'over'")
        if tok.text != "over":
            raise _LineError(tok.column, f"unexpected {tok.text!r} after {command!r}",
                             "a transition is written 'over SECONDS [EASING]', e.g. 'over 5 in-out'")
        over_s = args.duration("transition time")
        ease = DEFAULT_EASE
        if not args.done():
            ease_tok = args.word("an easing")
            if ease_tok.text not in EASINGS:
                raise _LineError(ease_tok.column, f"unknown easing {ease_tok.text!r}",
                                 did_you_mean(ease_tok.text, EASINGS, "easings"))
            ease = ease_tok.text
        self._no_more(args, command)
        return {"over_s": over_s, "ease": ease}

    def _clauses(self, args: _Args, command: str, parsers: dict[str, Callable[[_Args], object]]) -> dict:
        out: dict[str, object] = {}
        while not args.done():
            tok = args.take("")
            if tok.quoted or tok.text not in parsers:
                raise _LineError(tok.column, f"unexpected {tok.text!r} in {command!r}",
                                 did_you_mean(tok.text, parsers, f"{command!r} takes") if not tok.quoted
                                 else f"{command!r} takes: {', '.join(parsers)}")
            if tok.text in out:
                raise _LineError(tok.column, f"{tok.text!r} is given twice", "keep one")
            out[tok.text] = parsers[tok.text](args)
        return out

    def _utc(self, tok: Token) -> datetime:
        try:
            utc = parse_utc(tok.text)
        except ValueError:
            raise _LineError(tok.column, f"bad date {tok.text!r}",
                             "write an ISO 8601 UTC time, e.g. 1969-07-21T02:56:15Z") from None
        if not SIM_FROM_UTC <= utc < SIM_UNTIL_UTC:
            raise _LineError(tok.column, f"{_iso(utc)} is outside the ephemeris (JPL DE421)",
                             f"choose a UTC time from {_iso(SIM_FROM_UTC)} to {_iso(SIM_UNTIL_UTC)}")
        return utc

    def _site(self, args: _Args) -> Site:
        tok = args.peek()
        if tok is None:
            raise _LineError(args.end_column, "missing place", "a place name (e.g. paris) or LAT LON [ELEVATION_M]")
        try:
            float(tok.text)
            numeric = not tok.quoted
        except ValueError:
            numeric = False
        if not numeric:
            tok = args.take("a place")
            place = find_place(tok.text)
            if place is None:
                close = suggest_place(tok.text)
                raise _LineError(tok.column, f"unknown place {tok.text!r}",
                                 f"did you mean {close!r}?" if close else
                                 "see domectl/places.py, or give LAT LON [ELEVATION_M]")
            return Site(place.latitude_deg, place.longitude_deg, place.elevation_m, place.name)
        lat = args.number("latitude", -90.0, 90.0)
        lon = args.number("longitude", -180.0, 180.0)
        elev = 0.0
        nxt = args.peek()
        if nxt is not None and not nxt.quoted and nxt.text != "over":
            elev = args.number("elevation (m)", MIN_ELEVATION_M, MAX_ELEVATION_M)
        return Site(lat, lon, elev)

    def _level(self, args: _Args) -> float:
        tok = args.peek()
        if tok is not None and tok.text in ("on", "off"):
            args.take("")
            return 1.0 if tok.text == "on" else 0.0
        return args.number("blackout level", 0.0, 1.0, hint="0 (none) to 1 (black), or on / off")

    def _at(self, args: _Args) -> tuple[float, float]:
        return (args.number("dome azimuth (deg from the front)"),
                args.number("dome elevation (deg)", 0.0, 90.0))

    def _size(self, args: _Args) -> float:
        return args.number("size (deg)", 0.0, 90.0, low_open=True)

    def _fade(self, args: _Args) -> tuple[float, float]:
        fade_in = args.duration("fade-in time")
        nxt = args.peek()
        fade_out = fade_in
        if nxt is not None and not nxt.quoted and (nxt.text[:1].isdigit()):
            fade_out = args.duration("fade-out time")
        return fade_in, fade_out

    def _color(self, args: _Args) -> tuple[float, float, float]:
        tok = args.word("a colour", "six hex digits, e.g. ffd27f")
        if not _HEX_RGB.match(tok.text):
            raise _LineError(tok.column, f"bad colour {tok.text!r}", "six hex digits (RRGGBB), e.g. ffd27f")
        return tuple(int(tok.text[i:i + 2], 16) / 255.0 for i in (0, 2, 4))

    def _placed(self, clauses: dict, base: dict, default_size: float, args: _Args,
                duration_s: float | None = None) -> dict:
        if "for" not in clauses and duration_s is None:
            raise _LineError(args.end_column, "missing 'for SECONDS': how long it stays",
                             "e.g. 'for 8'")
        duration = clauses.get("for", duration_s)
        if duration <= 0.0:
            raise _LineError(args.end_column, f"duration {duration:g} s: must be > 0", "e.g. 'for 8'")
        if "fade" in clauses:
            fade_in, fade_out = clauses["fade"]
            if fade_in + fade_out > duration + 1e-9:
                raise _LineError(args.end_column, f"fades of {fade_in:g} + {fade_out:g} s are longer than "
                                 f"the {duration:g} s it stays", "shorten the fades or lengthen 'for'")
        else:
            fade_in = fade_out = min(DEFAULT_FADE_S, duration / 2.0)
        az, elev = clauses.get("at", DEFAULT_AT_DEG)
        return {**base, "dome_az_deg": az % 360.0, "dome_elev_deg": elev,
                "size_deg": clauses.get("size", default_size), "duration_s": duration,
                "fade_in_s": fade_in, "fade_out_s": fade_out}

    def _cmd_label(self, args, base, line_no):
        tok = args.word("a label name")
        if not _NAME.match(tok.text):
            raise _LineError(tok.column, f"bad label name {tok.text!r}",
                             "letters, digits, - and _; starting with a letter or digit")
        if tok.text in self.label_lines:
            self.flow_broken = True
            raise _LineError(tok.column, f"label {tok.text!r} is already defined on line {self.label_lines[tok.text]}",
                             "give each section its own label")
        self._no_more(args, "label")
        self.label_lines[tok.text] = line_no
        return Label(**base, name=tok.text)

    def _cmd_time(self, args, base, line_no):
        tok = args.word("a UTC date-time or an offset",
                        "e.g. 1969-07-21T02:56:15Z, or +6h / -30d from the sim time now")
        delta = parse_delta_s(tok.text)
        if delta is None and tok.text[:1] in "+-":
            raise _LineError(tok.column, f"bad time offset {tok.text!r}",
                             "a sign, then numbers with units s m h d y (y = 365.25 d): e.g. +6h, -30d, +1d12h")
        target = None if delta is not None else self._utc(tok)
        return TimeCue(**base, target_utc=target, delta_s=delta, **self._transition(args, "time"))

    def _cmd_rate(self, args, base, line_no):
        rate = args.number("rate", -MAX_ABS_RATE, MAX_ABS_RATE,
                           hint=f"sim seconds per show second, within +-{MAX_ABS_RATE:g} (0 stops the sky)")
        return RateCue(**base, rate=rate, **self._transition(args, "rate"))

    def _cmd_site(self, args, base, line_no):
        site = self._site(args)
        return SiteCue(**base, site=site, **self._transition(args, "site"))

    def _cmd_view(self, args, base, line_no):
        az = args.number("azimuth (deg)") % 360.0
        alt = args.number("altitude (deg)", -90.0, 90.0)
        return ViewCue(**base, az_deg=az, alt_deg=alt, **self._transition(args, "view"))

    def _cmd_zoom(self, args, base, line_no):
        zoom = args.number("zoom", MIN_ZOOM, MAX_ZOOM)
        return ZoomCue(**base, zoom=zoom, **self._transition(args, "zoom"))

    def _cmd_layer(self, args, base, line_no):
        names = self._layer_set(args.word("layer names", "e.g. constellation-lines,constellation-names"))
        if not names:
            raise _LineError(args.end_column, "no layer named", "e.g. 'layer constellation-lines 1 over 2'")
        opacity = args.number("opacity", 0.0, 1.0)
        return LayerCue(**base, names=names, opacity=opacity, **self._transition(args, "layer"))

    def _cmd_blackout(self, args, base, line_no):
        level = self._level(args)
        return BlackoutCue(**base, level=level, **self._transition(args, "blackout"))

    def _cmd_pointer(self, args, base, line_no):
        tok = args.take("an object", "a planet (saturn), a star (HIP 27989 or betelgeuse), "
                                     "a constellation (Ori or orion), or off")
        text = tok.text
        if text.lower() == "hip" and not tok.quoted:
            number = args.word("a HIP number")
            text = f"HIP {number.text}"
        self._no_more(args, "pointer")
        target = self._pointer_target(text, tok.column)
        return PointerCue(**base, target=target)

    def _pointer_names(self) -> dict[str, str]:
        """Lowercase name -> the pointer string the renderer resolves (render/pointer.py)."""
        if self._pointer_cache is None:
            from domectl import skydata

            names: dict[str, str] = {}
            for lang in LANGUAGES:
                for hip, name in skydata.load_star_names(lang).items():
                    names.setdefault(name.lower(), f"HIP {hip}")
                for abbrev, name in skydata.load_constellation_names(lang).items():
                    names.setdefault(name.lower(), abbrev)
            for abbrev in skydata.load_constellation_names("en"):
                names[abbrev.lower()] = abbrev
            for name, _, _ in BODIES:
                names[name.lower()] = name.lower()
            self._pointer_cache = names
        return self._pointer_cache

    def _pointer_target(self, text: str, column: int) -> str:
        if text.lower() in ("off", "none", ""):
            return ""
        m = re.match(r"^HIP (\d+)$", text, re.IGNORECASE)
        if m is not None:
            from domectl import skydata

            number = int(m.group(1))
            if number not in _hip_numbers(skydata):
                raise _LineError(column, f"no star HIP {number} in the catalogue",
                                 "check the Hipparcos number (e.g. HIP 27989 is Betelgeuse)")
            return f"HIP {number}"
        names = self._pointer_names()
        target = names.get(text.lower())
        if target is None:
            raise _LineError(column, f"unknown object {text!r} for the pointer",
                             did_you_mean(text.lower(), names, "a planet, a star name, HIP N or a constellation"))
        return target

    def _cmd_text(self, args, base, line_no):
        clauses = self._clauses(args, "text", {
            "at": self._at, "size": self._size, "for": lambda a: a.duration("duration"), "fade": self._fade,
            "color": self._color})
        fields = self._placed(clauses, base, DEFAULT_TEXT_SIZE_DEG, args)
        fields["rgb"] = clauses.get("color", (1.0, 1.0, 1.0))
        return _Pending("text", line_no, base["column"], fields)

    def _media_path(self, tok: Token) -> Path:
        if Path(tok.text).is_absolute():
            raise _LineError(tok.column, f"absolute path {tok.text!r}",
                             "write media paths relative to the show file, so the show travels with them")
        return (self.base_dir / tok.text).resolve()

    def _cmd_image(self, args, base, line_no):
        tok = args.take("a PNG path (relative to the show file)")
        path = self._media_path(tok)
        if not path.is_file():
            raise _LineError(tok.column, f"image {tok.text!r} not found", f"looked for {path}")
        if _png_size(path) is None:
            raise _LineError(tok.column, f"image {tok.text!r} is not a PNG file", "convert it to PNG")
        clauses = self._clauses(args, "image", {
            "at": self._at, "size": self._size, "for": lambda a: a.duration("duration"), "fade": self._fade})
        return ImageCue(**self._placed(clauses, base, DEFAULT_IMAGE_SIZE_DEG, args), path=path, source=tok.text)

    def _cmd_clip(self, args, base, line_no):
        tok = args.take("a frame directory or a printf pattern like media/launch/%04d.png")
        frames = self._clip_frames(tok)
        clauses = self._clauses(args, "clip", {
            "fps": lambda a: a.number("fps", 0.0, MAX_CLIP_FPS, low_open=True), "at": self._at,
            "size": self._size, "for": lambda a: a.duration("duration"), "fade": self._fade,
            "fulldome": lambda a: True})
        if "fps" not in clauses:
            raise _LineError(args.end_column, "missing 'fps F': the clip's frame rate", "e.g. 'fps 30'")
        fulldome = bool(clauses.get("fulldome", False))
        if fulldome and ("at" in clauses or "size" in clauses):
            raise _LineError(args.end_column, "a 'fulldome' clip fills the dome: it takes no 'at' or 'size'",
                             "remove 'at'/'size', or 'fulldome' to place it")
        if fulldome:
            sizes = {_png_size(p) for p in frames}
            if any(w != h for w, h in sizes):
                raise _LineError(tok.column, f"clip {tok.text!r} is not square", "fulldome frames are domemasters")
        fields = self._placed(clauses, base, DEFAULT_IMAGE_SIZE_DEG, args,
                              duration_s=len(frames) / clauses["fps"])
        return ClipCue(**fields, frames=frames, source=tok.text, fps=clauses["fps"], fulldome=fulldome)

    def _clip_frames(self, tok: Token) -> tuple[Path, ...]:
        path = self._media_path(tok)
        if "%" in tok.text:
            try:
                tok.text % 0
            except (TypeError, ValueError):
                raise _LineError(tok.column, f"bad frame pattern {tok.text!r}",
                                 "one printf number field, e.g. media/launch/%04d.png") from None
            start = 0 if (self.base_dir / (tok.text % 0)).is_file() else 1
            frames = []
            while (self.base_dir / (tok.text % (start + len(frames)))).is_file():
                frames.append((self.base_dir / (tok.text % (start + len(frames)))).resolve())
        elif path.is_dir():
            frames = sorted(p.resolve() for p in path.glob("*.png"))
        else:
            raise _LineError(tok.column, f"clip {tok.text!r} not found",
                             f"a directory of PNG frames or a pattern like dir/%04d.png; looked for {path}")
        if not frames:
            raise _LineError(tok.column, f"clip {tok.text!r} has no frames", f"looked in {path.parent}")
        for p in frames:
            if _png_size(p) is None:
                raise _LineError(tok.column, f"clip frame {p.name} is not a PNG file", "convert it to PNG")
        return tuple(frames)

    def _cmd_audio(self, args, base, line_no):
        tok = args.word("an OSC address", "e.g. /audio/play")
        if not _OSC_ADDRESS.match(tok.text):
            raise _LineError(tok.column, f"bad OSC address {tok.text!r}",
                             "starts with / and has parts of letters, digits, . _ -: e.g. /audio/play")
        values: list[int | float | str] = []
        while not args.done():
            arg = args.take("")
            if arg.quoted:
                values.append(arg.text)
                continue
            try:
                values.append(int(arg.text))
            except ValueError:
                try:
                    number = float(arg.text)
                except ValueError:
                    raise _LineError(arg.column, f"audio argument {arg.text!r} is neither a number nor a string",
                                     f'quote text: "{arg.text}"') from None
                if not math.isfinite(number):
                    raise _LineError(arg.column, f"audio argument {arg.text!r} is not finite",
                                     "give a number") from None
                values.append(number)
        return AudioCue(**base, address=tok.text, args=tuple(values))

    # ------------------------------------------------------------ the space voyage

    def _body(self, tok: Token, command: str) -> str:
        """A body name in any of the hall's languages -> its ephemeris name (voyage.body_name)."""
        try:
            return voyage.body_name(tok.text)
        except ValueError:
            pass
        if voyage.TARGETS.get(tok.text.strip().lower()) == "Sun":
            raise _LineError(tok.column, f"cannot {command} the Sun",
                             "the voyage goes to the Moon and the planets; the Sun stays in the sky")
        names = [w for w, n in voyage.TARGETS.items() if n != "Sun"]
        close = difflib.get_close_matches(tok.text.lower(), names, n=1, cutoff=0.6)
        raise _LineError(tok.column, f"unknown body {tok.text!r}",
                         f"did you mean {close[0]!r}?" if close else
                         f"choose one of {', '.join(n.lower() for n in voyage.NAMES if n != 'Sun')} "
                         "(or their French, Dutch or German names)")

    def _cmd_fly(self, args, base, line_no):
        to = args.word("'to'", "write: fly to BODY [distance D km|m|radii]")
        if to.text != "to":
            raise _LineError(to.column, f"expected 'to', got {to.text!r}", "write: fly to BODY [distance D km|m|radii]")
        body_tok = args.word("a body", "the Moon or a planet, e.g. 'fly to moon'")
        target = self._body(body_tok, "fly to")
        distance_m = radii = None
        if not args.done():
            tok = args.word("'distance'")
            if tok.text != "distance":
                raise _LineError(tok.column, f"unexpected {tok.text!r} after 'fly to {body_tok.text}'",
                                 "the only option is 'distance D km|m|radii', e.g. 'distance 6800 km'")
            value_tok = args.peek()
            value = args.number("distance", 0.0, low_open=True, hint="a distance > 0 from the body's centre")
            unit = args.word("a unit", "km, m or radii (of the body), e.g. 'distance 6800 km'")
            radius_m = voyage.RADIUS_M[target]
            if unit.text == "radii":
                if not value > 1.0001:
                    raise _LineError(value_tok.column, f"{value:g} radii is not above {target.lower()}'s surface",
                                     "the distance is from the centre: more than 1 radius, e.g. 'distance 3 radii'")
                radii = value
            elif unit.text in FLY_UNITS_M:
                distance_m = value * FLY_UNITS_M[unit.text]
                if not distance_m > radius_m * 1.0001:
                    raise _LineError(value_tok.column, f"{value:g} {unit.text} from the centre is inside "
                                     f"{target.lower()} (radius {radius_m / 1000.0:g} km)",
                                     f"the distance is from the centre: more than {radius_m / 1000.0:g} km")
            else:
                raise _LineError(unit.column, f"unknown distance unit {unit.text!r}",
                                 did_you_mean(unit.text, (*FLY_UNITS_M, "radii"), "units"))
        self._no_more(args, "fly")
        return VoyageCue(**base, command="fly", target=target, distance_m=distance_m, radii=radii)

    def _cmd_orbit(self, args, base, line_no):
        target = ""
        if not args.done():
            target = self._body(args.word("a body", "the body to circle, or nothing: the nearest"), "orbit")
        self._no_more(args, "orbit")
        return VoyageCue(**base, command="orbit", target=target)

    def _cmd_home(self, args, base, line_no):
        self._no_more(args, "home")
        return VoyageCue(**base, command="home")

    def _cmd_park(self, args, base, line_no):
        self._no_more(args, "park")
        return VoyageCue(**base, command="park")

    def _cmd_stereo(self, args, base, line_no):
        hint = "natural (the hall's), auto (as much depth as is comfortable) or a distance: e.g. 'stereo 10 cm'"
        tok = args.peek()
        if tok is not None and tok.text in ("natural", "auto"):
            args.take("")
            separation = None if tok.text == "natural" else math.inf
        else:
            if tok is not None and not tok.quoted and not _is_number(tok.text):
                raise _LineError(tok.column, f"unknown eye separation {tok.text!r}",
                                 did_you_mean(tok.text, ("natural", "auto"), hint))
            value = args.number("eye separation", 0.0, low_open=True, hint=hint)
            unit = args.word("a unit", "mm, cm, m or km: e.g. 'stereo 10 cm'")
            if unit.text not in STEREO_UNITS_M:
                raise _LineError(unit.column, f"unknown unit {unit.text!r}",
                                 did_you_mean(unit.text, STEREO_UNITS_M, "units"))
            separation = value * STEREO_UNITS_M[unit.text]
        self._no_more(args, "stereo")
        return StereoCue(**base, eye_separation_m=separation)

    def _model_at(self, args: _Args) -> tuple[float, float, int]:
        az = args.number("azimuth (deg)")
        tok = args.peek()
        elev = args.number("elevation (deg)", -90.0, 90.0)
        return az, elev, tok.column

    def _where(self, word: str):
        def parse(args: _Args) -> bool:
            tok = args.word(f"'{word}'", "write 'on dome' or 'in sky'")
            if tok.text != word:
                raise _LineError(tok.column, f"expected {word!r}, got {tok.text!r}", "write 'on dome' or 'in sky'")
            return word == "dome"
        return parse

    def _cmd_model(self, args, base, line_no):
        tok = args.word("a model name", "one of domectl/data/models: e.g. 'model v2'")
        models = meshes.available_models()
        if tok.text not in models:
            raise _LineError(tok.column, f"unknown model {tok.text!r}",
                             did_you_mean(tok.text, models, "models") if models else
                             "no models are installed: run python -m domectl.skydata.build_voyage")
        clauses = self._clauses(args, "model", {
            "at": self._model_at,
            "distance": lambda a: a.number("distance (m)", 0.0, low_open=True, hint="metres from the centre, > 0"),
            "scale": lambda a: a.number("scale", 0.0, low_open=True, hint="metres per model unit, > 0"),
            "heading": lambda a: a.number("heading (deg)"),
            "pitch": lambda a: a.number("pitch (deg)", -180.0, 180.0),
            "on": self._where("dome"), "in": self._where("sky"),
            "for": lambda a: a.duration("duration"), "fade": self._fade})
        for required, example in (("at", "at 0 10"), ("distance", "distance 25")):
            if required not in clauses:
                raise _LineError(args.end_column, f"missing '{example.split()[0]}'", f"e.g. '{example}'")
        if "on" in clauses and "in" in clauses:
            raise _LineError(args.end_column, "a model is either 'on dome' or 'in sky', not both", "keep one")
        on_dome = "in" not in clauses
        az, elev, elev_column = clauses["at"]
        if on_dome and elev < 0.0:
            raise _LineError(elev_column, f"dome elevation {elev:g} is below the springline",
                             "on the dome the elevation runs 0 to 90 (or place it 'in sky')")
        placed = self._placed({k: v for k, v in clauses.items() if k != "at"}, base, 0.0, args)
        return ModelCue(**base, name=tok.text, az_deg=az % 360.0, elev_deg=elev,
                        distance_m=clauses["distance"], on_dome=on_dome, scale=clauses.get("scale", 1.0),
                        heading_deg=clauses.get("heading", 0.0) % 360.0, pitch_deg=clauses.get("pitch", 0.0),
                        duration_s=placed["duration_s"], fade_in_s=placed["fade_in_s"],
                        fade_out_s=placed["fade_out_s"])

    def _cmd_poll(self, args, base, line_no):
        tok = args.word("a poll id")
        if not _NAME.match(tok.text):
            raise _LineError(tok.column, f"bad poll id {tok.text!r}", "letters, digits, - and _")
        if any(isinstance(c, PollCue) and c.id == tok.text for c in self.cues):
            raise _LineError(tok.column, f"poll {tok.text!r} is already defined", "give each poll its own id")
        clauses = self._clauses(args, "poll", {
            "for": lambda a: a.duration("voting time"), "at": self._at, "size": self._size})
        if "for" not in clauses:
            raise _LineError(args.end_column, "missing 'for SECONDS': how long the audience votes", "e.g. 'for 30'")
        if not 0.0 < clauses["for"] <= MAX_POLL_S:
            raise _LineError(args.end_column, f"voting time {clauses['for']:g} s is out of range",
                             f"between 0 and {MAX_POLL_S:g} s")
        az, elev = clauses.get("at", DEFAULT_POLL_AT_DEG)
        fields = {**base, "id": tok.text, "duration_s": clauses["for"], "dome_az_deg": az % 360.0,
                  "dome_elev_deg": elev, "size_deg": clauses.get("size", DEFAULT_TEXT_SIZE_DEG)}
        return _Pending("poll", line_no, tok.column, fields)

    def _cmd_hold(self, args, base, line_no):
        note = ""
        if not args.done():
            note = args.string("the presenter's note").text
        self._no_more(args, "hold")
        return HoldCue(**base, note=note)

    def _cmd_goto(self, args, base, line_no):
        tok = args.word("a label")
        self._no_more(args, "goto")
        return GotoCue(**base, label=tok.text, label_column=tok.column)

    def _cmd_end(self, args, base, line_no):
        self._no_more(args, "end")
        return EndCue(**base)

    # ------------------------------------------------------------ continuation lines

    def _variant(self, tok: Token, args: _Args, seen: list[tuple[str, str, int, int]], line_no: int):
        if tok.text not in self.languages:
            raise _LineError(tok.column, f"language {tok.text!r} is not one of this show's "
                                         f"({' '.join(self.languages)})",
                             "add it to the 'languages' line, or remove this text")
        if any(lang == tok.text for lang, *_ in seen):
            raise _LineError(tok.column, f"a second {tok.text!r} text", "give each language once")
        text = args.string(f"the {tok.text!r} text")
        if not text.text.strip():
            raise _LineError(text.column, "empty text", "write the text, or leave the language out")
        seen.append((tok.text, text.text, line_no, tok.column))

    def _continuation(self, line_no: int, tokens: list[Token], end_column: int) -> None:
        head = tokens[0]
        pending = self.pending
        if pending is None:
            raise _LineError(head.column, f"{head.text!r} line outside a text or poll",
                             "put it right under the 'text' or 'poll' cue it belongs to")
        if pending.kind == "broken":
            return
        args = _Args(tokens[1:], end_column)
        if head.text not in ("option", "branch", "default"):
            self._variant(head, args, pending.variants, line_no)
            self._no_more(args, head.text)
            return
        if pending.kind != "poll":
            raise _LineError(head.column, f"{head.text!r} belongs to a poll, not a text",
                             "a text takes lines like: fr \"...\"")
        if head.text == "option":
            key = args.word("an option key", "e.g. 1, 2 ... as on the vote boxes")
            if not _NAME.match(key.text):
                raise _LineError(key.column, f"bad option key {key.text!r}", "letters, digits, - and _")
            if any(k == key.text for k, *_ in pending.options):
                raise _LineError(key.column, f"option {key.text!r} is given twice", "give each option once")
            variants: list[tuple[str, str, int, int]] = []
            while not args.done():
                self._variant(args.word("a language"), args, variants, line_no)
            if not variants:
                raise _LineError(end_column, "an option needs its text", 'e.g. option 1 fr "Saturne" en "Saturn"')
            if variants and not any(lang == self.languages[0] for lang, *_ in variants):
                raise _LineError(key.column, f"option {key.text!r} has no {self.languages[0]!r} text",
                                 f"{self.languages[0]!r} is the show's first language, every other's fallback")
            pending.options.append((key.text, variants, line_no, key.column))
            return
        # branch KEY -> LABEL / default -> LABEL
        key = None
        if head.text == "branch":
            key_tok = args.word("an option key")
            if not any(k == key_tok.text for k, *_ in pending.options):
                raise _LineError(key_tok.column, f"branch for {key_tok.text!r}, which is not an option of this poll",
                                 did_you_mean(key_tok.text, [k for k, *_ in pending.options], "options"))
            key = key_tok.text
        if any(b.key == key for b in pending.branches):
            raise _LineError(head.column, f"a second {'default' if key is None else f'branch for {key!r}'}",
                             "one branch per option, and one default")
        arrow = args.word("'->'")
        if arrow.text != "->":
            raise _LineError(arrow.column, f"expected '->', got {arrow.text!r}",
                             "write: branch 1 -> LABEL, or: default -> LABEL")
        target = args.word("a label")
        self._no_more(args, head.text)
        pending.branches.append(Branch(key, target.text, line_no, target.column))

    def _finish_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is None or pending.kind == "broken":
            return
        if pending.tainted:
            self.flow_broken = self.flow_broken or pending.kind == "poll"
            return
        first = self.languages[0]
        fields = pending.fields
        if pending.kind == "text":
            if not pending.variants:
                self.issue(pending.line, pending.column, "a text with no text",
                           f'add lines under it: {first} "..." (one per language)')
                return
            if not any(lang == first for lang, *_ in pending.variants):
                self.issue(pending.line, pending.column, f"this text has no {first!r} line",
                           f"{first!r} is the show's first language, the fallback of every other")
                return
            self.cues.append(TextCue(**fields, variants=tuple((lang, text) for lang, text, *_ in pending.variants)))
            return
        problems = []
        if not pending.variants:
            problems.append(("a poll with no question", f'add lines under it: {first} "..."'))
        elif not any(lang == first for lang, *_ in pending.variants):
            problems.append((f"this poll's question has no {first!r} line",
                             f"{first!r} is the show's first language, the fallback of every other"))
        if not MIN_POLL_OPTIONS <= len(pending.options) <= MAX_POLL_OPTIONS:
            problems.append((f"poll {fields['id']!r} has {len(pending.options)} options",
                             f"give {MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS}: option KEY fr \"...\" ..."))
        for key, *_ in pending.options:
            if not any(b.key == key for b in pending.branches):
                problems.append((f"option {key!r} of poll {fields['id']!r} has no branch",
                                 f"add: branch {key} -> LABEL"))
        if not any(b.key is None for b in pending.branches):
            problems.append((f"poll {fields['id']!r} has no default branch",
                             "add: default -> LABEL (where the show goes when nobody votes)"))
        for message, hint in problems:
            self.issue(pending.line, pending.column, message, hint)
        if problems:
            self.flow_broken = True
            return
        options = tuple(PollOption(key, tuple((lang, text) for lang, text, *_ in variants), line)
                        for key, variants, line, _ in pending.options)
        branches = tuple(sorted(pending.branches, key=lambda b: (b.key is None,)))
        self.cues.append(PollCue(**fields, question=tuple((lang, text) for lang, text, *_ in pending.variants),
                                 options=options, branches=branches))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _hip_numbers(skydata) -> frozenset[int]:
    global _HIP_CACHE
    if _HIP_CACHE is None:
        _HIP_CACHE = frozenset(int(h) for h in skydata.load_stars().hip)
    return _HIP_CACHE


_HIP_CACHE: frozenset[int] | None = None


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, or None if the file is not a PNG."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


# ----------------------------------------------------------------- structure


def _sections(p: _Parser) -> list[Section]:
    """Cut the cues into sections at labels; check times run forward and nothing follows a jump."""
    sections: list[Section] = []
    label, label_time, cues = "", 0, []
    exit_kind: str | None = None
    closer: Cue | None = None
    last_us = 0

    def close(next_label: str | None) -> None:
        kind = exit_kind or ("fall" if next_label is not None else "off")
        nxt = next_label if kind == "fall" else (closer.label if isinstance(closer, GotoCue) else None)
        sections.append(Section(label, label_time, tuple(cues), kind, nxt,
                                closer if isinstance(closer, PollCue) else None))

    for cue in p.cues:
        if isinstance(cue, Label):
            if exit_kind is None and cue.time_us < last_us:
                p.issue(cue.line, cue.column, f"label {cue.name!r} at {format_time(cue.time_us)} comes before "
                        f"the cue above it ({format_time(last_us)}), which runs on into it",
                        f"a section reached by running on starts at or after {format_time(last_us)}")
            close(cue.name)
            label, label_time, cues, exit_kind, closer, last_us = cue.name, cue.time_us, [cue], None, None, cue.time_us
            continue
        if exit_kind in ("goto", "end"):
            p.issue(cue.line, cue.column, f"this cue is never played: it comes after the "
                    f"{'goto' if exit_kind == 'goto' else 'end'} on line {closer.line}",
                    "start a new section with a label, or move it above")
            continue
        if exit_kind == "poll":
            poll = closer
            if isinstance(cue, (GotoCue, EndCue, PollCue)):
                p.issue(cue.line, cue.column, f"poll {poll.id!r} (line {poll.line}) is still open here: "
                        f"the show branches when it closes at {format_time(poll.end_us)}",
                        "put it in the branch sections")
                continue
            if cue.time_us >= poll.end_us:
                p.issue(cue.line, cue.column, f"this cue at {format_time(cue.time_us)} is never played: "
                        f"poll {poll.id!r} closes at {format_time(poll.end_us)} and the show branches there",
                        "move it into the branch sections (or before the poll closes)")
                continue
        if cue.time_us < last_us:
            p.issue(cue.line, cue.column, f"time goes backwards: {format_time(cue.time_us)} is before the cue "
                    f"above ({format_time(last_us)})",
                    "cues of a section run in time order; a branch section starts with its own label")
            continue
        last_us = cue.time_us
        cues.append(cue)
        if isinstance(cue, GotoCue):
            exit_kind, closer = "goto", cue
        elif isinstance(cue, EndCue):
            exit_kind, closer = "end", cue
        elif isinstance(cue, PollCue):
            exit_kind, closer = "poll", cue
    close(None)
    return sections


def _check_flow(p: _Parser, sections: list[Section]) -> bool:
    """Jump targets exist and sit at the jump's time; every section is reached and ends. True if sound."""
    ok = True
    by_label = {s.label: s for s in sections}
    labels = [s.label for s in sections if s.label]

    def target(name: str, line: int, column: int, at_us: int, what: str) -> None:
        nonlocal ok
        section = by_label.get(name) if name else None
        if section is None:
            ok = False
            p.issue(line, column, f"{what} target {name!r} is not a label", did_you_mean(name, labels, "labels"))
        elif section.time_us != at_us:
            ok = False
            p.issue(line, column, f"{what} target {name!r} is at {format_time(section.time_us)}, but the jump "
                    f"happens at {format_time(at_us)}",
                    f"show time runs on across a jump: label {name!r} must be at {format_time(at_us)}")

    for s in sections:
        if s.exit == "goto":
            goto = s.cues[-1]
            target(goto.label, goto.line, goto.label_column, goto.time_us, "goto")
        elif s.exit == "poll":
            for b in s.poll.branches:
                target(b.label, b.line, b.column, s.poll.end_us,
                       f"poll {s.poll.id!r} {'default' if b.key is None else f'branch {b.key}'}")
    if not ok:
        return False
    reached, todo = set(), [sections[0].label]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        s = by_label[name]
        if s.exit in ("fall", "goto"):
            todo.append(s.next)
        elif s.exit == "poll":
            todo.extend(b.label for b in s.poll.branches)
    for s in sections:
        if s.label not in reached:
            if s.label == "" and not s.cues:
                continue
            ok = False
            where = s.cues[0] if s.cues else None
            p.issue(where.line if where else 1, where.column if where else 1,
                    f"section {s.label!r} is never played: no goto, branch or cue above runs into it",
                    "jump or branch to it, or delete it")
        elif s.exit == "off" and not s.cues:
            ok = False
            p.issue(1, 1, "the show has no cues", "add cues, and finish with 'TIME end'")
        elif s.exit == "off":
            ok = False
            last = s.cues[-1]
            p.issue(last.line, last.column,
                    "the show runs off the end of the file after this cue",
                    "finish with 'TIME end', or jump with 'TIME goto LABEL'")
    return ok


def _paths(sections, report) -> Iterator[tuple[tuple[Section, ...], dict[str, str | None]]]:
    by_label = {s.label: s for s in sections}
    count = 0

    def walk(path: list[Section], choices: dict[str, str | None]):
        nonlocal count
        section = path[-1]
        while True:
            if section.exit == "end":
                count += 1
                if count > MAX_PATHS:
                    report(Issue("", 1, 1, f"more than {MAX_PATHS} paths through the polls",
                                 "fewer polls, or polls whose branches share sections"))
                    return
                yield tuple(path), dict(choices)
                return
            if section.exit == "poll":
                poll = section.poll
                seen_targets = set()
                for b in poll.branches:
                    if b.label in seen_targets:
                        continue
                    seen_targets.add(b.label)
                    nxt = by_label[b.label]
                    if nxt in path:
                        report(Issue("", b.line, b.column, f"branch to {b.label!r} loops back without time passing",
                                     "a branch must lead forward in show time"))
                        continue
                    yield from walk([*path, nxt], {**choices, poll.id: b.key})
                    if count > MAX_PATHS:
                        return
                return
            nxt = by_label[section.next]
            if nxt in path:
                cue = section.cues[-1] if section.cues else None
                report(Issue("", cue.line if cue else 1, cue.column if cue else 1,
                             f"the show loops back to {nxt.label!r} without time passing",
                             "every jump must lead forward in show time"))
                return
            path = [*path, nxt]
            section = nxt

    yield from walk([sections[0]], {})


def _check_voyage(p: _Parser, paths) -> None:
    """On every path, an ``orbit`` needs the observer in space: a ``fly`` before it."""
    reported: set[int] = set()
    for path, _ in paths:
        flown = False
        for c in (c for s in path for c in s.cues):
            if isinstance(c, VoyageCue) and c.command == "fly":
                flown = True
            elif isinstance(c, VoyageCue) and c.command == "orbit" and not flown and c.line not in reported:
                reported.add(c.line)
                p.issue(c.line, c.column, "'orbit' with the observer still on the ground: no 'fly to' comes "
                        "before it" + ("" if len(paths) == 1 else " on some path through the polls"),
                        "fly to a body first, e.g. 'fly to moon', then orbit it")


def _check_paths(p: _Parser, sections: list[Section], start_utc: datetime, initial_rate: float) -> list[tuple]:
    """Walk every path; the sim time must stay in the ephemeris's range. Returns the paths."""
    issues: list[Issue] = []
    paths = list(_paths(sections, issues.append))
    for issue in issues:
        p.issue(issue.line, issue.column, issue.message, issue.hint)
    if issues:
        return paths
    if not p.voyage_broken:      # a broken 'fly' line would make every orbit after it an error too
        _check_voyage(p, paths)
    low, high = utc_seconds(SIM_FROM_UTC), utc_seconds(SIM_UNTIL_UTC)
    reported: set[int] = set()
    for path, _ in paths:
        cues = [c for s in path for c in s.cues]
        sim = sim_timeline(start_utc, initial_rate, cues)
        end_s = cues[-1].time_s if cues else 0.0
        movers = [c for c in cues if isinstance(c, (TimeCue, RateCue))]
        previous = 0.0
        for t in sorted({0.0, end_s, *(x for x in sim.breakpoints() if 0.0 <= x <= end_s)}):
            u = sim.utc_s(t)
            if low <= u < high:
                previous = t
                continue
            # Between breakpoints the sim time is monotonic: find where it leaves the range.
            inside = previous
            for _ in range(60):
                mid = 0.5 * (inside + t)
                inside, t = (mid, t) if low <= sim.utc_s(mid) < high else (inside, mid)
            culprit = None
            for c in movers:
                if c.time_s <= t:
                    culprit = c
            if culprit is not None:
                line, column = culprit.line, culprit.column
            else:   # the header's rate runs the start time out of range
                line, column = p.header.get("rate", p.header["start"])[1], 1
            if line in reported:
                break
            reported.add(line)
            edge = SIM_UNTIL_UTC if u >= high else SIM_FROM_UTC
            p.issue(line, column, f"the sim time leaves the ephemeris (JPL DE421) at show time "
                    f"{format_time(round(t * MICROS_PER_S))}, passing {edge:%Y-%m-%d}",
                    f"keep it from {_iso(SIM_FROM_UTC)} to {_iso(SIM_UNTIL_UTC)}: a slower rate or a shorter move")
            break
    return paths


# ----------------------------------------------------------------- entry points


def parse_show(text: str, name: str = "<show>", base_dir: Path | str | None = None, *,
               path: Path | None = None, now_utc: datetime | None = None) -> Show:
    """Parse and validate a show's text; raises ShowError listing every problem.

    ``base_dir``: where media paths start (default: the current directory). ``now_utc``: what
    ``start now`` means while validating (default: the current time).
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    p = _Parser(text, name, base)
    p.run()
    if p.issues and p.flow_broken:
        # The structure is checked only where the flow lines all parsed, so one broken label
        # does not also report every jump to it.
        raise ShowError([Issue(name, i.line, i.column, i.message, i.hint) for i in p.issues])
    sections = _sections(p)
    flow_ok = _check_flow(p, sections)
    header = {k: v for k, (v, _) in p.header.items()}
    initial = Initial(
        rate=header.get("rate", 1.0), site=header.get("site", Initial().site),
        view_az_deg=header.get("view", (180.0, 0.0))[0], view_alt_deg=header.get("view", (180.0, 0.0))[1],
        zoom=header.get("zoom", 1.0), layers=header.get("layers", DEFAULT_LAYERS),
        blackout=header.get("blackout", 0.0))
    start_utc = header.get("start")
    if flow_ok and "start" in p.header:
        _check_paths(p, sections, start_utc or now_utc or datetime.now(timezone.utc), initial.rate)
    if p.issues:
        raise ShowError([Issue(name, i.line, i.column, i.message, i.hint) for i in p.issues])
    return Show(name=name, path=path, title=header["title"], languages=header["languages"], start_utc=start_utc,
                initial=initial, cues=tuple(p.cues), sections=tuple(sections))


def load_show(path: Path | str, *, now_utc: datetime | None = None) -> Show:
    """Read and validate a show file (UTF-8); media paths are relative to its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ShowError([Issue(str(path), 0, 0, f"cannot read the show: {e}",
                               "give the path of a UTF-8 .show file")]) from None
    return parse_show(text, str(path), path.parent, path=path.resolve(), now_utc=now_utc)
