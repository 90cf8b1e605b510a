"""Paul Bourke warp meshes (``.data``), as written for spherical-mirror and fulldome projection.

The text file::

    2                 line 1: mesh type; 2 = rectangular (the only one supported;
                      1 is Bourke's polar mesh)
    NX NY             line 2: nodes across and down
    x y u v i         then NX * NY lines, one node each, row by row (NX per row)

* ``x, y``: the node's position on the projector image, y up: x in
  ``[-aspect, aspect]`` (aspect = width / height), y in ``[-1, 1]``; ``(-aspect, -1)``
  is the bottom-left corner. Bourke's meshes (and SGCT's fixture) start with
  the bottom row, y = -1.
* ``u, v``: the texture coordinate the node shows, in [0, 1], OpenGL's
  convention (v up). For a fulldome mesh the texture is the domemaster.
* ``i``: intensity multiplier in [0, 1]; 0 = black (the node lights nothing).

:class:`BourkeMesh` keeps the nodes in file order (row 0 = the file's first
row), so that ``parse_bourke(format_bourke(m)) == m`` exactly. Numbers are
written with 17 significant digits (float64 round-trips exactly).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from warp.formats._io import FormatError, atomic_write_bytes, read_bytes

BOURKE_RECTANGULAR = 2
_MESH_TYPES = {1: "polar", 2: "rectangular"}


@dataclass(frozen=True, eq=False)
class BourkeMesh:
    """A rectangular Paul Bourke mesh, rows in file order.

    ``xy`` (NY, NX, 2) float64 node positions (x in [-aspect, aspect], y in
    [-1, 1], y up); ``uv`` (NY, NX, 2) float64 texture coordinates (v up);
    ``intensity`` (NY, NX) float64. ``mesh_type`` is 2.
    """

    xy: np.ndarray
    uv: np.ndarray
    intensity: np.ndarray
    mesh_type: int = BOURKE_RECTANGULAR

    def __post_init__(self) -> None:
        xy, uv, it = (np.asarray(a, dtype=np.float64) for a in (self.xy, self.uv, self.intensity))
        if xy.ndim != 3 or xy.shape[2] != 2 or uv.shape != xy.shape or it.shape != xy.shape[:2]:
            raise FormatError(
                f"Bourke mesh arrays xy {xy.shape}, uv {uv.shape}, intensity {it.shape}: "
                "must be (NY, NX, 2), (NY, NX, 2), (NY, NX)"
            )
        if xy.shape[0] < 2 or xy.shape[1] < 2:
            raise FormatError(f"Bourke mesh of {xy.shape[1]} x {xy.shape[0]} nodes: needs at least 2 x 2")
        for name, a in (("xy", xy), ("uv", uv), ("intensity", it)):
            if not np.all(np.isfinite(a)):
                raise FormatError(f"Bourke mesh {name}: every value must be finite")
        if self.mesh_type != BOURKE_RECTANGULAR:
            raise FormatError(f"Bourke mesh type {self.mesh_type!r}: only 2 (rectangular) is supported")
        object.__setattr__(self, "xy", xy)
        object.__setattr__(self, "uv", uv)
        object.__setattr__(self, "intensity", it)

    @property
    def shape(self) -> tuple[int, int]:
        """(NY, NX): rows and columns of nodes."""
        return self.intensity.shape

    @property
    def aspect(self) -> float:
        """Image width / height, from the nodes' x extent (x spans [-aspect, aspect])."""
        return float(np.max(np.abs(self.xy[..., 0])))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BourkeMesh):
            return NotImplemented
        return self.mesh_type == other.mesh_type and all(
            np.array_equal(a, b) for a, b in ((self.xy, other.xy), (self.uv, other.uv),
                                               (self.intensity, other.intensity))
        )

    __hash__ = None  # type: ignore[assignment]


def _line_ints(text: str, name: str, lineno: int, count: int, what: str) -> list[int]:
    fields = text.split()
    try:
        values = [int(f) for f in fields]
    except ValueError:
        values = []
    if len(fields) != count or len(values) != count:
        raise FormatError(f"{name}:{lineno}: expected {what}, found {text.strip()!r}")
    return values


def parse_bourke(text: str, name: str = "<bourke>") -> BourkeMesh:
    """Text of a Bourke mesh -> :class:`BourkeMesh` (rows in file order).

    Blank lines are skipped. Errors name ``name`` and the line:
    ``standard_16x9.data:5: expected 5 numbers 'x y u v i', found '1 2'``.
    """
    lines = text.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise FormatError(f"{name}: empty file: expected a Paul Bourke mesh (mesh type, 'nx ny', then nodes)")
    lineno, line = numbered[0]
    (mesh_type,) = _line_ints(line, name, lineno, 1, "the mesh type (2 = rectangular) alone on the first line")
    if mesh_type != BOURKE_RECTANGULAR:
        kind = _MESH_TYPES.get(mesh_type, "unknown")
        raise FormatError(f"{name}:{lineno}: mesh type {mesh_type} ({kind}): only 2 (rectangular) is supported")
    if len(numbered) < 2:
        raise FormatError(f"{name}: ends after the mesh type: expected 'nx ny' on the next line")
    lineno, line = numbered[1]
    nx, ny = _line_ints(line, name, lineno, 2, "the mesh size 'nx ny' (two whole numbers)")
    if nx < 2 or ny < 2:
        raise FormatError(f"{name}:{lineno}: mesh size {nx} x {ny}: needs at least 2 x 2 nodes")
    nodes = numbered[2:]
    count = nx * ny
    if len(nodes) < count:
        last = numbered[-1][0]
        raise FormatError(
            f"{name}: truncated: a {nx} x {ny} mesh has {count} nodes, found {len(nodes)} "
            f"(the file ends at line {last})"
        )
    if len(nodes) > count:
        extra_line = nodes[count][0]
        raise FormatError(
            f"{name}:{extra_line}: more nodes than the {nx} x {ny} = {count} announced on line {numbered[1][0]}"
        )
    values = np.empty((count, 5), dtype=np.float64)
    for k, (lineno, line) in enumerate(nodes):
        fields = line.split()
        if len(fields) != 5:
            raise FormatError(f"{name}:{lineno}: expected 5 numbers 'x y u v i', found {line.strip()!r}")
        try:
            row = [float(f) for f in fields]
        except ValueError:
            raise FormatError(f"{name}:{lineno}: expected 5 numbers 'x y u v i', found {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in row):
            raise FormatError(f"{name}:{lineno}: {line.strip()!r}: every value must be a finite number")
        values[k] = row
    grid = values.reshape(ny, nx, 5)
    return BourkeMesh(xy=grid[..., 0:2].copy(), uv=grid[..., 2:4].copy(), intensity=grid[..., 4].copy())


def read_bourke(path: str | os.PathLike) -> BourkeMesh:
    """Read a Paul Bourke ``.data`` mesh file (see :func:`parse_bourke`)."""
    data = read_bytes(path)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FormatError(
            f"{path}:{line}: not a text file (byte {e.object[e.start]:#04x}): expected a Bourke mesh"
        ) from None
    return parse_bourke(text, str(path))


def format_bourke(mesh: BourkeMesh) -> str:
    """:class:`BourkeMesh` -> file text, rows in the mesh's order, 17 significant digits."""
    ny, nx = mesh.shape
    nodes = np.concatenate([mesh.xy, mesh.uv, mesh.intensity[..., None]], axis=-1).reshape(-1, 5)
    body = "\n".join(" ".join(f"{v:.17g}" for v in row) for row in nodes.tolist())
    return f"{mesh.mesh_type}\n{nx} {ny}\n{body}\n"


def write_bourke(path: str | os.PathLike, mesh: BourkeMesh) -> Path:
    """Write a Bourke mesh file atomically (see :func:`format_bourke`)."""
    return atomic_write_bytes(path, format_bourke(mesh).encode("ascii"))
