"""The show format: every committed show validates; broken shows fail with line, column, message and hint."""

from __future__ import annotations

import math
import re
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from domectl.errors import DomectlError
from domectl.layermix import LAYER_NAMES
from domectl.places import HALL, PLACES, find_place, suggest_place
from shows.format import (
    EASINGS,
    MICROS_PER_S,
    Issue,
    PointerCue,
    PollCue,
    ShowError,
    TextCue,
    format_time,
    lex,
    load_show,
    parse_show,
    parse_show_time,
)

ROOT = Path(__file__).resolve().parent.parent
SHOWS = ROOT / "shows"
SHOW_FILES = sorted(SHOWS.glob("*.show"))
#: A text line on the dome reads at a glance up to about 40 characters: at the default 2.5 deg
#: cap height that is some 60 deg of dome, what a seat takes in without turning.
MAX_LINE_CHARS = 40

#: A small valid show the broken cases edit; line numbers below count from its first line.
VALID = """\
title "Test"
languages fr en
start 2026-11-20T21:00:00Z

00:00   blackout 0 over 4
00:05   view 0 30 over 6 in-out
00:10   pointer moon
00:12   layer constellation-lines 1 over 2
00:20   poll next for 30
          fr "Où ?"
          en "Where?"
          option 1 fr "Orion" en "Orion"
          option 2 fr "Lune" en "Moon"
          branch 1 -> orion
          branch 2 -> moon
          default -> moon
00:50   label orion
+0      rate 600 over 10
01:20   goto after
00:50   label moon
+0      site paris over 10
01:20   goto after
01:20   label after
02:00   end
"""


def _replace_line(text: str, line_no: int, new: str) -> str:
    lines = text.splitlines()
    lines[line_no - 1] = new
    return "\n".join(lines) + "\n"


def _issues(text: str, tmp_path: Path | None = None) -> tuple[Issue, ...]:
    with pytest.raises(ShowError) as caught:
        parse_show(text, "t.show", tmp_path)
    return caught.value.issues


def test_the_reference_text_is_valid():
    show = parse_show(VALID, "t.show")
    assert show.duration_s({"next": "1"}) == 120.0
    assert [s.label for s in show.walk({"next": "1"})] == ["", "orion", "after"]


# ----------------------------------------------------------------- the committed shows


@pytest.mark.parametrize("path", SHOW_FILES, ids=[p.name for p in SHOW_FILES])
def test_every_committed_show_validates(path):
    show = load_show(path)
    assert show.languages == ("fr", "en", "nl", "de")
    shortest, longest = show.durations_s()
    assert shortest == longest                      # every branch keeps the film's length
    assert len(list(show.paths())) >= 2
    for cue in show.cues:
        if isinstance(cue, TextCue):
            assert dict(cue.variants)["fr"].strip()


def test_the_two_reference_shows_are_there_with_their_shape():
    assert {p.name for p in SHOW_FILES} >= {"live-sky-tour.show", "from-v2-to-the-moon.show"}
    tour = load_show(SHOWS / "live-sky-tour.show")
    film = load_show(SHOWS / "from-v2-to-the-moon.show")
    assert tour.durations_s() == (15 * 60.0, 15 * 60.0)
    assert len(tour.polls) == 1 and len(tour.holds) >= 3
    assert film.durations_s() == (35 * 60.0, 35 * 60.0)
    assert len(film.polls) >= 2 and film.holds == ()
    for show in (tour, film):
        for cue in show.cues:
            if isinstance(cue, TextCue):
                for _, text in cue.variants:
                    assert max(len(line) for line in text.split("\n")) <= MAX_LINE_CHARS, text


def test_the_readme_example_validates():
    readme = (SHOWS / "README.md").read_text(encoding="utf-8")
    example = re.search(r"## A first show\n\n```\n(.*?)```", readme, re.DOTALL).group(1)
    show = parse_show(example, "README.md")
    assert show.duration_s() == 65.0


def test_the_show_media_are_drawn_by_the_committed_script():
    assert (SHOWS / "media" / "make_media.py").is_file()
    film = load_show(SHOWS / "from-v2-to-the-moon.show")
    media = {c.source for c in film.cues if hasattr(c, "source")}
    assert media == {"media/la-coupole.png", "media/v2-rise", "media/launch-glow"}


# ----------------------------------------------------------------- broken shows


@pytest.mark.parametrize("line_no, new, column, message, hint", [
    # bad time
    (6, "00:7x   view 0 30", 1, "bad time '00:7x'", "write HH:MM:SS.s, MM:SS or +SECONDS"),
    (6, "00:61:00 view 0 30", 1, "bad time '00:61:00': minutes run 0-59 after hours", "HH:MM:SS.s"),
    (6, "-5      view 0 30", 1, "unknown line starting '-5'", ""),
    # unknown command
    (7, "00:10   poiner moon", 9, "unknown command 'poiner'", "did you mean 'pointer'?"),
    (7, "pointer moon", 1, "'pointer' needs a time before it", "e.g. '00:10 pointer ...'"),
    # bad easing
    (6, "00:05   view 0 30 over 6 in-ou", 26, "unknown easing 'in-ou'", "did you mean 'in-out'?"),
    (6, "00:05   view 0 30 over 6 bouncy", 26, "unknown easing 'bouncy'", "easings: linear, in, out, in-out, smooth"),
    # unknown layer
    (8, "00:12   layer constelation-lines 1 over 2", 15, "unknown layer 'constelation-lines'",
     "did you mean 'constellation-lines'?"),
    (8, "00:12   layer stars,constelation-lines 1", 21, "unknown layer 'constelation-lines'",
     "did you mean 'constellation-lines'?"),
    # missing branch target
    (15, "          branch 2 -> mon", 23, "poll 'next' branch 2 target 'mon' is not a label", "did you mean 'moon'?"),
    (16, "          default -> nowhere", 22, "poll 'next' default target 'nowhere' is not a label",
     "labels: orion, moon, after"),
    # values and names
    (6, "00:05   view 0 95", 16, "altitude (deg) 95 is out of range", "must be in [-90, 90]"),
    (21, "+0      site pariss over 10", 14, "unknown place 'pariss'", "did you mean 'paris'?"),
    (7, "00:10   pointer saturnus", 17, "unknown object 'saturnus' for the pointer", "did you mean 'saturn'?"),
    (7, "00:10   pointer HIP 999999", 17, "no star HIP 999999 in the catalogue", ""),
    (6, "00:05   time 1850-01-01T00:00:00Z", 14, "1850-01-01T00:00:00Z is outside the ephemeris (JPL DE421)",
     "choose a UTC time from 1900-01-02"),
    (6, "00:05   time +6x", 14, "bad time offset '+6x'", "e.g. +6h, -30d, +1d12h"),
    (6, '00:05   audio /audio/play "intro', 27, "unterminated string", 'close it with "'),
    (6, "00:05   audio /audio/play intro", 27, "audio argument 'intro' is neither a number nor a string",
     'quote text: "intro"'),
    (11, '          es "¿Dónde?"', 11, "language 'es' is not one of this show's (fr en)", "'languages' line"),
    (5, "title \"Again\"", 1, "'title' is given twice (first on line 1)", "keep one"),
    # flow
    (19, "01:20   goto moon", 14, "goto target 'moon' is at 00:00:50, but the jump happens at 00:01:20",
     "label 'moon' must be at 00:01:20"),
    (18, "00:40   rate 600 over 10", 1, "time goes backwards: 00:00:40 is before the cue above (00:00:50)", ""),
    (17, "00:55   label orion", 23,
     "poll 'next' branch 1 target 'orion' is at 00:00:55, but the jump happens at 00:00:50", ""),
    (24, "01:20   goto after", 1, "the show loops back to 'after' without time passing", ""),
])
def test_a_broken_line_is_reported_with_line_column_message_and_hint(line_no, new, column, message, hint):
    issues = _issues(_replace_line(VALID, line_no, new))
    matching = [i for i in issues if i.message.startswith(message)]
    assert matching, f"no {message!r} in {[str(i) for i in issues]}"
    issue = matching[0]
    reported_line = line_no if "target 'orion' is at" not in message else 14
    assert (issue.file, issue.line, issue.column) == ("t.show", reported_line, column)
    assert hint in issue.hint


def test_a_cue_after_its_poll_closes_is_refused():
    text = _replace_line(VALID, 16, "          default -> moon\n00:55   pointer off")
    (issue,) = _issues(text)
    assert (issue.line, issue.column) == (17, 1)
    assert issue.message == ("this cue at 00:00:55 is never played: poll 'next' closes at 00:00:50 and the show "
                             "branches there")


def test_a_mistyped_line_under_a_poll_is_one_error():
    (issue,) = _issues(_replace_line(VALID, 14, "          brnach 1 -> orion"))
    assert (issue.line, issue.column, issue.message, issue.hint) == (
        14, 11, "unknown line starting 'brnach'", "did you mean 'branch'?")


def test_a_poll_without_default_or_branch_is_refused():
    text = _replace_line(_replace_line(VALID, 16, "          # no default"), 15, "          # no branch 2")
    issues = _issues(text)
    messages = {(i.line, i.message) for i in issues}
    assert (9, "option '2' of poll 'next' has no branch") in messages
    assert (9, "poll 'next' has no default branch") in messages


def test_a_text_needs_the_first_language():
    text = VALID.replace('00:10   pointer moon', '00:10   text for 5\n          en "Only English"')
    (issue,) = _issues(text)
    assert (issue.line, issue.message) == (7, "this text has no 'fr' line")
    assert "fallback" in issue.hint


def test_sections_never_reached_and_shows_without_end_are_refused():
    unreachable = VALID + "03:00   label lost\n03:10   end\n"
    (issue,) = _issues(unreachable)
    assert issue.line == 25
    assert issue.message == "section 'lost' is never played: no goto, branch or cue above runs into it"
    no_end = VALID.replace("02:00   end\n", "02:00   pointer off\n")
    (issue,) = _issues(no_end)
    assert (issue.line, issue.message) == (24, "the show runs off the end of the file after this cue")


def test_the_sim_time_must_stay_in_the_ephemeris_on_every_path():
    # 1e7 sim s per s for 60 s is 19 years: from 2026 that leaves DE421 (2050) on the orion path only.
    text = _replace_line(VALID, 18, "+0      rate 1e7 over 10")
    text = _replace_line(text, 3, "start 2040-01-01T00:00:00Z")
    (issue,) = _issues(text)
    assert issue.line == 18
    # Rate 1 until 00:50, then a linear-average ramp to 1e7 adding 10 * (1 + 1e7) / 2 s by 01:00,
    # then 1e7 s per second: it passes 2050-12-31T00:00Z (the range's end, held a day inside) at
    expected_s = 60.0 + ((datetime(2050, 12, 31) - datetime(2040, 1, 1)).total_seconds() - 50.0
                         - 10.0 * (1.0 + 1e7) / 2.0) / 1e7
    reported = re.match(r"the sim time leaves the ephemeris \(JPL DE421\) at show time 00:(\d\d):([\d.]+), "
                        r"passing 2050-12-31$", issue.message)
    assert reported is not None, issue.message
    assert int(reported.group(1)) * 60 + float(reported.group(2)) == pytest.approx(expected_s, abs=2e-6)


def test_every_error_is_reported_at_once_and_nothing_is_loaded():
    text = VALID
    for line_no, new in [(6, "00:7x   view 0 30"), (7, "00:10   poiner moon"),
                         (8, "00:12   layer constelation-lines 1 over 2 in-ou"),
                         (21, "+0      site 95 2"), (22, "01:20   zoom 500")]:
        text = _replace_line(text, line_no, new)
    issues = _issues(text)
    assert [(i.line, i.column) for i in issues] == [(6, 1), (7, 9), (8, 15), (21, 14), (22, 14)]
    with pytest.raises(ShowError) as caught:
        parse_show(text, "t.show")
    error = caught.value
    assert isinstance(error, DomectlError)
    assert str(error).startswith("t.show: 5 errors:\n  t.show:6:1: bad time '00:7x' (write HH:MM:SS.s")


def test_an_issue_reads_file_line_column_message_hint():
    assert str(Issue("a.show", 3, 14, "unknown easing 'x'", "did you mean 'in'?")) == \
        "a.show:3:14: unknown easing 'x' (did you mean 'in'?)"
    assert str(Issue("a.show", 0, 0, "cannot read the show")) == "a.show: cannot read the show"


def test_a_missing_file_is_a_show_error(tmp_path):
    with pytest.raises(ShowError, match="cannot read the show"):
        load_show(tmp_path / "nope.show")


# ----------------------------------------------------------------- values


@pytest.mark.parametrize("text, previous_us, expected_s", [
    ("00:12:30.5", 0, 750.5), ("12:30.5", 0, 750.5), ("75:00", 0, 4500.0), ("1:00:00", 0, 3600.0),
    ("+2.5", 10 * MICROS_PER_S, 12.5), ("+1:30", 0, 90.0), ("+0", 7 * MICROS_PER_S, 7.0),
])
def test_show_times_parse_exactly(text, previous_us, expected_s):
    assert parse_show_time(text, previous_us) == round(expected_s * MICROS_PER_S)


def test_relative_times_do_not_drift():
    # Ten +0.1 steps land exactly on 00:01, where the goto's target sits.
    steps = "\n".join("+0.1    pointer off" for _ in range(10))
    text = ("title \"t\"\nlanguages en\nstart 2026-11-20T21:00:00Z\n00:00 pointer off\n" + steps
            + "\n+0      goto b\n00:01   label b\n00:02   end\n")
    show = parse_show(text, "t.show")
    assert show.duration_s() == 2.0
    assert format_time(show.section("b").time_us) == "00:00:01"


def test_lexer_columns_strings_and_comments():
    tokens = lex('00:10   text "a \\"b\\"\\nc"  # comment')
    assert [(t.text, t.column, t.quoted) for t in tokens] == [("00:10", 1, False), ("text", 9, False),
                                                              ('a "b"\nc', 14, True)]
    assert [t.text for t in lex("layer a#b 1")] == ["layer", "a#b", "1"]


@pytest.mark.parametrize("name", sorted(EASINGS))
def test_easings_run_from_0_to_1_and_their_integral_is_exact(name):
    e = EASINGS[name]
    assert e.f(0.0) == 0.0 and e.f(1.0) == 1.0
    values = [e.f(k / 200) for k in range(201)]
    assert all(b >= a for a, b in pairwise(values))
    for u in (0.1, 0.5, 0.77, 1.0):
        n = 2000                               # Simpson's rule is exact for these cubics
        h = u / n
        simpson = h / 3 * sum((1 if k in (0, n) else 4 if k % 2 else 2) * e.f(k * h) for k in range(n + 1))
        # Exact for the cubics; in-out's kink at 0.5 leaves Simpson a 1e-10 error.
        assert e.integral(u) == pytest.approx(simpson, abs=1e-9)


def test_pointer_names_resolve_to_what_the_renderer_reads():
    text = VALID.replace("00:10   pointer moon", "00:10   pointer betelgeuse\n00:10   pointer orion\n"
                                                 "00:10   pointer Saturn\n00:10   pointer \"HIP 11767\"\n"
                                                 "00:10   pointer off")
    show = parse_show(text, "t.show")
    assert [c.target for c in show.cues if isinstance(c, PointerCue)] == ["HIP 27989", "Ori", "saturn",
                                                                          "HIP 11767", ""]


def test_layer_names_are_checked_against_the_layer_list():
    text = _replace_line(VALID, 8, "00:12   layer all 0.5")
    show = parse_show(text, "t.show")
    layer_cue = show.cues[3]
    assert layer_cue.names == LAYER_NAMES


def test_poll_winner_and_targets():
    show = parse_show(VALID, "t.show")
    (poll,) = show.polls
    assert isinstance(poll, PollCue)
    assert poll.winner({"1": 3, "2": 5}) == "2"
    assert poll.winner({"1": 4, "2": 4}) == "1"        # a tie goes to the option listed first
    assert poll.winner({}) is None
    assert poll.target(None) == "moon" and poll.target(1) == "orion"
    with pytest.raises(ValueError, match="no option '7'"):
        poll.target("7")


def test_images_and_clips_must_exist(tmp_path):
    from PIL import Image

    text = _replace_line(VALID, 7, "00:10   image pic.png for 5")
    (issue,) = _issues(text, tmp_path)
    assert (issue.line, issue.column, issue.message) == (7, 15, "image 'pic.png' not found")
    Image.new("RGB", (8, 4)).save(tmp_path / "pic.png")
    assert parse_show(text, "t.show", tmp_path).cues[2].path == (tmp_path / "pic.png").resolve()
    (tmp_path / "fake.png").write_text("not a png")
    (issue,) = _issues(_replace_line(VALID, 7, "00:10   image fake.png for 5"), tmp_path)
    assert issue.message == "image 'fake.png' is not a PNG file"
    clip = _replace_line(VALID, 7, "00:10   clip frames/%03d.png fps 4 fulldome")
    (issue,) = _issues(clip, tmp_path)
    assert issue.message == "clip 'frames/%03d.png' has no frames"
    (tmp_path / "frames").mkdir()
    for k in range(1, 4):
        Image.new("RGB", (16, 16)).save(tmp_path / "frames" / f"{k:03d}.png")
    cue = parse_show(clip, "t.show", tmp_path).cues[2]
    assert [p.name for p in cue.frames] == ["001.png", "002.png", "003.png"]
    assert cue.duration_s == 0.75 and cue.fulldome


# ----------------------------------------------------------------- places


def test_places_are_on_earth_and_findable():
    for place in PLACES.values():
        assert -90.0 <= place.latitude_deg <= 90.0 and -180.0 <= place.longitude_deg <= 180.0
        assert -500.0 <= place.elevation_m <= 9000.0
        assert find_place(place.name) is place
    assert len(PLACES) >= 30 + 10
    assert find_place("Peenemünde").name == "peenemunde"
    assert find_place("Cape Canaveral").name == "cape-canaveral"
    assert find_place(HALL).site == find_place("wizernes").site == (50.707, 2.240, 80.0)
    assert find_place("tranquility-base") is None          # the Moon is not a place on Earth
    assert suggest_place("bakonur") == "baikonur"
    # Peenemünde to Baikonur is about 3,500 km: the table's coordinates are where they should be.
    a, b = find_place("peenemunde"), find_place("baikonur")
    la1, lo1, la2, lo2 = map(math.radians, (a.latitude_deg, a.longitude_deg, b.latitude_deg, b.longitude_deg))
    km = 6371.0 * math.acos(math.sin(la1) * math.sin(la2) + math.cos(la1) * math.cos(la2) * math.cos(lo2 - lo1))
    assert 3300 < km < 3700


# ----------------------------------------------------------------- domectl show validate


def test_validate_prints_a_summary_and_exits_0(capsys):
    from domectl.cli_show import main

    assert main(["show", "validate", *map(str, SHOW_FILES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(SHOW_FILES)
    tour = next(line for line in out if "live-sky-tour" in line)
    assert re.search(r": ok, 15:00\.0, \d+ cues, 1 poll \(next\), \d+ holds, languages fr en nl de: ", tour)


def test_validate_prints_every_error_and_exits_non_zero(tmp_path, capsys):
    from domectl.cli_show import EXIT_INVALID, main

    bad = tmp_path / "bad.show"
    bad.write_text(_replace_line(_replace_line(VALID, 6, "00:7x   view 0 30"), 7, "00:10   poiner moon"))
    assert main(["show", "validate", str(bad), str(SHOW_FILES[0])]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"{bad}:6:1: bad time '00:7x' (write HH:MM:SS.s, MM:SS or +SECONDS, e.g. 00:12:30.5, 12:30 or +2.5)",
        f"{bad}:7:9: unknown command 'poiner' (did you mean 'pointer'?)",
        f"{bad}: 2 errors",
    ]
    assert "ok" in captured.out                                  # the valid file is still checked


def test_a_missing_header_line_is_reported_once():
    (issue,) = _issues(VALID.replace('title "Test"\n', ""))
    assert (issue.line, issue.message) == (1, "the header has no 'title' line")
    (issue,) = _issues(VALID.replace("start 2026-11-20T21:00:00Z", "start yesterday"))
    assert (issue.line, issue.column, issue.message) == (3, 7, "bad date 'yesterday'")


def test_the_committed_media_are_what_the_script_draws(tmp_path):
    import importlib.util

    import numpy as np
    from PIL import Image

    spec = importlib.util.spec_from_file_location("make_media", SHOWS / "media" / "make_media.py")
    make_media = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_media)
    make_media.la_coupole(tmp_path / "la-coupole.png")
    make_media.v2_rise(tmp_path / "v2-rise")
    make_media.launch_glow(tmp_path / "launch-glow")
    drawn = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.png"))
    committed = sorted(p.relative_to(SHOWS / "media") for p in (SHOWS / "media").rglob("*.png"))
    assert drawn == committed
    for rel in drawn:   # pixels, not bytes: another zlib may pack the same image differently
        assert np.array_equal(np.asarray(Image.open(tmp_path / rel)), np.asarray(Image.open(SHOWS / "media" / rel)))
