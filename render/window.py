"""A GLFW window for a person to look at a frame (a display is needed: a desktop, or xvfb-run).

The frame is drawn by the same offscreen code as headless renders, in the
window's own GL context (one backend per process: a window's GLX/EGL context
is never mixed with a standalone EGL one), then shown scaled to fit the
window. ``show_in_window`` returns what it rendered and what the window
showed, read back from the window, so a test can check the window got it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import moderngl
import numpy as np

from domectl.errors import RenderError
from render.context import REQUIRED_GL_VERSION, check_gl
from render.shaders import load_program

#: A window larger than most screens would be cut off: bigger frames are shown scaled down.
MAX_WINDOW_PX = 1024


def _glfw():
    try:
        import glfw
    except ImportError as exc:  # pragma: no cover - glfw is a core dependency
        raise RenderError(f"the glfw package is missing ({exc}): pip install glfw") from exc
    return glfw


def window_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """(w, h) of a window showing an image of ``image_size``, scaled to fit MAX_WINDOW_PX."""
    w, h = image_size
    scale = min(1.0, MAX_WINDOW_PX / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def show_in_window(draw: Callable[[moderngl.Context], np.ndarray], image_size: tuple[int, int], *,
                   title: str = "domectl", hold_s: float | None = None) -> np.ndarray:
    """Open a window, render ``draw(ctx)`` in its context, show it until closed or ``hold_s`` passes.

    ``draw`` returns the (H, W, 3) uint8 image (top row first); it is returned
    unchanged (:func:`show_and_read_back` also returns what the window showed).
    """
    image, _ = show_and_read_back(draw, image_size, title=title, hold_s=hold_s)
    return image


def show_and_read_back(draw: Callable[[moderngl.Context], np.ndarray], image_size: tuple[int, int], *,
                       title: str = "domectl", hold_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`show_in_window`; also returns the window's pixels, (h, w, 3) uint8, top row first."""
    glfw = _glfw()
    if not glfw.init():
        raise RenderError("GLFW could not start: a window needs a display (a desktop session, or run "
                          "under xvfb-run -a); for headless rendering leave out --window")
    try:
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, REQUIRED_GL_VERSION // 100)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, REQUIRED_GL_VERSION % 100 // 10)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        glfw.window_hint(glfw.RESIZABLE, False)
        win_w, win_h = window_size(image_size)
        window = glfw.create_window(win_w, win_h, title, None, None)
        if not window:
            raise RenderError("GLFW could not open an OpenGL 3.3 core window on this display")
        glfw.make_context_current(window)
        ctx = moderngl.create_context(require=REQUIRED_GL_VERSION)
        image = draw(ctx)
        texture = ctx.texture((image.shape[1], image.shape[0]), 3, np.ascontiguousarray(image[::-1]).tobytes())
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        prog = load_program(ctx, "blit")
        vao = ctx.vertex_array(prog, [])
        fb_w, fb_h = glfw.get_framebuffer_size(window)

        def present() -> None:
            ctx.screen.use()
            ctx.viewport = (0, 0, fb_w, fb_h)
            ctx.clear(0.0, 0.0, 0.0)
            texture.use(0)
            prog["u_image"].value = 0
            vao.render(moderngl.TRIANGLES, vertices=3)

        present()
        # Reading the window's framebuffer directly is GL_INVALID_OPERATION with moderngl 5.13
        # (it selects a colour attachment the default framebuffer lacks): copy it out first.
        copy = ctx.simple_framebuffer((fb_w, fb_h), components=3)
        ctx.copy_framebuffer(copy, ctx.screen)
        shown = np.frombuffer(copy.read(components=3, alignment=1), np.uint8).reshape(fb_h, fb_w, 3)[::-1].copy()
        copy.release()
        glfw.swap_buffers(window)
        check_gl(ctx, "showing the frame in a window")
        start = time.monotonic()
        while not glfw.window_should_close(window):
            if hold_s is not None and time.monotonic() - start >= hold_s:
                break
            glfw.wait_events_timeout(0.05)
            present()
            glfw.swap_buffers(window)
        vao.release()
        prog.release()
        texture.release()
        glfw.destroy_window(window)
        return image, shown
    finally:
        glfw.terminate()
