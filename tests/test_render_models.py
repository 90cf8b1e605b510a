"""3D models (render/models.py): placed where ODS and the fisheye put them, lit from the Sun's side,
hidden by nearer faces, fixed on the dome when asked, faded by their opacity, skipped when broken."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_render_spheres import dome_view, draw

from domectl.frame import ModelView
from domectl.projection import altaz_to_enu
from render.models import (
    MAX_ZENITH_DEG,
    expand_triangles,
    model_shade,
    project_vertices,
)

SEPARATION_M = 0.064
#: A model's rendered centroid vs the projection of its centre, pixels (perspective of a small
#: symmetric model shifts its silhouette's centroid by far less).
CENTROID_TOLERANCE_PX = 0.5
IDENTITY = tuple(np.eye(3).ravel())


def write_obj(folder: Path, name: str, positions, faces, *, normals=None, colour=(0.8, 0.8, 0.8)) -> Path:
    """A small OBJ (and its MTL with one colour) in ``folder``; faces: 1-based vertex indices."""
    (folder / f"{name}.mtl").write_text(f"newmtl paint\nKd {colour[0]} {colour[1]} {colour[2]}\n")
    lines = [f"mtllib {name}.mtl", "usemtl paint"]
    lines += [f"v {x} {y} {z}" for x, y, z in positions]
    if normals is not None:
        lines += [f"vn {x} {y} {z}" for x, y, z in normals]
        lines += ["f " + " ".join(f"{i}//{i}" for i in face) for face in faces]
    else:
        lines += ["f " + " ".join(str(i) for i in face) for face in faces]
    path = folder / f"{name}.obj"
    path.write_text("\n".join(lines) + "\n")
    return path


def uv_sphere(folder: Path, name: str, colour=(0.8, 0.8, 0.8), rings: int = 12, segments: int = 24) -> Path:
    """A unit UV sphere with smooth normals, counter-clockwise seen from outside."""
    positions = [(0.0, 0.0, 1.0)]
    for i in range(1, rings):
        theta = math.pi * i / rings
        for j in range(segments):
            phi = 2.0 * math.pi * j / segments
            positions.append((math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)))
    positions.append((0.0, 0.0, -1.0))
    ring = lambda i, j: 2 + (i - 1) * segments + j % segments
    faces = [(1, ring(1, j), ring(1, j + 1)) for j in range(segments)]
    for i in range(1, rings - 1):
        for j in range(segments):
            faces.append((ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)))
    bottom = len(positions)
    faces += [(ring(rings - 1, j + 1), ring(rings - 1, j), bottom) for j in range(segments)]
    return write_obj(folder, name, positions, faces, normals=positions, colour=colour)


def square(folder: Path, name: str, colour) -> Path:
    """A unit square in the model's x-y plane, facing +z."""
    return write_obj(folder, name, [(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [(1, 2, 3, 4)], colour=colour)


@pytest.fixture
def models(tmp_path):
    """A loader of the OBJ files written into tmp_path (domectl.meshes.load_obj)."""
    from domectl.meshes import load_obj

    uv_sphere(tmp_path, "ball")
    square(tmp_path, "red", (1.0, 0.0, 0.0))
    square(tmp_path, "green", (0.0, 1.0, 0.0))
    return lambda name: load_obj(tmp_path / f"{name}.obj")


def lit_centroid(image: np.ndarray) -> np.ndarray:
    light = ((image.astype(np.float64) / 255.0) ** 2.2).sum(axis=-1)
    rows, cols = np.indices(light.shape)
    return np.array([(light * cols).sum(), (light * rows).sum()]) / light.sum()


def to_pixel(view, window: np.ndarray) -> np.ndarray:
    """Window px (from the bottom-left) -> (col, row from the top) of a read-back image."""
    return np.stack([window[..., 0] - 0.5, view.size_px[1] - window[..., 1] - 0.5], axis=-1)


def ball(position_enu, *, scale=0.1, on_dome=False, opacity=1.0, name="ball") -> ModelView:
    return ModelView(name, on_dome, tuple(float(x) for x in position_enu), IDENTITY, scale, opacity)


@pytest.mark.parametrize("eye", [-1, 0, 1])
def test_a_model_renders_where_ods_puts_it(gl_ctx, models, eye):
    position = altaz_to_enu(20.0, 170.0) * 2.0
    model = ball(position)
    view = dome_view(512, eye=eye, separation_m=SEPARATION_M, models=[model])   # no Sun: unshaded
    image = draw(gl_ctx, view, ["models"], models=models)
    window, _ = project_vertices(view, model, np.zeros((1, 3)))
    expected = to_pixel(view, window)[0]
    assert np.hypot(*(lit_centroid(image) - expected)) < CENTROID_TOLERANCE_PX
    if eye:
        # And the eyes differ by the stereo shift (a model 2 m away: about 1.8 deg, 5 px).
        other, _ = project_vertices(dome_view(512, eye=-eye, separation_m=SEPARATION_M), model, np.zeros((1, 3)))
        assert np.hypot(*(window - other)[0]) > 4.0


def test_a_model_is_lit_on_the_suns_side(gl_ctx, models):
    position = altaz_to_enu(30.0, 180.0) * 3.0
    sun = altaz_to_enu(0.0, 90.0)                                   # the east: the image's left
    model = ball(position, scale=0.3)
    view = dome_view(384, models=[model], sun_enu=sun)
    image = draw(gl_ctx, view, ["models"], models=models)
    window, _ = project_vertices(view, model, np.zeros((1, 3)))
    centre = to_pixel(view, window)[0]
    light = ((image.astype(float) / 255.0) ** 2.2).sum(axis=-1)
    rows, cols = np.nonzero(light > 0)
    west, east = light[rows, cols][cols > centre[0] + 3], light[rows, cols][cols < centre[0] - 3]
    assert east.mean() > 3.0 * west.mean()
    # The night side keeps the ambient light: visible, dim.
    assert west.min() > 0
    # The shading's numpy twin: ambient + (1 - ambient) max(n.sun, 0).
    normals = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(model_shade(normals, np.array([1.0, 0.0, 0.0]), 0.15), [1.0, 0.15, 0.15])
    np.testing.assert_allclose(model_shade(normals, np.zeros(3)), 1.0)


@pytest.mark.parametrize("order", [("red", "green"), ("green", "red")])
def test_a_near_face_hides_a_far_one(gl_ctx, models, order):
    direction = altaz_to_enu(40.0, 180.0)
    # Squares facing the observer: rotate the model's +z onto -direction.
    z = -direction
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    frame = np.stack([x, np.cross(z, x), z], axis=1)                 # columns: the model's axes in ENU
    near = ModelView("red", False, tuple(direction * 2.0), tuple(frame.ravel()), 0.2, 1.0)
    far = ModelView("green", False, tuple(direction * 4.0), tuple(frame.ravel()), 0.8, 1.0)
    shown = {"red": near, "green": far}
    view = dome_view(256, models=[shown[n] for n in order])
    image = draw(gl_ctx, view, ["models"], models=models)
    window, _ = project_vertices(view, near, np.zeros((1, 3)))
    col, row = np.round(to_pixel(view, window)[0]).astype(int)
    assert tuple(image[row, col]) == (255, 0, 0)                    # the near red square
    assert (image[..., 1] == 255).sum() > 100                       # the far green one around it


def test_models_on_the_dome_ignore_the_view_and_the_zoom(gl_ctx, models):
    on_dome = ModelView("ball", True, (0.0, 3.0, 1.5), IDENTITY, 0.2, 1.0)
    in_sky = ball(altaz_to_enu(25.0, 180.0) * 3.0, scale=0.2)
    a = draw(gl_ctx, dome_view(256, models=[on_dome], view_az_deg=180.0), ["models"], models=models)
    b = draw(gl_ctx, dome_view(256, models=[on_dome], view_az_deg=120.0, view_alt_deg=20.0, zoom=3.0),
             ["models"], models=models)
    assert a.max() > 100
    np.testing.assert_array_equal(a, b)
    c = draw(gl_ctx, dome_view(256, models=[in_sky], view_az_deg=180.0), ["models"], models=models)
    d = draw(gl_ctx, dome_view(256, models=[in_sky], view_az_deg=150.0), ["models"], models=models)
    assert np.hypot(*(lit_centroid(c) - lit_centroid(d))) > 10.0


def test_opacity_zero_draws_nothing(gl_ctx, models):
    position = altaz_to_enu(30.0, 180.0) * 3.0
    view = dome_view(128, models=[ball(position, opacity=0.0)])
    assert draw(gl_ctx, view, ["models"], models=models).max() == 0
    view = dome_view(128, models=[ball(position)])
    assert draw(gl_ctx, view, {"models": 0.0}, models=models).max() == 0
    full = draw(gl_ctx, view, ["models"], models=models).astype(float)
    half = draw(gl_ctx, view, {"models": 0.5}, models=models).astype(float)
    assert full.max() > 100 and half.max() == pytest.approx(0.5 * full.max(), abs=2.0)


def test_a_missing_model_is_skipped_and_said_once(gl_ctx, models, caplog):
    from domectl.meshes import MeshError

    def loader(name):
        if name == "nope":
            raise MeshError("model 'nope': no nope.obj")
        return models(name)

    position = altaz_to_enu(30.0, 180.0) * 3.0
    view = dome_view(128, models=[ball(position, name="nope"), ball(position * 1.5)])
    image = draw(gl_ctx, view, ["models"], models=loader)
    assert image.max() > 100                                        # the good one still drawn
    assert caplog.text.count("model 'nope' cannot be drawn") == 1


def test_triangles_toward_the_nadir_are_dropped_whole(gl_ctx, tmp_path):
    # A big triangle around the observer's feet with one corner below MAX_ZENITH_DEG from the
    # zenith would smear across the image; it is dropped, the triangle above it is kept.
    from domectl.meshes import load_obj

    low = math.radians(MAX_ZENITH_DEG + 10.0)
    below = (0.0, 3.0 * math.sin(low), 3.0 * math.cos(low))
    write_obj(tmp_path, "low", [(-1.0, 2.0, 0.5), (1.0, 2.0, 0.5), below], [(1, 2, 3)])
    write_obj(tmp_path, "high", [(-1.0, 2.0, 0.5), (1.0, 2.0, 0.5), (0.0, 2.0, 1.5)], [(1, 2, 3)])
    loader = lambda name: load_obj(tmp_path / f"{name}.obj")
    view = dome_view(256, models=[ModelView("low", True, (0.0, 0.0, 0.0), IDENTITY, 1.0, 1.0)])
    assert draw(gl_ctx, view, ["models"], models=loader).max() == 0
    view = dome_view(256, models=[ModelView("high", True, (0.0, 0.0, 0.0), IDENTITY, 1.0, 1.0)])
    assert draw(gl_ctx, view, ["models"], models=loader).max() > 100


def test_expanded_triangles_carry_their_corners():
    from types import SimpleNamespace

    mesh = SimpleNamespace(positions=np.arange(12, dtype=np.float32).reshape(4, 3),
                           normals=np.eye(4, 3, dtype=np.float32), colours=np.full((4, 3), 0.5, np.float32),
                           triangles=np.array([[0, 1, 2], [2, 3, 0]], np.uint32))
    rows = expand_triangles(mesh)
    assert rows.shape == (6, 16)
    np.testing.assert_array_equal(rows[4, 0:9], mesh.positions[[2, 3, 0]].ravel())
    np.testing.assert_array_equal(rows[:, 9], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(rows[4, 10:13], mesh.normals[3])


def test_committed_models_load_and_draw(gl_ctx):
    meshes = pytest.importorskip("domectl.meshes")
    names = meshes.available_models()
    if not names:
        pytest.skip("no committed models in this checkout")
    position = altaz_to_enu(30.0, 180.0)
    mesh = meshes.load_model(names[0])
    scale = 1.0 / max(mesh.bounding_radius, 1e-9)                   # 1 m across, 10 m away
    view = dome_view(256, models=[ModelView(names[0], False, tuple(position * 10.0), IDENTITY, scale, 1.0)],
                     sun_enu=altaz_to_enu(40.0, 90.0))
    assert draw(gl_ctx, view, ["models"]).max() > 20
