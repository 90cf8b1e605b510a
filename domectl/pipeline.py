"""One IG's picture: render its domemaster slice, then warp and blend it for its projector.

Built once per node from the hall config (warp mesh, slice rectangle, blend
mask, GL programs and buffers); :meth:`IGPipeline.render` then turns each
:class:`~domectl.frame.FrameState` into the projector's image.

The hall's calibration (calibration.model.CalibrationSet, sent by the master)
replaces the config's nominal models: :meth:`IGPipeline.plan_calibration`
works out, in numpy and off the GL thread if need be, what changed for this
IG and builds only that; :meth:`IGPipeline.apply_calibration` then swaps it in
between frames. From the cheapest to the dearest:

* colour (gain, LUT): two uniforms and a tiny texture;
* control grid only: the mesh's vertices move (calibration/adjust.py), one
  buffer write; the blend mask stays (a refinement of a few pixels does not
  move the overlap enough to matter, and a held arrow key must stay live);
* this projector's model: a new mesh (and its slice rectangle);
* any projector's model or blend ramp: a new blend mask and black-level uplift mask;
* only the projectors' ``Blend.black_uplift`` flags: a new uplift mask, one texture write.

The masks (warp.blend: :func:`projector_masks`) are built in the planning
step, in the node's calibration worker (domectl.node.Calibrator) when
:meth:`IGPipeline.rebuild_needed` says so. The uplift evens the dome's black
(how, and how well: render/warp_pass.py); a blackout shows that even black
too, not a zero signal (which would leave the overlaps brighter).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from domectl.config import Hall
from domectl.errors import ConfigError
from domectl.frame import FrameState
from domectl.astro import sun_in_icrs
from domectl.hallwarp import dome_model, eye_m, projector_models
from domectl.projection import dome_from_enu
from domectl.stereo import EYE_SIGN
from render.compose import DomeRenderer
from render.layers import LayerView
from render.sky import SkyParams, look_for_density
from render.warp_pass import WarpPass
from warp.blend import DEFAULT_RAMP_FRAC, black_uplift_mask, blend_mask
from warp.geometry import elevation_deg
from warp.mesh import build_mesh

# One mesh vertex per this many projector pixels at full resolution: the warp of a 4096 px
# image is smooth over 32 px (the mesh interpolation error is measured in tests/test_warp_*.py).
MESH_STEP_PX_FULL = 32
# The slice texture never exceeds this side (llvmpipe and most GPUs allow 16384; 8192 keeps
# a 4K projector's slice at its needed density with memory to spare).
MAX_SLICE_PX = 8192
# Blend masks are smooth ramps hundreds of pixels wide: a mask this wide, sampled bilinearly,
# keeps the blend sum within 0.14 % (tests/test_warp_blend.py) and builds in a fraction of
# the 7-13 s a full 4096 px mask takes (benchmarks/bench_warp.py).
BLEND_MASK_MAX_W = 1024

log = logging.getLogger("domectl.pipeline")


def springline_cut_deg(dome, mesh) -> np.ndarray:
    """(R, C) elevation of each mesh vertex's dome point above the springline, degrees."""
    return elevation_deg(dome, mesh.dome_point_m.reshape(-1, 3)).reshape(mesh.valid.shape) - dome.springline_deg


def frame_sky_params(state: FrameState, tilt_deg: float) -> SkyParams:
    """The star and planet layers' parameters for ``state`` on a dome tilted ``tilt_deg``."""
    dome_from = dome_from_enu(state.view_az_deg, state.view_alt_deg, tilt_deg)
    enu_from_icrs = np.asarray(state.enu_from_icrs, dtype=np.float64).reshape(3, 3)
    return SkyParams(dome_from_icrs=dome_from @ enu_from_icrs,
                     beta_icrs=np.asarray(state.beta_icrs, dtype=np.float64),
                     years_since_epoch=state.years_since_epoch, dome_from_enu=dome_from,
                     bodies=state.bodies, refraction=state.refraction, enu_from_icrs=enu_from_icrs,
                     temperature_C=state.temperature_C, pressure_mbar=state.pressure_mbar,
                     sun=sun_in_icrs(state.bodies, enu_from_icrs))


def frame_view(state: FrameState, hall: Hall, rect_uv, size_px, eye: int = 0) -> LayerView:
    """Everything the layers need to draw ``state`` into the domemaster rectangle ``rect_uv``
    for ``eye`` (domectl.stereo.EYE_SIGN: -1 left, +1 right, 0 mono)."""
    sky = frame_sky_params(state, hall.dome.tilt_deg)
    sun = next((b for b in state.bodies if b.name.lower() == "sun"), None)
    return LayerView(
        rect_uv=tuple(float(x) for x in rect_uv), size_px=(int(size_px[0]), int(size_px[1])),
        dome_from_enu=sky.dome_from_enu, enu_from_icrs=sky.enu_from_icrs, bodies=state.bodies,
        sun_enu=np.asarray(sun.enu if sun is not None else (0.0, 0.0, 0.0), dtype=np.float64),
        sun_alt_deg=state.sun_alt_deg, language=state.language, pointer=state.pointer,
        overlays=state.overlays, landscape_alt_deg=np.asarray(hall.landscape_alt_deg, dtype=np.float64),
        sky=sky, time_s=state.show_time_s, zoom=state.zoom,
        eye=int(eye), eye_separation_m=float(state.eye_separation_m),
        taper_from_deg=float(hall.stereo.taper_from_deg),
        spheres=state.spheres, models=state.models, orbits=state.orbits,
    )


def render_frame(renderer: DomeRenderer, state: FrameState, hall: Hall, rect_uv, size_px, eye: int = 0):
    """Draw ``state`` with every layer it asks for, for ``eye`` (-1, 0, +1); returns the renderer's texture."""
    return renderer.render(frame_view(state, hall, rect_uv, size_px, eye), dict(state.layers),
                           star_brightness=state.star_brightness, star_contrast=state.star_contrast,
                           limiting_mag_delta=state.limiting_mag_delta)


def scaled_model(model, scale: float):
    """A calibrated ProjectorModel at a node's ``scale`` (as domectl.hallwarp.scaled_size does)."""
    if scale == 1.0:
        return model
    return replace(model, width_px=max(16, round(model.width_px * scale)),
                   height_px=max(16, round(model.height_px * scale)))


def ramp_frac(calibration) -> float | tuple[float, ...]:
    """The blend ramp of a calibration set for warp.blend: one number when every projector's
    ``blend.width_frac`` is the same, else one per projector (in the set's order)."""
    fracs = tuple(float(p.blend.width_frac) for p in calibration.projectors)
    return fracs[0] if len(set(fracs)) == 1 else fracs


def uplift_on(calibration) -> tuple[bool, ...]:
    """Each projector's ``blend.black_uplift`` in a calibration set, in the set's order (warp.blend's ``uplift_on``)."""
    return tuple(bool(p.blend.black_uplift) for p in calibration.projectors)


def mask_size(projector) -> tuple[int, int]:
    """(width, height) of a projector's blend and uplift masks: its own, at most BLEND_MASK_MAX_W wide."""
    w, h = projector.width_px, projector.height_px
    mask_w = min(w, BLEND_MASK_MAX_W)
    return mask_w, max(2, round(h * mask_w / w))


def uplift_mask(dome, models, eye, index: int, ramp: float | tuple[float, ...],
                uplift: tuple[bool, ...]) -> np.ndarray:
    """Projector ``index``'s (h, w) float32 linear black-level uplift (warp.blend.black_uplift_mask) at
    :func:`mask_size`; zeros without computing when its uplift is off or no projector has a black level."""
    size = mask_size(models[index])
    if not uplift[index] or max(m.black_level for m in models) == 0.0:
        return np.zeros(size[::-1], np.float32)
    return black_uplift_mask(dome, list(models), eye, index, *size, ramp_frac=ramp, uplift_on=list(uplift))


def projector_masks(dome, models, eye, index: int, ramp: float | tuple[float, ...],
                    uplift: tuple[bool, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Projector ``index``'s (blend, uplift) masks, both (h, w) float32 linear over the same texels
    (:func:`mask_size`), from the calibration's ``models``, ramp and uplift flags (numpy only)."""
    blend = blend_mask(dome, list(models), eye, index, *mask_size(models[index]), ramp_frac=ramp)
    return blend, uplift_mask(dome, models, eye, index, ramp, uplift)


@dataclass(frozen=True)
class CalibrationPlan:
    """What applying a calibration takes for one IG, built in numpy (no GL): see the module docstring.

    ``kind``: "none", "colour", "control" (vertices only), "uplift" (a new uplift mask,
    and the vertices if they moved) or "rebuild" (a new mesh and/or blend mask, hence a
    new warp pass). ``mesh``/``blend``/``uplift`` are the new ones (None: keep);
    ``vertices_px`` (R, C, 2) the mesh's vertices moved by the control grid;
    ``uplift_on`` the projectors' uplift flags.
    """

    calibration: object
    kind: str
    models: tuple
    ramp: float | tuple[float, ...]
    mesh: object | None
    blend: np.ndarray | None
    vertices_px: np.ndarray
    gain_rgb: tuple[float, float, float]
    lut: tuple | None
    plan_ms: float
    uplift: np.ndarray | None = None
    uplift_on: tuple[bool, ...] = ()


class IGPipeline:
    def __init__(self, ctx, hall: Hall, ig_id: int, scale: float, catalog):
        ig = hall.ig(ig_id)
        self.hall = hall
        self.ig = ig
        self.ctx = ctx
        self.scale = scale
        projectors = projector_models(hall, scale)
        self.index = [p.id for p in hall.projectors].index(ig.projector)
        self.projector = projectors[self.index]
        self.dome = dome = dome_model(hall)
        self.eye = eye = eye_m(hall)
        #: The eye this IG renders (the config's ``eye``: left, right or mono), domectl.stereo.EYE_SIGN.
        self.eye_sign = EYE_SIGN[ig.eye]
        self.step_px = max(4.0, MESH_STEP_PX_FULL * scale)
        self.mesh = build_mesh(dome, self.projector, eye, step_px=self.step_px)
        self.rect_uv = self.mesh.domemaster_region()
        self.slice_size = self.mesh.render_size_px(max_px=MAX_SLICE_PX)
        w, h = self.projector.width_px, self.projector.height_px
        #: What the picture is built from: the models (scaled), blend ramp and uplift flags (the
        #: hall's nominal set: calibration.model.from_hall's, uplift on), the control grid (with
        #: the model size its offsets are in) and the colour; the calibration set, if any.
        self.models = tuple(projectors)
        self.ramp: float | tuple[float, ...] = DEFAULT_RAMP_FRAC
        self.uplift_on: tuple[bool, ...] = (True,) * len(projectors)
        self.blend, self.uplift = projector_masks(dome, self.models, eye, self.index, self.ramp, self.uplift_on)
        self.control = None
        self.gain_rgb, self.lut = (1.0, 1.0, 1.0), None
        self.calibration = None
        self.vertices_px = self.mesh.pixel_xy
        # One look for the whole dome: the limiting magnitude and the star sizes follow the
        # hall's domemaster density, the same for every IG; a star's size is then converted
        # into this slice's pixels, which are denser or sparser from projector to projector.
        # (Choosing per slice made a visible patch where the upper projectors overlap.)
        dome_px_per_deg = hall.render.domemaster_px * scale / 180.0
        slice_px_per_deg = self.slice_size[0] / ((self.rect_uv[2] - self.rect_uv[0]) * 180.0)
        look = look_for_density(hall.render.limiting_mag, dome_px_per_deg)
        look = replace(look, sigma0_px=look.sigma0_px * slice_px_per_deg / dome_px_per_deg)
        self.sky = DomeRenderer(ctx, catalog, look=look)
        self._patterns: dict[str, np.ndarray] = {}
        self.warp = WarpPass(ctx, self.mesh.pixel_xy, self.mesh.uv, self.mesh.valid, self.blend,
                             gamma=self.projector.gamma, out_size=(w, h), cut=springline_cut_deg(dome, self.mesh),
                             uplift_linear=self.uplift)
        # A blackout is black content through the warp: the uplifted, even black floor.
        self._black = ctx.texture((1, 1), 4, bytes((0, 0, 0, 255)))

    # ------------------------------------------------------------ calibration

    def rebuild_needed(self, calibration) -> bool:
        """Whether ``calibration`` needs a new mesh, blend or uplift mask here (a cheap comparison)."""
        models = tuple(scaled_model(p.model, self.scale) for p in calibration.projectors)
        return models != self.models or ramp_frac(calibration) != self.ramp or uplift_on(calibration) != self.uplift_on

    def plan_calibration(self, calibration) -> CalibrationPlan:
        """What applying ``calibration`` (a CalibrationSet) takes, computed (numpy only: safe in a
        worker thread while the GL thread renders, as long as no other plan is applied meanwhile).
        ConfigError if the set has no calibration for this IG's projector."""
        from calibration.adjust import displace_px

        t0 = time.perf_counter()
        names = [p.name for p in calibration.projectors]
        if self.ig.projector not in names:
            raise ConfigError(f"calibration of {calibration.hall!r} has no projector {self.ig.projector!r} "
                              f"(it has {', '.join(names)}): is it this hall's?")
        index = names.index(self.ig.projector)
        mine = calibration.projectors[index]
        models = tuple(scaled_model(p.model, self.scale) for p in calibration.projectors)
        ramp = ramp_frac(calibration)
        flags = uplift_on(calibration)
        projector = models[index]
        mesh = None
        if projector != self.projector:
            mesh = build_mesh(self.dome, projector, self.eye, step_px=self.step_px)
        blend = uplift = None
        if models != self.models or ramp != self.ramp or mesh is not None:
            blend, uplift = projector_masks(self.dome, models, self.eye, index, ramp, flags)
        elif flags[index] != self.uplift_on[index]:
            # Only this projector's own flag changes its mask: a neighbour's share is never handed on.
            uplift = uplift_mask(self.dome, models, self.eye, index, ramp, flags)
        base = mesh if mesh is not None else self.mesh
        control_changed = mine.control != self.control or mesh is not None
        vertices = (displace_px(base.pixel_xy, mine.control, projector.width_px, projector.height_px,
                                mine.model.width_px, mine.model.height_px)
                    if control_changed else self.vertices_px)
        gain, lut = tuple(mine.colour.gain_rgb), mine.colour.lut
        if mesh is not None or blend is not None:
            kind = "rebuild"
        elif uplift is not None:
            kind = "uplift"
        elif control_changed:
            kind = "control"
        elif (gain, lut) != (self.gain_rgb, self.lut):
            kind = "colour"
        else:
            kind = "none"
        return CalibrationPlan(calibration, kind, models, ramp, mesh, blend, vertices, gain, lut,
                               (time.perf_counter() - t0) * 1e3, uplift=uplift, uplift_on=flags)

    def apply_calibration(self, plan: CalibrationPlan) -> None:
        """Swap a plan in (GL: call between frames on the render thread)."""
        if plan.kind == "rebuild":
            mesh = plan.mesh if plan.mesh is not None else self.mesh
            blend = plan.blend if plan.blend is not None else self.blend
            uplift = plan.uplift if plan.uplift is not None else self.uplift
            projector = plan.models[[p.name for p in plan.calibration.projectors].index(self.ig.projector)]
            warp = WarpPass(self.ctx, plan.vertices_px, mesh.uv, mesh.valid, blend, gamma=projector.gamma,
                            out_size=(projector.width_px, projector.height_px),
                            cut=springline_cut_deg(self.dome, mesh), uplift_linear=uplift)
            old, self.warp = self.warp, warp
            old.release()
            if (projector.width_px, projector.height_px) != (self.projector.width_px, self.projector.height_px):
                self._patterns = {}
            self.mesh, self.blend, self.uplift, self.projector = mesh, blend, uplift, projector
            self.rect_uv = mesh.domemaster_region()
            self.slice_size = mesh.render_size_px(max_px=MAX_SLICE_PX)
        elif plan.kind in ("uplift", "control"):
            if plan.uplift is not None:
                self.warp.set_blend(self.blend, plan.uplift)
                self.uplift = plan.uplift
            if plan.vertices_px is not self.vertices_px:
                self.warp.set_vertices_px(plan.vertices_px)
        if plan.kind == "rebuild" or (plan.gain_rgb, plan.lut) != (self.gain_rgb, self.lut):
            self.warp.set_colour(plan.gain_rgb, plan.lut)
        self.models, self.ramp, self.vertices_px = plan.models, plan.ramp, plan.vertices_px
        self.uplift_on = plan.uplift_on
        self.control = plan.calibration.projector(self.ig.projector).control
        self.gain_rgb, self.lut = plan.gain_rgb, plan.lut
        self.calibration = plan.calibration

    def set_calibration(self, calibration) -> CalibrationPlan:
        """Plan and apply at once (tests, a node that has not joined yet); returns the plan."""
        plan = self.plan_calibration(calibration)
        self.apply_calibration(plan)
        return plan

    def render(self, state: FrameState) -> np.ndarray:
        """FrameState -> the projector's (H, W, 3) uint8 image, top row first; a technician's
        test pattern (an overlay of kind "pattern") replaces the sky, unwarped."""
        for overlay in state.overlays:
            if overlay.kind == "pattern":
                return self.pattern(overlay.content)
        if state.blackout:
            if self.warp.has_uplift:
                return self.warp.draw(self._black, self.rect_uv)
            return np.zeros((self.projector.height_px, self.projector.width_px, 3), np.uint8)
        tex = render_frame(self.sky, state, self.hall, self.rect_uv, self.slice_size, self.eye_sign)
        return self.warp.draw(tex, self.rect_uv)

    def pattern(self, spec: str) -> np.ndarray:
        """The test pattern ``spec`` for this projector (black when it names others; a spec the node
        cannot read is logged once and shown black). Drawn once per spec, then reused."""
        cached = self._patterns.get(spec)
        if cached is None:
            from calibration import patterns

            w, h = self.projector.width_px, self.projector.height_px
            try:
                name, _ = patterns.parse_spec(spec)
                shown = patterns.shows(spec, self.ig.projector)
            except ConfigError as e:
                log.warning("test pattern %r: %s; showing black", spec, e)
                name, shown = "black", False
            cached = (patterns.pattern_image(name, w, h, projector_id=self.ig.projector, ig_id=self.ig.id,
                                             eye=self.ig.eye, gamma=self.projector.gamma)
                      if shown else np.zeros((h, w, 3), np.uint8))
            self._patterns = {spec: cached}          # one at a time: a 4K frame is 26 MB
        return cached
