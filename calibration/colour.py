"""Brightness and colour matching across projectors from flat-field captures (issue 10).

What the node does with the result (:class:`calibration.model.Colour`, numpy
twin :func:`apply_colour`): per channel, in linear light after the blend
weight and before encoding for the projector, ``out_c = lut_c(min(1, gain_c * x_c))``.

Measurement (:func:`measure_projector`), one projector at a time, every
other projector black, with a linear (RAW) camera (:mod:`calibration.camera`):

1. **region**: the camera pixels that see this projector and no other
   (:func:`camera_regions`: each camera pixel's dome point through the
   CalibrationSet's models, known or fitted), eroded by :data:`ERODE_PX`
   camera pixels so that blur and small model errors stay out; a projector
   with fewer than :data:`MIN_REGION_PX` such pixels uses those lit by the
   fewest projectors instead (reported);
2. **captures**: black, then each channel alone at :data:`DEFAULT_RAMP_STEPS`
   drive levels ``k / steps`` (the last is full), i.e. linear levels
   ``(k / steps) ** gamma`` with the model's (nominal) gamma;
3. **response**: per channel and level, the region's mean of ``(capture -
   black) / flat field`` (the camera's own vignetting, which its calibration
   knows: :meth:`calibration.camera.SimCamera.flat_field`; 1 for a camera
   without one): the dome's luminance per unit of that primary, as the
   audience sees it (throw, incidence and the projector's own brightness all
   in; the camera's vignetting out). A capture that clips is refused.

Matching (:func:`match_colours`), per channel ``c``, with ``R_p`` projector
``p``'s measured response and ``r_p = R_p / R_p(1)`` its normalised tone
curve: the target is the dimmest projector's full level, ``t_c = min_p
R_pc(1)`` (a projector can only be dimmed, so every gain is <= 1);

* with a LUT: ``gain_pc = t_c / R_pc(1)`` and ``lut_pc(y) = r_pc^-1(y)`` at
  ``lut_size`` evenly spaced ``y`` (the tone curve made linear, so light =
  ``t_c * x`` at every level);
* without: ``gain_pc = r_pc^-1(t_c / R_pc(1))``: white matches exactly even
  where the projector's gamma is not the nominal one (mid-tones then do not).

``r^-1`` interpolates the measured (level, response) pairs as power laws
between samples (exact for a pure gamma curve), extended below the darkest
sample with the first segment's exponent.

Verification (:func:`run_colour_matching`): each channel is captured again
at :data:`VERIFY_LEVELS` through the correction (the camera is shown what the
node would send), and the residual mismatch per projector is ``measured /
(t_c * level) - 1``; the report gives it per channel and level. Pictures:
the dome's flat white (every projector showing white times its blend mask,
captured one by one and summed on the pixels each lights) before and after,
side by side, the max/min ratio of the projectors' region means written
under each.

Files in the output directory (``report.json`` last)::

    calibration.json   the CalibrationSet with each projector's Colour
    flat_white.png     before | after, camera view, ratio under each half
    report.json        {format, version, hall, camera, settings, target_rgb, before, after, projectors{...}}
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.model import CalibrationSet, Colour
from domectl.errors import DomectlError
from warp.geometry import DomeModel, ProjectorModel, dome_points_to_pixels

FORMAT = "domectl-colour-matching"
VERSION = 1

# Drive levels per channel (k / steps, k = 1..steps): evenly spaced in drive
# puts more samples in the dark, where a tone curve bends most.
DEFAULT_RAMP_STEPS = 8
# LUT entries per channel, evenly spaced in linear light: measured on true
# gammas 2.2 +- 0.3 per channel (tests/test_calibration_tune.py's LUT test,
# noise-free), the worst mismatch at 5 % light is 6 % with 17 entries, 0.9 %
# with 33, 0.23 % with 65 (0.015 % at 20 %).
DEFAULT_LUT_SIZE = 65
# Region erosion in camera pixels: the simulated camera's blur is 0.8 px
# (sigma), so 2 px keeps the neighbours' light and unlit sky below 0.1 %.
ERODE_PX = 2
# Fewer pixels than this: too noisy a mean (0.3 % read noise / sqrt(50) ~ 0.05 % of white is fine; less is not).
MIN_REGION_PX = 50
# A capture this close to full scale has clipped: the mean would read low.
CLIP_LEVEL = 0.999
# Linear levels re-measured through the correction (1 = white).
VERIFY_LEVELS = (0.05, 0.2, 0.5, 1.0)
# Blend masks for the flat-white pictures: coarse (the camera resolves ~18
# projector pixels per camera pixel at 1024 px), upsampled by nearest texel.
PICTURE_MASK_WIDTH_PX = 256
# Display encoding of the pictures.
PICTURE_GAMMA = 2.2
CHANNELS = ("red", "green", "blue")

Progress = Callable[[str], None]


class ColourMatchError(DomectlError, ValueError):
    """Colour matching cannot measure or match; the message says what to change."""


# ---------------------------------------------------------------- the node's colour step (numpy twin)


def apply_colour(colour: Colour, linear_rgb) -> np.ndarray:
    """The node's colour step: (..., 3) linear light -> (..., 3), ``lut_c(min(1, gain_c * x_c))`` (calibration/model.py)."""
    x = np.asarray(linear_rgb, dtype=np.float64)
    if x.shape[-1:] != (3,):
        raise ColourMatchError(f"apply_colour: expected (..., 3) RGB, got shape {x.shape}")
    # A projector cannot show more than its white: a gain above 1 saturates (as the shader clamps).
    out = np.clip(x * np.asarray(colour.gain_rgb, dtype=np.float64), 0.0, 1.0)
    if colour.lut is not None:
        for c, table in enumerate(colour.lut):
            nodes = np.linspace(0.0, 1.0, len(table))
            out[..., c] = np.interp(out[..., c], nodes, np.asarray(table, dtype=np.float64))
    return out


def encode_drive(linear, gamma: float) -> np.ndarray:
    """Linear light in [0, 1] -> projector drive ``x ** (1 / gamma)`` (what the node sends)."""
    return np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0) ** (1.0 / gamma)


def flat_image(projector: ProjectorModel, drive_rgb) -> np.ndarray:
    """A flat (H, W, 3) float32 image of one RGB drive value, without allocating it (a read-only view)."""
    rgb = np.asarray(drive_rgb, dtype=np.float32).reshape(3)
    return np.broadcast_to(rgb, (projector.height_px, projector.width_px, 3))


def channel_drive(channel: int, drive: float) -> np.ndarray:
    rgb = np.zeros(3)
    rgb[channel] = drive
    return rgb


# ---------------------------------------------------------------- where each projector is seen


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """Binary erosion of an (h, w) bool mask by ``px`` pixels (8-neighbourhood); the border counts as outside."""
    out = np.asarray(mask, dtype=bool)
    for _ in range(px):
        padded = np.pad(out, 1, constant_values=False)
        h, w = out.shape
        keep = np.ones_like(out)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                keep &= padded[dy:dy + h, dx:dx + w]
        out = keep
    return out


@dataclass(frozen=True)
class Regions:
    """Camera pixels per projector: lit (its footprint, (h, w) bool each), coverage count, measuring region."""

    lit: dict[str, np.ndarray]
    count: np.ndarray
    measure: dict[str, np.ndarray]
    kind: dict[str, str]        # "non-overlap" or "least overlap (n projectors)"


def camera_regions(dome: DomeModel, camera_model: ProjectorModel, models: Sequence[ProjectorModel],
                   erode_px: int = ERODE_PX, min_px: int = MIN_REGION_PX) -> Regions:
    """Which camera pixel sees which projector, from the models (module docstring, step 1)."""
    from calibration.camera import camera_dome_points, camera_pixel_centres

    shape = (camera_model.height_px, camera_model.width_px)
    points, visible = camera_dome_points(dome, camera_model, camera_pixel_centres(camera_model))
    lit = {}
    for m in models:
        ok = dome_points_to_pixels(m, points)[1] & visible
        lit[m.name] = ok.reshape(shape)
    count = np.sum([v for v in lit.values()], axis=0) if lit else np.zeros(shape, dtype=int)
    measure, kind = {}, {}
    for name, mine in lit.items():
        region = erode(mine & (count == 1), erode_px)
        kind[name] = "non-overlap"
        if region.sum() < min_px and mine.any():
            least = int(count[mine].min())
            for n in range(least, int(count.max()) + 1):
                region = erode(mine & (count <= n), erode_px)
                if region.sum() >= min_px:
                    kind[name] = f"least overlap ({n} projectors)"
                    break
        if region.sum() < min_px:
            raise ColourMatchError(f"{name}: only {int(region.sum())} camera pixels see it clearly (< {min_px}): "
                                   "is it in the camera's view? a larger camera image (--camera-px) helps")
        measure[name] = region
    return Regions(lit, count, measure, kind)


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measurement:
    """One projector's measured response: ``response[c, k]`` at linear level ``levels[k]`` (the last is 1)."""

    name: str
    levels: np.ndarray          # (K,) linear levels, increasing, levels[-1] == 1
    response: np.ndarray        # (3, K) mean (capture - black) / flat field over the region
    region_px: int
    region_kind: str

    @property
    def white_rgb(self) -> np.ndarray:
        return self.response[:, -1]


def _mean_response(capture: np.ndarray, black: np.ndarray, region: np.ndarray, flat: np.ndarray,
                   what: str) -> float:
    capture = np.asarray(capture, dtype=np.float64)
    if capture.shape != region.shape:
        raise ColourMatchError(f"{what}: the camera returned {capture.shape}, expected {region.shape}")
    values = capture[region]
    clipped = float(np.mean(values >= CLIP_LEVEL))
    if clipped > 0.001:
        raise ColourMatchError(f"{what}: {100 * clipped:.1f} % of the region is at full scale (clipped): "
                               "lower the camera's exposure")
    return float(np.mean((values - black[region]) / flat[region]))


def measure_projector(camera, model: ProjectorModel, region: np.ndarray, flat: np.ndarray,
                      ramp_steps: int = DEFAULT_RAMP_STEPS, region_kind: str = "non-overlap") -> Measurement:
    """Capture black and each channel's ramp on one projector; its response over ``region`` (module docstring)."""
    if ramp_steps < 1:
        raise ColourMatchError(f"ramp_steps = {ramp_steps!r}: need at least 1 (white only)")
    drives = np.arange(1, ramp_steps + 1) / ramp_steps
    black = np.asarray(camera.capture(model.name, flat_image(model, (0.0, 0.0, 0.0))), dtype=np.float64)
    response = np.zeros((3, ramp_steps))
    for c in range(3):
        for k, d in enumerate(drives):
            cap = camera.capture(model.name, flat_image(model, channel_drive(c, d)))
            response[c, k] = _mean_response(cap, black, region, flat, f"{model.name} {CHANNELS[c]} at drive {d:.3g}")
    if np.any(response[:, -1] <= 0.0):
        raise ColourMatchError(f"{model.name}: no light measured in some channel ({response[:, -1]}): "
                               "is the projector on and in the camera's view?")
    return Measurement(model.name, drives ** model.gamma, response, int(region.sum()), region_kind)


def inverse_response(levels, response, y) -> np.ndarray:
    """The linear level whose normalised response is ``y``: ``r^-1(y)`` (module docstring).

    ``levels`` (K,) increasing with ``levels[-1] == 1``; ``response`` (K,)
    with ``response[-1] == 1`` (normalised); ``y`` any shape -> same shape,
    in [0, 1]. Non-increasing samples (noise in the dark) are skipped.
    """
    x = np.asarray(levels, dtype=np.float64)
    r = np.asarray(response, dtype=np.float64)
    keep = (r > 0) & (x > 0)
    x, r = x[keep], r[keep]
    # Monotone: drop samples not above every darker one (a noisy dark sample).
    order = np.maximum.accumulate(r)
    keep = np.concatenate([[True], r[1:] > order[:-1]])
    x, r = x[keep], r[keep]
    y = np.clip(np.asarray(y, dtype=np.float64), 0.0, 1.0)
    out = np.zeros_like(y)
    if len(r) == 1:
        return np.clip(x[0] * y / r[0], 0.0, 1.0)
    lx, lr = np.log(x), np.log(r)
    pos = y > 0
    ly = np.log(np.where(pos, y, 1.0))
    inside = np.interp(ly, lr, lx)
    slope = (lx[1] - lx[0]) / (lr[1] - lr[0]) if lr[1] != lr[0] else 1.0
    below = lx[0] + slope * (ly - lr[0])
    above = lx[-1] + ((lx[-1] - lx[-2]) / (lr[-1] - lr[-2])) * (ly - lr[-1])
    result = np.where(ly < lr[0], below, np.where(ly > lr[-1], above, inside))
    out[pos] = np.exp(result[pos])
    return np.clip(out, 0.0, 1.0)


def match_colours(measurements: Mapping[str, Measurement], use_lut: bool = False,
                  lut_size: int = DEFAULT_LUT_SIZE) -> tuple[np.ndarray, dict[str, Colour]]:
    """Per-channel gains (and LUTs) matching every projector to the dimmest per channel -> (target (3,), {name: Colour})."""
    if not measurements:
        raise ColourMatchError("no projector measured: nothing to match")
    if use_lut and lut_size < 2:
        raise ColourMatchError(f"lut_size = {lut_size!r}: needs at least 2 entries")
    target = np.min([m.white_rgb for m in measurements.values()], axis=0)
    colours = {}
    for name, m in measurements.items():
        gains, luts = [], []
        for c in range(3):
            norm = m.response[c] / m.response[c, -1]
            ratio = target[c] / m.response[c, -1]
            if use_lut:
                gains.append(ratio)
                table = inverse_response(m.levels, norm, np.linspace(0.0, 1.0, lut_size))
                table[0], table[-1] = 0.0, 1.0
                luts.append(tuple(float(v) for v in np.maximum.accumulate(table)))
            elif len(m.levels) > 1:
                gains.append(float(inverse_response(m.levels, norm, ratio)))
            else:
                gains.append(ratio)
        colours[name] = Colour(tuple(float(min(1.0, g)) for g in gains), tuple(luts) if use_lut else None)
    return target, colours


def measure_through(camera, model: ProjectorModel, colour: Colour | None, region: np.ndarray, flat: np.ndarray,
                    levels: Sequence[float] = VERIFY_LEVELS) -> np.ndarray:
    """(3, L) response to each channel alone at linear ``levels``, sent through ``colour`` as the node would."""
    colour = colour or Colour()
    black = np.asarray(camera.capture(model.name, flat_image(model, (0.0, 0.0, 0.0))), dtype=np.float64)
    out = np.zeros((3, len(levels)))
    for c in range(3):
        for k, level in enumerate(levels):
            linear = apply_colour(colour, channel_drive(c, level))
            cap = camera.capture(model.name, flat_image(model, encode_drive(linear, model.gamma)))
            out[c, k] = _mean_response(cap, black, region, flat, f"{model.name} {CHANNELS[c]} at {level:g} (verify)")
    return out


# ---------------------------------------------------------------- the dome's flat white


def _upsample_nearest(mask: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    rows = np.minimum((np.arange(height_px) * mask.shape[0]) // height_px, mask.shape[0] - 1)
    cols = np.minimum((np.arange(width_px) * mask.shape[1]) // width_px, mask.shape[1] - 1)
    return mask[rows][:, cols]


def dome_flat_white(camera, dome: DomeModel, eye_m, calibration: CalibrationSet, regions: Regions,
                    flat: np.ndarray, colours: Mapping[str, Colour] | None = None,
                    mask_width_px: int = PICTURE_MASK_WIDTH_PX) -> np.ndarray:
    """(h, w) the dome's flat white (every projector white times its blend mask), camera vignetting removed.

    Each projector is captured alone (minus its black) and added on the
    camera pixels it lights (dilated by :data:`ERODE_PX` for blur); with
    ``colours``, through each projector's colour step.
    """
    from warp.blend import blend_mask
    from warp.build import map_size

    models = [p.model for p in calibration.projectors]
    ramps = [p.blend.width_frac for p in calibration.projectors]
    total = np.zeros(flat.shape)
    for i, p in enumerate(calibration.projectors):
        m = p.model
        w, h = map_size(m, mask_width_px)
        coarse = blend_mask(dome, models, eye_m, i, w, h, ramps).astype(np.float64)
        if colours is None:
            coarse_drive = encode_drive(coarse, m.gamma)          # grey: a third of the memory of RGB
        else:
            colour = colours.get(p.name) or Colour()
            coarse_drive = encode_drive(apply_colour(colour, np.repeat(coarse[..., None], 3, axis=2)), m.gamma)
        image = _upsample_nearest(coarse_drive.astype(np.float32), m.width_px, m.height_px)
        cap = np.asarray(camera.capture(p.name, image), dtype=np.float64)
        black = np.asarray(camera.capture(p.name, flat_image(m, (0.0, 0.0, 0.0))), dtype=np.float64)
        near = ~erode(~regions.lit[p.name], ERODE_PX)
        total += np.where(near, cap - black, 0.0)
    return np.where(regions.count > 0, total / np.maximum(flat, 1e-6), 0.0)


def region_ratio(image: np.ndarray, regions: Regions) -> float:
    """max / min over projectors of the image's mean in each one's measuring region."""
    means = [float(image[r].mean()) for r in regions.measure.values()]
    return max(means) / min(means)


def flat_white_picture(before: np.ndarray, after: np.ndarray, ratio_before: float, ratio_after: float,
                       on_dome: np.ndarray) -> np.ndarray:
    """Before | after, display-encoded grey on one scale (the before image's 99.5th percentile), ratios below."""
    from warp.formats.preview import LEGEND_BACKGROUND, OFF_DOME, draw_text

    scale = float(np.percentile(before[on_dome], 99.5)) if on_dome.any() else 1.0
    w = before.shape[1]
    panels = []
    for image, ratio in ((before, ratio_before), (after, ratio_after)):
        grey = np.rint(255 * np.clip(image / max(scale, 1e-9), 0.0, 1.0) ** (1.0 / PICTURE_GAMMA)).astype(np.uint8)
        panel = np.repeat(grey[..., None], 3, axis=2)
        panel[~on_dome] = OFF_DOME
        text_scale = max(1, w // 128)
        legend = np.full((9 * text_scale, w, 3), LEGEND_BACKGROUND, dtype=np.uint8)
        draw_text(legend, f"{ratio:.3f}", 2 * text_scale, 2 * text_scale, text_scale)
        panels.append(np.concatenate([panel, legend], axis=0))
    gap = np.full((panels[0].shape[0], max(2, w // 64), 3), LEGEND_BACKGROUND, dtype=np.uint8)
    return np.concatenate([panels[0], gap, panels[1]], axis=1)


# ---------------------------------------------------------------- the whole hall


def _pct(x: float) -> float:
    return float(round(100.0 * float(x), 3))


def _spread_pct(values: np.ndarray) -> list[float]:
    """Per channel (values (P, 3)): 100 * (max / min - 1)."""
    v = np.asarray(values, dtype=np.float64)
    return [_pct(v[:, c].max() / v[:, c].min() - 1.0) for c in range(v.shape[1])]


def run_colour_matching(camera, dome: DomeModel, eye_m, calibration: CalibrationSet, out_dir, *,
                        use_lut: bool = False, ramp_steps: int = DEFAULT_RAMP_STEPS, lut_size: int = DEFAULT_LUT_SIZE,
                        pictures: bool = True, camera_info: Mapping | None = None,
                        progress: Progress | None = None) -> tuple[dict, CalibrationSet]:
    """Measure, match, verify and picture every projector of ``calibration`` (module docstring).

    ``camera``: a :class:`calibration.camera.Camera` (``flat_field()`` used
    when it has one). Writes ``out_dir``'s files; returns (report, the set
    with each projector's new Colour).
    """
    from warp.formats._io import atomic_write_bytes
    from warp.formats.png import write_png

    say = progress or (lambda line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").unlink(missing_ok=True)
    start = time.perf_counter()
    models = [p.model for p in calibration.projectors]
    regions = camera_regions(dome, camera.model, models)
    flat_of = getattr(camera, "flat_field", None)
    flat = np.asarray(flat_of(), dtype=np.float64) if flat_of is not None else np.ones(regions.count.shape)

    measurements = {}
    for k, m in enumerate(models):
        measurements[m.name] = measure_projector(camera, m, regions.measure[m.name], flat, ramp_steps,
                                                 regions.kind[m.name])
        white = measurements[m.name].white_rgb
        say(f"{m.name} ({k + 1}/{len(models)}): measured white RGB ({', '.join(f'{v:.4g}' for v in white)}) over "
            f"{measurements[m.name].region_px} camera px ({regions.kind[m.name]})")
    target, colours = match_colours(measurements, use_lut, lut_size)

    verified = {}
    for k, m in enumerate(models):
        verified[m.name] = measure_through(camera, m, colours[m.name], regions.measure[m.name], flat)
        say(f"{m.name} ({k + 1}/{len(models)}): verified through gains "
            f"({', '.join(f'{g:.4f}' for g in colours[m.name].gain_rgb)})")
    levels = np.asarray(VERIFY_LEVELS)
    white_index = int(np.flatnonzero(levels == 1.0)[0])

    files = {"calibration": "calibration.json", "report": "report.json"}
    picture = {}
    if pictures:
        say("capturing the dome's flat white before and after")
        before = dome_flat_white(camera, dome, eye_m, calibration, regions, flat)
        after = dome_flat_white(camera, dome, eye_m, calibration, regions, flat, colours)
        on_dome = regions.count > 0
        picture = {"ratio_before": float(round(region_ratio(before, regions), 5)),
                   "ratio_after": float(round(region_ratio(after, regions), 5))}
        write_png(out / "flat_white.png", flat_white_picture(before, after, picture["ratio_before"],
                                                             picture["ratio_after"], on_dome))
        files["flat_white"] = "flat_white.png"

    matched = CalibrationSet(calibration.hall, tuple(
        dataclasses.replace(p, colour=colours[p.name]) for p in calibration.projectors))
    atomic_write_bytes(out / "calibration.json", matched.to_json().encode("utf-8"))

    entries = {}
    for m in models:
        meas, ver = measurements[m.name], verified[m.name]
        expected = target[:, None] * levels[None, :]
        residual = ver / expected - 1.0
        entries[m.name] = {
            "measured_rgb": [float(v) for v in meas.white_rgb],
            "relative_rgb": [float(v) for v in meas.white_rgb / target],
            "region_px": meas.region_px,
            "region": meas.region_kind,
            "ramp_levels": [float(v) for v in meas.levels],
            "ramp_response": [[float(v) for v in row] for row in meas.response],
            "gain_rgb": list(colours[m.name].gain_rgb),
            "lut_size": None if colours[m.name].lut is None else lut_size,
            "after_rgb": [float(v) for v in ver[:, white_index]],
            "residual_pct": [_pct(v) for v in residual[:, white_index]],
            "tone_residual_pct": {f"{lv:g}": [_pct(v) for v in residual[:, j]] for j, lv in enumerate(levels)},
        }
    before_rgb = np.array([measurements[m.name].white_rgb for m in models])
    after_rgb = np.array([verified[m.name][:, white_index] for m in models])
    tone = np.array([[verified[m.name][c] / (target[c] * levels) - 1.0 for c in range(3)] for m in models])
    report = {
        "format": FORMAT,
        "version": VERSION,
        "hall": calibration.hall,
        "camera": dict(camera_info or {}),
        "settings": {"use_lut": use_lut, "lut_size": lut_size if use_lut else None, "ramp_steps": ramp_steps,
                     "verify_levels": list(VERIFY_LEVELS), "erode_px": ERODE_PX},
        "target_rgb": [float(v) for v in target],
        "before": {"spread_pct": _spread_pct(before_rgb),
                   "max_over_min": [float(round(v / 100 + 1, 5)) for v in _spread_pct(before_rgb)]},
        "after": {"spread_pct": _spread_pct(after_rgb),
                  "max_abs_residual_pct": _pct(np.abs(after_rgb / target - 1.0).max()),
                  "max_abs_tone_residual_pct": {f"{lv:g}": _pct(np.abs(tone[:, :, j]).max())
                                                for j, lv in enumerate(levels)}},
        "flat_white": picture,
        "projectors": entries,
        "files": files,
        "timings_s": {"total": float(round(time.perf_counter() - start, 2))},
    }
    atomic_write_bytes(out / "report.json", (json.dumps(report, indent=2, allow_nan=False) + "\n").encode("utf-8"))
    return report, matched
