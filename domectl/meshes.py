"""Wavefront OBJ + MTL models as plain arrays (numpy + stdlib; no GL).

A parser is a pure function from text to a :class:`Mesh`; only :func:`load_obj`
and :func:`load_model` touch files, and uploading to the GPU is the renderer's
business. The committed models live in ``domectl/data/models/NAME.obj`` (with
``NAME.mtl``), made by ``python -m domectl.skydata.build_voyage``.

OBJ subset read
    ``v x y z [w]`` (a trailing w, or vertex colours ``r g b`` after xyz, are
    ignored), ``vn``, ``vt`` (counted so that face indices can be checked; a
    Mesh has no texture coordinates), ``f`` with ``v``, ``v/vt``, ``v//vn`` or
    ``v/vt/vn`` references, 1-based or negative (relative to the end), polygons
    of any size (fan-triangulated from their first vertex, so they should be
    convex), ``usemtl``, ``mtllib``, ``#`` comments; ``o``, ``g``, ``l``, ``p``
    and other statements are ignored; ``s`` sets the smoothing group used for
    faces without normals.

Vertices are split per (position, normal, material): a flat-shaded face keeps
its own normals and a material edge its own colours. Faces are counter-clockwise
seen from the front. A face without ``vn`` gets its face normal when smoothing
is off (``s off`` / ``s 0``, the default), or the area-weighted mean of the face
normals of its smoothing group around each position when it is on.

Colours: a material's ``Kd`` is taken as *linear* RGB (the MTL format predates
colour management; Blender, for one, writes its linear base colour there), so
the renderer can multiply it by the lighting as it is. A face with no material
is :data:`DEFAULT_COLOUR` (0.8 grey, the MTL default diffuse). Other MTL
statements (Ka, Ks, Ns, d, illum, map_*) are ignored.

Units are the file's; the committed models are in metres with +z along the
model's long axis.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domectl.errors import DomectlError

MODELS_DIR = Path(__file__).resolve().parent / "data" / "models"
#: Diffuse colour of faces without a material: the MTL default ``Kd 0.8 0.8 0.8``.
DEFAULT_COLOUR = (0.8, 0.8, 0.8)
#: Refused beyond this many triangles: a dome model of a rocket needs tens of thousands; two
#: million already costs ~100 MB of vertex data per IG and a slow pure-Python parse.
MAX_TRIANGLES = 2_000_000
#: Files larger than this are refused before they are read (a 2 M-triangle OBJ is ~150 MB).
MAX_FILE_BYTES = 256 * 1024 * 1024

_MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

__all__ = [
    "DEFAULT_COLOUR",
    "MAX_TRIANGLES",
    "MODELS_DIR",
    "Mesh",
    "MeshError",
    "available_models",
    "load_model",
    "load_obj",
    "model_path",
    "parse_mtl",
    "parse_obj",
]


class MeshError(DomectlError, ValueError):
    """An OBJ or MTL file is malformed, too big or missing; the message names ``file:line``."""


@dataclass(frozen=True, eq=False)
class Mesh:
    """A triangle mesh, ready to upload.

    positions (N, 3) float32 in model units; normals (N, 3) float32 unit
    vectors; colours (N, 3) float32 linear RGB in [0, 1] (from the material's
    Kd); triangles (M, 3) uint32 indices into the vertex arrays,
    counter-clockwise seen from the front. The arrays are read-only (a loaded
    model is cached and shared).
    """

    positions: np.ndarray
    normals: np.ndarray
    colours: np.ndarray
    triangles: np.ndarray

    @property
    def bounding_radius(self) -> float:
        """The largest distance of a vertex from the model origin, in model units (0 for no vertex)."""
        if len(self.positions) == 0:
            return 0.0
        return float(np.sqrt(np.max(np.einsum("ij,ij->i", self.positions, self.positions, dtype=np.float64))))


def _numbers(fields: list[str], where: str, what: str, minimum: int, maximum: int) -> list[float]:
    if not minimum <= len(fields) <= maximum:
        want = str(minimum) if minimum == maximum else f"{minimum} to {maximum}"
        raise MeshError(f"{where}: {what} needs {want} numbers, got {len(fields)}: {' '.join(fields)!r}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        raise MeshError(f"{where}: {what}: {' '.join(fields)!r} is not a list of numbers; "
                        "write plain decimals such as 1.25 or -3e-2") from None
    if not all(math.isfinite(v) for v in values):
        raise MeshError(f"{where}: {what}: {' '.join(fields)!r} holds an infinite or NaN value")
    return values


def _statements(text: str):
    """(line number, keyword, fields) for every non-empty, non-comment line; ``\\`` joins lines."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line.endswith("\\"):
            if not pending:
                start = number
            pending += line[:-1] + " "
            continue
        if pending:
            line, number_out = pending + line, start
            pending = ""
        else:
            number_out = number
        fields = line.split()
        if fields:
            yield number_out, fields[0], fields[1:]


def parse_mtl(text: str, name: str) -> dict[str, tuple[float, float, float]]:
    """MTL text -> {material name: Kd as linear (r, g, b)}; ``name`` is used in messages.

    ``Kd r [g b]`` (one value means grey); a material without Kd gets
    :data:`DEFAULT_COLOUR`. Values must lie in [0, 1].
    """
    materials: dict[str, tuple[float, float, float]] = {}
    current: str | None = None
    for line, keyword, fields in _statements(text):
        where = f"{name}:{line}"
        if keyword == "newmtl":
            if len(fields) != 1:
                raise MeshError(f"{where}: newmtl needs one material name without spaces, got {' '.join(fields)!r}")
            current = fields[0]
            if current in materials:
                raise MeshError(f"{where}: material {current!r} is defined twice; rename one of them")
            materials[current] = DEFAULT_COLOUR
        elif keyword == "Kd":
            if current is None:
                raise MeshError(f"{where}: Kd before any newmtl; start the material with `newmtl NAME`")
            if fields and fields[0] in ("spectral", "xyz"):
                raise MeshError(f"{where}: Kd {fields[0]} is not supported; give linear RGB: `Kd 0.8 0.2 0.1`")
            values = _numbers(fields, where, "Kd", 1, 3)
            if len(values) == 2:
                raise MeshError(f"{where}: Kd needs 1 (grey) or 3 (r g b) numbers, got 2")
            if any(v < 0.0 or v > 1.0 for v in values):
                raise MeshError(f"{where}: Kd {' '.join(fields)}: each value must be in [0, 1] (linear RGB)")
            rgb = values * 3 if len(values) == 1 else values
            materials[current] = (rgb[0], rgb[1], rgb[2])
    return materials


def _index(token: str, count: int, kind: str, where: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise MeshError(f"{where}: face index {token!r} is not an integer") from None
    if value == 0:
        raise MeshError(f"{where}: {kind} index 0: OBJ indices start at 1 (or count back from -1)")
    resolved = value - 1 if value > 0 else count + value
    if not 0 <= resolved < count:
        raise MeshError(f"{where}: {kind} index {value} is out of range: {count} {kind} defined so far; "
                        "a face may only use vertices listed above it")
    return resolved


def parse_obj(text: str, name: str, materials: dict[str, tuple] | None = None) -> Mesh:
    """OBJ text -> :class:`Mesh`; ``name`` (usually the file name) is used in messages.

    ``materials`` maps material names to linear RGB (from :func:`parse_mtl`).
    When None, ``usemtl`` is ignored and every face is :data:`DEFAULT_COLOUR`;
    when given, ``usemtl`` of a material not in it is an error. ``mtllib`` is
    ignored here (:func:`load_obj` reads the libraries).
    """
    positions: list[tuple[float, float, float]] = []
    normals: list[tuple[float, float, float]] = []
    texcoord_count = 0
    colour = DEFAULT_COLOUR
    smoothing = 0
    # Per output vertex: (position index, normal key, colour); the normal key is
    # ("n", vn index) for a given normal, ("f", face) for a flat face normal,
    # ("s", group) for a smoothed one.
    vertex_ids: dict[tuple, int] = {}
    vertex_keys: list[tuple] = []
    triangles: list[tuple[int, int, int]] = []
    face_normals: list[np.ndarray] = []  # per face without vn: Newell normal scaled by area
    smooth_faces: list[tuple[int, tuple[int, ...]]] = []  # (group, position indices)

    for line, keyword, fields in _statements(text):
        where = f"{name}:{line}"
        if keyword == "v":
            x, y, z = _numbers(fields, where, "v", 3, 7)[:3]
            positions.append((x, y, z))
        elif keyword == "vn":
            nx, ny, nz = _numbers(fields, where, "vn", 3, 3)
            length = math.sqrt(nx * nx + ny * ny + nz * nz)
            if length == 0.0:
                raise MeshError(f"{where}: vn 0 0 0 has no direction; give a non-zero normal or drop the vn "
                                "and its uses (normals are computed where missing)")
            normals.append((nx / length, ny / length, nz / length))
        elif keyword == "vt":
            _numbers(fields, where, "vt", 1, 3)
            texcoord_count += 1
        elif keyword == "usemtl":
            if len(fields) != 1:
                raise MeshError(f"{where}: usemtl needs one material name, got {' '.join(fields)!r}")
            if materials is not None:
                if fields[0] not in materials:
                    known = ", ".join(sorted(materials)) or "none: is the mtllib line missing or its file empty?"
                    raise MeshError(f"{where}: unknown material {fields[0]!r}; materials defined: {known}")
                colour = tuple(float(c) for c in materials[fields[0]])
        elif keyword == "s":
            if len(fields) != 1:
                raise MeshError(f"{where}: s needs one group number or 'off', got {' '.join(fields)!r}")
            if fields[0] in ("off", "0"):
                smoothing = 0
            else:
                try:
                    smoothing = int(fields[0])
                except ValueError:
                    raise MeshError(f"{where}: smoothing group {fields[0]!r} must be a number or 'off'") from None
        elif keyword == "f":
            if len(fields) < 3:
                raise MeshError(f"{where}: a face needs at least 3 vertices, got {len(fields)}; "
                                "drop the line or add the missing vertices")
            refs = []
            for token in fields:
                parts = token.split("/")
                if len(parts) > 3 or parts[0] == "":
                    raise MeshError(f"{where}: face vertex {token!r} must be v, v/vt, v//vn or v/vt/vn")
                p = _index(parts[0], len(positions), "vertex", where)
                if len(parts) >= 2 and parts[1] != "":
                    _index(parts[1], texcoord_count, "texture coordinate", where)
                n = _index(parts[2], len(normals), "normal", where) if len(parts) == 3 and parts[2] != "" else None
                refs.append((p, n))
            if len(triangles) + len(refs) - 2 > MAX_TRIANGLES:
                raise MeshError(f"{where}: more than {MAX_TRIANGLES:,} triangles; decimate the model "
                                "(e.g. Blender's Decimate modifier) before loading it")
            missing = any(n is None for _, n in refs)
            if missing:
                pts = np.array([positions[p] for p, _ in refs], dtype=np.float64)
                # Newell's method: the polygon's normal, length twice its area.
                nxt = np.roll(pts, -1, axis=0)
                newell = np.cross(pts, nxt).sum(axis=0) * 0.5
                if smoothing:
                    smooth_faces.append((smoothing, tuple(p for p, _ in refs)))
                    face_normals.append(newell)
                area2 = float(np.linalg.norm(newell))
                face_key = ("f", (newell / area2 if area2 > 0.0 else newell).tobytes())
            ids = []
            for p, n in refs:
                if n is not None:
                    nkey = ("n", n)
                elif smoothing:
                    nkey = ("s", smoothing)
                else:
                    nkey = face_key
                key = (p, nkey, colour)
                vid = vertex_ids.get(key)
                if vid is None:
                    vid = vertex_ids[key] = len(vertex_keys)
                    vertex_keys.append(key)
                ids.append(vid)
            for k in range(1, len(ids) - 1):
                triangles.append((ids[0], ids[k], ids[k + 1]))

    if not triangles:
        raise MeshError(f"{name}: no faces (f lines) found; an OBJ model needs at least one triangle")

    smooth_sum: dict[tuple[int, int], np.ndarray] = {}
    for (group, pids), normal in zip(smooth_faces, face_normals):
        for p in pids:
            key = (group, p)
            smooth_sum[key] = smooth_sum[key] + normal if key in smooth_sum else normal.copy()

    count = len(vertex_keys)
    pos_out = np.empty((count, 3), dtype=np.float64)
    nrm_out = np.empty((count, 3), dtype=np.float64)
    col_out = np.empty((count, 3), dtype=np.float64)
    for i, (p, nkey, rgb) in enumerate(vertex_keys):
        pos_out[i] = positions[p]
        col_out[i] = rgb
        kind, value = nkey
        if kind == "n":
            nrm_out[i] = normals[value]
        elif kind == "s":
            nrm_out[i] = smooth_sum[(value, p)]
        else:
            nrm_out[i] = np.frombuffer(value, dtype=np.float64)
    length = np.linalg.norm(nrm_out, axis=1)
    # A degenerate (zero-area) face has no direction of its own: give it +z rather than NaN.
    bad = length < 1e-30
    nrm_out[bad] = (0.0, 0.0, 1.0)
    length[bad] = 1.0
    nrm_out /= length[:, None]
    return Mesh(
        positions=_frozen(pos_out.astype(np.float32)),
        normals=_frozen(nrm_out.astype(np.float32)),
        colours=_frozen(col_out.astype(np.float32)),
        triangles=_frozen(np.array(triangles, dtype=np.uint32)),
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _read_text(path: Path, referenced_from: str | None = None) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MeshError(f"{path}: {size:,} bytes, more than the {MAX_FILE_BYTES:,} allowed; "
                            "decimate the model before loading it")
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        hint = f" (named by {referenced_from})" if referenced_from else ""
        raise MeshError(f"{path}: no such file{hint}; check the path, or put the file next to the .obj") from None
    except OSError as exc:
        raise MeshError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def load_obj(path: str | Path) -> Mesh:
    """Read an OBJ file and the MTL files its ``mtllib`` lines name (relative to the OBJ's folder)."""
    path = Path(path)
    text = _read_text(path)
    materials: dict[str, tuple] | None = None
    for line, keyword, fields in _statements(text):
        if keyword != "mtllib":
            continue
        if not fields:
            raise MeshError(f"{path}:{line}: mtllib needs a file name")
        materials = {} if materials is None else materials
        for library in fields:
            mtl_path = path.parent / library
            materials.update(parse_mtl(_read_text(mtl_path, f"{path}:{line}"), str(mtl_path)))
    if materials is None and any(keyword == "usemtl" for _, keyword, _ in _statements(text)):
        materials = {}  # usemtl without any mtllib: every material is unknown, and the message says so
    return parse_obj(text, str(path), materials)


def available_models() -> tuple[str, ...]:
    """The names of the committed models (``domectl/data/models/*.obj``), sorted."""
    if not MODELS_DIR.is_dir():
        return ()
    return tuple(sorted(p.stem for p in MODELS_DIR.glob("*.obj")))


def model_path(name: str) -> Path:
    """``domectl/data/models/NAME.obj``; a :class:`MeshError` listing the models when there is none."""
    path = MODELS_DIR / f"{name}.obj"
    if not _MODEL_NAME.match(name) or not path.is_file():
        models = ", ".join(available_models()) or "none (run `python -m domectl.skydata.build_voyage`)"
        raise MeshError(f"model {name!r}: no {path.name} in {MODELS_DIR}; available models: {models}")
    return path


@functools.lru_cache(maxsize=None)
def load_model(name: str) -> Mesh:
    """The committed model ``name`` (see :func:`available_models`), parsed once and cached."""
    return load_obj(model_path(name))
