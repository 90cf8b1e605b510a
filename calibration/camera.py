"""The calibration camera: what automatic calibration needs from one, and a simulated one.

A camera here is a fisheye at (or near) the dome centre that sees the whole
visible dome. Its lens and pose are calibrated beforehand (a checkerboard and
a level are enough) and described as a :class:`warp.ProjectorModel` with a
fisheye :class:`warp.Lens`, used in reverse: :func:`warp.pixels_to_rays` turns a
camera pixel into a ray, :func:`warp.dome_points_to_pixels` a dome point into a
camera pixel. So a camera pose follows the projector conventions
(warp/geometry.py): ``pitch_deg = 90`` looks at the zenith, and with
``yaw_deg = 0`` the image's top is the dome's back (-y) and its bottom the
front, like a domemaster.

:class:`Camera` is the interface a real camera implements;
:class:`SimCamera` renders what the dome would show.

Simulation, per camera pixel (centre), in linear light:

1. the pixel's ray from the camera meets the dome sphere at ``X``; below the
   springline there is no dome (the cove is black);
2. ``X`` -> projector pixel through the TRUE projector model
   (:func:`warp.dome_points_to_pixels`); outside the image: unlit;
3. the projector's drive value there (bilinear, :func:`warp.sample_bilinear`)
   -> light ``black + (1 - black) * drive ** gamma``; an RGB image (and any
   projector given a :class:`ProjectorResponse`: its true brightness, white
   point and tone curve) -> ``black + (1 - black) * sum_c s_c * gain_c *
   drive_c ** gamma_c`` with ``s`` the monochrome sensor's sensitivity to
   each primary (:data:`CAMERA_RGB_SENSITIVITY`, summing to 1: a nominal
   projector's white is the same either way); then times the projector's
   lens vignetting ``1 - PROJECTOR_VIGNETTING * r**2`` (r = 1 at the corners),
   the irradiance falloff ``cos(incidence) * (REFERENCE_THROW_M / distance)**2``
   of a Lambertian dome, the camera's vignetting ``1 - CAMERA_VIGNETTING *
   (angle / half fov)**2`` and the exposure;
4. plus ambient light; optical blur (a Gaussian of ``blur_px`` camera
   pixels); shot noise (``full_well_e`` electrons at full scale) and read
   noise (``read_noise``, a fraction of full scale), both scaled by
   ``noise_scale``; clipped to [0, 1] and quantised to ``bits`` (a RAW
   capture: linear, no camera gamma).

Each pixel is point-sampled at its centre and then blurred: patterns finer
than a camera pixel alias, as they would be unresolvable by a real camera too
(the pattern periods of :mod:`calibration.structured_light` are ~7 camera
pixels). The random generator is seeded; the same seed and the same capture
order give the same images. :func:`simulated_responses` draws projectors'
brightness and colour differences (seeded) for colour matching
(calibration/colour.py); :meth:`SimCamera.flat_field` is the camera's
vignetting, which a calibrated camera knows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from domectl.errors import DomectlError
from warp.geometry import (
    DomeModel,
    Lens,
    ProjectorModel,
    dome_points_to_pixels,
    intersect_sphere_from_inside,
    on_visible_dome,
    pixels_to_rays,
)
from warp.reconstruct import sample_bilinear

# A fisheye a little wider than a hemisphere keeps the springline inside the
# image even when the camera is not quite level.
DEFAULT_CAMERA_FOV_DEG = 190.0
DEFAULT_CAMERA_PX = 1024
# Illustrative optics: laser projector lenses lose ~20 % at the corners,
# fisheyes ~30 % at the rim.
PROJECTOR_VIGNETTING = 0.2
CAMERA_VIGNETTING = 0.3
# Irradiance falls with the square of the throw; this throw gives gain 1.
REFERENCE_THROW_M = 10.0
# A monochrome RAW sensor's relative response to a projector's red, green and
# blue primaries (illustrative, luminance-like; sums to 1 so that white is
# unchanged from a grey image). Colour matching measures each primary alone,
# so only the sum matters for exposure.
CAMERA_RGB_SENSITIVITY = (0.3, 0.5, 0.2)
# Simulated projector differences (colour matching): brightness uniform within
# +-15 % (laser sources of different age), each channel a further +-3 % (white
# point); tone curves at the nominal gamma unless asked.
SIM_BRIGHTNESS_SPREAD = 0.15
SIM_CHANNEL_SPREAD = 0.03
# Keeps the colour draw independent of simulated_truth's mounting errors for the same seed.
_RESPONSE_STREAM = 0xC0105


class CameraError(DomectlError, ValueError):
    """A camera was asked for something it cannot do; the message says what it can."""


@runtime_checkable
class Camera(Protocol):
    """What automatic calibration needs from a camera.

    ``model``: the calibrated camera (lens and pose) as a fisheye
    ``ProjectorModel`` (module docstring); ``capture(projector_id, image)``:
    show ``image`` ((H, W) drive values in [0, 1], or (H, W, 3) RGB ones,
    the projector's own resolution) on projector ``projector_id`` with every other projector
    black, wait for it to settle, and return the exposure as an (h, w)
    float array of linear values in [0, 1] (``model.height_px`` x
    ``model.width_px``), every capture with the same exposure settings.
    """

    model: ProjectorModel

    def capture(self, projector_id: str, image: np.ndarray) -> np.ndarray: ...


def camera_model(size_px: int = DEFAULT_CAMERA_PX, fov_deg: float = DEFAULT_CAMERA_FOV_DEG,
                 position_m=(0.0, 0.0, 0.0), yaw_deg: float = 0.0, pitch_deg: float = 90.0,
                 roll_deg: float = 0.0) -> ProjectorModel:
    """A square equidistant fisheye camera as a ``ProjectorModel`` (default: at the dome centre, looking up)."""
    if isinstance(size_px, bool) or not isinstance(size_px, (int, np.integer)) or size_px < 64:
        raise CameraError(f"camera size_px = {size_px!r}: must be an integer >= 64 pixels")
    return ProjectorModel(name="camera", position_m=tuple(position_m), yaw_deg=yaw_deg, pitch_deg=pitch_deg,
                          roll_deg=roll_deg, width_px=int(size_px), height_px=int(size_px),
                          lens=Lens(kind="fisheye", fov_deg=fov_deg), gamma=1.0)


def camera_pixel_centres(camera: ProjectorModel) -> np.ndarray:
    """(h * w, 2) centres ``(col + 0.5, row + 0.5)`` of every camera pixel, row-major."""
    cols, rows = np.meshgrid(np.arange(camera.width_px) + 0.5, np.arange(camera.height_px) + 0.5)
    return np.stack([cols.ravel(), rows.ravel()], axis=1)


def camera_dome_points(dome: DomeModel, camera: ProjectorModel, camera_px) -> tuple[np.ndarray, np.ndarray]:
    """Camera pixels (N, 2) -> (dome points (N, 3) metres, on the visible dome (N,) bool).

    The camera's ray meets the dome sphere (the camera must be inside it).
    This is the triangulation automatic calibration relies on: with the dome
    radius and the camera's pose known, one camera is enough.
    """
    origin, dirs, ok = pixels_to_rays(camera, np.asarray(camera_px, dtype=np.float64))
    points = intersect_sphere_from_inside(origin, dirs, dome.radius_m)
    return points, ok & on_visible_dome(dome, points)


@dataclass(frozen=True)
class CameraNoise:
    """Simulated camera imperfections (module docstring). ``noise_scale`` multiplies shot and read noise."""

    blur_px: float = 0.8
    read_noise: float = 0.003
    full_well_e: float = 10_000.0
    noise_scale: float = 1.0
    ambient: float = 0.01
    exposure: float = 1.0
    bits: int = 12

    def __post_init__(self) -> None:
        for name in ("blur_px", "read_noise", "noise_scale", "ambient"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise CameraError(f"CameraNoise.{name} = {v!r}: must be a number >= 0")
        for name in ("full_well_e", "exposure"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise CameraError(f"CameraNoise.{name} = {v!r}: must be a number > 0")
        if not (isinstance(self.bits, int) and 1 <= self.bits <= 16):
            raise CameraError(f"CameraNoise.bits = {self.bits!r}: must be an integer in 1..16")


def gaussian_kernel(sigma_px: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps out to 3 sigma (at least the centre tap)."""
    radius = max(0, math.ceil(3.0 * sigma_px))
    if radius == 0:
        return np.ones(1, dtype=np.float32)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma_px) ** 2)
    return (k / k.sum()).astype(np.float32)


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur of an (H, W) image, edges clamped."""
    k = gaussian_kernel(sigma_px)
    r = len(k) // 2
    if r == 0:
        return image
    out = image
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode="edge")
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for i, w in enumerate(k):
            acc += w * (padded[i:i + n] if axis == 0 else padded[:, i:i + n])
        out = acc
    return out


@dataclass(frozen=True)
class ProjectorResponse:
    """A simulated projector's true light per channel: ``gain_rgb[c] * drive_c ** gamma_rgb[c]`` (plus black).

    ``gamma_rgb`` None: the projector model's ``gamma`` on every channel.
    """

    gain_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma_rgb: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("gain_rgb", "gamma_rgb"):
            v = getattr(self, name)
            if v is None and name == "gamma_rgb":
                continue
            if len(v) != 3 or not all(isinstance(x, (int, float)) and math.isfinite(x) and x > 0 for x in v):
                raise CameraError(f"ProjectorResponse.{name} = {v!r}: needs 3 numbers > 0 (red, green, blue)")


def simulated_responses(projectors, seed: int = 0, brightness_spread: float = SIM_BRIGHTNESS_SPREAD,
                        channel_spread: float = SIM_CHANNEL_SPREAD,
                        gamma_spread: float = 0.0) -> dict[str, ProjectorResponse]:
    """Seeded true brightness and white point per projector -> {name: ProjectorResponse}.

    ``gain_rgb = b * (1 + e_c)``, ``b`` uniform in ``1 +- brightness_spread``,
    ``e_c`` uniform in ``+- channel_spread``; ``gamma_rgb``: the model's gamma
    plus a uniform ``+- gamma_spread`` per channel (None when 0).
    """
    rng = np.random.default_rng((int(seed), _RESPONSE_STREAM))
    out = {}
    for p in projectors:
        brightness = 1.0 + rng.uniform(-brightness_spread, brightness_spread)
        gain = brightness * (1.0 + rng.uniform(-channel_spread, channel_spread, 3))
        gamma = None
        if gamma_spread > 0:
            gamma = tuple(float(g) for g in p.gamma + rng.uniform(-gamma_spread, gamma_spread, 3))
        out[p.name] = ProjectorResponse(tuple(float(g) for g in gain), gamma)
    return out


@dataclass
class _Footprint:
    """Where one projector lands in the camera image (cached per projector)."""

    flat_index: np.ndarray      # (M,) camera pixels (row-major) the projector lights
    projector_px: np.ndarray    # (M, 2) the projector pixel each sees
    gain: np.ndarray            # (M,) float32 linear light per unit projector light
    projector: ProjectorModel


@dataclass
class SimCamera:
    """A simulated fisheye camera watching the dome lit by the TRUE projector models (module docstring).

    ``dome``; ``projectors``: the truth, by name; ``model``: the camera
    (:func:`camera_model`); ``noise``: :class:`CameraNoise`; ``seed``;
    ``responses``: the projectors' true brightness and colour by name
    (:class:`ProjectorResponse`; those not named are nominal).
    ``captures`` counts the exposures taken.
    """

    dome: DomeModel
    projectors: dict[str, ProjectorModel]
    model: ProjectorModel = field(default_factory=camera_model)
    noise: CameraNoise = field(default_factory=CameraNoise)
    seed: int = 0
    captures: int = 0
    responses: dict[str, ProjectorResponse] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.projectors, (list, tuple)):
            self.projectors = {p.name: p for p in self.projectors}
        self._rng = np.random.default_rng(self.seed)
        self._footprints: dict[str, _Footprint] = {}
        px = camera_pixel_centres(self.model)
        self._points, self._visible = camera_dome_points(self.dome, self.model, px)
        # Camera vignetting by the angle from the camera's axis.
        _, _, forward = self.model.basis()
        dirs = self._points - self.model.position[None, :]
        cos_off = (dirs @ forward) / np.linalg.norm(dirs, axis=1)
        off_frac = np.arccos(np.clip(cos_off, -1.0, 1.0)) / math.radians(0.5 * self.model.lens.fov_deg)
        self._camera_gain = np.clip(1.0 - CAMERA_VIGNETTING * off_frac ** 2, 0.0, 1.0)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.model.height_px, self.model.width_px)

    def flat_field(self) -> np.ndarray:
        """(h, w) float32 relative sensitivity of each camera pixel (its vignetting, 1 on the axis).

        What the camera's own calibration measures (a uniformly lit target);
        colour matching divides captures by it to compare dome luminance.
        """
        return self._camera_gain.reshape(self.shape).astype(np.float32)

    def footprint(self, projector_id: str) -> _Footprint:
        """The camera pixels a projector lights, their projector pixels and light gain (computed once)."""
        if projector_id not in self.projectors:
            raise CameraError(f"simulated camera: no projector {projector_id!r}; "
                              f"it simulates {', '.join(sorted(self.projectors))}")
        fp = self._footprints.get(projector_id)
        if fp is not None:
            return fp
        proj = self.projectors[projector_id]
        idx = np.flatnonzero(self._visible)
        points = self._points[idx]
        px, ok = dome_points_to_pixels(proj, points)
        idx, px, points = idx[ok], px[ok], points[ok]
        ray = points - proj.position[None, :]
        dist = np.linalg.norm(ray, axis=1)
        cos_incidence = np.clip(np.einsum("ij,ij->i", ray, points) / (dist * self.dome.radius_m), 0.0, 1.0)
        r2 = ((px[:, 0] / proj.width_px - 0.5) ** 2 + (px[:, 1] / proj.height_px - 0.5) ** 2) / 0.5
        gain = ((1.0 - PROJECTOR_VIGNETTING * r2) * cos_incidence * (REFERENCE_THROW_M / dist) ** 2
                * self._camera_gain[idx] * self.noise.exposure)
        fp = _Footprint(idx, px, gain.astype(np.float32), proj)
        self._footprints[projector_id] = fp
        return fp

    def clean_image(self, projector_id: str, image: np.ndarray) -> np.ndarray:
        """The exposure without blur, noise or quantisation: (h, w) float32 linear light, ambient included."""
        fp = self.footprint(projector_id)
        proj = fp.projector
        image = np.asarray(image)
        if image.shape[:2] != (proj.height_px, proj.width_px) or image.ndim not in (2, 3) \
                or (image.ndim == 3 and image.shape[2] != 3):
            raise CameraError(f"capture({projector_id!r}): image is {image.shape[1::-1]} pixels; "
                              f"the projector shows {proj.width_px} x {proj.height_px} (grey, or RGB: x 3)")
        drive = np.clip(sample_bilinear(image, fp.projector_px), 0.0, 1.0).astype(np.float32)
        response = self.responses.get(projector_id)
        if response is None and image.ndim == 2:
            light = proj.black_level + (1.0 - proj.black_level) * drive ** np.float32(proj.gamma)
        else:
            response = response or ProjectorResponse()
            gammas = response.gamma_rgb or (proj.gamma,) * 3
            rgb = drive[:, None] if drive.ndim == 1 else drive
            weights = np.asarray(CAMERA_RGB_SENSITIVITY, dtype=np.float32) * np.asarray(
                response.gain_rgb, dtype=np.float32)
            mix = (weights * rgb ** np.asarray(gammas, dtype=np.float32)).sum(axis=1)
            light = proj.black_level + (1.0 - proj.black_level) * mix
        out = np.full(self.model.height_px * self.model.width_px, self.noise.ambient, dtype=np.float32)
        out[fp.flat_index] += light * fp.gain
        return out.reshape(self.shape)

    def capture(self, projector_id: str, image: np.ndarray) -> np.ndarray:
        """Render what the camera sees while ``projector_id`` shows ``image`` (module docstring)."""
        clean = blur(self.clean_image(projector_id, image), self.noise.blur_px)
        n = self.noise
        if n.noise_scale > 0:
            sigma = n.noise_scale * np.sqrt(np.maximum(clean, 0.0) / n.full_well_e + n.read_noise ** 2)
            clean = clean + sigma * self._rng.standard_normal(clean.shape, dtype=np.float32)
        levels = float(2 ** n.bits - 1)
        self.captures += 1
        return np.round(np.clip(clean, 0.0, 1.0) * levels) / np.float32(levels)
