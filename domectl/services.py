"""The master's side services: the audience's vote desk and OSC endpoint, and the control API.

``domectl master`` (primary, or a standby once it has taken over) and
``domectl run`` start the same services through :func:`open_votes` (before
the Master exists: the desk is part of its mirrored state) and
:func:`start_services` (after). A standby starts its servers only when it
takes over: until then the primary holds the ports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from domectl.config import Hall
from domectl.control import ControlError, ControlServer, Refused, control_token
from domectl.errors import DomectlError
from domectl.operator import BadRequest
from domectl.status import run_dir, state_dir

log = logging.getLogger("domectl.services")
#: What a command handler raises to refuse (the HTTP API answers 4xx; OSC counts "refused").
REFUSALS = (Refused, DomectlError, ValueError)


def vote_log_path(hall: Hall, role: str) -> Path:
    """The vote log of this hall's primary or standby (two masters on one computer need two)."""
    return state_dir(hall.name) / ("votes.jsonl" if role == "primary" else "votes-standby.jsonl")


def open_votes(hall: Hall, role: str):
    """The hall's VoteDesk, its open poll and tallies restored from the log."""
    from domectl.votes import VoteDesk

    path = vote_log_path(hall, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    desk = VoteDesk.for_hall(hall, log_path=path)
    report = desk.replay_report
    if report is not None and (report.votes or report.polls):
        status = desk.status()
        log.warning("votes: restored %d polls and %d votes from %s%s", report.polls, report.votes, path,
                    f"; poll {status['poll']!r} is open with {status['seats_voted']} seats voted"
                    if status["open"] else "")
    return desk


@dataclass
class Services:
    votes: object | None
    control: ControlServer | None
    osc_control: object | None = None
    preview: object | None = None
    master: object | None = None

    def stop(self) -> None:
        if self.master is not None and self.osc_control in self.master.inputs:
            self.master.inputs.remove(self.osc_control)
        for server in (self.votes, self.control, self.osc_control, self.preview):
            if server is not None:
                try:
                    server.stop()
                except Exception:     # shutting down: report, carry on closing the rest
                    log.exception("stopping %r", server)


def bind_host(hall: Hall) -> str:
    """Loopback for a hall on one machine, every interface otherwise (as the ZeroMQ sockets)."""
    return "127.0.0.1" if hall.master.host == "127.0.0.1" else "0.0.0.0"


def start_services(hall: Hall, master, keys_dir: Path | None, *, preview: bool = True) -> Services:
    """Start the OSC vote endpoint, the OSC control surfaces' endpoint, the console's live preview
    (``preview``) and the HTTP control API for ``master`` (whose ``votes`` is set)."""
    from domectl.operator import Operator
    from domectl.osccontrol import OscControl
    from domectl.voteserver import VoteServer

    host = bind_host(hall)
    services = Services(votes=None, control=None, master=master)
    try:
        try:
            services.votes = (VoteServer.for_hall(hall, master.votes, host=host).start()
                              if master.votes is not None else None)
        except OSError as e:
            raise ControlError(f"{e.strerror} (cluster.toml [osc] vote_port)") from None
        if master.calibration is None and master.role == "primary":
            # `domectl master` drives the cluster with the hall's calibration store (a standby that
            # took over already has the primary's; `domectl run` chose before the master started).
            master.use_store_calibration()
        operator = Operator(master, warm_up=True)
        posts = _posts(master, operator)
        try:
            services.osc_control = OscControl(posts, hall.osc.control_port, hall.osc.allowed_networks, host=host,
                                              refusals=REFUSALS)
        except OSError as e:
            raise ControlError(f"OSC control port {hall.osc.control_port}: {e.strerror} "
                               "(cluster.toml [osc] control_port)") from None
        master.inputs.append(services.osc_control)
        if preview:
            from domectl.preview import PreviewRenderer

            services.preview = PreviewRenderer(hall, lambda: master.current).start()
        token = control_token(keys_dir, run_dir(hall.name))
        services.control = ControlServer(
            host, hall.master.http_port, token,
            gets={**_gets(master), "/api/state": lambda: _live_state(master, services),
                  "/api/calibration": operator.calibration_state}, posts=posts,
            queries={"/api/search": _search(operator)},
            raw_gets={"/api/frame": _frame_bytes(master), "/api/preview.jpg": _preview_jpeg(services.preview)},
            live=lambda: _live_state(master, services), preview=services.preview).start()
    except BaseException:
        services.stop()
        raise
    return services


def _live_state(master, services: Services) -> dict:
    """/api/state: the master's status, with the console's own servers' counters."""
    state = master.status()
    if services.osc_control is not None:
        state["osc_control"] = services.osc_control.stats()
    if services.control is not None:
        state["console"] = {"websockets": services.control.ws_clients,
                            "preview": services.preview.stats if services.preview is not None else None}
    return state


def _frame_bytes(master):
    def get():
        from domectl.frame import encode_frame

        state = master.current
        return None if state is None else ("application/octet-stream", encode_frame(state))
    return get


def _preview_jpeg(preview):
    def get():
        image = preview.latest_jpeg() if preview is not None else None
        return None if image is None else ("image/jpeg", image[1])
    return get


def _search(operator):
    def search(query: dict) -> dict:
        _fields(query, "search", ("q",), ("limit",))
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            raise BadRequest(f"search: limit {query['limit']!r} is not a whole number") from None
        if not 1 <= limit <= 100:
            raise BadRequest(f"search: limit {limit}: must be in [1, 100]")
        return {"results": operator.search(query["q"], limit)}
    return search


def _gets(master) -> dict:
    from domectl.places import PLACES

    places = {"places": [{"name": p.name, "latitude_deg": p.latitude_deg, "longitude_deg": p.longitude_deg,
                          "elevation_m": p.elevation_m, "note": p.note} for p in PLACES.values()]}
    gets = {"/api/state": master.status, "/api/show": master.show_status, "/api/places": lambda: places,
            "/api/shows": lambda: {"shows": show_files(master.hall)}}
    if master.votes is not None:
        gets["/api/poll"] = master.poll_status
    return gets


def show_files(hall: Hall) -> list[dict]:
    """The show files the console offers: the hall's own ``shows/`` directory, then the bundled ones."""
    import shows as bundled

    from shows.format import ShowError, load_show

    found: list[dict] = []
    roots = [hall.root / "shows"] if hall.root is not None else []
    for root in [*roots, Path(bundled.__file__).parent]:
        for path in sorted(root.glob("*.show")) if root.is_dir() else ():
            try:
                title = load_show(path).title
            except (OSError, ShowError) as e:
                log.warning("show %s cannot be offered: %s", path, str(e).splitlines()[0])
                continue
            found.append({"path": str(path.resolve()), "title": title})
    return found


def _posts(master, operator) -> dict:
    return {**_operator_posts(operator), **_show_posts(master), **_poll_posts(master)}


def _operator_posts(op) -> dict:
    """POST /api/time/*, /api/place, /api/view[/recenter], /api/goto, /api/pointer, /api/layer,
    /api/language, /api/blackout, /api/restore, /api/voyage/*, /api/stereo, /api/model (docs/console.md)."""

    def call(action: str, method, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()):
        def handler(body: dict) -> dict:
            _fields(body, action, required, optional)
            return method(**body)
        return handler

    def place(body: dict) -> dict:
        if "name" in body:
            _fields(body, "place", ("name",))
            return op.place_named(body["name"])
        _fields(body, "place", ("latitude_deg", "longitude_deg"), ("elevation_m",))
        return op.place_at(**body)

    return {
        "/api/time/rate": call("time rate", op.set_rate, ("rate",)),
        "/api/time/pause": call("time pause", op.pause),
        "/api/time/resume": call("time resume", op.resume),
        "/api/time/set": call("time set", op.set_time, ("utc",)),
        "/api/time/now": call("time now", op.now),
        "/api/place": place,
        "/api/view": call("view", op.view, (), ("az_deg", "alt_deg", "zoom", "d_az_deg", "d_alt_deg",
                                                "zoom_by", "smooth")),
        "/api/view/recenter": call("view recenter", op.recenter),
        "/api/goto": call("goto", op.goto, ("target",), ("zoom",)),
        "/api/pointer": call("pointer", op.pointer, ("target",)),
        "/api/layer": call("layer", op.layer, ("name",), ("on", "opacity", "fade_s")),
        "/api/language": call("language", op.language, ("language",)),
        "/api/blackout": call("blackout", op.blackout, (), ("fade_s",)),
        "/api/restore": call("restore", op.restore, (), ("fade_s",)),
        "/api/calibration/pattern": call("calibration pattern", op.pattern, ("pattern",), ("projectors",)),
        "/api/calibration/adjust": call("calibration adjust", op.calibration_adjust, ("projector",),
                                        ("row", "col", "dx_px", "dy_px", "offset_px", "grid")),
        "/api/calibration/save": call("calibration save", op.calibration_save, (), ("note",)),
        "/api/calibration/revert": call("calibration revert", op.calibration_revert),
        "/api/voyage/fly": call("voyage fly", op.fly, ("target",), ("distance_km",)),
        "/api/voyage/orbit": call("voyage orbit", op.orbit, (), ("target",)),
        "/api/voyage/home": call("voyage home", op.home),
        "/api/voyage/park": call("voyage park", op.park),
        "/api/stereo": call("stereo", op.stereo, ("separation",)),
        "/api/model": call("model", op.model, ("name",), ("on", "az_deg", "elev_deg", "distance_m", "scale",
                                                          "heading_deg")),
    }


def _fields(body: dict, action: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> None:
    unknown = set(body) - set(required) - set(optional)
    if unknown:
        expected = ", ".join(required + optional) or "none"
        raise BadRequest(f"{action}: unknown field(s) {', '.join(sorted(unknown))}; expected {expected}")
    missing = [f for f in required if f not in body]
    if missing:
        raise BadRequest(f"{action}: needs {', '.join(missing)}")


def _show_posts(master) -> dict:
    """POST /api/show/load {"path", "play"?}, play, pause, resume, skip, seek {"to"}, stop."""

    def playing() -> object:
        if master.show is None:
            raise Refused("no show is loaded (POST /api/show/load {\"path\": ...})")
        return master.show

    def load(body: dict) -> dict:
        _fields(body, "show load", ("path",), ("play",))
        if not isinstance(body["path"], str) or not body["path"]:
            raise BadRequest("show load: path must be the show file's path on the master's computer")
        if not isinstance(body.get("play", False), bool):
            raise BadRequest(f"show load: play must be true or false, not {body['play']!r}")
        run = master.load_show(body["path"])          # parses outside the lock, swaps under it
        if body.get("play"):
            with master.lock:
                run.play(master.next_time_s())
        return master.show_status()

    def command(name: str):
        def handler(body: dict) -> dict:
            _fields(body, f"show {name}")
            with master.lock:
                getattr(playing(), name)(master.next_time_s())
            return master.show_status()
        return handler

    def seek(body: dict) -> dict:
        _fields(body, "show seek", ("to",))
        to = body["to"]
        if isinstance(to, bool) or not isinstance(to, (int, float, str)):
            raise BadRequest("show seek: to must be seconds, a time as MM:SS or HH:MM:SS.s, or a label")
        with master.lock:
            playing().seek(to, master.next_time_s())
        return master.show_status()

    def stop(body: dict) -> dict:
        _fields(body, "show stop")
        if not master.unload_show():
            raise Refused("no show is loaded")
        return {"stopped": True, "state": master.status()}

    return {"/api/show/load": load, "/api/show/play": command("play"), "/api/show/pause": command("pause"),
            "/api/show/resume": command("resume"), "/api/show/skip": command("skip"),
            "/api/show/seek": seek, "/api/show/stop": stop}


def _poll_posts(master) -> dict:
    desk = master.votes
    if desk is None:
        return {}

    def poll_open(body: dict) -> dict:
        _fields(body, "poll open", ("question", "options"), ("duration_s", "id"))
        with master.lock:
            desk.open(body["question"], body["options"], body.get("duration_s"), body.get("id"))
            master.show_tally = True
        return master.poll_status()

    def poll_close(body: dict) -> dict:
        _fields(body, "poll close")
        with master.lock:
            if not desk.close("operator"):
                raise Refused("poll close: no poll is open")
        return master.poll_status()

    def on_dome(shown: bool):
        def handler(body: dict) -> dict:
            _fields(body, f"poll {'show' if shown else 'hide'}")
            with master.lock:
                master.show_tally = shown
            return master.poll_status()
        return handler

    return {"/api/poll/open": poll_open, "/api/poll/close": poll_close,
            "/api/poll/show": on_dome(True), "/api/poll/hide": on_dome(False)}
