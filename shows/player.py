"""The show player: the scene at any show time, a pure function of (show, t, poll results).

:class:`Player` turns a valid :class:`~shows.format.Show` into scenes. For a
set of poll results (poll id -> the winning option's key, or None when nobody
voted) the show's path is fixed (``Show.walk``): the sections played, in
order. Each path is compiled once into a timeline of channels (sim time, rate,
site, view, zoom, each layer, blackout, eye separation), of timed items (texts,
images, clips, 3D models, polls, holds, audio cues) and of the space voyage's
cues, each with the sim time, site and view at its own show time (the master
replays them into a domectl.voyage.Voyage: domectl/showvoyage.py);
``scene_at(t, results)`` evaluates them at
``t`` with binary searches and closed forms, so seeking is exact and costs
the same as playing, and an offline render equals the live frame for the
same ``t``.

Show time across a branch (shows/README.md, "Branches"): every label sits at
a fixed show time, and a jump or branch lands on a label at the very time it
happens (the validator checks it), so show time never jumps: branches are
alternatives for the same stretch of the timeline. The scene at ``t`` on a
branch carries over everything set before it on its path.

:class:`Playhead` is the live control (play, pause, seek, holds, skip) as
pure logic over an injected clock: it maps the master's time (``frame /
fps``) to show time, which runs at 1 while playing and stops at hold points.

:func:`subtitles` lists a path's texts in one language; :func:`format_srt`,
:func:`format_webvtt` and :func:`write_subtitles` write them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from domectl.frame import ModelView, Overlay
from domectl.layermix import LAYER_NAMES
from domectl.placement import place_model
from domectl.places import HALL, find_place
from shows.format import (
    EASINGS,
    SIM_FROM_UTC,
    SIM_UNTIL_UTC,
    UNIX_EPOCH,
    AudioCue,
    BlackoutCue,
    Channel,
    ClipCue,
    Cue,
    HoldCue,
    ImageCue,
    Issue,
    Label,
    LayerCue,
    ModelCue,
    PointerCue,
    PollCue,
    RateCue,
    Section,
    Show,
    ShowError,
    SimTimeline,
    Site,
    SiteCue,
    StereoCue,
    TextCue,
    TimeCue,
    ViewCue,
    VoyageCue,
    ZoomCue,
    parse_clock,
    utc_seconds,
)

#: Fades of texts, images and clips follow this curve (as the master's layer fades).
FADE_EASE = EASINGS["smooth"]
#: A poll on the dome: options under the question, and the seconds left to vote.
POLL_RGB = (1.0, 0.85, 0.45)


# ----------------------------------------------------------------- the scene


@dataclass(frozen=True)
class ShownText:
    """A text on the dome now: every language it has, where, and its opacity (fades included)."""

    variants: Mapping[str, str]
    dome_az_deg: float
    dome_elev_deg: float
    size_deg: float
    opacity: float
    rgb: tuple[float, float, float]
    start_s: float
    end_s: float
    line: int

    def text(self, language: str, fallback: str) -> str:
        """The text in ``language``, else in the show's first language ``fallback``."""
        return self.variants.get(language) or self.variants[fallback]


@dataclass(frozen=True)
class ShownImage:
    path: str
    dome_az_deg: float
    dome_elev_deg: float
    size_deg: float
    opacity: float
    line: int


@dataclass(frozen=True)
class ShownClip:
    """A clip's frame for now: ``frame_path`` is frame ``frame`` of ``frame_count``.

    ``fulldome``: the frame is a domemaster filling the dome (no placement);
    else it is placed like an image.
    """

    frame_path: str
    frame: int
    frame_count: int
    fulldome: bool
    dome_az_deg: float
    dome_elev_deg: float
    size_deg: float
    opacity: float
    line: int


@dataclass(frozen=True)
class ActivePoll:
    poll: PollCue
    elapsed_s: float
    remaining_s: float

    @property
    def id(self) -> str:
        return self.poll.id


@dataclass(frozen=True)
class ScriptPosition:
    """Where in the script show time is: the section, the last cue at or before it, the next cue."""

    label: str                    # "" before the first label
    label_time_s: float
    cue_line: int | None          # line of the last cue at or before t (None before the first)
    cue_time_s: float | None
    next_cue_time_s: float | None


@dataclass(frozen=True)
class VoyageEntry:
    """A voyage cue met on the path, with what the master needs to plan it as the show did:
    the sim time (``utc``), the site (lat_deg, lon_deg, elevation_m) and the view at the cue's
    own show time ``time_s`` (the scene's values there). ``command``: "fly", "orbit", "home"
    or "park"; ``target``: the ephemeris name ("Moon"; "" for none); ``distance_m`` or
    ``radii``: where a flight ends (both None: the engine's default)."""

    time_s: float
    command: str
    target: str
    distance_m: float | None
    radii: float | None
    utc: datetime
    site: tuple[float, float, float]
    view_az_deg: float
    view_alt_deg: float
    line: int


@dataclass(frozen=True)
class ShowScene:
    """Everything the show sets at one show time (see module docstring)."""

    show_time_s: float
    utc: datetime
    rate: float                              # the rate channel (sim s per show s); a time move overrides it
    site: tuple[float, float, float]         # (latitude_deg, longitude_deg, elevation_m)
    view_az_deg: float
    view_alt_deg: float
    zoom: float
    layers: Mapping[str, float]              # every layer, drawing order (LAYER_NAMES)
    pointer: str
    blackout: float                          # 0 none .. 1 black
    texts: tuple[ShownText, ...]
    images: tuple[ShownImage, ...]
    clips: tuple[ShownClip, ...]
    poll: ActivePoll | None
    hold: HoldCue | None                     # the hold point exactly at this show time
    position: ScriptPosition
    fallback_language: str
    voyage: tuple[VoyageEntry, ...] = ()     # the voyage cues at or before this show time, in order
    models: tuple[ModelView, ...] = ()      # 3D models showing now (opacity > 0), in cue order
    eye_separation_m: float | None = None   # the last stereo cue's: None the hall's, inf "auto"

    @property
    def fulldome(self) -> ShownClip | None:
        """The full-dome clip frame showing now, if any (the last started wins)."""
        full = [c for c in self.clips if c.fulldome]
        return full[-1] if full else None

    def overlays(self, language: str) -> tuple[Overlay, ...]:
        """The full-dome clip frame, images, placed clip frames, texts (in ``language``, else the
        show's first) and the open poll, as the FrameState carries them, back to front. Invisible
        ones are left out."""
        out: list[Overlay] = []
        full = self.fulldome
        if full is not None and full.opacity > 0.0:
            out.append(Overlay("fulldome", full.frame_path, 0.0, 90.0, 180.0, full.opacity))
        for im in self.images:
            if im.opacity > 0.0:
                out.append(Overlay("image", im.path, im.dome_az_deg, im.dome_elev_deg, im.size_deg, im.opacity))
        for c in self.clips:
            if not c.fulldome and c.opacity > 0.0:
                out.append(Overlay("image", c.frame_path, c.dome_az_deg, c.dome_elev_deg, c.size_deg, c.opacity))
        for tx in self.texts:
            if tx.opacity > 0.0:
                out.append(Overlay("text", tx.text(language, self.fallback_language), tx.dome_az_deg,
                                   tx.dome_elev_deg, tx.size_deg, tx.opacity, tx.rgb))
        if self.poll is not None:
            p, fb = self.poll.poll, self.fallback_language
            lines = [p.question_text(language, fb)]
            lines += [f"{o.key}  {o.text(language, fb)}" for o in p.options]
            lines.append(f"{math.ceil(self.poll.remaining_s)} s")
            out.append(Overlay("text", "\n".join(lines), p.dome_az_deg, p.dome_elev_deg, p.size_deg, 1.0, POLL_RGB))
        return tuple(out)

    def frame_layers(self) -> tuple[tuple[str, float], ...]:
        """Layer opacities for a FrameState, dimmed by the blackout level (black at 1)."""
        keep = 1.0 - self.blackout
        return tuple((name, opacity * keep) for name, opacity in self.layers.items())


# ----------------------------------------------------------------- site travel


def _unit(lat_deg: float, lon_deg: float) -> tuple[float, float, float]:
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def _latlon(v) -> tuple[float, float]:
    x, y, z = v
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def _slerp(a, b, k: float):
    """Great-circle interpolation of unit vectors (k in [0, 1]); antipodes go over a pole."""
    dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b, strict=True))))
    omega = math.acos(dot)
    if omega < 1e-12:
        return a
    if math.pi - omega < 1e-9:
        # Antipodal: no unique great circle; go through the point 90 deg away toward a pole.
        pole = (0.0, 0.0, 1.0) if abs(a[2]) < 0.9 else (1.0, 0.0, 0.0)
        d = sum(x * y for x, y in zip(a, pole, strict=True))
        mid = [p - d * x for p, x in zip(pole, a, strict=True)]
        norm = math.sqrt(sum(x * x for x in mid))
        mid = [x / norm for x in mid]
        return _slerp(a, mid, 2 * k) if k < 0.5 else _slerp(mid, b, 2 * k - 1)
    s = math.sin(omega)
    wa, wb = math.sin((1 - k) * omega) / s, math.sin(k * omega) / s
    return tuple(wa * x + wb * y for x, y in zip(a, b, strict=True))


class _SiteChannel:
    """The observer's site, travelling along great circles (elevation eased linearly)."""

    def __init__(self, initial: tuple[float, float, float]):
        self.initial = initial
        self.starts: list[float] = []
        self._segs: list[tuple] = []

    def add(self, t0: float, over_s: float, target: tuple[float, float, float], ease: str) -> None:
        start = self.value(t0)
        self.starts.append(t0)
        self._segs.append((t0, over_s, start, target, _unit(start[0], start[1]), _unit(target[0], target[1]),
                           EASINGS[ease]))

    def value(self, t: float) -> tuple[float, float, float]:
        i = bisect_right(self.starts, t) - 1
        if i < 0:
            return self.initial
        t0, d, start, target, a, b, e = self._segs[i]
        if d <= 0.0 or t >= t0 + d:
            return target
        k = e.f((t - t0) / d)
        if k <= 0.0:
            return start
        lat, lon = _latlon(_slerp(a, b, k))
        return (lat, lon, start[2] + (target[2] - start[2]) * k)


# ----------------------------------------------------------------- one path, compiled


class _Step:
    """A value that holds from its cue until the next (pointer), by binary search."""

    def __init__(self, initial):
        self.initial, self.starts, self.values = initial, [], []

    def add(self, t: float, value) -> None:
        self.starts.append(t)
        self.values.append(value)

    def value(self, t: float):
        i = bisect_right(self.starts, t) - 1
        return self.initial if i < 0 else self.values[i]


class _Items:
    """Timed items (texts, images, clips, polls) active on [start, end), found by binary search."""

    def __init__(self, items: list):
        self.items = sorted(items, key=lambda c: c.time_s)      # stable: file order at equal times
        self.starts = [c.time_s for c in self.items]
        self.longest_s = max((self._end(c) - c.time_s for c in self.items), default=0.0)

    @staticmethod
    def _end(c) -> float:
        return c.end_s

    def active(self, t: float) -> list:
        lo = bisect_left(self.starts, t - self.longest_s)
        hi = bisect_right(self.starts, t)
        return [c for c in self.items[lo:hi] if t < self._end(c)]


def _fade(c, t: float) -> float:
    ramp_in = (t - c.time_s) / c.fade_in_s if c.fade_in_s > 0.0 else 1.0
    ramp_out = (c.end_s - t) / c.fade_out_s if c.fade_out_s > 0.0 else 1.0
    return FADE_EASE.f(min(1.0, max(0.0, min(ramp_in, ramp_out))))


def _site_tuple(site: Site, hall_site: tuple[float, float, float]) -> tuple[float, float, float]:
    return hall_site if site.is_hall else (site.latitude_deg, site.longitude_deg, site.elevation_m)


class _Timeline:
    """One path of a show, compiled: every channel and item list, ready to evaluate."""

    def __init__(self, show: Show, sections: tuple[Section, ...], start_utc: datetime,
                 hall_site: tuple[float, float, float]):
        self.show = show
        self.sections = sections
        cues: list[Cue] = [c for s in sections for c in s.cues]
        self.cues = cues
        init = show.initial
        self.end_s = cues[-1].time_s
        rate = Channel(init.rate)
        for c in cues:
            if isinstance(c, RateCue):
                rate.add(c.time_s, c.over_s, c.rate, c.ease)
        self.rate = rate
        self.sim = SimTimeline(utc_seconds(start_utc), rate)
        self.az, self.alt = Channel(init.view_az_deg), Channel(init.view_alt_deg)
        self.log_zoom = Channel(math.log(init.zoom))
        self.blackout = Channel(init.blackout)
        self.layers = {name: Channel(1.0 if name in init.layers else 0.0) for name in LAYER_NAMES}
        self.site = _SiteChannel(_site_tuple(init.site, hall_site))
        self.pointer = _Step("")
        self.eye_separation = _Step(None)
        self.labels = _Step(("", 0.0))
        holds: dict[float, HoldCue] = {}
        texts, images, clips, polls, audio, models, voyage_cues = [], [], [], [], [], [], []
        for c in cues:
            t = c.time_s
            if isinstance(c, TimeCue):
                self.sim.add(t, c.over_s, c.ease, delta_s=c.delta_s,
                             target_s=None if c.target_utc is None else utc_seconds(c.target_utc))
            elif isinstance(c, ViewCue):
                a = self.az.value(t)
                self.az.add(t, c.over_s, a + (c.az_deg - a + 180.0) % 360.0 - 180.0, c.ease)   # the short way
                self.alt.add(t, c.over_s, c.alt_deg, c.ease)
            elif isinstance(c, ZoomCue):
                self.log_zoom.add(t, c.over_s, math.log(c.zoom), c.ease)
            elif isinstance(c, BlackoutCue):
                self.blackout.add(t, c.over_s, c.level, c.ease)
            elif isinstance(c, LayerCue):
                for name in c.names:
                    self.layers[name].add(t, c.over_s, c.opacity, c.ease)
            elif isinstance(c, SiteCue):
                self.site.add(t, c.over_s, _site_tuple(c.site, hall_site), c.ease)
            elif isinstance(c, PointerCue):
                self.pointer.add(t, c.target)
            elif isinstance(c, StereoCue):
                self.eye_separation.add(t, c.eye_separation_m)
            elif isinstance(c, ModelCue):
                models.append(c)
            elif isinstance(c, VoyageCue):
                voyage_cues.append(c)
            elif isinstance(c, Label):
                self.labels.add(t, (c.name, t))
            elif isinstance(c, HoldCue):
                holds.setdefault(t, c)
            elif isinstance(c, TextCue):
                texts.append(c)
            elif isinstance(c, ImageCue):
                images.append(c)
            elif isinstance(c, ClipCue):
                clips.append(c)
            elif isinstance(c, PollCue):
                polls.append(c)
            elif isinstance(c, AudioCue):
                audio.append(c)
        self.holds = holds
        self.hold_times = sorted(holds)
        self.texts, self.images, self.clips, self.polls = _Items(texts), _Items(images), _Items(clips), _Items(polls)
        self._variants = {id(c): dict(c.variants) for c in texts}
        self.audio = audio
        self.audio_times = [c.time_s for c in audio]
        self.cue_times = [c.time_s for c in cues]
        self.cue_lines = [c.line for c in cues]
        self._low_s, self._high_s = utc_seconds(SIM_FROM_UTC), utc_seconds(SIM_UNTIL_UTC)
        self.models = _Items(models)
        # Every channel is complete: each voyage cue's entry holds the scene's values at its time.
        self.voyage = tuple(VoyageEntry(
            c.time_s, c.command, c.target, c.distance_m, c.radii, self.utc(c.time_s), self.site.value(c.time_s),
            self.az.value(c.time_s) % 360.0, self.alt.value(c.time_s), c.line) for c in voyage_cues)
        self.voyage_times = [e.time_s for e in self.voyage]

    def utc(self, t: float) -> datetime:
        """The sim time at show time ``t`` (held inside the ephemeris's range)."""
        return UNIX_EPOCH + timedelta(seconds=min(max(self.sim.utc_s(t), self._low_s), self._high_s))

    def scene(self, t: float) -> ShowScene:
        t = min(max(float(t), 0.0), self.end_s)
        i = bisect_right(self.cue_times, t) - 1
        label, label_t = self.labels.value(t)
        position = ScriptPosition(label, label_t, self.cue_lines[i] if i >= 0 else None,
                                  self.cue_times[i] if i >= 0 else None,
                                  self.cue_times[i + 1] if i + 1 < len(self.cue_times) else None)
        texts = tuple(ShownText(self._variants[id(c)], c.dome_az_deg, c.dome_elev_deg, c.size_deg, _fade(c, t),
                                c.rgb, c.time_s, c.end_s, c.line) for c in self.texts.active(t))
        images = tuple(ShownImage(str(c.path), c.dome_az_deg, c.dome_elev_deg, c.size_deg, _fade(c, t), c.line)
                       for c in self.images.active(t))
        clips = []
        for c in self.clips.active(t):
            k = c.frame_index(t)
            clips.append(ShownClip(str(c.frames[k]), k, len(c.frames), c.fulldome, c.dome_az_deg, c.dome_elev_deg,
                                   c.size_deg, _fade(c, t), c.line))
        open_polls = self.polls.active(t)
        poll = None
        if open_polls:
            p = open_polls[-1]
            poll = ActivePoll(p, t - p.time_s, p.end_s - t)
        models = []
        for c in self.models.active(t):
            opacity = _fade(c, t)
            if opacity > 0.0:
                models.append(place_model(c.name, on_dome=c.on_dome, az_deg=c.az_deg, elev_deg=c.elev_deg,
                                          distance_m=c.distance_m, scale=c.scale, heading_deg=c.heading_deg,
                                          pitch_deg=c.pitch_deg, opacity=opacity))
        return ShowScene(
            show_time_s=t, utc=self.utc(t), rate=self.rate.value(t),
            site=self.site.value(t), view_az_deg=self.az.value(t) % 360.0, view_alt_deg=self.alt.value(t),
            zoom=math.exp(self.log_zoom.value(t)),
            layers={name: ch.value(t) for name, ch in self.layers.items()}, pointer=self.pointer.value(t),
            blackout=self.blackout.value(t), texts=texts, images=images, clips=tuple(clips), poll=poll,
            hold=self.holds.get(t), position=position, fallback_language=self.show.fallback_language,
            voyage=self.voyage[:bisect_right(self.voyage_times, t)], models=tuple(models),
            eye_separation_m=self.eye_separation.value(t))

    def audio_between(self, t0: float | None, t1: float) -> tuple[AudioCue, ...]:
        lo = 0 if t0 is None else bisect_right(self.audio_times, t0)
        return tuple(self.audio[lo:bisect_right(self.audio_times, t1)])


# ----------------------------------------------------------------- the player


class Player:
    """Scenes of one show. ``start_utc`` replaces the header's start (required for ``start now``:
    the master's start time); ``hall_site`` is what ``site hall`` means (default: the reference hall).

    >>> player = Player(load_show("shows/live-sky-tour.show"))          # doctest: +SKIP
    >>> player.scene_at(110.0, {"next": "1"}).pointer                   # doctest: +SKIP
    'moon'
    """

    def __init__(self, show: Show, *, start_utc: datetime | None = None,
                 hall_site: tuple[float, float, float] | None = None):
        if start_utc is None and show.start_utc is None:
            raise ShowError([Issue(show.name, 0, 0, "this show says 'start now': give the Player the "
                                                    "master's start time (Player(show, start_utc=...))")])
        self.show = show
        self.start_utc = start_utc or show.start_utc
        self.hall_site = tuple(hall_site) if hall_site is not None else find_place(HALL).site
        self._poll_ids = tuple(p.id for p in show.polls)
        self._by_results: dict[tuple, _Timeline] = {}
        self._by_path: dict[tuple[str, ...], _Timeline] = {}

    def timeline(self, poll_results: Mapping[str, object] | None = None) -> _Timeline:
        results = poll_results or {}
        key = tuple(None if results.get(pid) is None else str(results.get(pid)) for pid in self._poll_ids)
        timeline = self._by_results.get(key)
        if timeline is None:
            sections = self.show.walk(results)
            path = tuple(s.label for s in sections)
            timeline = self._by_path.get(path)
            if timeline is None:
                timeline = _Timeline(self.show, sections, self.start_utc, self.hall_site)
                self._by_path[path] = timeline
            self._by_results[key] = timeline
        return timeline

    def scene_at(self, show_time_s: float, poll_results: Mapping[str, object] | None = None) -> ShowScene:
        """The scene at ``show_time_s`` (clamped to [0, duration]) for these poll results
        (poll id -> winning option key; None or absent: nobody voted, the default branch)."""
        return self.timeline(poll_results).scene(show_time_s)

    def cues_between(self, t0_s: float | None, t1_s: float,
                     poll_results: Mapping[str, object] | None = None) -> tuple[AudioCue, ...]:
        """Audio cues fired in (t0_s, t1_s] (t0_s None: from before the start), in order: call it with
        consecutive frames' show times and every cue fires exactly once."""
        return self.timeline(poll_results).audio_between(t0_s, t1_s)

    def duration_s(self, poll_results: Mapping[str, object] | None = None) -> float:
        return self.timeline(poll_results).end_s

    def cue_times_s(self, poll_results: Mapping[str, object] | None = None) -> tuple[float, ...]:
        return tuple(self.timeline(poll_results).cue_times)

    def hold_times_s(self, poll_results: Mapping[str, object] | None = None) -> tuple[float, ...]:
        return tuple(self.timeline(poll_results).hold_times)

    def label_time_s(self, label: str) -> float:
        return self.show.label_time_s(label)


# ----------------------------------------------------------------- live control


@dataclass(frozen=True)
class Tick:
    """What the master needs for one frame: the show time, the playhead's state, the hold it waits
    at (if any) and the audio cues to send now."""

    show_time_s: float
    state: str                    # "playing", "paused", "held" or "ended"
    hold: HoldCue | None
    cues: tuple[AudioCue, ...]


class Playhead:
    """Live control of show time: pure logic over an injected clock (no threads, no clock reads).

    ``now_s`` is the master's time in seconds, e.g. ``frame / fps``: while playing, show time
    advances 1 s per second of it. Show time stops at each hold point until :meth:`resume`
    (or :meth:`play`, or :meth:`skip`), and at the end of the show. The poll results steer
    the path (holds, cues and the end come from it): the master records each poll's winner
    with :meth:`set_poll_result` when it closes, before the first frame past its end.

    A hold stops the playhead when show time reaches it by playing, or when a seek lands on
    it; releasing a hold lets show time run past it.
    """

    def __init__(self, player: Player, poll_results: Mapping[str, object] | None = None):
        self.player = player
        self.poll_results: dict[str, object] = dict(poll_results or {})
        self._playing = False
        self._anchor_show_s = 0.0
        self._anchor_now_s = 0.0
        self._armed_from_s = 0.0     # holds at (or, if _armed_strict, after) this time stop the playhead
        self._armed_strict = False
        self._fire_from_s: float | None = 0.0    # the next tick fires cues from here, inclusive
        self._last_tick_s = 0.0

    # ------------------------------------------------------------ reading

    def _next_hold_s(self) -> float | None:
        times = self.player.hold_times_s(self.poll_results)
        low_s, strict = self._armed_from_s, self._armed_strict
        if self._anchor_show_s > low_s:
            # Never a hold behind the playhead (a poll result recorded late changes the path).
            low_s, strict = self._anchor_show_s, False
        i = (bisect_right if strict else bisect_left)(times, low_s)
        return times[i] if i < len(times) else None

    def show_time(self, now_s: float) -> float:
        """Show time at the master's time ``now_s``."""
        if not self._playing:
            return self._anchor_show_s
        t = self._anchor_show_s + (now_s - self._anchor_now_s)
        hold = self._next_hold_s()
        if hold is not None:
            t = min(t, hold)
        return min(t, self.player.duration_s(self.poll_results))

    def hold(self, now_s: float) -> HoldCue | None:
        """The hold point the playhead waits at, or None."""
        t = self.show_time(now_s)
        if t == self._next_hold_s():
            return self.player.timeline(self.poll_results).holds[t]
        return None

    def state(self, now_s: float) -> str:
        """"ended" at the end of the show, else "paused", "held" (stopped at a hold point) or "playing"."""
        t = self.show_time(now_s)
        if t >= self.player.duration_s(self.poll_results):
            return "ended"
        if not self._playing:
            return "paused"
        return "held" if t == self._next_hold_s() else "playing"

    @property
    def playing(self) -> bool:
        return self._playing

    def scene(self, now_s: float):
        return self.player.scene_at(self.show_time(now_s), self.poll_results)

    # ------------------------------------------------------------ commands

    def _anchor(self, show_s: float, now_s: float) -> None:
        self._anchor_show_s, self._anchor_now_s = show_s, now_s

    def play(self, now_s: float) -> None:
        """Start or continue; at a hold point, release it (the same as :meth:`resume`)."""
        t = self.show_time(now_s)
        if t == self._next_hold_s():
            self._armed_from_s, self._armed_strict = t, True
        self._anchor(t, now_s)
        self._playing = True

    def resume(self, now_s: float) -> None:
        """Continue from a hold point (or a pause)."""
        self.play(now_s)

    def pause(self, now_s: float) -> None:
        self._anchor(self.show_time(now_s), now_s)
        self._playing = False

    def seek(self, target: float | str, now_s: float) -> float:
        """Jump to a show time (seconds, or 'HH:MM:SS.s' / 'MM:SS') or a label; returns the show time.

        Seeking to a label on a branch the current poll results do not take sets the results
        that lead there. Holds at the target stop the playhead there; cues at the target fire
        at the next tick.
        """
        if isinstance(target, str):
            clock = parse_clock(target)
            if clock is not None:
                t = clock / 1e6
            else:
                t = self.player.label_time_s(target)
                path = self.player.timeline(self.poll_results).sections
                if all(s.label != target for s in path):
                    self.poll_results.update(self.player.show.results_reaching(target))
        else:
            t = float(target)
        t = min(max(t, 0.0), self.player.duration_s(self.poll_results))
        self._anchor(t, now_s)
        self._armed_from_s, self._armed_strict = t, False
        self._fire_from_s = t
        return t

    def skip(self, now_s: float) -> float:
        """Jump to the next cue after the current show time (releasing a hold); returns the show time."""
        t = self.show_time(now_s)
        times = self.player.cue_times_s(self.poll_results)
        i = bisect_right(times, t)
        return self.seek(times[i] if i < len(times) else self.player.duration_s(self.poll_results), now_s)

    def set_poll_result(self, poll_id: str, choice) -> None:
        """Record a poll's winner (None: nobody voted); ValueError for an unknown poll or option."""
        for poll in self.player.show.polls:
            if poll.id == poll_id:
                poll.target(choice)
                self.poll_results[poll_id] = None if choice is None else str(choice)
                return
        raise ValueError(f"no poll {poll_id!r} in {self.player.show.name}; polls: "
                         f"{', '.join(p.id for p in self.player.show.polls) or 'none'}")

    # ------------------------------------------------------------ standby mirror

    def mirror(self) -> dict:
        """The playhead as plain JSON (for the standby master): with the same show and
        :meth:`restore`, a fresh playhead continues exactly where this one is."""
        return {"playing": self._playing, "anchor_show_s": self._anchor_show_s,
                "anchor_now_s": self._anchor_now_s, "armed_from_s": self._armed_from_s,
                "armed_strict": self._armed_strict, "fire_from_s": self._fire_from_s,
                "last_tick_s": self._last_tick_s,
                "poll_results": {k: None if v is None else str(v) for k, v in self.poll_results.items()}}

    def restore(self, mirror: Mapping) -> None:
        """Continue from :meth:`mirror`'s output; ValueError (naming the field) when it does not fit
        this show. Nothing changes unless all of it fits."""
        try:
            numbers = {k: float(mirror[k]) for k in ("anchor_show_s", "anchor_now_s", "armed_from_s",
                                                      "last_tick_s")}
            fire = mirror["fire_from_s"]
            fire = None if fire is None else float(fire)
            playing, strict = mirror["playing"], mirror["armed_strict"]
            results = dict(mirror["poll_results"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"playhead mirror: {e!r}") from None
        if not isinstance(playing, bool) or not isinstance(strict, bool):
            raise ValueError("playhead mirror: playing and armed_strict must be true or false")
        if not all(map(math.isfinite, [*numbers.values(), 0.0 if fire is None else fire])):
            raise ValueError("playhead mirror: times must be finite")
        polls = {p.id: p for p in self.player.show.polls}
        for poll_id, choice in results.items():
            if poll_id not in polls:
                raise ValueError(f"playhead mirror: no poll {poll_id!r} in {self.player.show.name}")
            polls[poll_id].target(choice)      # ValueError for an option the poll does not have
        self.poll_results = {k: None if v is None else str(v) for k, v in results.items()}
        self._playing, self._armed_strict, self._fire_from_s = playing, strict, fire
        self._anchor_show_s, self._anchor_now_s = numbers["anchor_show_s"], numbers["anchor_now_s"]
        self._armed_from_s, self._last_tick_s = numbers["armed_from_s"], numbers["last_tick_s"]

    def mark_sent(self, show_s: float) -> None:
        """Count the audio cues up to ``show_s`` as fired: the next tick fires only later ones."""
        self._last_tick_s = max(self._last_tick_s, show_s)
        self._fire_from_s = None

    def tick(self, now_s: float) -> Tick:
        """Advance to ``now_s``: the show time and the audio cues since the previous tick (each once)."""
        t = self.show_time(now_s)
        if self._fire_from_s is not None:
            lo = math.nextafter(self._fire_from_s, -math.inf)
            self._fire_from_s = None
        else:
            lo = self._last_tick_s
        cues = self.player.cues_between(lo, t, self.poll_results) if t > lo else ()
        self._last_tick_s = t
        return Tick(t, self.state(now_s), self.hold(now_s), cues)


# ----------------------------------------------------------------- subtitles


def subtitles(show: Show, poll_results: Mapping[str, object] | None = None,
              language: str | None = None) -> list[tuple[float, float, str]]:
    """The texts of the path these poll results take, as (start_s, end_s, text) in ``language``
    (default, and where a text lacks it: the show's first language), in show-time order."""
    fallback = show.fallback_language
    lang = language or fallback
    texts = [c for s in show.walk(poll_results) for c in s.cues if isinstance(c, TextCue)]
    return [(c.time_s, c.end_s, c.text(lang, fallback)) for c in sorted(texts, key=lambda c: c.time_s)]


def _stamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def format_srt(entries) -> str:
    """SubRip: numbered blocks, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, blank-line separated."""
    blocks = [f"{n}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n"
              for n, (a, b, text) in enumerate(entries, 1)]
    return "\n".join(blocks)


def format_webvtt(entries) -> str:
    """WebVTT: a ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    blocks = [f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text.replace('-->', '->')}\n" for a, b, text in entries]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_subtitles(path: Path | str, entries) -> Path:
    """Write ``entries`` as SRT (``.srt``) or WebVTT (``.vtt``), by the file's suffix, whole or
    not at all (a temporary file renamed over it)."""
    from domectl.atomic import atomic_write_bytes

    path = Path(path)
    if path.suffix == ".srt":
        text = format_srt(entries)
    elif path.suffix == ".vtt":
        text = format_webvtt(entries)
    else:
        raise ValueError(f"{path}: subtitle files end in .srt or .vtt")
    atomic_write_bytes(path, text.encode("utf-8"), durable=False)
    return path
