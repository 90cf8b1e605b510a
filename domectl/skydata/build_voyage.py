"""Build the solar-system flight's assets: planet and Moon textures, and the 3D models.

Run ``python -m domectl.skydata.build_voyage`` (dev time only; ``--only moon``
rebuilds one asset, ``--check`` compares a fresh build with the committed files).
It writes

* ``domectl/data/textures/NAME.png`` for the bodies in
  :data:`domectl.textures.BODIES_WITH_TEXTURES` (convention in
  :mod:`domectl.textures`: equirectangular 2:1, +90 latitude at the top, east
  longitude 0 at the centre column increasing to the right, sRGB albedo);
* ``domectl/data/models/v2.obj|.mtl`` and ``spacecraft.obj|.mtl`` (metres, +z
  along the long axis; see :mod:`domectl.meshes`);
* their entries in ``domectl/data/MANIFEST.json`` (the other entries are kept).

Sources. Earth's land/ocean mask is the PyPI package ``global-land-mask`` 1.0.0
(MIT, Todd Karin; the NOAA GLOBE 30-arcsecond elevation data, public domain), a
build-time dependency in the ``dev`` extras. Everything else is procedural:
seeded value noise and craters, drawn around named features whose centres and
sizes come from the IAU/USGS Gazetteer of Planetary Nomenclature
(https://planetarynames.wr.usgs.gov, public domain) and, for Mars's classical
albedo features, Jupiter's belts and the giant planets' spots, from NASA fact
sheets and the published maps they summarise (public domain); coordinates are
rounded, the shapes approximate (a blob of the given size, or a few of them for
an irregular feature). The models are drawn from published dimensions (A-4:
14.0 m long, 1.65 m diameter, 3.56 m fin span; Apollo CSM: 3.9 m diameter,
NASA SP-4009/4029, public domain).

Determinism: fixed seeds (``SEED`` + a per-body offset), numpy's PCG64 stream,
no timestamps in the PNGs (Pillow, zlib level 9, no metadata): a rerun on the
same numpy/Pillow/zlib gives identical bytes (tests/test_voyage_assets.py
rebuilds one texture and compares).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np

SCRIPT = "domectl/skydata/build_voyage.py"
COMMAND = "python -m domectl.skydata.build_voyage"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEED = 20261121

LAND_MASK_PACKAGE = "global-land-mask"
LAND_MASK_VERSION = "1.0.0"
# sha256 of globe_combined_mask_compressed.npz inside the global-land-mask 1.0.0 wheel
# (wheel sha256 07751fbb4e3834ee508a84ea64d9bd5340fbd0a8c951e24b43c323fcc670bb62), measured 2026-11-21.
LAND_MASK_SHA256 = "ef089657594dcdd5bff443b96a24e6fa094fa65fd08c6cd1d7c8368ed6bcbeeb"
LAND_MASK_SOURCE = {
    "package": LAND_MASK_PACKAGE,
    "version": LAND_MASK_VERSION,
    "licence": "MIT (Copyright (c) Todd Karin); mask derived from NOAA GLOBE 30-arcsecond data, public domain",
    "registry": "https://pypi.org/project/global-land-mask/1.0.0/",
    "file": "global_land_mask/globe_combined_mask_compressed.npz",
    "sha256": LAND_MASK_SHA256,
}
GAZETTEER = {
    "source": "Gazetteer of Planetary Nomenclature, IAU WGPSN / USGS Astrogeology, https://planetarynames.wr.usgs.gov",
    "licence": "public domain (US Government work)",
    "use": "centre latitude/longitude and diameter of the named features listed in the script",
}
NASA_FACTS = {
    "source": "NASA planetary fact sheets and mission results (Voyager, Juno, New Horizons), https://nssdc.gsfc.nasa.gov",
    "licence": "public domain (US Government work)",
    "use": "latitudes of Jupiter's and Saturn's belts and zones, the Great Red Spot and Neptune's Great Dark Spot",
}

#: Mean radii in km (IAU WGCCRE 2015), to turn feature diameters into degrees of arc.
RADIUS_KM = {"moon": 1737.4, "mercury": 2439.4, "mars": 3389.5, "pluto": 1188.3}


# =========================================================================== helpers


def lat_lon_grid(width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre latitude (H, 1) and east longitude (1, W) in degrees, H = W / 2 (see domectl.textures)."""
    height = width // 2
    lat = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    lon = -180.0 + (np.arange(width) + 0.5) * 360.0 / width
    return lat[:, None], lon[None, :]


def unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Broadcast latitude and longitude (degrees) -> (..., 3) float32 body-fixed unit vectors."""
    la, lo = np.radians(lat_deg), np.radians(lon_deg)
    la, lo = np.broadcast_arrays(la, lo)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1).astype(np.float32)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def value_noise3(xyz: np.ndarray, freq: int, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1] at points (..., 3) in [-1, 1]^3, ``freq`` lattice cells across."""
    rng = np.random.default_rng(seed)
    n = freq + 2
    lattice = rng.random((n, n, n), dtype=np.float32)
    p = (xyz + 1.0) * (0.5 * freq)
    i0 = np.clip(np.floor(p).astype(np.int32), 0, freq)
    f = p - i0
    f = f * f * (3.0 - 2.0 * f)
    i, j, k = i0[..., 0], i0[..., 1], i0[..., 2]
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    out = np.zeros(xyz.shape[:-1], dtype=np.float32)
    for di in (0, 1):
        wx = fx if di else 1.0 - fx
        for dj in (0, 1):
            wy = fy if dj else 1.0 - fy
            for dk in (0, 1):
                wz = fz if dk else 1.0 - fz
                out += wx * wy * wz * lattice[i + di, j + dj, k + dk]
    return out


def fbm3(xyz: np.ndarray, seed: int, base_freq: int = 4, octaves: int = 6, gain: float = 0.5) -> np.ndarray:
    """Fractal value noise on the sphere, about [0, 1] (mean 0.5); no seam at +-180, no pole pinch."""
    total = np.zeros(xyz.shape[:-1], dtype=np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amp * value_noise3(xyz, base_freq * 2**octave, seed * 100 + octave)
        norm += amp
        amp *= gain
    return total / norm


def value_noise2(shape: tuple[int, int], cells_y: int, cells_x: int, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1] on an (H, W) equirectangular grid, periodic in longitude."""
    height, width = shape
    rng = np.random.default_rng(seed)
    lattice = rng.random((cells_y + 2, cells_x), dtype=np.float32)
    y = (np.arange(height, dtype=np.float32) + 0.5) / height * cells_y
    x = (np.arange(width, dtype=np.float32) + 0.5) / width * cells_x
    y0, x0 = np.floor(y).astype(np.int32), np.floor(x).astype(np.int32)
    fy, fx = y - y0, x - x0
    fy, fx = (fy * fy * (3 - 2 * fy))[:, None], (fx * fx * (3 - 2 * fx))[None, :]
    x1 = (x0 + 1) % cells_x
    a, b = lattice[y0][:, x0], lattice[y0][:, x1]
    c, d = lattice[y0 + 1][:, x0], lattice[y0 + 1][:, x1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def fbm2(shape: tuple[int, int], seed: int, cells_y: int, cells_x: int, octaves: int = 5) -> np.ndarray:
    """Fractal :func:`value_noise2`, about [0, 1]; cells_y > cells_x stretches features along longitude."""
    total = np.zeros(shape, dtype=np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        total += amp * value_noise2(shape, cells_y * 2**octave, cells_x * 2**octave, seed * 100 + octave)
        norm += amp
        amp *= 0.5
    return total / norm


def angular_distance_deg(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Great-circle distance in degrees from (lat0, lon0) to broadcast (lat, lon), all in degrees."""
    la, lo = np.radians(lat), np.radians(lon)
    la0, lo0 = math.radians(lat0), math.radians(lon0)
    cos_d = np.sin(la) * math.sin(la0) + np.cos(la) * math.cos(la0) * np.cos(lo - lo0)
    return np.degrees(np.arccos(np.clip(cos_d, -1.0, 1.0)))


def bearing_rad(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Initial bearing (radians, from north through east) from (lat0, lon0) to (lat, lon)."""
    la, dlo = np.radians(lat), np.radians(lon - lon0)
    la0 = math.radians(lat0)
    return np.arctan2(np.sin(dlo) * np.cos(la), math.cos(la0) * np.sin(la) - math.sin(la0) * np.cos(la) * np.cos(dlo))


def wobble_field(xyz: np.ndarray, seed: int, amplitude_deg: float) -> np.ndarray:
    """(H, W) offsets of about +-``amplitude_deg`` that roughen the edges of :func:`blob_mask` features."""
    return amplitude_deg * 4.0 * (fbm3(xyz, seed, base_freq=8, octaves=5) - 0.5)


def blob_mask(lat, lon, blobs, radius_km: float, wobble: np.ndarray, soft_deg: float = 1.5) -> np.ndarray:
    """Union of soft discs: blobs are (lat, lon, diameter_km); ``wobble`` (H, W) in degrees roughens edges."""
    mask = np.zeros(np.broadcast_shapes(lat.shape, lon.shape), dtype=np.float32)
    for lat0, lon0, diameter_km in blobs:
        radius_deg = math.degrees(diameter_km / 2.0 / radius_km)
        d = angular_distance_deg(lat, lon, lat0, lon0) + wobble * min(1.0, radius_deg / 10.0)
        np.maximum(mask, 1.0 - smoothstep(radius_deg - soft_deg, radius_deg + soft_deg, d), out=mask)
    return mask


def ellipse_mask(lat, lon, lat0: float, lon0: float, half_lat_deg: float, half_lon_deg: float) -> np.ndarray:
    """Soft-edged ellipse in (lat, lon) (for spots on the giant planets); 1 inside, 0 outside."""
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    r = np.sqrt((dlon / half_lon_deg) ** 2 + ((lat - lat0) / half_lat_deg) ** 2)
    return 1.0 - smoothstep(0.8, 1.05, r)


def mix(a: np.ndarray, b, t: np.ndarray) -> np.ndarray:
    """Linear blend of colour images/colours a -> b by t (H, W)."""
    return a + (np.asarray(b, dtype=np.float32) - a) * t[..., None]


def rgb(colour, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), (*shape, 3)).copy()


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def add_craters(shade: np.ndarray, lat: np.ndarray, lon: np.ndarray, craters, radius_km: float) -> None:
    """Multiply ``shade`` (H, W) in place by crater albedo: darker floor, bright rim, faint ejecta.

    ``craters`` are (lat, lon, diameter_km, strength). Only a window around each
    crater is touched, so thousands cost little.
    """
    height, width = shade.shape
    lat1, lon1 = lat[:, 0], lon[0, :]
    for lat0, lon0, diameter_km, strength in craters:
        r_deg = math.degrees(diameter_km / 2.0 / radius_km)
        reach = 2.2 * r_deg
        rows = np.nonzero(np.abs(lat1 - lat0) <= reach)[0]
        if rows.size == 0:
            continue
        coslat = max(math.cos(math.radians(min(89.0, abs(lat0) + reach))), 1e-3)
        half_cols = int(math.ceil(reach / coslat / 360.0 * width)) + 1
        j0 = int((lon0 + 180.0) / 360.0 * width)
        cols = np.arange(j0 - half_cols, j0 + half_cols + 1) % width if 2 * half_cols + 1 < width else np.arange(width)
        d = angular_distance_deg(lat1[rows][:, None], lon1[cols][None, :], lat0, lon0) / r_deg
        floor = 1.0 - 0.12 * (1.0 - smoothstep(0.55, 0.85, d))
        rim = 0.18 * np.exp(-(((d - 0.95) / 0.12) ** 2))
        ejecta = 0.08 * np.exp(-((d - 1.0).clip(0) / 0.5)) * (d > 1.0)
        factor = 1.0 + strength * (floor - 1.0 + rim + ejecta)
        block = np.ix_(rows, cols)
        shade[block] *= factor


def random_craters(rng: np.random.Generator, count: int, min_km: float, max_km: float, slope: float = 1.8):
    """``count`` craters uniform on the sphere, diameters from a power law N(>D) ~ D^-slope."""
    u = rng.random(count)
    a, b = min_km ** -slope, max_km ** -slope
    diameters = (a + u * (b - a)) ** (-1.0 / slope)
    lats = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))
    lons = rng.uniform(-180.0, 180.0, count)
    strengths = rng.uniform(0.5, 1.0, count)
    return list(zip(lats.tolist(), lons.tolist(), diameters.tolist(), strengths.tolist()))


def ray_system(lat, lon, lat0: float, lon0: float, diameter_km: float, length_deg: float, rays: int,
               radius_km: float, seed: int) -> np.ndarray:
    """Brightness (H, W) in [0, 1] of a crater's halo and rays, radiating ``length_deg`` from it."""
    rng = np.random.default_rng(seed)
    d = angular_distance_deg(lat, lon, lat0, lon0)
    theta = bearing_rad(lat, lon, lat0, lon0)
    r_deg = math.degrees(diameter_km / 2.0 / radius_km)
    out = 0.8 * np.exp(-((d / (2.2 * r_deg)) ** 2))
    lateral_scale = np.sin(np.radians(np.minimum(d, 90.0)))
    for _ in range(rays):
        theta_k = rng.uniform(-math.pi, math.pi)
        width_deg = rng.uniform(0.4, 1.1) * max(r_deg, 0.6)
        reach = length_deg * rng.uniform(0.35, 1.0)
        dtheta = (theta - theta_k + math.pi) % (2 * math.pi) - math.pi
        lateral = np.degrees(np.abs(dtheta)) * lateral_scale
        ray = np.exp(-((lateral / width_deg) ** 2)) * np.exp(-d / reach) * (np.abs(dtheta) < 1.2)
        out = np.maximum(out, 0.7 * ray * smoothstep(r_deg, 1.5 * r_deg, d))
    return out.astype(np.float32)


def box_blur_wrap(image: np.ndarray, radius_px: int) -> np.ndarray:
    """Separable box blur of (H, W), wrapping in longitude and clamping at the poles."""
    k = 2 * radius_px + 1
    padded = np.concatenate([image[:, -radius_px:], image, image[:, :radius_px]], axis=1)
    c = np.cumsum(np.pad(padded, ((0, 0), (1, 0))), axis=1)
    out = (c[:, k:] - c[:, :-k]) / k
    padded = np.pad(out, ((radius_px, radius_px), (0, 0)), mode="edge")
    c = np.cumsum(np.pad(padded, ((1, 0), (0, 0))), axis=0)
    return ((c[k:] - c[:-k]) / k).astype(np.float32)


# =========================================================================== textures
# Each texture function: width -> ((H, W, 3) uint8 sRGB, extra source records).


def land_fraction_map(width: int, supersample: int = 3) -> np.ndarray:
    """(H, W) float32 fraction of land in each pixel, from global-land-mask (point samples, supersampled)."""
    try:
        import global_land_mask
    except ImportError:
        raise SystemExit("global-land-mask is not installed: `pip install global-land-mask==1.0.0` "
                         "(it is in the dev extras: pip install -e .[dev])") from None
    path = Path(global_land_mask.__file__).parent / "globe_combined_mask_compressed.npz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != LAND_MASK_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {LAND_MASK_SHA256} "
                         f"(global-land-mask {LAND_MASK_VERSION}); refusing to build")
    with np.load(path) as npz:
        ocean = npz["mask"]  # (21600, 43200) bool, True = ocean; row 0 = +90, column 0 = -180
    rows_src, cols_src = ocean.shape
    height = width // 2
    land = np.zeros((height, width), dtype=np.float32)
    offsets = (np.arange(supersample) + 0.5) / supersample
    for oy in offsets:
        r = np.minimum(((np.arange(height) + oy) / height * rows_src).astype(np.int64), rows_src - 1)
        for ox in offsets:
            c = np.minimum(((np.arange(width) + ox) / width * cols_src).astype(np.int64), cols_src - 1)
            land += ~ocean[np.ix_(r, c)]
    return land / supersample**2


def texture_earth(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    xyz = unit_vectors(lat, lon)
    land = land_fraction_map(width)
    alat = np.abs(lat) * np.ones(shape, dtype=np.float32)
    n1 = fbm3(xyz, SEED + 1, base_freq=6)
    n2 = fbm3(xyz, SEED + 2, base_freq=12, octaves=4)

    # Land by latitude band: rain forest, savanna / desert (deserts centred on +-25 deg), temperate, boreal, tundra.
    forest, savanna, desert = (38, 78, 32), (118, 116, 62), (204, 176, 126)
    temperate, boreal, tundra = (72, 102, 50), (44, 72, 44), (122, 116, 98)
    colour = rgb(forest, shape)
    colour = mix(colour, savanna, smoothstep(8, 16, alat + 6 * (n1 - 0.5)))
    desert_belt = np.exp(-(((alat - 25.0) / 9.0) ** 2)) * smoothstep(0.46, 0.60, n2)
    colour = mix(colour, desert, np.clip(1.6 * desert_belt, 0, 1))
    colour = mix(colour, temperate, smoothstep(33, 40, alat + 8 * (n1 - 0.5)))
    colour = mix(colour, boreal, smoothstep(52, 58, alat + 6 * (n2 - 0.5)))
    colour = mix(colour, tundra, smoothstep(64, 70, alat + 6 * (n1 - 0.5)))
    colour *= (0.85 + 0.3 * n2)[..., None]
    # Ice on land: Antarctica, Greenland, and the high Arctic islands.
    greenland = (lat > 59.0) & (lon > -74.0) & (lon < -11.0)
    ice_land = np.clip(smoothstep(-62, -66, lat) + greenland + smoothstep(77, 80, lat), 0, 1)
    colour = mix(colour, (238, 242, 246), ice_land.astype(np.float32))

    # Ocean: deep blue, lighter over the shelves near coasts; Arctic pack ice above ~78 N, thin Antarctic ice.
    coast = box_blur_wrap(land, max(1, width // 512))
    ocean = mix(rgb((8, 26, 68), shape), (22, 64, 112), np.clip(coast * 2.0, 0, 1))
    ocean *= (0.9 + 0.2 * n1)[..., None]
    sea_ice = np.clip(smoothstep(76, 80, lat + 4 * (n2 - 0.5)) + smoothstep(-68, -71, lat + 3 * (n2 - 0.5)), 0, 1)
    ocean = mix(ocean, (222, 230, 238), sea_ice.astype(np.float32))
    image = mix(ocean, 0, land) + colour * land[..., None]

    # A light cloud layer: more in the ITCZ and the mid-latitude storm tracks, less in the subtropics.
    amount = 0.30 + 0.25 * np.exp(-(((lat - 5) / 8) ** 2)) + 0.25 * np.exp(-(((alat - 55) / 12) ** 2)) \
        - 0.15 * np.exp(-(((alat - 25) / 8) ** 2))
    # Squashed toward the poles' axis so that cloud bands stretch east-west (stays inside [-1, 1]^3).
    clouds = fbm3(xyz * np.array([0.6, 0.6, 1.0], dtype=np.float32), SEED + 3, base_freq=12, octaves=6)
    cover = smoothstep(0.0, 0.18, clouds - (0.68 - 0.35 * amount)) * 0.6
    image = mix(image, (245, 247, 250), cover.astype(np.float32))
    return to_uint8(image), [LAND_MASK_SOURCE]


# Moon: maria from the Gazetteer (centre lat, east lon, diameter km). Irregular maria are drawn as a
# few blobs whose union matches the mapped outline; the Gazetteer's own centre and diameter are in
# the comment.
MOON_MARIA = {
    # Oceanus Procellarum: 18.4 N, 57.4 W, 2568 km (an irregular ocean along the western near side).
    "Oceanus Procellarum": [(30, -55, 700), (18, -57, 800), (5, -52, 650), (-8, -45, 500),
                            (40, -45, 550), (25, -42, 500), (45, -60, 400), (-2, -62, 450)],
    "Mare Imbrium": [(34.7, -14.9, 1146)],
    "Mare Serenitatis": [(27.3, 18.4, 674)],
    "Mare Tranquillitatis": [(8.4, 30.8, 600), (14, 26, 320), (2, 36, 350)],  # 8.5 N 31.4 E, 873 km
    "Mare Crisium": [(16.2, 59.1, 556)],
    "Mare Fecunditatis": [(-7.8, 51.3, 600), (-2, 51, 350), (-16, 50, 300)],  # 7.8 S 51.3 E, 909 km
    "Mare Nectaris": [(-15.2, 35.5, 333)],
    "Mare Nubium": [(-21.3, -16.6, 715)],
    "Mare Humorum": [(-24.4, -38.6, 389)],
    # Mare Frigoris: 56.0 N 1.4 E, 1596 km long: a band from ~40 W to ~45 E.
    "Mare Frigoris": [(57, -35, 250), (57, -20, 280), (56, -5, 260), (56, 10, 260), (58, 25, 240), (60, 40, 220)],
    "Mare Vaporum": [(13.3, 3.6, 245)],
    "Mare Cognitum": [(-10.0, -23.1, 376)],
    "Mare Insularum": [(7.5, -30.9, 513)],
    "Mare Orientale": [(-19.4, -92.8, 294)],
    "Mare Moscoviense": [(27.3, 147.9, 276)],
    "Mare Smythii": [(1.3, 87.5, 373)],
    "Mare Marginis": [(13.3, 86.1, 358)],
    "Mare Australe": [(-38.9, 93.0, 603)],
}
#: Young rayed craters (Gazetteer centre lat, east lon, diameter km) and how far their rays reach (degrees).
MOON_RAYED_CRATERS = {
    "Tycho": (-43.3, -11.2, 85.0, 45.0),
    "Copernicus": (9.6, -20.1, 96.0, 22.0),
    "Kepler": (8.1, -38.0, 31.0, 12.0),
}


def texture_moon(width: int):
    radius_km = RADIUS_KM["moon"]
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    xyz = unit_vectors(lat, lon)
    n1 = fbm3(xyz, SEED + 11, base_freq=6)
    n2 = fbm3(xyz, SEED + 12, base_freq=16, octaves=4)
    wobble = wobble_field(xyz, SEED + 13, 5.0)
    maria = np.zeros(shape, dtype=np.float32)
    for blobs in MOON_MARIA.values():
        np.maximum(maria, blob_mask(lat, lon, blobs, radius_km, wobble), out=maria)

    highland = rgb((178, 174, 166), shape) * (0.86 + 0.28 * n1)[..., None]
    mare = mix(rgb((104, 101, 96), shape), (88, 92, 98), n2) * (0.88 + 0.24 * n1)[..., None]
    image = mix(highland, 0, maria) + mare * maria[..., None]

    rng = np.random.default_rng(SEED + 14)
    shade = np.ones(shape, dtype=np.float32)
    # The smallest craters span ~2.5 pixels (13 km at 2048 px): smaller ones would only add noise.
    min_km = round(max(8.0, 2 * radius_km * math.pi / width * 2.5), 1)
    add_craters(shade, lat, lon, random_craters(rng, 2500, min_km, 250.0), radius_km)
    # The maria are younger: fewer craters show on them.
    shade = 1.0 + (shade - 1.0) * (1.0 - 0.7 * maria)
    for name, (lat0, lon0, diameter_km, _) in MOON_RAYED_CRATERS.items():
        add_craters(shade, lat, lon, [(lat0, lon0, diameter_km, 1.0)], radius_km)
    image *= shade[..., None]
    for index, (lat0, lon0, diameter_km, length_deg) in enumerate(MOON_RAYED_CRATERS.values()):
        rays = ray_system(lat, lon, lat0, lon0, diameter_km, length_deg, 28, radius_km, SEED + 15 + index)
        image = mix(image, (225, 222, 214), 0.55 * rays)
    procedural = {"procedural": f"seeded value noise, 2500 random craters (power-law diameters {min_km}-250 km) "
                                f"and 3 ray systems, seed {SEED}+11..17",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(GAZETTEER, features=sorted(MOON_MARIA) + sorted(MOON_RAYED_CRATERS)), procedural]


def texture_mercury(width: int):
    radius_km = RADIUS_KM["mercury"]
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    xyz = unit_vectors(lat, lon)
    n1 = fbm3(xyz, SEED + 21, base_freq=5)
    image = mix(rgb((150, 144, 136), shape), (104, 100, 96), smoothstep(0.45, 0.7, n1))
    image *= (0.9 + 0.2 * fbm3(xyz, SEED + 22, base_freq=16, octaves=4))[..., None]
    # Caloris Planitia (Gazetteer: 30.5 N, 189.8 E, 1550 km): smooth, brighter, orange-tinted plains.
    caloris = blob_mask(lat, lon, [(30.5, -170.2, 1550)], radius_km, np.zeros(shape, np.float32), soft_deg=3)
    image = mix(image, (176, 160, 138), 0.6 * caloris)
    shade = np.ones(shape, dtype=np.float32)
    rng = np.random.default_rng(SEED + 23)
    add_craters(shade, lat, lon, random_craters(rng, 1800, 25.0, 400.0), radius_km)
    image *= shade[..., None]
    # Rays of Hokusai (Gazetteer: 57.8 N, 16.8 E, 95 km), Mercury's brightest ray system.
    image = mix(image, (215, 212, 205), 0.5 * ray_system(lat, lon, 57.8, 16.8, 95, 25.0, 24, radius_km, SEED + 24))
    procedural = {"procedural": f"seeded value noise, 1800 random craters (25-400 km), seed {SEED}+21..24",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(GAZETTEER, features=["Caloris Planitia", "Hokusai"]), procedural]


# Mars: classical dark albedo features (lat, east lon, diameter km as blobs) and bright basins.
MARS_DARK = {
    "Syrtis Major": [(10, 68, 700), (2, 71, 650), (17, 66, 500), (-6, 74, 600)],
    "Mare Acidalium (Acidalia Planitia)": [(46, -30, 1100), (36, -25, 700), (55, -38, 700)],
    "Mare Erythraeum": [(-25, -40, 1400), (-20, -20, 900)],
    "Sinus Meridiani": [(-3, 0, 700), (-5, 10, 500)],
    "Sinus Sabaeus": [(-8, 22, 700), (-10, 40, 700)],
    "Mare Tyrrhenum": [(-15, 105, 1200), (-20, 90, 700)],
    "Mare Cimmerium": [(-24, 145, 1300), (-20, 168, 900)],
    "Mare Sirenum": [(-32, -155, 1200), (-30, -135, 900)],
    "Solis Lacus": [(-26, -85, 500)],
    "Utopia": [(48, 115, 1100), (40, 100, 600)],
    "Mare Serpentis": [(-30, 38, 800)],
}
MARS_BRIGHT = {"Hellas Planitia": [(-42.4, 70.5, 2000)], "Argyre Planitia": [(-49.7, -43.8, 1000)]}


def texture_mars(width: int):
    radius_km = RADIUS_KM["mars"]
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    xyz = unit_vectors(lat, lon)
    n1 = fbm3(xyz, SEED + 31, base_freq=6)
    n2 = fbm3(xyz, SEED + 32, base_freq=14, octaves=4)
    wobble = wobble_field(xyz, SEED + 33, 7.0)
    image = rgb((192, 112, 70), shape) * (0.85 + 0.3 * n1)[..., None]
    dark = np.zeros(shape, dtype=np.float32)
    for blobs in MARS_DARK.values():
        np.maximum(dark, blob_mask(lat, lon, blobs, radius_km, wobble, soft_deg=6), out=dark)
    dark *= 0.6 + 0.4 * n2
    bright = np.zeros(shape, dtype=np.float32)
    for blobs in MARS_BRIGHT.values():
        np.maximum(bright, blob_mask(lat, lon, blobs, radius_km, wobble, soft_deg=6), out=bright)
    image = mix(image, (214, 150, 108), 0.7 * bright)
    image = mix(image, (98, 64, 48), dark)
    # Dark collar around the north polar cap, then the caps (the south cap sits off the pole, toward 40 W).
    image = mix(image, (110, 74, 56), 0.5 * np.exp(-(((lat - 70) / 4) ** 2)))
    north_cap = smoothstep(77, 80, lat + 4 * (n2 - 0.5))
    south_cap = 1.0 - smoothstep(4, 6, angular_distance_deg(lat, lon, -87, -40) + 3 * (n2 - 0.5))
    image = mix(image, (240, 238, 236), np.clip(north_cap + south_cap, 0, 1))
    procedural = {"procedural": f"seeded value noise, seed {SEED}+31..33",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(GAZETTEER, features=sorted(MARS_DARK) + sorted(MARS_BRIGHT)), procedural]


def banded(lat: np.ndarray, shape, bands, turbulence: np.ndarray, soft_deg: float) -> np.ndarray:
    """Colour by latitude bands [(lat_min, lat_max, colour)], edges softened and bent by ``turbulence``."""
    lat_t = lat + turbulence
    image = rgb(bands[0][2], shape)
    for lat_min, _, colour in bands[1:]:
        image = mix(image, colour, smoothstep(lat_min - soft_deg, lat_min + soft_deg, lat_t))
    return image


# Jupiter's belts (dark) and zones (bright), planetographic latitude ranges (south to north).
JUPITER_BANDS = [
    (-90, -45, (150, 132, 114)),  # south polar region
    (-45, -33, (188, 168, 140)),  # south south temperate
    (-33, -27, (156, 118, 88)),   # South Temperate Belt
    (-27, -20, (228, 218, 198)),  # South Tropical Zone
    (-20, -7, (164, 108, 72)),    # South Equatorial Belt
    (-7, 7, (232, 220, 196)),     # Equatorial Zone
    (7, 17, (152, 98, 66)),       # North Equatorial Belt
    (17, 24, (224, 212, 190)),    # North Tropical Zone
    (24, 31, (166, 122, 90)),     # North Temperate Belt
    (31, 45, (200, 182, 152)),    # north temperate
    (45, 90, (150, 132, 114)),    # north polar region
]


def texture_jupiter(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    turbulence = 2.5 * (fbm2(shape, SEED + 41, 24, 6) - 0.5)
    image = banded(lat, shape, JUPITER_BANDS, turbulence, 1.5)
    image *= (0.88 + 0.24 * fbm2(shape, SEED + 42, 48, 16))[..., None]
    # The Great Red Spot at 22 S (System II longitude drifts: 60 W is arbitrary), ~16,000 x 12,000 km.
    spot = ellipse_mask(lat, lon, -22.0, -60.0, 5.0, 7.5)
    rim = ellipse_mask(lat, lon, -22.0, -60.0, 6.5, 9.5) - spot
    image = mix(image, (232, 214, 196), 0.8 * np.clip(rim, 0, 1))
    image = mix(image, (196, 104, 72), spot * (0.8 + 0.2 * fbm2(shape, SEED + 43, 64, 64)))
    # White ovals in the South Temperate Belt.
    for lon0 in (30.0, 95.0, 150.0):
        image = mix(image, (236, 232, 222), ellipse_mask(lat, lon, -31.0, lon0, 2.0, 3.0))
    procedural = {"procedural": f"seeded periodic value noise, seed {SEED}+41..43",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(NASA_FACTS, features=["belts and zones", "Great Red Spot (22 S)"]), procedural]


def texture_saturn(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    bands = [(-90, -70, (170, 160, 130)), (-70, -45, (206, 186, 144)), (-45, -30, (214, 196, 150)),
             (-30, -18, (200, 178, 132)), (-18, 18, (226, 208, 160)), (18, 30, (198, 176, 130)),
             (30, 45, (212, 194, 148)), (45, 70, (200, 184, 144)), (70, 90, (150, 158, 160))]
    image = banded(lat, shape, bands, 1.5 * (fbm2(shape, SEED + 51, 24, 4) - 0.5), 3.0)
    image *= (0.94 + 0.12 * fbm2(shape, SEED + 52, 48, 12))[..., None]
    procedural = {"procedural": f"seeded periodic value noise, seed {SEED}+51..52",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(NASA_FACTS, features=["belts and zones", "north polar hexagon region (> 70 N)"]),
                             procedural]


def texture_venus(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    n = fbm2(shape, SEED + 61, 16, 5)
    image = mix(rgb((232, 218, 176), shape), (206, 184, 130), smoothstep(0.45, 0.65, n))
    image = mix(image, (244, 238, 220), 0.5 * smoothstep(50, 75, np.abs(lat) * np.ones(shape, np.float32)))
    procedural = {"procedural": f"seeded periodic value noise (cloud bands), seed {SEED}+61",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [procedural]


def texture_uranus(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    image = rgb((172, 218, 226), shape) * (0.97 + 0.06 * fbm2(shape, SEED + 71, 20, 3))[..., None]
    image = mix(image, (196, 232, 236), 0.6 * smoothstep(-50, -75, lat * np.ones(shape, np.float32)))
    image = mix(image, (150, 200, 212), 0.3 * np.exp(-((lat / 20.0) ** 2)) * np.ones(shape, np.float32))
    procedural = {"procedural": f"seeded periodic value noise, seed {SEED}+71",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [procedural]


def texture_neptune(width: int):
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    bands = [(-90, -60, (52, 84, 176)), (-60, -45, (70, 106, 204)), (-45, -20, (62, 98, 196)),
             (-20, 20, (68, 108, 208)), (20, 45, (62, 98, 196)), (45, 90, (52, 84, 176))]
    image = banded(lat, shape, bands, 2.0 * (fbm2(shape, SEED + 81, 24, 6) - 0.5), 4.0)
    image *= (0.94 + 0.12 * fbm2(shape, SEED + 82, 48, 12))[..., None]
    # The Great Dark Spot seen by Voyager 2 in 1989 at ~22 S (about 13,000 x 6,600 km), its bright companion
    # clouds south of it, and the "Scooter" bright streaks near 42 S.
    image = mix(image, (28, 44, 120), ellipse_mask(lat, lon, -22.0, 0.0, 5.5, 12.0))
    image = mix(image, (226, 232, 244), 0.9 * ellipse_mask(lat, lon, -29.0, 4.0, 1.2, 6.0))
    for lon0 in (-120.0, 80.0):
        image = mix(image, (214, 224, 240), 0.7 * ellipse_mask(lat, lon, -42.0, lon0, 1.0, 8.0))
    procedural = {"procedural": f"seeded periodic value noise, seed {SEED}+81..82",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(NASA_FACTS, features=["Great Dark Spot (22 S, Voyager 2, 1989)"]), procedural]


# Pluto (New Horizons; Gazetteer centres): Sputnik Planitia (~20 N, 180 E, ~1050 x 800 km) is the
# western lobe of the bright Tombaugh Regio "heart", which reaches east to ~140 W; Cthulhu Macula is
# the dark red band along the equator from ~15 E to ~165 E.
PLUTO_BRIGHT = {
    "Sputnik Planitia": [(25, 176, 560), (12, 179, 620), (0, -178, 420), (30, -176, 380)],
    "Tombaugh Regio (east lobe)": [(12, -160, 620), (5, -145, 520), (25, -150, 500), (-5, -165, 380)],
}
PLUTO_DARK = {"Cthulhu Macula": [(-5, 30, 700), (-3, 60, 800), (-5, 95, 900), (-8, 125, 800), (-10, 155, 520)]}


def texture_pluto(width: int):
    radius_km = RADIUS_KM["pluto"]
    lat, lon = lat_lon_grid(width)
    shape = (lat.shape[0], lon.shape[1])
    xyz = unit_vectors(lat, lon)
    n1 = fbm3(xyz, SEED + 91, base_freq=6)
    wobble = wobble_field(xyz, SEED + 92, 5.0)
    image = mix(rgb((196, 166, 132), shape), (168, 128, 96), smoothstep(0.4, 0.7, n1))
    image = mix(image, (186, 178, 170), smoothstep(55, 70, lat * np.ones(shape, np.float32)))  # Lowell Regio
    dark = np.zeros(shape, dtype=np.float32)
    for blobs in PLUTO_DARK.values():
        np.maximum(dark, blob_mask(lat, lon, blobs, radius_km, wobble, soft_deg=3), out=dark)
    image = mix(image, (88, 50, 36), dark * (0.8 + 0.2 * n1))
    bright = np.zeros(shape, dtype=np.float32)
    for blobs in PLUTO_BRIGHT.values():
        np.maximum(bright, blob_mask(lat, lon, blobs, radius_km, wobble, soft_deg=3), out=bright)
    image = mix(image, (246, 238, 226), bright)
    procedural = {"procedural": f"seeded value noise, seed {SEED}+91..92",
                  "licence": "public domain (CC0), generated by the script"}
    return to_uint8(image), [dict(GAZETTEER, features=sorted(PLUTO_BRIGHT) + sorted(PLUTO_DARK)), procedural]


#: name -> (width in pixels, generator)
TEXTURES: dict[str, tuple[int, Callable]] = {
    "earth": (2048, texture_earth),
    "moon": (2048, texture_moon),
    "mercury": (1024, texture_mercury),
    "venus": (1024, texture_venus),
    "mars": (1024, texture_mars),
    "jupiter": (1024, texture_jupiter),
    "saturn": (1024, texture_saturn),
    "uranus": (1024, texture_uranus),
    "neptune": (1024, texture_neptune),
    "pluto": (1024, texture_pluto),
}


def encode_png(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 -> PNG bytes, deterministic: no metadata, fixed zlib level."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB").save(
        buffer, format="PNG", compress_level=9, optimize=False)
    return buffer.getvalue()


def build_texture(name: str, width: int | None = None) -> tuple[bytes, list[dict]]:
    """One texture's PNG bytes and its sources; ``width`` overrides the committed size (for tests)."""
    default_width, generator = TEXTURES[name]
    image, sources = generator(width or default_width)
    return encode_png(image), sources


# =========================================================================== models


class ObjWriter:
    """Collects polygons with per-vertex normals and a material, then writes OBJ text (4 decimals, metres)."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}
        self.normals: dict[str, int] = {}
        self.faces: list[tuple[str, list[tuple[int, int]]]] = []

    @staticmethod
    def _key(vector) -> str:
        return " ".join(f"{v:.4f}".replace("-0.0000", "0.0000") for v in vector)

    def _id(self, table: dict[str, int], vector) -> int:
        key = self._key(vector)
        if key not in table:
            table[key] = len(table) + 1
        return table[key]

    def face(self, points, normals, material: str) -> None:
        """A polygon (counter-clockwise seen from the front); repeated points are dropped."""
        refs, keys = [], []
        for p, n in zip(points, normals):
            key = self._key(p)
            if keys and key == keys[-1]:
                continue
            keys.append(key)
            refs.append((p, n))
        if len(refs) > 1 and keys[0] == keys[-1]:
            refs.pop()
        if len(refs) < 3:
            return
        ids = [(self._id(self.positions, p), self._id(self.normals, np.asarray(n) / np.linalg.norm(n)))
               for p, n in refs]
        self.faces.append((material, ids))

    def flat(self, points, material: str, toward) -> None:
        """A flat polygon whose normal is made to point along ``toward`` (the winding is fixed to match)."""
        pts = np.asarray(points, dtype=np.float64)
        normal = np.cross(pts, np.roll(pts, -1, axis=0)).sum(axis=0)
        if np.dot(normal, toward) < 0:
            pts, normal = pts[::-1], -normal
        if np.linalg.norm(normal) < 1e-12:
            return
        self.face(pts, [normal] * len(pts), material)

    def text(self, title: str, mtl_name: str) -> str:
        lines = [f"# {title}", f"# Made by {COMMAND}; metres, +z along the long axis. Public domain (CC0).",
                 f"mtllib {mtl_name}"]
        lines += [f"v {key}" for key in self.positions]
        lines += [f"vn {key}" for key in self.normals]
        current = None
        for material, ids in self.faces:
            if material != current:
                lines.append(f"usemtl {material}")
                current = material
            lines.append("f " + " ".join(f"{v}//{n}" for v, n in ids))
        return "\n".join(lines) + "\n"


def densify(profile, step_m: float):
    """Insert points so that consecutive (z, r) profile points are at most ``step_m`` apart."""
    out = [profile[0]]
    for (z0, r0), (z1, r1) in zip(profile[:-1], profile[1:]):
        pieces = max(1, math.ceil(math.hypot(z1 - z0, r1 - r0) / step_m))
        out += [(z0 + (z1 - z0) * k / pieces, r0 + (r1 - r0) * k / pieces) for k in range(1, pieces + 1)]
    return out


def lathe(writer: ObjWriter, profile, segments: int, material: Callable[[float, float], str],
          inward: bool = False) -> None:
    """Revolve a smooth (z, r) profile about +z: smooth normals from the profile's tangent.

    The profile runs from the bottom up (or outward, then up, then inward, as a
    solid's outline does), so that its normals face out; ``inward`` flips them
    (the inside of an engine bell). ``material(z_mid, azimuth_mid_deg)`` names each quad's material.
    """
    zr = np.asarray(profile, dtype=np.float64)
    tangent = np.gradient(zr, axis=0)
    n_r, n_z = tangent[:, 0], -tangent[:, 1]  # (dz, -dr): outward for an upward profile
    length = np.hypot(n_r, n_z)
    n_r, n_z = n_r / length, n_z / length
    if inward:
        n_r, n_z = -n_r, -n_z
    phis = np.radians(np.arange(segments + 1) * 360.0 / segments)
    for k in range(len(zr) - 1):
        for j in range(segments):
            quad, normals = [], []
            for kk, jj in ((k, j), (k, j + 1), (k + 1, j + 1), (k + 1, j)):
                z, r = zr[kk]
                phi = phis[jj]
                if r == 0.0:  # on the axis: the normal of the neighbouring segment's middle
                    phi = 0.5 * (phis[j] + phis[j + 1])
                quad.append((r * math.cos(phis[jj]), r * math.sin(phis[jj]), z))
                normals.append((n_r[kk] * math.cos(phi), n_r[kk] * math.sin(phi), n_z[kk]))
            if inward:
                quad, normals = quad[::-1], normals[::-1]
            mid_z = 0.5 * (zr[k, 0] + zr[k + 1, 0])
            writer.face(quad, normals, material(mid_z, math.degrees(0.5 * (phis[j] + phis[j + 1]))))


# A-4 (V2): overall length 14.036 m, body diameter 1.651 m, fin span 3.564 m (Dornberger, "V-2";
# US Army TM / NASA history office drawings). Rounded to the values below.
V2_LENGTH_M = 14.0
V2_RADIUS_M = 1.65 / 2
V2_FIN_SPAN_M = 3.56
V2_TAIL_TOP_M = 3.4      # the boat-tail narrows from here to the base
V2_BASE_RADIUS_M = 0.56
V2_OGIVE_START_M = 8.6   # tangent ogive from here to the tip
V2_FIN_TOP_M = 3.9       # where the fins' swept leading edge meets the body
V2_FIN_EDGE_TOP_M = 1.1  # top of the fins' straight outer edge
V2_FIN_THICKNESS_M = 0.10
V2_SEGMENTS = 32
V2_SECTIONS_M = (V2_TAIL_TOP_M, V2_OGIVE_START_M, 11.3)  # paint bands: tail, body, lower nose, upper nose


def v2_body_radius(z: float) -> float:
    if z <= V2_TAIL_TOP_M:
        return V2_BASE_RADIUS_M + (V2_RADIUS_M - V2_BASE_RADIUS_M) * z / V2_TAIL_TOP_M
    if z <= V2_OGIVE_START_M:
        return V2_RADIUS_M
    length = V2_LENGTH_M - V2_OGIVE_START_M
    rho = (V2_RADIUS_M**2 + length**2) / (2 * V2_RADIUS_M)
    x = V2_LENGTH_M - z  # the tangent-ogive formula measures from the tip
    return max(0.0, math.sqrt(max(0.0, rho**2 - (length - x) ** 2)) + V2_RADIUS_M - rho)


def v2_paint(z: float, azimuth_deg: float) -> str:
    """The black-and-white test-flight scheme: quadrants (centred on the fins) alternating, swapped each band."""
    quadrant = int(((azimuth_deg + 45.0) % 360.0) // 90.0)
    band = sum(z > edge for edge in V2_SECTIONS_M)
    return "black" if (quadrant + band) % 2 == 0 else "white"


def build_v2() -> tuple[str, str]:
    writer = ObjWriter()
    base = [(0.0, 0.0), (0.0, V2_BASE_RADIUS_M)]
    body = densify([(0.0, V2_BASE_RADIUS_M), (V2_TAIL_TOP_M, V2_RADIUS_M), (V2_OGIVE_START_M, V2_RADIUS_M)], 0.35)
    nose_z = np.linspace(V2_OGIVE_START_M, V2_LENGTH_M, 25)[1:]
    nose = [(float(z), v2_body_radius(float(z))) for z in nose_z]
    nose[-1] = (V2_LENGTH_M, 0.0)
    # The base: a dark nozzle disc inside the painted rim; separate from the body (a crease at the rim).
    lathe(writer, densify(base, 0.2), V2_SEGMENTS, lambda z, az: "nozzle")
    lathe(writer, body + nose, V2_SEGMENTS, v2_paint)
    # Four fins on the x and y axes, slabs V2_FIN_THICKNESS_M thick.
    outer = V2_FIN_SPAN_M / 2
    z_levels = np.linspace(0.0, V2_FIN_TOP_M, 14)
    for fin in range(4):
        az = math.radians(90.0 * fin)
        e_r = np.array([math.cos(az), math.sin(az), 0.0])
        e_t = np.array([-math.sin(az), math.cos(az), 0.0])
        e_z = np.array([0.0, 0.0, 1.0])
        material = "black" if fin % 2 == 0 else "white"

        def span(z: float) -> tuple[float, float]:
            inner = v2_body_radius(z) - 0.03
            if z <= V2_FIN_EDGE_TOP_M:
                return inner, outer
            t = (z - V2_FIN_EDGE_TOP_M) / (V2_FIN_TOP_M - V2_FIN_EDGE_TOP_M)
            return inner, inner + (outer - inner) * (1.0 - t) ** 1.6

        def point(z: float, v: float, side: float) -> np.ndarray:
            inner, out = span(z)
            return (inner + (out - inner) * v) * e_r + z * e_z + side * 0.5 * V2_FIN_THICKNESS_M * e_t

        vs = np.linspace(0.0, 1.0, 5)
        for side in (1.0, -1.0):
            for a, b in zip(z_levels[:-1], z_levels[1:]):
                for v0, v1 in zip(vs[:-1], vs[1:]):
                    writer.flat([point(a, v0, side), point(a, v1, side), point(b, v1, side), point(b, v0, side)],
                                material, side * e_t)
        # Edges: the bottom (trailing) edge, the straight outer edge and the swept leading edge.
        centre = 0.5 * (v2_body_radius(0.0) + outer) * e_r + 1.0 * e_z
        rim = [point(0.0, v, 0.0) for v in vs] + [point(z, 1.0, 0.0) for z in z_levels[1:]]
        for p, q in zip(rim[:-1], rim[1:]):
            quad = [p + 0.5 * V2_FIN_THICKNESS_M * e_t, q + 0.5 * V2_FIN_THICKNESS_M * e_t,
                    q - 0.5 * V2_FIN_THICKNESS_M * e_t, p - 0.5 * V2_FIN_THICKNESS_M * e_t]
            writer.flat(quad, material, 0.5 * (p + q) - centre)
    mtl = "\n".join([
        "# A-4 (V2) test-flight paint; Kd is linear RGB. Made by " + COMMAND + ". Public domain (CC0).",
        "newmtl white", "Kd 0.78 0.78 0.76",
        "newmtl black", "Kd 0.02 0.02 0.02",
        "newmtl nozzle", "Kd 0.05 0.045 0.04",
    ]) + "\n"
    return writer.text("A-4 (V2) rocket, 14.0 m, origin at the base, +z toward the nose", "v2.mtl"), mtl


# Apollo command and service module (NASA SP-4009, SP-4029): CM 3.91 m base diameter, 3.23 m tall;
# SM 3.91 m diameter, 7.5 m long with the SPS engine bell (2.5 m exit diameter).
CSM_RADIUS_M = 3.91 / 2
CSM_SEGMENTS = 48


def build_spacecraft() -> tuple[str, str]:
    writer = ObjWriter()
    bell_exit_r, bell_throat_r = 1.25, 0.35
    z_bell0, z_bell1, z_sm0, z_sm1 = 0.0, 2.4, 2.1, 6.6
    z_cm1, z_top = 9.8, 10.2
    offset = -0.5 * (z_bell0 + z_top)  # origin at the model's centre

    def shifted(profile):
        return [(z + offset, r) for z, r in profile]

    # Engine bell: a parabola-ish flare from throat (top) to exit (bottom), outside and inside.
    bz = np.linspace(z_bell0, z_bell1, 12)
    br = bell_throat_r + (bell_exit_r - bell_throat_r) * ((z_bell1 - bz) / (z_bell1 - z_bell0)) ** 1.6
    bell = [(float(z), float(r)) for z, r in zip(bz, br)]
    lathe(writer, shifted(bell), CSM_SEGMENTS, lambda z, az: "engine")
    lathe(writer, shifted([(z, r - 0.02) for z, r in bell]), CSM_SEGMENTS, lambda z, az: "engine", inward=True)

    def sm_material(z: float, az: float) -> str:
        # Two of six sectors carry the white radiator panels.
        return "radiator" if int((az % 360.0) // 60.0) in (1, 4) else "aluminium"

    lathe(writer, shifted(densify([(z_sm0, 0.0), (z_sm0, CSM_RADIUS_M)], 0.4)), CSM_SEGMENTS,
          lambda z, az: "aluminium")
    lathe(writer, shifted(densify([(z_sm0, CSM_RADIUS_M), (z_sm1, CSM_RADIUS_M)], 0.5)), CSM_SEGMENTS, sm_material)
    lathe(writer, shifted(densify([(z_sm1, CSM_RADIUS_M), (z_sm1, 0.0)], 0.4)), CSM_SEGMENTS,
          lambda z, az: "aluminium")
    # Command module: heat-shield rim, then the cone, then the docking tunnel.
    lathe(writer, shifted([(z_sm1, CSM_RADIUS_M), (z_sm1 + 0.15, CSM_RADIUS_M)]), CSM_SEGMENTS,
          lambda z, az: "heatshield")
    cone = densify([(z_sm1 + 0.15, CSM_RADIUS_M), (z_cm1, 0.42)], 0.4)
    lathe(writer, shifted(cone), CSM_SEGMENTS, lambda z, az: "silver")
    lathe(writer, shifted([(z_cm1, 0.42), (z_cm1, 0.4)]), CSM_SEGMENTS, lambda z, az: "silver")
    lathe(writer, shifted([(z_cm1, 0.4), (z_top, 0.4)]), CSM_SEGMENTS, lambda z, az: "silver")
    lathe(writer, shifted([(z_top, 0.4), (z_top, 0.0)]), CSM_SEGMENTS, lambda z, az: "silver")
    mtl = "\n".join([
        "# Apollo-like command and service module; Kd is linear RGB. Made by " + COMMAND + ". Public domain (CC0).",
        "newmtl silver", "Kd 0.72 0.72 0.75",
        "newmtl heatshield", "Kd 0.22 0.17 0.12",
        "newmtl aluminium", "Kd 0.52 0.53 0.55",
        "newmtl radiator", "Kd 0.80 0.80 0.80",
        "newmtl engine", "Kd 0.06 0.06 0.07",
    ]) + "\n"
    return writer.text("Apollo-like command + service module, origin at the centre, +z toward the CM apex",
                       "spacecraft.mtl"), mtl


MODELS: dict[str, Callable[[], tuple[str, str]]] = {"v2": build_v2, "spacecraft": build_spacecraft}
MODEL_SOURCES = {
    "v2": {"procedural": "lathe + fins from published A-4 dimensions (14.0 m, 1.65 m, fin span 3.56 m)",
           "licence": "public domain (CC0), generated by the script"},
    "spacecraft": {"procedural": "lathe from published Apollo CSM dimensions (NASA SP-4009/SP-4029, public domain)",
                   "licence": "public domain (CC0), generated by the script"},
}


# =========================================================================== main


def build(only: list[str] | None = None) -> dict[str, tuple[bytes, list[dict]]]:
    """Output files (path relative to domectl/data -> (bytes, sources)), all or those of the ``only`` assets."""
    names = only or list(TEXTURES) + list(MODELS)
    unknown = [n for n in names if n not in TEXTURES and n not in MODELS]
    if unknown:
        raise SystemExit(f"unknown asset(s) {unknown}; choose from {sorted(TEXTURES) + sorted(MODELS)}")
    files: dict[str, tuple[bytes, list[dict]]] = {}
    for name in names:
        if name in TEXTURES:
            files[f"textures/{name}.png"] = build_texture(name)
        else:
            obj, mtl = MODELS[name]()
            files[f"models/{name}.obj"] = (obj.encode("ascii"), [MODEL_SOURCES[name]])
            files[f"models/{name}.mtl"] = (mtl.encode("ascii"), [MODEL_SOURCES[name]])
    return files


def updated_manifest(manifest: dict, files: dict[str, tuple[bytes, list[dict]]]) -> bytes:
    """MANIFEST.json with these files' entries replaced (other entries, the sky data's, untouched)."""
    entries = dict(manifest.get("files", {}))
    for name, (data, sources) in files.items():
        entries[name] = {"script": SCRIPT, "sha256": hashlib.sha256(data).hexdigest(),
                         "size": len(data), "sources": sources}
    manifest = dict(manifest, files=dict(sorted(entries.items())))
    return (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(DATA_DIR), help="data folder (default: domectl/data)")
    parser.add_argument("--only", nargs="+", metavar="ASSET", help="build only these (e.g. moon v2)")
    parser.add_argument("--check", action="store_true", help="build in memory and compare with --out; write nothing")
    args = parser.parse_args(argv)
    out = Path(args.out)
    files = build(args.only)
    if args.check:
        differ = [n for n, (data, _) in files.items() if not (out / n).is_file() or (out / n).read_bytes() != data]
        for name in differ:
            print(f"{out / name}: differs from a fresh build", file=sys.stderr)
        return 1 if differ else 0
    manifest_path = out / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    for name, (data, _) in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path}: {len(data):,} bytes")
    manifest_path.write_bytes(updated_manifest(manifest, files))
    print(f"{manifest_path}: updated {len(files)} entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
