"""A process holding a VoteDesk (logging to LOG) and a VoteServer, for the kill -9 tests.

    python tests/vote_driver.py LOG [--open] [--once]

Recovers the desk from LOG, with ``--open`` opens a poll (3 options, no duration) unless
one was restored, starts the server on an ephemeral 127.0.0.1 port and prints one JSON
line per change, flushed: ``{"port", "datagrams", "poll", "open", "tally", "votes",
"replay"}`` (``votes``: [[seat, button], ...]). ``--once``: print the recovered state and
exit. Rate limits are off: the tests send many presses per seat from one address.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domectl.config import load_hall
from domectl.votes import VoteDesk
from domectl.voteserver import VoteServer

#: How often the driver looks for new datagrams to report.
REPORT_INTERVAL_S = 0.002


def state(desk: VoteDesk, server: VoteServer | None, report) -> dict:
    # Datagrams first: the server counts a batch after the desk has it, so the state read
    # next includes at least that many.
    datagrams = server.datagrams if server else 0
    status = desk.status()
    poll = desk.poll()
    return {"port": server.port if server else None, "datagrams": datagrams,
            "poll": status["poll"], "open": status["open"], "tally": status["tally"],
            "votes": sorted([seat, index + 1] for seat, index in poll.votes.items()) if poll else [],
            "replay": {"votes": report.votes, "torn_bytes": report.torn_bytes, "corrupt": report.corrupt}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log", type=Path)
    parser.add_argument("--open", action="store_true")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    desk = VoteDesk.for_hall(load_hall(), log_path=args.log, limits=None)
    if args.once:
        print(json.dumps(state(desk, None, desk.replay_report)), flush=True)
        return 0
    if args.open and not desk.status()["open"]:
        desk.open("Where next?", ["Mars", "Saturn", "Moon"], poll_id="kill-test")
    server = VoteServer(desk, 0, ("127.0.0.0/8",), host="127.0.0.1").start()
    last = None
    while True:
        if server.datagrams != last:
            last = server.datagrams
            print(json.dumps(state(desk, server, desk.replay_report)), flush=True)
        time.sleep(REPORT_INTERVAL_S)


if __name__ == "__main__":
    sys.exit(main())
