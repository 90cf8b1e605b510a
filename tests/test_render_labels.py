"""Text on the dome: placement against the numpy twin, angular size, uprightness, languages, fonts, slices."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import moderngl
import numpy as np
import pytest

from domectl.projection import altaz_to_enu, dome_from_enu, fisheye_uv, rot_x, rot_z
from test_render_lines import render  # one frame harness for the vector and text layers
from render import labels as labels_module
from render.context import release_framebuffers
from render.labels import (
    CARDINAL_LETTERS,
    ZENITH_CAP_DEG,
    GlyphAtlas,
    Label,
    LabelsLayer,
    TextPainter,
    TextStyle,
    glyph_corner_dirs,
    label_basis,
    label_ink_centre_dir,
    label_instances,
    label_up,
    offset_dirs,
)
from render.layers import LayerView
from render.shaders import load_program

#: The brief's bound on a label's ink centroid against the twin's placement.
CENTROID_TOLERANCE_PX = 1.0
#: A measured cap height may differ from the requested angle by this (antialiased edges).
HEIGHT_TOLERANCE_PX = 1.0
SLICE_TOLERANCE_LEVELS = 2
SIZE = 512


@pytest.fixture(scope="module")
def painter(_gl_session_ctx):
    """One text painter (and its glyph atlas) for the module: the atlas is the slow part."""
    text = TextPainter(_gl_session_ctx)
    yield text
    text.release()


def view_of(size: int = SIZE, dome_from_enu_: np.ndarray = np.eye(3), enu_from_icrs: np.ndarray = np.eye(3),
            rect=(0.0, 0.0, 1.0, 1.0), size_px=None, language: str = "en") -> LayerView:
    return LayerView(rect_uv=rect, size_px=size_px or (size, size), dome_from_enu=np.asarray(dome_from_enu_),
                     enu_from_icrs=np.asarray(enu_from_icrs), language=language)




def draw_labels(ctx, painter: TextPainter, labels: list[Label], view: LayerView | None = None,
                rotation: np.ndarray = np.eye(3), opacity: float = 1.0) -> np.ndarray:
    view = view or view_of()
    batch = painter.batch(labels)
    try:
        return render(ctx, view, lambda: painter.draw(view, [batch], rotation, opacity))
    finally:
        batch.release()


def to_pixel(dome_dirs: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Dome directions -> image (col, row from the top) of a whole-domemaster render."""
    uv = fisheye_uv(np.atleast_2d(dome_dirs))
    return np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], axis=-1)


def ink_centroid(image: np.ndarray, channel: int = 0) -> np.ndarray:
    ink = image[..., channel].astype(np.float64)
    rows, cols = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.array([(ink * cols).sum(), (ink * rows).sum()]) / ink.sum()


def dome_dir(theta_deg: float, azimuth_deg: float) -> np.ndarray:
    """Dome-frame unit vector theta from the zenith, azimuth from the front (+y) toward the right (+x)."""
    return altaz_to_enu(90.0 - theta_deg, azimuth_deg)  # ENU and the dome frame share axes: x right, y front


# --------------------------------------------------------------------------- the twin's geometry


def test_up_is_a_unit_tangent_toward_the_zenith_and_the_back_at_the_zenith():
    rng = np.random.default_rng(5)
    p = rng.normal(size=(500, 3))
    p[:, 2] = np.abs(p[:, 2])
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    up = label_up(p)
    assert np.allclose(np.linalg.norm(up, axis=1), 1.0)
    assert np.abs((up * p).sum(axis=1)).max() < 1e-12
    theta = np.degrees(np.arccos(p[:, 2]))
    far = theta > ZENITH_CAP_DEG
    # Beyond the cap: exactly toward the zenith along the sphere (in the plane of p and z, z rising).
    assert np.abs(np.einsum("ij,ij->i", np.cross(p[far], np.array([0.0, 0.0, 1.0])), up[far])).max() < 1e-12
    assert (up[far, 2] > 0).all()
    assert np.allclose(label_up(np.array([[0.0, 0.0, 1.0]]))[0], [0.0, -1.0, 0.0])
    # Over the front half "up" is also up on the domemaster image (toward the back, v rising).
    front = p[:, 1] > 0.05
    v_step = fisheye_uv(p[front] + 1e-4 * up[front])[:, 1] - fisheye_uv(p[front])[:, 1]
    assert (v_step > 0).all()
    # Reading direction: right = p x up is +x for a label straight in front.
    right, _ = label_basis(np.array([[0.0, 1.0, 0.0]]))
    assert np.allclose(right[0], [1.0, 0.0, 0.0])


def test_up_turns_smoothly_except_at_its_one_point_behind_the_zenith():
    # Sample a fine grid; neighbours 0.5 deg apart differ by little, except near the one
    # point on the back meridian, about half the cap behind the zenith.
    theta, azimuth = np.meshgrid(np.arange(0.0, 90.0, 0.5), np.arange(0.0, 360.0, 2.0), indexing="ij")
    p = dome_dir(theta.ravel(), azimuth.ravel()).reshape(theta.shape + (3,))
    up = label_up(p.reshape(-1, 3)).reshape(p.shape)
    turn_deg = np.degrees(np.arccos(np.clip((up[1:] * up[:-1]).sum(axis=-1), -1, 1)))
    # to_zenith and to_back cancel where the blend is half-way: theta = cap / 2 on the back meridian.
    point = dome_dir(ZENITH_CAP_DEG / 2, 180.0)
    distance_deg = np.degrees(np.arccos(np.clip(p[1:] @ point, -1, 1)))
    # Measured: at most 3.0 deg per 0.5 deg step beyond 20 deg from that point, 0.5 beyond 45.
    assert turn_deg[distance_deg > 20.0].max() < 3.5
    assert turn_deg[distance_deg > 45.0].max() < 0.6


def test_offsets_along_the_sphere_keep_their_angle():
    p = dome_dir(70.0, 130.0)[None]
    offsets_deg = np.array([[3.0, 0.0], [0.0, -2.0], [1.0, 1.0]])
    dirs = offset_dirs(p, np.radians(offsets_deg))
    angle = np.degrees(np.arccos(np.clip(dirs @ p[0], -1, 1)))
    assert np.allclose(angle, np.hypot(*offsets_deg.T))
    right, up = label_basis(p)
    assert (dirs[0] - p[0]) @ right[0] > 0 and (dirs[1] - p[0]) @ up[0] < 0


def test_the_text_vertex_shader_matches_its_numpy_twin(gl_ctx, painter):
    # Capture the vertex stage's clip positions by transform feedback and compare them with
    # glyph_corner_dirs + fisheye_uv, for labels anywhere on the dome, in a slice's rectangle.
    rng = np.random.default_rng(2)
    anchors = rng.normal(size=(12, 3))
    anchors[:, 2] = np.abs(anchors[:, 2]) + 0.05
    labels = [Label(tuple(a), text, cap, align=align, offset_deg=offset)
              for a, text, cap, align, offset in zip(anchors, ["Véga", "Ab", "T", "Grande Ourse"] * 3,
                                                     [1.2, 3.0, 0.9, 2.0] * 3, ["center", "left", "right"] * 4,
                                                     [(0.0, 0.0), (0.6, 0.0), (0.0, -2.0)] * 4)]
    rotation = rot_x(0.4) @ rot_z(1.0)
    anchors_icrs = [Label(tuple(rotation.T @ np.asarray(l.anchor)), l.text, l.cap_height_deg, align=l.align,
                          offset_deg=l.offset_deg) for l in labels]
    rect = (0.2, 0.1, 0.7, 0.8)
    program = load_program(gl_ctx, "label_text", varyings=["gl_Position", "v_tex", "v_rgba"])
    batch = painter.batch(anchors_icrs)
    count = batch.count
    instances = gl_ctx.buffer(batch.instances.astype(np.float32).tobytes())
    vao = gl_ctx.vertex_array(program, [
        (painter.corners, "2f", "in_corner"),
        (instances, "3f 4f 2f 1f 4f/i", "in_anchor", "in_quad", "in_atlas", "in_rad_per_texel", "in_rgba"),
    ])
    out = gl_ctx.buffer(reserve=count * 4 * 40)
    # A headless EGL context has no default framebuffer, and even a rasteriser-discarding draw needs one.
    fbo = gl_ctx.simple_framebuffer((1, 1))
    fbo.use()
    try:
        program["u_rot"].write(np.ascontiguousarray(rotation.T, dtype=np.float32).tobytes())
        program["u_rect"].value = rect
        program["u_zenith_cap_rad"].value = np.radians(painter.zenith_cap_deg)
        program["u_cull_theta_rad"].value = np.pi  # cull nothing
        program["u_atlas_size"].value = tuple(float(x) for x in painter.atlas.size)
        vao.transform(out, mode=moderngl.POINTS, vertices=4, instances=count)
        captured = np.frombuffer(out.read(), dtype=np.float32).reshape(count, 4, 10)
        clip, tex = captured[..., 0:4], captured[..., 4:6]
    finally:
        release_framebuffers(gl_ctx, fbo)
        for obj in (vao, out, instances, program):
            obj.release()
        batch.release()
    corners = glyph_corner_dirs(batch.instances, rotation, painter.zenith_cap_deg)
    uv = fisheye_uv(corners.reshape(-1, 3)).reshape(count, 4, 2)
    ndc = (uv - rect[:2]) / (np.array(rect[2:]) - rect[:2]) * 2.0 - 1.0
    # float32 on the GPU: 1e-5 of the rectangle is 0.02 px of a 4096 px slice.
    assert np.abs(clip[..., :2] - ndc).max() < 1e-5
    # Texture corners: the quad's atlas rectangle, its top-left texel at the top-left corner (0, 1).
    inst = batch.instances
    top_left = inst[:, 7:9] / painter.atlas.size
    bottom_right = (inst[:, 7:9] + inst[:, 5:7]) / painter.atlas.size
    assert np.allclose(tex[:, 2], top_left, atol=1e-6) and np.allclose(tex[:, 1], bottom_right, atol=1e-6)
    # The twin's glyph quads are angles: a glyph's left edge, next to its anchor, is
    # its quad height x the label's scale long.
    single = glyph_corner_dirs(label_instances(painter.atlas, [Label((0.0, 0.0, 1.0), "I", 2.0)]), np.eye(3))
    edge_deg = np.degrees(np.arccos(np.clip(single[0, 2] @ single[0, 0], -1, 1)))
    assert edge_deg == pytest.approx(painter.atlas.layout("I").quads[0, 3] * 2.0 / painter.atlas.cap_height, rel=1e-4)


# --------------------------------------------------------------------------- rendered text


@pytest.mark.parametrize("text", ["T", "Véga"])
@pytest.mark.parametrize("theta_deg, azimuth_deg", [(0.0, 0.0), (30.0, 30.0), (60.0, 200.0), (85.0, 100.0), (15.0, 180.0)])
def test_label_ink_centroid_is_where_the_twin_puts_it(gl_ctx, painter, text, theta_deg, azimuth_deg):
    label = Label(tuple(dome_dir(theta_deg, azimuth_deg)), text, 3.0)
    image = draw_labels(gl_ctx, painter, [label])
    predicted = to_pixel(label_ink_centre_dir(painter.atlas, label, np.eye(3), painter.zenith_cap_deg))[0]
    error = np.hypot(*(ink_centroid(image) - predicted))
    # Measured on llvmpipe: at most 0.4 px (near the rim, where the fisheye curves the glyphs).
    assert error <= CENTROID_TOLERANCE_PX


def test_a_star_name_stands_to_the_right_of_its_star(gl_ctx, painter):
    stars = SimpleNamespace(hip=np.array([7, 9, 11]), icrs_xyz=np.array([dome_dir(40.0, 20.0), dome_dir(30.0, 90.0),
                                                                         dome_dir(50.0, 250.0)]),
                            mag=np.array([0.5, 3.5, 1.0], np.float32))
    layer = LabelsLayer(gl_ctx, text=painter, stars=stars, star_names={"en": {7: "Bright", 9: "Faint"}},
                        star_style=TextStyle(2.0, (1.0, 1.0, 1.0)))
    try:
        labels = layer.labels("star-names", "en")
        assert [label.text for label in labels] == ["Bright"]  # 9 is too faint, 11 has no name
        view = view_of()
        image = render(gl_ctx, view, lambda: layer.draw(view, "star-names", 1.0))
    finally:
        layer.release()
    predicted = to_pixel(label_ink_centre_dir(painter.atlas, labels[0], np.eye(3), painter.zenith_cap_deg))[0]
    assert np.hypot(*(ink_centroid(image) - predicted)) <= CENTROID_TOLERANCE_PX
    star_px = to_pixel(stars.icrs_xyz[0])[0]
    cols = np.nonzero(image[..., 0].max(axis=0) > 64)[0]
    right, _ = label_basis(stars.icrs_xyz[:1])
    # The star is at the front-right: "right" is mostly +x, so the ink starts to the right of the star.
    assert right[0, 0] > 0.5 and cols.min() > star_px[0] + 0.5 * layer.star_offset_deg * view.px_per_deg


def test_cap_height_is_the_same_angle_at_the_zenith_and_60_degrees_from_it(gl_ctx, painter):
    cap_deg = 6.0
    expected_px = cap_deg * SIZE / 180.0
    heights = []
    for p in (dome_dir(0.0, 0.0), dome_dir(60.0, 0.0)):  # both read upright on the image (front half)
        image = draw_labels(gl_ctx, painter, [Label(tuple(p), "H", cap_deg)])
        rows = np.nonzero(image[..., 0].max(axis=1) >= 128)[0]
        heights.append(rows.max() - rows.min() + 1)
    assert heights[0] == pytest.approx(expected_px, abs=HEIGHT_TOLERANCE_PX)
    assert heights[1] == pytest.approx(expected_px, abs=HEIGHT_TOLERANCE_PX)


@pytest.mark.parametrize("azimuth_deg", [0.0, 90.0, 180.0, 270.0, 135.0])
def test_text_is_upright_for_the_audience(gl_ctx, painter, azimuth_deg):
    # A "T" has its ink mass at its top: its centroid lies above its anchor, toward the
    # domemaster centre (the zenith); an "L" has its stem on the left, read from inside the dome.
    p = dome_dir(50.0, azimuth_deg)
    anchor_px = to_pixel(p)[0]
    toward_centre = (np.array([SIZE / 2 - 0.5, SIZE / 2 - 0.5]) - anchor_px) / np.hypot(*(SIZE / 2 - 0.5 - anchor_px))
    t_image = draw_labels(gl_ctx, painter, [Label(tuple(p), "T", 5.0)])
    assert (ink_centroid(t_image) - anchor_px) @ toward_centre > 1.0
    right_px = to_pixel(offset_dirs(p[None], np.radians([[1.0, 0.0]])))[0] - anchor_px
    l_image = draw_labels(gl_ctx, painter, [Label(tuple(p), "L", 5.0)])
    assert (ink_centroid(l_image) - anchor_px) @ right_px < -0.5
    # Reading direction on the image: at the front (bottom of the image) right is image-right.
    if azimuth_deg == 0.0:
        assert right_px[0] > 0


def test_at_the_zenith_text_reads_as_just_in_front_of_it(gl_ctx, painter):
    image = draw_labels(gl_ctx, painter, [Label((0.0, 0.0, 1.0), "T", 5.0)])
    centroid = ink_centroid(image)
    assert centroid[1] < SIZE / 2 - 0.5 - 1.0  # the bar toward the image top (the dome's back)


def test_accented_letters_have_ink_and_their_accents(gl_ctx, painter):
    atlas = painter.atlas
    accented = "ÉéèêëäöüïçßÀÔœ"
    images = {}
    for text in ("É", "E", "Bételgeuse", "Großer Bär"):
        images[text] = draw_labels(gl_ctx, painter, [Label(tuple(dome_dir(20.0, 0.0)), text, 4.0)])
        assert images[text].max() > 128, text
    if "Pillow" in atlas.font_name:
        pytest.skip("no DejaVu Sans here: the bundled font writes accents unaccented")
    assert all(atlas.has_glyph(c) for c in accented)
    assert images["É"][..., 0].astype(int).sum() > images["E"][..., 0].astype(int).sum() * 1.05


def test_without_dejavu_the_bundled_font_writes_unaccented_and_says_so(gl_ctx, monkeypatch, caplog):
    monkeypatch.setattr(labels_module, "DEFAULT_FONT_PATHS", ())
    with caplog.at_level(logging.WARNING, logger="render.labels"):
        atlas = GlyphAtlas(gl_ctx, cap_height_texels=16, cell_texels=32)
        try:
            assert atlas.font_name == "Pillow bundled font"
            assert atlas.resolve("é") == "e" and atlas.resolve("ß") == "ss" and atlas.resolve("A") == "A"
            atlas.resolve("é")
        finally:
            atlas.release()
    messages = [r.getMessage() for r in caplog.records]
    assert any("fonts-dejavu-core" in m for m in messages)
    assert sum("'é'" in m for m in messages) == 1  # once per character


def test_a_missing_font_file_says_what_to_pass(gl_ctx, tmp_path):
    with pytest.raises(FileNotFoundError, match="pass an existing .ttf/.otf path, or None"):
        GlyphAtlas(gl_ctx, font_path=tmp_path / "nope.ttf")


def test_constellation_names_follow_the_frame_language(gl_ctx, painter):
    point = {"UMa": dome_dir(30.0, 0.0)[None]}
    layer = LabelsLayer(gl_ctx, text=painter, constellation_points=point,
                        constellation_style=TextStyle(3.0, (1.0, 1.0, 1.0)))
    try:
        texts = {lang: [label.text for label in layer.labels("constellation-names", lang)] for lang in ("fr", "en", "de", "nl")}
        images = {}
        for lang in ("fr", "en"):
            view = view_of(language=lang)
            images[lang] = render(gl_ctx, view, lambda: layer.draw(view, "constellation-names", 1.0))
    finally:
        layer.release()
    assert texts == {"fr": ["Grande Ourse"], "en": ["Ursa Major"], "de": ["Großer Bär"], "nl": ["Ursa Major"]}
    assert images["fr"].max() > 128 and images["en"].max() > 128
    assert np.abs(images["fr"].astype(int) - images["en"].astype(int)).sum() > 255 * 20


def test_cardinals_are_localised_at_the_horizon(gl_ctx, painter):
    size = 256
    letters, crops = {}, {}
    style = TextStyle(5.0, (1.0, 1.0, 1.0))  # 7 px tall at 256 px
    layer = LabelsLayer(gl_ctx, text=painter, cardinal_style=style)
    try:
        for lang in ("fr", "en", "de", "nl"):
            labels = layer.labels("cardinals", lang)
            letters[lang] = "".join(label.text for label in labels)
            view = view_of(size, language=lang)
            image = render(gl_ctx, view, lambda: layer.draw(view, "cardinals", 1.0))
            crops[lang] = {}
            for name, label in zip("NESW", labels):
                col, row = to_pixel(np.asarray(label.anchor), size)[0].round().astype(int)
                crops[lang][name] = image[max(row - 8, 0) : row + 9, max(col - 8, 0) : col + 9, 0].astype(int)
            # At the horizon: the anchors stand half a letter and a little above altitude 0.
            alt = np.degrees(np.arcsin([label.anchor[2] for label in labels]))
            assert np.allclose(alt, 0.5 * style.cap_height_deg + 0.6)
    finally:
        layer.release()
    assert letters == {"fr": "NESO", "en": "NESW", "de": "NOSW", "nl": "NOZW"}
    assert letters == {lang: "".join(v) for lang, v in CARDINAL_LETTERS.items()}
    for lang in ("fr", "en"):
        assert crops[lang]["W"].max() > 128
    assert np.abs(crops["fr"]["W"] - crops["en"]["W"]).sum() > 255 * 5  # "O" is not "W"
    assert np.abs(crops["de"]["W"] - crops["en"]["W"]).sum() == 0       # both "W"
    assert np.abs(crops["fr"]["N"] - crops["nl"]["N"]).sum() == 0
    assert np.abs(crops["nl"]["S"] - crops["en"]["S"]).sum() > 255 * 5  # "Z" is not "S"


def test_opacity_scales_text(gl_ctx, painter):
    label = Label(tuple(dome_dir(20.0, 40.0)), "Orion", 6.0)
    full = draw_labels(gl_ctx, painter, [label], opacity=1.0)
    half = draw_labels(gl_ctx, painter, [label], opacity=0.5)
    none = draw_labels(gl_ctx, painter, [label], opacity=0.0)
    lit = full[..., 0] > 0
    assert full.max() == 255
    assert np.abs(half[..., 0][lit].astype(int) - np.round(full[..., 0][lit] * 0.5)).max() <= 1
    assert none.max() == 0


def test_labels_layer_checks_its_names(gl_ctx, painter):
    layer = LabelsLayer(gl_ctx, text=painter)
    try:
        with pytest.raises(ValueError, match="constellation-names, star-names, planet-names, cardinals"):
            layer.draw(view_of(64), "overlays", 1.0)
        with pytest.raises(ValueError, match="cardinal points exist for fr, en, de, nl"):
            layer.labels("cardinals", "it")
    finally:
        layer.release()


def test_a_slice_equals_the_same_pixels_of_the_full_render(gl_ctx, painter):
    size = 512
    enu_from_icrs = rot_x(0.7) @ rot_z(2.1) @ rot_x(-0.3)
    view_rot = dome_from_enu(40.0, 10.0, 15.0)
    layer = LabelsLayer(gl_ctx, text=painter)
    try:
        full_view = view_of(size, view_rot, enu_from_icrs, language="fr")
        c0, c1, r0, r1 = 96, 352, 160, 448
        rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
        part_view = view_of(size, view_rot, enu_from_icrs, rect=rect, size_px=(c1 - c0, r1 - r0), language="fr")

        def draw(view):
            return lambda: [layer.draw(view, name, 1.0) for name in layer.names]

        full = render(gl_ctx, full_view, draw(full_view))
        part = render(gl_ctx, part_view, draw(part_view))
    finally:
        layer.release()
    expected = full[r0:r1, c0:c1]
    assert (expected > 60).sum() > 300
    assert np.abs(part.astype(int) - expected.astype(int)).max() <= SLICE_TOLERANCE_LEVELS


def test_planet_names_follow_the_bodies_in_every_language():
    from domectl.frame import BodyView
    from render.labels import STAR_NAMES_STYLE, LabelsLayer

    layer = LabelsLayer.__new__(LabelsLayer)          # the label list is plain data: no GL needed
    layer.styles = {"planet-names": STAR_NAMES_STYLE}
    layer.star_offset_deg = 0.8
    bodies = (BodyView("Moon", (0.0, 1.0, 0.0), 0.0026, -12.0, 0.5, 1.0, 0.0, 0.0),
              BodyView("Earth", (1.0, 0.0, 0.0), 0.0001, -4.0, 40.0, 0.5, 90.0, 0.0))
    fr = layer.body_labels(bodies, "fr")
    assert [label.text for label in fr] == ["Lune", "Terre"]
    assert [label.text for label in layer.body_labels(bodies, "nl")] == ["Maan", "Aarde"]
    assert fr[0].anchor == (0.0, 1.0, 0.0)
    # The name sits beside the disc, however big the body is on the dome (at most 20 deg off).
    assert fr[0].offset_deg[0] == pytest.approx(0.8 + 0.25) and fr[1].offset_deg[0] == pytest.approx(0.8 + 20.0)
