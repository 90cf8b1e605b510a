"""Lit, textured spheres: the Moon and the planets when they are near enough to show a globe.

The master sends each such body as a :class:`domectl.frame.SphereView`:
centre and radius in metres relative to the observer (ENU axes), its
oblateness, its body-fixed frame and the direction of the Sun. A sphere is
drawn when its apparent radius is at least :data:`SPHERE_MIN_RADIUS_PX` output
pixels (under the zoom, magnified); a smaller one stays the disc or point of
render/sky.py, and a body drawn as a sphere is left out of the discs
(render/compose.py). The Sun is never a sphere: it keeps its disc and glare.

**Ray-cast, not tessellated** (``shaders/sphere.glsl``): each pixel of a quad
bounding the sphere's image (:func:`sphere_bounds_px`) turns into the sky
direction it shows (the fisheye and the zoom inverted), then into the eye's
ray for that direction (omnidirectional stereo: ``o(d) + t d``,
domectl/stereo.py), which is intersected with the spheroid. This is the exact
inverse of the forward maps the other layers use (view rotation, ODS, zoom,
fisheye), at every size: a Moon of 2 px and a planet filling half the sky
(orbiting 400 km above the Earth) alike; it has no texture seam, no far side
to cull (the first intersection is the near side) and no triangles to smear
across the fisheye's singular antipode.

**Lighting** (:func:`sphere_shade`): Lambert ``cos i``, mixed for the Moon
and Mercury (:data:`LOMMEL_SEELIGER_WEIGHT`) with Lommel-Seeliger
``2 cos i / (cos i + cos e)`` (normalised to 1 at the centre of a full disc),
which gives the airless bodies' flat full disc and bright limb. ``i`` is the
incidence angle from the Sun (``SphereView.sun_dir``), ``e`` the emergence
toward the eye. The albedo is the body's texture (``domectl.textures.load_texture``:
sRGB, decoded with the frame's gamma) or, without one, a uniform grey
:data:`UNTEXTURED_ALBEDO`. The night side is black (it hides the stars
behind it). Output: display-encoded with ``LayerView.gamma``, premultiplied
"over" (the sphere hides what is behind), the limb antialiased over one
output pixel, x the layer's opacity. Spheres are drawn far to near.

**Texture** (equirectangular: longitude 0 at the centre column, east to the
right, the north pole on the top row, planetocentric latitude) is looked up
per pixel from the body-fixed intersection point; of the two longitude cuts
the one away from the pixel sets the mip level (Tarini 2012), so the 180 deg
meridian shows no seam.

**Precision**: the ray is intersected in the spheroid's scaled frame (its
radius 1), from the closest approach ``t_mid = -q.v / v.v``: float32 keeps
about ``|C| / R * 6e-8`` of a radius there, 6e-4 R for a body 1e4 radii away,
which is already smaller than the 1.5 px threshold allows (a sphere 1e4 radii
away is 0.006 deg across: 0.3 px on the 10K domemaster); the planets' 1e12 m
distances are therefore never a problem. The limb's antialiasing width uses
the fisheye's radial scale (the tangential one is larger away from the
zenith: the edge is then a little softer, never jagged).

Limits: an observer inside a sphere's radius (a landing) sees nothing of it;
a disc body nearer than a sphere is covered by it (discs are drawn before the
spheres, so that a sphere eclipses the Sun's disc and glare, which matters
more); rings (Saturn's) are not drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np

from domectl.projection import (
    fisheye_dir,
    fisheye_uv,
    unzoom_dir,
    zoom_dir,
    zoom_magnification,
    zoom_uniform,
)
from domectl.stereo import eye_offsets_m
from render.context import check_gl
from render.shaders import load_program, set_uniform

log = logging.getLogger("domectl.render")

#: Spheres smaller than this (apparent radius, output px) stay the discs or points of render/sky.py.
SPHERE_MIN_RADIUS_PX = 1.5
#: Linear albedo of a body without a texture: uniform grey.
UNTEXTURED_ALBEDO = (0.6, 0.6, 0.6)
#: Lommel-Seeliger share of the lighting, per body (others: Lambert only). The Moon's full disc
#: is nearly flat, with a bright limb; a little Lambert keeps the terminator soft.
LOMMEL_SEELIGER_WEIGHT = {"moon": 0.75, "mercury": 0.75}
#: Domemaster radius past the springline still drawn (as the other layers, 0.36 deg).
RIM_MARGIN_R = 0.002
#: A sphere whose image would come this close (deg) to the fisheye's antipode (the dome nadir),
#: or is this large, is drawn over the whole target instead of a bounding quad.
FULL_TARGET_NADIR_DEG = 30.0
FULL_TARGET_RADIUS_DEG = 40.0
#: Points of the silhouette circle projected to bound the image, and the bound's margins: the
#: chords between samples cut in by at most (2 pi / 64)^2 / 8 = 0.12 % of the image's size.
BOUND_SAMPLES = 64
BOUND_MARGIN_FRAC = 0.01
BOUND_MARGIN_PX = 3.0


@dataclass(frozen=True)
class SpherePlacement:
    """A sphere of the frame as drawn: the SphereView in the dome frame.

    centre_dome_m (3,): metres from the dome centre; body_from_dome (3, 3);
    sun_body (3,): unit, body-fixed; distance_m = |centre|; radius_px: the
    apparent equatorial radius in output px (zoom included).
    """

    name: str
    centre_dome_m: np.ndarray
    radius_m: float
    polar_ratio: float
    body_from_dome: np.ndarray
    sun_body: np.ndarray
    distance_m: float
    radius_px: float

    @property
    def scaled_from_dome(self) -> np.ndarray:
        """(3, 3): dome vectors -> the frame where the spheroid is the unit sphere."""
        scale = 1.0 / (self.radius_m * np.array([1.0, 1.0, self.polar_ratio]))
        return scale[:, None] * self.body_from_dome


def px_per_rad(view: Any) -> float:
    """Output pixels per radian along a domemaster radius (r = theta / pi)."""
    return view.size_px[0] / ((view.rect_uv[2] - view.rect_uv[0]) * np.pi)


def sphere_placements(view: Any, min_radius_px: float = SPHERE_MIN_RADIUS_PX) -> list[SpherePlacement]:
    """The spheres of ``view`` drawn as spheres, far to near (module docstring).

    Left out: the Sun, a malformed one (radius or polar ratio not > 0, a
    non-finite number), one the observer is inside of, and those under
    ``min_radius_px``.
    """
    dome_from_enu = np.asarray(view.dome_from_enu, dtype=np.float64)
    out = []
    for sphere in view.spheres:
        name = str(sphere.name).lower()
        if name == "sun":
            continue
        centre = dome_from_enu @ np.asarray(sphere.centre_m, dtype=np.float64)
        radius, polar = float(sphere.radius_m), float(sphere.polar_ratio)
        body_from_enu = np.asarray(sphere.body_from_enu, dtype=np.float64).reshape(3, 3)
        sun = body_from_enu @ np.asarray(sphere.sun_dir, dtype=np.float64)
        values = np.concatenate([centre, [radius, polar], body_from_enu.ravel(), sun])
        distance = float(np.linalg.norm(centre))
        if not np.all(np.isfinite(values)) or radius <= 0.0 or polar <= 0.0 or distance <= radius:
            continue
        radius_px = float(np.arcsin(radius / distance) * px_per_rad(view)
                          * zoom_magnification(centre[None], view.zoom)[0])
        if radius_px < min_radius_px:
            continue
        norm = np.linalg.norm(sun)
        out.append(SpherePlacement(name, centre, radius, polar, body_from_enu @ dome_from_enu.T,
                                   sun / norm if norm > 0.0 else sun, distance, radius_px))
    out.sort(key=lambda p: -p.distance_m)
    return out


def sphere_bounds_px(view: Any, placement: SpherePlacement) -> tuple[float, float, float, float] | None:
    """Window rectangle (x0, y0, x1, y1), pixels from the bottom-left, holding the sphere's image.

    The image of the cone from the dome centre that holds the sphere (widened
    by the eyes' offset) under the zoom and the fisheye, sampled at
    :data:`BOUND_SAMPLES` points and padded; the whole target when the cone is
    large or nears the nadir, where the fisheye is singular; None when the
    image misses the target.
    """
    w, h = float(view.size_px[0]), float(view.size_px[1])
    full = (0.0, 0.0, w, h)
    c = placement.centre_dome_m / placement.distance_m
    reach = placement.radius_m * max(1.0, 1.0 / placement.polar_ratio) + 0.5 * float(view.eye_separation_m)
    cone_rad = float(np.arcsin(min(1.0, reach / placement.distance_m))) + 2.0 / px_per_rad(view)
    nadir_deg = np.degrees(np.arccos(np.clip(-c[2], -1.0, 1.0)))
    if np.degrees(cone_rad) > FULL_TARGET_RADIUS_DEG or nadir_deg < np.degrees(cone_rad) + FULL_TARGET_NADIR_DEG:
        return full
    helper = np.array([1.0, 0.0, 0.0]) if abs(c[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(c, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    phi = np.linspace(0.0, 2.0 * np.pi, BOUND_SAMPLES, endpoint=False)[:, None]
    ring = np.cos(cone_rad) * c + np.sin(cone_rad) * (np.cos(phi) * e1 + np.sin(phi) * e2)
    uv = fisheye_uv(zoom_dir(ring, view.zoom))
    rect = np.asarray(view.rect_uv, dtype=np.float64)
    px = (uv - rect[:2]) / (rect[2:] - rect[:2]) * np.array([w, h])
    lo, hi = px.min(axis=0), px.max(axis=0)
    pad = BOUND_MARGIN_PX + BOUND_MARGIN_FRAC * float(np.max(hi - lo))
    x0, y0 = max(0.0, lo[0] - pad), max(0.0, lo[1] - pad)
    x1, y1 = min(w, hi[0] + pad), min(h, hi[1] + pad)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1, y1)


def sphere_shade(cos_i: np.ndarray, cos_e: np.ndarray, ls_weight: float) -> np.ndarray:
    """Lighting factor (linear) from the incidence and emergence cosines: (N,), (N,) -> (N,).

    ``mix(cos_i, 2 cos_i / (cos_i + cos_e), ls_weight)`` where lit (cos_i > 0), else 0.
    Twin of ``sphere_shade`` in sphere.glsl.
    """
    cos_i = np.asarray(cos_i, dtype=np.float64)
    cos_e = np.maximum(np.asarray(cos_e, dtype=np.float64), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = 2.0 * cos_i / (cos_i + cos_e)
    return np.where(cos_i > 0.0, (1.0 - ls_weight) * cos_i + ls_weight * np.where(cos_i > 0.0, ls, 0.0), 0.0)


def sphere_pixels(view: Any, placement: SpherePlacement, albedo_rgb=UNTEXTURED_ALBEDO,
                  ls_weight: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numpy twin of sphere.glsl for an untextured sphere over the whole target of ``view``.

    Returns (coverage (H, W) in [0, 1], linear RGB (H, W, 3) before coverage,
    body-fixed surface points (H, W, 3)), rows from the top (as read back).
    """
    w, h = int(view.size_px[0]), int(view.size_px[1])
    rect = np.asarray(view.rect_uv, dtype=np.float64)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    window = np.stack([cols, h - rows], axis=-1).reshape(-1, 2)           # rows from the top
    uv = rect[:2] + window / np.array([w, h]) * (rect[2:] - rect[:2])
    d = unzoom_dir(fisheye_dir(uv), view.zoom)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    o = eye_offsets_m(d, view.eye, view.eye_separation_m, view.taper_from_deg)
    m = placement.scaled_from_dome
    q = (o - placement.centre_dome_m) @ m.T
    v = d @ m.T
    vv = np.sum(v * v, axis=-1)
    t_mid = -np.sum(q * v, axis=-1) / vv
    pc = q + t_mid[:, None] * v
    hh = np.linalg.norm(pc, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge_px = (1.0 - hh) * placement.radius_m * px_per_rad(view) * zoom_magnification(d, view.zoom) / t_mid
        coverage = np.where(t_mid > 0.0, np.clip(edge_px + 0.5, 0.0, 1.0), 0.0)
        dt = np.sqrt(np.maximum(1.0 - hh * hh, 0.0) / vv)
        hit = np.where((hh < 1.0)[:, None], q + (t_mid - dt)[:, None] * v, pc / hh[:, None])
    r = np.hypot(uv[:, 0] - 0.5, uv[:, 1] - 0.5)
    coverage = np.where(r <= 0.5 + RIM_MARGIN_R, coverage, 0.0)
    pr = placement.polar_ratio
    p_body = hit * np.array([1.0, 1.0, pr])
    n = hit / np.array([1.0, 1.0, pr])
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    toward_eye = -(d @ placement.body_from_dome.T)
    weight = LOMMEL_SEELIGER_WEIGHT.get(placement.name, 0.0) if ls_weight is None else ls_weight
    shade = sphere_shade(n @ placement.sun_body, np.sum(n * toward_eye, axis=-1), weight)
    rgb = np.clip(np.asarray(albedo_rgb, dtype=np.float64) * shade[:, None], 0.0, 1.0)
    return coverage.reshape(h, w), rgb.reshape(h, w, 3), p_body.reshape(h, w, 3)


def _default_textures() -> Callable[[str], np.ndarray | None]:
    try:
        from domectl.textures import load_texture
    except ImportError:                       # textures not built into this checkout: grey spheres
        return lambda name: None
    return load_texture


def _mat3_bytes(matrix: np.ndarray) -> bytes:
    """Row-major numpy (3, 3) -> GLSL mat3 (column-major) bytes."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


class SphereRenderer:
    """Draws a frame's spheres into the bound framebuffer (module docstring).

    ``textures``: body name -> (H, W, 3) uint8 sRGB equirectangular or None
    (default ``domectl.textures.load_texture``); each is uploaded once, with
    mipmaps. A texture that fails to load is logged once and the body drawn grey.
    """

    def __init__(self, ctx: moderngl.Context, *, textures: Callable[[str], np.ndarray | None] | None = None) -> None:
        self.ctx = ctx
        self._load_texture = textures if textures is not None else _default_textures()
        self.program = load_program(ctx, "sphere")
        self.vao = ctx.vertex_array(self.program, [])
        self._textures: dict[str, moderngl.Texture | None] = {}
        check_gl(ctx, "SphereRenderer setup")

    def texture(self, name: str) -> moderngl.Texture | None:
        """The GL texture of body ``name`` (None: untextured), uploaded on first use."""
        if name not in self._textures:
            texture = None
            try:
                image = self._load_texture(name)
            except Exception as exc:  # a node must keep drawing: the body goes grey, said once
                log.warning("texture of %r cannot be used (%s); drawing it untextured", name, exc)
                image = None
            if image is not None:
                image = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
                if image.ndim != 3 or image.shape[2] != 3:
                    log.warning("texture of %r has shape %s, not (H, W, 3); drawing it untextured", name, image.shape)
                else:
                    texture = self.ctx.texture((image.shape[1], image.shape[0]), 3, image.tobytes())
                    texture.build_mipmaps()
                    texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                    texture.repeat_x, texture.repeat_y = True, False
            self._textures[name] = texture
        return self._textures[name]

    def _set(self, name: str, value: Any) -> None:
        set_uniform(self.program, name, value)

    def draw(self, view: Any, placements: list[SpherePlacement], opacity: float) -> None:
        """Draw ``placements`` (from :func:`sphere_placements`, far to near) over the bound frame."""
        if opacity <= 0.0 or not placements:
            return
        ctx = self.ctx
        w, h = float(view.size_px[0]), float(view.size_px[1])
        self._set("u_rect", tuple(float(x) for x in view.rect_uv))
        self._set("u_size_px", (w, h))
        self._set("u_rim_r", 0.5 + RIM_MARGIN_R)
        self._set("u_zoom", zoom_uniform(view.zoom))
        self._set("u_eye", float(view.eye))
        self._set("u_separation", float(view.eye_separation_m))
        self._set("u_taper_from", float(view.taper_from_deg))
        self._set("u_gamma", float(view.gamma))
        self._set("u_opacity", float(opacity))
        self._set("u_albedo", 0)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        for p in placements:
            bounds = sphere_bounds_px(view, p)
            if bounds is None:
                continue
            x0, y0, x1, y1 = bounds
            self._set("u_quad_ndc", (x0 / w * 2.0 - 1.0, y0 / h * 2.0 - 1.0, x1 / w * 2.0 - 1.0, y1 / h * 2.0 - 1.0))
            scaled = p.scaled_from_dome
            self._set("u_scaled_from_dome", _mat3_bytes(scaled))
            self._set("u_q0", tuple(float(x) for x in scaled @ -p.centre_dome_m))
            self._set("u_body_from_dome", _mat3_bytes(p.body_from_dome))
            self._set("u_sun_body", tuple(float(x) for x in p.sun_body))
            self._set("u_polar_ratio", float(p.polar_ratio))
            self._set("u_radius_px_per_rad", float(p.radius_m * px_per_rad(view)))
            self._set("u_ls_weight", float(LOMMEL_SEELIGER_WEIGHT.get(p.name, 0.0)))
            self._set("u_albedo_rgb", tuple(float(x) for x in UNTEXTURED_ALBEDO))
            texture = self.texture(p.name)
            self._set("u_textured", texture is not None)
            if texture is not None:
                texture.use(location=0)
            self.vao.render(moderngl.TRIANGLE_STRIP, vertices=4)
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, "SphereRenderer.draw")

    def release(self) -> None:
        for texture in self._textures.values():
            if texture is not None:
                texture.release()
        self._textures.clear()
        self.vao.release()
        self.program.release()
