"""The master: the show clock, the per-frame sky, and the swap barrier over the link.

One :class:`Master` drives any number of IG nodes through a
:class:`~domectl.transport.MasterLink`. Per frame it computes one
:class:`~domectl.frame.FrameState` (scene + ephemeris), publishes it, collects
``ready`` messages into the :class:`~domectl.protocol.Barrier` and publishes
``swap`` when every node in the barrier is ready or the deadline passes.

Two pacings:

* **live**: frame n starts at ``t0 + n / fps`` and swaps by ``swap_deadline_ms``
  after its start; late nodes leave the barrier and catch up.
* **lockstep** (offline runs, software rendering): the next frame starts as
  soon as the last one swapped and the deadline is generous, so every node
  renders every frame however slow its rasteriser.

The clock is injected (``clock_ns``); show time is ``frame / fps``, never read
from a wall clock, so a run is reproducible frame for frame.

Calibration: the master holds the hall's calibration set (``calibration``,
from the store: :meth:`Master.use_store_calibration`) with the store version
it came from and whether a technician has changed it since
(``calibration_dirty``). Every change (:meth:`Master.set_calibration`) makes
a new revision; the frame loop publishes the newest at most every
CALIBRATION_MIN_INTERVAL_S (changes in between coalesce) and repeats it every
CALIBRATION_REPEAT_S; a joining node gets it before its snapshot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from domectl.astro import standard_pressure_mbar
from domectl.config import Hall, Stereo
from domectl.errors import DomectlError, LocalError, PeerError
from domectl import voyage as voyage_mod
from domectl.frame import BodyView, FrameState, ModelView, Overlay
from domectl.layermix import DEFAULT_FADE_S, Fade, LayerMix
from domectl.motion import Path as MovePath
from domectl.projection import zoom_max_magnification
from domectl.simclock import SimClock
from domectl.status import WRITE_INTERVAL_S, write_status
from domectl.voyage import Voyage
from domectl.protocol import (
    HEARTBEAT_INTERVAL_S, MASTER_ID, MIRROR_INTERVAL_S, Barrier, Bye, Calibration, Frame, Heartbeat, Hello,
    Mirror, Ready, Snapshot, Swap, SwapDecision, calibration_message, calibration_set, decode,
)

if TYPE_CHECKING:
    from calibration.model import CalibrationSet
    from domectl.showrun import ShowRun
    from shows.player import ShowScene

log = logging.getLogger("domectl.master")

def model_radius_m(model: ModelView) -> float:
    """How far a placed model reaches from its origin, metres (its mesh's bounding radius x scale)."""
    from domectl.meshes import load_model

    return float(load_model(model.name).bounding_radius) * float(model.scale)


# Lockstep deadline: software rendering of a 118k-star slice by 24 processes on two cores
# takes seconds per frame; a node that has not answered in this long is stuck, not slow.
LOCKSTEP_DEADLINE_S = 60.0
# In lockstep, nodes share the machine's cores with each other and render for seconds without
# a word (software GL): a node is dead only after this much silence, not after 0.6 s.
LOCKSTEP_LIVENESS_S = 30.0
# While nodes join, the master publishes a heartbeat this often: a node says hello only after
# it has heard the PUB socket, so it cannot miss the first frame to ZeroMQ's slow-joiner gap.
JOIN_BEACON_S = 0.05
# Silent nodes are looked for at most this often (not after each of 24 readies a frame): well
# inside the 0.6 s liveness, so a dead node still leaves the barrier within about 0.65 s.
EXPIRE_EVERY_S = 0.05
# The identity each IG's DEALER sets ("ig07"), precomputed for the per-message check.
_IDENTITIES = {ig: f"ig{ig:02d}".encode() for ig in range(0, 1000)}
# A technician holding an arrow key sends ~30 nudges a second: publishing at most 10 calibrations
# a second coalesces them (the dome follows within 0.1 s, 6 frames at 60 Hz) and bounds what 24
# nodes must decode and apply to 10 small updates a second.
CALIBRATION_MIN_INTERVAL_S = 0.1
# The calibration is published again this often though nothing changed: a standby started after
# the last change, or a node whose copy was dropped at the PUB high-water mark, has it within 2 s.
# A repeat costs a node a 21-byte header compare.
CALIBRATION_REPEAT_S = 2.0
#: Version of the mirror's JSON layout (Master.mirror); a standby refuses another.
MIRROR_FORMAT = 2
#: The console's rate buttons (sim seconds per second): reverse, real time, time-lapses up to a day a second.
RATE_PRESETS = (-3600.0, -60.0, -1.0, 1.0, 10.0, 60.0, 600.0, 3600.0, 86400.0)


@dataclass
class Scene:
    """What the operator or the show sets; the sky follows from it."""

    start_utc: datetime
    rate: float = 1.0                    # sim seconds per show second
    site: tuple[float, float, float] | None = None   # (lat_deg, lon_deg, elev_m); None: the hall's
    view_az_deg: float = 180.0
    view_alt_deg: float = 0.0
    zoom: float = 1.0                    # magnification of the sky about the zoom centre (projection.py)
    layers: LayerMix = field(default_factory=LayerMix)
    language: str = "en"
    pointer: str = ""                    # the selected object ("mars", "HIP 32349", "Ori")
    overlays: tuple[Overlay, ...] = ()
    star_brightness: float = 1.0
    star_contrast: float = 1.0
    limiting_mag_delta: float = 0.0
    blackout: bool = False
    refraction: bool = False
    temperature_C: float = 10.0
    pressure_mbar: float | None = None   # None: the standard pressure at the site's elevation
    #: The stereo eye separation asked for (metres in the scene): None the hall's (a viewer's own),
    #: math.inf "as much depth as is comfortable"; the master narrows it to the comfort limit.
    eye_separation_m: float | None = None
    models: tuple[ModelView, ...] = ()   # 3D models placed by the operator (domectl/meshes.py assets)


@dataclass
class Metrics:
    frames: int = 0
    swap_wait_ms: list[float] = field(default_factory=list)
    sky_ms: list[float] = field(default_factory=list)
    late_swaps: int = 0
    render_ms: dict[int, list[float]] = field(default_factory=dict)

    def summary(self, barrier: Barrier) -> dict:
        def pct(values, q):
            return float(np.percentile(values, q)) if values else None

        return {
            "frames": self.frames,
            "barrier_ms": {"p50": pct(self.swap_wait_ms, 50), "p99": pct(self.swap_wait_ms, 99),
                           "max": max(self.swap_wait_ms, default=None)},
            "master_sky_ms": {"p50": pct(self.sky_ms, 50), "max": max(self.sky_ms, default=None)},
            "missed_deadlines": self.late_swaps,
            "nodes": [
                {"ig": n.ig, "online": n.online, "swaps": n.swaps, "missed": n.missed,
                 "joins": n.joins,
                 "render_ms": {"p50": pct(self.render_ms.get(n.ig, []), 50),
                               "max": max(self.render_ms.get(n.ig, []), default=None)}}
                for n in barrier.nodes.values()
            ],
            "rejected": dict(barrier.rejected),
        }


class Master:
    def __init__(self, hall: Hall, link, ephemeris, scene: Scene, *, igs: tuple[int, ...] | None = None,
                 fps: float | None = None, deadline_ms: float | None = None,
                 liveness_s: float | None = None,
                 clock_ns: Callable[[], int] = time.monotonic_ns,
                 status_file: Path | None = None, role: str = "primary",
                 audio=None, timecode=None, votes=None):
        self.hall = hall
        self.link = link
        self.ephemeris = ephemeris
        self.scene = scene
        self.fps = fps or hall.timing.fps
        self.deadline_ns = int((deadline_ms if deadline_ms is not None
                                else hall.timing.swap_deadline_ms) * 1e6)
        self.clock_ns = clock_ns
        self.clock = SimClock.start(scene.start_utc, self.fps, scene.rate)
        self.site = scene.site or (hall.site.latitude_deg, hall.site.longitude_deg, hall.site.elevation_m)
        self._edge_logged = False
        self.barrier = Barrier(igs if igs is not None else tuple(g.id for g in hall.igs))
        if liveness_s is not None:
            self.barrier.liveness_ns = int(liveness_s * 1e9)
        self.metrics = Metrics()
        self.current: FrameState | None = None
        self._last_beacon_ns = 0
        self._last_expire_ns = 0
        self.status_file = status_file
        self.role = role
        self._last_status_ns: int | None = None
        self.stopped = False
        self.audio = audio                  # domectl.oscio.AudioCues or None
        self.timecode = timecode            # domectl.oscio.TimecodeChase or None
        # Show time = frame / fps + this; a chased timecode moves it, and when the timecode
        # stops the show runs on from where it was instead of jumping back.
        self._show_offset_s = 0.0
        self._last_mirror_ns: int | None = None
        #: Other parts of the scene to mirror (the show player, open polls): name -> object with
        #: ``mirror() -> dict`` and ``restore(dict)``; registered by whoever owns them.
        self.mirrored: dict[str, object] = {}
        #: The audience's polls (domectl.votes.VoteDesk, thread-safe: the OSC thread ingests
        #: while the frame loop reads), or None. Its tally is on the dome while ``show_tally``.
        self.votes = votes
        # A master restarted in the middle of a poll (restored from the vote log) shows it again.
        self.show_tally = votes is not None and bool(votes.status()["open"])
        self._tally_cache: tuple = (None, ())
        if votes is not None:
            self.mirrored["votes"] = votes
        #: The show playing (domectl.showrun.ShowRun), or None: the operator's scene drives.
        self.show: ShowRun | None = None
        #: Serialises the operator's commands (HTTP threads, OSC) with the frame loop's reading of
        #: the scene: a frame's state is computed whole under it, a command applies whole.
        self.lock = threading.RLock()
        #: The operator's view move in progress (goto, recenter, smooth view), or None.
        self.move: MovePath | None = None
        #: The operator's blackout level over show time: 0 the dome shows everything, 1 black.
        self.dim = Fade(0.0, 0.0, 0.0, 0.0)
        #: The rate a pause stopped (resume goes back to it), None when not paused by pause().
        self.paused_rate: float | None = None
        #: The named place the operator chose ("hall", "paris"), or None for typed coordinates.
        self.site_name: str | None = "hall" if scene.site is None else None
        #: Inputs read by the frame loop before each frame (``poll()``: OSC control surfaces).
        self.inputs: list = []
        #: A technician's test pattern on the projectors ("grid", "white:p01,p02"; "" none):
        #: calibration/patterns.py. It replaces the sky on the named projectors, black elsewhere.
        self.pattern = ""
        #: The hall's calibration (calibration.model.CalibrationSet), or None: the nodes use the
        #: hall config's nominal models. ``calibration_version``: the store version it is (or, when
        #: dirty, it was changed from); 0 none. ``calibration_store``: the store it came from.
        self.calibration: CalibrationSet | None = None
        self.calibration_version = 0
        self.calibration_dirty = False
        self.calibration_store: Path | None = None
        #: Revisions count changes within this master's epoch (protocol.Calibration).
        self.calibration_epoch = secrets.randbits(32)
        self.calibration_revision = 0
        self._calibration_msg: Calibration | None = None
        self._calibration_due = False
        self._calibration_sent_ns: int | None = None
        self.calibration_published = 0
        #: What the primary's last mirror said of its calibration (a standby's, else None).
        self.mirrored_calibration: dict | None = None
        #: The operator's space voyage (domectl.voyage.Voyage), made on the first flight.
        self.voyage: Voyage | None = None
        #: The effective eye separation of the last frame and what limited it (for the console).
        self.stereo_status: dict = {}

    # ------------------------------------------------------------ the sky

    def frame_state(self, frame: int, deadline_ns: int = 0) -> FrameState:
        """The complete state of frame ``frame``: a function of the scene, the operator's commands
        so far and the frame number; while a show is loaded, of the show's scene at this frame
        (ticking its playhead: its audio cues are sent and its polls opened and closed here)."""
        if self.timecode is not None:
            self.timecode.poll()
            chased = self.timecode.show_time_s()
            if chased is not None:
                self._show_offset_s = chased - frame / self.fps
        show_time_s = frame / self.fps + self._show_offset_s
        show = self.show
        if show is not None:
            shown = show.tick(show_time_s)
            if self.audio is not None:
                for cue in shown.tick.cues:
                    self.audio.cue(cue.address, cue.args)
            return self.show_frame_state(shown.scene, frame, deadline_ns)
        sc = self.scene
        utc = self.clock.utc(show_time_s * self.fps)
        if self.clock.rate != 0.0 and self.clock.at_edge(show_time_s * self.fps) and not self._edge_logged:
            log.warning("sim time reached the end of the ephemeris at %s: holding there", utc.isoformat())
            self._edge_logged = True
        az, alt, zoom = self.view_at(show_time_s)
        move = self.move
        if move is not None and move.done(show_time_s):      # arrived: the view stays there
            sc.view_az_deg, sc.view_alt_deg, sc.zoom = move.end
            self.move = None
        return self._state(frame, deadline_ns, show_time_s, utc, self.site, view=(az, alt),
                           zoom=zoom, layers=sc.layers.state(show_time_s), pointer=sc.pointer,
                           overlays=sc.overlays + self._tally(), blackout=sc.blackout,
                           voyage=self.voyage, models=sc.models, eye_separation_m=sc.eye_separation_m)

    def view_at(self, show_time_s: float) -> tuple[float, float, float]:
        """The operator's (az, alt, zoom) at ``show_time_s``: along the move in progress, if any."""
        move = self.move
        if move is not None:
            return move.at(show_time_s)
        sc = self.scene
        return sc.view_az_deg, sc.view_alt_deg, sc.zoom

    def show_frame_state(self, scene: ShowScene, frame: int = 0, deadline_ns: int = 0) -> FrameState:
        """The FrameState of a show's scene: what the live master sends while the show plays and
        what ``domectl show render`` draws offline for the same show time (one function, so the
        two are the same frame).

        The show sets time, place, view, zoom, layers, pointer and its texts, images and clips
        (in the operator's language); its blackout level dims all of them (black at 1). The
        operator's blackout, overlays and the poll's tally come on top; the star look,
        refraction and weather stay the operator's.
        """
        sc = self.scene
        keep = 1.0 - scene.blackout
        shown = scene.overlays(sc.language)
        if keep < 1.0:
            shown = tuple(dataclasses.replace(o, opacity=o.opacity * keep) for o in shown)
        return self._state(frame, deadline_ns, scene.show_time_s, scene.utc, scene.site,
                           view=(scene.view_az_deg, scene.view_alt_deg), zoom=scene.zoom,
                           layers=scene.frame_layers(), pointer=scene.pointer,
                           overlays=shown + sc.overlays + self._tally(),
                           blackout=sc.blackout or scene.blackout >= 1.0,
                           voyage=self._show_voyage(scene), models=scene.models,
                           eye_separation_m=scene.eye_separation_m)

    def _state(self, frame: int, deadline_ns: int, show_time_s: float, utc: datetime, site, *, view, zoom: float,
               layers, pointer: str, overlays: tuple[Overlay, ...], blackout: bool, voyage=None,
               models: tuple[ModelView, ...] = (), eye_separation_m: float | None = None) -> FrameState:
        """The sky at ``utc`` from ``site``, with everything else as given, as one FrameState.

        The operator's blackout level dims every layer and overlay (black at 1); a test
        pattern travels as an overlay the nodes draw instead of the sky."""
        sc = self.scene
        if self.pattern:
            overlays = overlays + (Overlay("pattern", self.pattern, 0.0, 0.0),)
        star_brightness = sc.star_brightness
        level = self.dim.at(show_time_s)
        if level > 0.0:
            keep = 1.0 - level
            layers = tuple((name, opacity * keep) for name, opacity in layers)
            overlays = tuple(dataclasses.replace(o, opacity=o.opacity * keep) for o in overlays)
            blackout = blackout or level >= 1.0
        latitude_deg, longitude_deg, elevation_m = site
        sky = self.ephemeris.sample(utc, latitude_deg, longitude_deg, elevation_m)
        bodies = tuple(
            BodyView(name=b.name, enu=tuple(float(x) for x in b.enu), distance_au=b.distance_au,
                     mag=b.mag, angular_diameter_deg=b.angular_diameter_deg,
                     illuminated_fraction=b.illuminated_fraction, phase_angle_deg=b.phase_angle_deg,
                     # Undefined (NaN) for the Sun itself: nodes get 0 there.
                     limb_angle_deg=b.bright_limb_pa_deg if math.isfinite(b.bright_limb_pa_deg) else 0.0)
            for b in sky.bodies)
        enu_from_icrs, beta_icrs, sun_alt_deg = sky.enu_from_icrs, sky.beta_icrs, float(sky.sun_alt_deg)
        refraction = sc.refraction
        observer = voyage.observer(show_time_s, sky.tt_jd, site) if voyage is not None and voyage.in_space else None
        layer_on = dict(layers)
        if observer is None:
            spheres = voyage_mod.ground_spheres(bodies, sky.tt_jd, sky.enu_from_icrs, self._min_sphere_deg(zoom))
            if layer_on.get("orbits", 0.0) > 0.0:
                vsky = voyage_mod.Sky(self.ephemeris, sky.tt_jd)
                orbits = voyage_mod.orbits(vsky, voyage_mod.Point("Earth", site=tuple(site)).at(vsky), enu_from_icrs)
            else:
                orbits = ()
        else:
            vsky = observer.sky
            enu_from_icrs = observer.frame
            beta_icrs = observer.velocity_m_s / voyage_mod.C_M_S
            bodies = voyage_mod.space_bodies(vsky, observer)
            # The daylight follows the Sun's height over the local horizon of the body below
            # (night stays night on the way up), not over the ship's turning frame.
            up = observer.position_m - vsky.pos(observer.nearest)
            to_sun = vsky.pos("Sun") - observer.position_m
            sun_alt_deg = math.degrees(math.asin(max(-1.0, min(1.0, float(
                up @ to_sun / (np.linalg.norm(up) * np.linalg.norm(to_sun)))))))
            refraction = False
            fades = voyage_mod.ground_fades(observer.altitude_m)
            layers = tuple((name, opacity * fades.get(name, 1.0)) for name, opacity in layers)
            spheres = voyage_mod.space_spheres(vsky, bodies, enu_from_icrs, self._min_sphere_deg(zoom))
            orbits = (voyage_mod.orbits(vsky, observer.position_m, enu_from_icrs)
                      if layer_on.get("orbits", 0.0) > 0.0 else ())
        separation_m = self._eye_separation_m(eye_separation_m, spheres, models)
        return FrameState(
            frame=frame, deadline_ns=deadline_ns, show_time_s=show_time_s, tt_jd=sky.tt_jd,
            latitude_deg=latitude_deg, longitude_deg=longitude_deg,
            elevation_m=elevation_m, view_az_deg=view[0], view_alt_deg=view[1], zoom=zoom,
            enu_from_icrs=tuple(float(x) for x in np.asarray(enu_from_icrs).ravel()),
            beta_icrs=tuple(float(x) for x in beta_icrs),
            years_since_epoch=float(sky.years_since_epoch), sun_alt_deg=sun_alt_deg,
            temperature_C=sc.temperature_C,
            pressure_mbar=sc.pressure_mbar if sc.pressure_mbar is not None
            else standard_pressure_mbar(elevation_m),
            blackout=blackout, refraction=refraction, layers=layers,
            bodies=bodies, language=sc.language, pointer=pointer, overlays=overlays,
            star_brightness=star_brightness, star_contrast=sc.star_contrast,
            limiting_mag_delta=sc.limiting_mag_delta, eye_separation_m=separation_m,
            spheres=spheres, models=tuple(models), orbits=orbits,
        )

    def _min_sphere_deg(self, zoom: float) -> float:
        """The smallest angular diameter worth a sphere: 3 px across on the hall's domemaster at the
        zoom's largest magnification (smaller bodies stay discs and points)."""
        render = getattr(self.hall, "render", None)      # a hall without render defaults: the reference 10K
        px_per_deg = (render.domemaster_px if render is not None else 10240) / 180.0
        return 3.0 / px_per_deg / zoom_max_magnification(zoom)

    def _eye_separation_m(self, asked_m: float | None, spheres, models) -> float:
        """The eye separation of this frame: what the scene asks (None: the hall's), narrowed so that
        the nearest sphere or model shows at most the hall's comfort disparity."""
        from domectl.stereo import comfort_separation_m

        stereo = getattr(self.hall, "stereo", None) or Stereo()
        asked = stereo.eye_separation_m if asked_m is None else float(asked_m)
        nearest, what = math.inf, ""
        for sphere in spheres:
            d = math.sqrt(sum(x * x for x in sphere.centre_m)) - sphere.radius_m
            if d < nearest:
                nearest, what = d, sphere.name
        for model in models:
            d = math.sqrt(sum(x * x for x in model.position_m)) - model_radius_m(model)
            if d < nearest:
                nearest, what = d, model.name
        separation = comfort_separation_m(asked, nearest, stereo.comfort_disparity_deg)
        if not math.isfinite(separation):       # "as much as comfortable" with nothing near: the hall's
            separation = stereo.eye_separation_m
        self.stereo_status = {"asked_m": None if asked_m is None or math.isinf(asked) else asked, "separation_m": separation,
                              "nearest": what, "nearest_m": nearest if math.isfinite(nearest) else None,
                              "auto": math.isinf(asked), "limited": math.isfinite(asked) and separation < asked}
        return separation

    def _show_voyage(self, scene):
        """The show's voyage at this scene (shows.voyage: replayed from its cues), or None."""
        cues = scene.voyage
        if not cues:
            return None
        from domectl.showvoyage import show_voyage

        return show_voyage(self, cues, scene.show_time_s)

    def _tally(self) -> tuple[Overlay, ...]:
        """The poll's tally as dome overlays while it is shown (rebuilt only when it changes)."""
        if self.votes is None:
            return ()
        self.votes.expire()         # a poll closes by time at its end even if no box is pressed
        if not self.show_tally:
            return ()
        key = (self.votes.version, self.scene.language)
        if self._tally_cache[0] != key:
            from domectl.votes import tally_overlays

            self._tally_cache = (key, tally_overlays(self.votes, self.scene.language))
        return self._tally_cache[1]

    # ------------------------------------------------------------ operator commands
    # Each takes effect at the next frame, so the frame being rendered never changes under it.

    def _next_frame(self) -> int:
        return self.barrier.frame + 1

    def _next_position(self) -> float:
        """The next frame's place on the sim clock (frames of show time, timecode offset included)."""
        return self._next_frame() + self._show_offset_s * self.fps

    def set_rate(self, rate: float) -> None:
        """Sim seconds per second from the next frame: 0 pauses, negative runs backwards."""
        self.clock = self.clock.set_rate(self._next_position(), rate)
        self._edge_logged = False

    def jump(self, utc: datetime) -> None:
        """Show ``utc`` from the next frame on (TimeRangeError outside the ephemeris)."""
        self.clock = self.clock.jump(self._next_position(), utc)
        self._edge_logged = False

    def fade_layer(self, name: str, opacity: float, fade_s: float = DEFAULT_FADE_S) -> None:
        """Fade layer ``name`` to ``opacity`` over ``fade_s`` seconds, starting at the next frame."""
        self.scene.layers.fade(name, opacity, fade_s, now_s=self._next_frame() / self.fps + self._show_offset_s)

    def travel(self, latitude_deg: float, longitude_deg: float, elevation_m: float = 0.0) -> None:
        """Move the observer to another place on Earth from the next frame on."""
        if not (-90.0 <= latitude_deg <= 90.0 and -180.0 <= longitude_deg <= 180.0):
            raise ValueError(f"travel to ({latitude_deg}, {longitude_deg}): latitude must be in "
                             "[-90, 90] and longitude in [-180, 180] degrees")
        self.site = (float(latitude_deg), float(longitude_deg), float(elevation_m))

    # ------------------------------------------------------------ the space voyage

    def _voyage_now(self) -> tuple[Voyage, float, float]:
        """(the operator's voyage, made on first use; the next frame's show time; its TT)."""
        if self.voyage is None:
            self.voyage = Voyage(self.ephemeris)
        t_s = self.next_time_s()
        utc = self.clock.utc(self._next_position())
        return self.voyage, t_s, self.ephemeris.sample(utc, *self.site).tt_jd

    def _view_now(self, t_s: float) -> tuple[float, float, float]:
        az, alt, _ = self.view_at(t_s)
        return az, alt, self.hall.dome.tilt_deg

    def fly_to(self, target: str, distance_m: float | None = None):
        """Fly to a body from where the observer is (the ground or space), from the next frame."""
        voyage, t_s, tt = self._voyage_now()
        return voyage.fly_to(t_s, tt, self.site, target, self._view_now(t_s), distance_m)

    def orbit(self, target: str | None = None):
        """Circle the nearest body (or ``target``) from where the observer is."""
        voyage, t_s, tt = self._voyage_now()
        return voyage.orbit(t_s, tt, self.site, self._view_now(t_s), target)

    def return_home(self):
        """Fly back to the site the voyage left from; None when already on the ground."""
        voyage, t_s, tt = self._voyage_now()
        return voyage.home(t_s, tt, self.site)

    def hold_position(self) -> None:
        """Stop where the observer is (in space: at rest relative to the nearest body)."""
        voyage, t_s, tt = self._voyage_now()
        voyage.stop(t_s, tt, self.site)

    # ------------------------------------------------------------ shows

    def next_time_s(self) -> float:
        """The master's time (show clock) at the next frame, where a command takes effect."""
        return self._next_frame() / self.fps + self._show_offset_s

    def hall_site(self) -> tuple[float, float, float]:
        s = self.hall.site
        return (s.latitude_deg, s.longitude_deg, s.elevation_m)

    def load_show(self, path: Path | str) -> ShowRun:
        """Load ``path`` (checked completely first: ShowError lists every issue, and the show
        playing, if any, carries on) paused at its start; it drives the dome from the next frame.
        A show that says ``start now`` starts at the sim time the dome shows now."""
        from domectl.showrun import ShowRun

        with self.lock:
            start_utc = self.clock.utc(self._next_position())
        # Parsed outside the lock (a long show takes a moment): the frame loop carries on meanwhile.
        run = ShowRun.load(path, start_utc=start_utc, hall_site=self.hall_site(), votes=self.votes)
        with self.lock:
            old, self.show = self.show, run
            self.move = None
            if old is not None:
                old.close()
        log.info("show %s loaded (%s), paused at 0:00", run.path, run.title)
        return run

    def unload_show(self) -> bool:
        """Stop the show; the operator's scene carries on from the show's last frame: time, rate,
        place, view, zoom, pointer and layers as they were, and the show's blackout level as the
        operator's (a show that ended black stays black until the operator restores it).
        False if none was loaded."""
        with self.lock:
            run = self.show
            if run is None:
                return False
            last = run.last
            if last is not None:            # the operator's scene first, so no frame shows the old one
                shown, position, now_s = last.scene, self._next_position(), self.next_time_s()
                layers = LayerMix(on=())
                for name, opacity in shown.layers.items():
                    layers.fade(name, opacity, 0.0, now_s=now_s)
                self.clock = self.clock.jump(position, shown.utc).set_rate(position, shown.rate)
                self._edge_logged = False
                self.site, self.site_name = shown.site, None
                self.scene = dataclasses.replace(self.scene, view_az_deg=shown.view_az_deg,
                                                 view_alt_deg=shown.view_alt_deg, zoom=shown.zoom,
                                                 pointer=shown.pointer, layers=layers)
                level = max(shown.blackout, self.dim.at(now_s))
                self.dim = Fade(level, level, now_s, 0.0)
            self.move, self.paused_rate = None, None
            self.show = None
            run.close()
        log.info("show %s stopped; the operator has the dome", run.path)
        return True

    def show_status(self) -> dict | None:
        show = self.show
        return None if show is None else show.status(self.next_time_s())

    # ------------------------------------------------------------ messages

    def pump(self, timeout_ms: float) -> None:
        """Receive and handle everything that arrives within ``timeout_ms``."""
        for identity, parts in self.link.receive(timeout_ms):
            now = self.clock_ns()
            if len(parts) != 1:
                self.barrier.reject("malformed")
                continue
            try:
                msg = decode(parts[0])
            except PeerError as e:
                self.barrier.reject("malformed")
                log.debug("dropped a malformed message from %r: %s", identity, e)
                continue
            sender = getattr(msg, "ig", None)
            if sender is None:
                sender = getattr(msg, "sender", None)
            if sender is None or identity != _IDENTITIES.get(sender):
                self.barrier.reject("identity_mismatch")
                continue
            if isinstance(msg, Ready):
                if self.barrier.ready(msg, now):
                    self.metrics.render_ms.setdefault(msg.ig, []).append(msg.render_ms)
            elif isinstance(msg, Hello):
                if self.barrier.hello(msg.ig, now):
                    log.info("ig%02d joined (software %s)", msg.ig, msg.software)
                    calibration = self._calibration_msg
                    if calibration is not None:         # first, so it draws the snapshot calibrated
                        self.link.send_to(identity, calibration)
                    self.link.send_to(identity, Snapshot(msg.ig, self.current))
            elif isinstance(msg, Heartbeat):
                self.barrier.heartbeat(msg, now)
            elif isinstance(msg, Bye):
                self.barrier.bye(msg.sender)
                log.info("ig%02d said bye", msg.sender)
            else:
                self.barrier.reject("unexpected_type")
        now = self.clock_ns()
        if now - self._last_expire_ns >= EXPIRE_EVERY_S * 1e9:
            self._last_expire_ns = now
            for ig in self.barrier.expire(now):
                log.warning("ig%02d went silent: out of the barrier", ig)

    # ------------------------------------------------------------ calibration

    def set_calibration(self, calibration: CalibrationSet, *, version: int | None = None,
                        dirty: bool | None = None, store: Path | None = None) -> int:
        """Make ``calibration`` the hall's from the next publication on (any thread); returns its revision.

        ``version`` (the store version it now is) and ``dirty`` (it differs from that
        version) stay as they were when None. LocalError if it is too large to send.
        """
        with self.lock:
            revision = self.calibration_revision + 1
            version = self.calibration_version if version is None else int(version)
            dirty = self.calibration_dirty if dirty is None else bool(dirty)
            msg = calibration_message(calibration, version, self.calibration_epoch, revision, dirty)
            self.calibration, self.calibration_version, self.calibration_dirty = calibration, version, dirty
            if store is not None:
                self.calibration_store = Path(store)
            self.calibration_revision = revision
            self._calibration_msg = msg
            self._calibration_due = True
            return revision

    def mark_calibration_saved(self, version: int, calibration: CalibrationSet) -> None:
        """The store holds ``calibration`` as ``version`` now; clean unless it changed meanwhile."""
        with self.lock:
            self.calibration_version = int(version)
            self.calibration_dirty = self.calibration is not calibration and self.calibration != calibration
            if self.calibration is not None:
                # Same revision and set: a node compares the revision and skips it; the repeat
                # carries the new version number.
                self._calibration_msg = calibration_message(
                    self.calibration, self.calibration_version, self.calibration_epoch,
                    self.calibration_revision, self.calibration_dirty)

    def adopt_calibration(self, msg: Calibration) -> None:
        """Take over the primary's calibration as its last message carried it: same epoch and
        revision, so the nodes (which have it) rebuild nothing. PeerError if it is malformed."""
        calibration = calibration_set(msg)
        with self.lock:
            self.calibration, self.calibration_version = calibration, msg.version
            self.calibration_dirty = msg.dirty
            self.calibration_epoch, self.calibration_revision = msg.epoch, msg.revision
            self._calibration_msg = msg
            self._calibration_due = True

    def use_store_calibration(self, root: Path | None = None) -> bool:
        """Load the hall's calibration store's current version (``root``: default_store_root(hall);
        a store that does not exist is made from the hall config). False (logged) when it
        cannot be read: the nodes then use the hall config's models."""
        from calibration.store import CalibrationStore, StoreError, default_store_root

        root = Path(root) if root is not None else default_store_root(self.hall)
        try:
            store = CalibrationStore.open(root, self.hall)
            current = store.current()
        except (StoreError, OSError) as e:
            log.error("calibration store %s cannot be read (%s): the nodes use the hall config's models", root, e)
            return False
        for why in (*store.recovered, *current.skipped):
            log.warning("calibration store %s: %s", root, why)
        if current.calibration.hall != self.hall.name:
            log.warning("calibration store %s holds hall %r, this is %r: using it anyway", root,
                        current.calibration.hall, self.hall.name)
        try:
            self.set_calibration(current.calibration, version=current.info.version, dirty=False, store=root)
        except LocalError as e:
            log.error("calibration %s v%d cannot be sent to the nodes: %s", root, current.info.version, e)
            return False
        log.info("calibration: %s version %d", root, current.info.version)
        return True

    def publish_calibration(self, force: bool = False) -> bool:
        """Publish the calibration if it changed (at most every CALIBRATION_MIN_INTERVAL_S) or is
        due for its repeat (every CALIBRATION_REPEAT_S); True if it went out."""
        msg = self._calibration_msg
        if msg is None:
            return False
        now = self.clock_ns()
        since = None if self._calibration_sent_ns is None else now - self._calibration_sent_ns
        if not (force or since is None or (self._calibration_due and since >= CALIBRATION_MIN_INTERVAL_S * 1e9)
                or since >= CALIBRATION_REPEAT_S * 1e9):
            return False
        with self.lock:
            msg, self._calibration_due = self._calibration_msg, False
        self._calibration_sent_ns = now
        self.link.publish(msg)
        self.calibration_published += 1
        return True

    def beacon(self, every_s: float = HEARTBEAT_INTERVAL_S) -> None:
        now = self.clock_ns()
        if now - self._last_beacon_ns >= every_s * 1e9:
            self.link.publish(Heartbeat(MASTER_ID, self.barrier.frame))
            self._last_beacon_ns = now

    def wait_for_nodes(self, timeout_s: float, progress: Callable[[int, int], None] | None = None) -> int:
        """Beacon until every IG has joined or ``timeout_s`` passes; returns how many joined."""
        end = self.clock_ns() + int(timeout_s * 1e9)
        total = len(self.barrier.nodes)
        last = -1
        while self.clock_ns() < end:
            self.beacon(JOIN_BEACON_S)
            self.publish_calibration()
            self.pump(JOIN_BEACON_S * 1000)
            self.write_status()
            joined = self.barrier.live_count()
            if progress and joined != last:
                progress(joined, total)
                last = joined
            if joined == total:
                return joined
        return self.barrier.live_count()

    # ------------------------------------------------------------ frames

    def step(self, frame: int, deadline_ns: int | None = None) -> SwapDecision:
        """Run one frame through the barrier: state, publish, collect, swap."""
        for source in self.inputs:
            source.poll()
        t0 = self.clock_ns()
        deadline = t0 + (deadline_ns if deadline_ns is not None else self.deadline_ns)
        with self.lock:
            state = self.frame_state(frame, deadline)
            self.current = state
            self.barrier.begin(frame, t0, deadline)
        self.metrics.sky_ms.append((self.clock_ns() - t0) / 1e6)
        self.link.publish(Frame(state))
        while True:
            decision = self.barrier.poll(self.clock_ns())
            if decision is not None:
                break
            remaining_ms = (deadline - self.clock_ns()) / 1e6
            self.pump(min(max(remaining_ms, 0.0), HEARTBEAT_INTERVAL_S * 1000))
            self.beacon()
        self.link.publish(Swap(frame))
        self.publish_calibration()
        self.publish_mirror()
        if self.audio is not None:
            self.audio.frame(frame, state.show_time_s)
        self.write_status()
        self.metrics.frames += 1
        self.metrics.swap_wait_ms.append((self.clock_ns() - t0) / 1e6)
        if decision.late:
            self.metrics.late_swaps += 1
            log.warning("frame %d swapped by deadline without %s", frame,
                        ", ".join(f"ig{i:02d}" for i in decision.late))
        return decision

    def run(self, frames: int | None, *, lockstep: bool,
            progress: Callable[[int, SwapDecision], None] | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> None:
        """Run ``frames`` frames (forever if None), live-paced or in lockstep.

        Frame numbers continue after the last frame run (0 for a fresh master; after
        :meth:`restore`, the primary's last frame + 1). ``progress(n, decision)`` counts from 0.
        """
        period_ns = int(1e9 / self.fps)
        t_start = self.clock_ns()
        first = self.barrier.frame + 1
        n = 0
        while (frames is None or n < frames) and not should_stop():
            if lockstep:
                decision = self.step(first + n, int(LOCKSTEP_DEADLINE_S * 1e9))
            else:
                start = t_start + n * period_ns
                while self.clock_ns() < start:
                    self.pump(max(0.0, (start - self.clock_ns()) / 1e6))
                decision = self.step(first + n)
            if progress:
                progress(n, decision)
            n += 1

    # ------------------------------------------------------------ standby mirror

    def mirror(self) -> dict:
        """Everything a standby master needs to carry on from the last frame (plain JSON)."""
        with self.lock:
            return self._mirror()

    def _mirror(self) -> dict:
        sc, dim = self.scene, self.dim
        return {
            "v": MIRROR_FORMAT,
            "frame": int(self.barrier.frame),
            "fps": self.fps,
            "clock": {"anchor_frame": self.clock.anchor_frame, "anchor_utc": self.clock.anchor_utc.isoformat(),
                      "rate": self.clock.rate},
            "show_offset_s": self._show_offset_s,
            "site": list(self.site),
            "scene": {
                "view_az_deg": sc.view_az_deg, "view_alt_deg": sc.view_alt_deg, "zoom": sc.zoom,
                "language": sc.language,
                "blackout": sc.blackout, "refraction": sc.refraction, "temperature_C": sc.temperature_C,
                "pressure_mbar": sc.pressure_mbar, "pointer": sc.pointer,
                "overlays": [dataclasses.asdict(o) for o in sc.overlays],
                "star_brightness": sc.star_brightness, "star_contrast": sc.star_contrast,
                "limiting_mag_delta": sc.limiting_mag_delta,
                "layers": {name: list(fade) for name, fade in sc.layers.snapshot().items()},
                "show_tally": self.show_tally,
            },
            "parts": {name: part.mirror() for name, part in self.mirrored.items()},
            "show": self.show.mirror() if self.show is not None else None,
            "operator": {"move": self.move.mirror() if self.move is not None else None,
                         "dim": [dim.start_opacity, dim.target_opacity, dim.start_s, dim.fade_s],
                         "paused_rate": self.paused_rate, "site_name": self.site_name, "pattern": self.pattern},
            # The set itself is too large for a mirror: the standby keeps the last Calibration
            # message it saw (domectl.standby.Watch); this says what it should be.
            "calibration": {"version": self.calibration_version, "dirty": self.calibration_dirty,
                            "epoch": self.calibration_epoch, "revision": self.calibration_revision,
                            "store": None if self.calibration_store is None else str(self.calibration_store)},
        }

    def restore(self, mirror: dict) -> None:
        """Take over from a mirror: the next frame is ``mirror['frame'] + 1``, the scene as it was.

        Raises PeerError naming the field if the mirror is malformed (the standby then keeps
        the previous one).
        """
        try:
            if mirror.get("v") != MIRROR_FORMAT:
                raise ValueError(f"mirror format {mirror.get('v')!r}, this build reads {MIRROR_FORMAT}")
            c, sc = mirror["clock"], mirror["scene"]
            clock = SimClock(fps=float(mirror["fps"]), anchor_frame=float(c["anchor_frame"]),
                             anchor_utc=datetime.fromisoformat(c["anchor_utc"]), rate=float(c["rate"]))
            scene = dataclasses.replace(
                self.scene, view_az_deg=float(sc["view_az_deg"]), view_alt_deg=float(sc["view_alt_deg"]),
                zoom=float(sc.get("zoom", 1.0)),
                language=str(sc["language"]), blackout=bool(sc["blackout"]), refraction=bool(sc["refraction"]),
                temperature_C=float(sc["temperature_C"]),
                pressure_mbar=None if sc["pressure_mbar"] is None else float(sc["pressure_mbar"]),
                pointer=str(sc["pointer"]), overlays=tuple(Overlay(**{**o, "rgb": tuple(o["rgb"])})
                                                           for o in sc["overlays"]),
                star_brightness=float(sc["star_brightness"]), star_contrast=float(sc["star_contrast"]),
                limiting_mag_delta=float(sc["limiting_mag_delta"]),
                layers=LayerMix.from_snapshot({k: tuple(v) for k, v in sc["layers"].items()}))
            frame = int(mirror["frame"])
            site = tuple(float(x) for x in mirror["site"])
            offset = float(mirror["show_offset_s"])
            show_tally = bool(sc.get("show_tally", False))
            op = mirror.get("operator") or {}
            move = MovePath.restore(op["move"]) if op.get("move") else None
            dim = Fade(*(float(x) for x in op.get("dim", (0.0, 0.0, 0.0, 0.0))))
            paused_rate = None if op.get("paused_rate") is None else float(op["paused_rate"])
            site_name = None if op.get("site_name") is None else str(op["site_name"])
            pattern = str(op.get("pattern", ""))
            cal = mirror.get("calibration")
            calibration_store = None
            if cal is not None:
                calibration_store = None if cal.get("store") is None else Path(str(cal["store"]))
                cal = {"version": int(cal["version"]), "dirty": bool(cal["dirty"]), "epoch": int(cal["epoch"]),
                       "revision": int(cal["revision"])}
            for name, part in self.mirrored.items():
                if name in mirror.get("parts", {}):
                    part.restore(mirror["parts"][name])
        except (KeyError, TypeError, ValueError, DomectlError) as e:
            raise PeerError(f"mirror: malformed: {e!r}") from None
        self.fps = clock.fps
        self.clock, self.scene, self.site, self._show_offset_s = clock, scene, site, offset
        self.show_tally = show_tally
        self.move, self.dim, self.paused_rate, self.site_name = move, dim, paused_rate, site_name
        self.pattern = pattern
        self.mirrored_calibration = cal
        if calibration_store is not None:
            self.calibration_store = calibration_store
        self.barrier.frame = frame
        self._edge_logged = False
        self._restore_show(mirror.get("show"))

    def _restore_show(self, mirror: dict | None) -> None:
        """Load the primary's show and continue its playhead; a show that cannot be loaded here
        (missing, changed, invalid) is logged and left out: the dome carries on with the sky."""
        from domectl.showrun import MIRROR_FORMAT as SHOW_MIRROR_FORMAT, ShowRun, file_sha256

        if self.show is not None:
            self.show.close()
            self.show = None
        if not mirror:
            return
        try:
            if mirror.get("v") != SHOW_MIRROR_FORMAT:
                raise ValueError(f"show mirror format {mirror.get('v')!r}, this build reads {SHOW_MIRROR_FORMAT}")
            path = Path(mirror["path"])
            if file_sha256(path) != mirror["sha256"]:
                raise ValueError(f"{path} differs from the primary's (sha256)")
            run = ShowRun.load(path, start_utc=datetime.fromisoformat(mirror["start_utc"]),
                               hall_site=self.hall_site(), votes=self.votes)
            run.restore(mirror)
        except (OSError, KeyError, TypeError, ValueError, DomectlError) as e:
            log.error("the primary's show cannot be continued here: %s", e)
            poll_id = mirror.get("desk_poll") if isinstance(mirror, dict) else None
            if self.votes is not None and isinstance(poll_id, str):
                self.votes.close("show", poll_id=poll_id)       # nobody will close the show's poll
            return
        self.show = run

    def publish_mirror(self, force: bool = False) -> None:
        """Publish the mirror at most every MIRROR_INTERVAL_S."""
        now = self.clock_ns()
        if force or self._last_mirror_ns is None or now - self._last_mirror_ns >= MIRROR_INTERVAL_S * 1e9:
            self._last_mirror_ns = now
            self.link.publish(Mirror(self.mirror()))

    # ------------------------------------------------------------ status

    def status(self) -> dict:
        """What `domectl status` and the console show (domectl/status.py, docs/console.md)."""
        with self.lock:
            return self._status()

    def _status(self) -> dict:
        state = self.current
        show = self.show_status()
        now_s = self.next_time_s()
        sc = self.scene
        level = 1.0 if sc.blackout else self.dim.at(now_s)
        target = 1.0 if sc.blackout else self.dim.target_opacity
        shown = self.show.last.scene if self.show is not None and self.show.last is not None else None
        if shown is None:            # the operator's scene
            az, alt, zoom = self.view_at(now_s)
            utc = self.clock.utc(max(self.barrier.frame, 0) + self._show_offset_s * self.fps)
            rate, site, site_name, pointer = self.clock.rate, self.site, self.site_name, sc.pointer
            layers = [{"name": name, "opacity": opacity, "on": sc.layers.target(name) > 0.5}
                      for name, opacity in sc.layers.state(now_s)]
        else:                        # the show's, as its last frame showed it
            az, alt, zoom = shown.view_az_deg, shown.view_alt_deg, shown.zoom
            utc, rate, site, site_name, pointer = shown.utc, shown.rate, shown.site, None, shown.pointer
            layers = [{"name": name, "opacity": opacity, "on": opacity > 0.5} for name, opacity in shown.layers.items()]
            level = 1.0 - (1.0 - level) * (1.0 - shown.blackout)
            target = max(target, shown.blackout)
        sim_utc = utc.isoformat().replace("+00:00", "Z")
        return {
            "frame": int(self.barrier.frame),
            "show_time_s": state.show_time_s if state else 0.0,
            "sim_utc": sim_utc,
            "role": self.role,
            "stopped": self.stopped,
            "pid": os.getpid(),
            "fps": self.fps,
            "updated_unix_s": time.time(),
            "missed_deadlines": self.metrics.late_swaps,
            "rejected": dict(self.barrier.rejected),
            "rejected_peers": dict(getattr(self.link, "rejected_peers", {}) or {}),
            "poll": self.poll_status() if self.votes is not None else None,
            "show": show,
            "controlled_by": "show" if show is not None else "operator",
            "next_cue": None if not show or show.get("next_cue_s") is None
            else {"show_time_s": show["next_cue_s"], "label": show.get("next_cue_label", "")},
            "time": {"utc": sim_utc, "rate": rate, "paused": rate == 0.0, "presets": list(RATE_PRESETS)},
            "site": {"name": site_name, "latitude_deg": site[0], "longitude_deg": site[1], "elevation_m": site[2]},
            "view": {"az_deg": az, "alt_deg": alt, "zoom": zoom, "moving": self.move is not None,
                     "target": self.move.target if self.move is not None else ""},
            "layers": layers,
            "language": sc.language, "languages": list(self.hall.languages),
            "blackout": {"level": level, "target": target},
            "pointer": pointer,
            "pattern": self.pattern,
            "voyage": self._voyage_status(now_s),
            "stereo": dict(self.stereo_status),
            "calibration": {"version": self.calibration_version, "dirty": self.calibration_dirty,
                            "revision": self.calibration_revision if self.calibration is not None else None},
            "nodes": [{"ig": n.ig, "online": n.online, "in_barrier": n.in_barrier, "fps": round(n.fps, 2),
                       "render_ms": round(n.render_ms, 3), "missed": n.missed, "swaps": n.swaps,
                       "joins": n.joins, "calibration_revision": n.calibration_revision}
                      for n in self.barrier.nodes.values()],
        }

    def _voyage_status(self, now_s: float) -> dict:
        voyage = self.voyage
        if voyage is None or not voyage.in_space or self.current is None:
            return {"in_space": False}
        return voyage.status(now_s, self.current.tt_jd, self.site)

    def poll_status(self) -> dict:
        """The poll in the scene's language, and whether its tally is on the dome (needs votes)."""
        return {**self.votes.status(self.scene.language), "on_dome": self.show_tally}

    def write_status(self, force: bool = False) -> None:
        """Rewrite the status file at most every WRITE_INTERVAL_S (never raises into the frame loop)."""
        if self.status_file is None:
            return
        now = self.clock_ns()
        if not force and self._last_status_ns is not None and now - self._last_status_ns < WRITE_INTERVAL_S * 1e9:
            return
        self._last_status_ns = now
        try:
            write_status(self.status_file, self.status())
        except OSError as e:
            log.warning("cannot write the status file %s: %s", self.status_file, e)

    def shutdown(self, final: bool = True) -> None:
        """Tell the nodes the master is going away (final: exit; else hold the last frame)."""
        self.link.publish(Bye(MASTER_ID, final))
        self.stopped = True
        self.write_status(force=True)
