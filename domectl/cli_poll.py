"""``domectl poll open|close|status|show|hide``: the audience poll of a running master.

Talks to the master's control API (:mod:`domectl.control`) on the hall's
``http_port``; control needs the token, which a master on this machine
leaves in its run directory (or the hall's ``keys/control.token``).

    domectl poll open --question "fr=Quelle planète ?" --question "en=Which planet?" \\
        --options Mars,Jupiter,Saturne --duration 30
    domectl poll status --json
    domectl poll close
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

LANG_PREFIX = re.compile(r"^([a-z]{2})=(.*)$", re.S)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "poll", help="open, close and follow the audience poll of a running master",
        description="Control the audience poll of the hall's running master (domectl master or "
                    "domectl run) over its control API. Vote boxes then press /vote <seat> <button> "
                    "over OSC (docs/votes.md).")
    actions = p.add_subparsers(dest="poll_action", metavar="ACTION", required=True)

    def common(q):
        q.add_argument("--config", type=Path, default=None, metavar="DIR",
                       help="hall config directory (default: the embedded reference hall)")
        q.add_argument("--keys", type=Path, default=None, metavar="DIR",
                       help="key directory with control.token (default: <config dir>/keys)")
        q.add_argument("--token", default=None, help="the control token (default: found on this machine)")
        q.add_argument("--json", action="store_true", help="print the poll's status as JSON")
        return q

    o = common(actions.add_parser("open", help="open a poll and show its tally on the dome"))
    o.add_argument("--question", action="append", required=True, metavar="[LANG=]TEXT",
                   help="the question; repeat as fr=..., en=..., nl=..., de=... for each language "
                        "(a language left out uses the hall's default language)")
    o.add_argument("--options", required=True, metavar="A,B,C",
                   help="2 to 8 options, comma-separated, in the order of the vote-box buttons 1, 2, ...")
    o.add_argument("--duration", type=float, default=None, metavar="S",
                   help="close by itself after S seconds (default: open until `domectl poll close`)")
    o.add_argument("--id", default=None, help="the poll's id (default: poll<N>)")
    common(actions.add_parser("close", help="close the open poll (its result stays on the dome)"))
    s = common(actions.add_parser("status", help="the poll: question, options, tally, rejected presses"))
    s.add_argument("--png", type=Path, default=None, metavar="FILE", help="also write the tally as a PNG chart")
    s.add_argument("--watch", action="store_true",
                   help="keep the live tally on screen, redrawn as votes come in, until Ctrl-C")
    common(actions.add_parser("show", help="show the tally on the dome"))
    common(actions.add_parser("hide", help="take the tally off the dome"))
    return p


def _question(values: list[str]):
    if len(values) == 1 and not LANG_PREFIX.match(values[0]):
        return values[0]
    out = {}
    for v in values:
        m = LANG_PREFIX.match(v)
        if not m:
            raise argparse.ArgumentTypeError(f"--question {v!r}: with several questions, each needs "
                                             "its language, as fr=TEXT")
        out[m.group(1)] = m.group(2)
    return out


def cmd_poll(args) -> int:
    from domectl.control import client_for

    action = args.poll_action
    hall, client = client_for(args, control=action != "status")
    if action == "status" and args.watch:
        return watch(client, args.json)
    if action == "status":
        status = client.get("/api/poll")
    else:
        body = {}
        if action == "open":
            options = [o.strip() for o in args.options.split(",")]
            body = {"question": _question(args.question), "options": options}
            if args.duration is not None:
                body["duration_s"] = args.duration
            if args.id is not None:
                body["id"] = args.id
        status = client.post(f"/api/poll/{action}", body)
    if getattr(args, "png", None) is not None:
        from domectl.votes import tally_png

        tally_png(status, args.png, hall.default_language)
    print(json.dumps(status, indent=1, ensure_ascii=False) if args.json else format_poll(status))
    return 0


#: How often ``poll status --watch`` asks the master (a vote shows within this).
WATCH_EVERY_S = 0.25


def watch(client, as_json: bool) -> int:
    """The live tally until Ctrl-C: redrawn in place on a terminal, else printed when it changes."""
    import sys
    import time

    tty = sys.stdout.isatty()
    last = None
    try:
        while True:
            status = client.get("/api/poll")
            if not tty:
                status.pop("remaining_s", None)      # a pipe gets the changes, not a ticking clock
            text = json.dumps(status, ensure_ascii=False) if as_json else format_poll(status)
            if text != last:
                print(("\x1b[H\x1b[2J" if tty else "") + text, flush=True)
                last = text
            time.sleep(WATCH_EVERY_S)
    except KeyboardInterrupt:
        return 0


def format_poll(status: dict) -> str:
    """The poll for a person: question, a bar per option, seats voted, rejected presses."""
    from domectl.votes import bar_text

    if status.get("poll") is None:
        return "no poll yet"
    state = "open" if status["open"] else f"closed ({status.get('close_reason')})"
    remaining = status.get("remaining_s")
    lines = [f"poll {status['poll']}: {state}"
             + (f", {remaining:.0f} s left" if status["open"] and remaining is not None else "")
             + (", on the dome" if status.get("on_dome") else ""),
             f"  {status['question']}"]
    tally = status.get("tally", {})
    total = sum(tally.values())
    labels = (status.get("labels") or {}).get(status.get("language"), status.get("options", []))
    for i, (key, n) in enumerate(tally.items(), start=1):
        share = n / total if total else 0.0
        label = labels[i - 1] if i - 1 < len(labels) else key
        winner = " <- winner" if not status["open"] and status.get("winner") == key else ""
        lines.append(f"  {i}. {label:<16} {bar_text(share, 20)} {n:4d} ({100 * share:.0f} %){winner}")
    lines.append(f"  seats voted: {status.get('seats_voted', 0)} of {status.get('seats', '?')}")
    rejected = {k: v for k, v in status.get("rejected", {}).items() if v}
    if rejected:
        lines.append("  rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
    return "\n".join(lines)
