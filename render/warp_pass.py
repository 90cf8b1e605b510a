"""The warp + blend pass: a node's slice -> its projector's image.

Projector pixel convention (the same as ``warp.geometry`` and
``warp.mesh.WarpMesh.pixel_xy``): ``(x, y)`` continuous image coordinates, x
right, y down; the image covers ``[0, W] x [0, H]`` and pixel ``(col, row)``
has its centre at ``(col + 0.5, row + 0.5)``. ``blend_linear`` and the
returned image are (H, W) / (H, W, 3) arrays with the top row first.

Each output pixel is ``encode(colour(decode(slice(uv)) * weight))`` with
``decode(c) = c**gamma``: the slice is display-encoded (see render/sky.py) and
the blend weights are linear light, so overlapping projectors add to one;
``colour`` is the calibration's per-projector correction in linear light
(:func:`colour_linear`, identity by default: :meth:`WarpPass.set_colour`).
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
    resolution (exact) or coarser (interpolated); out_size = (W, H).
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
        self._blend = ctx.texture((mask_w, mask_h), 1, dtype="f4")
        self._blend.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._blend.repeat_x = self._blend.repeat_y = False
        self.set_blend(blend_linear)
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
    def from_mesh(cls, ctx: moderngl.Context, mesh, blend_linear: np.ndarray, gamma: float = 2.2) -> WarpPass:
        """From a ``warp.mesh.WarpMesh`` (pixel_xy, uv, valid, width_px, height_px)."""
        return cls(ctx, mesh.pixel_xy, mesh.uv, mesh.valid, blend_linear, gamma, (mesh.width_px, mesh.height_px))

    def set_blend(self, blend_linear: np.ndarray) -> None:
        """Replace the (H, W) linear blend weights (top row first)."""
        blend = np.ascontiguousarray(blend_linear, dtype=np.float32)
        expected = (self._blend.height, self._blend.width)
        if blend.shape != expected:
            raise ValueError(f"WarpPass: blend_linear is {blend.shape}, expected {expected} as at creation")
        self._blend.write(blend.tobytes())

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
