"""Audience voting logic (domectl.votes): seats, polls, rejections, rate limits, the log, the mirror,
the tally's overlays and PNG. Clocks are injected; no sockets here (tests/test_vote_server.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from domectl.config import SeatRow, Seats, load_hall
from domectl.frame import FrameState, decode_frame, encode_frame
from domectl.votes import (
    ACCEPTED,
    BAR_CELLS,
    BOX_BURST,
    BOX_RATE_PER_S,
    DEFAULT_LIMITS,
    MAX_HISTORY,
    MAX_OPTIONS,
    REJECT_REASONS,
    PollOption,
    RateLimits,
    SeatMap,
    VoteDesk,
    VoteError,
    VoteLog,
    VoteLogError,
    bar_text,
    chart_point,
    tally_overlays,
    tally_png,
)

HALL = load_hall()
T0_S = 1_795_000_000.0          # a UNIX time in November 2026


class Clock:
    """A settable clock for the desk (wall) and the rate limiter (monotonic)."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def desk_for(tmp_path=None, *, wall=None, mono=None, limits=DEFAULT_LIMITS, fsync="events", **kwargs) -> VoteDesk:
    wall = wall or Clock(T0_S)
    mono = mono or Clock(100.0)
    log = VoteLog(tmp_path / "votes.jsonl", fsync=fsync) if tmp_path is not None else None
    return VoteDesk(SeatMap.from_seats(HALL.seats), languages=HALL.languages,
                    default_language=HALL.default_language, log=log, limits=limits, clock_s=wall,
                    monotonic_s=mono, **kwargs)


# ------------------------------------------------------------------- seats


def test_seat_map_of_the_reference_hall_has_130_seats_and_4_wheelchair_places():
    seats = SeatMap.from_seats(HALL.seats)
    assert seats.total == 134
    assert list(seats.seat_ids()) == list(HALL.seats.seat_ids())
    assert seats.labels[:2] == ("A1", "A2")
    assert seats.label(13) == "A13" and seats.label(14) == "B1" and seats.label(130) == "J13"
    assert seats.labels[130:] == ("W1", "W2", "W3", "W4")
    assert seats.seat_of("w2") == 132 and seats.seat_of(" a7 ") == 7 and seats.seat_of("K1") is None
    assert 1 in seats and 134 in seats
    assert 0 not in seats and 135 not in seats and True not in seats and 1.0 not in seats and "1" not in seats


def test_seat_map_follows_the_config():
    seats = SeatMap.from_seats(Seats(rows=(SeatRow("X", 2), SeatRow("Y", 3)), wheelchair=1))
    assert seats.labels == ("X1", "X2", "Y1", "Y2", "Y3", "W1")
    with pytest.raises(VoteError, match="duplicate seat labels"):
        SeatMap.from_seats(Seats(rows=(SeatRow("A", 2), SeatRow("A", 2)), wheelchair=0))
    with pytest.raises(VoteError, match=r"seat 7: this hall has seats 1..6"):
        seats.label(7)


# ------------------------------------------------------------------- polls


def test_last_press_wins_and_the_tally_counts_seats():
    desk = desk_for()
    poll_id = desk.open("Where next?", ["Mars", "Saturn", "Moon"])
    assert poll_id == "poll1"
    outcomes = desk.ingest_many([(1, 1, "a"), (2, 2, "a"), (1, 3, "a"), (3, 3, "a"), (1, 3, "a")])
    assert outcomes == [ACCEPTED] * 5
    status = desk.status()
    assert status["tally"] == {"Mars": 0, "Saturn": 1, "Moon": 2}
    assert status["seats_voted"] == 3 and status["presses"] == 5 and status["accepted"] == 5
    assert desk.poll().votes == {1: 2, 2: 1, 3: 2}


def test_a_press_may_name_the_option_key_and_the_seat_label():
    desk = desk_for()
    desk.open("?", ["yes", "no"])
    assert desk.ingest("A3", "NO", "a") == ACCEPTED
    assert desk.ingest(4, " Yes ", "a") == ACCEPTED
    assert desk.poll().votes == {3: 1, 4: 0}


@pytest.mark.parametrize("seat, choice, reason", [
    (0, 1, "unknown_seat"), (135, 1, "unknown_seat"), (-3, 1, "unknown_seat"), (True, 1, "unknown_seat"),
    (1.5, 1, "unknown_seat"), ("K4", 1, "unknown_seat"), (None, 1, "unknown_seat"), (float("nan"), 1, "unknown_seat"),
    (1, 0, "invalid_choice"), (1, 4, "invalid_choice"), (1, "D", "invalid_choice"), (1, 2.5, "invalid_choice"),
    (1, None, "invalid_choice"), (1, True, "invalid_choice"), (1, b"A", "invalid_choice"), (1, "", "invalid_choice"),
])
def test_bad_seats_and_choices_are_rejected_by_reason(seat, choice, reason):
    desk = desk_for()
    desk.open("?", ["A", "B", "C"])
    assert desk.ingest(seat, choice, "a") == reason
    status = desk.status()
    assert status["rejected"] == {r: int(r == reason) for r in REJECT_REASONS}
    assert sum(status["tally"].values()) == 0 and status["accepted"] == 0


def test_presses_outside_an_open_poll_are_rejected_and_counted():
    desk = desk_for()
    assert desk.ingest(1, 1, "a") == "no_open_poll"
    desk.open("?", ["A", "B"])
    desk.close()
    assert desk.ingest(1, 1, "a") == "no_open_poll"
    assert desk.status()["rejected"]["no_open_poll"] == 2
    assert desk.status()["tally"] == {"A": 0, "B": 0}


def test_count_rejected_counts_what_the_endpoint_refused_and_names_bad_reasons():
    desk = desk_for()
    desk.count_rejected("malformed", 3)
    desk.count_rejected("not_allowed_source")
    assert desk.status()["rejected"]["malformed"] == 3 and desk.status()["rejected"]["not_allowed_source"] == 1
    with pytest.raises(VoteError, match="rejection reason 'bogus': must be one of no_open_poll"):
        desk.count_rejected("bogus")


def test_a_question_in_one_language_is_used_for_all():
    desk = desk_for()
    desk.open({"en": "Where next?"}, ["A", "B"])
    assert desk.status()["questions"] == {lang: "Where next?" for lang in HALL.languages}
    desk.close()
    # Missing languages take the hall's default language (fr) when it is given.
    desk.open({"en": "Where next?", "fr": "Où aller ?"}, ["A", {"key": "B", "labels": {"de": "Be"}}])
    status = desk.status("nl")
    assert status["question"] == "Où aller ?"
    assert status["questions"]["en"] == "Where next?" and status["questions"]["de"] == "Où aller ?"
    assert status["labels"]["de"] == ["A", "Be"] and status["labels"]["fr"] == ["A", "B"]


@pytest.mark.parametrize("kwargs, message", [
    ({"options": ["A"]}, r"poll.options = \['A'\]: must be a list of 2 to 8 options"),
    ({"options": [str(i) for i in range(MAX_OPTIONS + 1)]}, "must be a list of 2 to 8 options"),
    ({"options": "AB"}, "must be a list of 2 to 8 options"),
    ({"options": ["A", "a"]}, r"poll.options\[1\].key = 'a': the same as options\[0\]"),
    ({"options": ["A", ""]}, r"poll.options\[1\] = '': must be a non-empty string"),
    ({"options": ["A", 7]}, r"poll.options\[1\] = 7: must be a key"),
    ({"options": ["A", {"key": "B", "labels": {"es": "Be"}}]},
     r"poll.options\[1\].labels.es: not a language of this hall: use fr, en, nl, de"),
    ({"question": ""}, "poll.question = '': must be a non-empty string"),
    ({"question": {}}, "poll.question = {}: must be a text or a table"),
    ({"question": {"xx": "?"}}, "poll.question.xx: not a language of this hall"),
    ({"question": "?" * 301}, "poll.question: 301 characters: at most 300"),
    ({"duration_s": 0}, r"poll.duration_s = 0: must be a finite number in \(0, 3600\]"),
    ({"duration_s": float("nan")}, "poll.duration_s = nan"),
    ({"duration_s": 4000}, "poll.duration_s = 4000"),
    ({"poll_id": " "}, "poll.id = ' ': must be a non-empty string"),
])
def test_open_names_the_wrong_field(kwargs, message):
    desk = desk_for()
    args = {"question": "?", "options": ["A", "B"], **kwargs}
    with pytest.raises(VoteError, match=message):
        desk.open(**args)
    assert desk.status()["poll"] is None


def test_only_one_poll_is_open_at_a_time():
    desk = desk_for()
    desk.open("?", ["A", "B"], poll_id="q1")
    with pytest.raises(VoteError, match="poll 'q1' is still open: close it first"):
        desk.open("?", ["A", "B"])


def test_a_poll_closes_by_time_exactly_at_its_end():
    wall = Clock(T0_S)
    desk = desk_for(wall=wall)
    desk.open("?", ["A", "B"], duration_s=30)
    wall.t = T0_S + 10
    assert desk.ingest(1, 1, "a") == ACCEPTED
    assert desk.status()["remaining_s"] == pytest.approx(20.0)
    wall.t = T0_S + 30
    assert desk.ingest(2, 1, "a") == "no_open_poll"
    status = desk.status()
    assert status["open"] is False and status["close_reason"] == "time"
    assert status["closed_s"] == T0_S + 30 and status["remaining_s"] is None
    assert status["tally"] == {"A": 1, "B": 0}
    assert desk.expire() is False            # already closed


def test_expire_closes_a_due_poll_once():
    wall = Clock(T0_S)
    desk = desk_for(wall=wall)
    desk.open("?", ["A", "B"], duration_s=5)
    assert desk.expire() is False
    wall.t += 7
    assert desk.expire() is True
    assert desk.expire() is False
    assert desk.results().close_reason == "time"
    assert desk.poll().closed_s == T0_S + 5


def test_close_by_show_or_operator():
    desk = desk_for()
    assert desk.close() is False
    desk.open("?", ["A", "B"])
    assert desk.close("show") is True
    assert desk.status()["close_reason"] == "show"
    desk.open("?", ["A", "B"])
    with pytest.raises(VoteError, match="close reason 'time': must be one of show, operator"):
        desk.close("time")
    with pytest.raises(VoteError, match="close reason 'later'"):
        desk.close("later")
    assert desk.close("operator") is True
    assert desk.status()["close_reason"] == "operator"


def test_results_give_the_winner_ties_to_the_first_listed_and_none_without_votes():
    desk = desk_for()
    desk.open("?", ["A", "B", "C"], poll_id="q1")
    assert desk.results().winner is None and desk.results().tied == ()
    desk.ingest_many([(1, 2, "a"), (2, 3, "a")])
    result = desk.results()
    assert result.winner == "B" and result.winner_index == 1 and result.tied == ("B", "C")
    desk.ingest(3, 3, "a")
    assert desk.results().winner == "C" and desk.results().tied == ("C",)
    desk.close("show")
    desk.open("?", ["X", "Y"], poll_id="q2")
    assert desk.results().poll_id == "q2"
    old = desk.results("q1")
    assert old.winner == "C" and old.tally == (0, 1, 2) and old.votes == 3 and old.close_reason == "show"
    assert desk.results("nope") is None
    assert json.loads(json.dumps(old.to_json()))["tally"] == {"A": 0, "B": 1, "C": 2}


def test_history_keeps_the_last_polls_only():
    desk = desk_for()
    for i in range(MAX_HISTORY + 3):
        desk.open("?", ["A", "B"], poll_id=f"q{i}")
        desk.close()
    assert desk.results("q0") is None
    assert desk.results(f"q{MAX_HISTORY + 2}") is not None
    assert desk.results("q3") is not None


def test_status_is_plain_json_with_the_promised_keys():
    desk = desk_for()
    empty = desk.status()
    assert empty["open"] is False and empty["poll"] is None and empty["tally"] == {} and empty["options"] == []
    desk.open("Où ?", ["A", "B"], duration_s=60, poll_id="q")
    desk.ingest(1, "B", "a")
    status = json.loads(json.dumps(desk.status()))
    for key in ("open", "question", "options", "tally", "rejected", "seats_voted", "poll", "remaining_s"):
        assert key in status
    assert status["open"] is True and status["question"] == "Où ?" and status["options"] == ["A", "B"]
    assert status["tally"] == {"A": 0, "B": 1} and status["seats"] == 134 and status["remaining_s"] == 60.0
    assert set(status["rejected"]) == set(REJECT_REASONS)


# ------------------------------------------------------------- rate limits


def test_a_stuck_box_is_limited_to_its_burst_then_its_rate():
    mono = Clock(100.0)
    desk = desk_for(mono=mono)
    desk.open("?", ["A", "B"])
    outcomes = desk.ingest_many([(5, 1, "10.0.0.7")] * 100)
    assert outcomes.count(ACCEPTED) == BOX_BURST
    assert outcomes.count("rate_limited") == 100 - BOX_BURST
    # Another seat from the same address is another box.
    assert desk.ingest(6, 1, "10.0.0.7") == ACCEPTED
    mono.t += 1.0
    outcomes = desk.ingest_many([(5, 2, "10.0.0.7")] * 100)
    assert outcomes.count(ACCEPTED) == BOX_RATE_PER_S
    assert desk.status()["rejected"]["rate_limited"] == 2 * 100 - BOX_BURST - BOX_RATE_PER_S
    assert desk.poll().votes[5] == 1


def test_an_address_flooding_many_seats_is_limited_too():
    mono = Clock(100.0)
    desk = desk_for(mono=mono, limits=RateLimits(address_per_s=50, address_burst=100))
    desk.open("?", ["A", "B"])
    presses = [(1 + i % 134, 1, "10.0.0.8") for i in range(300)]
    outcomes = desk.ingest_many(presses)
    assert outcomes.count(ACCEPTED) == 100
    assert outcomes[100:] == ["rate_limited"] * 200
    assert desk.ingest(1, 1, "10.0.0.9") == ACCEPTED
    mono.t += 0.5
    assert desk.ingest_many(presses[:40]).count(ACCEPTED) == 25


def test_rate_limits_can_be_switched_off_and_are_validated():
    desk = desk_for(limits=None)
    desk.open("?", ["A", "B"])
    assert desk.ingest_many([(5, 1, "x")] * 1000) == [ACCEPTED] * 1000
    with pytest.raises(VoteError, match="RateLimits.box_burst = 0"):
        RateLimits(box_burst=0)


# --------------------------------------------------------------------- log


def test_every_accepted_vote_is_in_the_log_before_it_counts(tmp_path):
    desk = desk_for(tmp_path)
    desk.open("?", ["A", "B"], poll_id="q1")
    desk.ingest_many([(1, 1, "a"), (200, 1, "a"), (2, 2, "a"), (1, 2, "a")])
    lines = [json.loads(line) for line in (tmp_path / "votes.jsonl").read_text().splitlines()]
    assert lines[0]["log"] == "domectl-votes" and lines[0]["v"] == 1
    assert lines[1]["e"] == "open" and lines[1]["poll"]["id"] == "q1"
    assert [(r["s"], r["c"]) for r in lines[2:]] == [(1, 1), (2, 2), (1, 2)]
    assert all(r["e"] == "vote" and r["p"] == "q1" and r["t"] == T0_S for r in lines[2:])


class FailingLog(VoteLog):
    def __init__(self, path):
        super().__init__(path)
        self.fail = False

    def append(self, data, *, sync=False):
        if self.fail:
            raise OSError(28, "No space left on device")
        super().append(data, sync=sync)


def test_a_vote_the_log_cannot_take_does_not_count(tmp_path):
    log = FailingLog(tmp_path / "votes.jsonl")
    desk = VoteDesk(SeatMap.from_seats(HALL.seats), log=log)
    desk.open("?", ["A", "B"])
    desk.ingest(1, 1, "a")
    log.fail = True
    assert desk.ingest_many([(2, 1, "a"), (3, 2, "a")]) == ["log_failed", "log_failed"]
    status = desk.status()
    assert status["tally"] == {"A": 1, "B": 0} and status["rejected"]["log_failed"] == 2
    with pytest.raises(VoteLogError, match="votes.jsonl: cannot write the vote log .*nothing changed"):
        desk.close()
    assert desk.status()["open"] is True
    log.fail = False
    reopened = VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(tmp_path / "votes.jsonl"))
    assert reopened.status()["tally"] == {"A": 1, "B": 0}


def test_a_poll_runs_out_even_when_the_log_cannot_take_its_close(tmp_path):
    wall = Clock(T0_S)
    log = FailingLog(tmp_path / "votes.jsonl")
    desk = VoteDesk(SeatMap.from_seats(HALL.seats), log=log, clock_s=wall)
    desk.open("?", ["A", "B"], duration_s=10)
    desk.ingest(1, 2, "a")
    log.fail = True
    wall.t += 11
    assert desk.ingest(2, 1, "a") == "no_open_poll"
    assert desk.status()["close_reason"] == "time" and desk.status()["closed_s"] == T0_S + 10
    log.fail = False
    # The close record is missing, but the replay closes the poll at the same time.
    desk.open("Next?", ["C", "D"], poll_id="next")
    desk.ingest(3, "D", "a")
    reopened = VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(tmp_path / "votes.jsonl"), clock_s=wall)
    assert reopened.replay_report.corrupt == []
    first = reopened.poll("poll1")
    assert first.closed_s == T0_S + 10 and first.close_reason == "time" and first.votes == {1: 1}
    assert reopened.status()["tally"] == {"C": 0, "D": 1} and reopened.status()["open"] is True


def test_a_short_write_is_cut_back_off_the_log(tmp_path, monkeypatch):
    from domectl import votes

    desk = desk_for(tmp_path)
    desk.open("?", ["A", "B"])
    size = (tmp_path / "votes.jsonl").stat().st_size
    real_write = votes.os.write
    calls = []

    def short_then_fail(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:10]))
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(votes.os, "write", short_then_fail)
    assert desk.ingest_many([(1, 1, "a"), (2, 1, "a")]) == ["log_failed"] * 2
    monkeypatch.setattr(votes.os, "write", real_write)
    assert (tmp_path / "votes.jsonl").stat().st_size == size
    assert desk.ingest(3, 2, "a") == ACCEPTED
    reopened = desk_for(tmp_path)
    assert reopened.replay_report.corrupt == [] and reopened.status()["tally"] == {"A": 0, "B": 1}


def test_a_restart_restores_the_open_poll_and_its_votes_exactly(tmp_path):
    wall = Clock(T0_S)
    desk = desk_for(tmp_path, wall=wall)
    desk.open("Old?", ["X", "Y"], poll_id="old")
    desk.ingest_many([(7, 1, "a"), (8, 2, "a"), (9, 2, "a")])
    desk.close("show")
    desk.open({"en": "Where?", "fr": "Où ?"}, ["Mars", {"key": "Moon", "labels": {"fr": "Lune"}}], 120, "q2")
    wall.t += 10
    desk.ingest_many([(s, 1 + s % 2, "a") for s in range(1, 135)] + [(3, 1, "a"), (4, "moon", "a")])
    desk.count_rejected("malformed", 2)
    before, votes_before = desk.status(), desk.poll().votes
    wall.t += 5
    after = desk_for(tmp_path, wall=wall)
    report = after.replay_report
    assert report.polls == 2 and report.votes == 3 + 136 and report.torn_bytes == 0 and report.corrupt == []
    status = after.status()
    for key in ("open", "poll", "questions", "options", "labels", "tally", "seats_voted", "presses",
                "opened_s", "closes_s", "duration_s"):
        assert status[key] == before[key], key
    assert status["remaining_s"] == pytest.approx(before["remaining_s"] - 5)
    assert after.poll().votes == votes_before
    assert after.results("old").tally == (1, 2) and after.results("old").close_reason == "show"
    # Rejections are not logged: counters restart from zero.
    assert status["rejected"]["malformed"] == 0
    # And the restored poll goes on taking votes, last press wins.
    assert after.ingest(3, "Moon", "a") == ACCEPTED
    assert after.status()["tally"]["Moon"] == before["tally"]["Moon"] + 1


def test_a_poll_that_ran_out_while_the_master_was_down_closes_at_its_time(tmp_path):
    wall = Clock(T0_S)
    desk = desk_for(tmp_path, wall=wall)
    desk.open("?", ["A", "B"], duration_s=30)
    desk.ingest(1, 2, "a")
    wall.t += 300
    after = desk_for(tmp_path, wall=wall)
    assert after.replay_report.closed_by_time is True
    poll = after.poll()
    assert poll.closed_s == T0_S + 30 and poll.close_reason == "time" and poll.votes == {1: 1}
    again = desk_for(tmp_path, wall=wall)
    assert again.replay_report.closed_by_time is False and again.poll().closed_s == T0_S + 30


def test_a_torn_last_line_is_dropped_counted_and_appending_goes_on(tmp_path):
    desk = desk_for(tmp_path)
    desk.open("?", ["A", "B"])
    desk.ingest_many([(1, 1, "a"), (2, 2, "a")])
    path = tmp_path / "votes.jsonl"
    with path.open("ab") as f:
        f.write(b'{"e":"vote","p":"poll1","s":3,"c')     # kill -9 in the middle of a write
    after = desk_for(tmp_path)
    assert after.replay_report.torn_bytes == 32 and after.replay_report.torn == 1
    assert after.replay_report.corrupt == []
    assert after.status()["tally"] == {"A": 1, "B": 1}
    after.ingest(3, 2, "a")
    third = desk_for(tmp_path)
    assert third.replay_report.torn_bytes == 0 and third.replay_report.corrupt == []
    assert third.status()["tally"] == {"A": 1, "B": 2}


def test_a_corrupt_line_in_the_middle_is_reported_with_file_and_line(tmp_path):
    desk = desk_for(tmp_path)
    desk.open("?", ["A", "B"])
    desk.ingest_many([(1, 1, "a"), (2, 2, "a"), (3, 2, "a")])
    path = tmp_path / "votes.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[3] = b'{"e":"vote","p":"poll1","s":2,"c":2,"t":17\x00\x00'    # line 4: seat 2's vote
    lines.insert(5, b'{"e":"vote","p":"poll1","s":4,"c":9,"t":1}')     # line 6: no button 9
    path.write_bytes(b"\n".join(lines))
    after = desk_for(tmp_path)
    corrupt = after.replay_report.corrupt
    assert len(corrupt) == 2
    assert corrupt[0].startswith(f"{path}:4: not a JSON record")
    assert corrupt[1] == f"{path}:6: vote seat 4 button 9: must be a seat >= 1 and a button 1..2"
    assert after.status()["tally"] == {"A": 1, "B": 1}
    with pytest.raises(VoteLogError, match=rf"{path}:4: not a JSON record"):
        VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(path, strict=True))


def test_another_file_is_not_taken_for_a_vote_log(tmp_path):
    path = tmp_path / "votes.jsonl"
    path.write_text('{"hello": "world"}\n')
    desk = VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(path))
    expected = (f"{path}:1: not a domectl vote log of format 1 (first line b'{{\"hello\": \"world\"}}'): "
                "move it aside or pass another path")
    assert desk.replay_report.corrupt == [expected]
    with pytest.raises(VoteLogError, match="cannot open the vote log for appending"):
        VoteDesk(SeatMap.from_seats(HALL.seats), log=VoteLog(tmp_path / "missing" / "votes.jsonl"))
    with pytest.raises(VoteError, match="VoteLog fsync = 'sometimes': must be one of never, events, always"):
        VoteLog(path, fsync="sometimes")


@pytest.mark.parametrize("fsync, syncs", [("never", 0), ("events", 3), ("always", 5)])
def test_the_fsync_policy_decides_what_is_forced_to_disk(tmp_path, fsync, syncs):
    desk = desk_for(tmp_path, fsync=fsync)          # header
    desk.open("?", ["A", "B"])                      # open
    desk.ingest(1, 1, "a")
    desk.ingest_many([(2, 1, "a"), (3, 1, "a")])    # one batch: one sync with "always"
    desk.ingest(999, 1, "a")                        # nothing to write
    desk.close()                                    # close
    assert desk._log.syncs == syncs


# ------------------------------------------------------------------ mirror


def test_mirror_and_restore_carry_the_poll_exactly(tmp_path):
    primary = desk_for()
    primary.open("Old?", ["X", "Y"], poll_id="old")
    primary.ingest(5, 2, "a")
    primary.close("show")
    primary.open({"en": "Where?"}, ["Mars", "Moon", "Sun"], 60, "q2")
    primary.ingest_many([(s, 1 + s % 3, "a") for s in range(1, 100)])
    primary.count_rejected("malformed", 4)
    mirror = json.loads(json.dumps(primary.mirror()))
    standby = desk_for(tmp_path)
    standby.restore(mirror)
    assert standby.status() == primary.status()
    assert standby.poll().votes == primary.poll().votes
    assert standby.results("old") == primary.results("old")
    for desk in (primary, standby):
        desk.ingest(1, "Sun", "a")
    assert standby.status()["tally"] == primary.status()["tally"]
    # The standby's own log replays to the same state (a snapshot record, then its votes).
    restarted = desk_for(tmp_path)
    assert restarted.status()["tally"] == primary.status()["tally"]
    assert restarted.poll().votes == primary.poll().votes


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(v=99), r"vote mirror.v = 99: this build reads format 1"),
    (lambda m: m["polls"][-1]["tally"].__setitem__(0, 50), r"vote mirror.polls\[1\].tally = \[50, .*does not match"),
    (lambda m: m["polls"][-1]["votes"].append([3, 7]), r"vote mirror.polls\[1\].votes\[\d+\] = \[3, 7\]"),
    (lambda m: m["polls"][0].update(closed_s=None, close_reason=None), "only the last poll may be open"),
    (lambda m: m["polls"][0].update(close_reason="bored"), r"polls\[0\].close_reason = 'bored'"),
    (lambda m: m.update(rejected={"bogus": 1}), "vote mirror.rejected"),
    (lambda m: m.update(serial=-1), "vote mirror.serial = -1"),
    (lambda m: m.update(polls={}), "vote mirror.polls: must be a list"),
])
def test_a_malformed_mirror_is_refused_whole_naming_the_field(change, message):
    primary = desk_for()
    primary.open("?", ["A", "B"], poll_id="a")
    primary.close()
    primary.open("?", ["A", "B"], poll_id="b")
    primary.ingest(1, 1, "a")
    mirror = json.loads(json.dumps(primary.mirror()))
    change(mirror)
    standby = desk_for()
    standby.open("mine", ["C", "D"])
    standby.ingest(2, 2, "a")
    before = standby.status()
    with pytest.raises(VoteError, match=message):
        standby.restore(mirror)
    assert standby.status() == before


# ---------------------------------------------------------------- pictures


def test_bar_text_has_a_fixed_width_in_eighths_of_a_cell():
    assert bar_text(0.0) == "\u2591" * BAR_CELLS
    assert bar_text(1.0) == "\u2588" * BAR_CELLS
    assert bar_text(0.5) == "\u2588" * 10 + "\u2591" * 10
    assert bar_text(1 / 160) == "\u258f" + "\u2591" * (BAR_CELLS - 1)
    assert bar_text(0.3) == "\u2588" * 6 + "\u2591" * 14
    assert bar_text(0.31) == "\u2588" * 6 + "\u258e" + "\u2591" * 13
    assert bar_text(float("nan")) == bar_text(0.0) and bar_text(7) == bar_text(1.0)
    assert {len(bar_text(i / 97)) for i in range(98)} == {BAR_CELLS}


def test_chart_points_match_the_renderers_text_layout():
    from render.labels import offset_dirs

    for az, elev in ((0.0, 40.0), (137.0, 20.0), (-60.0, 55.0)):
        for right, up in ((0.0, 0.0), (12.0, 0.0), (-20.0, -6.0), (5.0, 9.0)):
            got_az, got_elev = chart_point(az, elev, right, up)
            a, e = np.radians([az, elev])
            anchor = np.array([np.cos(e) * np.sin(a), np.cos(e) * np.cos(a), np.sin(e)])
            want = offset_dirs(anchor, np.radians([[right, up]]))[0]
            got = np.array([np.cos(np.radians(got_elev)) * np.sin(np.radians(got_az)),
                            np.cos(np.radians(got_elev)) * np.cos(np.radians(got_az)), np.sin(np.radians(got_elev))])
            assert np.degrees(np.arccos(min(1.0, got @ want))) < 1e-6


def test_tally_overlays_show_the_question_and_a_bar_per_option():
    desk = desk_for()
    assert tally_overlays(desk) == ()
    desk.open({"en": "Where shall we fly?", "fr": "Où allons-nous ?"},
              ["Mars", {"key": "Moon", "labels": {"fr": "la Lune"}}, "Sun"], poll_id="q")
    desk.ingest_many([(1, 1, "a"), (2, 2, "a"), (3, 2, "a"), (4, 2, "a")])
    overlays = tally_overlays(desk, "fr", dome_az_deg=30.0, dome_elev_deg=35.0, size_deg=2.0)
    assert len(overlays) == 1 + 3 * 3
    assert all(o.kind == "text" for o in overlays)
    question, rows = overlays[0], [overlays[1 + 3 * i: 4 + 3 * i] for i in range(3)]
    assert question.content == "Où allons-nous ?" and (question.dome_az_deg, question.dome_elev_deg) == (30.0, 35.0)
    assert [r[0].content for r in rows] == ["Mars", "la Lune", "Sun"]
    assert [r[1].content for r in rows] == [bar_text(0.25), bar_text(0.75), bar_text(0.0)]
    assert [r[2].content for r in rows] == ["1 (25 %)", "3 (75 %)", "0 (0 %)"]
    elevations = [r[1].dome_elev_deg for r in rows]
    assert elevations == sorted(elevations, reverse=True) and elevations[0] < 35.0 - 2.0
    for label, bar, count in rows:
        assert label.dome_az_deg < bar.dome_az_deg < count.dome_az_deg
        assert bar.dome_az_deg == pytest.approx(30.0)
    assert {o.rgb for o in overlays} == {(1.0, 1.0, 1.0)}
    desk.close()
    closed = tally_overlays(desk.status("en"), dome_az_deg=30.0)
    assert closed[0].content == "Where shall we fly?"
    assert [o.rgb for o in closed[4:7]] == [(1.0, 0.8, 0.2)] * 3          # the winner, Moon
    assert closed[5].content == bar_text(0.75) and closed[4].content == "Moon"


def test_tally_overlays_fit_in_a_frame_state():
    desk = desk_for()
    desk.open("Q" * 300, [{"key": f"K{i}", "labels": {"fr": "L" * 48}} for i in range(MAX_OPTIONS)])
    overlays = tally_overlays(desk)
    state = FrameState(frame=1, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.7,
                       longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0,
                       overlays=overlays)
    assert decode_frame(encode_frame(state)).overlays == overlays
    assert max(len(line) for line in overlays[0].content.split("\n")) <= 36


def test_tally_png_draws_bars_in_proportion(tmp_path):
    desk = desk_for()
    desk.open("Où allons-nous ce soir ?", ["Mars", "Saturn", "Moon"])
    desk.ingest_many([(s, 1 if s <= 10 else 2 if s <= 35 else 3, "a") for s in range(1, 51)])  # 10, 25, 15
    desk.close()
    path = tally_png(desk, tmp_path / "tally.png", size_px=(1280, 720))
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape == (720, 1280, 3)
    blue = np.all(np.abs(image - (70, 150, 235)) <= 2, axis=-1)
    gold = np.all(np.abs(image - (245, 190, 50)) <= 2, axis=-1)     # the winner: Saturn
    widths = sorted({int(blue[r].sum() + gold[r].sum()) for r in range(720) if blue[r].any() or gold[r].any()})
    assert len(widths) == 3
    assert widths[0] / widths[2] == pytest.approx(10 / 25, abs=0.01)
    assert widths[1] / widths[2] == pytest.approx(15 / 25, abs=0.01)
    assert gold.any() and list(tmp_path.iterdir()) == [path]


def test_votes_module_opens_no_sockets_and_no_gl():
    code = ("import sys, domectl.votes; bad = {'socket', 'moderngl', 'zmq', 'pythonosc'} & set(sys.modules); "
            "print(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_option_labels_fall_back_to_the_key():
    option = PollOption("B", {"fr": "Be"})
    assert option.label("fr") == "Be" and option.label("en") == "B"
    assert math.isclose(chart_point(10.0, 30.0, 0.0, 0.0)[0], 10.0)
