"""Audience voting: seats, polls, the vote desk, its durable log, and pictures of the tally.

No sockets here (the OSC endpoint is :mod:`domectl.voteserver`); the only I/O is
the vote log (:class:`VoteLog`) and :func:`tally_png`.

    SeatMap         vote-box seat numbers 1..N <-> labels ("A1".."J13", then "W1".."W4")
    PollOption      one answer: a short key ("A", "yes") and optional labels per language
    Poll            one question: id, question per language, options, duration, times, state,
                    votes (seat -> option, last press wins) and the tally
    PollResult      what the show player branches on (winner, ties, tally)
    RateLimits      token buckets that keep a stuck box, or a flooding address, from swamping us
    VoteDesk        open / close / expire polls, ingest presses, status(), results(),
                    mirror() / restore() for the standby master
    VoteLog         the append-only JSON-lines log every accepted vote is written to before it counts
    tally_overlays  the live tally as dome overlays (a bar chart in block characters)
    tally_png       the same chart as a PNG, for the console and reports

One press goes through these checks, in this order; the first that fails is its
rejection reason, counted once in ``VoteDesk.status()["rejected"]``:

    rate_limited        the source address's token bucket is empty (RateLimits)
    unknown_seat        the seat is not a number (or label) of the hall's seat map
    rate_limited        this box's bucket (source address, seat) is empty
    no_open_poll        no poll is open (a poll whose time is up is closed by time first)
    invalid_choice      not a button number 1..N nor an option key of the open poll
    log_failed          the log could not be written: the vote must not count
    -> accepted         logged (written and flushed to the OS), then counted

The OSC endpoint adds ``not_allowed_source``, ``malformed`` and
``unknown_address`` before a press reaches the desk (:meth:`VoteDesk.count_rejected`).

Threads: every public method of VoteDesk takes the desk's one lock, so the OSC
thread may call :meth:`VoteDesk.ingest_many` while the frame loop calls
:meth:`~VoteDesk.status`, :meth:`~VoteDesk.expire` or :meth:`~VoteDesk.mirror`
and the console calls :meth:`~VoteDesk.open` / :meth:`~VoteDesk.close`. The log
is written under that lock, so the log's order is the order votes counted in, and
a replay gives the same state. :attr:`VoteDesk.version` (an int, read without the
lock) changes whenever the state does: a frame loop rebuilds its overlays only then.

Times: ``clock_s`` (default ``time.time``, UNIX seconds) stamps polls and votes and
decides when a poll's time is up; it is wall-clock time so that a poll restored
after a restart still closes when it was meant to. Rate limits use
``monotonic_s`` (default ``time.monotonic``). Both are injected; tests pass fakes.

Errors (both are :class:`~domectl.errors.DomectlError`, and ValueError):

    VoteError           a poll operation is impossible or its input is wrong (names the field)
    └── VoteLogError    the vote log cannot be used: names ``file:line``
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domectl.atomic import atomic_write_bytes
from domectl.errors import DomectlError
from domectl.frame import Overlay

log = logging.getLogger("domectl.votes")

LANGUAGES = ("fr", "en", "nl", "de")
CLOSE_REASONS = ("time", "show", "operator")
ACCEPTED = "accepted"
#: Every rejection reason, in the order status() lists them.
REJECT_REASONS = ("no_open_poll", "unknown_seat", "invalid_choice", "malformed", "unknown_address",
                  "rate_limited", "not_allowed_source", "log_failed")

#: Vote boxes have a handful of buttons, and the dome chart stays readable with up to 8 bars.
MAX_OPTIONS = 8
#: An option key is what a box may send as a string and what labels a bar: short.
MAX_OPTION_KEY_CHARS = 24
#: Labels per language: one line beside a bar on the dome.
MAX_OPTION_LABEL_CHARS = 48
#: A question the audience reads on the dome in a few seconds: about three lines.
MAX_QUESTION_CHARS = 300
#: Poll ids name polls in the show file and in results(); keep them short identifiers.
MAX_POLL_ID_CHARS = 64
#: A poll longer than an hour is a mistake (a session is 50 minutes).
MAX_DURATION_S = 3600.0
#: Closed polls kept for results() and the mirror: a show branches on its own few polls,
#: and 16 cover a day of sessions; each costs a few hundred bytes in every mirror (10 Hz).
MAX_HISTORY = 16

# Rate limits (RateLimits' defaults). A "box" is one (source address, seat) pair.
#: A finger presses a button at most 6-8 times a second: 10/s never limits a person, and caps
#: a stuck or chattering button at a cost of ~1 us per dropped packet.
BOX_RATE_PER_S = 10.0
#: Some boxes send each press 2-3 times (UDP does not retransmit); a person changing their
#: mind a few times in a second with such a box needs ~20 at once.
BOX_BURST = 20.0
#: One address may be a base station relaying every box of the hall: 134 boxes at their full
#: box rate is 1340/s; 2000/s leaves a margin and still caps a flood from one address.
ADDRESS_RATE_PER_S = 2000.0
#: The whole hall pressing at once through one relay, each press sent 3 times, is ~400
#: packets; 2000 covers that five times over.
ADDRESS_BURST = 2000.0
#: Token buckets kept at most: keys are (address, seat) of allowed networks only, so the hall's
#: own LAN needs far fewer; past this, idle (full) buckets are dropped (~100 bytes each).
MAX_BUCKETS = 65536

# The log.
LOG_MAGIC = "domectl-votes"
LOG_FORMAT = 1
MIRROR_FORMAT = 1
FSYNC_NEVER = "never"      # write + flush to the OS only: survives kill -9, not a power cut
FSYNC_EVENTS = "events"    # also fsync poll open / close / snapshot records (the default)
FSYNC_ALWAYS = "always"    # fsync (fdatasync) every batch of votes before they count
FSYNC_POLICIES = (FSYNC_NEVER, FSYNC_EVENTS, FSYNC_ALWAYS)

# The dome chart (tally_overlays).
#: Bar length in block characters; with eighth blocks a bar has 160 steps.
BAR_CELLS = 20
_EIGHTHS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589"   # 0/8 .. 7/8 of a cell, left-aligned
_FULL_BLOCK = "\u2588"
_EMPTY_BLOCK = "\u2591"                                     # light shade: the bar's unfilled part
#: DejaVu Sans: a block character is 1.05 cap heights wide and 1.6 tall.
BLOCK_WIDTH_CAPS = 1.05
#: DejaVu Sans' line height (ascent + descent) in cap heights: how far apart the question's lines are.
LINE_PITCH_CAPS = 1.6
#: Row pitch on the dome in cap heights: blocks are a line (1.6 caps) tall; 0.8 caps between bars
#: keeps them apart on a 1024 px domemaster (seen in a render of the chart).
ROW_PITCH_CAPS = 2.4
#: The question's cap height relative to the rows'.
QUESTION_SIZE = 1.15
#: Gap between a label, its bar and its count, in cap heights.
COLUMN_GAP_CAPS = 1.0
#: The question is wrapped to lines of at most this many characters on the dome.
QUESTION_LINE_CHARS = 36
#: A text width estimate per character (cap heights) when the font cannot be measured.
_AVG_CHAR_WIDTH_CAPS = 0.85
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


class VoteError(DomectlError, ValueError):
    """A poll operation is impossible (open while one is open) or its input is wrong."""


class VoteLogError(VoteError):
    """The vote log cannot be read or written; the message names ``file:line``."""


# ------------------------------------------------------------------- seats


@dataclass(frozen=True)
class SeatMap:
    """The hall's vote boxes: seat numbers 1..N, row by row, wheelchair places last.

    ``labels[n - 1]`` is seat n's label: row name + place in the row ("A1".."J13"),
    then "W1".."W<k>" for the wheelchair places.
    """

    labels: tuple[str, ...]

    @classmethod
    def from_seats(cls, seats) -> SeatMap:
        """From ``domectl.config.Seats`` (rows of ``name``/``count`` and ``wheelchair``)."""
        labels = [f"{row.name}{i}" for row in seats.rows for i in range(1, row.count + 1)]
        labels += [f"W{i}" for i in range(1, seats.wheelchair + 1)]
        if len(set(labels)) != len(labels):
            raise VoteError("seats.toml: row names make duplicate seat labels: give each row its own name")
        return cls(tuple(labels))

    @property
    def total(self) -> int:
        return len(self.labels)

    def seat_ids(self) -> range:
        return range(1, len(self.labels) + 1)

    def __contains__(self, seat: object) -> bool:
        return type(seat) is int and 1 <= seat <= len(self.labels)

    def label(self, seat: int) -> str:
        if seat not in self:
            raise VoteError(f"seat {seat!r}: this hall has seats 1..{self.total}")
        return self.labels[seat - 1]

    def seat_of(self, label: str) -> int | None:
        """The seat number of a label ("A7", case-insensitive), or None."""
        index = self._by_label.get(label.strip().upper())
        return None if index is None else index + 1

    @property
    def _by_label(self) -> dict[str, int]:
        cached = self.__dict__.get("_by_label_cache")
        if cached is None:
            cached = {label.upper(): i for i, label in enumerate(self.labels)}
            object.__setattr__(self, "_by_label_cache", cached)
        return cached


# ------------------------------------------------------------------- polls


@dataclass(frozen=True)
class PollOption:
    """One answer. ``key``: short, shown on the chart, accepted from a box as a string;
    ``labels``: optional text per language (missing languages show the key)."""

    key: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.key

    def to_json(self) -> dict:
        return {"key": self.key, "labels": dict(self.labels)}


@dataclass
class Poll:
    """One poll and its votes. Owned by a VoteDesk (mutated under its lock); the desk
    hands out copies (:meth:`VoteDesk.poll`).

    ``question`` holds every hall language; ``votes`` maps seat -> option index (0-based);
    ``tally[i]`` counts the seats whose current vote is option i; ``presses`` counts the
    accepted presses, changes of mind included. Times are the desk clock's (UNIX s).
    """

    id: str
    question: dict[str, str]
    options: tuple[PollOption, ...]
    duration_s: float | None
    opened_s: float
    closes_s: float | None
    closed_s: float | None = None
    close_reason: str | None = None
    votes: dict[int, int] = field(default_factory=dict)
    tally: list[int] = field(default_factory=list)
    presses: int = 0

    def __post_init__(self):
        if not self.tally:
            self.tally = [0] * len(self.options)
        self._keys = {o.key.casefold(): i for i, o in enumerate(self.options)}

    @property
    def open(self) -> bool:
        return self.closed_s is None

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.options)

    def choice_index(self, choice: object) -> int | None:
        """Option index of a press: a button number 1..N, or an option key (any case)."""
        if type(choice) is int:
            return choice - 1 if 1 <= choice <= len(self.options) else None
        if type(choice) is str:
            return self._keys.get(choice.strip().casefold())
        return None

    def apply(self, seat: int, index: int) -> None:
        previous = self.votes.get(seat)
        if previous is not None:
            self.tally[previous] -= 1
        self.votes[seat] = index
        self.tally[index] += 1
        self.presses += 1

    def to_json(self, votes: bool = True) -> dict:
        """Plain JSON; ``votes`` as [[seat, button 1..N], ...] (omitted with votes=False)."""
        out = {"id": self.id, "question": dict(self.question), "options": [o.to_json() for o in self.options],
               "duration_s": self.duration_s, "opened_s": self.opened_s, "closes_s": self.closes_s,
               "closed_s": self.closed_s, "close_reason": self.close_reason, "tally": list(self.tally),
               "presses": self.presses}
        if votes:
            out["votes"] = [[seat, index + 1] for seat, index in self.votes.items()]
        return out

    @classmethod
    def from_json(cls, d: Any, where: str, languages: Sequence[str]) -> Poll:
        """Validate a to_json() dict; VoteError names ``where.field`` when it is wrong."""
        if not isinstance(d, dict):
            raise VoteError(f"{where}: must be an object")
        spec = _poll_spec(d.get("question"), d.get("options"), d.get("duration_s"), d.get("id"),
                          languages, languages[0], where)
        poll_id, question, options, duration_s = spec
        opened_s = _finite(d.get("opened_s"), f"{where}.opened_s")
        closes_s = None if d.get("closes_s") is None else _finite(d["closes_s"], f"{where}.closes_s")
        closed_s = None if d.get("closed_s") is None else _finite(d["closed_s"], f"{where}.closed_s")
        reason = d.get("close_reason")
        if (closed_s is None) != (reason is None) or (reason is not None and reason not in CLOSE_REASONS):
            raise VoteError(f"{where}.close_reason = {reason!r}: must be one of {', '.join(CLOSE_REASONS)} "
                            f"when closed_s is set, else null")
        poll = cls(poll_id, question, options, duration_s, opened_s, closes_s, closed_s, reason)
        tally = d.get("tally")
        if not isinstance(tally, list) or len(tally) != len(options) or not all(
                type(n) is int and n >= 0 for n in tally):
            raise VoteError(f"{where}.tally = {tally!r}: must be {len(options)} counts >= 0")
        presses = d.get("presses", 0)
        if type(presses) is not int or presses < 0:
            raise VoteError(f"{where}.presses = {presses!r}: must be an integer >= 0")
        if "votes" in d:
            votes = d["votes"]
            if not isinstance(votes, list):
                raise VoteError(f"{where}.votes: must be a list of [seat, button]")
            for i, pair in enumerate(votes):
                if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int and pair[0] >= 1
                        and type(pair[1]) is int and 1 <= pair[1] <= len(options)):
                    raise VoteError(f"{where}.votes[{i}] = {pair!r}: must be [seat >= 1, button 1..{len(options)}]")
                poll.apply(pair[0], pair[1] - 1)
            if poll.tally != tally:
                raise VoteError(f"{where}.tally = {tally}: does not match its votes ({poll.tally})")
        else:
            poll.tally = list(tally)
        poll.presses = presses
        return poll


@dataclass(frozen=True)
class PollResult:
    """A poll's outcome for the show player.

    ``winner``: the key of the option with the most votes, None when nobody voted.
    Ties are resolved to the option listed first (the lowest button number), so a show
    puts its default branch first; ``tied`` lists every key sharing the top count, so a
    show can also branch on a tie itself (``len(tied) > 1``).
    """

    poll_id: str
    open: bool
    options: tuple[str, ...]
    tally: tuple[int, ...]
    votes: int
    winner: str | None
    winner_index: int | None
    tied: tuple[str, ...]
    close_reason: str | None

    @classmethod
    def of(cls, poll: Poll) -> PollResult:
        top = max(poll.tally, default=0)
        tied = tuple(o.key for o, n in zip(poll.options, poll.tally) if top > 0 and n == top)
        index = poll.tally.index(top) if top > 0 else None
        return cls(poll.id, poll.open, poll.keys, tuple(poll.tally), sum(poll.tally),
                   None if index is None else poll.options[index].key, index, tied, poll.close_reason)

    def to_json(self) -> dict:
        return {"poll": self.poll_id, "open": self.open, "options": list(self.options),
                "tally": dict(zip(self.options, self.tally)), "votes": self.votes, "winner": self.winner,
                "tied": list(self.tied), "close_reason": self.close_reason}


def _finite(value: Any, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            low is not None and value <= low) or (high is not None and value > high):
        allowed = "a finite number" + (f" in ({low:g}, {high:g}]" if low is not None and high is not None else "")
        raise VoteError(f"{where} = {value!r}: must be {allowed}")
    return float(value)


def _text(value: Any, where: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise VoteError(f"{where} = {value!r}: must be a non-empty string")
    value = value.strip()
    if len(value) > max_chars:
        raise VoteError(f"{where}: {len(value)} characters: at most {max_chars}")
    return value


def _per_language(value: Any, where: str, languages: Sequence[str], default_language: str,
                  max_chars: int, fill: bool) -> dict[str, str]:
    """A text or {language: text} -> {language: text}; fill: every language (missing ones take
    the default language's text, else the first given)."""
    if isinstance(value, str):
        text = _text(value, where, max_chars)
        return {lang: text for lang in languages} if fill else {}
    if not isinstance(value, Mapping) or (fill and not value):
        raise VoteError(f"{where} = {value!r}: must be a text or a table of texts per language "
                        f"({', '.join(languages)})")
    out = {}
    for lang, text in value.items():
        if lang not in languages:
            raise VoteError(f"{where}.{lang}: not a language of this hall: use {', '.join(languages)}")
        out[lang] = _text(text, f"{where}.{lang}", max_chars)
    if fill and out:
        fallback = out.get(default_language) or next(iter(out.values()))
        out = {lang: out.get(lang, fallback) for lang in languages}
    return out


def _poll_spec(question: Any, options: Any, duration_s: Any, poll_id: Any, languages: Sequence[str],
               default_language: str, where: str) -> tuple[str, dict, tuple[PollOption, ...], float | None]:
    """Validate what opens a poll; VoteError names the field."""
    poll_id = _text(poll_id, f"{where}.id", MAX_POLL_ID_CHARS)
    question = _per_language(question, f"{where}.question", languages, default_language, MAX_QUESTION_CHARS,
                             fill=True)
    if isinstance(options, str) or not isinstance(options, Sequence) or not 2 <= len(options) <= MAX_OPTIONS:
        raise VoteError(f"{where}.options = {options!r}: must be a list of 2 to {MAX_OPTIONS} options")
    parsed = []
    for i, o in enumerate(options):
        at = f"{where}.options[{i}]"
        if isinstance(o, PollOption):
            o = o.to_json()
        if isinstance(o, str):
            parsed.append(PollOption(_text(o, at, MAX_OPTION_KEY_CHARS)))
        elif isinstance(o, Mapping):
            labels = _per_language(o.get("labels", {}), f"{at}.labels", languages, default_language,
                                   MAX_OPTION_LABEL_CHARS, fill=False)
            parsed.append(PollOption(_text(o.get("key"), f"{at}.key", MAX_OPTION_KEY_CHARS), labels))
        else:
            raise VoteError(f"{at} = {o!r}: must be a key such as 'A' or {{key, labels}}")
        first = [p.key.casefold() for p in parsed].index(parsed[-1].key.casefold())
        if first != i:
            raise VoteError(f"{at}.key = {parsed[-1].key!r}: the same as options[{first}] "
                            f"(keys are matched ignoring case): give each option its own key")
    if duration_s is not None:
        duration_s = _finite(duration_s, f"{where}.duration_s", 0.0, MAX_DURATION_S)
    return poll_id, question, tuple(parsed), duration_s


# ------------------------------------------------------------- rate limits


@dataclass(frozen=True)
class RateLimits:
    """Token buckets: each press takes one token from its address's bucket and one from its
    box's (address, seat) bucket; buckets refill at ``*_per_s`` up to ``*_burst``.
    The defaults' reasons are at their module constants."""

    box_per_s: float = BOX_RATE_PER_S
    box_burst: float = BOX_BURST
    address_per_s: float = ADDRESS_RATE_PER_S
    address_burst: float = ADDRESS_BURST

    def __post_init__(self):
        for name in ("box_per_s", "box_burst", "address_per_s", "address_burst"):
            _finite(getattr(self, name), f"RateLimits.{name}", 0.0, 1e9)


#: The limits a desk uses unless given others.
DEFAULT_LIMITS = RateLimits()


class _Buckets:
    """Token buckets by key; bounded to MAX_BUCKETS keys."""

    def __init__(self, per_s: float, burst: float):
        self.per_s, self.burst = per_s, burst
        self.state: dict[object, list[float]] = {}

    def take(self, key: object, now_s: float) -> bool:
        b = self.state.get(key)
        if b is None:
            if len(self.state) >= MAX_BUCKETS:
                self._prune(now_s)
            self.state[key] = [self.burst - 1.0, now_s]
            return True
        tokens = b[0] + (now_s - b[1]) * self.per_s
        if tokens > self.burst:
            tokens = self.burst
        b[1] = now_s
        if tokens >= 1.0:
            b[0] = tokens - 1.0
            return True
        b[0] = tokens
        return False

    def _prune(self, now_s: float) -> None:
        # A bucket that has refilled is the same as no bucket.
        self.state = {k: b for k, b in self.state.items() if b[0] + (now_s - b[1]) * self.per_s < self.burst}
        if len(self.state) >= MAX_BUCKETS:
            log.warning("vote rate limiter: %d busy sources, forgetting them all", len(self.state))
            self.state.clear()


# --------------------------------------------------------------------- log


@dataclass
class ReplayReport:
    """What reading a vote log found. ``corrupt``: "file:line: what" for each line skipped."""

    path: str
    lines: int = 0
    polls: int = 0
    votes: int = 0
    torn_bytes: int = 0
    corrupt: list[str] = field(default_factory=list)
    closed_by_time: bool = False

    @property
    def torn(self) -> int:
        return 1 if self.torn_bytes else 0


class VoteLog:
    """The append-only vote log: one JSON object per line (UTF-8), see docs/votes.md.

        {"log": "domectl-votes", "v": 1, "t": 1763668800.0}                   first line
        {"e": "open", "t": ..., "poll": {Poll.to_json() without votes}}
        {"e": "vote", "p": "q1", "s": 12, "c": 2, "t": 1763668805.123456}    seat 12, button 2
        {"e": "close", "p": "q1", "reason": "operator", "t": ...}
        {"e": "snapshot", "t": ..., "state": {VoteDesk.mirror()}}            the standby took over

    Durability: :meth:`append` writes a batch with one ``os.write`` (looping on a short
    write) before the desk counts it, so the bytes are in the kernel when a vote counts: a
    crash or kill -9 of the master loses nothing that counted. A power cut may still lose
    what the kernel has not written back yet (up to ``vm.dirty_expire_centisecs``, 30 s by
    default). ``fsync`` chooses what else is forced to the disk before it counts:

        "never"   nothing
        "events"  poll open / close / snapshot records (the default): after a power cut the
                  polls and how they closed are right, votes of the last seconds may be missing
        "always"  every batch of votes too (fdatasync): nothing that counted is lost to a power cut

    Measured on the reference 2-core VM: writing a vote line costs ~0.7 us and an fdatasync
    ~145 us, so "always" would cap presses arriving one by one at ~6,000/s; under load the
    server batches the datagrams that queued meanwhile into one write, and
    benchmarks/bench_votes.py still ingests 20,000 votes/s without loss with "always" (one
    fdatasync per ~6 votes), 100,000/s with "events". "events" is the default because a
    crash, not a power cut, is what a master on a UPS meets, and on a slow disk "always"
    holds the desk's lock (and so the frame loop's status reads) for each fsync; it is a
    constructor argument away (VoteDesk.for_hall(..., fsync="always")).

    Reading (:meth:`open`): a last line without its newline was torn by a kill -9 in the
    middle of a write; it never counted (the desk counts after the write returns), so it is
    cut off (counted in ``ReplayReport.torn_bytes``) before anything is appended. A line in
    the middle that is not a valid record is reported as ``file:line: what`` and skipped
    (``strict=True``: VoteLogError instead); the file is never rewritten otherwise.
    """

    def __init__(self, path: str | Path, *, fsync: str = FSYNC_EVENTS, strict: bool = False,
                 clock_s: Callable[[], float] = time.time):
        if fsync not in FSYNC_POLICIES:
            raise VoteError(f"VoteLog fsync = {fsync!r}: must be one of {', '.join(FSYNC_POLICIES)}")
        self.path = Path(path)
        self.fsync = fsync
        self.strict = strict
        self._clock_s = clock_s
        self._fd: int | None = None
        self._size = 0
        self.bytes_written = 0
        self.syncs = 0

    def open(self) -> tuple[list[tuple[int, dict]], ReplayReport]:
        """Read the existing records (line number, record), cut a torn tail, open for appending."""
        report = ReplayReport(str(self.path))
        records: list[tuple[int, dict]] = []
        data = self.path.read_bytes() if self.path.exists() else b""
        lines = data.split(b"\n")
        tail = lines.pop()              # b"" when the file ends with a newline
        if tail:
            report.torn_bytes = len(tail)
            log.warning("%s:%d: torn last line (%d bytes, a write cut short by a crash): dropped; "
                        "it never counted", self.path, len(lines) + 1, len(tail))
        for number, raw in enumerate(lines, start=1):
            report.lines += 1
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
            except (ValueError, UnicodeDecodeError) as e:
                self.corrupt(report, number, f"not a JSON record ({e}): {raw[:60]!r}")
                continue
            if number == 1 and (record.get("log") != LOG_MAGIC or record.get("v") != LOG_FORMAT):
                self.corrupt(report, 1, f"not a domectl vote log of format {LOG_FORMAT} "
                                        f"(first line {raw[:60]!r}): move it aside or pass another path")
                continue
            if number > 1:
                records.append((number, record))
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            self._fd = os.open(self.path, flags, 0o644)
            if tail:
                os.ftruncate(self._fd, len(data) - len(tail))
            self._size = len(data) - len(tail)
            if self._size == 0:
                header = json.dumps({"log": LOG_MAGIC, "v": LOG_FORMAT, "t": self._clock_s()}) + "\n"
                self.append(header.encode(), sync=True)
        except OSError as e:
            raise VoteLogError(f"{self.path}: cannot open the vote log for appending ({e.strerror}): "
                               f"check the directory exists and is writable") from None
        return records, report

    def corrupt(self, report: ReplayReport, line: int, what: str) -> None:
        message = f"{self.path}:{line}: {what}"
        if self.strict:
            raise VoteLogError(message)
        log.error("vote log: %s (skipped)", message)
        report.corrupt.append(message)

    def append(self, data: bytes, *, sync: bool = False) -> None:
        """Write ``data`` (whole lines) to the OS; fsync it when ``sync`` and the policy says so.

        Raises OSError; a short or failed write is cut back off the file first, so the log
        never holds a vote that did not count.
        """
        if self._fd is None:
            raise VoteLogError(f"{self.path}: the vote log is not open (VoteLog.open() first)")
        view = memoryview(data)
        written = 0
        try:
            while written < len(view):
                written += os.write(self._fd, view[written:])
            if (sync and self.fsync != FSYNC_NEVER) or self.fsync == FSYNC_ALWAYS:
                os.fdatasync(self._fd)
                self.syncs += 1
        except OSError:
            if written:
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:
                    pass
            raise
        self._size += written
        self.bytes_written += written

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _vote_line(poll_json_id: str, seat: int, button: int, t_s: float) -> str:
    return f'{{"e":"vote","p":{poll_json_id},"s":{seat},"c":{button},"t":{t_s:.6f}}}\n'


# -------------------------------------------------------------------- desk


class VoteDesk:
    """Polls and votes of one hall; see the module docstring for checks, threads and times.

    ``log``: a :class:`VoteLog` (not yet opened): the desk opens it and replays it at once
    (:attr:`replay_report`), restoring the open poll, its votes and the closed polls' results
    exactly; then every event is appended before it takes effect. None: no durability (tests,
    a rehearsal). Each desk needs its own log file (a primary and a standby on one computer:
    two paths). ``limits``: :class:`RateLimits`, or None for none (benchmarks of raw capacity).
    """

    def __init__(self, seats: SeatMap, *, languages: Sequence[str] = LANGUAGES,
                 default_language: str | None = None, log: VoteLog | None = None,
                 limits: RateLimits | None = DEFAULT_LIMITS, clock_s: Callable[[], float] = time.time,
                 monotonic_s: Callable[[], float] = time.monotonic):
        self.seats = seats
        self.languages = tuple(languages)
        if not self.languages or any(lang not in LANGUAGES for lang in self.languages):
            raise VoteError(f"VoteDesk languages {languages!r}: each must be one of {', '.join(LANGUAGES)}")
        self.default_language = default_language or self.languages[0]
        if self.default_language not in self.languages:
            raise VoteError(f"VoteDesk default_language {default_language!r}: must be one of {self.languages}")
        self.limits = limits
        self._address_buckets = _Buckets(limits.address_per_s, limits.address_burst) if limits else None
        self._box_buckets = _Buckets(limits.box_per_s, limits.box_burst) if limits else None
        self._clock_s = clock_s
        self._monotonic_s = monotonic_s
        self._lock = threading.Lock()
        self._polls: list[Poll] = []           # oldest first; only the last may be open
        self._serial = 0                       # polls opened, for ids made up by open()
        self.rejected: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
        self.accepted = 0
        #: Changes whenever the state does (read without the lock).
        self.version = 0
        self._log = log
        self.replay_report: ReplayReport | None = None
        if log is not None:
            records, report = log.open()
            self._replay(records, report)
            self.replay_report = report

    @classmethod
    def for_hall(cls, hall, *, log_path: str | Path | None = None, fsync: str = FSYNC_EVENTS,
                 **kwargs) -> VoteDesk:
        """A desk for a ``domectl.config.Hall``: its seats and languages, logging to ``log_path``."""
        return cls(SeatMap.from_seats(hall.seats), languages=hall.languages,
                   default_language=hall.default_language,
                   log=VoteLog(log_path, fsync=fsync) if log_path is not None else None, **kwargs)

    def release(self) -> None:
        """Close the log file (at shutdown); the desk must not be used afterwards."""
        if self._log is not None:
            self._log.close()

    # ---------------------------------------------------------- poll control

    def open(self, question: str | Mapping[str, str], options: Sequence[str | Mapping | PollOption],
             duration_s: float | None = None, poll_id: str | None = None) -> str:
        """Open a poll; return its id (``poll<N>`` when not given).

        question: a text (used for every language) or {language: text} (missing languages
        use the default language's text, else the first given). options: 2..MAX_OPTIONS keys,
        or {"key": "A", "labels": {language: label}}. duration_s: closes by time after that
        long; None: open until closed by the show or the operator.
        Raises VoteError naming the field, or when a poll is already open.
        """
        with self._lock:
            now_s = self._clock_s()
            self._expire_locked(now_s)
            current = self._current()
            if current is not None:
                raise VoteError(f"poll {current.id!r} is still open: close it first (domectl poll close)")
            poll_id = poll_id if poll_id is not None else f"poll{self._serial + 1}"
            spec = _poll_spec(question, options, duration_s, poll_id, self.languages, self.default_language,
                              "poll")
            poll_id, question_d, options_t, duration = spec
            poll = Poll(poll_id, question_d, options_t, duration, now_s,
                        None if duration is None else now_s + duration)
            self._write({"e": "open", "t": now_s, "poll": poll.to_json(votes=False)}, event=True)
            self._add_poll(poll)
            self._serial += 1
            self.version += 1
            return poll.id

    def close(self, reason: str = "operator", poll_id: str | None = None) -> bool:
        """Close the open poll (reason "show" or "operator"); False when none is open, or when
        ``poll_id`` is given and the open poll is another (the show closes only its own).

        ("time" is not a reason to give: a poll closes by time by itself, at its end.)
        """
        if reason not in CLOSE_REASONS or reason == "time":
            raise VoteError(f"close reason {reason!r}: must be one of show, operator")
        with self._lock:
            now_s = self._clock_s()
            if self._expire_locked(now_s):
                return False
            current = self._current()
            if current is None or (poll_id is not None and current.id != poll_id):
                return False
            self._close_locked(current, reason, now_s)
            return True

    def expire(self) -> bool:
        """Close the open poll by time if its time is up; True if it did. Call once a frame."""
        with self._lock:
            return self._expire_locked(self._clock_s())

    # --------------------------------------------------------------- presses

    def ingest(self, seat: object, choice: object, source: str = "") -> str:
        """One press: ``ACCEPTED`` or the rejection reason (module docstring)."""
        return self.ingest_many(((seat, choice, source),))[0]

    def ingest_many(self, presses: Iterable[tuple[object, object, str]]) -> list[str]:
        """Presses (seat, choice, source address) in arrival order -> outcome of each.

        seat: an int 1..N or a seat label ("A7"); choice: a button number 1..N (int) or an
        option key (str). The accepted ones are written to the log in one write before any
        of them counts (the batching that makes >= 20,000 votes/s possible).
        """
        outcomes: list[str] = []
        with self._lock:
            now_s = self._clock_s()
            mono_s = self._monotonic_s() if self.limits is not None else 0.0
            self._expire_locked(now_s)
            poll = self._current()
            address_take = self._address_buckets.take if self._address_buckets else None
            box_take = self._box_buckets.take if self._box_buckets else None
            seats = self.seats
            rejected = self.rejected
            accepted: list[tuple[int, int, int]] = []       # (position in outcomes, seat, index)
            for seat, choice, source in presses:
                if address_take is not None and not address_take(source, mono_s):
                    reason = "rate_limited"
                else:
                    if type(seat) is str:
                        seat = seats.seat_of(seat) or 0
                    if seat not in seats:
                        reason = "unknown_seat"
                    elif box_take is not None and not box_take((source, seat), mono_s):
                        reason = "rate_limited"
                    elif poll is None:
                        reason = "no_open_poll"
                    else:
                        index = poll.choice_index(choice)
                        if index is not None:
                            accepted.append((len(outcomes), seat, index))
                            outcomes.append(ACCEPTED)
                            continue
                        reason = "invalid_choice"
                rejected[reason] += 1
                outcomes.append(reason)
            if accepted:
                if self._log is not None:
                    pid = json.dumps(poll.id)
                    data = "".join(_vote_line(pid, seat, index + 1, now_s) for _, seat, index in accepted)
                    try:
                        self._log.append(data.encode())
                    except OSError as e:
                        log.error("vote log %s: write failed (%s): %d votes not counted",
                                  self._log.path, e, len(accepted))
                        for position, _, _ in accepted:
                            outcomes[position] = "log_failed"
                        rejected["log_failed"] += len(accepted)
                        accepted = []
                for _, seat, index in accepted:
                    poll.apply(seat, index)
                self.accepted += len(accepted)
            if outcomes:
                self.version += 1
        return outcomes

    def count_rejected(self, reason: str, n: int = 1) -> None:
        """Count ``n`` presses rejected before they reached the desk (by the OSC endpoint)."""
        if reason not in self.rejected:
            raise VoteError(f"rejection reason {reason!r}: must be one of {', '.join(REJECT_REASONS)}")
        with self._lock:
            self.rejected[reason] += n
            self.version += 1

    # ---------------------------------------------------------------- reading

    def status(self, language: str | None = None) -> dict:
        """The current (or else the last) poll and the counters, as plain JSON.

        Keys: open, poll (id or None), question (in ``language``, default the hall's),
        questions {language: text}, options [keys], labels {language: [label per option]},
        tally {key: count}, seats_voted, seats, presses, duration_s, opened_s, closes_s,
        remaining_s (None without a duration or when closed), closed_s, close_reason,
        winner (key or None, results()' rule), accepted (presses this desk counted, those
        replayed from the log included), rejected {reason: count since this desk started;
        rejections are not logged}, language.
        """
        language = language or self.default_language
        with self._lock:
            now_s = self._clock_s()
            self._expire_locked(now_s)
            poll = self._polls[-1] if self._polls else None
            out: dict[str, Any] = {
                "open": bool(poll and poll.open), "poll": None, "question": None, "questions": {},
                "options": [], "labels": {}, "tally": {}, "seats_voted": 0, "seats": self.seats.total,
                "presses": 0, "duration_s": None, "opened_s": None, "closes_s": None, "remaining_s": None,
                "closed_s": None, "close_reason": None, "winner": None, "accepted": self.accepted,
                "rejected": dict(self.rejected), "language": language,
            }
            if poll is not None:
                out.update({
                    "poll": poll.id, "question": poll.question.get(language, poll.question[self.default_language]),
                    "questions": dict(poll.question), "options": list(poll.keys),
                    "labels": {lang: [o.label(lang) for o in poll.options] for lang in self.languages},
                    "tally": dict(zip(poll.keys, poll.tally)), "seats_voted": len(poll.votes),
                    "presses": poll.presses, "duration_s": poll.duration_s, "opened_s": poll.opened_s,
                    "closes_s": poll.closes_s, "closed_s": poll.closed_s, "close_reason": poll.close_reason,
                    "remaining_s": (max(0.0, poll.closes_s - now_s) if poll.open and poll.closes_s is not None
                                    else None),
                    "winner": PollResult.of(poll).winner,
                })
            return out

    def results(self, poll_id: str | None = None) -> PollResult | None:
        """The current or last poll's result, or the latest poll with ``poll_id``; None if none."""
        with self._lock:
            self._expire_locked(self._clock_s())
            poll = self._find(poll_id)
            return None if poll is None else PollResult.of(poll)

    def poll(self, poll_id: str | None = None) -> Poll | None:
        """A copy of the current or last poll (or the latest with ``poll_id``), votes included."""
        with self._lock:
            poll = self._find(poll_id)
            return None if poll is None else copy.deepcopy(poll)

    # ---------------------------------------------------------- standby mirror

    def mirror(self) -> dict:
        """Plain JSON for the standby master: the open poll with its votes, the closed polls'
        tallies, the counters. Versioned (``"v"``)."""
        with self._lock:
            self._expire_locked(self._clock_s())
            return {"v": MIRROR_FORMAT, "serial": self._serial, "accepted": self.accepted,
                    "rejected": dict(self.rejected),
                    "polls": [p.to_json(votes=p.open) for p in self._polls]}

    def restore(self, mirror: Any) -> None:
        """Take over a mirror (all or nothing): VoteError naming the field when it is malformed.

        With a log, a ``snapshot`` record of the new state is appended (and fsynced by the
        "events" policy), so a restart of this master replays to the same state.
        """
        polls, serial, accepted, rejected = self._parse_mirror(mirror, "vote mirror")
        with self._lock:
            state = {"v": MIRROR_FORMAT, "serial": serial, "accepted": accepted, "rejected": rejected,
                     "polls": [p.to_json(votes=p.open) for p in polls]}
            self._write({"e": "snapshot", "t": self._clock_s(), "state": state}, event=True)
            self._polls, self._serial, self.accepted = polls, serial, accepted
            self.rejected = {**dict.fromkeys(REJECT_REASONS, 0), **rejected}
            self.version += 1

    def _parse_mirror(self, mirror: Any, where: str) -> tuple[list[Poll], int, int, dict[str, int]]:
        if not isinstance(mirror, dict):
            raise VoteError(f"{where}: must be an object")
        if mirror.get("v") != MIRROR_FORMAT:
            raise VoteError(f"{where}.v = {mirror.get('v')!r}: this build reads format {MIRROR_FORMAT}")
        raw = mirror.get("polls")
        if not isinstance(raw, list):
            raise VoteError(f"{where}.polls: must be a list")
        polls = [Poll.from_json(p, f"{where}.polls[{i}]", self.languages) for i, p in enumerate(raw)]
        if any(p.open for p in polls[:-1]):
            raise VoteError(f"{where}.polls: only the last poll may be open")
        serial, accepted = mirror.get("serial"), mirror.get("accepted")
        for name, value in (("serial", serial), ("accepted", accepted)):
            if type(value) is not int or value < 0:
                raise VoteError(f"{where}.{name} = {value!r}: must be an integer >= 0")
        rejected = mirror.get("rejected")
        if not isinstance(rejected, dict) or not all(
                k in REJECT_REASONS and type(n) is int and n >= 0 for k, n in rejected.items()):
            raise VoteError(f"{where}.rejected = {rejected!r}: must map reasons "
                            f"({', '.join(REJECT_REASONS)}) to counts")
        return polls[-MAX_HISTORY:], serial, accepted, dict(rejected)

    # --------------------------------------------------------------- internals

    def _current(self) -> Poll | None:
        if self._polls and self._polls[-1].open:
            return self._polls[-1]
        return None

    def _find(self, poll_id: str | None) -> Poll | None:
        if poll_id is None:
            return self._polls[-1] if self._polls else None
        for poll in reversed(self._polls):
            if poll.id == poll_id:
                return poll
        return None

    def _add_poll(self, poll: Poll) -> None:
        self._polls.append(poll)
        if len(self._polls) > MAX_HISTORY:
            del self._polls[:-MAX_HISTORY]

    def _write(self, record: dict, event: bool) -> None:
        """Append one record before it takes effect; VoteLogError if the log cannot take it."""
        if self._log is None:
            return
        try:
            self._log.append((json.dumps(record, ensure_ascii=False) + "\n").encode(), sync=event)
        except OSError as e:
            raise VoteLogError(f"{self._log.path}: cannot write the vote log ({e.strerror}): "
                               f"nothing changed; free space or fix permissions and retry") from None

    def _close_locked(self, poll: Poll, reason: str, closed_s: float) -> None:
        self._write({"e": "close", "p": poll.id, "reason": reason, "t": closed_s}, event=True)
        poll.closed_s, poll.close_reason = closed_s, reason
        self.version += 1

    def _expire_locked(self, now_s: float) -> bool:
        """Close the open poll by time if it is due; never raises (readers call this too)."""
        poll = self._current()
        if poll is None or poll.closes_s is None or now_s < poll.closes_s:
            return False
        # Logged at the time it closed, not when we noticed, so a replay closes it the same.
        try:
            self._close_locked(poll, "time", poll.closes_s)
        except VoteLogError as e:
            # A replay closes it at the same time anyway (its closes_s is in the log), so the
            # close record is not needed for the state to come back the same.
            log.error("%s (closing poll %r by time all the same)", e, poll.id)
            poll.closed_s, poll.close_reason = poll.closes_s, "time"
            self.version += 1
        return True

    def _replay(self, records: list[tuple[int, dict]], report: ReplayReport) -> None:
        """Apply a log's records (VoteLog.open) with the live code paths; then expire."""
        def bad(line: int, what: str) -> None:
            self._log.corrupt(report, line, what)

        for line, r in records:
            kind = r.get("e")
            current = self._current()
            t_s = r.get("t")
            if current is not None and current.closes_s is not None and type(t_s) in (int, float) \
                    and t_s >= current.closes_s and kind != "snapshot":
                # Live, every call closes a due poll first; its close record may be missing if
                # the log could not take it then (_expire_locked), so close it here the same way.
                current.closed_s, current.close_reason = current.closes_s, "time"
                current = None
            try:
                if kind == "vote":
                    seat, button, pid = r.get("s"), r.get("c"), r.get("p")
                    if current is None or pid != current.id:
                        bad(line, f"vote for poll {pid!r} but the open poll is "
                                  f"{None if current is None else current.id!r}")
                    elif type(seat) is not int or seat < 1 or type(button) is not int \
                            or not 1 <= button <= len(current.options):
                        bad(line, f"vote seat {seat!r} button {button!r}: must be a seat >= 1 and a "
                                  f"button 1..{len(current.options)}")
                    else:
                        current.apply(seat, button - 1)
                        self.accepted += 1
                        report.votes += 1
                elif kind == "open":
                    if current is not None:
                        bad(line, f"poll opened while {current.id!r} is open")
                        continue
                    d = r.get("poll")
                    if isinstance(d, dict) and ("votes" in d or d.get("closed_s") is not None):
                        raise VoteError("an opening poll has no votes and is not closed")
                    self._add_poll(Poll.from_json(d, "poll", self.languages))
                    self._serial += 1
                    report.polls += 1
                elif kind == "close":
                    reason = r.get("reason")
                    if current is None or r.get("p") != current.id:
                        bad(line, f"close of poll {r.get('p')!r} but the open poll is "
                                  f"{None if current is None else current.id!r}")
                    elif reason not in CLOSE_REASONS:
                        bad(line, f"close reason {reason!r}: must be one of {', '.join(CLOSE_REASONS)}")
                    else:
                        current.closed_s, current.close_reason = _finite(t_s, "t"), reason
                elif kind == "snapshot":
                    polls, serial, accepted, rejected = self._parse_mirror(r.get("state"), "snapshot.state")
                    self._polls, self._serial, self.accepted = polls, serial, accepted
                    self.rejected = {**dict.fromkeys(REJECT_REASONS, 0), **rejected}
                    report.polls += 1 if self._current() is not None else 0
                else:
                    bad(line, f"unknown record kind {kind!r}")
            except VoteError as e:
                if isinstance(e, VoteLogError):
                    raise
                bad(line, str(e))
        if self._current() is not None:
            log.info("vote log %s: poll %r restored open with %d votes", report.path, self._current().id,
                     len(self._current().votes))
        report.closed_by_time = self._expire_locked(self._clock_s())
        self.version += 1


# ----------------------------------------------------------------- pictures


def _status_of(source: VoteDesk | Mapping, language: str | None) -> Mapping:
    return source.status(language) if isinstance(source, VoteDesk) else source


def bar_text(fraction: float, cells: int = BAR_CELLS) -> str:
    """A bar of ``cells`` characters filled to ``fraction`` in eighths of a cell (U+2588 and
    the partial blocks), the rest light shade (U+2591), so every bar has the same width."""
    fraction = min(1.0, max(0.0, fraction if math.isfinite(fraction) else 0.0))
    eighths = round(fraction * cells * 8)
    full, part = divmod(eighths, 8)
    bar = _FULL_BLOCK * full + (_EIGHTHS[part] if part else "")
    return bar + _EMPTY_BLOCK * (cells - len(bar))


_font_cache: dict[str, Any] = {}


def _width_caps(text: str) -> float:
    """Width of ``text`` in DejaVu Sans, in cap heights (what Overlay.size_deg measures)."""
    font = _font_cache.get("measure")
    if font is None and "measure" not in _font_cache:
        try:
            from PIL import ImageFont

            font = ImageFont.truetype(FONT_PATH, 200)
            _font_cache["cap_px"] = font.getbbox("H")[3] - font.getbbox("H")[1]
        except OSError:
            font = None
        _font_cache["measure"] = font
    if font is None:
        return len(text) * _AVG_CHAR_WIDTH_CAPS
    return font.getlength(text) / _font_cache["cap_px"]


def _lines_of(status: Mapping, language: str) -> tuple[str, list[str], list[int], int]:
    question = status.get("questions", {}).get(language) or status.get("question") or ""
    labels = status.get("labels", {}).get(language) or list(status.get("options", []))
    counts = [int(n) for n in status.get("tally", {}).values()]
    return question, labels, counts, sum(counts)


def chart_point(dome_az_deg: float, dome_elev_deg: float, right_deg: float, up_deg: float) -> tuple[float, float]:
    """(dome az, elevation) in degrees of the point ``right_deg`` / ``up_deg`` away from an anchor,
    measured along the sphere in the anchor's upright text basis (up toward the zenith), as
    the renderer lays text out (render/labels.py ``offset_dirs``). A chart laid out this way
    keeps its rows straight: on an elevation circle they would bow toward the zenith.
    Valid away from the zenith (anchor elevation below ~80 deg)."""
    az, el = math.radians(dome_az_deg), math.radians(dome_elev_deg)
    p = (math.cos(el) * math.sin(az), math.cos(el) * math.cos(az), math.sin(el))
    up = (-p[2] * p[0], -p[2] * p[1], 1.0 - p[2] * p[2])
    norm = math.sqrt(sum(c * c for c in up)) or 1.0
    up = tuple(c / norm for c in up)
    right = (p[1] * up[2] - p[2] * up[1], p[2] * up[0] - p[0] * up[2], p[0] * up[1] - p[1] * up[0])
    x, y = math.radians(right_deg), math.radians(up_deg)
    angle = math.hypot(x, y)
    if angle == 0.0:
        return float(dome_az_deg), float(dome_elev_deg)
    k = math.sin(angle) / angle
    q = [math.cos(angle) * p[i] + k * (x * right[i] + y * up[i]) for i in range(3)]
    return math.degrees(math.atan2(q[0], q[1])), math.degrees(math.asin(max(-1.0, min(1.0, q[2]))))


def tally_overlays(source: VoteDesk | Mapping, language: str | None = None, *, dome_az_deg: float = 0.0,
                   dome_elev_deg: float = 40.0, size_deg: float = 1.5,
                   rgb: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   winner_rgb: tuple[float, float, float] = (1.0, 0.8, 0.2)) -> tuple[Overlay, ...]:
    """The tally as dome overlays: the question on top, then per option its label, a bar
    (:func:`bar_text`, the share of the votes) and "count (percent)".

    source: a VoteDesk or its status() dict (which has every language). The question's last
    line is centred on (dome_az_deg, dome_elev_deg) (longer questions wrap upward), the rows
    go down from there ROW_PITCH_CAPS apart, laid out along the sphere (:func:`chart_point`);
    ``size_deg`` is the rows' cap height. Labels are right-aligned against the bars and counts
    left-aligned after them (each is its own overlay, as overlays are centred on their
    anchors); keep the chart below ~70 deg elevation, away from the zenith.
    When the poll is closed the winner's row is drawn in ``winner_rgb``. No poll: ().
    """
    language = language or (source.default_language if isinstance(source, VoteDesk) else None)
    status = _status_of(source, language)
    if status.get("poll") is None:
        return ()
    language = language or status.get("language") or "en"
    question, labels, counts, total = _lines_of(status, language)

    def text(content: str, right_caps: float, down_caps: float, size: float, colour) -> Overlay:
        az, elev = chart_point(dome_az_deg, dome_elev_deg, right_caps * size_deg, -down_caps * size_deg)
        return Overlay(kind="text", content=content, dome_az_deg=az, dome_elev_deg=elev, size_deg=size,
                       opacity=1.0, rgb=tuple(colour))

    q_lines = textwrap.wrap(question, QUESTION_LINE_CHARS) or [""]
    # A text block is centred on its anchor: lift it by half its extra lines so that its
    # last line stays at dome_elev_deg however long the question is.
    q_size = QUESTION_SIZE * size_deg
    out = [text("\n".join(q_lines), 0.0, -0.5 * (len(q_lines) - 1) * LINE_PITCH_CAPS * QUESTION_SIZE, q_size, rgb)]
    half_bar = 0.5 * BAR_CELLS * BLOCK_WIDTH_CAPS
    winner = status.get("winner") if not status.get("open") else None
    keys = list(status.get("tally", {}).keys())
    for row, (label, count) in enumerate(zip(labels, counts)):
        colour = winner_rgb if winner is not None and row < len(keys) and keys[row] == winner else rgb
        share = count / total if total else 0.0
        down = (row + 1.5) * ROW_PITCH_CAPS
        count_text = f"{count} ({round(100 * share)} %)"
        out.append(text(label, -(half_bar + COLUMN_GAP_CAPS + 0.5 * _width_caps(label)), down, size_deg, colour))
        out.append(text(bar_text(share), 0.0, down, size_deg, colour))
        out.append(text(count_text, half_bar + COLUMN_GAP_CAPS + 0.5 * _width_caps(count_text), down, size_deg,
                        colour))
    return tuple(out)


def tally_png(source: VoteDesk | Mapping, path: str | Path, language: str | None = None,
              size_px: tuple[int, int] = (1280, 720)) -> Path:
    """Write the tally as a bar chart PNG (question, a bar per option with count and percent,
    votes / seats and the poll's state); written to a temporary file and renamed, so a
    console reading it never sees half a file. Returns the path."""
    from PIL import Image, ImageDraw, ImageFont

    language = language or (source.default_language if isinstance(source, VoteDesk) else None)
    status = _status_of(source, language)
    language = language or status.get("language") or "en"
    question, labels, counts, total = _lines_of(status, language)
    width, height = size_px

    def font(px: int, bold: bool = False):
        try:
            return ImageFont.truetype(FONT_BOLD_PATH if bold else FONT_PATH, px)
        except OSError:
            return ImageFont.load_default(px)

    image = Image.new("RGB", (width, height), (16, 20, 36))
    draw = ImageDraw.Draw(image)
    margin = width // 32
    title_font, text_font, small_font = font(height // 18, True), font(height // 24), font(height // 30)
    y = margin
    if status.get("poll") is None:
        draw.text((margin, y), "no poll", font=title_font, fill=(230, 230, 230))
    else:
        for line in textwrap.wrap(question, max(20, int(width / (height // 18) * 1.7))) or [""]:
            draw.text((margin, y), line, font=title_font, fill=(240, 240, 240))
            y += int(height / 18 * 1.3)
        y += height // 40
        rows = max(1, len(counts))
        footer_h = height // 12
        row_h = min(height // 7, (height - y - footer_h - margin) // rows)
        label_w = max((draw.textlength(label, font=text_font) for label in labels), default=0) + margin // 2
        count_w = draw.textlength("0000 (100 %)", font=text_font) + margin // 2
        bar_x0, bar_x1 = margin + label_w, width - margin - count_w
        winner = status.get("winner") if not status.get("open") else None
        for label, count, key in zip(labels, counts, status.get("tally", {}).keys()):
            share = count / total if total else 0.0
            bar_h = int(row_h * 0.7)
            top = y + (row_h - bar_h) // 2
            fill = (245, 190, 50) if key == winner else (70, 150, 235)
            draw.rectangle((bar_x0, top, bar_x1, top + bar_h), fill=(40, 46, 70))
            if share > 0:
                draw.rectangle((bar_x0, top, bar_x0 + max(2, int((bar_x1 - bar_x0) * share)), top + bar_h),
                               fill=fill)
            mid = top + bar_h // 2
            draw.text((bar_x0 - margin // 4, mid), label, font=text_font, fill=(235, 235, 235), anchor="rm")
            draw.text((bar_x1 + margin // 4, mid), f"{count} ({round(100 * share)} %)", font=text_font,
                      fill=(235, 235, 235), anchor="lm")
            y += row_h
        if status.get("open"):
            state = "open" + (f", {status['remaining_s']:.0f} s left" if status.get("remaining_s") is not None else "")
        else:
            state = f"closed ({status.get('close_reason')})" + (f", winner {winner}" if winner else "")
        footer = (f"poll {status['poll']}: {state}; {status.get('seats_voted', total)} of "
                  f"{status.get('seats', '?')} seats voted")
        draw.text((margin, height - margin), footer, font=small_font, fill=(170, 175, 190), anchor="ls")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue(), durable=False)
