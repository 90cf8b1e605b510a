"""Load the committed sky data in ``domectl/data/`` (numpy + stdlib; no network, no Skyfield).

The files are made by ``python -m domectl.skydata.build`` (see that module for
their sources and licences) and listed with their sha256 in ``MANIFEST.json``.
Every loader is a pure file read that hands back plain arrays:

* directions are ICRS unit vectors, rows of ``(N, 3)`` float64 arrays;
* :class:`StarCatalog` positions are at the Hipparcos epoch J1991.25 with
  proper motion vectors to carry them to another date (``domectl.astro``).

Languages: ``fr``, ``en``, ``nl``, ``de``. Dutch is absent upstream: constellation
names fall back to the IAU (Latin) name and star names to the IAU proper name;
English constellation names are the IAU names (recorded in the manifest).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domectl.errors import DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LANGUAGES = ("fr", "en", "nl", "de")
EPOCH_JYEAR = 1991.25

__all__ = [
    "DATA_DIR",
    "LANGUAGES",
    "StarCatalog",
    "load_stars",
    "load_constellation_lines",
    "load_constellation_names",
    "load_constellation_labels",
    "load_constellation_borders",
    "load_star_names",
    "load_milky_way",
    "manifest",
    "radec_to_icrs",
    "verify_manifest",
]


@dataclass(frozen=True, eq=False)
class StarCatalog:
    """The Hipparcos (ESA I/311) stars, one row per star.

    hip (N,) int32; icrs_xyz (N, 3) float64 unit vectors at ``epoch_jyear``
    (J1991.25, ICRS); pm_xyz_rad_per_yr (N, 3) float64, the tangential velocity
    of the unit vector in radians per Julian year; mag (N,) float32 Hipparcos Hp
    (not Johnson V); bv (N,) float32 B-V (NaN where unknown); parallax_mas (N,)
    float32 (may be <= 0 for distant stars; the renderer ignores it).
    """

    hip: np.ndarray
    icrs_xyz: np.ndarray
    pm_xyz_rad_per_yr: np.ndarray
    mag: np.ndarray
    bv: np.ndarray
    parallax_mas: np.ndarray
    epoch_jyear: float = EPOCH_JYEAR

    def __len__(self) -> int:
        return int(self.hip.shape[0])


def _path(name: str, data_dir: Path | None = None) -> Path:
    path = (data_dir or DATA_DIR) / name
    if not path.is_file():
        raise DataError(f"{path}: missing; rebuild the sky data with `python -m domectl.skydata.build`")
    return path


def _json(name: str, data_dir: Path | None = None):
    path = _path(name, data_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); rebuild with `python -m domectl.skydata.build`") from exc


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} not available; choose one of {', '.join(LANGUAGES)}")


def radec_to_icrs(radec_deg) -> np.ndarray:
    """(M, 2) right ascension, declination in degrees -> (M, 3) ICRS unit vectors."""
    a = np.radians(np.asarray(radec_deg, dtype=np.float64))
    ra, dec = a[..., 0], a[..., 1]
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1)


def load_stars(data_dir: Path | None = None) -> StarCatalog:
    """All 117,955 Hipparcos stars from ``stars.npz``: see :class:`StarCatalog`."""
    path = _path("stars.npz", data_dir)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); rebuild with `python -m domectl.skydata.build`") from exc
    needed = ("hip", "icrs_xyz", "pm_xyz_rad_per_yr", "mag", "bv", "parallax_mas", "epoch_jyear")
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing}; rebuild with `python -m domectl.skydata.build`")
    return StarCatalog(
        hip=arrays["hip"].astype(np.int32, copy=False),
        icrs_xyz=arrays["icrs_xyz"].astype(np.float64, copy=False),
        pm_xyz_rad_per_yr=arrays["pm_xyz_rad_per_yr"].astype(np.float64, copy=False),
        mag=arrays["mag"].astype(np.float32, copy=False),
        bv=arrays["bv"].astype(np.float32, copy=False),
        parallax_mas=arrays["parallax_mas"].astype(np.float32, copy=False),
        epoch_jyear=float(arrays["epoch_jyear"]),
    )


def load_constellation_lines(data_dir: Path | None = None) -> dict[str, list[np.ndarray]]:
    """IAU abbreviation (88 keys) -> list of (M, 3) ICRS unit-vector polylines (stick figures)."""
    data = _json("constellation_lines.json", data_dir)
    return {abbrev: [radec_to_icrs(line) for line in lines] for abbrev, lines in data["lines"].items()}


def load_constellation_names(lang: str, data_dir: Path | None = None) -> dict[str, str]:
    """IAU abbreviation (88 keys) -> constellation name in ``lang`` (fr, en, nl, de)."""
    _check_lang(lang)
    data = _json("constellation_names.json", data_dir)
    return {abbrev: names[lang] for abbrev, names in data["names"].items()}


def load_constellation_labels(data_dir: Path | None = None) -> dict[str, np.ndarray]:
    """IAU abbreviation -> (K, 3) ICRS unit vectors where to put its label (Serpens has 2)."""
    data = _json("constellation_names.json", data_dir)
    return {abbrev: radec_to_icrs(points) for abbrev, points in data["label_radec_deg"].items()}


def load_constellation_borders(data_dir: Path | None = None) -> list[tuple[tuple[str, str], list[np.ndarray]]]:
    """IAU boundaries: list of ((abbrev, abbrev), [(M, 3) ICRS polylines]) per pair of neighbours."""
    data = _json("constellation_borders.json", data_dir)
    return [(tuple(b["ids"]), [radec_to_icrs(line) for line in b["lines"]]) for b in data["borders"]]


def load_star_names(lang: str, data_dir: Path | None = None) -> dict[int, str]:
    """HIP number -> proper name in ``lang`` (fr, en, nl, de) for the named stars."""
    _check_lang(lang)
    data = _json("star_names.json", data_dir)
    return {int(hip): names[lang] for hip, names in data["names"].items()}


def load_milky_way(data_dir: Path | None = None) -> list[list[np.ndarray]]:
    """Milky Way outlines: 5 levels (faint outer outline first, bright core last),
    each a list of closed (M, 3) ICRS unit-vector rings."""
    data = _json("milky_way.json", data_dir)
    return [[radec_to_icrs(ring) for ring in level["rings"]] for level in data["levels"]]


def manifest(data_dir: Path | None = None) -> dict:
    """``MANIFEST.json`` as a dict: files -> {sha256, size, sources, script}, language_fallbacks."""
    return _json("MANIFEST.json", data_dir)


def verify_manifest(data_dir: Path | None = None) -> None:
    """Check every file listed in ``MANIFEST.json`` against its size and sha256.

    Raises :class:`DataError` naming the first file that is missing or differs.
    """
    directory = data_dir or DATA_DIR
    for name, entry in sorted(manifest(directory)["files"].items()):
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path}: listed in MANIFEST.json but missing; rebuild with `python -m domectl.skydata.build`")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"] or len(data) != entry["size"]:
            raise DataError(
                f"{path}: sha256 {digest} ({len(data)} bytes) does not match MANIFEST.json "
                f"({entry['sha256']}, {entry['size']} bytes); restore it from git or rebuild with "
                "`python -m domectl.skydata.build`"
            )
