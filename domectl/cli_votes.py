"""``domectl votes simulate``: simulated vote boxes sending real OSC to a running master.

For rehearsals: N boxes (default every seat of the hall) press buttons as an audience
would: each box presses once per round, a fraction of them press again with another
button (they changed their mind; the last press wins), in random order, paced to
``--rate`` presses a second. It prints what it sent and the final choices per button, so
the operator can check the dome's tally against them.

Registered by :mod:`domectl.cli` with :func:`add_parser`; :func:`cmd_votes` returns an
exit code and raises :class:`~domectl.errors.DomectlError` on bad arguments or config.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from domectl.errors import DomectlError

#: Presses a second by default: a hall's real burst (134 boxes in a few seconds) is far
#: slower, and it stays well under the master's per-address limit (votes.ADDRESS_RATE_PER_S),
#: since every simulated box sends from this one machine.
DEFAULT_RATE_PER_S = 500.0
#: Boxes that press a second time with another button: audiences change their minds.
CHANGE_MIND_FRACTION = 0.2
#: Buttons when neither --weights nor --options say.
DEFAULT_OPTIONS = 3
#: A simulated box presses at most this share of the master's per-box rate limit, so a
#: rehearsal tally is never cut by the limiter (the rate is lowered, and the output says so).
BOX_RATE_SHARE = 0.8
#: Seconds between progress lines.
PROGRESS_INTERVAL_S = 1.0
#: Sleep only when ahead of the pace by more than this; sleeping less is not precise.
MIN_SLEEP_S = 0.002


@dataclass(frozen=True)
class SimPlan:
    """What the simulated boxes will press, in order, and how each ends up."""

    presses: tuple[tuple[int, int], ...]      # (seat, button 1..N) in sending order
    final: dict[int, int]                     # seat -> its last button
    options: int
    changed: int                              # presses that changed a box's earlier choice

    def totals(self) -> dict[int, int]:
        """Button -> boxes whose last press it was (what the tally must show)."""
        out = dict.fromkeys(range(1, self.options + 1), 0)
        for button in self.final.values():
            out[button] += 1
        return out


def plan_presses(seats: Sequence[int], weights: Sequence[float], rounds: int = 1,
                 change_fraction: float = CHANGE_MIND_FRACTION, seed: int | None = None) -> SimPlan:
    """Press order for ``seats``: per round every box presses a button drawn with ``weights``
    (button i + 1 has weight i), and ``change_fraction`` of them press again later in the round
    with a different button."""
    rng = random.Random(seed)
    buttons = list(range(1, len(weights) + 1))
    presses: list[tuple[int, int]] = []
    final: dict[int, int] = {}
    changed = 0
    for _ in range(rounds):
        order = list(seats)
        rng.shuffle(order)
        round_presses = [(seat, rng.choices(buttons, weights)[0]) for seat in order]
        if len(buttons) > 1:
            for seat, first in list(round_presses):
                if rng.random() < change_fraction:
                    others = [b for b in buttons if b != first]
                    other_weights = [weights[b - 1] for b in others]
                    second = rng.choices(others, other_weights if sum(other_weights) > 0 else None)[0]
                    at = rng.randint(round_presses.index((seat, first)) + 1, len(round_presses))
                    round_presses.insert(at, (seat, second))
        for seat, button in round_presses:
            if seat in final and final[seat] != button:
                changed += 1
            final[seat] = button
        presses.extend(round_presses)
    return SimPlan(tuple(presses), final, len(buttons), changed)


def vote_datagram(seat: int, button: int) -> bytes:
    """``/vote <int seat> <int button>`` as one OSC datagram."""
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder("/vote")
    builder.add_arg(int(seat), OscMessageBuilder.ARG_TYPE_INT)
    builder.add_arg(int(button), OscMessageBuilder.ARG_TYPE_INT)
    return builder.build().dgram


def send_presses(presses: Sequence[tuple[int, int]], host: str, port: int, rate_per_s: float,
                 progress: Callable[[int, int], None] | None = None,
                 clock_s: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send the presses over UDP at ``rate_per_s``; returns how many were sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start_s = last_progress_s = clock_s()
    try:
        for n, (seat, button) in enumerate(presses):
            due_s = start_s + n / rate_per_s
            ahead_s = due_s - clock_s()
            if ahead_s > MIN_SLEEP_S:
                sleep(ahead_s)
            sock.sendto(vote_datagram(seat, button), (host, port))
            if progress is not None and clock_s() - last_progress_s >= PROGRESS_INTERVAL_S:
                last_progress_s = clock_s()
                progress(n + 1, len(presses))
    finally:
        sock.close()
    return len(presses)


def _weights(text: str | None, options: int | None) -> list[float]:
    if text is None:
        n = options or DEFAULT_OPTIONS
        if not 1 <= n <= 64:
            raise DomectlError(f"--options {n}: must be 1..64")
        return [1.0] * n
    try:
        weights = [float(x) for x in text.split(",")]
    except ValueError:
        raise DomectlError(f"--weights {text!r}: write one number per button, like 3,1,1") from None
    if any(not (w >= 0.0 and w < float("inf")) for w in weights) or sum(weights) <= 0:
        raise DomectlError(f"--weights {text!r}: weights must be >= 0 and not all 0")
    if options is not None and options != len(weights):
        raise DomectlError(f"--options {options} but --weights gives {len(weights)} buttons: give one of them")
    return weights


def _seats(text: str, all_seats: Sequence[int], rng: random.Random) -> list[int]:
    if text == "all":
        return list(all_seats)
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 1 <= n <= len(all_seats):
        raise DomectlError(f"--seats {text!r}: give a number 1..{len(all_seats)} or 'all'")
    return sorted(rng.sample(list(all_seats), n))


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``votes`` (and its ``simulate`` action) to ``domectl``'s subcommands."""
    p = subparsers.add_parser(
        "votes", help="vote boxes: simulate an audience for rehearsals",
        description="Tools for the hall's vote boxes (OSC /vote <seat> <button>, docs/votes.md).")
    actions = p.add_subparsers(dest="votes_command", metavar="ACTION", required=True)
    s = actions.add_parser(
        "simulate", help="send simulated votes to a running master",
        description="Send real OSC votes to the master's vote port as simulated boxes would: every box "
                    "presses once per round, some press again with another button (the last press wins). "
                    "Prints the final choices per button: what the tally must show. Open a poll first "
                    "(domectl poll open).")
    s.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")
    s.add_argument("--seats", default="all", metavar="N|all",
                   help="how many boxes press: N random seats, or all (default)")
    s.add_argument("--rounds", type=int, default=1, metavar="R", help="times every box presses (default 1)")
    s.add_argument("--weights", default=None, metavar="W1,W2,...",
                   help="relative popularity of buttons 1, 2, ... (default: equal)")
    s.add_argument("--options", type=int, default=None, metavar="N",
                   help=f"number of buttons when --weights is not given (default {DEFAULT_OPTIONS})")
    s.add_argument("--change", type=float, default=CHANGE_MIND_FRACTION, metavar="FRACTION",
                   help=f"share of boxes that press again with another button (default {CHANGE_MIND_FRACTION})")
    s.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_S, metavar="VOTES_PER_S",
                   help=f"presses a second (default {DEFAULT_RATE_PER_S:g}; lowered, and said so, where it "
                        f"would trip the master's rate limits)")
    s.add_argument("--host", default=None, help="the master (default: cluster.toml master.host)")
    s.add_argument("--port", type=int, default=None, help="its vote port (default: cluster.toml osc.vote_port)")
    s.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable rehearsal")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def cmd_votes(args) -> int:
    """Run ``domectl votes ACTION``."""
    return {"simulate": cmd_votes_simulate}[args.votes_command](args)


def cmd_votes_simulate(args, out=None, err=None) -> int:
    from domectl.config import load_hall
    from domectl.votes import ADDRESS_RATE_PER_S, BOX_RATE_PER_S

    out, err = out or sys.stdout, err or sys.stderr
    hall = load_hall(args.config)
    if args.rounds < 1:
        raise DomectlError(f"--rounds {args.rounds}: must be >= 1")
    if not 0.0 <= args.change <= 1.0:
        raise DomectlError(f"--change {args.change}: must be in [0, 1]")
    if not 0.0 < args.rate < float("inf"):
        raise DomectlError(f"--rate {args.rate}: must be > 0 presses a second")
    weights = _weights(args.weights, args.options)
    seats = _seats(str(args.seats), hall.seats.seat_ids(), random.Random(args.seed))
    host = args.host or hall.master.host
    port = args.port or hall.osc.vote_port
    plan = plan_presses(seats, weights, args.rounds, args.change, args.seed)
    # Presses are spread evenly over the boxes, so each box presses at rate / boxes; all of
    # them come from this machine's one address.
    max_rate = BOX_RATE_SHARE * min(BOX_RATE_PER_S * len(seats), ADDRESS_RATE_PER_S)
    rate = args.rate
    if rate > max_rate:
        rate = max_rate
        print(f"votes simulate: rate lowered to {rate:.0f}/s so that the master's rate limits "
              f"({BOX_RATE_PER_S:g}/s a box, {ADDRESS_RATE_PER_S:g}/s an address) keep every press", file=err)

    def progress(sent: int, total: int) -> None:
        print(f"votes simulate: {sent}/{total} presses sent", file=err, flush=True)

    try:
        sent = send_presses(plan.presses, host, port, rate, progress)
    except OSError as e:
        raise DomectlError(f"cannot send to {host}:{port}: {e.strerror or e}: check --host/--port "
                           f"(cluster.toml master.host, osc.vote_port)") from None
    totals = plan.totals()
    if args.json:
        print(json.dumps({"host": host, "port": port, "boxes": len(seats), "rounds": args.rounds,
                          "sent": sent, "changed": plan.changed, "rate_per_s": rate,
                          "final": {str(b): n for b, n in totals.items()}}), file=out)
    else:
        print(f"votes simulate: sent {sent} presses from {len(seats)} boxes to {host}:{port} "
              f"({args.rounds} round{'s' if args.rounds > 1 else ''}, {plan.changed} changes of mind, "
              f"{rate:.0f}/s)", file=out)
        print("  final choices (the tally should show): "
              + ", ".join(f"button {b}: {n}" for b, n in totals.items()), file=out)
    return 0
