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
from domectl.status import run_dir, state_dir

log = logging.getLogger("domectl.services")


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

    def stop(self) -> None:
        for server in (self.votes, self.control):
            if server is not None:
                try:
                    server.stop()
                except Exception:     # shutting down: report, carry on closing the rest
                    log.exception("stopping %r", server)


def bind_host(hall: Hall) -> str:
    """Loopback for a hall on one machine, every interface otherwise (as the ZeroMQ sockets)."""
    return "127.0.0.1" if hall.master.host == "127.0.0.1" else "0.0.0.0"


def start_services(hall: Hall, master, keys_dir: Path | None) -> Services:
    """Start the OSC vote endpoint and the HTTP control API for ``master`` (whose ``votes`` is set)."""
    from domectl.voteserver import VoteServer

    host = bind_host(hall)
    try:
        votes = VoteServer.for_hall(hall, master.votes, host=host).start() if master.votes is not None else None
    except OSError as e:
        raise ControlError(f"{e.strerror} (cluster.toml [osc] vote_port)") from None
    token = control_token(keys_dir, run_dir(hall.name))
    control = ControlServer(host, hall.master.http_port, token, gets=_gets(master),
                            posts=_posts(master)).start()
    return Services(votes=votes, control=control)


def _gets(master) -> dict:
    gets = {"/api/state": master.status, "/api/show": master.show_status}
    if master.votes is not None:
        gets["/api/poll"] = master.poll_status
    return gets


def _posts(master) -> dict:
    return {**_show_posts(master), **_poll_posts(master)}


def _fields(body: dict, action: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> None:
    unknown = set(body) - set(required) - set(optional)
    if unknown:
        expected = ", ".join(required + optional) or "none"
        raise Refused(f"{action}: unknown field(s) {', '.join(sorted(unknown))}; expected {expected}")
    missing = [f for f in required if f not in body]
    if missing:
        raise Refused(f"{action}: needs {', '.join(missing)}")


def _show_posts(master) -> dict:
    """POST /api/show/load {"path", "play"?}, play, pause, resume, skip, seek {"to"}, stop."""

    def playing() -> object:
        if master.show is None:
            raise Refused("no show is loaded (POST /api/show/load {\"path\": ...})")
        return master.show

    def load(body: dict) -> dict:
        _fields(body, "show load", ("path",), ("play",))
        if not isinstance(body["path"], str) or not body["path"]:
            raise Refused("show load: path must be the show file's path on the master's computer")
        run = master.load_show(body["path"])
        if body.get("play"):
            run.play(master.next_time_s())
        return master.show_status()

    def command(name: str):
        def handler(body: dict) -> dict:
            _fields(body, f"show {name}")
            getattr(playing(), name)(master.next_time_s())
            return master.show_status()
        return handler

    def seek(body: dict) -> dict:
        _fields(body, "show seek", ("to",))
        to = body["to"]
        if isinstance(to, bool) or not isinstance(to, (int, float, str)):
            raise Refused("show seek: to must be seconds, a time as MM:SS or HH:MM:SS.s, or a label")
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
        unknown = set(body) - {"question", "options", "duration_s", "id"}
        if unknown:
            raise Refused(f"poll open: unknown field(s) {', '.join(sorted(unknown))}; "
                          "expected question, options, duration_s, id")
        if "question" not in body or "options" not in body:
            raise Refused("poll open: needs question and options")
        desk.open(body["question"], body["options"], body.get("duration_s"), body.get("id"))
        master.show_tally = True
        return master.poll_status()

    def poll_close(body: dict) -> dict:
        if not desk.close("operator"):
            raise Refused("poll close: no poll is open")
        return master.poll_status()

    def on_dome(shown: bool):
        def handler(body: dict) -> dict:
            master.show_tally = shown
            return master.poll_status()
        return handler

    return {"/api/poll/open": poll_open, "/api/poll/close": poll_close,
            "/api/poll/show": on_dome(True), "/api/poll/hide": on_dome(False)}
