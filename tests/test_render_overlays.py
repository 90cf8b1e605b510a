"""The pointer and the overlays: ring on its object, names, texts and images on the dome, bad files, slices."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import moderngl
import numpy as np
import pytest
from PIL import Image

from domectl import skydata
from domectl.projection import altaz_to_enu, dome_from_enu, fisheye_uv, rot_x, rot_z
from test_render_lines import render  # one frame harness for the vector and text layers
from render.context import release_framebuffers
from render.labels import Label, TextPainter, label_ink_centre_dir
from render.layers import LayerView, Overlay
from render.lines import LinePainter
from render.overlays import IMAGE_GRID, OverlaysLayer, image_grid_dirs, overlay_dir
from render.pointer import (
    HIGHLIGHT_STYLE,
    PointerLayer,
    resolve_pointer,
    ring_phase_deg,
    ring_polylines,
)
from render.shaders import load_program

#: The brief's bounds: the ring's centre and a text overlay's ink centroid against the twin.
CENTRE_TOLERANCE_PX = 1.0
#: An image overlay against the image, both resampled bilinearly: smooth content, 8-bit levels
#: (measured on llvmpipe: 1.2).
IMAGE_TOLERANCE_LEVELS = 4
SLICE_TOLERANCE_LEVELS = 2


@pytest.fixture(scope="module")
def painters(_gl_session_ctx):
    text, lines = TextPainter(_gl_session_ctx), LinePainter(_gl_session_ctx)
    yield text, lines
    text.release()
    lines.release()


def body(name, enu, angular_diameter_deg=0.0):
    return SimpleNamespace(name=name, enu=np.asarray(enu, dtype=np.float64), mag=0.0,
                           angular_diameter_deg=angular_diameter_deg, phase_angle_deg=0.0)


def view_of(size=512, dome_from_enu_=np.eye(3), enu_from_icrs=np.eye(3), rect=(0.0, 0.0, 1.0, 1.0), size_px=None,
            **fields) -> LayerView:
    return LayerView(rect_uv=rect, size_px=size_px or (size, size), dome_from_enu=np.asarray(dome_from_enu_),
                     enu_from_icrs=np.asarray(enu_from_icrs), **fields)




def to_pixel(dome_dirs: np.ndarray, size: int) -> np.ndarray:
    uv = fisheye_uv(np.atleast_2d(dome_dirs))
    return np.stack([uv[:, 0] * size - 0.5, (1.0 - uv[:, 1]) * size - 0.5], axis=-1)


def centroid(weights: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    return np.array([(weights * cols).sum(), (weights * rows).sum()]) / weights.sum()


def bilinear(image: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """(H, W, C) image at continuous (col, row) pixel-centre coordinates -> (N, C)."""
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    fc, fr = (col - c0)[:, None], (row - r0)[:, None]
    at = lambda r, c: image[np.clip(r, 0, image.shape[0] - 1), np.clip(c, 0, image.shape[1] - 1)].astype(float)  # noqa: E731
    return (at(r0, c0) * (1 - fc) * (1 - fr) + at(r0, c0 + 1) * fc * (1 - fr)
            + at(r0 + 1, c0) * (1 - fc) * fr + at(r0 + 1, c0 + 1) * fc * fr)


# --------------------------------------------------------------------------- pointer


def test_resolve_pointer_finds_bodies_stars_and_constellations():
    mars = body("mars", altaz_to_enu(40.0, 120.0))
    stars = skydata.load_stars()
    fr = dict(stars=stars, star_names=skydata.load_star_names("fr"),
              constellation_points=skydata.load_constellation_labels(),
              constellation_names=skydata.load_constellation_names("fr"))
    target = resolve_pointer("Mars", "de", (mars,), **fr)
    assert (target.kind, target.frame, target.label) == ("body", "enu", "Mars")
    assert np.allclose(target.directions[0], mars.enu)
    star = resolve_pointer("HIP 27989", "fr", (), **fr)
    assert (star.kind, star.frame, star.label) == ("star", "icrs", "Bételgeuse")
    assert np.allclose(star.directions[0], stars.icrs_xyz[np.nonzero(stars.hip == 27989)[0][0]])
    assert resolve_pointer("hip 118322", "fr", (), **fr).label == "HIP 118322"  # unnamed: its number
    ori = resolve_pointer("ori", "fr", (), **fr)
    assert (ori.kind, ori.key, ori.label) == ("constellation", "Ori", "Orion")
    assert resolve_pointer("Ser", "fr", (), **fr).directions.shape == (2, 3)  # Serpens: two parts
    assert resolve_pointer("", "fr", (), **fr) is None
    assert resolve_pointer("HIP 999999999", "fr", (), **fr) is None
    assert resolve_pointer("nibiru", "fr", (), **fr) is None
    moon = resolve_pointer("moon", "nl", (body("moon", [0, 0, 1.0], 0.52),), base_radius_deg=1.5)
    assert moon.label == "Maan" and moon.radius_deg == 1.5
    sun = resolve_pointer("sun", "fr", (body("sun", [0, 0, 1.0], 4.0),), base_radius_deg=1.5)
    assert sun.label == "Soleil" and sun.radius_deg == pytest.approx(2.5)  # clear of a large disc


def test_ring_arcs_are_at_their_radius_and_turn_with_the_view_time():
    centre = altaz_to_enu(30.0, 250.0)
    arcs = ring_polylines(centre, 2.0, 0.0)
    assert len(arcs) == 3
    angles = np.degrees(np.arccos(np.clip(np.concatenate(arcs) @ centre, -1, 1)))
    assert np.allclose(angles, 2.0)
    turned = ring_polylines(centre, 2.0, 60.0)
    assert not np.allclose(turned[0], arcs[0])
    assert ring_phase_deg(SimpleNamespace(time_s=1.0)) == pytest.approx(30.0)
    assert ring_phase_deg(view_of(8)) == 0.0  # no time in the view: the ring stands still


def test_the_ring_is_centred_on_mars(gl_ctx, painters):
    text, lines = painters
    size = 1024
    mars = body("mars", altaz_to_enu(35.0, 160.0))
    rotation = dome_from_enu(150.0, 10.0, 20.0)
    layer = PointerLayer(gl_ctx, text=text, lines=lines, ring_radius_deg=4.0, label_gap_deg=1.5)
    view = view_of(size, rotation, bodies=(mars,), pointer="mars", language="fr")
    try:
        image = render(gl_ctx, view, lambda: layer.draw(view, "pointer", 1.0))
    finally:
        layer.release()
    predicted = to_pixel(rotation @ mars.enu, size)[0]
    rows, cols = np.mgrid[0:size, 0:size]
    inside = np.hypot(cols - predicted[0], rows - predicted[1]) <= (4.0 + 0.7) * view.px_per_deg
    ring = np.where(inside, image[..., 0].astype(float), 0.0)
    assert ring.sum() > 255 * 50
    assert np.hypot(*(centroid(ring) - predicted)) <= CENTRE_TOLERANCE_PX
    # The name stands below the ring (away from the zenith), in the frame's language.
    label_ink = np.where(inside, 0.0, image[..., 0].astype(float))
    assert label_ink.sum() > 255 * 20
    to_zenith = np.array([size / 2 - 0.5, size / 2 - 0.5]) - predicted
    assert (centroid(label_ink) - predicted) @ to_zenith < 0


def test_the_pointer_on_a_constellation_brightens_its_figure_and_names_it(gl_ctx, painters):
    text, lines = painters
    ori = skydata.load_constellation_labels()["Ori"][0]
    # Put Orion's label point at the zenith.
    z = ori / np.linalg.norm(ori)
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    enu_from_icrs = np.stack([x, np.cross(z, x), z])
    layer = PointerLayer(gl_ctx, text=text, lines=lines)
    view = view_of(256, np.eye(3), enu_from_icrs, pointer="Ori", language="de")
    try:
        image = render(gl_ctx, view, lambda: layer.draw(view, "pointer", 1.0))
        assert layer.last_target.label == "Orion"
    finally:
        layer.release()
    highlight = np.round(np.asarray(HIGHLIGHT_STYLE.rgb) * 255)
    figure = np.all(np.abs(image.astype(int) - highlight) <= 2, axis=-1)
    assert figure.sum() > 40
    centre = 127.5
    rows, cols = np.nonzero(image.max(axis=-1) > 0)
    assert np.hypot(cols - centre, rows - centre).max() < 0.2 * 256  # Orion, ~ +-20 deg around the zenith


def test_an_unknown_pointer_draws_nothing_and_is_logged_once(gl_ctx, painters, caplog):
    text, lines = painters
    layer = PointerLayer(gl_ctx, text=text, lines=lines)
    view = view_of(128, pointer="Nibiru")
    try:
        with caplog.at_level(logging.WARNING, logger="render.pointer"):
            images = [render(gl_ctx, view, lambda: layer.draw(view, "pointer", 1.0)) for _ in range(2)]
    finally:
        layer.release()
    assert all(image.max() == 0 for image in images)
    assert sum("'Nibiru'" in r.getMessage() for r in caplog.records) == 1


# --------------------------------------------------------------------------- overlays


def test_a_text_overlay_appears_at_its_dome_position(gl_ctx, painters):
    text, _ = painters
    overlay = Overlay("text", "Début", dome_az_deg=-40.0, dome_elev_deg=55.0, size_deg=4.0, rgb=(1.0, 1.0, 1.0))
    layer = OverlaysLayer(gl_ctx, text=text)
    view = view_of(512, rot_x(0.5), overlays=(overlay,))  # the view rotation does not move dome overlays
    try:
        image = render(gl_ctx, view, lambda: layer.draw(view, "overlays", 1.0))
    finally:
        layer.release()
    anchor = overlay_dir(-40.0, 55.0)
    assert np.allclose(anchor, altaz_to_enu(55.0, -40.0))  # left of the front, 55 deg up
    label = Label(tuple(anchor), "Début", 4.0)
    predicted = to_pixel(label_ink_centre_dir(text.atlas, label, np.eye(3), text.zenith_cap_deg), 512)[0]
    assert np.hypot(*(centroid(image[..., 0].astype(float)) - predicted)) <= CENTRE_TOLERANCE_PX


def test_multi_line_text_overlays_stack_their_lines(gl_ctx, painters):
    text, _ = painters
    layer = OverlaysLayer(gl_ctx, text=text)
    one = view_of(256, overlays=(Overlay("text", "Vote", 0.0, 60.0, 6.0),))
    two = view_of(256, overlays=(Overlay("text", "Vote\nStemmen", 0.0, 60.0, 6.0),))
    try:
        a = render(gl_ctx, one, lambda: layer.draw(one, "overlays", 1.0))
        b = render(gl_ctx, two, lambda: layer.draw(two, "overlays", 1.0))
    finally:
        layer.release()
    rows_a = np.nonzero(a[..., 0].max(axis=1) > 64)[0]
    rows_b = np.nonzero(b[..., 0].max(axis=1) > 64)[0]
    assert rows_b.max() - rows_b.min() > 1.8 * (rows_a.max() - rows_a.min())


def smooth_image(width: int = 64, height: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    rgb = np.stack([0.5 + 0.4 * np.sin(2 * np.pi * x), 0.5 + 0.4 * np.cos(2 * np.pi * y), 0.2 + 0.6 * x * y], axis=-1)
    return np.round(rgb * 255).astype(np.uint8)


def test_an_image_overlay_shows_the_image(gl_ctx, painters, tmp_path):
    text, _ = painters
    pixels = smooth_image()
    path = tmp_path / "smooth.png"
    Image.fromarray(pixels).save(path)
    size, height_deg = 512, 24.0
    layer = OverlaysLayer(gl_ctx, text=text)
    overlay = Overlay("image", str(path), dome_az_deg=30.0, dome_elev_deg=60.0, size_deg=height_deg)
    view = view_of(size, overlays=(overlay,))
    try:
        image = render(gl_ctx, view, lambda: layer.draw(view, "overlays", 1.0))
    finally:
        layer.release()
    # Where the twin puts image points, the render shows the image's colour there.
    gy, gx = np.mgrid[0.08:0.92:15j, 0.08:0.92:15j]
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    dirs = image_grid_dirs(overlay_dir(30.0, 60.0), height_deg * 64 / 48, height_deg, grid, text.zenith_cap_deg)
    px = to_pixel(dirs, size)
    rendered = bilinear(image, px[:, 0], px[:, 1])
    expected = bilinear(pixels, grid[:, 0] * 64 - 0.5, (1.0 - grid[:, 1]) * 48 - 0.5)
    assert np.abs(rendered - expected).max() <= IMAGE_TOLERANCE_LEVELS


def test_the_image_vertex_shader_matches_its_numpy_twin(gl_ctx):
    program = load_program(gl_ctx, "overlay_image", varyings=["gl_Position", "v_tex"])
    n = IMAGE_GRID
    gy, gx = np.mgrid[0 : n + 1, 0 : n + 1] / n
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    buffer = gl_ctx.buffer(grid.astype(np.float32).tobytes())
    vao = gl_ctx.vertex_array(program, [(buffer, "2f", "in_grid")])
    out = gl_ctx.buffer(reserve=len(grid) * 24)
    fbo = gl_ctx.simple_framebuffer((1, 1))  # headless EGL: even this draw needs a framebuffer
    fbo.use()
    anchor, rect = overlay_dir(200.0, 80.0), (0.3, 0.3, 0.7, 0.7)
    try:
        program["u_anchor"].value = tuple(anchor)
        program["u_half_size_rad"].value = (np.radians(15.0), np.radians(10.0))
        program["u_zenith_cap_rad"].value = np.radians(25.0)
        program["u_rect"].value = rect
        vao.transform(out, mode=moderngl.POINTS, vertices=len(grid))
        captured = np.frombuffer(out.read(), dtype=np.float32).reshape(len(grid), 6)
    finally:
        release_framebuffers(gl_ctx, fbo)
        for obj in (vao, out, buffer, program):
            obj.release()
    uv = fisheye_uv(image_grid_dirs(anchor, 30.0, 20.0, grid, 25.0))
    ndc = (uv - rect[:2]) / (np.array(rect[2:]) - rect[:2]) * 2.0 - 1.0
    assert np.abs(captured[:, 0:2] - ndc).max() < 1e-5
    assert np.allclose(captured[:, 4:6], np.stack([grid[:, 0], 1.0 - grid[:, 1]], axis=-1))


def test_missing_and_unreadable_images_are_skipped_and_logged_once(gl_ctx, painters, tmp_path, caplog):
    text, _ = painters
    missing, garbage = tmp_path / "missing.png", tmp_path / "garbage.png"
    garbage.write_bytes(b"not a png at all")
    overlays = (Overlay("image", str(missing), 0.0, 45.0, 10.0), Overlay("image", str(garbage), 90.0, 45.0, 10.0),
                Overlay("text", "OK", 0.0, 80.0, 8.0), Overlay("video", "clip.mp4", 0.0, 30.0, 10.0))
    layer = OverlaysLayer(gl_ctx, text=text)
    view = view_of(128, overlays=overlays)
    try:
        with caplog.at_level(logging.WARNING, logger="render.overlays"):
            first = render(gl_ctx, view, lambda: layer.draw(view, "overlays", 1.0))
            render(gl_ctx, view, lambda: layer.draw(view, "overlays", 1.0))
        messages = [r.getMessage() for r in caplog.records]
        assert sum(str(missing) in m for m in messages) == 1
        assert sum(str(garbage) in m and "not a readable image" in m for m in messages) == 1
        assert sum("'video' unknown" in m for m in messages) == 1
        assert first.max() > 128  # the text overlay is still drawn
        # A file that appears (or is fixed) later is picked up on the next draw.
        Image.fromarray(np.full((8, 8, 3), 255, np.uint8)).save(missing)
        fixed = render(gl_ctx, view, lambda: layer.draw(view, "overlays", 1.0))
    finally:
        layer.release()
    front = to_pixel(overlay_dir(0.0, 45.0), 128)[0].round().astype(int)
    assert first[front[1], front[0]].max() == 0 and fixed[front[1], front[0]].min() == 255


def test_overlay_opacity_multiplies_the_layer_opacity(gl_ctx, painters, tmp_path):
    text, _ = painters
    path = tmp_path / "white.png"
    Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(path)
    layer = OverlaysLayer(gl_ctx, text=text)
    try:
        levels = []
        for overlay_opacity, layer_opacity in ((1.0, 1.0), (0.5, 1.0), (0.5, 0.5), (1.0, 0.0)):
            view = view_of(128, overlays=(Overlay("image", str(path), 0.0, 90.0, 20.0, opacity=overlay_opacity),))
            image = render(gl_ctx, view, lambda: layer.draw(view, "overlays", layer_opacity))
            levels.append(int(image[63, 63, 0]))
    finally:
        layer.release()
    assert levels[0] == 255
    assert levels[1] == pytest.approx(128, abs=1)
    assert levels[2] == pytest.approx(64, abs=1)
    assert levels[3] == 0


def test_a_slice_equals_the_same_pixels_of_the_full_render(gl_ctx, painters, tmp_path):
    text, lines = painters
    path = tmp_path / "smooth.png"
    Image.fromarray(smooth_image()).save(path)
    size = 512
    overlays = (Overlay("image", str(path), 20.0, 50.0, 20.0), Overlay("text", "Zénith\nZenit", 0.0, 88.0, 4.0))
    mars = body("mars", altaz_to_enu(45.0, 200.0))
    rotation = dome_from_enu(180.0, 5.0, 10.0) @ rot_z(0.1)
    pointer = PointerLayer(gl_ctx, text=text, lines=lines)
    layer = OverlaysLayer(gl_ctx, text=text)
    try:
        full_view = view_of(size, rotation, overlays=overlays, bodies=(mars,), pointer="mars", language="nl")
        c0, c1, r0, r1 = 160, 416, 96, 352
        rect = (c0 / size, 1 - r1 / size, c1 / size, 1 - r0 / size)
        part_view = view_of(size, rotation, rect=rect, size_px=(c1 - c0, r1 - r0), overlays=overlays,
                            bodies=(mars,), pointer="mars", language="nl")

        def draw(view):
            return lambda: (pointer.draw(view, "pointer", 1.0), layer.draw(view, "overlays", 1.0))

        full = render(gl_ctx, full_view, draw(full_view))
        part = render(gl_ctx, part_view, draw(part_view))
    finally:
        pointer.release()
        layer.release()
    expected = full[r0:r1, c0:c1]
    assert (expected > 60).sum() > 1000
    assert np.abs(part.astype(int) - expected.astype(int)).max() <= SLICE_TOLERANCE_LEVELS
