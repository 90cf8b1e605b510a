"""Surface textures of the Moon and the planets, for the lit spheres of the solar-system flight.

The files are ``domectl/data/textures/NAME.png``, made by
``python -m domectl.skydata.build_voyage`` (see that module for how each is
drawn and from which sources) and listed with their sha256 in
``domectl/data/MANIFEST.json`` as ``textures/NAME.png``.

Convention (the renderer relies on it):

* equirectangular, width = 2 x height (Earth and Moon 2048 x 1024, the others
  1024 x 512);
* row 0 (the top) is planetocentric latitude +90 (the IAU north pole), the last
  row -90; pixel row ``i`` of ``H`` is centred on latitude
  ``90 - (i + 0.5) * 180 / H``;
* longitude 0 (the IAU prime meridian) is at the centre of the image, and EAST
  longitude increases to the right: column ``j`` of ``W`` is centred on east
  longitude ``-180 + (j + 0.5) * 360 / W``. The image is a map of the body with
  east to the right: for the Moon, the centre is the sub-Earth point and the
  near side looks as it does from Earth's northern hemisphere (Mare Crisium on
  the right); for a body that rotates retrograde (Venus, Uranus, Pluto) east is
  still the IAU east of its north pole;
* pixels are (H, W, 3) uint8 sRGB-encoded albedo (no lighting, no limb
  darkening); convert to linear light before shading.

For texture lookup from a body-fixed unit vector (x toward lon 0 on the equator,
z toward the north pole): ``u = 0.5 + atan2(y, x) / (2 pi)``,
``v = 0.5 - asin(z) / pi`` with v = 0 at the top row.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np

from domectl.errors import DataError

DATA_DIR = Path(__file__).resolve().parent / "data"
TEXTURES_DIR = DATA_DIR / "textures"
#: Bodies with a committed texture; :func:`load_texture` gives None for any other (the Sun, say).
BODIES_WITH_TEXTURES = ("mercury", "venus", "earth", "moon", "mars", "jupiter", "saturn", "uranus", "neptune",
                        "pluto")
_REBUILD = "restore it from git or rebuild with `python -m domectl.skydata.build_voyage`"

__all__ = ["BODIES_WITH_TEXTURES", "TEXTURES_DIR", "load_texture", "texture_path"]


def texture_path(name: str) -> Path:
    """``domectl/data/textures/NAME.png`` (``name`` lower-cased, e.g. ``"moon"``)."""
    return TEXTURES_DIR / f"{name.lower()}.png"


def _manifest_entry(key: str) -> dict:
    path = DATA_DIR / "MANIFEST.json"
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: unreadable ({exc}); restore it from git") from exc
    if key not in files:
        raise DataError(f"{path}: no entry for {key}; rebuild with `python -m domectl.skydata.build_voyage`")
    return files[key]


def load_texture(name: str) -> np.ndarray | None:
    """The texture of body ``name`` (any case) as (H, W, 3) uint8 sRGB, read-only and cached; None if it has none.

    Raises :class:`DataError` naming the file if it is missing, does not match
    its sha256 in the manifest, or is not a 2:1 RGB PNG.
    """
    body = name.lower()
    if body not in BODIES_WITH_TEXTURES:
        return None
    return _load(body)


@functools.lru_cache(maxsize=None)
def _load(body: str) -> np.ndarray:
    path = texture_path(body)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); {_REBUILD}") from None
    entry = _manifest_entry(f"textures/{body}.png")
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.get("sha256") or len(data) != entry.get("size"):
        raise DataError(f"{path}: sha256 {digest} ({len(data)} bytes) does not match MANIFEST.json "
                        f"({entry.get('sha256')}, {entry.get('size')} bytes); {_REBUILD}")
    # The project's PNG reader: Pillow, imported only when a PNG is decoded.
    from warp.formats.png import FormatError, decode_png

    try:
        image = decode_png(data, str(path))
    except FormatError as exc:
        raise DataError(f"{exc}; {_REBUILD}") from None
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[1] != 2 * image.shape[0]:
        raise DataError(f"{path}: shape {image.shape}, expected (H, 2H, 3) RGB; {_REBUILD}")
    image.setflags(write=False)
    return image
