"""The show format drives the space voyage (issue 11): fly/orbit/home/park, stereo and 3D models
parse (or fail with line, column, message and hint), the player turns them into scene fields that
are a pure function of (show, t, poll results), and the committed session opener flies on time."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from domectl import meshes
from domectl.config import load_hall
from domectl.ephemeris import CachedEphemeris, Ephemeris
from domectl.layermix import LAYER_NAMES
from domectl.placement import model_rotation
from domectl.showvoyage import ShowVoyage
from domectl.voyage import RADIUS_M, Flight, Orbiting
from shows.format import (
    LayerCue,
    ModelCue,
    ShowError,
    StereoCue,
    TextCue,
    VoyageCue,
    load_show,
    parse_show,
)
from shows.player import Player

ROOT = Path(__file__).resolve().parent.parent
VOYAGE_SHOW = ROOT / "shows" / "space-voyage.show"
#: As tests/test_show_format.py: a dome text line reads at a glance up to about 40 characters.
MAX_LINE_CHARS = 40
#: A flight must land at least this long before the next voyage cue: the engine's timing moves a
#: little with the sim time and the hall's tilt, and a text waits for the arrival.
LANDING_MARGIN_S = 1.0
MM = 1e-3
#: A tetrahedron 14 units tall: stands in for a committed model while domectl/data/models is not
#: built (python -m domectl.skydata.build_voyage); the parser only needs the names.
STUB_OBJ = "v 0.5 0 0\nv -0.5 0.5 0\nv -0.5 -0.5 0\nv 0 0 14\nf 1 3 2\nf 1 2 4\nf 2 3 4\nf 3 1 4\n"

HEADER = """\
title "Voyage test"
languages fr en
start 2026-11-20T21:00:00Z
site wizernes
view 190 30
"""

#: Every new command once; line numbers below count from its first line.
VOYAGE = HEADER + """
00:00   model v2 at -25 0 distance 25 for 20 fade 4 2
00:02   model spacecraft at 90 30 distance 40 scale 2 heading 90 pitch 20 in sky for 10
00:05   stereo auto
00:06   view 200 25 over 4
00:10   fly to earth distance 6800 km
00:40   fly to lune
01:10   orbit
01:20   orbit maan
01:30   stereo 10 cm
01:31   fly to Mond distance 2.5 radii
01:40   stereo natural
01:50   park
02:00   fly to saturne distance 200000000 m
02:30   stereo 2 km
02:40   home
03:40   end
"""

#: A poll whose branches fly to different places, then home together.
BRANCHED = HEADER + """
00:00   fly to moon
00:40   poll next for 10
          fr "Où ?"
          en "Where?"
          option 1 fr "Mars"
          option 2 fr "Vénus" en "Venus"
          branch 1 -> mars
          branch 2 -> venus
          default -> venus
00:50   label mars
+0      fly to mars
+0      view 100 20 over 5
01:50   goto back
00:50   label venus
+0      fly to venus
01:50   label back
+0      home
03:00   end
"""


@pytest.fixture(autouse=True)
def models(tmp_path_factory, monkeypatch):
    """The committed models, or stand-ins with their names while they are not built."""
    if not {"v2", "spacecraft"} <= set(meshes.available_models()):
        folder = tmp_path_factory.mktemp("models")
        for name in ("v2", "spacecraft"):
            (folder / f"{name}.obj").write_text(STUB_OBJ)
        monkeypatch.setattr(meshes, "MODELS_DIR", folder)
    meshes.load_model.cache_clear()
    yield
    meshes.load_model.cache_clear()


@pytest.fixture(scope="module")
def ephemeris():
    eph = Ephemeris()
    yield CachedEphemeris(eph)
    eph.close()


def _issues(text: str):
    with pytest.raises(ShowError) as caught:
        parse_show(text, "t.show")
    return caught.value.issues


def _replace_line(text: str, line_no: int, new: str) -> str:
    lines = text.splitlines()
    lines[line_no - 1] = new
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------- parsing


def test_every_new_command_parses():
    show = parse_show(VOYAGE, "t.show")
    voyage = [(c.time_s, c.command, c.target, c.distance_m, c.radii) for c in show.cues if isinstance(c, VoyageCue)]
    assert voyage == [
        (10.0, "fly", "Earth", 6_800_000.0, None),
        (40.0, "fly", "Moon", None, None),                  # lune: French
        (70.0, "orbit", "", None, None),
        (80.0, "orbit", "Moon", None, None),                # maan: Dutch
        (91.0, "fly", "Moon", None, 2.5),                   # Mond: German, any case
        (110.0, "park", "", None, None),
        (120.0, "fly", "Saturn", 200_000_000.0, None),
        (160.0, "home", "", None, None),
    ]
    stereo = [(c.time_s, c.eye_separation_m) for c in show.cues if isinstance(c, StereoCue)]
    assert stereo == [(5.0, math.inf), (90.0, pytest.approx(0.1)), (100.0, None), (150.0, 2000.0)]
    v2, craft = [c for c in show.cues if isinstance(c, ModelCue)]
    assert (v2.name, v2.az_deg, v2.elev_deg, v2.distance_m, v2.on_dome, v2.scale, v2.heading_deg, v2.pitch_deg,
            v2.duration_s, v2.fade_in_s, v2.fade_out_s) == ("v2", 335.0, 0.0, 25.0, True, 1.0, 0.0, 0.0, 20.0, 4.0, 2.0)
    assert (craft.name, craft.az_deg, craft.elev_deg, craft.distance_m, craft.on_dome, craft.scale,
            craft.heading_deg, craft.pitch_deg, craft.end_s) == ("spacecraft", 90.0, 30.0, 40.0, False, 2.0,
                                                                 90.0, 20.0, 12.0)


@pytest.mark.parametrize("line, expected", [
    ("00:01   stereo 64 mm", 0.064),
    ("00:01   stereo 6.5 cm", 0.065),
    ("00:01   stereo 1 m", 1.0),
    ("00:01   stereo 1000 km", 1.0e6),
])
def test_stereo_distances_in_every_unit(line, expected):
    show = parse_show(HEADER + f"\n{line}\n00:02   end\n", "t.show")
    assert show.cues[0].eye_separation_m == pytest.approx(expected)


def test_model_defaults_fade_like_an_image():
    show = parse_show(HEADER + "\n00:00   model v2 at 10 5 distance 30 for 1.5\n00:05   end\n", "t.show")
    model = show.cues[0]
    assert (model.on_dome, model.scale, model.heading_deg, model.pitch_deg) == (True, 1.0, 0.0, 0.0)
    assert model.fade_in_s == model.fade_out_s == 0.75          # min(1 s, half the time shown), as images


#: Line 7 of VOYAGE (00:00 model ...) replaced by a broken line: (new line, the word the error points at
#: (its last occurrence; END: the end of the line), message, hint).
BROKEN = [
    # bodies
    ("00:10   fly to sun", "sun", "cannot fly to the Sun", "the voyage goes to the Moon and the planets"),
    ("00:10   fly to Soleil", "Soleil", "cannot fly to the Sun", "the voyage goes to the Moon and the planets"),
    ("00:10   fly to mras", "mras", "unknown body 'mras'", "did you mean 'mars'?"),
    ("00:10   fly to andromeda", "andromeda", "unknown body 'andromeda'", "choose one of moon, mercury, venus"),
    ("00:10   fly moon", "moon", "expected 'to', got 'moon'", "write: fly to BODY"),
    ("00:10   fly to", "END", "missing a body", "the Moon or a planet"),
    ("00:10   orbit zon", "zon", "cannot orbit the Sun", ""),
    ("00:10   orbit plutoo", "plutoo", "unknown body 'plutoo'", "did you mean 'pluto'?"),
    # distances
    ("00:10   fly to moon distance 1000 km", "1000", "1000 km from the centre is inside moon (radius 1737.4 km)",
     "more than 1737.4 km"),
    ("00:10   fly to moon distance -3 km", "-3", "distance -3 is out of range", "a distance > 0"),
    ("00:10   fly to moon distance 0 radii", "0", "distance 0 is out of range", "a distance > 0"),
    ("00:10   fly to moon distance 1 radii", "1", "1 radii is not above moon's surface", "more than 1 radius"),
    ("00:10   fly to moon distance 3 au", "au", "unknown distance unit 'au'", "units: km, m, radii"),
    ("00:10   fly to moon distance 3 kms", "kms", "unknown distance unit 'kms'", "did you mean 'km'?"),
    ("00:10   fly to moon distance 3", "END", "missing a unit", "km, m or radii"),
    ("00:10   fly to moon distance far km", "far", "distance 'far' is not a number", ""),
    ("00:10   fly to moon at 3 km", "at", "unexpected 'at' after 'fly to moon'", "distance D km|m|radii"),
    ("00:10   fly to moon distance 3 radii now", "now", "unexpected 'now' after 'fly'", ""),
    ("00:10   home now", "now", "unexpected 'now' after 'home'", ""),
    ("00:10   park here", "here", "unexpected 'here' after 'park'", ""),
    # stereo
    ("00:10   stereo", "END", "missing eye separation", "natural (the hall's), auto"),
    ("00:10   stereo natrual", "natrual", "unknown eye separation 'natrual'", "did you mean 'natural'?"),
    ("00:10   stereo 0 cm", "0", "eye separation 0 is out of range", "natural (the hall's)"),
    ("00:10   stereo -6 cm", "-6", "eye separation -6 is out of range", ""),
    ("00:10   stereo 6", "END", "missing a unit", "mm, cm, m or km"),
    ("00:10   stereo 6 in", "in", "unknown unit 'in'", "units: mm, cm, m, km"),
    ("00:10   stereo auto 6 cm", "6", "unexpected '6' after 'stereo'", ""),
    # models
    ("00:00   model v3 at 0 0 distance 25 for 20", "v3", "unknown model 'v3'", "models: spacecraft, v2"),
    ("00:00   model spacecraf at 0 0 distance 25 for 20", "spacecraf", "unknown model 'spacecraf'",
     "did you mean 'spacecraft'?"),
    ("00:00   model v2 at 0 -5 distance 25 for 20", "-5", "dome elevation -5 is below the springline", "in sky"),
    ("00:00   model v2 at 0 95 distance 25 for 20", "95", "elevation (deg) 95 is out of range", "[-90, 90]"),
    ("00:00   model v2 at 0 5 for 20", "END", "missing 'distance'", "e.g. 'distance 25'"),
    ("00:00   model v2 distance 25 for 20", "END", "missing 'at'", "e.g. 'at 0 10'"),
    ("00:00   model v2 at 0 5 distance 25", "END", "missing 'for SECONDS'", "e.g. 'for 8'"),
    ("00:00   model v2 at 0 5 distance -1 for 20", "-1", "distance (m) -1 is out of range", "> 0"),
    ("00:00   model v2 at 0 5 distance 9 scale 0 for 20", "0", "scale 0 is out of range", "metres per model unit"),
    ("00:00   model v2 at 0 5 distance 9 pitch 200 for 20", "200", "pitch (deg) 200 is out of range", "[-180, 180]"),
    ("00:00   model v2 at 0 5 distance 9 on dome in sky for 20", "END", "a model is either 'on dome' or 'in sky'", ""),
    ("00:00   model v2 at 0 5 distance 9 in dome for 20", "dome", "expected 'sky', got 'dome'", "'on dome' or 'in sky'"),
    ("00:00   model v2 at 0 5 distance 9 size 3 for 20", "size", "unexpected 'size' in 'model'", "'model' takes"),
    ("00:00   model v2 at 0 5 distance 9 for 20 fade 15 10", "END", "fades of 15 + 10 s are longer", ""),
]


@pytest.mark.parametrize("new, word, message, hint", BROKEN, ids=[b[0][8:] for b in BROKEN])
def test_a_broken_voyage_line_names_line_column_and_a_hint(new, word, message, hint):
    column = len(new) + 1 if word == "END" else (new + " ").rindex(f" {word} ") + 2
    issues = _issues(_replace_line(VOYAGE, 7, new))
    assert [(i.line, i.column) for i in issues] == [(7, column)], issues
    assert issues[0].message.startswith(message), issues[0]
    assert hint in issues[0].hint, issues[0]


def test_every_error_is_collected_and_nothing_is_loaded():
    text = VOYAGE
    for line_no, new in ((7, "00:00   model v3 at 0 0 distance 25 for 20"), (9, "00:05   stereo 3"),
                         (11, "00:10   fly to sun"), (12, "00:40   fly to lune distance 10 km")):
        text = _replace_line(text, line_no, new)
    issues = _issues(text)
    assert [i.line for i in issues] == [7, 9, 11, 12]
    assert str(ShowError(issues)).startswith("t.show: 4 errors:")


def test_an_orbit_needs_a_flight_before_it_on_every_path():
    issues = _issues(HEADER + "\n00:00   orbit moon\n00:10   fly to moon\n01:00   end\n")
    assert [(i.line, i.column) for i in issues] == [(7, 1)]
    assert issues[0].message.startswith("'orbit' with the observer still on the ground")
    assert "fly to a body first" in issues[0].hint
    # One branch flies, the other does not: the orbit after them is refused, naming the paths.
    branched = BRANCHED.replace("00:00   fly to moon\n", "").replace("+0      fly to venus\n", "") \
        .replace("01:50   label back\n+0      home\n", "01:50   label back\n+0      orbit\n")
    issues = _issues(branched)
    assert len(issues) == 1 and issues[0].message.endswith("on some path through the polls")


# ----------------------------------------------------------------- the scene


def test_voyage_entries_carry_the_sim_time_site_and_view_at_their_cue():
    show = parse_show(VOYAGE, "t.show")
    player = Player(show)
    cues = [c for c in show.cues if isinstance(c, VoyageCue)]
    entries = player.scene_at(show.duration_s()).voyage
    assert [(e.time_s, e.command, e.target, e.distance_m, e.radii, e.line) for e in entries] == \
        [(c.time_s, c.command, c.target, c.distance_m, c.radii, c.line) for c in cues]
    for entry in entries:
        at_cue = player.scene_at(entry.time_s)
        assert entry.utc == at_cue.utc
        assert entry.site == at_cue.site
        assert (entry.view_az_deg, entry.view_alt_deg) == (at_cue.view_az_deg, at_cue.view_alt_deg)
        assert at_cue.voyage[-1] == entry                     # a cue is in the scene from its own time
    assert entries[0].view_az_deg == 200.0 and entries[0].view_alt_deg == 25.0     # after the view move
    assert entries[0].site == pytest.approx((50.707, 2.24, 80.0), abs=0.01)
    assert (entries[1].utc - entries[0].utc).total_seconds() == pytest.approx(30.0)
    # Only the cues at or before t, in order.
    assert player.scene_at(9.99).voyage == ()
    assert [e.command for e in player.scene_at(75.0).voyage] == ["fly", "fly", "orbit"]


def test_voyage_entries_follow_the_path_the_poll_takes():
    player = Player(parse_show(BRANCHED, "t.show"))
    to_mars = player.scene_at(120.0, {"next": "1"}).voyage
    to_venus = player.scene_at(120.0, {"next": "2"}).voyage
    assert [e.target for e in to_mars] == ["Moon", "Mars", ""]
    assert [e.target for e in to_venus] == ["Moon", "Venus", ""]
    assert to_mars[0] == to_venus[0]                          # the shared stretch is the same cue
    assert to_mars[2].view_az_deg == 100.0 and to_venus[2].view_az_deg == 190.0
    assert player.scene_at(120.0).voyage == to_venus          # nobody voted: the default


def test_stereo_is_a_step_from_each_cue():
    player = Player(parse_show(VOYAGE, "t.show"))
    assert [player.scene_at(t).eye_separation_m for t in (0.0, 4.99, 5.0, 89.0)] == [None, None, math.inf, math.inf]
    assert player.scene_at(90.0).eye_separation_m == pytest.approx(0.1)
    assert player.scene_at(95.0).eye_separation_m == pytest.approx(0.1)        # no easing
    assert player.scene_at(100.0).eye_separation_m is None                      # natural: the hall's again
    assert player.scene_at(200.0).eye_separation_m == 2000.0


def test_models_fade_in_and_out_like_images():
    player = Player(parse_show(VOYAGE, "t.show"))          # v2 from 0 s for 20 s, fades 4 and 2
    opacity = {t: [m.opacity for m in player.scene_at(t).models if m.name == "v2"] for t in (0.0, 2.0, 4.0, 10.0,
                                                                                             19.0, 20.0)}
    assert opacity[0.0] == []                                # invisible at its start: not in the scene
    assert opacity[2.0] == [pytest.approx(0.5)]              # half-way through a smooth fade
    assert opacity[4.0] == opacity[10.0] == [1.0]
    assert opacity[19.0] == [pytest.approx(0.5)]
    assert opacity[20.0] == []
    image_like = Player(parse_show(HEADER + """
00:00   image media/la-coupole.png at 0 20 for 20 fade 4 2
00:00   model v2 at 0 20 distance 9 for 20 fade 4 2
00:30   end
""", "t.show", ROOT / "shows"))
    for t in (1.0, 3.0, 18.5, 19.5):
        scene = image_like.scene_at(t)
        assert scene.models[0].opacity == scene.images[0].opacity


def test_models_land_where_the_dome_frame_says():
    show = parse_show(HEADER + """
00:00   model v2 at 90 0 distance 10 for 10
00:00   model v2 at 0 90 distance 8 for 10
00:00   model v2 at -25 0 distance 25 for 10
00:00   model spacecraft at 30 45 distance 40 scale 0.5 heading 90 pitch 20 in sky for 10
00:20   end
""", "t.show")
    right, zenith, v2, craft = Player(show).scene_at(5.0).models
    assert right.on_dome and right.position_m == pytest.approx((10.0, 0.0, 0.0), abs=1e-12)   # az 90: right (+x)
    assert zenith.position_m == pytest.approx((0.0, 0.0, 8.0), abs=1e-12)
    a = math.radians(-25.0)
    assert v2.position_m == pytest.approx((25.0 * math.sin(a), 25.0 * math.cos(a), 0.0))      # front left
    assert v2.frame_from_model == pytest.approx(tuple(np.eye(3).ravel()))                      # upright
    assert v2.scale == 1.0 and v2.opacity == 1.0
    c = math.cos(math.radians(45.0))
    assert not craft.on_dome
    assert craft.position_m == pytest.approx((40 * c * math.sin(math.radians(30)), 40 * c * math.cos(math.radians(30)),
                                              40 * c))                    # ENU: from north through east
    rotation = np.array(craft.frame_from_model).reshape(3, 3)
    assert rotation == pytest.approx(model_rotation(90.0, 20.0))
    assert rotation @ rotation.T == pytest.approx(np.eye(3), abs=1e-12) and np.linalg.det(rotation) == pytest.approx(1)
    front = model_rotation(90.0, 0.0) @ np.array([0.0, 1.0, 0.0])
    assert front == pytest.approx((1.0, 0.0, 0.0), abs=1e-12)            # heading 90: front to azimuth 90
    assert craft.scale == 0.5


def test_seeking_is_exact():
    show = parse_show(BRANCHED.replace("00:00   fly to moon\n", """00:00   fly to moon
00:01   stereo auto
00:02   model v2 at 0 10 distance 20 for 60 fade 5
"""), "t.show")
    times = (0.0, 1.5, 3.0, 30.0, 49.9, 50.0, 61.0, 77.7, 110.0, 180.0)
    for results in ({"next": "1"}, {"next": "2"}, {}):
        forward = Player(show)
        scenes = [forward.scene_at(t, results) for t in times]
        backward = Player(show)
        for t in reversed(times):
            backward.scene_at(t, {"next": "1"} if results.get("next") == "2" else {"next": "2"})
        assert [backward.scene_at(t, results) for t in reversed(times)] == scenes[::-1]
        again = Player(show)
        for t, scene in zip(times, scenes, strict=True):
            assert again.scene_at(t, results) == scene


# ----------------------------------------------------------------- the committed show


def test_the_space_voyage_show_has_its_shape():
    show = load_show(VOYAGE_SHOW)
    assert show.languages == ("fr", "en", "nl", "de")
    assert show.initial.site.place == "wizernes"
    assert show.start_utc.isoformat() == "2026-11-20T21:00:00+00:00"
    assert 4 * 60 <= show.durations_s()[0] == show.durations_s()[1] <= 6 * 60          # "about 4-5 minutes"
    cues = show.cues
    v2 = next(c for c in cues if isinstance(c, ModelCue))
    assert v2.name == "v2" and v2.on_dome and v2.elev_deg == 0.0
    assert math.degrees(math.atan2(14.0, v2.distance_m)) < 35.0           # its 14 m fit in the lower dome
    first_fly = next(c for c in cues if isinstance(c, VoyageCue) and c.command == "fly")
    assert v2.end_s <= first_fly.time_s                                 # it stays on the ground
    assert any(isinstance(c, StereoCue) and c.eye_separation_m == math.inf and c.time_s < first_fly.time_s
               for c in cues)
    assert "orbits" in LAYER_NAMES
    assert any(isinstance(c, LayerCue) and "orbits" in c.names and c.opacity == 1.0 for c in cues)
    for sections, _ in show.paths():
        commands = [c.command for s in sections for c in s.cues if isinstance(c, VoyageCue)]
        assert commands[0] == "fly" and commands[-1] == "home" and "orbit" in commands
    for cue in cues:
        if isinstance(cue, TextCue):
            assert {lang for lang, _ in cue.variants} == {"fr", "en", "nl", "de"}
            for _, text in cue.variants:
                assert max(len(line) for line in text.split("\n")) <= MAX_LINE_CHARS, text


def _fly(ephemeris, entries, tilt_deg: float):
    """Replay a scene's voyage entries as the master does: [(entry, the motion it started)]."""
    replay = ShowVoyage(ephemeris, tilt_deg)
    out = []
    for entry in entries:
        replay._apply(entry)
        out.append((entry, replay.voyage.motion))
    return out


@pytest.mark.parametrize("path", sorted((ROOT / "shows").glob("*.show")), ids=lambda p: p.name)
def test_every_flight_lands_before_the_next_voyage_cue(path, ephemeris):
    show = load_show(path)
    player = Player(show)
    tilt_deg = load_hall().dome.tilt_deg
    for _, results in show.paths():
        end_s = player.duration_s(results)
        flown = _fly(ephemeris, player.scene_at(end_s, results).voyage, tilt_deg)
        for k, (entry, motion) in enumerate(flown):
            if entry.command in ("fly", "home"):
                assert isinstance(motion, Flight), (path.name, entry)
                next_s = flown[k + 1][0].time_s if k + 1 < len(flown) else end_s
                assert motion.end_s + LANDING_MARGIN_S <= next_s, (path.name, results, entry.line, motion.end_s)
            elif entry.command == "orbit":
                assert isinstance(motion, Orbiting), (path.name, entry)


def test_the_space_voyage_reaches_every_target_at_its_distance(ephemeris):
    from domectl.voyage import Sky

    show = load_show(VOYAGE_SHOW)
    player = Player(show)
    tilt_deg = load_hall().dome.tilt_deg
    for choice, planet in (("1", "Mars"), ("2", "Jupiter"), ("3", "Saturn"), (None, "Saturn")):
        results = {"next": choice}
        flights = [(e, m) for e, m in _fly(ephemeris, player.scene_at(1e9, results).voyage, tilt_deg)
                   if e.command == "fly"]
        assert [e.target for e, _ in flights] == ["Earth", "Moon", planet, "Earth"]
        for entry, flight in flights:
            arrival = player.scene_at(flight.end_s, results)
            sky = Sky(ephemeris, ephemeris.sample(arrival.utc, *arrival.site).tt_jd)
            distance_m = float(np.linalg.norm(flight.position(flight.end_s, sky) - sky.pos(entry.target)))
            expected_m = entry.distance_m if entry.distance_m is not None else 3.0 * RADIUS_M[entry.target]
            assert distance_m == pytest.approx(expected_m, rel=1e-6)


def test_the_readme_voyage_examples_validate():
    readme = (ROOT / "shows" / "README.md").read_text(encoding="utf-8")
    for heading in ("The space voyage", "3D models"):
        block = re.search(rf"### {heading}\n\n```\n(.*?)```", readme, re.DOTALL).group(1)
        if "orbit" in block and "fly to" not in block:
            block = "00:00      fly to moon\n" + block
        show = parse_show(HEADER + "\n" + block + "10:00      end\n", "README.md")
        assert any(isinstance(c, (VoyageCue, ModelCue)) for c in show.cues)


def test_the_master_draws_the_shows_models_stereo_and_voyage(tmp_path, ephemeris):
    from domectl.master import Master, Scene
    from fakes import T0, NullLink

    hall = load_hall()
    master = Master(hall, NullLink(), ephemeris, Scene(start_utc=T0, language="en"), igs=(), fps=10.0)
    player = Player(load_show(VOYAGE_SHOW))
    on_ground = master.show_frame_state(player.scene_at(40.0))
    assert [m.name for m in on_ground.models] == ["v2"]
    assert on_ground.latitude_deg == pytest.approx(50.7, abs=0.1)
    in_orbit = master.show_frame_state(player.scene_at(80.0))
    assert in_orbit.models == ()
    assert in_orbit.enu_from_icrs != on_ground.enu_from_icrs          # the ship's frame, not the site's
    assert 0.0 < in_orbit.eye_separation_m < math.inf                  # auto: narrowed to the comfort limit
    home = player.scene_at(player.duration_s() - 1.0)                 # landed, stereo natural
    landed = master.show_frame_state(home)
    assert landed.eye_separation_m == pytest.approx(hall.stereo.eye_separation_m, abs=1 * MM)
    site_frame = np.asarray(ephemeris.sample(home.utc, *home.site).enu_from_icrs, np.float64)
    assert landed.enu_from_icrs == pytest.approx(tuple(site_frame.ravel()), abs=1e-9)     # the site's own sky
