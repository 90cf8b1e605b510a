"""Black-level uplift on the dome: a black frame gives the same light everywhere, white stays white.

The node's masks (domectl.pipeline.projector_masks: warp.blend's blend and
uplift masks at the node's mask size) go through the warp shader's numpy twin
(render.warp_pass.warp_shade) and, separately, through the real GL pass for
all 12 projectors; each projector's light is ``b + (1 - b) * signal``
(render.warp_pass.projector_light) and the light of every projector lighting
a dome point is summed. Written apart from warp/blend.py: the expected black
floor is ``M * b`` with ``M`` the most projectors lighting one point, counted
here from the projectors' coverage.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calibration.model import from_hall
from domectl.config import load_hall
from domectl.hallwarp import dome_model, eye_m, projector_models
from domectl.pipeline import mask_size, projector_masks, springline_cut_deg, uplift_mask
from render.warp_pass import WarpPass, projector_light, warp_shade
from warp.blend import black_uplift_mask, fibonacci_dome_points
from warp.geometry import dome_points_to_pixels, elevation_deg, on_visible_dome, pixels_to_dome_points
from warp.mesh import build_mesh
from warp.reconstruct import sample_bilinear

SCALE = 0.125                  # 512 x 270 per projector; the masks are at the projector's resolution
MESH_STEP_PX = 4               # the pipeline's 32 px at full resolution, scaled
N_POINTS = 40_000              # dome points, evenly by area
#: The goal: black even to 1 % of the floor (the model itself leaves b * (M - 1) / M = 0.15 %).
BLACK_UNIFORMITY = 0.01
#: Bilinear sampling of the blend mask (tests/test_warp_blend.py measures 0.14 % at 1024 px).
BLEND_TOLERANCE = 0.002
#: Where a mask's texel footprint straddles a step (another projector's image edge, the
#: springline) the step is smeared over one texel: by at most one projector's black there.
BAND_AREA_MAX = 0.05           # of the visible dome
#: As tests/test_seams.py: at the springline the masks' last texels mix with off-dome zeros.
RIM_BAND_DEG = 0.5


def _coverage(dome, models, points) -> np.ndarray:
    """(N,) int64 bit set of the projectors lighting each point of the visible dome."""
    visible = on_visible_dome(dome, points)
    bits = np.zeros(len(points), np.int64)
    for j, model in enumerate(models):
        bits |= (dome_points_to_pixels(model, points)[1] & visible).astype(np.int64) << j
    return bits


def _half_code_light(code, gamma: float) -> np.ndarray:
    """Half of one 8-bit step at ``code`` (any shape), in linear light: the most the framebuffer's
    rounding can move a signal that lands on that code."""
    code = np.asarray(code, dtype=np.float64)
    return ((np.minimum(code + 0.5, 255.0) / 255.0) ** gamma - (np.maximum(code - 0.5, 0.0) / 255.0) ** gamma) / 2.0


@pytest.fixture(scope="module")
def dome_light():
    """Per dome point: the black and white light summed over projectors, through the twin and
    through GL, and without uplift; the smeared-step band; the floor ``M * b``."""
    hall = load_hall()
    dome, eye = dome_model(hall), eye_m(hall)
    models = tuple(projector_models(hall, SCALE))
    flags = (True,) * len(models)
    masks = [projector_masks(dome, models, eye, i, 1.0, flags) for i in range(len(models))]
    points = fibonacci_dome_points(dome, N_POINTS)
    visible = on_visible_dome(dome, points)
    cover = _coverage(dome, models, points)
    counts = np.array([bin(c).count("1") for c in cover])
    floor = counts.max() * max(m.black_level for m in models)
    light = {k: np.zeros(len(points)) for k in ("black", "white", "black_plain", "white_plain")}
    band = np.zeros(len(points), bool)
    for model, (blend, uplift) in zip(models, masks):
        px, ok = dome_points_to_pixels(model, points)
        ok &= visible
        scale = np.array(mask_size(model)) / (model.width_px, model.height_px)
        texel = px[ok] * scale
        weight, up = sample_bilinear(blend, texel), sample_bilinear(uplift, texel)
        for content, name in ((0.0, "black"), (1.0, "white")):
            slice_rgb = np.full((ok.sum(), 3), content)
            for u, suffix in ((up, ""), (0.0, "_plain")):
                signal = warp_shade(slice_rgb, weight, u, model.gamma)[:, 0] ** model.gamma
                light[name + suffix][ok] += projector_light(signal, model.black_level)
        # The four texels a bilinear lookup mixes: do they see the same projectors as the point?
        corner0 = np.floor(texel - 0.5) + 0.5
        where = np.flatnonzero(ok)
        for d in ((0, 0), (1, 0), (0, 1), (1, 1)):
            corner_points, corner_ok = pixels_to_dome_points(dome, model, (corner0 + d) / scale)
            band[where] |= ~corner_ok | (_coverage(dome, models, corner_points) != cover[where])
    rim = np.zeros(len(points), bool)
    rim[visible] = elevation_deg(dome, points[visible]) < dome.springline_deg + RIM_BAND_DEG
    return dict(dome=dome, eye=eye, models=models, masks=masks, points=points, visible=visible,
                floor=floor, band=band, rim=rim, counts=counts, **light)


def test_a_black_frame_is_even_across_the_dome(dome_light):
    d = dome_light
    inner = d["visible"] & ~d["band"]
    black = d["black"][inner]
    assert d["floor"] == pytest.approx(4 * 0.002)           # the hall: four projectors at most, b = 0.002
    assert (d["floor"] - black).max() <= BLACK_UNIFORMITY * d["floor"]
    assert black.max() <= d["floor"] * (1.0 + 1e-6)
    # Without the uplift the one-projector areas are a quarter of the overlaps' black.
    plain = d["black_plain"][inner]
    assert plain.max() / plain.min() == pytest.approx(4.0)
    # The smeared steps: a thin band, off by at most one projector's black (the rim aside).
    band = d["visible"] & d["band"]
    assert band.sum() <= BAND_AREA_MAX * d["visible"].sum()
    assert np.abs(d["black"][band & ~d["rim"]] - d["floor"]).max() <= 0.002 * (1.0 + 1e-6)


def test_a_white_frame_stays_white(dome_light):
    """White sums to 1 where one projector lights the dome and to 1 + (n - 1) b in overlaps, with
    or without uplift: never outside [1, 1 + (M - 1) b], within the blend's tolerance."""
    d = dome_light
    inner = d["visible"] & ~d["rim"]
    top = 1.0 + (d["counts"].max() - 1) * 0.002
    for name in ("white", "white_plain"):
        white = d[name][inner]
        assert white.min() >= 1.0 - BLEND_TOLERANCE, name
        assert white.max() <= top + BLEND_TOLERANCE, name


def test_the_gl_pass_evens_black_to_within_8_bit_rounding(gl_ctx, dome_light):
    """All 12 projectors through the real warp pass: the black floor is even to half an 8-bit
    code at the uplift's level (an uplift of 0.006 is code 25, where one code is 7 % of the
    floor), typically far better; without uplift the single-projector areas are 4x darker."""
    d = dome_light
    dome, eye, points = d["dome"], d["eye"], d["points"]
    black_tex = gl_ctx.texture((4, 4), 4, np.full((4, 4, 4), (0, 0, 0, 255), np.uint8).tobytes())
    white_tex = gl_ctx.texture((4, 4), 4, np.full((4, 4, 4), 255, np.uint8).tobytes())
    black, white, rounding = np.zeros(len(points)), np.zeros(len(points)), np.zeros(len(points))
    top_code = 0
    try:
        for model, (blend, uplift) in zip(d["models"], d["masks"]):
            mesh = build_mesh(dome, model, eye, step_px=MESH_STEP_PX)
            warp = WarpPass(gl_ctx, mesh.pixel_xy, mesh.uv, mesh.valid, blend, model.gamma,
                            (model.width_px, model.height_px), cut=springline_cut_deg(dome, mesh),
                            uplift_linear=uplift)
            try:
                rect = mesh.domemaster_region()
                dark = warp.draw(black_tex, rect)[..., 0].copy()
                light = warp.draw(white_tex, rect)[..., 0].copy()
            finally:
                warp.release()
            top_code = max(top_code, int(dark.max()))
            px, ok = dome_points_to_pixels(model, points)
            ok &= d["visible"]
            for image, total in ((dark, black), (light, white)):
                emitted = projector_light((image / 255.0) ** model.gamma, model.black_level)
                total[ok] += sample_bilinear(emitted, px[ok])
            # Each projector's rounding at this point, summed: the most 8 bits can leave uneven.
            rounding[ok] += (1.0 - model.black_level) * sample_bilinear(_half_code_light(dark, model.gamma), px[ok])
    finally:
        black_tex.release()
        white_tex.release()
    inner = d["visible"] & ~d["band"] & ~d["rim"]
    assert 20 <= top_code <= 30                               # encode(0.006) = 24.9
    assert np.all(np.abs(black - d["black"])[inner] <= rounding[inner] * (1.0 + 1e-6))
    # Against the floor: the rounding plus the model's own b (M - 1) / M (render/warp_pass.py).
    floor = d["floor"]
    assert np.all(np.abs(black - floor)[inner] <= rounding[inner] + 0.0015 * floor)
    deviation = np.abs(black[inner] - floor) / floor
    assert deviation.max() <= 0.04                            # measured 3.0 %: half of code 25 is 3.4 %
    assert np.median(deviation) <= BLACK_UNIFORMITY           # measured 0.36 %
    white_inner = white[d["visible"] & ~d["rim"]]
    assert white_inner.min() >= 1.0 - 0.02 and white_inner.max() <= 1.0 + 3 * 0.002 + 0.02   # test_seams: 2 %


# ---------------------------------------------------------------- the node's pipeline


@pytest.fixture(scope="module")
def pipeline(_gl_session_ctx):
    from domectl.pipeline import IGPipeline
    from domectl.skydata import load_stars

    return IGPipeline(_gl_session_ctx, load_hall(), 1, SCALE, load_stars())


def _with_blend(calibration, name: str, **changes):
    p = calibration.projector(name)
    return calibration.replace_projector(dataclasses.replace(p, blend=dataclasses.replace(p.blend, **changes)))


def _blackout():
    from domectl.frame import FrameState

    return FrameState(frame=0, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=50.7,
                      longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0, blackout=True)


def test_the_node_builds_its_uplift_from_the_calibration_set(pipeline):
    """The mask is warp.blend.black_uplift_mask with the set's models, per-projector ramps and flags."""
    hall_set = from_hall(load_hall())
    assert pipeline.set_calibration(hall_set).kind in ("none", "control")
    index = pipeline.index
    models = list(pipeline.models)
    expected = black_uplift_mask(pipeline.dome, models, pipeline.eye, index, *mask_size(models[index]))
    np.testing.assert_array_equal(pipeline.uplift, expected)
    assert pipeline.uplift.max() > 0.0
    # One projector's ramp widened: both masks rebuilt, with one ramp per projector.
    ramps = [1.0] * len(models)
    ramps[2] = 0.5
    tuned = _with_blend(hall_set, hall_set.projectors[2].name, width_frac=0.5)
    try:
        plan = pipeline.set_calibration(tuned)
        assert plan.kind == "rebuild" and plan.uplift is not None
        np.testing.assert_array_equal(pipeline.uplift, black_uplift_mask(
            pipeline.dome, models, pipeline.eye, index, *mask_size(models[index]), ramp_frac=ramps))
    finally:
        pipeline.set_calibration(hall_set)


def test_uplift_off_for_one_projector_leaves_its_black_black(pipeline):
    hall_set = from_hall(load_hall())
    pipeline.set_calibration(hall_set)
    me = pipeline.ig.projector
    blackout = _blackout()
    assert pipeline.render(blackout).max() > 0                 # the uplift lights the non-overlap areas
    off = _with_blend(hall_set, me, black_uplift=False)
    try:
        assert pipeline.rebuild_needed(off)                    # planned in the node's worker
        plan = pipeline.set_calibration(off)
        assert plan.kind == "uplift" and not plan.uplift.any()
        assert pipeline.uplift_on[pipeline.index] is False
        assert not pipeline.uplift.any()
        assert pipeline.render(blackout).max() == 0
        black = pipeline.ctx.texture((2, 2), 4, np.full((2, 2, 4), (0, 0, 0, 255), np.uint8).tobytes())
        try:
            assert pipeline.warp.draw(black, pipeline.rect_uv).max() == 0   # black content too
        finally:
            black.release()
        # A neighbour's flag does not change this projector's mask (its share is not handed on).
        other = next(p.name for p in hall_set.projectors if p.name != me)
        assert pipeline.set_calibration(_with_blend(off, other, black_uplift=False)).kind in ("none", "control")
        assert not pipeline.uplift.any()
    finally:
        plan = pipeline.set_calibration(hall_set)
    assert plan.kind == "uplift" and pipeline.render(blackout).max() > 0


def test_no_black_level_no_uplift(pipeline):
    """All black levels 0: nothing to even, the mask is zero without being computed."""
    models = [dataclasses.replace(m, black_level=0.0) for m in pipeline.models]
    zero = uplift_mask(pipeline.dome, models, pipeline.eye, pipeline.index, 1.0, (True,) * len(models))
    assert zero.shape == mask_size(models[pipeline.index])[::-1] and not zero.any()
