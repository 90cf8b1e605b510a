"""3D models (Wavefront OBJ, domectl/meshes.py) in the sky or on the dome, lit by the Sun.

Each :class:`domectl.frame.ModelView` names an asset (``domectl/data/models/NAME.obj``),
parsed once per name by the loader and uploaded once (parsing and uploading
are separate steps: :func:`expand_triangles` is numpy). A model is placed

* in the sky's ENU axes (``on_dome`` False), relative to the observer: it
  turns with the view (``LayerView.dome_from_enu``) and moves with the zoom,
  like a body;
* or in the dome frame (``on_dome`` True), relative to the dome centre: it
  stays on the dome whatever the sky does, and is not zoomed (as overlays).

``position_m + scale * frame_from_model @ v`` puts vertex ``v`` (model units)
in its frame, in metres; the vertex stage (``shaders/model.glsl``, numpy twin
:func:`project_vertices`) takes it to the dome frame, then to the direction the
IG's eye sees it in (omnidirectional stereo, domectl/stereo.py), the zoom and
the fisheye, as every layer. Triangles are straight in the domemaster: a
model's triangles should subtend a few degrees at most (a large triangle
near the eye bends away from its true curved image), and a triangle with a
corner more than :data:`MAX_ZENITH_DEG` from the dome zenith (toward the
fisheye's singular antipode, where it would smear across the image) or
nearer than :func:`near_m` to the eye is dropped whole.

Lighting (:func:`model_shade`): ``ambient + (1 - ambient) max(n . sun, 0)``
on the per-vertex linear colours (the materials' ``Kd``), with
:data:`AMBIENT` so that the night side stays visible; the Sun's direction is
the "sun" body's (``LayerView.sun_enu``), taken to the dome frame: for a model
in the sky as for one on the dome, the light comes from where the Sun is in
the sky. A frame without the Sun draws the models unshaded. The side of a face
seen by the eye is lit as its front.

Depth: a depth renderbuffer of the target's size is attached to the frame's
colour texture and cleared at each draw of the layer (the DomeRenderer's
target has none); the depth is ``log`` of the eye's distance between
:data:`DEPTH_NEAR_M` and :data:`DEPTH_FAR_M` (24 bits over 16 decades: a
relative resolution of 2.3e-6, a millimetre at 400 m), interpolated linearly
over each triangle in the domemaster. Output display-encoded
(``LayerView.gamma``), premultiplied "over", x the model's and the layer's
opacity; models are drawn far to near. A model fading (opacity < 1) is drawn
twice, depth first, so that it fades as a solid (its back faces never show
through its front ones). A model whose asset is missing or malformed is
logged once and skipped: a node keeps drawing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import moderngl
import numpy as np

from domectl.projection import fisheye_uv, zoom_dir, zoom_uniform
from domectl.stereo import eye_offsets_m, ods_dirs
from render.context import check_gl, release_framebuffers
from render.shaders import load_program, set_uniform

log = logging.getLogger("domectl.render")

#: Share of the light on the night side of a model (it should read as a shape, not a hole).
AMBIENT = 0.15
#: Triangles with a corner farther than this from the dome zenith are dropped (module docstring).
MAX_ZENITH_DEG = 150.0
#: The depth range (metres from the eye): from a model touching the audience to beyond Pluto.
DEPTH_NEAR_M = 1e-3
DEPTH_FAR_M = 1e13
#: Floats per expanded vertex: the triangle's corners (9), which corner (1), normal (3), colour (3).
VERTEX_FLOATS = 16


def near_m(separation_m: float) -> float:
    """Geometry nearer than this to the dome centre is dropped: the eyes' separation
    (ODS has no solution inside the eyes' circle, domectl/stereo.py), at least 1 mm."""
    return max(float(separation_m), 1e-3)


def expand_triangles(mesh: Any) -> np.ndarray:
    """A mesh's triangles as vertex rows for ``model.glsl``: -> (3 M, 16) float32.

    ``mesh``: ``positions (N, 3)``, ``normals (N, 3)``, ``colours (N, 3)``,
    ``triangles (M, 3)`` (domectl.meshes.Mesh). Row ``3 t + k`` is corner
    ``k`` of triangle ``t``: the triangle's three positions, ``k``, and that
    corner's normal and colour.
    """
    tri = np.asarray(mesh.triangles, dtype=np.int64).reshape(-1, 3)
    pos = np.asarray(mesh.positions, dtype=np.float32)[tri]                       # (M, 3, 3)
    rows = np.empty((len(tri), 3, VERTEX_FLOATS), dtype=np.float32)
    rows[:, :, 0:9] = pos.reshape(len(tri), 1, 9)
    rows[:, :, 9] = np.arange(3, dtype=np.float32)
    rows[:, :, 10:13] = np.asarray(mesh.normals, dtype=np.float32)[tri]
    rows[:, :, 13:16] = np.asarray(mesh.colours, dtype=np.float32)[tri]
    return rows.reshape(-1, VERTEX_FLOATS)


def model_transform(view: Any, model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(dome_from_model (3, 3) with the scale, its rotation (3, 3), position (3,) metres in the
    dome frame, zoom) of ``model`` (a ModelView) in ``view`` (module docstring)."""
    dome_from_frame = np.eye(3) if model.on_dome else np.asarray(view.dome_from_enu, dtype=np.float64)
    rotation = dome_from_frame @ np.asarray(model.frame_from_model, dtype=np.float64).reshape(3, 3)
    position = dome_from_frame @ np.asarray(model.position_m, dtype=np.float64)
    return rotation * float(model.scale), rotation, position, 1.0 if model.on_dome else float(view.zoom)


def project_vertices(view: Any, model: Any, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numpy twin of ``model.glsl``'s vertex stage: model-unit points (N, 3) ->
    (window px (N, 2) from the bottom-left, eye distance (N,) metres)."""
    dome_from_model, _, position, zoom = model_transform(view, model)
    p = position + np.asarray(points, dtype=np.float64) @ dome_from_model.T
    d = ods_dirs(p, view.eye, view.eye_separation_m, view.taper_from_deg)
    uv = fisheye_uv(zoom_dir(d, zoom))
    rect = np.asarray(view.rect_uv, dtype=np.float64)
    window = (uv - rect[:2]) / (rect[2:] - rect[:2]) * np.asarray(view.size_px, dtype=np.float64)
    distance = np.linalg.norm(p - eye_offsets_m(d, view.eye, view.eye_separation_m, view.taper_from_deg), axis=-1)
    return window, distance


def model_shade(normals: np.ndarray, sun: np.ndarray, ambient: float = AMBIENT) -> np.ndarray:
    """Lighting factor of unit normals (N, 3) by the unit Sun direction (3,) -> (N,).

    ``ambient + (1 - ambient) max(n . sun, 0)``; a zero ``sun`` (unknown) gives 1.
    Twin of ``model_shade`` in model.glsl.
    """
    sun = np.asarray(sun, dtype=np.float64)
    if not np.any(sun):
        return np.ones(len(normals))
    return ambient + (1.0 - ambient) * np.maximum(np.asarray(normals, dtype=np.float64) @ sun, 0.0)


def _default_loader() -> Callable[[str], Any]:
    from domectl.meshes import load_model

    return load_model


def _mat3_bytes(matrix: np.ndarray) -> bytes:
    """Row-major numpy (3, 3) -> GLSL mat3 (column-major) bytes."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


class _GpuModel:
    def __init__(self, ctx: moderngl.Context, program: moderngl.Program, mesh: Any) -> None:
        rows = expand_triangles(mesh)
        self.vertices = len(rows)
        self.buffer = ctx.buffer(rows.tobytes()) if self.vertices else None
        self.vao = (ctx.vertex_array(program, [(self.buffer, "3f 3f 3f 1f 3f 3f", "in_a", "in_b", "in_c",
                                                "in_corner", "in_normal", "in_rgb")])
                    if self.buffer is not None else None)

    def release(self) -> None:
        for obj in (self.vao, self.buffer):
            if obj is not None:
                obj.release()


class ModelsLayer:
    """The ``models`` layer (render/layers.py protocol).

    ``loader``: model name -> Mesh (default ``domectl.meshes.load_model``);
    each name is loaded and uploaded once. The program is built at the first
    model drawn: a frame without models costs nothing.
    """

    names = ("models",)

    def __init__(self, ctx: moderngl.Context, *, loader: Callable[[str], Any] | None = None) -> None:
        self.ctx = ctx
        self._loader = loader
        self.program: moderngl.Program | None = None
        self._models: dict[str, _GpuModel | None] = {}
        self._depth: dict[tuple[int, int], moderngl.Renderbuffer] = {}
        # Per colour texture drawn into: (the texture, a framebuffer on it and our depth buffer).
        self._targets: dict[int, tuple[Any, moderngl.Framebuffer]] = {}

    def model(self, name: str) -> _GpuModel | None:
        """The uploaded model ``name`` (None: it failed to load, logged once)."""
        if name not in self._models:
            if self.program is None:
                self.program = load_program(self.ctx, "model")
            try:
                loader = self._loader if self._loader is not None else _default_loader()
                mesh = loader(name)
            except Exception as exc:  # a node keeps drawing without the model, said once
                log.warning("model %r cannot be drawn (%s); skipping it", name, exc)
                self._models[name] = None
            else:
                self._models[name] = _GpuModel(self.ctx, self.program, mesh)
        return self._models[name]

    def _depth_target(self, frame: Any) -> moderngl.Framebuffer | None:
        """A framebuffer drawing into ``frame``'s colour texture with our depth buffer (None:
        the frame has no colour texture, e.g. a window: drawn without depth)."""
        attachments = getattr(frame, "color_attachments", ()) or ()
        if not attachments or not isinstance(attachments[0], moderngl.Texture):
            return None
        texture = attachments[0]
        cached = self._targets.get(id(texture))
        if cached is not None and cached[0] is texture:
            return cached[1]
        size = tuple(texture.size)
        if size not in self._depth:
            self._depth[size] = self.ctx.depth_renderbuffer(size)
        fbo = self.ctx.framebuffer(color_attachments=[texture], depth_attachment=self._depth[size])
        frame.use()                                    # moderngl binds the new framebuffer
        self._targets[id(texture)] = (texture, fbo)
        return fbo

    def _use(self, target: moderngl.Framebuffer, *, colour: bool, size: tuple[int, int]) -> None:
        """Bind ``target`` writing colour or depth only (moderngl applies the mask when binding)."""
        target.color_mask = (colour,) * 4
        target.use()
        self.ctx.viewport = (0, 0, *size)

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name not in self.names:
            raise ValueError(f"ModelsLayer draws 'models', not {name!r}")
        shown = [m for m in view.models if float(m.opacity) * opacity > 0.0 and float(m.scale) > 0.0]
        if not shown or opacity <= 0.0:
            return
        shown.sort(key=lambda m: -float(np.linalg.norm(model_transform(view, m)[2])))
        models = [(m, self.model(str(m.name))) for m in shown]
        models = [(m, g) for m, g in models if g is not None and g.vao is not None]
        if not models:
            return
        ctx = self.ctx
        prog = self.program
        frame = ctx.fbo
        size = (int(view.size_px[0]), int(view.size_px[1]))
        target = self._depth_target(frame)
        if target is not None:
            self._use(target, colour=False, size=size)
            target.clear(depth=1.0)
            self._use(target, colour=True, size=size)
            ctx.enable(moderngl.DEPTH_TEST)
            ctx.depth_func = "<"
        ctx.viewport = (0, 0, *size)
        ctx.disable(moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA

        sun = np.asarray(view.dome_from_enu, dtype=np.float64) @ np.asarray(view.sun_enu, dtype=np.float64)
        norm = np.linalg.norm(sun)
        sun = sun / norm if norm > 0.0 else np.zeros(3)

        def set_(uniform: str, value: Any) -> None:
            set_uniform(prog, uniform, value)

        set_("u_eye", float(view.eye))
        set_("u_separation", float(view.eye_separation_m))
        set_("u_taper_from", float(view.taper_from_deg))
        set_("u_rect", tuple(float(x) for x in view.rect_uv))
        set_("u_near_m", near_m(view.eye_separation_m))
        set_("u_max_zenith_cos", float(np.cos(np.radians(MAX_ZENITH_DEG))))
        log_near = float(np.log(DEPTH_NEAR_M))
        set_("u_depth", (log_near, 1.0 / (float(np.log(DEPTH_FAR_M)) - log_near)))
        set_("u_sun_dome", tuple(float(x) for x in sun))
        set_("u_ambient", AMBIENT)
        set_("u_gamma", float(view.gamma))
        for model, gpu in models:
            dome_from_model, rotation, position, zoom = model_transform(view, model)
            try:
                normal_matrix = np.linalg.inv(rotation).T
            except np.linalg.LinAlgError:
                continue                              # a degenerate frame: nothing to draw
            set_("u_dome_from_model", _mat3_bytes(dome_from_model))
            set_("u_normal_dome_from_model", _mat3_bytes(normal_matrix))
            set_("u_position_dome", tuple(float(x) for x in position))
            set_("u_zoom", zoom_uniform(zoom))
            alpha = float(model.opacity) * float(opacity)
            set_("u_opacity", alpha)
            if alpha < 1.0 and target is not None:
                # A fading model fades as a solid: a depth-only pass first, then only its nearest
                # faces blend (without it, its own back faces would show through its front ones).
                self._use(target, colour=False, size=size)
                gpu.vao.render(moderngl.TRIANGLES, vertices=gpu.vertices)
                self._use(target, colour=True, size=size)
                ctx.depth_func = "<="
                gpu.vao.render(moderngl.TRIANGLES, vertices=gpu.vertices)
                ctx.depth_func = "<"
            else:
                gpu.vao.render(moderngl.TRIANGLES, vertices=gpu.vertices)
        ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST)
        if target is not None:
            frame.use()
        ctx.viewport = (0, 0, *size)
        check_gl(ctx, "ModelsLayer.draw")

    def release(self) -> None:
        for gpu in self._models.values():
            if gpu is not None:
                gpu.release()
        self._models.clear()
        fbos = [fbo for _, fbo in self._targets.values()]
        if self.ctx.fbo in fbos:
            release_framebuffers(self.ctx, *fbos)
        else:
            for fbo in fbos:
                fbo.release()
        self._targets.clear()
        for rb in self._depth.values():
            rb.release()
        self._depth.clear()
        if self.program is not None:
            self.program.release()
            self.program = None
