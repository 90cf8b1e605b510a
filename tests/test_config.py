"""Hall config: every shipped hall loads, round-trips, and bad values are named precisely."""

import shutil
from pathlib import Path

import pytest

from domectl.config import REFERENCE_HALL, dump_hall, load_hall
from domectl.errors import ConfigError

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "config"
HALLS = sorted(p for p in CONFIG_ROOT.iterdir() if p.is_dir())


def test_every_config_file_belongs_to_a_hall_that_loads():
    files = sorted(CONFIG_ROOT.rglob("*.toml"))
    assert files, "config/ holds no TOML files"
    for hall_dir in {f.parent for f in files}:
        load_hall(hall_dir)


@pytest.mark.parametrize("hall_dir", HALLS, ids=lambda p: p.name)
def test_hall_round_trips(hall_dir, tmp_path):
    hall = load_hall(hall_dir)
    assert load_hall(dump_hall(hall, tmp_path / "copy")) == hall


def test_reference_hall_is_la_coupole():
    hall = load_hall()
    assert hall.root == REFERENCE_HALL
    assert hall.site.latitude_deg == pytest.approx(50.707, abs=0.01)
    assert hall.site.longitude_deg == pytest.approx(2.240, abs=0.01)
    assert hall.dome.radius_m == 7.5
    assert len(hall.projectors) == 12
    assert all(p.resolution == (4096, 2160) for p in hall.projectors)
    assert len(hall.igs) == 24
    assert {(g.projector, g.eye) for g in hall.igs} == {
        (p.id, eye) for p in hall.projectors for eye in ("left", "right")}
    assert hall.seats.total == 134
    assert set(hall.languages) == {"fr", "en", "nl", "de"}
    assert len(hall.landscape_alt_deg) == 72 and all(0 < alt < 10 for alt in hall.landscape_alt_deg)


def test_a_hall_without_a_landscape_has_a_flat_horizon(hall_copy):
    text = (hall_copy / "hall.toml").read_text()
    (hall_copy / "hall.toml").write_text(text[:text.index("[landscape]")])
    assert load_hall(hall_copy).landscape_alt_deg == ()


@pytest.fixture
def hall_copy(tmp_path):
    dst = tmp_path / "hall"
    shutil.copytree(REFERENCE_HALL, dst)
    return dst


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count))


@pytest.mark.parametrize("file, old, new, message", [
    ("projectors.toml", "throw_ratio = ", "throw_ratio = 0 #",
     "projectors.toml: projector[0].lens.throw_ratio = 0: must be in (0, 20]"),
    ("hall.toml", "latitude_deg = 50.707", "latitude_deg = 95.0",
     "hall.toml: site.latitude_deg = 95.0: must be in [-90, 90]"),
    ("hall.toml", "radius_m = 7.5", 'radius_m = "big"',
     "hall.toml: dome.radius_m = 'big': must be a number in (0, 100]"),
    ("hall.toml", "tilt_deg = 0.0", "tilt_deg = 45.0",
     "hall.toml: dome.tilt_deg = 45.0: must be in [0, 30]"),
    ("hall.toml", 'default_language = "fr"', 'default_language = "es"',
     "hall.toml: hall.default_language = 'es': must be one of fr, en, nl, de"),
    ("cluster.toml", 'projector = "p01"', 'projector = "p99"',
     "cluster.toml: ig[0].projector = 'p99': must be one of p01,"),
    ("cluster.toml", 'eye = "left"', 'eye = "middle"',
     "cluster.toml: ig[0].eye = 'middle': must be one of left, right, mono"),
    ("cluster.toml", "control_port = 5561", "control_port = 5560",
     "cluster.toml: master: ports"),
    ("cluster.toml", "frame_port = 5560", "frame_port = 70000",
     "cluster.toml: master.frame_port = 70000: must be in [1, 65535]"),
    ("cluster.toml", '"10.20.0.0/16"', '"10.20.0.0/99"',
     "cluster.toml: osc.allowed_networks = '10.20.0.0/99': each must be a network"),
    ("seats.toml", "count = 13", "count = 0",
     "seats.toml: seats.row[0].count = 0: must be in [1, 200]"),
    ("hall.toml", "position_m = [0.0, 0.0, 0.0]", "position_m = [0.0, 0.0, 9.0]",
     "hall.toml: eye.position_m = [0.0, 0.0, 9.0]: must lie inside the dome"),
    ("hall.toml", "[render]", "[render_typo]", "hall.toml: [render] is missing"),
    ("cluster.toml", "id = 2\n", "id = 1\n",
     "cluster.toml: ig[1].id = 1: duplicate"),
    ("hall.toml", "horizon_alt_deg = [", "horizon_alt_deg = [95.0, ",
     "hall.toml: landscape.horizon_alt_deg[0] = 95.0 (azimuth 0 deg): must be a list of 2 to 3600 altitudes"),
    ("hall.toml", "horizon_alt_deg = [", 'horizon_alt_deg = "hills"\nunused = [',
     "hall.toml: landscape.horizon_alt_deg = 'hills': must be a list"),
])
def test_bad_values_are_named_by_file_and_key(hall_copy, file, old, new, message):
    _edit(hall_copy / file, old, new)
    with pytest.raises(ConfigError) as err:
        load_hall(hall_copy)
    assert message in str(err.value)


def test_projector_outside_the_dome_is_refused(hall_copy):
    text = (hall_copy / "projectors.toml").read_text()
    start = text.index("position_m = [")
    end = text.index("]", start)
    (hall_copy / "projectors.toml").write_text(text[:start] + "position_m = [0.0, 0.0, 8.0" + text[end:])
    with pytest.raises(ConfigError, match=r"projectors.toml: projector\[0\].position_m = \[0.0, 0.0, 8.0\]: "
                                          r"must lie inside the dome"):
        load_hall(hall_copy)


def test_broken_toml_and_missing_files_say_which_file(hall_copy):
    (hall_copy / "seats.toml").write_text("[seats\n")
    with pytest.raises(ConfigError, match="seats.toml: not valid TOML"):
        load_hall(hall_copy)
    (hall_copy / "seats.toml").unlink()
    with pytest.raises(ConfigError, match="seats.toml: missing: a hall directory needs"):
        load_hall(hall_copy)


def test_unknown_ig_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"no \[\[ig\]\] with id = 99: this hall has IGs 1..24"):
        load_hall().ig(99)
