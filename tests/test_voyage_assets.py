"""The solar-system flight's committed assets: manifest, texture convention, content checks, determinism."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from domectl import meshes, textures
from domectl.errors import DataError
from domectl.skydata import build_voyage

SCRIPT = "domectl/skydata/build_voyage.py"
LAND_FRACTION = 0.29  # of Earth's surface (area-weighted)
LAND_FRACTION_TOLERANCE = 0.03


def asset_names() -> list[str]:
    return [f"textures/{name}.png" for name in textures.BODIES_WITH_TEXTURES] + [
        f"models/{name}.{ext}" for name in meshes.available_models() for ext in ("obj", "mtl")]


def pixel(image: np.ndarray, lat_deg: float, east_lon_deg: float) -> np.ndarray:
    """The pixel at (lat, east lon) by the convention documented in domectl.textures."""
    height, width, _ = image.shape
    row = min(int((90.0 - lat_deg) / 180.0 * height), height - 1)
    col = min(int((east_lon_deg + 180.0) / 360.0 * width), width - 1)
    return image[row, col].astype(np.int32)


def patch_luminance(image: np.ndarray, lat_deg: float, east_lon_deg: float, half_px: int = 6) -> float:
    height, width, _ = image.shape
    row = int((90.0 - lat_deg) / 180.0 * height)
    col = int((east_lon_deg + 180.0) / 360.0 * width)
    block = image[row - half_px:row + half_px + 1, col - half_px:col + half_px + 1].astype(np.float64)
    return float((block @ [0.2126, 0.7152, 0.0722]).mean())


def test_every_asset_is_in_the_manifest_with_its_sha256():
    manifest = json.loads((build_voyage.DATA_DIR / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    ours = sorted(name for name, entry in manifest.items() if entry["script"] == SCRIPT)
    on_disk = sorted(f"{folder}/{p.name}" for folder in ("textures", "models")
                     for p in (build_voyage.DATA_DIR / folder).iterdir() if p.is_file())
    assert ours == on_disk == sorted(asset_names())
    for name in ours:
        data = (build_voyage.DATA_DIR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest[name]["sha256"], name
        assert len(data) == manifest[name]["size"], name
        assert manifest[name]["sources"], name
        for source in manifest[name]["sources"]:
            assert "licence" in source, name
            assert ("package" in source and {"version", "registry", "sha256", "file"} <= set(source)) \
                or "procedural" in source or "source" in source, name
    total = sum((build_voyage.DATA_DIR / name).stat().st_size for name in ours)
    assert total < 6_000_000


def test_earth_mask_source_is_the_pinned_registry_package():
    manifest = json.loads((build_voyage.DATA_DIR / "MANIFEST.json").read_text(encoding="utf-8"))["files"]
    (source,) = manifest["textures/earth.png"]["sources"]
    assert source["package"] == "global-land-mask" and source["version"] == "1.0.0"
    assert source["licence"].startswith("MIT")


@pytest.mark.parametrize("name", textures.BODIES_WITH_TEXTURES)
def test_textures_load_with_the_2_to_1_shape(name):
    image = textures.load_texture(name)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[1] == 2 * image.shape[0]
    assert image.shape[1] == (2048 if name in ("earth", "moon") else 1024)
    assert textures.texture_path(name) == textures.TEXTURES_DIR / f"{name}.png"
    assert textures.load_texture(name) is image  # cached
    assert not image.flags.writeable


def test_bodies_without_a_texture_give_none():
    assert textures.load_texture("sun") is None
    assert textures.load_texture("Moon") is textures.load_texture("moon")


def test_corrupt_texture_is_a_data_error(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    (data_dir / "textures").mkdir(parents=True)
    shutil.copy(build_voyage.DATA_DIR / "MANIFEST.json", data_dir / "MANIFEST.json")
    original = (build_voyage.DATA_DIR / "textures" / "uranus.png").read_bytes()
    corrupt = bytearray(original)
    corrupt[len(corrupt) // 2] ^= 0xFF
    (data_dir / "textures" / "uranus.png").write_bytes(bytes(corrupt))
    monkeypatch.setattr(textures, "DATA_DIR", data_dir)
    monkeypatch.setattr(textures, "TEXTURES_DIR", data_dir / "textures")
    textures._load.cache_clear()
    try:
        with pytest.raises(DataError, match=r"uranus\.png: sha256 .* does not match MANIFEST\.json .*build_voyage"):
            textures.load_texture("uranus")
        (data_dir / "textures" / "uranus.png").unlink()
        with pytest.raises(DataError, match=r"uranus\.png: cannot be read"):
            textures.load_texture("uranus")
    finally:
        textures._load.cache_clear()


def test_earth_land_fraction_and_places():
    image = textures.load_texture("earth")
    height, width, _ = image.shape
    lat = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    weight = np.cos(np.radians(lat))[:, None] * np.ones((1, width))
    r, b = image[..., 0].astype(np.int32), image[..., 2].astype(np.int32)
    ocean = b > r + 15  # deep to shelf blue; land, ice and cloud over land are not blue-dominant
    land_fraction = 1.0 - float((ocean * weight).sum() / weight.sum())
    assert land_fraction == pytest.approx(LAND_FRACTION, abs=LAND_FRACTION_TOLERANCE)
    paris = pixel(image, 48.9, 2.3)
    pacific = pixel(image, 0.0, -150.0)
    assert not paris[2] > paris[0] + 15, paris
    assert pacific[2] > pacific[0] + 40 and pacific[2] > pacific[1], pacific
    # East is to the right: the Sahara (23 N, 10 E) is land, the Atlantic west of it (23 N, 35 W) is ocean.
    sahara = pixel(image, 23.0, 10.0)
    assert not sahara[2] > sahara[0] + 15, sahara
    assert pixel(image, 23.0, -35.0)[2] > pixel(image, 23.0, -35.0)[0]
    # Antarctica is white.
    assert pixel(image, -85.0, 0.0).min() > 200


def test_moon_maria_are_darker_than_the_highlands():
    image = textures.load_texture("moon")
    imbrium = patch_luminance(image, 34.7, -14.9)
    far_side_highland = patch_luminance(image, 10.0, -160.0)
    crisium = patch_luminance(image, 16.2, 59.1)
    assert imbrium < 0.75 * far_side_highland
    assert crisium < 0.75 * far_side_highland
    # The near side (longitude 0 at the centre) is where the maria are.
    height, width, _ = image.shape
    lum = image.astype(np.float64) @ [0.2126, 0.7152, 0.0722]
    band = lum[height // 4: 3 * height // 4]
    assert band[:, width // 4: 3 * width // 4].mean() < band[:, : width // 4].mean() - 10


def test_planets_have_their_named_features():
    mars = textures.load_texture("mars")
    assert patch_luminance(mars, 9.0, 69.0, 3) < 0.8 * patch_luminance(mars, 20.0, -140.0, 3)  # Syrtis Major
    assert pixel(mars, 88.0, 0.0).min() > 200  # north polar cap
    jupiter = textures.load_texture("jupiter")
    red_spot = pixel(jupiter, -22.0, -60.0)
    assert red_spot[0] > red_spot[2] + 60
    pluto = textures.load_texture("pluto")
    assert patch_luminance(pluto, 15.0, 178.0, 3) > patch_luminance(pluto, -5.0, 95.0, 3) + 100  # heart vs Cthulhu


@pytest.mark.parametrize("name", ["uranus", "venus"])
def test_build_is_deterministic(name, tmp_path):
    data, _ = build_voyage.build_texture(name)
    (tmp_path / f"{name}.png").write_bytes(data)
    assert (tmp_path / f"{name}.png").read_bytes() == textures.texture_path(name).read_bytes()


def test_models_are_rebuilt_byte_identical():
    for name, builder in build_voyage.MODELS.items():
        obj, mtl = builder()
        assert obj.encode("ascii") == (meshes.MODELS_DIR / f"{name}.obj").read_bytes(), name
        assert mtl.encode("ascii") == (meshes.MODELS_DIR / f"{name}.mtl").read_bytes(), name


def test_updating_the_manifest_keeps_the_other_entries():
    manifest = {"script": "domectl/skydata/build.py", "files": {"stars.npz": {"sha256": "x", "size": 1}}}
    data = build_voyage.updated_manifest(manifest, {"textures/moon.png": (b"png", [{"procedural": "p"}])})
    merged = json.loads(data)
    assert merged["files"]["stars.npz"] == {"sha256": "x", "size": 1}
    assert merged["files"]["textures/moon.png"]["sha256"] == hashlib.sha256(b"png").hexdigest()
    assert merged["files"]["textures/moon.png"]["script"] == SCRIPT
