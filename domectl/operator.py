"""The operator's commands: time, place, view, go to, layers, language, blackout.

One :class:`Operator` per master. The console's REST API (domectl/services.py),
the OSC control surfaces (domectl/osccontrol.py) and ``domectl preview``'s
keys all end here, so every way of controlling the dome does the same thing
with the same checks. Each command runs under the master's lock and takes
effect at the next frame.

Two kinds of refusal: :class:`BadRequest` (the request itself is wrong: a
field missing, a number out of range, an unknown layer; HTTP 400) and
``Refused`` (the request is fine but the master will not do it now: a show
drives the dome, no such object, a time outside the ephemeris; HTTP 409).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from domectl.control import BadRequest, Refused
from domectl.errors import ConfigError, TimeRangeError
from domectl.layermix import DEFAULT_FADE_S, LAYER_NAMES, Fade
from domectl.motion import TooFast, check_view, plan
from domectl.voyage import NoClearPath, body_name
from domectl.projection import MAX_ZOOM, MIN_ZOOM, ZOOM_CENTRE_ELEV_DEG, enu_to_altaz

log = logging.getLogger("domectl.operator")

#: A fade to black the audience sees as deliberate, not as a failure; the panic button is 0.
BLACKOUT_FADE_S = 1.0
RESTORE_FADE_S = 1.5
#: Longest fade a command may ask for: a fade longer than this is a typo.
MAX_FADE_S = 600.0


def number(value, field: str, low: float | None = None, high: float | None = None) -> float:
    """``value`` as a finite float in [low, high], else BadRequest naming ``field``."""
    try:
        finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    except OverflowError:             # an integer of hundreds of digits
        finite = False
    if not finite:
        raise BadRequest(f"{field} must be a number, not {str(value)[:40]}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadRequest(f"{field} {value:g}: must be in [{low:g}, {high:g}]")
    return float(value)


def text(value, field: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a string, not {value!r}")
    return value


class Operator:
    def __init__(self, master, *, wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 warm_up: bool = False):
        self.master = master
        self.wall_clock = wall_clock
        self._index = None
        self._ephemeris = None
        if warm_up:        # names and star directions loaded now, not by the first OSC goto in the frame loop
            threading.Thread(target=self._warm_up, name="operator-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            self.index.stars()
            self.index.constellation_points()
        except Exception:        # the first search or goto tries again and reports it
            log.exception("loading the sky objects' names")

    @property
    def ephemeris(self):
        """The goto planner's own ephemeris cache: its samples (a moving target's end, at any
        rate) never push out the blocks the frame loop is using; the Skyfield data is shared."""
        if self._ephemeris is None:
            from domectl.ephemeris import CachedEphemeris

            eph = getattr(self.master.ephemeris, "eph", None)
            self._ephemeris = CachedEphemeris(eph) if eph is not None else self.master.ephemeris
        return self._ephemeris

    @property
    def index(self):
        """The sky objects by name (built on first use: the star names take some 50 ms)."""
        if self._index is None:
            from domectl.objects import ObjectIndex

            self._index = ObjectIndex(self.master.hall.languages)
        return self._index

    def _free(self, what: str) -> None:
        show = self.master.show
        if show is not None:
            raise Refused(f"{what}: the show {show.title!r} drives the dome; stop it first "
                          "(POST /api/show/stop)")

    def _state(self, *keys: str) -> dict:
        state = self.master.status()
        return {k: state[k] for k in keys}

    # ------------------------------------------------------------ time

    def set_rate(self, rate) -> dict:
        from domectl.simclock import check_rate

        rate = number(rate, "rate")
        try:
            check_rate(rate)
        except ValueError as e:
            raise BadRequest(f"rate: {e}") from None
        with self.master.lock:
            self._free("time rate")
            self.master.set_rate(rate)
            self.master.paused_rate = None
        return self._state("time")

    def pause(self) -> dict:
        m = self.master
        with m.lock:
            self._free("time pause")
            if m.clock.rate != 0.0:
                m.paused_rate = m.clock.rate
                m.set_rate(0.0)
        return self._state("time")

    def resume(self) -> dict:
        m = self.master
        with m.lock:
            self._free("time resume")
            if m.clock.rate == 0.0:
                m.set_rate(m.paused_rate if m.paused_rate is not None else 1.0)
            m.paused_rate = None
        return self._state("time")

    def set_time(self, utc) -> dict:
        utc_text = text(utc, "utc")
        try:
            when = datetime.fromisoformat(utc_text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadRequest(f"utc {utc_text!r}: write an ISO 8601 time such as 2026-11-20T21:00:00Z") from None
        if when.tzinfo is None:
            raise BadRequest(f"utc {utc_text!r}: give the zone (Z for UTC)")
        try:
            when = when.astimezone(timezone.utc)
        except OverflowError:
            raise BadRequest(f"utc {utc_text!r}: out of the calendar") from None
        with self.master.lock:
            self._free("time set")
            try:
                self.master.jump(when)
            except TimeRangeError as e:
                raise Refused(str(e)) from None
        return self._state("time")

    def now(self) -> dict:
        m = self.master
        with m.lock:
            self._free("time now")
            m.jump(self.wall_clock())
            m.set_rate(1.0)
            m.paused_rate = None
        return self._state("time")

    # ------------------------------------------------------------ place

    def place_named(self, name) -> dict:
        from domectl.places import HALL, find_place, suggest_place

        name = text(name, "name")
        m = self.master
        place = find_place(name)
        if place is None:
            hint = suggest_place(name)
            raise Refused(f"no place called {name!r}" + (f"; did you mean {hint!r}?" if hint else
                                                           " (GET /api/places lists them)"))
        site = m.hall_site() if place.name == HALL else place.site
        with m.lock:
            self._free("place")
            m.travel(*site)
            m.site_name = place.name
        return self._state("site")

    def place_at(self, latitude_deg, longitude_deg, elevation_m=0.0) -> dict:
        lat = number(latitude_deg, "latitude_deg", -90.0, 90.0)
        lon = number(longitude_deg, "longitude_deg", -180.0, 180.0)
        elev = number(elevation_m, "elevation_m", -500.0, 9000.0)
        m = self.master
        with m.lock:
            self._free("place")
            m.travel(lat, lon, elev)
            m.site_name = None
        return self._state("site")

    # ------------------------------------------------------------ view

    def view(self, *, az_deg=None, alt_deg=None, zoom=None, d_az_deg=None, d_alt_deg=None, zoom_by=None,
             smooth: bool = False) -> dict:
        """Turn the sky (absolute and/or relative); ``smooth``: within the comfort limits."""
        if not isinstance(smooth, bool):
            raise BadRequest(f"smooth must be true or false, not {smooth!r}")
        m = self.master
        with m.lock:
            self._free("view")
            now_s = m.next_time_s()
            az, alt, z = m.view_at(now_s)
            if az_deg is not None:
                az = number(az_deg, "az_deg")
            if alt_deg is not None:
                alt = number(alt_deg, "alt_deg", -90.0, 90.0)
            if zoom is not None:
                z = number(zoom, "zoom")
            if d_az_deg is not None:
                az += number(d_az_deg, "d_az_deg", -360.0, 360.0)
            if d_alt_deg is not None:
                # A drag past the zenith or the nadir stops there.
                alt = min(90.0, max(-90.0, alt + number(d_alt_deg, "d_alt_deg", -180.0, 180.0)))
            if zoom_by is not None:      # a zoom button held past the end stops there
                z = min(MAX_ZOOM, max(MIN_ZOOM, z * number(zoom_by, "zoom_by", 1e-3, 1e3)))
            try:
                target = check_view(az, alt, z)
            except ValueError as e:
                raise BadRequest(str(e)) from None
            self._go(target, now_s, smooth=smooth)
        return self._state("view")

    def recenter(self) -> dict:
        m = self.master
        with m.lock:
            self._free("recenter")
            self._go((m.hall.dome.front_az_deg % 360.0, 0.0, 1.0), m.next_time_s(), smooth=True, target="front")
        return self._state("view")

    def _go(self, view, now_s: float, *, smooth: bool, target: str = "") -> None:
        m = self.master
        if smooth:
            m.move = plan(m.view_at(now_s), now_s, lambda t: view, target=target, current=m.move)
        else:
            m.move = None
            m.scene.view_az_deg, m.scene.view_alt_deg, m.scene.zoom = view

    def goto(self, target, zoom=None) -> dict:
        """Point at ``target`` and bring it smoothly to the zoom centre, 30 deg above the dome's front."""
        name = text(target, "target")
        if self._in_space():
            raise Refused(f"goto {name}: in space the sky is the ship's; fly to a body instead "
                          "(POST /api/voyage/fly) or come home first")
        obj = self.index.resolve(name)
        if obj is None:
            close = self.index.search(name, self.master.scene.language, 3)
            raise Refused(f"no object called {name!r}" + (
                "; did you mean " + ", ".join(r["label"] for r in close) + "?" if close else ""))
        z_to = None if zoom is None else number(zoom, "zoom")
        m = self.master
        # Framed at the zoom centre: dome elevation = room elevation + tilt at the front.
        frame_alt_deg = ZOOM_CENTRE_ELEV_DEG - m.hall.dome.tilt_deg
        with m.lock:
            self._free("goto")
            now_s = m.next_time_s()
            start = m.view_at(now_s)
            zoom_end = start[2] if z_to is None else z_to
            try:
                check_view(0.0, 0.0, zoom_end)
            except ValueError as e:
                raise BadRequest(str(e)) from None
            seen = {}

            def target_at(t_s: float):
                sample = self.ephemeris.sample(m.clock.utc(t_s * m.fps), *m.site)
                enu = self.index.direction_enu(obj, sample)
                if enu is None:
                    raise Refused(f"{obj.key}: not in this sky")
                alt, az = enu_to_altaz(enu)
                seen["alt"] = float(alt)
                return float(az) % 360.0, min(90.0, max(-90.0, float(alt) - frame_alt_deg)), zoom_end

            try:
                m.move = plan(start, now_s, target_at, target=obj.key, current=m.move)
            except TooFast as e:
                raise Refused(f"goto {obj.label(m.scene.language)}: at {m.clock.rate:g}x {e}") from None
            m.scene.pointer = obj.key
            move = m.move
        return {**self._state("view", "pointer"), "target": obj.key,
                "label": obj.label(m.scene.language), "kind": obj.kind,
                "arrives_in_s": move.duration_s, "below_horizon": seen.get("alt", 0.0) < 0.0}

    # ------------------------------------------------------------ the space voyage

    def _in_space(self) -> bool:
        v = self.master.voyage
        return v is not None and v.in_space

    def fly(self, target, distance_km=None) -> dict:
        """Fly to a body (moon, mars, earth...), ending ``distance_km`` from its centre (default 3 radii)."""
        name = text(target, "target")
        distance_m = None if distance_km is None else number(distance_km, "distance_km", 0.0) * 1000.0
        try:
            body_name(name)
        except ValueError as e:
            raise BadRequest(f"target: {e}") from None
        m = self.master
        with m.lock:
            self._free("fly")
            try:
                flight = m.fly_to(name, distance_m)
            except NoClearPath as e:
                raise Refused(str(e)) from None
            except ValueError as e:
                raise BadRequest(f"distance_km: {e}") from None
            m.move = None                        # the flight turns the ship; the view stays as it is
        return {**self._state("voyage"), "target": flight.target.lower(),
                "arrives_in_s": round(flight.end_s - flight.t0_s, 3)}

    def orbit(self, target=None) -> dict:
        """Circle the nearest body (or ``target``) from where the observer is."""
        m = self.master
        with m.lock:
            self._free("orbit")
            try:
                m.orbit(None if target in (None, "") else text(target, "target"))
            except ValueError as e:
                raise Refused(str(e)) from None
        return self._state("voyage")

    def home(self) -> dict:
        """Fly back to the site the voyage left from, and land there."""
        m = self.master
        with m.lock:
            self._free("home")
            flight = m.return_home()
        out = self._state("voyage")
        if flight is not None:
            out["arrives_in_s"] = round(flight.end_s - flight.t0_s, 3)
        return out

    def park(self) -> dict:
        """Stop in space where the observer is (at rest relative to the nearest body)."""
        m = self.master
        with m.lock:
            self._free("park")
            m.hold_position()
        return self._state("voyage")

    def stereo(self, separation) -> dict:
        """The eye separation: "natural" (the hall's own), "auto" (as much depth as is comfortable:
        hyperstereo for planets), or metres; the master keeps every frame within the comfort limit."""
        m = self.master
        if separation in ("natural", None):
            value = None
        elif separation == "auto":
            value = math.inf
        else:
            value = number(separation, "separation", 0.0)
        with m.lock:
            m.scene.eye_separation_m = value
        return self._state("stereo")

    def model(self, name, *, on=True, az_deg=0.0, elev_deg=10.0, distance_m=12.0, scale=1.0,
              heading_deg=0.0) -> dict:
        """Place the 3D model ``name`` on the dome (dome azimuth from the front, elevation above the
        springline, metres from the centre), or take it away (``on`` false)."""
        from domectl.meshes import MeshError, available_models, load_model
        from domectl.placement import place_model

        model = text(name, "name")
        if model not in available_models():
            raise BadRequest(f"name: no model {model!r}; the models are {', '.join(available_models())}")
        m = self.master
        keep = tuple(v for v in m.scene.models if v.name != model)
        if on in (False, "false", 0):
            with m.lock:
                m.scene.models = keep
            return {"models": [v.name for v in keep]}
        try:
            load_model(model)
        except MeshError as e:
            raise Refused(str(e)) from None
        view = place_model(model, on_dome=True, az_deg=number(az_deg, "az_deg"),
                           elev_deg=number(elev_deg, "elev_deg", -30.0, 90.0),
                           distance_m=number(distance_m, "distance_m", 0.5), scale=number(scale, "scale", 0.0),
                           heading_deg=number(heading_deg, "heading_deg"))
        with m.lock:
            m.scene.models = keep + (view,)
        return {"models": [v.name for v in m.scene.models]}

    def pointer(self, target) -> dict:
        name = text(target, "target").strip()
        key = ""
        if name:
            obj = self.index.resolve(name)
            if obj is None:
                raise Refused(f"no object called {name!r} (GET /api/search?q=... finds names)")
            key = obj.key
        with self.master.lock:
            self._free("pointer")
            self.master.scene.pointer = key
        return self._state("pointer")

    def search(self, query: str, limit: int = 10) -> list[dict]:
        return self.index.search(query, self.master.scene.language, limit)

    # ------------------------------------------------------------ layers, language

    def layer(self, name, *, on=None, opacity=None, fade_s=None) -> dict:
        name = text(name, "name")
        if name not in LAYER_NAMES:
            raise BadRequest(f"name {name!r}: unknown layer; known layers: {', '.join(LAYER_NAMES)}")
        if (on is None) == (opacity is None):
            raise BadRequest("layer: give either on (true/false) or opacity (0..1)")
        if on is not None and not isinstance(on, bool):
            raise BadRequest(f"on must be true or false, not {on!r}")
        target = (1.0 if on else 0.0) if on is not None else number(opacity, "opacity", 0.0, 1.0)
        fade = DEFAULT_FADE_S if fade_s is None else number(fade_s, "fade_s", 0.0, MAX_FADE_S)
        with self.master.lock:
            self._free("layer")
            try:
                self.master.fade_layer(name, target, fade)
            except ConfigError as e:
                raise BadRequest(str(e)) from None
        return self._state("layers")

    def language(self, language) -> dict:
        language = text(language, "language")
        languages = self.master.hall.languages
        if language not in languages:
            raise BadRequest(f"language {language!r}: the hall speaks {', '.join(languages)}")
        with self.master.lock:
            self.master.scene.language = language
        return self._state("language")

    # ------------------------------------------------------------ test patterns

    def pattern(self, pattern, projectors=None) -> dict:
        """Show test pattern ``pattern`` on ``projectors`` (all when none), black elsewhere; "" ends it."""
        from calibration.patterns import spec

        name = text(pattern, "pattern")
        who = [] if projectors is None else projectors
        if not isinstance(who, list) or not all(isinstance(p, str) for p in who):
            raise BadRequest(f"projectors must be a list of projector ids, not {projectors!r}")
        from calibration.patterns import check_projectors

        try:
            check_projectors(self.master.hall, who)
        except ConfigError as e:
            raise BadRequest(f"projectors: {e}") from None
        if name:
            try:
                name = spec(name, who)
            except ConfigError as e:
                raise BadRequest(str(e)) from None
        elif who:
            raise BadRequest("projectors: give a pattern to show on them (or none to end the pattern)")
        with self.master.lock:
            self.master.pattern = name
        return self._state("pattern")

    # ------------------------------------------------------------ calibration (manual refinement)

    def calibration_state(self) -> dict:
        """GET /api/calibration: the master's calibration, per projector, and which revision
        each node last drew with."""
        m = self.master
        with m.lock:
            cal, version, dirty = m.calibration, m.calibration_version, m.calibration_dirty
            revision = m.calibration_revision if cal is not None else None
            store = m.calibration_store
            nodes = [{"ig": n.ig, "online": n.online, "calibration_revision": n.calibration_revision}
                     for n in m.barrier.nodes.values()]
        projectors = [] if cal is None else [_projector_state(p) for p in cal.projectors]
        igs = {g.id: g.projector for g in m.hall.igs}
        for node in nodes:
            node["projector"] = igs.get(node["ig"])
        return {"calibration": {"loaded": cal is not None, "hall": None if cal is None else cal.hall,
                                "version": version, "dirty": dirty, "revision": revision,
                                "store": None if store is None else str(store)},
                "projectors": projectors, "nodes": nodes}

    def calibration_adjust(self, projector, row=None, col=None, dx_px=None, dy_px=None, offset_px=None,
                           grid=None) -> dict:
        """Refine ``projector``'s control grid: ``grid`` [rows, cols] resamples it; then point
        (row, col) is nudged by (dx_px, dy_px) or set to ``offset_px`` [dx, dy]. Live on the dome
        at the next publication (<= 0.1 s); ``dirty`` until saved."""
        from calibration import adjust

        name = text(projector, "projector")
        nudging = dx_px is not None or dy_px is not None
        if nudging and offset_px is not None:
            raise BadRequest("calibration adjust: give dx_px/dy_px (a nudge) or offset_px (absolute), not both")
        pointed = nudging or offset_px is not None
        if pointed and (row is None or col is None):
            raise BadRequest("calibration adjust: a nudge or an offset needs the point's row and col")
        if not pointed and grid is None:
            raise BadRequest("calibration adjust: give dx_px/dy_px, offset_px or grid")
        if (row is not None or col is not None) and not pointed:
            raise BadRequest("calibration adjust: row and col need dx_px/dy_px or offset_px")
        if grid is not None:
            if (not isinstance(grid, list) or len(grid) != 2
                    or not all(isinstance(n, int) and not isinstance(n, bool) for n in grid)):
                raise BadRequest(f"grid must be [rows, cols], two whole numbers, not {grid!r}")
        if pointed:
            row, col = _index(row, "row"), _index(col, "col")
            if nudging:
                dx = 0.0 if dx_px is None else number(dx_px, "dx_px", -adjust.MAX_OFFSET_PX, adjust.MAX_OFFSET_PX)
                dy = 0.0 if dy_px is None else number(dy_px, "dy_px", -adjust.MAX_OFFSET_PX, adjust.MAX_OFFSET_PX)
            else:
                if not isinstance(offset_px, list) or len(offset_px) != 2:
                    raise BadRequest(f"offset_px must be [dx, dy] in pixels, not {offset_px!r}")
                dx = number(offset_px[0], "offset_px[0]", -adjust.MAX_OFFSET_PX, adjust.MAX_OFFSET_PX)
                dy = number(offset_px[1], "offset_px[1]", -adjust.MAX_OFFSET_PX, adjust.MAX_OFFSET_PX)
        m = self.master
        with m.lock:
            cal = m.calibration
            if cal is None:
                raise Refused("no calibration is loaded (the master runs on the hall config's models): "
                              "start it with its calibration store")
            try:
                p = cal.projector(name)
            except ConfigError as e:
                raise BadRequest(str(e)) from None
            control = p.control
            try:
                if grid is not None:
                    control = adjust.resample(control, grid[0], grid[1])
                if pointed:
                    control = (adjust.nudge(control, row, col, dx, dy) if nudging
                               else adjust.set_offset(control, row, col, dx, dy))
            except ValueError as e:
                raise BadRequest(str(e)) from None
            if control != p.control:
                from dataclasses import replace

                m.set_calibration(cal.replace_projector(replace(p, control=control)), dirty=True)
            out = self.calibration_summary()
        out["projector"] = name
        out["control"] = _control_state(control)
        if pointed:
            out["point"] = {"row": row, "col": col, "offset_px": list(control.offsets_px[row][col])}
        return out

    def calibration_save(self, note="") -> dict:
        """Commit the master's calibration to the store as a new version (clears ``dirty``)."""
        from calibration.store import CalibrationStore, default_store_root

        note = text(note, "note")
        if len(note) > 1000:
            raise BadRequest("note: at most 1000 characters")
        m = self.master
        with m.lock:
            cal = m.calibration
            root = m.calibration_store or default_store_root(m.hall)
        if cal is None:
            raise Refused("no calibration is loaded: nothing to save")
        # The store's lock and fsyncs take milliseconds: outside the master's lock, so the frame
        # loop never waits for the disk.
        version = CalibrationStore.open(root, m.hall).save(cal, note or "manual refinement (console)")
        m.mark_calibration_saved(version, cal)
        with m.lock:
            m.calibration_store = root
            return self.calibration_summary()

    def calibration_revert(self) -> dict:
        """Back to the store's current version (drops unsaved refinement)."""
        m = self.master
        if m.calibration_store is None and m.calibration is None:
            raise Refused("no calibration is loaded: nothing to revert")
        if not m.use_store_calibration(m.calibration_store):
            raise Refused(f"the calibration store {m.calibration_store} cannot be read (see the master's log)")
        with m.lock:
            return self.calibration_summary()

    def calibration_summary(self) -> dict:
        m = self.master
        return {"calibration": {"version": m.calibration_version, "dirty": m.calibration_dirty,
                                "revision": m.calibration_revision if m.calibration is not None else None}}

    # ------------------------------------------------------------ blackout

    def blackout(self, fade_s=None) -> dict:
        """Fade the dome to black over ``fade_s`` (default 1 s; 0 at once: panic)."""
        return self._dim(1.0, BLACKOUT_FADE_S if fade_s is None else number(fade_s, "fade_s", 0.0, MAX_FADE_S))

    def restore(self, fade_s=None) -> dict:
        return self._dim(0.0, RESTORE_FADE_S if fade_s is None else number(fade_s, "fade_s", 0.0, MAX_FADE_S))

    def _dim(self, target: float, fade_s: float) -> dict:
        m = self.master
        with m.lock:
            now_s = m.next_time_s()
            level = 1.0 if m.scene.blackout else m.dim.at(now_s)
            m.scene.blackout = False
            m.dim = Fade(level, target, now_s, fade_s)
        return self._state("blackout")


def _index(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{field} must be a whole number (a control point's index), not {value!r}")
    return value


def _control_state(control) -> dict:
    return {"rows": control.rows, "cols": control.cols,
            "offsets_px": [[list(o) for o in row] for row in control.offsets_px]}


def _projector_state(p) -> dict:
    fit = None if p.fit is None else {"rms_px": p.fit.rms_px, "max_px": p.fit.max_px, "points": p.fit.points}
    return {"name": p.name, "fit": fit,
            "blend": {"width_frac": p.blend.width_frac, "gamma": p.blend.gamma, "black_uplift": p.blend.black_uplift},
            "colour": {"gain_rgb": list(p.colour.gain_rgb),
                       "lut_size": None if p.colour.lut is None else len(p.colour.lut[0])},
            "control": _control_state(p.control)}
