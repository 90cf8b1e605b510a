"""The GL context: one headless EGL context per process, and GL error checks.

One backend per process: creating an EGL context and then a GLX one in the
same process crashes with X ``BadAccess`` (docs: /work/shared/FACTS.md), so
there is no silent fallback from one to the other.
"""

from __future__ import annotations

import moderngl

from domectl.errors import RenderError

#: OpenGL 3.3 core: point sprites with gl_PointCoord, instancing, R32F and RGBA16F targets.
REQUIRED_GL_VERSION = 330

#: Debian 12 packages that provide EGL with Mesa's software rasteriser.
#: ``libegl1`` alone fails with "libGL.so not loaded": ``libgl1`` is needed too.
EGL_APT_PACKAGES = "libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri"


def create_context(backend: str = "egl") -> moderngl.Context:
    """Create a standalone (offscreen) OpenGL >= 3.3 core context.

    ``backend`` is passed to moderngl: ``'egl'`` (headless, the default) or
    ``None`` for the platform default (GLX, needs a display). Raises
    :class:`RenderError` saying what to install when no context can be made.
    """
    try:
        ctx = moderngl.create_standalone_context(require=REQUIRED_GL_VERSION, backend=backend)
    except Exception as exc:  # moderngl/glcontext raise plain Exception subclasses
        if backend == "egl":
            hint = (
                f"install the EGL and Mesa packages: apt-get install {EGL_APT_PACKAGES} "
                "(on a machine with a GPU, its vendor's EGL driver works too)"
            )
        else:
            hint = "a GLX context needs a display: run under xvfb-run, or use backend='egl'"
        raise RenderError(
            f"could not create an OpenGL {REQUIRED_GL_VERSION // 100}.{REQUIRED_GL_VERSION % 100 // 10} "
            f"core context with backend={backend!r}: {exc}; {hint}"
        ) from exc
    if ctx.version_code < REQUIRED_GL_VERSION:
        version = ctx.version_code
        ctx.release()
        raise RenderError(
            f"OpenGL {version // 100}.{version % 100 // 10} is too old: domectl needs 3.3 core; "
            f"update Mesa ({EGL_APT_PACKAGES}) or the GPU driver"
        )
    return ctx


def check_gl(ctx: moderngl.Context, where: str) -> None:
    """Raise :class:`RenderError` if a GL error is pending; ``where`` names the step.

    Reading the error clears it, so a later check does not blame the next step.
    """
    error = ctx.error
    if error != "GL_NO_ERROR":
        raise RenderError(f"OpenGL error {error} pending after {where}: this is a bug in render/, please report it")


def release_framebuffers(ctx: moderngl.Context, *framebuffers: moderngl.Framebuffer | None) -> None:
    """Release framebuffers safely: bind framebuffer 0 first.

    moderngl re-binds "the current framebuffer" after creating a new one; if
    that was released, the re-bind is GL_INVALID_OPERATION (measured with
    moderngl 5.13 on Mesa), so never leave a released framebuffer current.
    """
    ctx.detect_framebuffer(0).use()
    for fbo in framebuffers:
        if fbo is not None:
            fbo.release()


def render_target(ctx: moderngl.Context, size_px: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
    """An RGBA8 texture of ``size_px = (w, h)`` (linear filtering, clamped) and a framebuffer on it."""
    texture = ctx.texture((int(size_px[0]), int(size_px[1])), 4, dtype="f1")
    texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
    texture.repeat_x = texture.repeat_y = False
    return texture, ctx.framebuffer(color_attachments=[texture])


class InstanceBuffer:
    """Per-instance rows drawn as instanced quads (``corners``: a 4-vertex ``in_corner`` strip).

    ``layout`` and ``attributes`` describe one row (moderngl format, ``/i``
    appended); ``write(rows)`` replaces the rows, growing the GPU buffer by
    doubling (at least ``min_capacity`` rows) so that rows rewritten every
    frame (a pointer's ring, labels) rarely reallocate.
    """

    def __init__(self, ctx: moderngl.Context, program: moderngl.Program, corners: moderngl.Buffer,
                 layout: str, attributes: tuple[str, ...], floats_per_row: int, min_capacity: int = 0):
        self.ctx = ctx
        self._program = program
        self._corners = corners
        self._layout = f"{layout}/i"
        self._attributes = attributes
        self._floats = floats_per_row
        self._min_capacity = min_capacity
        self._buffer: moderngl.Buffer | None = None
        self._vao: moderngl.VertexArray | None = None
        self._capacity = 0
        self.count = 0

    def write(self, rows) -> None:
        """Replace the rows: anything reshapeable to (N, floats_per_row)."""
        import numpy as np

        data = np.ascontiguousarray(np.asarray(rows, dtype=np.float32).reshape(-1, self._floats))
        self.count = len(data)
        if self.count == 0:
            return
        if self.count > self._capacity:
            self._release_gl()
            self._capacity = max(self.count, 2 * self._capacity, self._min_capacity)
            self._buffer = self.ctx.buffer(reserve=self._capacity * self._floats * 4)
            self._vao = self.ctx.vertex_array(
                self._program, [(self._corners, "2f", "in_corner"), (self._buffer, self._layout, *self._attributes)])
        self._buffer.write(data.tobytes())

    def render(self) -> None:
        if self.count and self._vao is not None:
            self._vao.render(moderngl.TRIANGLE_STRIP, vertices=4, instances=self.count)

    def _release_gl(self) -> None:
        for obj in (self._vao, self._buffer):
            if obj is not None:
                obj.release()
        self._vao = self._buffer = None

    def release(self) -> None:
        self._release_gl()
        self._capacity = self.count = 0
