"""``domectl show``: check show files (and, later, render them offline).

    domectl show validate FILE...

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
    return p


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
    return {"validate": cmd_show_validate}[args.show_command](args)


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
