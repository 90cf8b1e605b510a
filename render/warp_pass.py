"""The warp + blend pass: a node's slice -> its projector's image.

Projector pixel convention (the same as ``warp.geometry`` and
``warp.mesh.WarpMesh.pixel_xy``): ``(x, y)`` continuous image coordinates, x
right, y down; the image covers ``[0, W] x [0, H]`` and pixel ``(col, row)``
has its centre at ``(col + 0.5, row + 0.5)``. ``blend_linear``,
``uplift_linear`` and the returned image are (H, W) / (H, W, 3) arrays with
the top row first.

Each lit output pixel, all in linear light until the last step
(numpy twin: :func:`warp_shade`)::

    x = decode(slice(uv)) * weight          blended content, decode(c) = c ** gamma
    s = uplift + (1 - uplift) * x           black-level uplift (warp/blend.py's model)
    out = encode(colour(s))                 colour: :func:`colour_linear`; encode(s) = s ** (1 / gamma)

The slice is display-encoded (see render/sky.py) and the blend weights are
linear light, so overlapping projectors add to one; ``uplift`` is
:func:`warp.blend.black_uplift_mask` (the MPCDI beta map: ``beta + (1 - beta)
* alpha * content``), applied before the colour correction so that the LUT
linearises it like any other light. ``colour`` is the calibration's
per-projector correction (identity by default: :meth:`WarpPass.set_colour`).

Why this evens the black (with the identity colour): a projector with black
level ``b`` emits ``L = b + (1 - b) * s`` for a linear signal ``s``
(:func:`projector_light`, the model calibration/camera.py simulates). At a
dome point lit by projectors ``i`` (blend weights ``w_i``, summing to 1),
warp/blend.py gives ``u_i = w_i * need`` with ``need = M * b_max - sum b_i``
(``M`` the brightest overlap's count). A black frame (``x = 0``) then sums to::

    sum_i L_i = sum_i b_i + sum_i (1 - b_i) u_i = M * b_max - sum_i b_i u_i

the overlap areas' black ``M * b_max`` everywhere, short by ``sum_i b_i u_i <=
b_max * need``: blend.py's uplift is the light wanted and the node adds it as
signal, which the projector's own black compresses by ``(1 - b)``. That is at
most a fraction ``b_max * (M - 1) / M`` of the black floor (0.15 % for the
hall's b = 0.002, M = 4; tests/test_black_uplift.py). A white frame (``x =
w_i``) sums, for equal ``b``, to ``n b + (1 - b) (1 + need (1 - sum_i w_i^2))``:
1 where one projector lights the dome, ``1 + (M - 1) b`` in the brightest
overlap, never outside ``[1, 1 + (M - 1) b]`` (without uplift: ``1 + (n - 1) b``).

Two limits, measured in tests/test_black_uplift.py: the 8-bit output encodes
an uplift of 0.006 to about code 25, where one code is 7 % of the black floor,
so the floor is even to half a code (3.0 % worst, 0.36 % median over the
dome), not the model's 0.15 %; and the uplift steps where a neighbour's image
(and its own black) begins, a step the bilinear mask smears over one mask
texel: off by up to one projector's black along those lines (2 % of the dome
at 1/8 scale; at full resolution, 1024 px masks: 4 px to each side of the line).

Pixels outside the mesh stay black. Where the image crosses the dome's edge,
``cut`` (a signed margin per vertex, e.g. elevation above the springline in
degrees) is interpolated across each triangle and pixels where it is negative
stay black: an edge exact to within the mesh's linear interpolation, instead
of dropping whole cells (a black band one mesh step wide). Without ``cut``,
cells with an invalid vertex are dropped.
"""

from __future__ import annotations

import moderngl
import numpy as np

from render.context import check_gl, release_framebuffers
from render.shaders import load_program


#: The most LUT entries a colour correction may have (a 1-D texture row; 4096 is far finer than
#: any measured projector response needs).
MAX_LUT_SIZE = 4096


def colour_linear(linear_rgb: np.ndarray, gain_rgb=(1.0, 1.0, 1.0), lut=None) -> np.ndarray:
    """Numpy twin of the warp shader's colour step: (..., 3) linear -> (..., 3) linear.

    ``clip(rgb * gain, 0, 1)``, then per channel the LUT (3 sequences of n >= 2
    entries, entry k the output for input k / (n - 1), linear between entries).
    """
    rgb = np.clip(np.asarray(linear_rgb, dtype=np.float64) * np.asarray(gain_rgb, dtype=np.float64), 0.0, 1.0)
    if lut is None:
        return rgb
    out = np.empty_like(rgb)
    for ch in range(3):
        table = np.asarray(lut[ch], dtype=np.float64)
        out[..., ch] = np.interp(rgb[..., ch], np.linspace(0.0, 1.0, len(table)), table)
    return out


def uplifted_linear(content_linear: np.ndarray, uplift_linear) -> np.ndarray:
    """Black-level uplift of blended content (warp/blend.py): (..., 3) linear, (...) uplift -> (..., 3) linear.

    ``uplift + (1 - uplift) * content``: black becomes ``uplift``, white stays 1.
    """
    up = np.asarray(uplift_linear, dtype=np.float64)[..., None]
    return up + (1.0 - up) * np.asarray(content_linear, dtype=np.float64)


def warp_shade(slice_encoded: np.ndarray, weight, uplift=0.0, gamma: float = 2.2, gain_rgb=(1.0, 1.0, 1.0),
               lut=None) -> np.ndarray:
    """Numpy twin of the warp shader's colour path at a lit pixel (formula in the module docstring).

    ``slice_encoded`` (..., 3) display-encoded in [0, 1]; ``weight`` and
    ``uplift`` (...) linear (the masks sampled at the pixel) -> (..., 3)
    display-encoded output in [0, 1], before the framebuffer's 8-bit rounding.
    """
    content = np.asarray(slice_encoded, dtype=np.float64) ** gamma * np.asarray(weight, dtype=np.float64)[..., None]
    return colour_linear(uplifted_linear(content, uplift), gain_rgb, lut) ** (1.0 / gamma)


def projector_light(signal_linear, black_level: float) -> np.ndarray:
    """Light a projector emits for a linear signal, as a fraction of its white: ``b + (1 - b) * s``.

    ``signal_linear`` any shape in [0, 1]; ``black_level`` ``b`` in [0, 1) (``ProjectorModel.black_level``).
    """
    return black_level + (1.0 - black_level) * np.asarray(signal_linear, dtype=np.float64)


def mesh_triangles(valid: np.ndarray) -> np.ndarray:
    """Triangle vertex indices over a (ny, nx) grid, skipping triangles with an invalid vertex.

    (ny, nx) bool -> (T, 3) uint32 indices into the grid flattened row-major.
    Each cell is split along its (i, j)-(i+1, j+1) diagonal.
    """
    ny, nx = valid.shape
    index = np.arange(ny * nx, dtype=np.uint32).reshape(ny, nx)
    a, b = index[:-1, :-1], index[:-1, 1:]
    c, d = index[1:, :-1], index[1:, 1:]
    va, vb, vc, vd = valid[:-1, :-1], valid[:-1, 1:], valid[1:, :-1], valid[1:, 1:]
    tri1 = np.stack([a, b, d], axis=-1)[va & vb & vd]
    tri2 = np.stack([a, d, c], axis=-1)[va & vd & vc]
    return np.concatenate([tri1, tri2]).astype(np.uint32)


class WarpPass:
    """Draws the warp mesh for one projector; the output and read-back buffers are kept.

    grid_px (ny, nx, 2): projector image positions (x right, y down, pixel
    centres at +0.5) of the mesh vertices; grid_uv (ny, nx, 2): the domemaster (u, v) each
    vertex sees; valid (ny, nx) bool; blend_linear (h, w) float32 linear
    weights over the projector image, top row first, at the projector's
    resolution (exact) or coarser (interpolated); out_size = (W, H);
    uplift_linear: the black-level uplift (linear, in [0, 1)) over the same
    texels as blend_linear, or None for none (module docstring).
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        grid_px: np.ndarray,
        grid_uv: np.ndarray,
        valid: np.ndarray,
        blend_linear: np.ndarray,
        gamma: float = 2.2,
        out_size: tuple[int, int] = (4096, 2160),
        cut: np.ndarray | None = None,
        uplift_linear: np.ndarray | None = None,
    ) -> None:
        self.ctx = ctx
        self.gamma = float(gamma)
        self.out_size = width, height = int(out_size[0]), int(out_size[1])
        grid_px = np.asarray(grid_px, dtype=np.float64)
        grid_uv = np.asarray(grid_uv, dtype=np.float64)
        valid = np.asarray(valid, dtype=bool)
        if grid_px.shape[:2] != valid.shape or grid_uv.shape[:2] != valid.shape or grid_px.shape[2:] != (2,):
            raise ValueError(
                f"WarpPass: grid_px {grid_px.shape}, grid_uv {grid_uv.shape} and valid {valid.shape} must be (ny, nx, 2), (ny, nx, 2), (ny, nx)"
            )
        if np.ndim(blend_linear) != 2 or min(np.shape(blend_linear)) < 2:
            raise ValueError(f"WarpPass: blend_linear is {np.shape(blend_linear)}, expected a 2-D (h, w) mask")
        if cut is not None:
            cut = np.asarray(cut, dtype=np.float64)
            if cut.shape != valid.shape:
                raise ValueError(f"WarpPass: cut {cut.shape} must be (ny, nx) like valid {valid.shape}")
            # Every cell with finite uv is drawn; the fragment shader cuts at cut = 0.
            drawable = np.isfinite(cut) & np.all(np.isfinite(grid_uv), axis=-1)
        else:
            cut = np.where(valid, 1.0, -1.0)
            drawable = valid
        vertices = np.empty(valid.shape + (5,), dtype=np.float32)
        self._vertices = vertices
        self._place(grid_px)
        vertices[..., 2:4] = np.where(drawable[..., None], grid_uv, 0.0)
        vertices[..., 4] = np.where(drawable, cut, -1.0)
        triangles = mesh_triangles(drawable)
        self.triangle_count = len(triangles)

        self._prog = load_program(ctx, "warp")
        self._vbo = ctx.buffer(vertices.tobytes())
        self._ibo = ctx.buffer(triangles.tobytes()) if len(triangles) else None
        self._vao = (
            ctx.vertex_array(self._prog, [(self._vbo, "2f 2f 1f", "in_ndc", "in_uv", "in_cut")], index_buffer=self._ibo, index_element_size=4)
            if self._ibo is not None
            else None
        )
        mask_h, mask_w = np.shape(blend_linear)
        # One RG32F texture: R the blend weight, G the uplift (one fetch for both; same texels).
        self._blend = ctx.texture((mask_w, mask_h), 2, dtype="f4")
        self._blend.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._blend.repeat_x = self._blend.repeat_y = False
        self.set_blend(blend_linear, uplift_linear)
        self._out_tex = ctx.texture((width, height), 4, dtype="f1")
        self._fbo = ctx.framebuffer(color_attachments=[self._out_tex])
        self._rgb = np.empty((height, width, 3), dtype=np.uint8)
        self._prog["u_slice"].value = 0
        self._prog["u_blend"].value = 1
        self._prog["u_out_size"].value = (float(width), float(height))
        self._prog["u_lut"].value = 2
        self._lut = None
        self.set_colour()
        check_gl(ctx, "WarpPass upload")

    def _place(self, grid_px: np.ndarray) -> None:
        width, height = self.out_size
        # Row r from the top goes to GL row r: the image is drawn upside down in
        # GL terms so that read_into yields top-row-first rows with no flip copy.
        self._vertices[..., 0] = grid_px[..., 0] / width * 2.0 - 1.0
        self._vertices[..., 1] = grid_px[..., 1] / height * 2.0 - 1.0

    def set_vertices_px(self, grid_px: np.ndarray) -> None:
        """Move the mesh's vertices to ``grid_px`` (ny, nx, 2), keeping their (u, v), cut and
        triangles: a control-grid refinement, one buffer write (no mesh or blend rebuild)."""
        grid_px = np.asarray(grid_px, dtype=np.float64)
        if grid_px.shape != self._vertices.shape[:2] + (2,):
            raise ValueError(f"WarpPass.set_vertices_px: grid_px {grid_px.shape}, expected "
                             f"{self._vertices.shape[:2] + (2,)} as at creation")
        self._place(grid_px)
        self._vbo.write(self._vertices.tobytes())

    def set_colour(self, gain_rgb=(1.0, 1.0, 1.0), lut=None) -> None:
        """The projector's colour correction in linear light, after blending (:func:`colour_linear`):
        per-channel ``gain_rgb``, then ``lut`` (3 sequences of the same length n, 2 <= n <= MAX_LUT_SIZE,
        values in [0, 1]) or None."""
        gain = tuple(float(g) for g in gain_rgb)
        if len(gain) != 3 or not all(np.isfinite(gain)) or min(gain) < 0.0:
            raise ValueError(f"WarpPass.set_colour: gain_rgb {gain_rgb!r}: three finite numbers >= 0")
        self._prog["u_gain"].value = gain
        if self._lut is not None:
            self._lut.release()
            self._lut = None
        if lut is None:
            table = np.zeros((1, 2, 3), np.float32)          # bound but unused (u_lut_size 0)
        else:
            table = np.asarray(lut, dtype=np.float32)
            if table.ndim != 2 or table.shape[0] != 3 or not 2 <= table.shape[1] <= MAX_LUT_SIZE:
                raise ValueError(f"WarpPass.set_colour: lut of shape {table.shape}: needs 3 channels of "
                                 f"2..{MAX_LUT_SIZE} entries")
            table = np.ascontiguousarray(table.T[None, :, :])
        self._lut = self.ctx.texture((table.shape[1], 1), 3, table.tobytes(), dtype="f4")
        self._lut.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._lut.repeat_x = self._lut.repeat_y = False
        self._prog["u_lut_size"].value = 0.0 if lut is None else float(table.shape[1])

    @classmethod
    def from_mesh(cls, ctx: moderngl.Context, mesh, blend_linear: np.ndarray, gamma: float = 2.2,
                  uplift_linear: np.ndarray | None = None) -> WarpPass:
        """From a ``warp.mesh.WarpMesh`` (pixel_xy, uv, valid, width_px, height_px)."""
        return cls(ctx, mesh.pixel_xy, mesh.uv, mesh.valid, blend_linear, gamma, (mesh.width_px, mesh.height_px),
                   uplift_linear=uplift_linear)

    def set_blend(self, blend_linear: np.ndarray, uplift_linear: np.ndarray | None = None) -> None:
        """Replace the (H, W) linear blend weights and black-level uplift (top row first, the
        mask size given at creation); ``uplift_linear`` None: no uplift."""
        blend = np.ascontiguousarray(blend_linear, dtype=np.float32)
        expected = (self._blend.height, self._blend.width)
        if blend.shape != expected:
            raise ValueError(f"WarpPass: blend_linear is {blend.shape}, expected {expected} as at creation")
        if uplift_linear is None:
            uplift = np.zeros_like(blend)
        else:
            uplift = np.asarray(uplift_linear, dtype=np.float32)
            if uplift.shape != expected:
                raise ValueError(f"WarpPass: uplift_linear is {uplift.shape}, expected {expected} "
                                 "(the blend mask's texels)")
            if not (np.all(np.isfinite(uplift)) and uplift.min(initial=0.0) >= 0.0 and uplift.max(initial=0.0) < 1.0):
                raise ValueError("WarpPass: uplift_linear must be finite and in [0, 1) (linear light, "
                                 "a fraction of white: warp.blend.black_uplift_mask)")
        self.has_uplift = bool(uplift.any())
        self._blend.write(np.ascontiguousarray(np.stack([blend, uplift], axis=-1)).tobytes())

    def draw(self, slice_tex: moderngl.Texture, rect_uv: tuple[float, float, float, float]) -> np.ndarray:
        """Warp and blend ``slice_tex`` (holding domemaster rect ``rect_uv``) -> (H, W, 3) uint8, top row first.

        The returned array is this pass's read-back buffer, overwritten by the
        next draw: copy it to keep it.
        """
        ctx = self.ctx
        self._fbo.use()
        self._fbo.clear(0.0, 0.0, 0.0, 1.0)
        if self._vao is not None:
            ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
            slice_tex.use(0)
            self._blend.use(1)
            self._lut.use(2)
            self._prog["u_rect"].value = tuple(float(x) for x in rect_uv)
            self._prog["u_gamma"].value = self.gamma
            self._vao.render(moderngl.TRIANGLES)
        self._fbo.read_into(self._rgb, components=3, alignment=1)
        check_gl(ctx, "WarpPass.draw")
        return self._rgb

    def release(self) -> None:
        """Free the GL objects (the context stays)."""
        release_framebuffers(self.ctx, self._fbo)
        for obj in (self._vao, self._ibo, self._vbo, self._prog, self._blend, self._lut, self._out_tex):
            if obj is not None:
                obj.release()
