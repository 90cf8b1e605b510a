"""The show player: the scene is a pure function of (show, t, poll results); the live playhead agrees."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from domectl.frame import FrameState, decode_frame, encode_frame
from domectl.layermix import LAYER_NAMES
from domectl.places import find_place
from shows.format import EASINGS, AudioCue, load_show, parse_show
from shows.player import (
    Player,
    Playhead,
    format_srt,
    format_webvtt,
    subtitles,
    write_subtitles,
)

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "shows" / "live-sky-tour.show"
FILM = ROOT / "shows" / "from-v2-to-the-moon.show"
START = datetime(2026, 11, 20, 21, 0, tzinfo=timezone.utc)
#: Frame rate of the playhead runs below: coarse, to keep the tests fast; the player's answer
#: does not depend on it (it is evaluated at whatever show time a frame has).
TEST_FPS = 10.0

EASED = """\
title "Eased"
languages fr en
start 2026-11-20T21:00:00Z
view 180 10
layers stars

00:10   view 240 40 over 8 {ease}
00:10   zoom 8 over 8 {ease}
00:10   layer constellation-lines 0.8 over 8 {ease}
00:10   blackout 0.5 over 8 {ease}
00:30   end
"""

RATES = """\
title "Rates"
languages en
start 2026-11-20T21:00:00Z
rate 1

00:05   rate 3600 over 20 in-out
00:40   rate -600 over 10 linear
01:00   rate 0 over 4 out
01:10   time 1969-07-21T02:56:15Z
01:20   rate 60 over 6 smooth
01:30   time +6h over 10 in
01:50   rate 1
02:00   end
"""


def _show(text: str, tmp_path: Path | None = None):
    return parse_show(text, "t.show", tmp_path)


@pytest.fixture(scope="module")
def tour():
    return load_show(TOUR)


@pytest.fixture(scope="module")
def film():
    return load_show(FILM)


# ----------------------------------------------------------------- eased values


@pytest.mark.parametrize("ease", sorted(EASINGS))
def test_eased_values_follow_the_easing_formula(ease):
    player = Player(_show(EASED.format(ease=ease)))
    f = EASINGS[ease].f
    for u in (0.0, 0.25, 0.5, 0.75, 1.0):
        scene = player.scene_at(10.0 + 8.0 * u)
        k = f(u)
        assert scene.view_az_deg == pytest.approx(180.0 + 60.0 * k, abs=1e-9)
        assert scene.view_alt_deg == pytest.approx(10.0 + 30.0 * k, abs=1e-9)
        assert scene.zoom == pytest.approx(8.0 ** k, rel=1e-12)          # geometric: equal steps look equal
        assert scene.layers["constellation-lines"] == pytest.approx(0.8 * k, abs=1e-12)
        assert scene.blackout == pytest.approx(0.5 * k, abs=1e-12)
        assert scene.layers["stars"] == 1.0 and scene.layers["planets"] == 0.0
    assert tuple(player.scene_at(0.0).layers) == LAYER_NAMES


def test_known_points_of_the_easings():
    assert EASINGS["in-out"].f(0.25) == 0.0625 and EASINGS["in-out"].f(0.75) == 0.9375
    assert EASINGS["in"].f(0.5) == 0.125 and EASINGS["out"].f(0.5) == 0.875
    assert EASINGS["smooth"].f(0.25) == 0.15625 and EASINGS["linear"].f(0.3) == 0.3


def test_a_transition_that_interrupts_another_starts_from_where_it_is():
    show = _show(EASED.format(ease="linear").replace("00:30   end", "00:14   view 0 40 over 4 linear\n00:30   end"))
    player = Player(show)
    # At 14 s the first move is halfway (210 deg); the second turns back from there the short way to 0.
    assert player.scene_at(14.0).view_az_deg == pytest.approx(210.0)
    assert player.scene_at(16.0).view_az_deg == pytest.approx((210.0 + 150.0 * 0.5) % 360.0)
    assert player.scene_at(18.0).view_az_deg == pytest.approx(0.0, abs=1e-9)


def test_the_view_turns_the_short_way_round():
    show = _show(EASED.format(ease="linear").replace("view 240 40", "view 350 40").replace("view 180 10", "view 10 10"))
    player = Player(show)
    assert player.scene_at(14.0).view_az_deg == pytest.approx(0.0, abs=1e-9)   # 10 -> 350 through north


# ----------------------------------------------------------------- sim time


def test_sim_time_is_the_integral_of_the_eased_rate():
    player = Player(_show(RATES))
    # Numerical integration of the rate the player reports, against its closed-form sim time.
    step_s = 1e-3
    t = np.arange(0.0, 70.0 + step_s / 2, step_s)
    rates = np.array([player.scene_at(x).rate for x in t])
    integral = np.concatenate([[0.0], np.cumsum(0.5 * (rates[1:] + rates[:-1]) * step_s)])
    for check_s in (5.0, 10.0, 15.0, 25.0, 33.3, 45.0, 50.0, 62.0, 69.9):
        i = round(check_s / step_s)
        expected = START + timedelta(seconds=float(integral[i]))
        # The trapezoid rule's error on these cubic ramps over 1 ms steps: far below 1 ms of sim time.
        assert abs((player.scene_at(t[i]).utc - expected).total_seconds()) < 1e-3
    # Closed forms: the in-out ramp to 3600 over 20 s adds 20 * 3600 / 2 s, ending at 00:25.
    assert player.scene_at(25.0).utc == START + timedelta(seconds=25.0 + 20.0 * 3599.0 / 2.0)
    assert player.scene_at(40.0).utc == START + timedelta(seconds=25.0 + 20.0 * 3599.0 / 2.0 + 15.0 * 3600.0)


def test_a_time_jump_is_instant_and_a_time_move_interpolates():
    player = Player(_show(RATES))
    landing = datetime(1969, 7, 21, 2, 56, 15, tzinfo=timezone.utc)
    assert player.scene_at(70.0).utc == landing
    assert player.scene_at(70.0).rate == 0.0
    # Rate 0 -> 60 (smooth over 6 s) from 01:20: 6 * 60 / 2 s by 01:26, then 60 s/s until the move at 01:30.
    before_move = landing + timedelta(seconds=180.0 + 4 * 60.0)
    assert player.scene_at(90.0).utc == before_move
    # The move adds 6 h along the in curve, ignoring the rate while it lasts.
    for u in (0.25, 0.5, 1.0):
        expected = before_move + timedelta(seconds=6 * 3600 * EASINGS["in"].f(u))
        assert abs((player.scene_at(90.0 + 10.0 * u).utc - expected).total_seconds()) < 1e-6
    # Then the rate (60, then 1 from 01:50) runs on from the move's target.
    end = before_move + timedelta(hours=6)
    assert player.scene_at(110.0).utc == end + timedelta(seconds=600.0)
    assert player.scene_at(120.0).utc == end + timedelta(seconds=610.0)


def test_start_now_needs_the_masters_start_time():
    text = RATES.replace("start 2026-11-20T21:00:00Z", "start now")
    show = parse_show(text, "t.show", now_utc=START)
    with pytest.raises(Exception, match="start now"):
        Player(show)
    later = START + timedelta(days=3)
    assert Player(show, start_utc=later).scene_at(0.0).utc == later


def test_site_travel_follows_the_great_circle_and_lands_exactly(tour, film):
    player = Player(film)
    # 03:55: Wizernes -> Peenemünde over 20 s (in-out): halfway, the great circle's midpoint.
    a, b = find_place("wizernes"), find_place("peenemunde")
    mid = player.scene_at(3 * 60 + 55 + 10.0).site

    def unit(lat, lon):
        lat, lon = math.radians(lat), math.radians(lon)
        return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])

    m = unit(a.latitude_deg, a.longitude_deg) + unit(b.latitude_deg, b.longitude_deg)
    m /= np.linalg.norm(m)
    assert mid[0] == pytest.approx(math.degrees(math.asin(m[2])), abs=1e-9)
    assert mid[1] == pytest.approx(math.degrees(math.atan2(m[1], m[0])), abs=1e-9)
    assert mid[2] == pytest.approx((a.elevation_m + b.elevation_m) / 2)
    assert player.scene_at(3 * 60 + 55 + 20.0).site == b.site
    # `site hall` (and no site at all) is the hall's own site when the master gives one.
    show = _show(RATES.replace("00:05   rate", "00:02   site hall\n00:05   rate"))
    assert Player(show, hall_site=(45.0, 5.0, 200.0)).scene_at(0.0).site == (45.0, 5.0, 200.0)
    assert Player(show, hall_site=(45.0, 5.0, 200.0)).scene_at(3.0).site == (45.0, 5.0, 200.0)
    assert Player(show).scene_at(3.0).site == find_place("wizernes").site
    assert Player(tour, hall_site=(45.0, 5.0, 200.0)).scene_at(0.0).site == a.site   # `site wizernes` stays


# ----------------------------------------------------------------- purity, seeking, the playhead


def test_scene_at_is_a_pure_function(film):
    results = {"road": "2", "moonstep": None}
    times = [0.0, 601.5, 1300.25, 1500.0, 1900.0, 2099.99]
    first = [Player(film).scene_at(t, results) for t in times]
    player = Player(film)
    for t in reversed(times):                       # other order, other calls in between
        player.scene_at(t / 3, {"road": "1"})
        assert player.scene_at(t, results) == first[times.index(t)]
    assert player.scene_at(601.5, dict(results)) == first[1]


def _play_through(player, poll_results, fps=TEST_FPS, checkpoints=()):
    """Play from the start, continuing at every hold; returns {show time: scene} at the checkpoints
    and the audio cues fired, in order."""
    head = Playhead(player, poll_results)
    head.play(0.0)
    fired, seen, frame = [], {}, 0
    pending = sorted(checkpoints)
    while True:
        now = frame / fps
        tick = head.tick(now)
        fired.extend(tick.cues)
        while pending and tick.show_time_s >= pending[0]:
            seen[tick.show_time_s] = head.scene(now)
            pending.pop(0)
        if tick.state == "held":
            assert tick.hold is not None and tick.show_time_s == tick.hold.time_s
            head.resume(now)
        if tick.state == "ended":
            return seen, fired
        frame += 1


def test_seek_equals_playing_up_to_t(tour):
    player = Player(tour)
    results = {"next": "2"}
    checkpoints = [0.05, 65.0, 105.0, 200.0, 335.0, 366.0, 480.0, 700.0, 899.0]
    played, _ = _play_through(player, results, checkpoints=checkpoints)
    assert len(played) == len(checkpoints)
    for t, scene in played.items():
        head = Playhead(player, results)
        assert head.seek(t, now_s=123.0) == t
        assert head.scene(500.0) == scene                # paused after a seek: the scene at t
        assert Player(tour).scene_at(t, results) == scene


def test_the_playhead_stops_at_holds_until_resumed(tour):
    player = Player(tour)
    head = Playhead(player)
    first_hold = tour.holds[0]
    head.play(10.0)
    assert head.state(10.0) == "playing"
    later = 10.0 + first_hold.time_s + 30.0
    assert head.show_time(later) == first_hold.time_s                  # waiting at the hold
    assert head.state(later) == "held" and head.hold(later) is first_hold
    head.resume(later)
    assert head.show_time(later + 2.0) == first_hold.time_s + 2.0
    head.pause(later + 2.0)
    assert head.state(later + 50.0) == "paused" and head.show_time(later + 50.0) == first_hold.time_s + 2.0
    head.play(later + 50.0)
    assert head.show_time(later + 51.0) == first_hold.time_s + 3.0


def test_skip_goes_to_the_next_cue_and_releases_a_hold(tour):
    player = Player(tour)
    head = Playhead(player)
    head.play(0.0)
    hold = tour.holds[0]
    now = hold.time_s + 5.0
    assert head.state(now) == "held"
    t = head.skip(now)
    assert t == min(x for x in player.cue_times_s() if x > hold.time_s)
    assert head.state(now + 1.0) == "playing" and head.show_time(now + 1.0) == t + 1.0


def test_seeking_to_a_label_on_another_branch_takes_that_branch(tour):
    player = Player(tour)
    head = Playhead(player)
    t = head.seek("andromeda", now_s=0.0)
    assert t == tour.label_time_s("andromeda")
    assert head.poll_results == {"next": "2"}
    assert head.scene(0.0).position.label == "andromeda"
    assert head.seek("00:01:46", now_s=0.0) == 106.0
    with pytest.raises(KeyError):
        head.seek("nowhere", now_s=0.0)
    with pytest.raises(ValueError, match="no option '9'"):
        head.set_poll_result("next", "9")


# ----------------------------------------------------------------- polls and branches


def test_a_poll_branch_is_taken_by_the_winning_option_and_the_default_when_nobody_votes(tour, film):
    player = Player(tour)
    (poll,) = tour.polls
    after = poll.end_s + 10.0
    assert player.scene_at(after, {"next": poll.winner({"1": 12, "2": 40})}).position.label == "andromeda"
    assert player.scene_at(after, {"next": poll.winner({"1": 40, "2": 12})}).position.label == "orion"
    assert player.scene_at(after, {"next": poll.winner({})}).position.label == "orion"     # the default
    assert player.scene_at(after, {}).position.label == "orion"
    # Before the poll closes, its result changes nothing.
    during = poll.time_s + 12.0
    assert player.scene_at(during, {"next": "2"}) == player.scene_at(during, {"next": "1"})
    scene = player.scene_at(during, {})
    assert scene.poll.id == "next" and scene.poll.remaining_s == pytest.approx(poll.duration_s - 12.0)
    # The film's second poll defaults to Apollo 8; the branches rejoin at Apollo 11.
    film_player = Player(film)
    moonstep = next(p for p in film.polls if p.id == "moonstep")
    labels = {choice: film_player.scene_at(moonstep.end_s + 5.0, {"moonstep": choice}).position.label
              for choice in ("1", "2", None)}
    assert labels == {"1": "luna9", "2": "apollo8", None: "apollo8"}
    rejoin = film.label_time_s("apollo11") + 60.0
    assert film_player.scene_at(rejoin, {"moonstep": "1"}).position.label == "apollo11"
    assert film_player.scene_at(rejoin, {"moonstep": "1"}).utc == film_player.scene_at(rejoin, {}).utc


def test_a_branch_carries_on_from_the_state_before_it(tour):
    player = Player(tour)
    poll = tour.polls[0]
    before = player.scene_at(poll.end_s, {"next": "1"})
    # The constellation lines switched on in the north section stay on in both branches.
    assert before.layers["constellation-lines"] == 1.0
    assert player.scene_at(poll.end_s + 1.0, {"next": "2"}).layers["constellation-lines"] == 1.0


# ----------------------------------------------------------------- audio cues


@pytest.mark.parametrize("results", [{"road": "1", "moonstep": "1"}, {"road": "2", "moonstep": None}])
def test_audio_cues_fire_exactly_once_across_consecutive_frames(film, results):
    player = Player(film)
    fps = 60.0
    fired: list[AudioCue] = []
    previous = None
    for frame in range(int(player.duration_s(results) * fps) + 1):
        t = frame / fps
        fired.extend(player.cues_between(previous, t, results))
        previous = t
    expected = [c for s in film.walk(results) for c in s.cues if isinstance(c, AudioCue)]
    assert fired == expected and len(fired) >= 10


def test_the_playhead_fires_each_audio_cue_once_across_holds_and_seeks(tour):
    player = Player(tour)
    _, fired = _play_through(player, {"next": "1"})
    expected = [c for s in tour.walk({"next": "1"}) for c in s.cues if isinstance(c, AudioCue)]
    assert fired == expected
    head = Playhead(player)
    head.seek(0.0, 0.0)
    assert [c.time_s for c in head.tick(0.0).cues] == [0.0]          # a seek fires the cues at its target
    assert head.tick(0.0).cues == ()


# ----------------------------------------------------------------- texts, overlays, clips


def test_texts_fade_and_fall_back_to_the_first_language(tmp_path):
    show = _show("""\
title "t"
languages fr en nl
start 2026-11-20T21:00:00Z
00:10   text for 10 fade 2 4 at 20 35 size 3 color ff8000
          fr "Bonjour"
          en "Hello"
00:12   text for 5
          fr "Saturne"
00:30   end
""")
    player = Player(show)
    smooth = EASINGS["smooth"].f
    assert player.scene_at(9.99).texts == ()
    assert player.scene_at(11.0).texts[0].opacity == pytest.approx(smooth(0.5))
    assert player.scene_at(17.0).texts[0].opacity == pytest.approx(smooth(0.75))
    scene = player.scene_at(14.0)
    hello, saturn = scene.texts
    assert hello.opacity == 1.0 and saturn.opacity == 1.0
    overlays = scene.overlays("nl")
    assert [o.content for o in overlays] == ["Bonjour", "Saturne"]      # no Dutch: French, the first
    assert [o.content for o in scene.overlays("en")] == ["Hello", "Saturne"]
    assert (overlays[0].dome_az_deg, overlays[0].dome_elev_deg, overlays[0].size_deg) == (20.0, 35.0, 3.0)
    assert overlays[0].rgb == (1.0, 128 / 255, 0.0)
    assert player.scene_at(20.0).texts == ()


def test_clip_frames_follow_floor_of_time_times_fps_clamped(tmp_path):
    from PIL import Image

    (tmp_path / "clip").mkdir()
    for k in range(5):
        Image.new("RGBA", (8, 8)).save(tmp_path / "clip" / f"f{k}.png")
    Image.new("RGBA", (8, 4)).save(tmp_path / "pic.png")
    show = _show("""\
title "t"
languages en
start 2026-11-20T21:00:00Z
00:10   clip clip fps 4 at 0 30 size 10 for 3 fade 0
00:10   clip clip fps 4 fulldome fade 0
00:11   image pic.png for 2 fade 0
00:30   end
""", tmp_path)
    player = Player(show)
    for t, frame in [(10.0, 0), (10.24, 0), (10.25, 1), (10.99, 3), (11.0, 4), (12.9, 4)]:
        placed = player.scene_at(t).clips[0]
        assert (placed.frame, placed.frame_count) == (frame, 5)
        assert placed.frame_path == str((tmp_path / "clip" / f"f{frame}.png").resolve())
    scene = player.scene_at(11.2)
    assert scene.fulldome.frame == 4 and scene.fulldome.fulldome
    kinds = [(o.kind, Path(o.content).name) for o in scene.overlays("en")]
    # The full-dome frame first (behind everything), then images, then placed clip frames.
    assert kinds == [("fulldome", "f4.png"), ("image", "pic.png"), ("image", "f4.png")]
    assert player.scene_at(12.0).fulldome is None                          # 5 frames at 4 fps: 1.25 s


def test_every_scene_of_both_shows_fits_in_a_frame_state(tour, film):
    """What the master will send: overlays (texts, polls) and layers encode within the frame limits."""
    for show in (tour, film):
        player = Player(show)
        for _, results in show.paths():
            for t in np.arange(0.0, player.duration_s(results), 7.0):
                scene = player.scene_at(float(t), results)
                lat, lon, elev = scene.site
                for language in show.languages:
                    state = FrameState(frame=0, deadline_ns=0, show_time_s=scene.show_time_s, tt_jd=2461000.5,
                                       latitude_deg=lat, longitude_deg=lon, elevation_m=elev,
                                       view_az_deg=scene.view_az_deg, view_alt_deg=scene.view_alt_deg,
                                       zoom=scene.zoom, layers=scene.frame_layers(), language=language,
                                       pointer=scene.pointer, overlays=scene.overlays(language))
                    assert decode_frame(encode_frame(state)).overlays == state.overlays


# ----------------------------------------------------------------- subtitles


SUBTITLED = """\
title "t"
languages fr en
start 2026-11-20T21:00:00Z
00:01.5  text for 2.25
           fr "Bonjour"
           en "Hello"
01:02:03.004 text for 1
           fr "Deux\\nlignes"
01:02:10 end
"""


def test_subtitles_list_the_path_texts_in_one_language():
    show = _show(SUBTITLED)
    assert subtitles(show, {}, "en") == [(1.5, 3.75, "Hello"), (3723.004, 3724.004, "Deux\nlignes")]
    assert subtitles(show) == [(1.5, 3.75, "Bonjour"), (3723.004, 3724.004, "Deux\nlignes")]


def test_srt_and_webvtt_files(tmp_path):
    entries = subtitles(_show(SUBTITLED), {}, "en")
    assert format_srt(entries) == ("1\n00:00:01,500 --> 00:00:03,750\nHello\n\n"
                                   "2\n01:02:03,004 --> 01:02:04,004\nDeux\nlignes\n")
    assert format_webvtt(entries) == ("WEBVTT\n\n00:00:01.500 --> 00:00:03.750\nHello\n\n"
                                      "01:02:03.004 --> 01:02:04.004\nDeux\nlignes\n")
    srt = write_subtitles(tmp_path / "film.en.srt", entries)
    vtt = write_subtitles(tmp_path / "film.en.vtt", entries)
    assert srt.read_text(encoding="utf-8") == format_srt(entries)
    assert vtt.read_text(encoding="utf-8").startswith("WEBVTT\n\n00:00:01.500")
    with pytest.raises(ValueError, match=r"\.srt or \.vtt"):
        write_subtitles(tmp_path / "film.txt", entries)


def test_the_film_has_subtitles_in_every_language_on_every_path(film):
    for _, results in film.paths():
        for language in film.languages:
            entries = subtitles(film, results, language)
            assert len(entries) >= 60
            assert all(0.0 <= a < b <= 35 * 60 for a, b, _ in entries)
