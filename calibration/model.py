"""What a hall's calibration is: per projector, its fitted model, manual refinement, blend and colour.

A :class:`CalibrationSet` is plain data (numpy only, no I/O) and round-trips
through JSON (:meth:`CalibrationSet.to_json` / :meth:`CalibrationSet.from_json`);
the store (``calibration/store.py``) versions it on disk. Per projector:

* ``model``: the projector's pose and lens (``warp.ProjectorModel``), as the
  hall config gives it or as automatic calibration fitted it;
* ``control``: the technician's manual refinement, a grid of offsets in
  projector pixels over the image (``rows x cols`` points, each ``(dx, dy)``),
  interpolated smoothly between points (zero: no refinement);
* ``blend`` (:class:`Blend`): the blend ramp's width, the gamma its mask is
  encoded for, and the black-level uplift on or off;
* ``colour`` (:class:`Colour`): per-channel gain (linear light) to match
  projectors' brightness and colour, and an optional per-channel LUT that
  linearises the projector's tone curve (how the node applies both: there).

``fit``: what the last automatic calibration measured for this projector
(``rms_px``, ``max_px``, point count), or None when never fitted.

JSON versions: 2 (written). 1 (read): ``blend.width_frac`` then meant "ramp
width as a fraction of the image's smaller side" and was applied nowhere
(nodes and export blended with ``warp.blend.DEFAULT_RAMP_FRAC``). Reading a
version 1 file, its old default :data:`V1_DEFAULT_WIDTH_FRAC` becomes
today's default (the dome looks as it did), and any other value ``w`` the
same ramp along the image's smaller (second) axis, ``min(1, 2 w)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from domectl.errors import ConfigError
from warp.blend import DEFAULT_RAMP_FRAC
from warp.geometry import Lens, ProjectorModel

FORMAT = "domectl-calibration"
VERSION = 2
READABLE_VERSIONS = (1, 2)
# Version 1's Blend.width_frac default (a fraction of the image's smaller side, never applied).
V1_DEFAULT_WIDTH_FRAC = 0.15
# A ramp narrower than this (1 % of the half image: ~20 px of 4096) is a hard edge that shows every misalignment.
MIN_WIDTH_FRAC = 0.01


@dataclass(frozen=True)
class ControlGrid:
    """Manual refinement: ``offsets_px[r][c] = (dx, dy)`` at evenly spaced points over the image
    (corners included), in projector pixels."""

    rows: int
    cols: int
    offsets_px: tuple[tuple[tuple[float, float], ...], ...]

    @classmethod
    def zero(cls, rows: int = 5, cols: int = 7) -> ControlGrid:
        return cls(rows, cols, tuple(tuple((0.0, 0.0) for _ in range(cols)) for _ in range(rows)))

    def is_zero(self) -> bool:
        return all(dx == 0.0 and dy == 0.0 for row in self.offsets_px for dx, dy in row)


@dataclass(frozen=True)
class Blend:
    """How one projector blends into its neighbours (warp/blend.py's model).

    ``width_frac``: ``warp.blend``'s ``ramp_frac`` for this projector: its raw
    edge weight rises from 0 at the image edge to 1 at this fraction of the
    way to the image centre, per axis (``width_frac * W / 2`` pixels across,
    ``width_frac * H / 2`` down); in [:data:`MIN_WIDTH_FRAC`, 1]; default
    ``warp.blend.DEFAULT_RAMP_FRAC``. Weights are normalised over all the
    projectors lighting a point, so unequal widths still sum to 1.
    ``gamma``: the gamma the blend mask is encoded for
    (``warp.blend.encode_mask``, the MPCDI alpha map's gamma), the projector's
    display gamma. ``black_uplift``: whether this projector adds its share of
    the black-level uplift (``warp.blend.black_uplift_mask``'s ``uplift_on``).
    """

    width_frac: float = DEFAULT_RAMP_FRAC
    gamma: float = 2.2
    black_uplift: bool = True


@dataclass(frozen=True)
class Colour:
    """Brightness and colour matching of one projector, applied by its node per output pixel.

    In linear light, after the blend weight and before encoding for the
    projector (``x ** (1 / gamma)``, the model's gamma), per channel ``c``:
    ``out_c = lut_c(min(1, gain_c * x_c))``, ``lut_c`` the piecewise-linear
    interpolation of ``lut[c]`` over evenly spaced inputs from 0 to 1
    (``lut[c][0]`` at 0, ``lut[c][-1]`` at 1; the identity when ``lut`` is
    None). Gains are at most 1 when made by matching (a projector can only be
    dimmed); the LUT maps [0, 1] onto [0, 1] and linearises the projector's
    measured tone curve, so that its light is proportional to ``gain_c * x_c``.
    calibration/colour.py makes both from flat-field captures and holds the
    numpy twin (``apply_colour``).
    """

    gain_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lut: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]] | None = None


@dataclass(frozen=True)
class Fit:
    rms_px: float
    max_px: float
    points: int


@dataclass(frozen=True)
class ProjectorCalibration:
    model: ProjectorModel
    control: ControlGrid = field(default_factory=ControlGrid.zero)
    blend: Blend = field(default_factory=Blend)
    colour: Colour = field(default_factory=Colour)
    fit: Fit | None = None

    @property
    def name(self) -> str:
        return self.model.name


@dataclass(frozen=True)
class CalibrationSet:
    hall: str
    projectors: tuple[ProjectorCalibration, ...]

    def projector(self, name: str) -> ProjectorCalibration:
        for p in self.projectors:
            if p.name == name:
                return p
        raise ConfigError(f"calibration of {self.hall!r}: no projector {name!r}; "
                          f"it has {', '.join(p.name for p in self.projectors)}")

    def replace_projector(self, calibration: ProjectorCalibration) -> CalibrationSet:
        self.projector(calibration.name)
        return CalibrationSet(self.hall, tuple(calibration if p.name == calibration.name else p
                                               for p in self.projectors))

    # ------------------------------------------------------------ JSON

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": VERSION, "hall": self.hall,
                           "projectors": [_projector_dict(p) for p in self.projectors]}, indent=1)

    @classmethod
    def from_json(cls, text: str, where: str = "calibration") -> CalibrationSet:
        """Parse and check; ConfigError naming ``where`` and the field on any problem."""
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"{where}: not JSON: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"{where}: not a {FORMAT} file")
        version = data.get("version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise ConfigError(f"{where}: version {version!r}, this build reads "
                              f"{', '.join(map(str, READABLE_VERSIONS))}")
        projectors = data.get("projectors")
        if not isinstance(data.get("hall"), str) or not isinstance(projectors, list) or not projectors:
            raise ConfigError(f"{where}: needs hall (a name) and projectors (a non-empty list)")
        out = []
        for i, p in enumerate(projectors):
            try:
                out.append(_projector_from(p, version))
            except (KeyError, TypeError, ValueError, ConfigError) as e:
                raise ConfigError(f"{where}: projectors[{i}]: {e}") from None
        names = [p.name for p in out]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where}: projector names repeat: {names}")
        return cls(data["hall"], tuple(out))


def _projector_dict(p: ProjectorCalibration) -> dict:
    m = p.model
    return {
        "model": {"name": m.name, "position_m": list(m.position_m), "yaw_deg": m.yaw_deg,
                  "pitch_deg": m.pitch_deg, "roll_deg": m.roll_deg, "width_px": m.width_px,
                  "height_px": m.height_px, "gamma": m.gamma, "black_level": m.black_level,
                  "lens": {"kind": m.lens.kind, "throw_ratio": m.lens.throw_ratio, "fov_deg": m.lens.fov_deg,
                           "shift_x": m.lens.shift_x, "shift_y": m.lens.shift_y}},
        "control": {"rows": p.control.rows, "cols": p.control.cols,
                    "offsets_px": [[list(o) for o in row] for row in p.control.offsets_px]},
        "blend": {"width_frac": p.blend.width_frac, "gamma": p.blend.gamma, "black_uplift": p.blend.black_uplift},
        "colour": {"gain_rgb": list(p.colour.gain_rgb),
                   "lut": None if p.colour.lut is None else [list(ch) for ch in p.colour.lut]},
        "fit": None if p.fit is None else {"rms_px": p.fit.rms_px, "max_px": p.fit.max_px, "points": p.fit.points},
    }


def _number(x, what: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ConfigError(f"{what} must be a number, not {x!r}")
    if (low is not None and x < low) or (high is not None and x > high):
        raise ConfigError(f"{what} = {x!r}: must be in [{low}, {high}]")
    return float(x)


def _width_frac(x, version: int) -> float:
    """``blend.width_frac`` as today's ramp_frac (version 1's meaning: the module docstring)."""
    if version == 1:
        old = _number(x, "blend width_frac", 0.0, 0.5)
        return DEFAULT_RAMP_FRAC if old == V1_DEFAULT_WIDTH_FRAC else min(1.0, max(MIN_WIDTH_FRAC, 2.0 * old))
    return _number(x, "blend width_frac (the ramp as a fraction of the half image)", MIN_WIDTH_FRAC, 1.0)


def _projector_from(d: dict, version: int = VERSION) -> ProjectorCalibration:
    m, lens = d["model"], d["model"]["lens"]
    model = ProjectorModel(
        name=str(m["name"]), position_m=tuple(m["position_m"]), yaw_deg=m["yaw_deg"], pitch_deg=m["pitch_deg"],
        roll_deg=m["roll_deg"], width_px=m["width_px"], height_px=m["height_px"], gamma=m["gamma"],
        black_level=m["black_level"],
        lens=Lens(kind=lens["kind"], throw_ratio=lens.get("throw_ratio"), fov_deg=lens.get("fov_deg"),
                  shift_x=lens.get("shift_x", 0.0), shift_y=lens.get("shift_y", 0.0)))
    c = d["control"]
    rows, cols = int(c["rows"]), int(c["cols"])
    if not (2 <= rows <= 64 and 2 <= cols <= 64):
        raise ConfigError(f"control grid {rows} x {cols}: each side must be 2..64 points")
    offsets = tuple(tuple((_number(o[0], "control offset dx"), _number(o[1], "control offset dy"))
                          for o in row) for row in c["offsets_px"])
    if len(offsets) != rows or any(len(row) != cols for row in offsets):
        raise ConfigError(f"control offsets_px must be {rows} rows of {cols} (dx, dy) pairs")
    b = d["blend"]
    blend = Blend(_width_frac(b["width_frac"], version), _number(b["gamma"], "blend gamma", 0.5, 5.0),
                  bool(b["black_uplift"]))
    col = d["colour"]
    gain = tuple(_number(g, "colour gain", 0.0, 4.0) for g in col["gain_rgb"])
    if len(gain) != 3:
        raise ConfigError("colour gain_rgb needs 3 numbers")
    lut = None
    if col.get("lut") is not None:
        lut = tuple(tuple(_number(v, "colour lut value", 0.0, 1.0) for v in ch) for ch in col["lut"])
        if len(lut) != 3 or len({len(ch) for ch in lut}) != 1 or len(lut[0]) < 2:
            raise ConfigError("colour lut needs 3 channels of the same length (>= 2)")
    f = d.get("fit")
    fit = None if f is None else Fit(_number(f["rms_px"], "fit rms_px", 0.0), _number(f["max_px"], "fit max_px", 0.0),
                                     int(f["points"]))
    return ProjectorCalibration(model, ControlGrid(rows, cols, offsets), blend, Colour(gain, lut), fit)


def from_hall(hall) -> CalibrationSet:
    """The hall config's projectors as an uncalibrated set (the nominal poses, no refinement)."""
    from domectl.hallwarp import projector_models

    return CalibrationSet(hall.name, tuple(ProjectorCalibration(m) for m in projector_models(hall)))
