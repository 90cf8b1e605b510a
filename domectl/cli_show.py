"""``domectl show``: check show files, render them offline, and play them in a running master.

    domectl show validate FILE...
    domectl show render FILE --config C --out DIR --size PX --fps F [--from T] [--to T] [--eye E]
    domectl show load FILE [--play]          (the running master plays it on the dome)
    domectl show play|pause|resume|skip|stop|status [--json]
    domectl show seek TIME|LABEL

``validate`` parses and checks each file completely (shows/format.py): for a
valid file it prints one summary line (duration, cues, polls, holds,
languages) on stdout; for an invalid one, every error as
``file:line:col: message (hint)`` on stderr. The exit status is 0 when every
file is valid, 1 otherwise.

Wired into ``domectl`` by :func:`add_parser` and :func:`cmd_show` (each action
is one ``_add_<action>`` + ``cmd_show_<action>`` pair, so ``render`` slots in
beside ``validate``); ``python -m domectl.cli_show show ...`` runs it alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from domectl.errors import DomectlError

#: Exit status when a file is invalid (2 stays `domectl`'s "could not run at all").
EXIT_INVALID = 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``show`` and its actions to ``domectl``'s subparsers; returns the ``show`` parser."""
    p = subparsers.add_parser(
        "show", help="check show files (the show format: shows/README.md)",
        description="Work with show files: a producer's timeline of cues that runs live in the master "
                    "and renders frame-exactly offline (format: shows/README.md).")
    actions = p.add_subparsers(dest="show_command", metavar="ACTION", required=True)
    _add_validate(actions)
    from domectl.showrender import add_render_parser

    add_render_parser(actions)
    _add_live(actions)
    return p


#: The live actions: each is one POST to the master's control API (GET for status).
LIVE_ACTIONS = {
    "load": "load FILE into the running master, paused at its start (--play: and play)",
    "play": "play (at a hold point: continue past it)",
    "pause": "pause; the dome holds the picture",
    "resume": "continue from a hold point or a pause",
    "skip": "jump to the next cue",
    "seek": "jump to a show time (seconds, MM:SS, HH:MM:SS.s) or a label",
    "stop": "unload the show; the operator's sky carries on from its last frame",
    "status": "where the show is: state, time, hold note, next cue, poll results",
}


def _add_live(actions) -> None:
    for name, help_text in LIVE_ACTIONS.items():
        a = actions.add_parser(name, help=help_text, description=f"Running master: {help_text}.")
        if name == "load":
            a.add_argument("file", type=Path, metavar="FILE", help="the .show file (checked before it replaces "
                                                                   "the show playing)")
            a.add_argument("--play", action="store_true", help="start playing at once")
        if name == "seek":
            a.add_argument("target", metavar="TIME|LABEL", help="90, 12:30, 00:12:30.5, or a label")
        a.add_argument("--config", type=Path, default=None, metavar="DIR",
                       help="hall config directory (default: the embedded reference hall)")
        a.add_argument("--keys", type=Path, default=None, metavar="DIR",
                       help="key directory with control.token (default: <config dir>/keys)")
        a.add_argument("--token", default=None, help="the control token (default: found on this machine)")
        a.add_argument("--json", action="store_true", help="print the show's status as JSON")


def _add_validate(actions) -> None:
    v = actions.add_parser(
        "validate", help="check show files; every error with file:line:col and a hint",
        description="Parse and check each show file completely: syntax, times, easings, layers, places, "
                    "pointer objects, media files, languages, polls and their branches, and the sim time "
                    "on every path. Prints a summary per valid file; every error of an invalid one on "
                    "stderr as file:line:col: message (hint). Exit status 0 when all are valid, "
                    f"{EXIT_INVALID} otherwise.")
    v.add_argument("files", type=Path, nargs="+", metavar="FILE", help="the .show files to check")


def cmd_show(args) -> int:
    """Run ``domectl show ACTION``; the exit status."""
    if args.show_command == "validate":
        return cmd_show_validate(args)
    if args.show_command == "render":
        from domectl.showrender import cmd_show_render

        return cmd_show_render(args)
    return cmd_show_live(args)


def _seek_target(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def cmd_show_live(args) -> int:
    """One live action on the running master, over its control API."""
    import json

    from domectl.control import client_for

    action = args.show_command
    _, client = client_for(args, control=action != "status")
    if action == "status":
        status = client.get("/api/show")
    else:
        body: dict = {}
        if action == "load":
            body = {"path": str(args.file.resolve()), "play": args.play}
        elif action == "seek":
            body = {"to": _seek_target(args.target)}
        status = client.post(f"/api/show/{action}", body)
    print(json.dumps(status, indent=1, ensure_ascii=False) if args.json else format_show(status))
    return 0


def format_show(status: dict | None) -> str:
    """The show for a person: title, state, time of duration, the hold's note, the next cue."""
    if status is None:
        return "no show loaded"
    if "stopped" in status:
        return "show stopped; the operator has the dome"
    lines = [f"{status['title']} ({status['path']})",
             f"  {status['state']} at {_duration(status['show_time_s'])} of {_duration(status['duration_s'])}"
             + (f", section {status['label']}" if status.get("label") else "")]
    if status.get("hold"):
        lines.append(f"  hold (line {status['hold']['line']}): {status['hold']['note']}")
    if status.get("next_cue_s") is not None:
        lines.append(f"  next cue at {_duration(status['next_cue_s'])}")
    if status.get("poll"):
        lines.append(f"  poll {status['poll']} is open")
    if status.get("poll_results"):
        lines.append("  poll results: " + ", ".join(
            f"{k} -> {'nobody voted' if v is None else v}" for k, v in status["poll_results"].items()))
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds * 10) / 10, 60)
    return f"{int(minutes)}:{s:04.1f}"


def summary(show) -> str:
    """One line: duration (a range when branches differ), cues, polls, holds, languages."""
    shortest, longest = show.durations_s()
    duration = _duration(shortest) if shortest == longest else f"{_duration(shortest)}-{_duration(longest)}"
    polls, holds = show.polls, show.holds
    poll_text = f"{len(polls)} poll{'s' if len(polls) != 1 else ''}"
    if polls:
        poll_text += f" ({', '.join(p.id for p in polls)})"
    return (f"ok, {duration}, {len(show.cues)} cues, {poll_text}, {len(holds)} hold{'s' if len(holds) != 1 else ''}, "
            f"languages {' '.join(show.languages)}: {show.title}")


def cmd_show_validate(args) -> int:
    from shows.format import ShowError, load_show

    status = 0
    for path in args.files:
        try:
            show = load_show(path)
        except ShowError as e:
            status = EXIT_INVALID
            for issue in e.issues:
                print(issue, file=sys.stderr)
            count = len(e.issues)
            print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
            continue
        print(f"{path}: {summary(show)}")
    return status


def main(argv: list[str] | None = None) -> int:
    """``domectl show`` on its own (what ``domectl`` does once :func:`add_parser` is wired in)."""
    parser = argparse.ArgumentParser(prog="domectl")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    try:
        return cmd_show(args)
    except DomectlError as e:
        print(f"domectl show: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("domectl show: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
