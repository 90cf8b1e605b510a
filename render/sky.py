"""The sky layer: black sky, stars, then Sun, Moon and planets, into one slice.

A node renders the part ``rect_uv = (u0, v0, u1, v1)`` of the domemaster that
its projector sees into an RGBA8 texture of ``size_px = (w, h)``. The slice is
**display-encoded** with gamma ``self.gamma`` (2.2): each star's light is
computed in linear light and encoded per fragment; overlapping stars add in
encoded values (rare and visually harmless). The warp pass decodes it.

Star positions (shader ``stars.glsl``, twin ``domectl.astro.star_directions``):
``u = normalize(u0 + years * pm); u = normalize(u + beta - dot(u, beta) * u);
d = dome_from_icrs @ u; uv = fisheye_uv(d)``.

Photometry (twin :func:`star_psf`): relative flux ``f = 10**(-0.4 (m - m_lim))``
(1 at the limiting magnitude), linear peak intensity
``I = brightness * faint_peak * f**contrast``; a star's Gaussian PSF has peak
``min(I, 1)`` and ``sigma = sigma0_px * max(I, 1)**size_exponent``: once the
peak saturates, brighter stars grow, slowly. Sizes are in output pixels, so a
star looks the same size on every projector. Stars fainter than the limiting
magnitude are not drawn.

Zoom (``domectl.projection.zoom_dir``, ``zoom`` of :meth:`SkyRenderer.draw_stars`
and :meth:`~SkyRenderer.draw_bodies`): stars and bodies move with the sky;
stars stay points of the same photometry (the compositor may deepen the
limiting magnitude, render/compose.py), and a body's disc grows with the
zoom's local magnification (isotropic: the map is conformal), so a planet too
small for a disc at zoom 1 becomes one when magnified enough.

Slice edges: GL clips a point sprite whose centre lies outside the
viewport, so the stars are drawn with a viewport overhanging the target by
half the largest sprite on every side; a star just outside the rectangle
still lights its PSF wing inside it, and adjacent slices match at the seam.

Colour (:func:`bv_to_rgb_linear`): B-V -> temperature by Ballesteros (2012,
EPL 97 34008), temperature -> RGB by Tanner Helland's fit to blackbody
colours (2012), decoded to linear light, max channel 1, then mixed toward white
by ``1 - saturation`` (naked-eye star colours are pale).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import moderngl
import numpy as np

from domectl.astro import SUN_DEFLECTION_AU, sun_in_icrs
from domectl.errors import RenderError
from domectl.projection import zoom_magnification, zoom_uniform
from render.context import check_gl, release_framebuffers, render_target
from render.image import read_rgb
from render.shaders import load_program

#: Bodies drawn per frame at most (Sun, Moon, 8 planets, room to spare).
MAX_BODIES = 16
#: Domemaster radius past the springline still drawn (0.36 deg): stars on the
#: rim are not cut in half by the cull.
RIM_MARGIN_R = 0.002
#: Floats per body instance: enu 3, rgb 3, disc 4, psf 2.
_BODY_FLOATS = 12

# Linear colours; the Sun slightly warm, the Moon grey, planets by their look.
_BODY_RGB = {
    "sun": (1.0, 0.95, 0.85),
    "moon": (0.85, 0.85, 0.8),
    "mercury": (0.85, 0.8, 0.75),
    "venus": (1.0, 1.0, 0.92),
    "mars": (1.0, 0.55, 0.35),
    "jupiter": (1.0, 0.93, 0.82),
    "saturn": (1.0, 0.88, 0.65),
    "uranus": (0.7, 0.9, 1.0),
    "neptune": (0.55, 0.7, 1.0),
}


# The hall's limiting magnitude is meant for the full "10K" domemaster (10240 px across 180 deg).
REFERENCE_PX_PER_DEG = 10240 / 180.0
# Fewer pixels per degree crowd the same stars into fewer pixels, and a preview turns into an
# even speckle in which no constellation stands out: the limit drops by this many magnitudes
# per decade of lost density (a 640 px preview shows down to about 5.0 for a 6.5 hall).
PREVIEW_MAG_PER_DECADE = 1.25


def look_for_density(limiting_mag: float, px_per_deg: float) -> "StarLook":
    """SkyRenderer settings for a rendering with ``px_per_deg`` pixels per degree.

    At or above the reference density the hall's own limit; below it a lower
    limit, and brighter stars that grow faster with magnitude, so the shapes
    of the constellations read as they do on the dome (tuned by eye on a
    640 px domemaster of the sky over Wizernes).
    """
    deficit = max(0.0, np.log10(REFERENCE_PX_PER_DEG / max(px_per_deg, 1e-6)))
    return StarLook(limiting_mag=limiting_mag - PREVIEW_MAG_PER_DECADE * deficit, faint_peak=0.03,
                    size_exponent=0.5, sigma0_px=0.7)


def bv_to_temperature_k(bv: np.ndarray) -> np.ndarray:
    """B-V colour index -> effective temperature in kelvin, (N,) -> (N,). Ballesteros (2012)."""
    bv = np.asarray(bv, dtype=np.float64)
    return 4600.0 * (1.0 / (0.92 * bv + 1.7) + 1.0 / (0.92 * bv + 0.62))


def temperature_to_srgb(temperature_k: np.ndarray) -> np.ndarray:
    """Blackbody temperature -> display-encoded RGB in [0, 1], (N,) -> (N, 3). Tanner Helland's fit."""
    t = np.clip(np.asarray(temperature_k, dtype=np.float64), 1000.0, 40000.0) / 100.0
    hot = t > 66.0
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(hot, 329.698727446 * (t - 60.0) ** -0.1332047592, 255.0)
        g = np.where(hot, 288.1221695283 * (t - 60.0) ** -0.0755148492, 99.4708025861 * np.log(t) - 161.1195681661)
        b = np.where(t >= 66.0, 255.0, np.where(t <= 19.0, 0.0, 138.5177312231 * np.log(t - 10.0) - 305.0447927307))
    return np.clip(np.stack([r, g, b], axis=-1), 0.0, 255.0) / 255.0


def bv_to_rgb_linear(bv: np.ndarray, saturation: float = 0.6, gamma: float = 2.2) -> np.ndarray:
    """B-V -> linear RGB with max channel 1, (N,) -> (N, 3) float32; NaN B-V -> white."""
    bv = np.asarray(bv, dtype=np.float64)
    rgb = temperature_to_srgb(bv_to_temperature_k(np.nan_to_num(bv, nan=0.6))) ** gamma
    rgb = rgb / np.max(rgb, axis=-1, keepdims=True)
    rgb = 1.0 - saturation * (1.0 - rgb)
    rgb[np.isnan(bv)] = 1.0
    return rgb.astype(np.float32)


@dataclass(frozen=True)
class StarLook:
    """The photometric model's settings (module docstring): one record for the
    shader's uniforms, its numpy twin :func:`star_psf`, and planets drawn as points.

    limiting_mag: faintest magnitude drawn; brightness, contrast: global
    gain and gamma on flux; faint_peak: linear peak of a star at the limit;
    sigma0_px, size_exponent: Gaussian width of a faint star and its growth
    with brightness.
    """

    limiting_mag: float = 6.5
    brightness: float = 1.0
    contrast: float = 1.0
    faint_peak: float = 0.05
    sigma0_px: float = 0.6
    size_exponent: float = 0.25


def star_psf(mag: np.ndarray, look: StarLook = StarLook()) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes -> (linear peak intensity, Gaussian sigma in px), (N,) -> (N,), (N,).

    Numpy twin of the photometry in ``stars.glsl``.
    """
    flux = 10.0 ** (-0.4 * (np.asarray(mag, dtype=np.float64) - look.limiting_mag))
    intensity = look.brightness * look.faint_peak * flux**look.contrast
    return np.minimum(intensity, 1.0), look.sigma0_px * np.maximum(intensity, 1.0) ** look.size_exponent


@dataclass(frozen=True)
class SkyParams:
    """What the sky layer needs for one frame (from the master's sky sample and the view).

    dome_from_icrs (3, 3): ``dome_from_enu(view, tilt) @ enu_from_icrs``.
    dome_from_enu (3, 3): for the bodies, whose directions are apparent ENU.
    beta_icrs (3,): observer velocity / c. years_since_epoch: Julian years
    since J1991.25. bodies: objects with ``name``, ``enu (3,)``, ``mag``,
    ``angular_diameter_deg``, ``phase_angle_deg`` (e.g. ephemeris BodyState).
    refraction: refract the stars, which then needs ``enu_from_icrs (3, 3)``
    (and ``dome_from_icrs`` must equal ``dome_from_enu @ enu_from_icrs``);
    temperature_C and pressure_mbar as in ``domectl.astro.refraction_deg``.
    sun: (unit ICRS direction to the Sun, distance in au) for the Sun's light
    deflection (``domectl.astro.sun_in_icrs``); None leaves it out.
    """

    dome_from_icrs: np.ndarray
    beta_icrs: np.ndarray = field(default_factory=lambda: np.zeros(3))
    years_since_epoch: float = 0.0
    dome_from_enu: np.ndarray = field(default_factory=lambda: np.eye(3))
    bodies: tuple[Any, ...] = ()
    refraction: bool = False
    enu_from_icrs: np.ndarray | None = None
    temperature_C: float = 10.0
    pressure_mbar: float = 1010.0
    sun: tuple[np.ndarray, float] | None = None

    @classmethod
    def from_sample(
        cls, sample: Any, dome_from_enu: np.ndarray, *, refraction: bool = False,
        temperature_C: float = 10.0, pressure_mbar: float = 1010.0,
    ) -> SkyParams:
        """Compose from an ephemeris SkySample and the view's ``dome_from_enu`` (3, 3)."""
        dome_from_enu = np.asarray(dome_from_enu, dtype=np.float64)
        enu_from_icrs = np.asarray(sample.enu_from_icrs, dtype=np.float64)
        return cls(
            dome_from_icrs=dome_from_enu @ enu_from_icrs,
            beta_icrs=np.asarray(sample.beta_icrs, dtype=np.float64),
            years_since_epoch=float(sample.years_since_epoch),
            dome_from_enu=dome_from_enu,
            bodies=tuple(sample.bodies),
            refraction=refraction,
            enu_from_icrs=enu_from_icrs,
            temperature_C=temperature_C,
            pressure_mbar=pressure_mbar,
            sun=sun_in_icrs(sample.bodies, enu_from_icrs),
        )


def _mat3_bytes(matrix: np.ndarray) -> bytes:
    """Row-major numpy (3, 3) -> GLSL mat3 (column-major) bytes."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


class SkyRenderer:
    """Draws the sky layer of one node; the star buffer is uploaded once.

    ``catalog`` is a StarCatalog (``icrs_xyz (N,3)``, ``pm_xyz_rad_per_yr
    (N,3)``, ``mag (N,)``, ``bv (N,)``). ``look`` (a :class:`StarLook`) is
    read at every :meth:`render`, so the operator may change it live:
    ``renderer.look = dataclasses.replace(renderer.look, brightness=1.2)``.
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        catalog: Any,
        *,
        look: StarLook = StarLook(),
        max_point_px: float = 32.0,
        max_body_px: float = 256.0,
        min_moon_radius_px: float = 3.0,
        saturation: float = 0.6,
        gamma: float = 2.2,
    ) -> None:
        self.ctx = ctx
        self.look = look
        # The driver's largest point sprite (llvmpipe: 255 px) bounds the PSF.
        self.max_point_px = min(float(max_point_px), float(ctx.info["GL_POINT_SIZE_RANGE"][1]))
        self.max_body_px = max_body_px
        self.min_moon_radius_px = min_moon_radius_px
        self.gamma = gamma

        icrs = np.asarray(catalog.icrs_xyz, dtype=np.float64)
        n = icrs.shape[0]
        stars = np.empty((n, 10), dtype=np.float32)
        stars[:, 0:3] = icrs
        stars[:, 3:6] = np.asarray(catalog.pm_xyz_rad_per_yr, dtype=np.float64)
        stars[:, 6] = np.asarray(catalog.mag, dtype=np.float32)
        stars[:, 7:10] = bv_to_rgb_linear(catalog.bv, saturation=saturation, gamma=gamma)
        self.star_count = n
        self._star_prog = load_program(ctx, "stars")
        # A GL buffer cannot be empty: an empty catalogue gets one unused row.
        self._star_buf = ctx.buffer(stars.tobytes() if n else np.zeros((1, 10), np.float32).tobytes())
        self._star_vao = ctx.vertex_array(
            self._star_prog, [(self._star_buf, "3f 3f 1f 3f", "in_icrs", "in_pm", "in_mag", "in_rgb")]
        )

        self._body_prog = load_program(ctx, "bodies")
        corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float32)
        self._corner_buf = ctx.buffer(corners.tobytes())
        self._body_data = np.zeros((MAX_BODIES, _BODY_FLOATS), dtype=np.float32)
        self._body_buf = ctx.buffer(reserve=self._body_data.nbytes)
        self._body_vao = ctx.vertex_array(
            self._body_prog,
            [
                (self._corner_buf, "2f", "in_corner"),
                (self._body_buf, "3f 3f 4f 2f/i", "in_enu", "in_rgb", "in_disc", "in_psf"),
            ],
        )
        self._targets: dict[tuple[int, int], tuple[moderngl.Texture, moderngl.Framebuffer]] = {}
        self._rgb_buffers: dict[tuple[int, int], np.ndarray] = {}
        self.texture: moderngl.Texture | None = None
        self.framebuffer: moderngl.Framebuffer | None = None
        check_gl(ctx, "SkyRenderer upload")

    def _target(self, size_px: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        key = (int(size_px[0]), int(size_px[1]))
        if key not in self._targets:
            self._targets[key] = render_target(self.ctx, key)
        return self._targets[key]

    def _set(self, prog: moderngl.Program, name: str, value: Any) -> None:
        if name in prog:
            prog[name].value = value

    def render(
        self,
        params: SkyParams,
        rect_uv: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
        size_px: tuple[int, int] = (1024, 1024),
    ) -> moderngl.Texture:
        """Draw the sky of ``params`` for the domemaster rectangle ``rect_uv`` at ``size_px = (w, h)``.

        Black, then the stars, then the Sun, Moon and planets. Returns the RGBA8
        display-encoded slice texture (v up, as the domemaster);
        ``self.framebuffer`` holds it for read-back. Both are reused by the next
        render of the same size. (``render.compose.DomeRenderer`` draws every layer.)
        """
        self.texture, self.framebuffer = self._target(size_px)
        self.framebuffer.use()
        self.framebuffer.clear(0.0, 0.0, 0.0, 1.0)
        self.ctx.viewport = (0, 0, int(size_px[0]), int(size_px[1]))
        self.draw_stars(params, rect_uv, size_px)
        self.draw_bodies(params, rect_uv, size_px)
        check_gl(self.ctx, "SkyRenderer.render")
        return self.texture

    def draw_stars(self, params: SkyParams, rect_uv: tuple[float, float, float, float],
                   size_px: tuple[int, int], opacity: float = 1.0, look: StarLook | None = None,
                   zoom: float = 1.0) -> None:
        """Add the stars to the bound framebuffer (viewport ``(0, 0, w, h)``), brightness x ``opacity``.

        ``look`` overrides ``self.look`` for this draw (the compositor lowers the
        limiting magnitude in twilight); ``zoom``: the sky's (module docstring).
        """
        ctx = self.ctx
        look = look or self.look
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
        rect = tuple(float(x) for x in rect_uv)
        size = (float(size_px[0]), float(size_px[1]))

        prog = self._star_prog
        prog["u_dome_from_icrs"].write(_mat3_bytes(params.dome_from_icrs))
        if params.refraction:
            if params.enu_from_icrs is None:
                raise RenderError("SkyParams(refraction=True) needs enu_from_icrs (3, 3): pass the sky sample's rotation")
            prog["u_enu_from_icrs"].write(_mat3_bytes(params.enu_from_icrs))
            prog["u_dome_from_enu"].write(_mat3_bytes(params.dome_from_enu))
            prog["u_refraction_scale"].value = 0.28 * float(params.pressure_mbar) / (float(params.temperature_C) + 273.0)
        prog["u_refract"].value = bool(params.refraction)
        prog["u_beta"].value = tuple(float(x) for x in params.beta_icrs)
        if params.sun is not None:
            sun_icrs, sun_distance_au = params.sun
            prog["u_sun_e"].value = tuple(-float(x) for x in sun_icrs / np.linalg.norm(sun_icrs))
            prog["u_deflection"].value = SUN_DEFLECTION_AU / float(sun_distance_au)
        else:
            prog["u_deflection"].value = 0.0
        prog["u_years"].value = float(params.years_since_epoch)
        prog["u_zoom"].value = zoom_uniform(zoom)
        prog["u_rect"].value = rect
        prog["u_size_px"].value = size
        margin = int(np.ceil(0.5 * self.max_point_px)) + 1
        prog["u_margin_px"].value = float(margin)
        ctx.viewport = (-margin, -margin, int(size_px[0]) + 2 * margin, int(size_px[1]) + 2 * margin)
        for name, value in (
            ("u_limiting_mag", look.limiting_mag),
            ("u_brightness", look.brightness * opacity),
            ("u_contrast", look.contrast),
            ("u_faint_peak", look.faint_peak),
            ("u_sigma0_px", look.sigma0_px),
            ("u_size_exponent", look.size_exponent),
            ("u_max_point_px", self.max_point_px),
            ("u_rim_margin", RIM_MARGIN_R),
            ("u_gamma", self.gamma),
        ):
            self._set(prog, name, float(value))
        ctx.blend_func = moderngl.ONE, moderngl.ONE
        if self.star_count and opacity > 0.0:
            self._star_vao.render(moderngl.POINTS, vertices=self.star_count)
        ctx.viewport = (0, 0, int(size_px[0]), int(size_px[1]))
        ctx.disable(moderngl.BLEND)

    def draw_bodies(self, params: SkyParams, rect_uv: tuple[float, float, float, float],
                    size_px: tuple[int, int], opacity: float = 1.0, look: StarLook | None = None,
                    zoom: float = 1.0) -> None:
        """Draw the Sun, Moon and planets over the bound framebuffer, x ``opacity``.

        Planets too small for a disc are points with the star photometry of
        ``look`` (default ``self.look``): in twilight they fade with the stars.
        ``zoom``: the sky's (module docstring).
        """
        ctx = self.ctx
        rect = tuple(float(x) for x in rect_uv)
        size = (float(size_px[0]), float(size_px[1]))
        count = self._fill_bodies(params, rect, size, look or self.look, zoom)
        if not count or opacity <= 0.0:
            return
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        prog = self._body_prog
        prog["u_dome_from_enu"].write(_mat3_bytes(params.dome_from_enu))
        prog["u_sun_enu"].value = self._sun_enu(params)
        prog["u_rect"].value = rect
        prog["u_size_px"].value = size
        prog["u_max_body_px"].value = float(self.max_body_px)
        prog["u_rim_margin"].value = RIM_MARGIN_R
        prog["u_zoom"].value = zoom_uniform(zoom)
        prog["u_gamma"].value = float(self.gamma)
        prog["u_opacity"].value = float(opacity)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self._body_vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=count)
        ctx.disable(moderngl.BLEND)

    @staticmethod
    def _sun_enu(params: SkyParams) -> tuple[float, float, float]:
        for body in params.bodies:
            if str(body.name).lower() == "sun":
                return tuple(float(x) for x in body.enu)
        return (0.0, 0.0, 0.0)

    def _fill_bodies(self, params: SkyParams, rect: tuple[float, ...], size: tuple[float, float],
                     look: StarLook, zoom: float) -> int:
        """Per-body instance data (disc and PSF sizes in output pixels, discs magnified by
        the zoom where they are); returns the count."""
        px_per_rad = size[0] / (rect[2] - rect[0]) / np.pi  # r = theta / pi on the domemaster
        bodies = params.bodies[:MAX_BODIES]
        enu = np.array([np.asarray(body.enu, dtype=np.float64) for body in bodies]).reshape(-1, 3)
        magnification = zoom_magnification(enu @ np.asarray(params.dome_from_enu, dtype=np.float64).T, zoom)
        data = self._body_data
        data[:] = 0.0
        count = 0
        for body, body_enu, body_magnification in zip(bodies, enu, magnification):
            name = str(body.name).lower()
            radius_px = 0.5 * np.radians(float(body.angular_diameter_deg)) * px_per_rad * body_magnification
            glare_px = glare = 0.0
            sigma = peak = 0.0
            phase_rad = np.radians(float(getattr(body, "phase_angle_deg", 0.0) or 0.0))
            if name == "sun":
                radius_px = max(radius_px, self.min_moon_radius_px)
                glare_px, glare, phase_rad = min(8.0 * radius_px, self.max_body_px), 0.6, 0.0
            elif name == "moon":
                radius_px = max(radius_px, self.min_moon_radius_px)
            elif radius_px < 1.5:
                # Too small for a disc: a point, as bright as a star of its magnitude.
                peak_a, sigma_a = star_psf(np.array([float(body.mag)]), look)
                peak, sigma = float(peak_a[0]), min(float(sigma_a[0]), self.max_point_px / 6.0)
                radius_px = 0.0
            data[count, 0:3] = body_enu
            data[count, 3:6] = _BODY_RGB.get(name, (1.0, 1.0, 1.0))
            data[count, 6:10] = (radius_px, glare_px, glare, phase_rad)
            data[count, 10:12] = (sigma, peak)
            count += 1
        if count:
            self._body_buf.write(data[:count].tobytes())
        return count

    def read_rgb(self) -> np.ndarray:
        """The last render as (H, W, 3) uint8, top row first (domemaster orientation).

        A view of a buffer kept per size and overwritten by the next read: copy it to keep it.
        """
        if self.framebuffer is None:
            raise RenderError("SkyRenderer.read_rgb() before any render(): call render() first")
        width, height = self.framebuffer.size
        out = self._rgb_buffers.setdefault((width, height), np.empty((height, width, 3), np.uint8))
        return read_rgb(self.framebuffer, out=out)

    def release(self) -> None:
        """Free the GL objects (the context stays)."""
        release_framebuffers(self.ctx, *(fbo for _, fbo in self._targets.values()))
        for texture, _ in self._targets.values():
            texture.release()
        self._targets.clear()
        self._rgb_buffers.clear()
        for obj in (self._star_vao, self._star_buf, self._star_prog, self._body_vao, self._body_buf, self._corner_buf, self._body_prog):
            obj.release()


def render_domemaster(ctx: moderngl.Context, catalog: Any, params: SkyParams, size_px: int,
                      **settings: Any) -> np.ndarray:
    """Render the whole domemaster: (S, S, 3) uint8, top row first, ready for PNG.

    ``settings`` are :class:`SkyRenderer` keyword settings (``look=StarLook(...)``, ...).
    """
    renderer = SkyRenderer(ctx, catalog, **settings)
    try:
        renderer.render(params, (0.0, 0.0, 1.0, 1.0), (int(size_px), int(size_px)))
        return renderer.read_rgb().copy()
    finally:
        renderer.release()
