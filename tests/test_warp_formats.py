"""Calibration file formats: PFM, Paul Bourke meshes, MPCDI 2.0, and conversions to and from WarpMesh.

Real files written by other software (SGCT's fixtures, /work/shared/fixtures,
read in place) are checked against values read here independently: a few
lines of ``struct`` on the raw bytes, or numbers copied by hand from the
file's text.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from warp import (
    DomeModel,
    Lens,
    ProjectorModel,
    build_mesh,
    dome_points_to_pixels,
    projector_pixels_to_uv,
)
from warp.formats import (
    BourkeMesh,
    FormatError,
    Mpcdi,
    MpcdiBuffer,
    MpcdiFrustum,
    MpcdiRegion,
    bourke_to_mesh,
    decode_mpcdi,
    decode_pfm,
    encode_mpcdi,
    encode_pfm,
    format_bourke,
    guess_warp_convention,
    mesh_to_bourke,
    mesh_to_mpcdi_warp,
    mpcdi_warp_to_mesh,
    parse_bourke,
    read_bourke,
    read_mpcdi,
    read_pfm,
    read_pfm_warp,
    region_coords_to_uv,
    region_from_uv_rect,
    sample_warp,
    texel_grid,
    uv_rect_of_region,
    warp_from_values,
    write_bourke,
    write_mpcdi,
    write_pfm,
)
from warp.formats._io import atomic_write_bytes
from warp.formats.png import decode_png, encode_png
from warp.geometry import uv_to_dome_points
from warp.mesh import WarpMesh

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"
SURFACE_PFM = FIXTURES / "pfm" / "surface1.pfm"
BOURKE_DATA = FIXTURES / "bourke" / "standard_16x9.data"
CORRECTION_MPCDI = FIXTURES / "mpcdi" / "correction_mesh.mpcdi"
ZERO_MPCDI = FIXTURES / "mpcdi" / "zero_distortion_mesh.mpcdi"

PIXEL = 1.0
# A warp written at a quarter of the projector's resolution and read back
# into a mesh: two bilinear resamplings of a smooth map.
RESAMPLED_WARP_ERROR = 0.05 * PIXEL
# float32 region coordinates against float64 uv.
FLOAT32_COORD = 2e-7


def struct_pfm(data: bytes) -> tuple[int, int, int, bool, int]:
    """An independent header reader: (width, height, channels, little_endian, data offset)."""
    first, second, third, _ = data.split(b"\n", 3)
    width, height = (int(t) for t in second.split())
    offset = len(first) + len(second) + len(third) + 3
    return width, height, (3 if first == b"PF" else 1), float(third) < 0, offset


def struct_sample(data: bytes, file_row: int, col: int, channel: int) -> float:
    """Sample at a row counted in FILE order (row 0 = the image's bottom row), read with struct."""
    width, _, channels, little, offset = struct_pfm(data)
    pos = offset + 4 * ((file_row * width + col) * channels + channel)
    return struct.unpack(("<" if little else ">") + "f", data[pos:pos + 4])[0]


# ---------------------------------------------------------------- PFM


def test_pfm_fixture_against_a_struct_reader():
    data = SURFACE_PFM.read_bytes()
    assert data.startswith(b"PF\n100 100\n-1.000\n")  # colour, little-endian
    image = read_pfm(SURFACE_PFM)
    assert image.shape == (100, 100, 3) and image.dtype == np.float32
    # Array row 0 is the top: the LAST row stored in the file.
    for row, col in [(0, 0), (0, 99), (99, 0), (99, 99), (37, 61)]:
        for ch in (0, 1):
            assert image[row, col, ch] == struct_sample(data, 99 - row, col, ch)
    # Corners read by hand from the bytes (u grows to the right, v down the array).
    np.testing.assert_allclose(image[0, 0, :2], [0.29215068, 0.50238043], rtol=1e-7)
    np.testing.assert_allclose(image[0, -1, :2], [0.6391723, 0.18768947], rtol=1e-7)
    np.testing.assert_allclose(image[-1, 0, :2], [0.2422069, 0.9975942], rtol=1e-7)
    np.testing.assert_allclose(image[-1, -1, :2], [0.61361605, 0.6518241], rtol=1e-7)
    assert np.isnan(image[..., 2]).all()
    assert not np.isnan(image[..., :2]).any()
    np.testing.assert_allclose([image[..., 0].min(), image[..., 0].max()], [0.2422069, 0.6391723], rtol=1e-7)
    np.testing.assert_allclose([image[..., 1].min(), image[..., 1].max()], [0.18768947, 0.9975942], rtol=1e-7)


@pytest.mark.parametrize("little_endian", [True, False])
@pytest.mark.parametrize("channels", [1, 3])
def test_pfm_round_trips_bit_for_bit_in_both_byte_orders(tmp_path, little_endian, channels):
    rng = np.random.default_rng(channels)
    shape = (5, 7) if channels == 1 else (5, 7, 3)
    image = rng.normal(size=shape).astype(np.float32)
    image.flat[3] = np.nan
    image.flat[4] = -np.inf
    path = write_pfm(tmp_path / "x.pfm", image, little_endian=little_endian)
    data = path.read_bytes()
    magic = b"Pf" if channels == 1 else b"PF"
    assert data.startswith(magic + b"\n7 5\n" + (b"-1.0\n" if little_endian else b"1.0\n"))
    # The first sample stored is the bottom-left pixel.
    first = image[-1, 0] if channels == 1 else image[-1, 0, 0]
    assert struct_sample(data, 0, 0, 0) == first
    back = read_pfm(path)
    assert back.dtype == np.float32 and back.shape == shape
    assert back.tobytes() == image.tobytes()


def test_pfm_big_endian_copy_of_the_fixture_reads_the_same():
    image = read_pfm(SURFACE_PFM)
    big = encode_pfm(image, little_endian=False)
    assert struct_pfm(big)[3] is False
    assert decode_pfm(big).tobytes() == image.tobytes()


HEADER = b"PF\n2 2\n-1\n"
BODY = b"\0" * (2 * 2 * 3 * 4)


@pytest.mark.parametrize("data, message", [
    (b"P6\n2 2\n255\n", "not a PFM file"),
    (b"PF\n2\n", "truncated or malformed PFM header"),
    (b"PFX\n2 2\n-1\n" + BODY, "PFM magic"),
    (b"PF\nx 2\n-1\n" + BODY, "expected two whole numbers 'width height'"),
    (b"PF\n0 2\n-1\n", "width and height must be positive"),
    (b"PF\n2 2\nabc\n" + BODY, "PFM scale 'abc'"),
    (b"PF\n2 2\n0\n" + BODY, "must be a non-zero finite number"),
    (HEADER + BODY[:-5], "truncated PFM: 2 x 2 x 3 float32 samples need 48 bytes after the header, found 43"),
    (HEADER + BODY + b"\0\0", "2 bytes after the 2 x 2 x 3 samples"),
])
def test_bad_pfm_files_are_explained_with_the_file_name(tmp_path, data, message):
    path = tmp_path / "bad.pfm"
    path.write_bytes(data)
    with pytest.raises(FormatError) as err:
        read_pfm(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_missing_file_is_named():
    with pytest.raises(FormatError, match=r"nowhere\.pfm: no such file"):
        read_pfm("nowhere.pfm")


def test_pfm_warp_nan_and_infinities():
    values = texel_grid(4, 5).astype(np.float32)
    values[1, 2] = np.nan
    w = warp_from_values(values, "absolute")
    assert w.valid.sum() == 19 and not w.valid[1, 2] and np.isnan(w.coords[1, 2]).all()
    values[3, 4, 1] = np.inf
    with pytest.raises(FormatError, match=r"infinite y coordinate at row 3 \(from the top\), column 4"):
        warp_from_values(values, "absolute", "w.pfm")
    with pytest.raises(FormatError, match="every warp sample is NaN"):
        warp_from_values(np.full((3, 3, 3), np.nan, np.float32))
    with pytest.raises(FormatError, match="needs two coordinate channels"):
        warp_from_values(np.zeros((3, 3), np.float32), "absolute", "grey.pfm")
    with pytest.raises(FormatError, match="warp convention 'sideways'"):
        warp_from_values(texel_grid(2, 2), "sideways")


def test_standalone_pfm_warp_conventions():
    raw = read_pfm(SURFACE_PFM)[..., :2]
    guessed = read_pfm_warp(SURFACE_PFM)
    assert guessed.convention == "absolute"
    assert guessed.valid.all()  # the NaN third channel is not a coordinate
    np.testing.assert_array_equal(guessed.coords, raw.astype(np.float64))
    as_displacement = read_pfm_warp(SURFACE_PFM, "displacement")
    np.testing.assert_allclose(as_displacement.coords, raw + texel_grid(100, 100), rtol=0, atol=1e-15)


def barrel(rows: int, cols: int) -> np.ndarray:
    """A smooth, plausible absolute warp into [0.1, 0.9] with some barrel distortion."""
    g = texel_grid(rows, cols) - 0.5
    r2 = (g ** 2).sum(axis=-1, keepdims=True)
    return 0.5 + 0.8 * g * (1 - 0.3 * r2)


@pytest.mark.parametrize("values, expected", [
    (texel_grid(20, 30), "absolute"),                         # the identity, as coordinates
    (np.zeros((20, 30, 2)), "displacement"),                  # the identity, as displacements
    (barrel(24, 40), "absolute"),
    (barrel(24, 40) - texel_grid(24, 40), "displacement"),    # the same warp as displacements
])
def test_guessed_convention_on_synthetic_maps(values, expected):
    assert guess_warp_convention(values) == expected


# ---------------------------------------------------------------- PNG


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@pytest.mark.parametrize("image", [
    np.arange(12, dtype=np.uint8).reshape(3, 4),
    (np.arange(12, dtype=np.uint16) * 5461).reshape(3, 4),
    np.arange(36, dtype=np.uint8).reshape(3, 4, 3),
])
def test_png_maps_round_trip_exactly(image):
    back = decode_png(encode_png(image))
    assert back.dtype == image.dtype and (back == image).all()


def test_sixteen_bit_colour_png_is_refused_not_truncated():
    # Written by hand: Pillow would read it as 8-bit RGB without a word.
    rows = b"".join(b"\0" + bytes(4 * 6) for _ in range(4))
    png = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0))
           + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    with pytest.raises(FormatError, match="alpha.png: 16-bit colour PNG is not supported"):
        decode_png(png, "alpha.png")
    with pytest.raises(FormatError, match="not a PNG file"):
        decode_png(b"GIF89a", "x.png")


# ---------------------------------------------------------------- Bourke


def test_bourke_fixture():
    mesh = read_bourke(BOURKE_DATA)
    assert mesh.shape == (60, 100) and mesh.mesh_type == 2
    assert mesh.aspect == pytest.approx(1.77778)
    lines = BOURKE_DATA.read_text().splitlines()
    assert lines[:2] == ["2", "100 60"]
    # First and last nodes, as written in the file (the bottom row comes first).
    first = [float(v) for v in lines[2].split()]
    last = [float(v) for v in lines[-1].split()]
    assert first == [-1.77778, -1.0, 0.160825, 0.86737, 0.530521]
    assert last == [1.77778, 1.0, 0.0, 0.0, 0.0206006]
    assert list(mesh.xy[0, 0]) + list(mesh.uv[0, 0]) + [mesh.intensity[0, 0]] == first
    assert list(mesh.xy[-1, -1]) + list(mesh.uv[-1, -1]) + [mesh.intensity[-1, -1]] == last
    assert (mesh.xy[0, :, 1] == -1.0).all() and (mesh.xy[-1, :, 1] == 1.0).all()
    assert mesh.uv.min() >= 0.0 and mesh.uv.max() <= 1.0
    assert mesh.intensity.min() == pytest.approx(0.0201703) and mesh.intensity.max() == 1.0


def test_bourke_text_and_file_round_trip_exactly(tmp_path):
    fixture = read_bourke(BOURKE_DATA)
    assert parse_bourke(format_bourke(fixture)) == fixture
    rng = np.random.default_rng(3)
    mesh = BourkeMesh(xy=rng.normal(size=(3, 4, 2)), uv=rng.random((3, 4, 2)), intensity=rng.random((3, 4)))
    assert read_bourke(write_bourke(tmp_path / "m.data", mesh)) == mesh
    changed = BourkeMesh(xy=mesh.xy, uv=mesh.uv, intensity=np.nextafter(mesh.intensity, 2.0))
    assert changed != mesh


NODE = "0 0 0.5 0.5 1"


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("1\n2 2\n", ":1: mesh type 1 (polar): only 2 (rectangular) is supported"),
    ("two\n", ":1: expected the mesh type"),
    ("2\n2\n", ":2: expected the mesh size 'nx ny'"),
    ("2\n1 5\n", ":2: mesh size 1 x 5: needs at least 2 x 2 nodes"),
    (f"2\n2 2\n{NODE}\n0 0 1\n{NODE}\n{NODE}\n", ":4: expected 5 numbers 'x y u v i', found '0 0 1'"),
    (f"2\n2 2\n{NODE}\n{NODE}\n0 0 a 0 1\n{NODE}\n", ":5: expected 5 numbers"),
    (f"2\n2 2\n{NODE}\n0 0 nan 0 1\n{NODE}\n{NODE}\n", ":4: '0 0 nan 0 1': every value must be a finite number"),
    (f"2\n2 2\n{NODE}\n{NODE}\n\n{NODE}\n", "truncated: a 2 x 2 mesh has 4 nodes, found 3 (the file ends at line 6)"),
    (f"2\n2 2\n{NODE}\n{NODE}\n{NODE}\n{NODE}\n{NODE}\n", ":7: more nodes than the 2 x 2 = 4 announced on line 2"),
])
def test_bad_bourke_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.data"
    path.write_text(text)
    with pytest.raises(FormatError) as err:
        read_bourke(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


# A small projector in a small dome, for conversions.
DOME = DomeModel(7.5)
EYE = np.zeros(3)
PROJ = ProjectorModel("p", (0.0, -7.0, -0.3), 0.0, 25.0, 10.0, 384, 216, Lens(throw_ratio=1.2))


def reprojection_error_px(mesh: WarpMesh, projector: ProjectorModel, px: np.ndarray) -> float:
    """Pixels -> the mesh's uv -> dome point seen there -> pixels: the largest distance."""
    seen, _ = uv_to_dome_points(DOME, EYE, mesh.interpolate_uv(px))
    back, _ = dome_points_to_pixels(projector, seen)
    return float(np.max(np.linalg.norm(back - px, axis=1)))


def test_mesh_to_bourke_and_back():
    mesh = build_mesh(DOME, PROJ, EYE, step_px=16)
    bourke = mesh_to_bourke(mesh)
    aspect = PROJ.width_px / PROJ.height_px
    # Bourke's axes: the image's top-left pixel is (-aspect, +1), in the file's last row.
    np.testing.assert_allclose(bourke.xy[-1, 0], [-aspect, 1.0], atol=1e-15)
    np.testing.assert_allclose(bourke.xy[0, -1], [aspect, -1.0], atol=1e-15)
    assert (bourke.uv[-1, 0] == mesh.uv[0, 0]).all()
    assert (bourke.intensity == mesh.valid[::-1]).all()
    back = bourke_to_mesh(parse_bourke(format_bourke(bourke)), DOME, EYE, PROJ.width_px, PROJ.height_px, "p")
    np.testing.assert_allclose(back.pixel_xy, mesh.pixel_xy, atol=1e-9)
    assert back.uv.tobytes() == mesh.uv.tobytes()
    assert (back.valid == mesh.valid).all()
    with pytest.raises(FormatError, match=r"\(aspect 1\.77778\) but the projector is 1000 x 1000 \(aspect 1\)"):
        bourke_to_mesh(bourke, DOME, EYE, 1000, 1000, "p")


def test_bourke_fixture_converts_to_a_mesh():
    mesh = bourke_to_mesh(read_bourke(BOURKE_DATA), DOME, EYE, 1920, 1080, "mirror")
    assert mesh.shape == (60, 100)
    np.testing.assert_allclose(mesh.pixel_xy[0, 0], [0, 0])
    np.testing.assert_allclose(mesh.pixel_xy[-1, -1], [1920, 1080])
    # The file's first node (bottom-left) is the mesh's bottom-left vertex.
    np.testing.assert_array_equal(mesh.uv[-1, 0], [0.160825, 0.86737])


# ---------------------------------------------------------------- MPCDI


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def fixture_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_mpcdi_correction_fixture():
    members = fixture_members(CORRECTION_MPCDI)
    assert sorted(members) == ["mpcdi1_.xml", "surface1.pfm"]
    assert members["mpcdi1_.xml"].startswith(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    doc = read_mpcdi(CORRECTION_MPCDI)
    assert (doc.profile, doc.geometry_level, doc.version) == ("3d", 1, "2.0")
    (buf,) = doc.buffers
    assert (buf.id, buf.x_resolution_px, buf.y_resolution_px) == ("surface1", 512, 540)
    (region,) = buf.regions
    assert region.id == "surface1_region"
    assert (region.x, region.y, region.x_size, region.y_size) == (0.0, 0.0, 1.0, 1.0)
    assert (region.x_resolution_px, region.y_resolution_px) == (512, 540)
    assert region.frustum == MpcdiFrustum(326.675157, 27.327616, -14.611227, -33.231552, 33.231552, 34.644394,
                                          -34.644394)
    assert region.alpha is None and region.beta is None
    assert region.warp.shape == (32, 32, 2) and region.warp.dtype == np.float32
    assert region.warp_convention == "displacement"
    pfm = members["surface1.pfm"]
    assert struct_pfm(pfm)[:4] == (32, 32, 3, True)
    for row, col in [(0, 0), (31, 31), (5, 20)]:
        for ch in (0, 1):
            assert region.warp[row, col, ch] == struct_sample(pfm, 31 - row, col, ch)
    assert region.warp.min() == np.float32(-0.27330166) and region.warp.max() == np.float32(0.1712166)
    absolute = region.absolute_warp()
    np.testing.assert_allclose(absolute.coords, region.warp + texel_grid(32, 32), atol=1e-15)


def test_mpcdi_zero_distortion_fixture_is_the_identity():
    doc = read_mpcdi(ZERO_MPCDI)
    (region,) = doc.regions()
    assert sorted(fixture_members(ZERO_MPCDI)) == ["mpcdi_01.xml", "zeroDistortion.pfm"]
    assert (region.warp == 0).all()
    warp = region.absolute_warp()
    assert warp.convention == "displacement"
    assert (warp.coords == texel_grid(32, 32)).all()
    # Anywhere on the projector image: the undistorted mapping pixel / size.
    px = np.random.default_rng(1).random((500, 2)) * [512, 540]
    np.testing.assert_allclose(sample_warp(warp.coords, px, 512, 540), px / [512, 540], atol=1e-12)


def rewrite_xml(path: Path, edit, xml_name: str | None = None) -> bytes:
    members = fixture_members(path)
    (name,) = [n for n in members if n.endswith(".xml")]
    xml = edit(members.pop(name))
    members[xml_name or name] = xml
    return zip_bytes(members)


@pytest.mark.parametrize("variant", ["xsize", "Xresolution", "no BOM", "renamed member"])
def test_mpcdi_spellings_read_the_same(variant):
    original = read_mpcdi(CORRECTION_MPCDI)
    edits = {
        "xsize": lambda x: x.replace(b'xSize="1"', b'xsize="1"').replace(b'ySize="1"', b'ysize="1"'),
        "Xresolution": lambda x: x.replace(b"xResolution", b"Xresolution").replace(b"yResolution", b"Yresolution"),
        "no BOM": lambda x: x[3:],
        "renamed member": lambda x: x,
    }
    data = rewrite_xml(CORRECTION_MPCDI, edits[variant], "calib/Projector A.xml" if variant == "renamed member" else None)
    assert decode_mpcdi(data, "variant.mpcdi") == original


def sample_mpcdi(profile: str = "2d") -> Mpcdi:
    rng = np.random.default_rng(7)
    warp = rng.normal(size=(9, 16, 2)).astype(np.float32)
    warp[2, 3] = np.nan
    a = MpcdiRegion("left proj", 1920, 1080, x=0.0, y=0.125, x_size=0.5625, y_size=0.75, warp=warp,
                    warp_convention="displacement", alpha=rng.integers(0, 65536, (27, 48), dtype=np.uint16),
                    alpha_gamma=2.2, beta=rng.integers(0, 256, (27, 48), dtype=np.uint8),
                    frustum=MpcdiFrustum(10.5, -3.25, 0.1, -30.0, 31.0, 17.0, -17.5) if profile == "3d" else None)
    b = MpcdiRegion("right", 1280, 800, x=1 / 3, y=0.0, x_size=2 / 3, y_size=1.0,
                    warp=texel_grid(5, 8).astype(np.float32), warp_interpolation="cubic",
                    alpha=rng.integers(0, 256, (10, 16, 3), dtype=np.uint8))
    c = MpcdiRegion("bare", 640, 480)
    return Mpcdi((MpcdiBuffer("main", 3840, 2160, (a, b)), MpcdiBuffer("aux", 100, 100, (c,))), profile=profile,
                 geometry_level=2, date="2026-11-20 21:00:00", color_level="1")


@pytest.mark.parametrize("profile", ["2d", "3d"])
def test_mpcdi_export_import_round_trip_is_exact(tmp_path, profile):
    doc = sample_mpcdi(profile)
    back = read_mpcdi(write_mpcdi(tmp_path / "x.mpcdi", doc))
    assert back == doc
    left = back.region("left proj")
    assert left.warp.tobytes() == doc.region("left proj").warp.tobytes()  # NaN included
    assert left.alpha.dtype == np.uint16 and left.beta.dtype == np.uint8
    assert back.region("right").alpha.shape == (10, 16, 3)
    # Equality sees a single changed bit.
    flipped = doc.region("left proj").alpha.copy()
    flipped[0, 0] ^= 1
    other = MpcdiRegion(**{**vars(doc.region("left proj")), "alpha": flipped})
    assert other != doc.region("left proj")
    # The warp convention travels in domectl's extension: no guessing on the way back.
    assert read_mpcdi(tmp_path / "x.mpcdi", warp_convention="absolute").region("left proj").warp_convention == "displacement"


def test_mpcdi_fixture_survives_export_and_import():
    doc = read_mpcdi(CORRECTION_MPCDI)
    assert decode_mpcdi(encode_mpcdi(doc)) == doc


def fixture_with(xml_edit=None, members_edit=None) -> bytes:
    members = fixture_members(CORRECTION_MPCDI)
    if xml_edit:
        members["mpcdi1_.xml"] = xml_edit(members["mpcdi1_.xml"])
    if members_edit:
        members_edit(members)
    return zip_bytes(members)


def _alpha_members(bits: int):
    from warp.formats.png import encode_png

    def edit(members):
        members["a.png"] = encode_png(np.zeros((4, 4), dtype=np.uint16))
        members["mpcdi1_.xml"] = members["mpcdi1_.xml"].replace(
            b"<alphaMap />", b"<alphaMap><path>a.png</path><componentDepth>1</componentDepth>"
                             b"<bitDepth>%d</bitDepth></alphaMap>" % bits)
    return edit


@pytest.mark.parametrize("data, message", [
    (b"not a zip", "bad.mpcdi: not an MPCDI archive (not a zip file)"),
    (zip_bytes({"a.pfm": b""}), "bad.mpcdi: no .xml document in the archive"),
    (zip_bytes({"a.xml": b"<MPCDI/>", "b.xml": b"<MPCDI/>"}), "several .xml documents"),
    (fixture_with(lambda x: x.replace(b"</display>", b"</displa>")), "bad.mpcdi:mpcdi1_.xml:17:5: not well-formed XML"),
    (zip_bytes({"mpcdi.xml": b"<calibration/>"}), "root element <calibration>: expected <MPCDI>"),
    (fixture_with(lambda x: x.replace(b'profile="3d"', b'profile="4d"')), "<MPCDI profile='4d'>: must be one of 2d, 3d"),
    (fixture_with(lambda x: x.replace(b' xSize="1"', b"")), "<region id='surface1_region'> has no xSize attribute"),
    (fixture_with(lambda x: x.replace(b'ySize="1"', b'ySize="tall"')), "<region id='surface1_region'> ySize = 'tall': must be a number"),
    (fixture_with(lambda x: x.replace(b"<yaw>326.675157</yaw>", b"")), "<region id='surface1_region'> <frustum> has no <yaw>"),
    (fixture_with(lambda x: x.replace(b'fileset region="surface1_region"', b'fileset region="nope"')),
     "<fileset region='nope'> names no <region>"),
    (fixture_with(members_edit=lambda m: m.pop("surface1.pfm")), "geometryWarpFile 'surface1.pfm' is not in the archive"),
    (fixture_with(members_edit=lambda m: m.update({"surface1.pfm": encode_pfm(np.zeros((2, 2), np.float32))})),
     "bad.mpcdi:surface1.pfm: a geometry warp file must be a colour 'PF' PFM"),
    (fixture_with(members_edit=lambda m: m.update({"surface1.pfm": m["surface1.pfm"][:-10]})),
     "bad.mpcdi:surface1.pfm: truncated PFM"),
    (fixture_with(members_edit=_alpha_members(8)), "<alphaMap> says componentDepth 1, bitDepth 8, but a.png holds 1 component(s) of 16 bits"),
])
def test_bad_mpcdi_files_are_explained(tmp_path, data, message):
    path = tmp_path / "bad.mpcdi"
    path.write_bytes(data)
    with pytest.raises(FormatError) as err:
        read_mpcdi(path)
    assert str(err.value).startswith(str(tmp_path))
    assert message in str(err.value)


def test_alpha_map_with_matching_depths_reads():
    doc = decode_mpcdi(fixture_with(members_edit=_alpha_members(16)))
    assert doc.regions()[0].alpha.dtype == np.uint16


# ------------------------------------------------------- MPCDI <-> WarpMesh


def test_region_placement_is_measured_from_the_top_left():
    # A rect from v = 0.2 to v = 0.9 (v up) starts 0.1 below the buffer's top edge.
    x, y, w, h = region_from_uv_rect((0.1, 0.2, 0.4, 0.9))
    assert (x, w) == (0.1, pytest.approx(0.3)) and y == pytest.approx(0.1) and h == pytest.approx(0.7)
    np.testing.assert_allclose(uv_rect_of_region(x, y, w, h), (0.1, 0.2, 0.4, 0.9), atol=1e-15)
    region = MpcdiRegion("r", 8, 8, x=x, y=y, x_size=w, y_size=h)
    np.testing.assert_allclose(region.region_uv, (0.1, 0.2, 0.4, 0.9), atol=1e-15)


def test_mpcdi_warp_axes_top_left_origin_y_down():
    # A projector that shows the domemaster upright and whole: pixel (x, y) sees uv (x/W, 1 - y/H).
    w, h = 64, 48
    xs, ys = np.linspace(0, w, 9), np.linspace(0, h, 7)
    gx, gy = np.meshgrid(xs, ys)
    uv = np.stack([gx / w, 1.0 - gy / h], axis=-1)
    mesh = WarpMesh("upright", w, h, np.stack([gx, gy], axis=-1), uv, np.zeros(uv.shape[:2] + (3,)),
                    np.zeros(uv.shape[:2] + (3,)), np.ones(uv.shape[:2], dtype=bool))
    warp = mesh_to_mpcdi_warp(mesh, 16, 12)
    # Texel (row 0, col 0) is the top-left of the image and of the buffer.
    np.testing.assert_allclose(warp, texel_grid(12, 16), atol=FLOAT32_COORD)
    # A region: the upper-right quarter of the domemaster, uv (0.5, 0.5)-(1, 1).
    quarter = mesh_to_mpcdi_warp(mesh, 16, 12, (0.5, 0.5, 1.0, 1.0))
    np.testing.assert_allclose(quarter[0, -1], [2 * (15.5 / 16) - 1, 2 * (0.5 / 12)], atol=FLOAT32_COORD)
    grid = texel_grid(12, 16)
    upright_uv = np.stack([grid[..., 0], 1.0 - grid[..., 1]], axis=-1)
    np.testing.assert_allclose(region_coords_to_uv(quarter, (0.5, 0.5, 1.0, 1.0)), upright_uv, atol=FLOAT32_COORD)


def test_mesh_through_an_mpcdi_warp_and_back_keeps_the_warp():
    # This small projector close to a small dome bends its warp hard: a 4 px mesh step
    # keeps the mesh within 0.012 px, and the 4 px warp map adds about as much.
    mesh = build_mesh(DOME, PROJ, EYE, step_px=4)
    region_uv = mesh.domemaster_region()
    warp = mesh_to_mpcdi_warp(mesh, PROJ.width_px // 4, PROJ.height_px // 4, region_uv)
    back = mpcdi_warp_to_mesh(warp.astype(np.float64), region_uv, DOME, EYE, PROJ.width_px, PROJ.height_px, "p", 4)
    rng = np.random.default_rng(5)
    px = rng.random((4000, 2)) * [PROJ.width_px, PROJ.height_px]
    _, valid = projector_pixels_to_uv(DOME, PROJ, EYE, px)
    assert valid.mean() > 0.5
    assert reprojection_error_px(back, PROJ, px[valid]) <= RESAMPLED_WARP_ERROR
    # The mesh itself, for scale: the resampling adds little.
    assert reprojection_error_px(mesh, PROJ, px[valid]) <= RESAMPLED_WARP_ERROR
    assert (back.valid == mesh.valid).mean() > 0.99


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "calibration.mpcdi"
    path.write_bytes(b"old")
    import warp.formats._io as io_module

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.mpcdi"]
