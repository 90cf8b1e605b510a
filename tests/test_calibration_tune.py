"""Blend tuning and colour matching (issue 10): per-projector blend ramps, gamma and uplift; flat-field matching.

The colour tests run the hall's 12 projectors in simulation: each projector
gets a true brightness (+-15 %) and white point (+-3 % per channel), seeded
(calibration.camera.simulated_responses), seen by a 512 px fisheye with
noise. The reference for "before" is the truth itself: the measured response
of each projector over a nominal camera's measurement of the same projector
must be its injected gain. "After" re-captures every projector through the
computed correction, as its node would send it.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from calibration.auto import simulated_truth
from calibration.camera import CameraNoise, SimCamera, camera_model, simulated_responses
from calibration.cli_tune import main as cli
from calibration.colour import (
    VERIFY_LEVELS,
    ColourMatchError,
    apply_colour,
    camera_regions,
    inverse_response,
    match_colours,
    measure_projector,
    measure_through,
    run_colour_matching,
)
from calibration.model import (
    V1_DEFAULT_WIDTH_FRAC,
    Blend,
    CalibrationSet,
    Colour,
    from_hall,
)
from calibration.store import CalibrationStore
from domectl.config import load_hall
from domectl.errors import ConfigError
from domectl.hallwarp import dome_model, eye_m, projector_models
from warp.blend import (
    DEFAULT_RAMP_FRAC,
    black_uplift_mask,
    blend_mask,
    blend_weights,
    decode_mask,
    fibonacci_dome_points,
    normalized_weights_at_points,
    ramp_fracs,
)
from warp.build import build_hall_warp
from warp.formats.mpcdi import read_mpcdi
from warp.geometry import WarpModelError, dome_points_to_pixels, on_visible_dome

# DESIGN.md's budget: the linear-light sum of overlapping projectors is 1 +- 1 %.
BLEND_SUM_TOLERANCE = 0.01
# Normalised weights in float64: exact but for rounding.
SUM_EXACT = 1e-12
# 16-bit gamma-encoded masks: half a code step through the steepest part of x ** gamma.
ENCODE_TOLERANCE = 2.5 / 65535
# The brief: after matching, every projector within 1 % per channel.
MATCH_TOLERANCE = 0.01
# The measurement against the truth (noise over ~700 camera pixels for the upper projectors).
TRUTH_TOLERANCE = 0.01
# Simulation draws.
BRIGHTNESS_SPREAD = 0.15
SEED = 4
# Unequal ramps: the lower ring alternates narrow and wide, the upper three are mid.
UNEQUAL_RAMPS = [0.25, 1.0, 0.25, 1.0, 0.25, 1.0, 0.25, 1.0, 0.25, 0.6, 0.6, 0.6]
MASK_W, MASK_H = 128, 68


@pytest.fixture(scope="module")
def hall():
    h = load_hall(None)
    return h, dome_model(h), projector_models(h), eye_m(h)


# ---------------------------------------------------------------- blend: per-projector ramps, gamma, uplift


def test_unequal_ramps_still_sum_to_one_on_the_dome(hall):
    _, dome, projectors, eye = hall
    points = fibonacci_dome_points(dome, 20_000)
    weights = normalized_weights_at_points(dome, projectors, points, UNEQUAL_RAMPS)
    total = weights.sum(axis=1)
    lit = total > 0
    assert lit.mean() > 0.99
    np.testing.assert_allclose(total[lit], 1.0, atol=SUM_EXACT)
    # The node's route: each projector's blend_weights at the pixel that lights the point.
    overlap = (weights > 0).sum(axis=1) >= 2
    sample = points[overlap][:2000]
    summed = np.zeros(len(sample))
    for i, p in enumerate(projectors):
        px, ok = dome_points_to_pixels(p, sample)
        ok &= on_visible_dome(dome, sample)
        summed[ok] += blend_weights(dome, projectors, eye, i, px[ok], UNEQUAL_RAMPS)
    np.testing.assert_allclose(summed, 1.0, atol=1e-9)


def test_the_wider_ramp_is_wider(hall):
    """p03 widened, its neighbours narrow: p03 fades out over more of its image and they take over the overlap."""
    _, dome, projectors, eye = hall
    narrow = [0.25] * len(projectors)
    wide = list(narrow)
    wide[2] = 1.0
    mine = {name: blend_mask(dome, projectors, eye, 2, MASK_W, MASK_H, r) for name, r in (("narrow", narrow),
                                                                                      ("wide", wide))}
    # A lower raw ramp everywhere, the neighbours' unchanged: never more weight anywhere.
    assert np.all(mine["wide"] <= mine["narrow"] + 1e-6)
    # Across the image (its 2160 px side, which meets the ring neighbours), half weight is reached
    # further in from the edge: 0.25 of the half image ~ 5 texels here, 1.0 ~ 9.
    column = MASK_W // 2
    half = {name: int(np.argmax(m[:, column] >= 0.5)) for name, m in mine.items()}
    assert half["wide"] >= half["narrow"] + 3
    # Its neighbour p02 takes over what p03 gave up.
    theirs = {name: blend_mask(dome, projectors, eye, 1, MASK_W, MASK_H, r) for name, r in (("narrow", narrow),
                                                                                        ("wide", wide))}
    assert np.all(theirs["wide"] >= theirs["narrow"] - 1e-6) and (theirs["wide"] > theirs["narrow"] + 0.1).any()


def test_ramp_fracs_checks_its_input():
    assert ramp_fracs(0.5, 3).tolist() == [0.5, 0.5, 0.5]
    assert ramp_fracs([0.2, 0.3, 1.0], 3).tolist() == [0.2, 0.3, 1.0]
    with pytest.raises(WarpModelError, match=r"give one number or one per projector \(3\)"):
        ramp_fracs([0.2, 0.3], 3)
    with pytest.raises(WarpModelError, match=r"ramp_frac\[1\] = 0.0: must be in \(0, 1\]"):
        ramp_fracs([0.2, 0.0, 1.0], 3)


def test_uplift_off_for_one_projector_zeroes_only_its_share(hall):
    _, dome, projectors, eye = hall
    flags = [True] * len(projectors)
    flags[4] = False
    on = [black_uplift_mask(dome, projectors, eye, i, 64, 34, max_count=3) for i in (3, 4)]
    off = [black_uplift_mask(dome, projectors, eye, i, 64, 34, max_count=3, uplift_on=flags) for i in (3, 4)]
    assert on[1].max() > 0 and not off[1].any()
    np.testing.assert_array_equal(off[0], on[0])  # its neighbour's share is not changed


def test_build_honours_each_projectors_width_gamma_and_uplift(hall, tmp_path):
    _, dome, projectors, eye = hall
    gammas = [2.2] * len(projectors)
    gammas[2] = 2.6
    uplift = [True] * len(projectors)
    uplift[5] = False
    # At the default mask width: a narrow ramp next to a wide one hands over sharply (a few tens of
    # pixels), which coarse masks sample badly (128 texels across: 25 %; 512: 1.8 %; 1024: 0.5 %).
    report = build_hall_warp(dome, projectors, eye, tmp_path, warp_width_px=32,
                             preview_px=64, check_points=20_000, warp_check_directions=200,
                             ramp_frac=UNEQUAL_RAMPS, blend_gamma=gammas, uplift_on=uplift)
    assert report["blend_sum_max_deviation"] < BLEND_SUM_TOLERANCE
    entries = report["projectors"]
    assert [e["ramp_frac"] for e in entries] == UNEQUAL_RAMPS
    assert entries[2]["blend_gamma"] == 2.6 and entries[5]["black_uplift"] is False
    doc = read_mpcdi(tmp_path / report["files"]["mpcdi"])
    regions = doc.regions()
    assert regions[2].alpha_gamma == 2.6 and regions[3].alpha_gamma == 2.2
    assert regions[5].beta is None and regions[4].beta is not None
    for i in (2, 3):
        alpha = np.asarray(Image.open(tmp_path / f"blend_p{i + 1:02d}.png"), dtype=np.uint16)
        expected = blend_mask(dome, projectors, eye, i, *alpha.shape[::-1], UNEQUAL_RAMPS)
        np.testing.assert_allclose(decode_mask(alpha, gammas[i]), expected, atol=ENCODE_TOLERANCE)


def test_store_export_uses_each_projectors_blend(hall, tmp_path):
    h, dome, projectors, eye = hall
    store = CalibrationStore.open(tmp_path / "store", h, author="test")
    base = store.load()
    p = base.projector("p03")
    store.save(base.replace_projector(dataclasses.replace(p, blend=Blend(0.3, 2.5, False))), "p03 narrow")
    store.export_mpcdi(tmp_path / "out.mpcdi", h, mask_width_px=64, warp_width_px=32)
    region = read_mpcdi(tmp_path / "out.mpcdi").region("p03")
    assert region.alpha_gamma == 2.5 and region.beta is None
    ramps = [DEFAULT_RAMP_FRAC] * len(projectors)
    ramps[2] = 0.3
    expected = blend_mask(dome, projectors, eye, 2, *region.alpha.shape[::-1], ramps)
    np.testing.assert_allclose(decode_mask(region.alpha, 2.5), expected, atol=ENCODE_TOLERANCE)


# ---------------------------------------------------------------- calibration JSON


def test_calibration_json_of_the_old_version_still_loads(hall):
    h = hall[0]
    current = from_hall(h)
    assert current.projectors[0].blend.width_frac == DEFAULT_RAMP_FRAC
    assert CalibrationSet.from_json(current.to_json()) == current
    old = json.loads(current.to_json())
    old["version"] = 1
    for p in old["projectors"]:
        p["blend"]["width_frac"] = V1_DEFAULT_WIDTH_FRAC
    old["projectors"][2]["blend"]["width_frac"] = 0.2   # a technician's value: 0.2 of the smaller side
    loaded = CalibrationSet.from_json(json.dumps(old), "old.json")
    assert [p.blend.width_frac for p in loaded.projectors] == [DEFAULT_RAMP_FRAC] * 2 + [0.4] + [
        DEFAULT_RAMP_FRAC] * 9
    assert json.loads(loaded.to_json())["version"] == 2


def test_calibration_json_width_out_of_range_says_what_is_allowed(hall):
    data = json.loads(from_hall(hall[0]).to_json())
    data["projectors"][0]["blend"]["width_frac"] = 0.0
    with pytest.raises(ConfigError, match=r"x.json: projectors\[0\]: blend width_frac \(the ramp as a fraction of "
                                          r"the half image\) = 0.0: must be in \[0.01, 1.0\]"):
        CalibrationSet.from_json(json.dumps(data), "x.json")


# ---------------------------------------------------------------- colour: the node's step


def test_apply_colour_is_gain_then_lut():
    lut = (tuple(np.linspace(0, 1, 5) ** 0.5), tuple(np.linspace(0, 1, 5)), tuple(np.linspace(0, 1, 5) ** 2))
    colour = Colour((0.5, 0.8, 1.0), lut)
    out = apply_colour(colour, [[0.5, 1.0, 0.6]])
    # red: sqrt(0.5 * 0.5) at a node; green: 0.8 through the identity; blue: between the nodes 0.5 and 0.75.
    np.testing.assert_allclose(out, [[0.5, 0.8, 0.25 + (0.1 / 0.25) * (0.75 ** 2 - 0.25)]], atol=1e-12)
    np.testing.assert_allclose(apply_colour(Colour(), np.full((2, 3), 0.3)), 0.3)


def test_inverse_response_is_exact_for_a_power_law():
    levels = (np.arange(1, 9) / 8) ** 2.2
    response = levels ** 1.1      # a projector at gamma 2.42 driven for 2.2
    y = np.array([0.0, 0.001, 0.01, 0.3, 0.77, 1.0])
    np.testing.assert_allclose(inverse_response(levels, response, y), y ** (1 / 1.1), rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------- colour: matching in simulation


@pytest.fixture(scope="module")
def matched(hall, tmp_path_factory):
    h, dome, nominal, eye = hall
    truth = simulated_truth(nominal, seed=SEED)
    responses = simulated_responses(truth, seed=SEED)
    camera = SimCamera(dome, truth, camera_model(512), CameraNoise(), seed=SEED, responses=responses)
    out = tmp_path_factory.mktemp("colour")
    report, calibration = run_colour_matching(camera, dome, eye, from_hall(h), out)
    return {"report": report, "calibration": calibration, "responses": responses, "truth": truth, "out": out,
            "camera": camera}


def test_injected_differences_are_measured_as_injected(hall, matched):
    """Before: each projector's measured response over a nominal projector's is its injected gain, per channel."""
    _, dome, nominal, _ = hall
    truth, responses = matched["truth"], matched["responses"]
    gains = np.array([responses[p.name].gain_rgb for p in truth])
    assert gains.max() / gains.min() > 1.0 + BRIGHTNESS_SPREAD   # the draw spans most of +-15 %
    reference = SimCamera(dome, truth, camera_model(512), CameraNoise(), seed=SEED + 1)
    regions = camera_regions(dome, reference.model, nominal)
    flat = reference.flat_field()
    report = matched["report"]
    for p, gain in zip(truth, gains):
        nominal_white = measure_projector(reference, p, regions.measure[p.name], flat, ramp_steps=1).white_rgb
        measured = np.array(report["projectors"][p.name]["measured_rgb"])
        np.testing.assert_allclose(measured / nominal_white, gain, rtol=TRUTH_TOLERANCE)
    # Across the dome the spread is at least the injected one (geometry adds its own).
    assert min(report["before"]["spread_pct"]) > 100 * BRIGHTNESS_SPREAD


def test_after_matching_every_projector_is_within_one_percent_per_channel(matched):
    report = matched["report"]
    assert max(report["after"]["spread_pct"]) <= 100 * MATCH_TOLERANCE
    assert report["after"]["max_abs_residual_pct"] <= 100 * MATCH_TOLERANCE
    for name, entry in report["projectors"].items():
        assert all(abs(r) <= 100 * MATCH_TOLERANCE for r in entry["residual_pct"]), name
        assert all(0.0 < g <= 1.0 for g in entry["gain_rgb"]), name
    # The dimmest projector of each channel is left alone.
    gains = np.array([e["gain_rgb"] for e in report["projectors"].values()])
    np.testing.assert_array_equal(gains.max(axis=0), 1.0)
    picture = report["flat_white"]
    assert picture["ratio_before"] > 1.0 + BRIGHTNESS_SPREAD and picture["ratio_after"] < 1.0 + MATCH_TOLERANCE


def test_colour_is_written_into_the_calibration_set(matched):
    calibration, out = matched["calibration"], matched["out"]
    on_disk = CalibrationSet.from_json((out / "calibration.json").read_text())
    assert on_disk == calibration
    report = json.loads((out / "report.json").read_text())
    for p in calibration.projectors:
        assert list(p.colour.gain_rgb) == report["projectors"][p.name]["gain_rgb"]
        assert p.colour.lut is None
    image = Image.open(out / "flat_white.png")
    assert image.mode == "RGB" and image.width > 2 * 512 and image.height > 512


def test_lut_matches_projectors_with_different_gammas(hall):
    """True gammas 2.2 +- 0.3 per channel, driven for 2.2: gains alone leave mid-tones off; the LUT does not."""
    _, dome, nominal, _ = hall
    responses = simulated_responses(nominal, seed=SEED, gamma_spread=0.3)
    camera = SimCamera(dome, nominal, camera_model(256), CameraNoise(noise_scale=0.0, bits=16), seed=SEED,
                       responses=responses)
    regions = camera_regions(dome, camera.model, nominal)
    flat = camera.flat_field()
    measurements = {p.name: measure_projector(camera, p, regions.measure[p.name], flat) for p in nominal}
    levels = np.asarray(VERIFY_LEVELS)
    worst = {}
    for use_lut in (False, True):
        target, colours = match_colours(measurements, use_lut=use_lut)
        tone = np.array([measure_through(camera, p, colours[p.name], regions.measure[p.name], flat)
                         / (target[:, None] * levels[None, :]) - 1.0 for p in nominal])
        worst[use_lut] = np.abs(tone).max(axis=(0, 1))     # per level
        assert np.abs(tone[:, :, -1]).max() < MATCH_TOLERANCE   # white matches either way
    assert worst[False][1] > 5 * MATCH_TOLERANCE        # 0.2 of white: gamma differences show
    assert np.all(worst[True] < MATCH_TOLERANCE), worst[True]


def test_a_projector_out_of_view_is_a_clear_error(hall):
    _, dome, nominal, _ = hall
    far = dataclasses.replace(nominal[0], yaw_deg=nominal[0].yaw_deg + 180.0, pitch_deg=-60.0)
    with pytest.raises(ColourMatchError, match="p01: only 0 camera pixels see it clearly"):
        camera_regions(dome, camera_model(128), [far] + list(nominal[1:]))


# ---------------------------------------------------------------- CLI


def test_cli_colour_and_blend_make_store_versions(tmp_path, capsys):
    store_dir = tmp_path / "store"
    assert cli(["colour", "--camera", "sim", "--out", str(tmp_path / "out"), "--store", str(store_dir),
                "--camera-px", "256", "--seed", "2", "--save", "--lut"]) == 0
    err = capsys.readouterr()
    assert "saved as v0002" in err.out
    assert "% after; report" in err.err
    store = CalibrationStore(store_dir)
    info = store.info(2)
    assert info.note.startswith("colour matching (gains + LUT), camera sim: mismatch ")
    saved = store.load(2)
    assert all(p.colour.lut is not None and max(p.colour.gain_rgb) <= 1.0 for p in saved.projectors)
    assert (tmp_path / "out" / "flat_white.png").exists()

    assert cli(["blend", "--projector", "p03", "--width", "0.4", "--gamma", "2.4", "--uplift", "off",
                "--store", str(store_dir), "--note", "soft seam"]) == 0
    assert "v0003: blend p03: width_frac 0.4, gamma 2.4, black_uplift off; soft seam" in capsys.readouterr().out
    changes = [str(c) for c in store.diff(2, 3)]
    assert changes == ["p03: blend.width_frac: 1 -> 0.4 (-0.6)", "p03: blend.gamma: 2.2 -> 2.4 (+0.2)",
                       "p03: blend.black_uplift: True -> False"]
    assert store.load(3).projector("p03").colour == saved.projector("p03").colour   # colour kept

    assert cli(["blend", "--projector", "all", "--width", "0.8", "--store", str(store_dir)]) == 0
    assert {p.blend.width_frac for p in store.load(4).projectors} == {0.8}


def test_cli_blend_bad_input_exits_2_with_a_message(tmp_path, capsys):
    store_dir = tmp_path / "store"
    assert cli(["blend", "--projector", "p13", "--width", "0.5", "--store", str(store_dir)]) == 2
    err = capsys.readouterr().err
    assert "domectl calibrate blend: error: --projector 'p13': no such projector" in err
    assert "it has p01, p02" in err and "(or 'all')" in err
    assert cli(["blend", "--projector", "p01", "--store", str(store_dir)]) == 2
    assert "nothing to change: give --width, --gamma and/or --uplift" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli(["blend", "--projector", "p01", "--width", "0", "--store", str(store_dir)])
    assert e.value.code == 2
    assert "--width must be in [0.01, 1]" in capsys.readouterr().err
    assert [i.version for i in CalibrationStore(store_dir).history()] == [1]   # nothing saved


def test_cli_colour_without_save_leaves_no_store(tmp_path, capsys):
    assert cli(["colour", "--camera", "sim", "--out", str(tmp_path / "out"), "--store", str(tmp_path / "store"),
                "--camera-px", "256"]) == 0
    assert not (tmp_path / "store").exists()
    assert cli(["colour", "--camera", "usb", "--out", str(tmp_path / "o2")]) == 2
    assert "--camera 'usb': only the simulated camera exists" in capsys.readouterr().err
