"""The calibration store (calibration/store.py, calibration/cli_store.py): versions, crashes, MPCDI."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from calibration.cli_store import main as cli
from calibration.model import Blend, CalibrationSet, Colour, ControlGrid, Fit
from calibration.store import (
    CALIBRATION_FILE,
    EXPORT_CALIBRATION_MEMBER,
    IMPORTED_FILE,
    SAVE_STEPS,
    UNCOMMITTED_DIR,
    CalibrationStore,
    CorruptVersionError,
    StoreError,
    default_store_root,
    diff_sets,
)
from domectl.config import load_hall
from warp.formats.mpcdi import decode_mpcdi, encode_mpcdi, read_mpcdi

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "mpcdi"
# Small maps keep an export of 12 projectors well under a second (the defaults take ~5 s).
SMALL_PX = 32
# The step at which a save commits (CURRENT replaced).
COMMIT_STEP = SAVE_STEPS.index("current")


@pytest.fixture(scope="module")
def hall():
    return load_hall(None)


@pytest.fixture
def store(tmp_path, hall) -> CalibrationStore:
    return CalibrationStore.open(tmp_path / "store", hall, author="test")


def edited(calibration: CalibrationSet, seed: int = 0) -> CalibrationSet:
    """A technician's manual edits on p03: control points (awkward floats), pose, blend, colour, fit."""
    rng = np.random.default_rng(seed)
    p = calibration.projector("p03")
    offsets = [list(row) for row in p.control.offsets_px]
    offsets[1][2] = (0.1 + 0.2, -1e-17)
    offsets[3][5] = tuple(float(x) for x in rng.normal(scale=4.0, size=2))
    control = ControlGrid(p.control.rows, p.control.cols, tuple(tuple(row) for row in offsets))
    model = dataclasses.replace(p.model, yaw_deg=p.model.yaw_deg + 0.25,
                                position_m=(p.model.position_m[0] + 0.004, *p.model.position_m[1:]))
    lut = tuple(tuple(float(x) for x in np.linspace(0.0, 1.0, 17) ** g) for g in (1.0, 1.1, 0.9))
    return calibration.replace_projector(dataclasses.replace(
        p, model=model, control=control, blend=Blend(0.2, 2.4, False),
        colour=Colour((1.0, 0.97, 1.0 / 3.0), lut), fit=Fit(0.31, 1.2, 480)))


def version_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("v"))


# ------------------------------------------------------------------ save, load, history


def test_new_store_starts_from_the_hall_config(store, hall, tmp_path):
    from calibration.model import from_hall

    assert [i.version for i in store.history()] == [1]
    info = store.info(1)
    assert (info.kind, info.note, info.parent, info.current) == ("init", "from the hall config", None, True)
    assert store.load() == from_hall(hall)
    assert (store.root / "CURRENT").read_text() == "v0001\n"
    # Opening again changes nothing.
    again = CalibrationStore.open(store.root, hall)
    assert [i.version for i in again.history()] == [1] and again.recovered == []


def test_a_missing_store_without_a_hall_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no calibration store here; give the hall"):
        CalibrationStore.open(tmp_path / "nothing")


def test_default_store_root_is_under_the_state_dir(hall, monkeypatch, tmp_path):
    monkeypatch.setenv("DOMECTL_STATE_DIR", str(tmp_path))
    assert default_store_root(hall) == tmp_path / "la-coupole-3d-planetarium" / "calibration"


def test_manual_edits_round_trip_through_save_and_load(store):
    base = store.load()
    mine = edited(base)
    v = store.save(mine, "p03 by hand", author="alice")
    assert v == 2
    assert store.load(2) == mine and store.load() == mine
    again = CalibrationStore(store.root).load("v0002")
    assert again.projector("p03").control.offsets_px[1][2] == (0.1 + 0.2, -1e-17)
    info = store.info(2)
    assert (info.parent, info.author, info.note, info.kind) == (1, "alice", "p03 by hand", "save")
    assert store.load(1) == base  # versions are immutable


def test_save_refuses_another_halls_calibration(store):
    other = CalibrationSet("Another hall", store.load().projectors)
    with pytest.raises(StoreError, match="this store holds hall 'La Coupole - 3D planetarium'; the calibration is for "
                                         "'Another hall': use that hall's store"):
        store.save(other)


def test_history_diff_and_rollback(store):
    base = store.load()
    store.save(edited(base), "edit")
    changes = [str(c) for c in store.diff(1, 2)]
    assert "p03: position_m: (6.894, 1.216, -0.3) -> (6.898, 1.216, -0.3): moved 4 mm" in changes
    assert "p03: yaw_deg: 260 -> 260.25 (+0.25 deg)" in changes
    control = [c for c in changes if c.startswith("p03: control:")]
    assert len(control) == 1 and control[0].startswith("p03: control: 2 point(s) moved, largest ")
    assert "[1][2] (0, 0) -> (0.3, -1e-17) (0.3 px)" in control[0]
    assert "p03: blend.width_frac: 1 -> 0.2 (-0.8)" in changes
    assert "p03: blend.black_uplift: True -> False" in changes
    assert any(c.startswith("p03: colour.gain_rgb: (1, 1, 1) -> (1, 0.97, 0.333333)") for c in changes)
    assert "p03: colour.lut: none -> 17 entries" in changes
    assert "p03: fit: none -> rms 0.31 px, max 1.2 px, 480 points" in changes
    assert all(c.startswith("p03: ") for c in changes)
    assert store.diff(2, 2) == []

    v = store.rollback(1, note="back to nominal", author="bob")
    assert v == 3
    assert store.load(3) == base
    old, new = (store.root / v / CALIBRATION_FILE for v in ("v0001", "v0003"))
    assert new.read_bytes() == old.read_bytes()
    info = store.info(3)
    assert (info.kind, info.rollback_of, info.parent, info.note) == ("rollback", 1, 2, "back to nominal")
    assert [i.version for i in store.history()] == [1, 2, 3]  # history kept
    assert store.diff(1, 3) == [] and store.diff(2) == diff_sets(edited(base), base)
    assert store.history()[-1].summary().startswith("* v0003 ")
    assert "rollback to v0001: back to nominal" in store.history()[-1].summary()


def test_diff_lists_the_largest_control_moves_first_and_counts_the_rest():
    from calibration.model import ProjectorCalibration
    from warp.geometry import Lens, ProjectorModel

    model = ProjectorModel("p01", (0.0, 1.0, 0.0), 0.0, 10.0, 0.0, 64, 32, Lens(throw_ratio=1.0))
    a = CalibrationSet("h", (ProjectorCalibration(model),))
    offsets = tuple(tuple((float(r * 7 + c), 0.0) for c in range(7)) for r in range(5))
    b = a.replace_projector(ProjectorCalibration(model, ControlGrid(5, 7, offsets)))
    (change,) = diff_sets(a, b)
    assert change.text.startswith("34 point(s) moved, largest 34 px: [4][6] (0, 0) -> (34, 0) (34 px); "
                                  "[4][5] (0, 0) -> (33, 0) (33 px)")
    assert change.text.endswith("; and 28 more")


# ------------------------------------------------------------------ corruption


def test_a_corrupt_version_is_named_and_current_falls_back(store):
    base = store.load()
    store.save(edited(base), "edit")
    path = store.root / "v0002" / CALIBRATION_FILE
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptVersionError) as e:
        store.load(2)
    assert str(e.value).startswith(f"{path}: sha256 ")
    assert "does not match" in str(e.value)
    assert "roll back to the last good version: `domectl calibrate rollback 1`" in str(e.value)
    with pytest.raises(CorruptVersionError, match="v0002/calibration.json: sha256"):
        store.load()  # strict: CURRENT's version is corrupt
    found = store.current()
    assert found.info.version == 1 and found.calibration == base
    assert len(found.skipped) == 1 and found.skipped[0].startswith(f"skipped v0002: {path}: sha256")
    history = store.history()
    assert history[0].problem is None and "sha256" in history[1].problem
    assert history[1].note == "edit"  # meta still readable
    # Saving after a fallback builds on the version that verified.
    v = store.save(edited(base, seed=1), "redo")
    assert store.info(v).parent == 1 and store.load() == edited(base, seed=1)


def test_a_damaged_meta_json_is_named(store):
    store.save(edited(store.load()), "edit")
    (store.root / "v0002" / "meta.json").write_text("{not json")
    with pytest.raises(CorruptVersionError, match=r"v0002/meta.json: unreadable"):
        store.load(2)
    assert store.current().info.version == 1


def test_a_missing_current_falls_back_to_the_newest_good_version(store):
    store.save(edited(store.load()), "edit")
    (store.root / "CURRENT").unlink()
    reopened = CalibrationStore.open(store.root)  # damage, not a crash: nothing is moved aside
    found = reopened.current()
    assert found.info.version == 2
    assert found.skipped[0].startswith(f"{store.root / 'CURRENT'}: missing")
    assert version_dirs(store.root) == ["v0001", "v0002"]
    assert reopened.save(edited(found.calibration, seed=2), "heal") == 3
    assert (store.root / "CURRENT").read_text() == "v0003\n"


# ------------------------------------------------------------------ crashes

CRASH_CHILD = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {repo!r})
    from calibration.store import CalibrationStore
    from tests.test_calibration_store import edited

    root, step = sys.argv[1], sys.argv[2]
    store = CalibrationStore(root)
    def hook(name):
        if name == step:
            os._exit(17)
    store._hook = hook
    store.save(edited(store.load()), "crashing save")
    os._exit(0)
""")


def check_after_crash(root: Path, step: str, base: CalibrationSet, reopened: CalibrationStore) -> None:
    committed = SAVE_STEPS.index(step) >= COMMIT_STEP
    assert reopened.current_version() == (2 if committed else 1), step
    assert [i.version for i in reopened.history()] == ([1, 2] if committed else [1]), step
    assert all(i.problem is None for i in reopened.history()), step
    assert reopened.load() == (edited(base) if committed else base), step
    assert not list(root.glob(".tmp-*")), step  # nothing half-written left
    assert version_dirs(root) == (["v0001", "v0002"] if committed else ["v0001"]), step
    aside = list((root / UNCOMMITTED_DIR).glob("v0002-*")) if (root / UNCOMMITTED_DIR).exists() else []
    renamed_uncommitted = SAVE_STEPS.index("renamed") <= SAVE_STEPS.index(step) < COMMIT_STEP
    assert len(aside) == (1 if renamed_uncommitted else 0), step
    # The store goes on: the next save lands as the next version.
    assert reopened.save(edited(base, seed=5), "after the crash") == (3 if committed else 2), step


@pytest.mark.parametrize("step", SAVE_STEPS)
def test_a_process_killed_at_every_step_of_a_save_leaves_a_loadable_store(tmp_path, hall, step):
    root = tmp_path / "store"
    base = CalibrationStore.open(root, hall).load()
    child = subprocess.run([sys.executable, "-c", CRASH_CHILD.format(repo=str(REPO)), str(root), step],
                           capture_output=True, text=True, timeout=60, check=False)
    assert child.returncode == 17, child.stderr
    # Before anyone opens it, a reader already sees only the previous state (or the committed one).
    plain = CalibrationStore(root)
    assert plain.load() == (edited(base) if SAVE_STEPS.index(step) >= COMMIT_STEP else base)
    reopened = CalibrationStore.open(root)
    assert bool(reopened.recovered) == (SAVE_STEPS.index("tmpdir") <= SAVE_STEPS.index(step) < COMMIT_STEP)
    check_after_crash(root, step, base, reopened)


@pytest.mark.parametrize("step", SAVE_STEPS)
def test_an_exception_at_every_step_of_a_save_leaves_a_loadable_store(tmp_path, hall, step):
    root = tmp_path / "store"
    store = CalibrationStore.open(root, hall)
    base = store.load()

    def hook(name):
        if name == step:
            raise OSError(f"disk full at {name}")

    store._hook = hook
    with pytest.raises(OSError, match=f"disk full at {step}"):
        store.save(edited(base), "failing save")
    store._hook = lambda name: None
    # The failing save cleaned up after itself, under its lock.
    assert not list(root.glob(".tmp-*"))
    check_after_crash(root, step, base, CalibrationStore.open(root))


SAVER_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from calibration.store import CalibrationStore
    from tests.test_calibration_store import edited

    root, who = sys.argv[1], sys.argv[2]
    store = CalibrationStore(root)
    for i in range(6):
        print(store.save(edited(store.load(), seed=i), f"{{who}} {{i}}", author=who), flush=True)
""")


def test_two_processes_saving_at_once_both_land_as_distinct_versions(tmp_path, hall):
    root = tmp_path / "store"
    CalibrationStore.open(root, hall)
    children = [subprocess.Popen([sys.executable, "-c", SAVER_CHILD.format(repo=str(REPO)), str(root), who],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for who in ("a", "b")]
    results = [c.communicate(timeout=120) for c in children]
    for c, (_, err) in zip(children, results):
        assert c.returncode == 0, err
    numbers = [int(line) for out, _ in results for line in out.split()]
    assert sorted(numbers) == list(range(2, 14))
    store = CalibrationStore(root)
    history = store.history()
    assert [i.version for i in history] == list(range(1, 14))
    assert all(i.problem is None for i in history)
    assert sorted(i.note for i in history[1:]) == sorted(f"{w} {i}" for w in "ab" for i in range(6))
    assert [i.parent for i in history[1:]] == list(range(1, 13))  # each save built on the one before


# ------------------------------------------------------------------ MPCDI


def test_mpcdi_export_then_import_round_trips_the_whole_calibration(store, hall, tmp_path):
    mine = edited(store.load())
    store.save(mine, "edit")
    out = tmp_path / "hall.mpcdi"
    warnings = store.export_mpcdi(out, hall, 2, warp_width_px=SMALL_PX, mask_width_px=SMALL_PX)
    assert warnings == [
        "p03: the manual control grid is not applied to the MPCDI warp map (kept in domectl/calibration.json)",
        "p03: colour gain/LUT has no place in MPCDI 2.0 (kept in domectl/calibration.json)",
    ]
    doc = read_mpcdi(out)  # a standard archive: other tools read the maps
    assert doc.profile == "2d" and [b.id for b in doc.buffers] == ["domemaster"]
    assert doc.buffers[0].x_resolution_px == hall.render.domemaster_px
    assert [r.id for r in doc.regions()] == [p.name for p in mine.projectors]
    p03 = doc.region("p03")
    assert p03.beta is None and p03.alpha_gamma == 2.4  # black_uplift off, blend.gamma
    assert doc.region("p01").beta is not None and doc.region("p01").alpha_gamma == 2.2
    assert p03.warp.shape == (17, SMALL_PX, 2)
    with zipfile.ZipFile(out) as z:
        assert z.read(EXPORT_CALIBRATION_MEMBER) == (store.root / "v0002" / CALIBRATION_FILE).read_bytes()

    v = store.import_mpcdi(out, note="from the archive")
    assert store.load(v) == mine
    info = store.info(v)
    assert info.source["kind"] == "domectl export" and info.imported_warp is None
    assert IMPORTED_FILE not in info.files
    assert store.diff(2, v) == []


def test_a_domectl_export_changed_by_another_tool_imports_its_warps(store, hall, tmp_path):
    out = tmp_path / "hall.mpcdi"
    store.export_mpcdi(out, hall, warp_width_px=SMALL_PX, mask_width_px=SMALL_PX)
    with zipfile.ZipFile(out) as z:
        ours = {n: z.read(n) for n in z.namelist() if n.startswith("domectl/")}
    doc = read_mpcdi(out)
    bent = doc.region("p02").warp.copy()
    bent[..., 0] += np.float32(0.001)
    doc = dataclasses.replace(doc, buffers=(dataclasses.replace(doc.buffers[0], regions=tuple(
        dataclasses.replace(r, warp=bent) if r.id == "p02" else r for r in doc.regions())),))
    buf = io.BytesIO(encode_mpcdi(doc))
    with zipfile.ZipFile(buf, "a") as z:
        for name, data in ours.items():
            z.writestr(name, data)
    changed = tmp_path / "changed.mpcdi"
    changed.write_bytes(buf.getvalue())

    v = store.import_mpcdi(changed)
    info = store.info(v)
    assert info.source["kind"] == "domectl export, changed since"
    assert sorted(info.imported_warp["regions"]) == [f"p{i:02d}" for i in range(1, 13)]
    assert info.imported_warp["warnings"][0].startswith("changed by another tool after domectl exported it")
    assert store.load(v) == store.load(1)
    assert np.array_equal(store.imported_regions(v)["p02"].warp, bent)


@pytest.mark.parametrize("fixture", ["correction_mesh.mpcdi", "zero_distortion_mesh.mpcdi"])
def test_real_mpcdi_files_import_as_imported_warps_and_round_trip(store, hall, tmp_path, fixture):
    path = FIXTURES / fixture
    with pytest.raises(StoreError, match=r"no region id \(surface1_region\) is a projector name .*: map them, "
                                         r"e.g. --map surface1_region=p01"):
        store.import_mpcdi(path)
    v = store.import_mpcdi(path, mapping={"surface1_region": "p05"})
    info = store.info(v)
    assert (info.kind, info.source["kind"]) == ("import", "foreign")
    assert info.imported_warp["regions"] == {"p05": "surface1_region"}
    assert info.imported_warp["profile"] == "3d"
    assert any(w.startswith("profile '3d'") for w in info.imported_warp["warnings"])
    assert any("is 512 x 540 px, p05 is 4096 x 2160" in w for w in info.imported_warp["warnings"])
    assert (store.root / f"v{v:04d}" / IMPORTED_FILE).read_bytes() == path.read_bytes()  # kept byte for byte
    original = read_mpcdi(path).region("surface1_region")
    assert store.imported_regions(v) == {"p05": original}
    assert store.load(v) == store.load(1)  # our model is untouched
    assert [str(c) for c in store.diff(1, v)] == ["p05: warp: model -> imported (region 'surface1_region')"]

    # A later manual edit keeps the imported warp; export and re-import keep both.
    mine = edited(store.load())
    v2 = store.save(mine, "blend after import")
    assert store.imported_regions(v2) == {"p05": original}
    out = tmp_path / "out.mpcdi"
    warnings = store.export_mpcdi(out, hall, v2)
    assert warnings[0].startswith(f"v{v2:04d} holds imported warps: the archive is exported as imported")
    assert read_mpcdi(out).regions() == read_mpcdi(path).regions()
    v3 = store.import_mpcdi(out)
    assert store.load(v3) == mine
    assert store.info(v3).imported_warp == store.info(v2).imported_warp
    assert store.imported_regions(v3) == {"p05": original}
    assert store.diff(v2, v3) == []
    # Rolling back before the import drops it.
    v4 = store.rollback(1)
    assert store.info(v4).imported_warp is None and store.imported_regions(v4) == {}
    assert store.save(store.load(), "keep", keep_imported=True) == v4 + 1


def test_import_errors_name_the_file(store, tmp_path):
    bad = tmp_path / "bad.mpcdi"
    bad.write_bytes(b"not a zip")
    from warp.formats import FormatError

    with pytest.raises(FormatError, match=f"{bad}: not an MPCDI archive"):
        store.import_mpcdi(bad)
    with pytest.raises(StoreError, match="region 'surface1_region' mapped to 'p99', which is not a projector"):
        store.import_mpcdi(FIXTURES / "correction_mesh.mpcdi", mapping={"surface1_region": "p99"})
    assert [i.version for i in store.history()] == [1]


def test_decoded_fixture_is_what_the_store_decodes(store):
    data = (FIXTURES / "correction_mesh.mpcdi").read_bytes()
    v = store.import_mpcdi(FIXTURES / "correction_mesh.mpcdi", mapping={"surface1_region": "p01"})
    assert store.imported_archive(v) == data
    assert store.imported_regions(v)["p01"] == decode_mpcdi(data).region("surface1_region")


# ------------------------------------------------------------------ CLI


def test_cli_history_rollback_diff_show(store, capsys):
    store.save(edited(store.load()), "p03 by hand", author="alice")
    root = str(store.root)
    assert cli(["history", "--store", root]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("  v0001 ") and out[0].endswith("init: from the hall config")
    assert out[1].startswith("* v0002 ") and "alice@" not in out[1] and "  alice  save: p03 by hand" in out[1]

    assert cli(["rollback", "1", "--note", "undo", "--store", root, "--author", "bob"]) == 0
    assert capsys.readouterr().out == "v0003: rollback to v0001 committed; it is the current version\n"
    assert [i.version for i in store.history()] == [1, 2, 3] and store.load(3) == store.load(1)

    assert cli(["diff", "1", "3", "--store", root]) == 0
    assert capsys.readouterr().out == "v0001 -> v0003: no differences\n"
    assert cli(["diff", "v1", "v0002", "--store", root]) == 0
    out = capsys.readouterr().out
    assert out.startswith("v0001 -> v0002: 9 change(s)\n") and "  p03: yaw_deg: 260 -> 260.25 (+0.25 deg)\n" in out

    assert cli(["history", "--json", "--store", root]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["kind"], r["current"]) for r in rows] == [(1, "init", False), (2, "save", False),
                                                                       (3, "rollback", True)]
    assert cli(["show", "2", "--store", root]) == 0
    out = capsys.readouterr().out
    assert "p03: pos (6.898, 1.216, -0.3) m, yaw 260.2 " in out and "control 5 x 7 (2 moved)" in out
    assert cli(["show", "--json", "--store", root]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["meta"]["version"] == 3 and CalibrationSet.from_json(json.dumps(shown["calibration"])) == store.load(1)


def test_cli_user_errors_exit_2_with_a_message(store, capsys):
    root = str(store.root)
    assert cli(["rollback", "7", "--store", root]) == 2
    assert capsys.readouterr().err == (f"domectl calibrate rollback: error: {root}: no version v0007 (it has "
                                       "v0001..v0001; `domectl calibrate history` lists them)\n")
    assert cli(["rollback", "seven", "--store", root]) == 2
    assert "version 'seven': expected a version number like 3, v3 or v0003" in capsys.readouterr().err
    assert cli(["diff", "1", "0", "--store", root]) == 2
    assert "versions are numbered from 1" in capsys.readouterr().err
    assert cli(["import", str(FIXTURES / "correction_mesh.mpcdi"), "--store", root]) == 2
    assert "--map surface1_region=p01" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli(["import", "x.mpcdi", "--map", "nonsense", "--store", root])
    assert e.value.code == 2
    assert "'nonsense': expected REGION=PROJECTOR" in capsys.readouterr().err
    assert [i.version for i in store.history()] == [1]


def test_cli_show_warns_and_falls_back_on_a_corrupt_current(store, capsys):
    store.save(edited(store.load()), "edit")
    (store.root / "v0002" / CALIBRATION_FILE).write_text("{}")
    root = str(store.root)
    assert cli(["show", "--store", root]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("v0001 ")
    assert "warning: skipped v0002: " in captured.err and "v0002/calibration.json: sha256" in captured.err
    assert cli(["show", "2", "--store", root]) == 2
    assert "v0002/calibration.json: sha256" in capsys.readouterr().err
    assert cli(["history", "--store", root]) == 0
    assert "CORRUPT: " in capsys.readouterr().out.splitlines()[1]


def test_cli_export_import_and_the_default_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOMECTL_STATE_DIR", str(tmp_path / "state"))
    assert cli(["history"]) == 0  # made from the embedded hall's config
    assert capsys.readouterr().out.startswith("* v0001 ")
    root = tmp_path / "state" / "la-coupole-3d-planetarium" / "calibration"
    assert version_dirs(root) == ["v0001"]
    out = tmp_path / "x.mpcdi"
    assert cli(["export", "--out", str(out), "--warp-width", "16", "--mask-width", "16"]) == 0
    assert capsys.readouterr().out == f"{out}: v0001 as MPCDI 2.0\n"
    assert cli(["import", str(FIXTURES / "zero_distortion_mesh.mpcdi"), "--map", "surface1_region=p12",
                "--note", "vendor warp"]) == 0
    captured = capsys.readouterr()
    assert "warning: profile '3d'" in captured.err
    assert captured.out.startswith("v0002 ") and "[imported warp: p12]: vendor warp" in captured.out
    assert cli(["import", str(out)]) == 0
    capsys.readouterr()
    store = CalibrationStore(root)
    assert store.load(3) == store.load(1) and store.info(3).imported_warp is None


def test_store_modules_import_no_gl_or_network(tmp_path):
    code = ("import sys, calibration.store, calibration.cli_store; "
            "print(sorted(m for m in ('moderngl', 'zmq', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
