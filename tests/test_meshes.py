"""domectl.meshes: the OBJ/MTL parser, its errors, and the committed models."""

from __future__ import annotations

import numpy as np
import pytest

from domectl import meshes
from domectl.errors import DomectlError
from domectl.meshes import Mesh, MeshError, load_obj, parse_mtl, parse_obj

MM = 1e-3  # metres

SQUARE = """\
# a unit square in the z = 0 plane, seen from +z
o square
g face
s off
v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
f 1 2 3 4
"""


def test_polygon_is_fan_triangulated_with_a_computed_face_normal():
    mesh = parse_obj(SQUARE, "square.obj")
    assert isinstance(mesh, Mesh)
    assert mesh.triangles.tolist() == [[0, 1, 2], [0, 2, 3]]
    assert mesh.positions.dtype == np.float32 and mesh.positions.shape == (4, 3)
    assert mesh.triangles.dtype == np.uint32
    np.testing.assert_allclose(mesh.normals, [[0, 0, 1]] * 4)
    np.testing.assert_allclose(mesh.colours, [meshes.DEFAULT_COLOUR] * 4)
    assert mesh.bounding_radius == pytest.approx(np.sqrt(2))


def test_all_face_reference_forms_and_negative_indices():
    text = """\
v 0 0 0
v 1 0 0
v 0 1 0
vt 0 0
vt 1 0
vt 0 1
vn 0 0 2
f 1 2 3
f 1/1 2/2 3/3
f 1//1 2//1 3//1
f 1/1/1 2/2/1 3/3/1
f -3/-3/-1 -2/-2/-1 -1/-1/-1
"""
    mesh = parse_obj(text, "forms.obj")
    assert mesh.triangles.shape == (5, 3)
    # The last three faces share (position, normal, colour): one set of vertices; the first two
    # share the computed face normal, which equals the given one, but by a different key.
    np.testing.assert_allclose(mesh.normals[mesh.triangles[2:]].reshape(-1, 3), [[0, 0, 1]] * 9)
    assert mesh.triangles[2].tolist() == mesh.triangles[3].tolist() == mesh.triangles[4].tolist()
    np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-6)


def test_flat_faces_keep_their_normals_by_splitting_vertices():
    # Two faces of a cube edge share positions 2 and 3 but keep their own normals.
    text = """\
v 0 0 0
v 1 0 0
v 1 0 1
v 0 0 1
v 1 1 0
v 1 1 1
f 1 2 3 4
f 2 5 6 3
"""
    mesh = parse_obj(text, "edge.obj")
    assert len(mesh.positions) == 8
    normals = {tuple(np.round(n, 6)) for n in mesh.normals}
    assert normals == {(0.0, -1.0, 0.0), (1.0, 0.0, 0.0)}


def test_smoothing_group_averages_face_normals():
    text = """\
v 0 0 0
v 1 0 0
v 1 0 1
v 0 0 1
v 1 1 0
v 1 1 1
s 1
f 1 2 3 4
f 2 5 6 3
"""
    mesh = parse_obj(text, "smooth.obj")
    assert len(mesh.positions) == 6
    shared = [i for i, p in enumerate(mesh.positions.tolist()) if p in ([1, 0, 0], [1, 0, 1])]
    np.testing.assert_allclose(mesh.normals[shared], [[np.sqrt(0.5), -np.sqrt(0.5), 0]] * 2, atol=1e-6)


def test_materials_colour_vertices_and_split_them():
    materials = parse_mtl("newmtl red\nKd 1 0 0\nKs 1 1 1\nnewmtl grey\nKd 0.5\nnewmtl plain\n", "m.mtl")
    assert materials == {"red": (1.0, 0.0, 0.0), "grey": (0.5, 0.5, 0.5), "plain": meshes.DEFAULT_COLOUR}
    text = "mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nusemtl red\nf 1 2 3\nusemtl grey\nf 2 4 3\n"
    mesh = parse_obj(text, "two.obj", materials)
    assert len(mesh.positions) == 6  # positions 2 and 3 appear in red and in grey
    colours = mesh.colours[mesh.triangles]
    np.testing.assert_allclose(colours[0], [[1, 0, 0]] * 3)
    np.testing.assert_allclose(colours[1], [[0.5, 0.5, 0.5]] * 3)
    # Without materials, usemtl is ignored.
    assert np.allclose(parse_obj(text, "two.obj").colours, meshes.DEFAULT_COLOUR)


def test_load_obj_reads_the_mtllib_next_to_it(tmp_path):
    (tmp_path / "box.mtl").write_text("newmtl blue\nKd 0 0 1\n")
    (tmp_path / "box.obj").write_text("mtllib box.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl blue\nf 1 2 3\n")
    mesh = load_obj(tmp_path / "box.obj")
    np.testing.assert_allclose(mesh.colours, [[0, 0, 1]] * 3)


def test_mesh_arrays_are_read_only():
    mesh = parse_obj(SQUARE, "square.obj")
    with pytest.raises(ValueError):
        mesh.positions[0, 0] = 5.0


@pytest.mark.parametrize("text, message", [
    ("v 0 0 zero\n", r"bad\.obj:1: v: '0 0 zero' is not a list of numbers"),
    ("v 0 0\n", r"bad\.obj:1: v needs 3 to 7 numbers, got 2"),
    ("v 0 0 nan\n", r"bad\.obj:1: v: '0 0 nan' holds an infinite or NaN value"),
    ("vn 0 0 0\n", r"bad\.obj:1: vn 0 0 0 has no direction"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", r"bad\.obj:4: vertex index 4 is out of range: 3 vertex defined so far"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 -4\n", r"bad\.obj:4: vertex index -4 is out of range"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", r"bad\.obj:4: vertex index 0: OBJ indices start at 1"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\n\n# two\nf 1 2\n", r"bad\.obj:6: a face needs at least 3 vertices, got 2"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1//1 2//1 3//1\n", r"bad\.obj:4: normal index 1 is out of range: 0 normal"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/1 2/1 3/1\n", r"bad\.obj:4: texture coordinate index 1 is out of range"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n", r"bad\.obj:4: face index 'x' is not an integer"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3/1/1/1\n", r"bad\.obj:4: face vertex '3/1/1/1' must be v, v/vt, v//vn"),
    ("v 0 0 0\nusemtl gold\n", r"bad\.obj:2: unknown material 'gold'; materials defined: red"),
    ("v 0 0 0\n", r"bad\.obj: no faces \(f lines\) found"),
])
def test_bad_obj_names_file_and_line(text, message):
    with pytest.raises(MeshError, match=message):
        parse_obj(text, "bad.obj", {"red": (1.0, 0.0, 0.0)})


@pytest.mark.parametrize("text, message", [
    ("Kd 1 0 0\n", r"bad\.mtl:1: Kd before any newmtl"),
    ("newmtl a\nKd 1 zero 0\n", r"bad\.mtl:2: Kd: '1 zero 0' is not a list of numbers"),
    ("newmtl a\nKd 1 0\n", r"bad\.mtl:2: Kd needs 1 \(grey\) or 3 \(r g b\) numbers, got 2"),
    ("newmtl a\nKd 2 0 0\n", r"bad\.mtl:2: Kd 2 0 0: each value must be in \[0, 1\]"),
    ("newmtl a\nnewmtl a\n", r"bad\.mtl:2: material 'a' is defined twice"),
])
def test_bad_mtl_names_file_and_line(text, message):
    with pytest.raises(MeshError, match=message):
        parse_mtl(text, "bad.mtl")


def test_mesh_error_is_a_domectl_and_value_error():
    assert issubclass(MeshError, DomectlError) and issubclass(MeshError, ValueError)


def test_missing_mtllib_names_the_obj_line(tmp_path):
    (tmp_path / "a.obj").write_text("# header\nmtllib gone.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(MeshError, match=r"gone\.mtl: no such file \(named by .*a\.obj:2\)"):
        load_obj(tmp_path / "a.obj")


def test_usemtl_without_mtllib_is_an_unknown_material(tmp_path):
    (tmp_path / "a.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl red\nf 1 2 3\n")
    with pytest.raises(MeshError, match=r"a\.obj:4: unknown material 'red'; materials defined: none"):
        load_obj(tmp_path / "a.obj")


def test_missing_obj_file(tmp_path):
    with pytest.raises(MeshError, match=r"nothing\.obj: no such file"):
        load_obj(tmp_path / "nothing.obj")


def test_too_many_triangles_is_refused(monkeypatch):
    monkeypatch.setattr(meshes, "MAX_TRIANGLES", 3)
    text = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\nf 1 2 3 4\n"
    with pytest.raises(MeshError, match=r"big\.obj:6: more than 3 triangles; decimate the model"):
        parse_obj(text, "big.obj")


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(MeshError, match=r"model 'saturn-v': no saturn-v\.obj .*available models: spacecraft, v2"):
        meshes.model_path("saturn-v")
    with pytest.raises(MeshError, match="available models"):
        meshes.model_path("../v2")


# --------------------------------------------------------------------------- committed models


def test_committed_models_are_available_and_cached():
    assert meshes.available_models() == ("spacecraft", "v2")
    assert meshes.load_model("v2") is meshes.load_model("v2")


@pytest.mark.parametrize("name", ["v2", "spacecraft"])
def test_committed_models_are_well_formed(name):
    mesh = meshes.load_model(name)
    np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-6)
    assert mesh.triangles.max() < len(mesh.positions)
    assert np.all((mesh.colours >= 0) & (mesh.colours <= 1))
    tri = mesh.positions[mesh.triangles].astype(np.float64)
    # Small triangles: the renderer projects per vertex into a fisheye, so long edges would bend wrongly.
    size = np.ptp(mesh.positions[:, 2])
    edges = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2)
    assert edges.max() <= 0.1 * size
    # Winding agrees with the normals, and the closed surface faces out (positive volume).
    geometric = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert np.all(np.einsum("ij,ij->i", geometric, mesh.normals[mesh.triangles].sum(axis=1)) > 0)
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6 > 0
    assert len(np.unique(mesh.colours, axis=0)) >= 3


def test_v2_has_the_a4_dimensions():
    mesh = meshes.load_model("v2")
    x, y, z = mesh.positions.T
    assert z.min() == pytest.approx(0.0, abs=MM)  # origin at the base
    assert z.max() - z.min() == pytest.approx(14.0, abs=0.1)
    assert x.max() - x.min() == pytest.approx(3.56, abs=0.02)  # fin span, fins on the x and y axes
    assert y.max() - y.min() == pytest.approx(3.56, abs=0.02)
    body = (np.hypot(x, y) < 0.83) & (z > 4.0) & (z < 13.9)
    radius = np.hypot(x, y)[body & (z > 4.5) & (z < 8.5)]
    assert 2 * radius.max() == pytest.approx(1.65, abs=0.01)
    # Body normals point outward: along the radius on the cylinder, outward and up on the ogive nose.
    radial = np.stack([x, y, np.zeros_like(x)], axis=1)
    radial /= np.maximum(np.linalg.norm(radial, axis=1), 1e-9)[:, None]
    outward = np.einsum("ij,ij->i", mesh.normals, radial)
    assert np.all(outward[body] > 0.3)
    assert np.all(outward[body & (z < 8.5)] > 0.99)
    assert np.all(mesh.normals[body & (z > 9.0), 2] > 0.0)
    # The paint scheme: black and white.
    for paint in ((0.02, 0.02, 0.02), (0.78, 0.78, 0.76)):
        assert np.any(np.all(np.isclose(mesh.colours, paint, atol=1e-6), axis=1)), paint


def test_spacecraft_is_centred_and_apollo_sized():
    mesh = meshes.load_model("spacecraft")
    lo, hi = mesh.positions.min(axis=0), mesh.positions.max(axis=0)
    np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=MM)
    assert hi[0] - lo[0] == pytest.approx(3.91, abs=0.01)
    assert 9.0 < hi[2] - lo[2] < 12.0
    assert (hi[2] - lo[2]) / 2 < mesh.bounding_radius < np.hypot(3.91 / 2, (hi[2] - lo[2]) / 2)
