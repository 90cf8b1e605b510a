"""GLFW windows for a person to look at frames (a display is needed: a desktop, or xvfb-run).

Frames are drawn by the same offscreen code as headless renders, in the
window's own GL context (one backend per process: a window's GLX/EGL context
is never mixed with a standalone EGL one), then shown scaled to fit the
window. :class:`LiveWindow` is such a window kept open and fed texture after
texture (``domectl preview``); ``show_in_window`` shows one frame (``domectl
render --window``), and ``show_and_read_back`` also returns what the window
showed, read back from the window, so a test can check the window got it.
This module is the only one that touches GLFW.
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
#: What GLFW failing to start means, and the way out.
NO_DISPLAY = "GLFW could not start: a window needs a display (a desktop session, or run under xvfb-run -a)"


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


class LiveWindow:
    """An OpenGL 3.3 core window showing a texture, scaled to fit, until closed.

    ``ctx`` is the window's own moderngl context: draw into textures there (a DomeRenderer made
    in it), then :meth:`show` one. :meth:`present` draws it into the back buffer, :meth:`swap`
    shows that, :meth:`poll` handles events. ``keys`` collects what the user typed: ``left``,
    ``right``, ``up``, ``down``, ``escape`` (keys), and characters as typed (``space`` for a
    space), so that +, [ and ] are found on any keyboard layout; the caller empties it.
    ``no_display``: the error when GLFW cannot start (the way out differs per command).
    The swap interval is 0: the caller paces the frames, not the display.
    """

    def __init__(self, image_size: tuple[int, int], title: str, *, no_display: str = NO_DISPLAY):
        glfw = self.glfw = _glfw()
        if not glfw.init():
            raise RenderError(no_display)
        self.window = None
        self.ctx = None
        self._blit = self._vao = None
        try:
            glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, REQUIRED_GL_VERSION // 100)
            glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, REQUIRED_GL_VERSION % 100 // 10)
            glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
            glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
            glfw.window_hint(glfw.RESIZABLE, False)
            win_w, win_h = window_size(image_size)
            self.window = glfw.create_window(win_w, win_h, title, None, None)
            if not self.window:
                raise RenderError("GLFW could not open an OpenGL 3.3 core window on this display")
            glfw.make_context_current(self.window)
            glfw.swap_interval(0)
            self.ctx = moderngl.create_context(require=REQUIRED_GL_VERSION)
            self._blit = load_program(self.ctx, "blit")
            self._vao = self.ctx.vertex_array(self._blit, [])
        except BaseException:
            self.close()
            raise
        self.keys: list[str] = []
        self._texture: moderngl.Texture | None = None
        glfw.set_key_callback(self.window, self._on_key)
        glfw.set_char_callback(self.window, self._on_char)

    def _on_key(self, window, key, scancode, action, mods) -> None:
        glfw = self.glfw
        if action not in (glfw.PRESS, glfw.REPEAT):
            return
        name = {glfw.KEY_LEFT: "left", glfw.KEY_RIGHT: "right", glfw.KEY_UP: "up", glfw.KEY_DOWN: "down",
                glfw.KEY_ESCAPE: "escape"}.get(key)
        if name is not None:
            self.keys.append(name)

    def _on_char(self, window, codepoint) -> None:
        self.keys.append("space" if codepoint == 32 else chr(codepoint))

    def show(self, texture: moderngl.Texture | None) -> None:
        """Show ``texture`` (of this window's context; not owned: keep it alive while shown) from
        the next :meth:`present`; None shows black."""
        self._texture = texture

    def should_close(self) -> bool:
        return bool(self.glfw.window_should_close(self.window))

    def present(self) -> None:
        """Draw the texture shown, scaled to the window, into the back buffer."""
        ctx = self.ctx
        fb_w, fb_h = self.glfw.get_framebuffer_size(self.window)
        ctx.screen.use()
        ctx.viewport = (0, 0, fb_w, fb_h)
        ctx.clear(0.0, 0.0, 0.0)
        if self._texture is not None:
            self._texture.use(0)
            self._blit["u_image"].value = 0
            self._vao.render(moderngl.TRIANGLES, vertices=3)

    def swap(self, where: str = "showing a frame in a window") -> None:
        self.glfw.swap_buffers(self.window)
        check_gl(self.ctx, where)

    def poll(self, timeout_s: float) -> None:
        """Handle the window's events, waiting at most ``timeout_s`` for one."""
        if timeout_s > 0:
            self.glfw.wait_events_timeout(timeout_s)
        else:
            self.glfw.poll_events()

    def read_back(self) -> np.ndarray:
        """What the window shows, (h, w, 3) uint8, top row first (presented again into the back buffer)."""
        self.present()
        fb_w, fb_h = self.glfw.get_framebuffer_size(self.window)
        # Reading the window's framebuffer directly is GL_INVALID_OPERATION with moderngl 5.13
        # (it selects a colour attachment the default framebuffer lacks): copy it out first.
        copy = self.ctx.simple_framebuffer((fb_w, fb_h), components=3)
        try:
            self.ctx.copy_framebuffer(copy, self.ctx.screen)
            pixels = copy.read(components=3, alignment=1)
        finally:
            copy.release()
        return np.frombuffer(pixels, np.uint8).reshape(fb_h, fb_w, 3)[::-1].copy()

    def close(self) -> None:
        """Release the window's GL objects, the window, and GLFW. Idempotent."""
        for name in ("_vao", "_blit"):
            obj = getattr(self, name, None)
            if obj is not None:
                obj.release()
                setattr(self, name, None)
        self._texture = None
        if self.glfw is None:
            return
        if self.window is not None:
            self.glfw.destroy_window(self.window)
            self.window = None
        self.glfw.terminate()
        self.glfw = None


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
    window = LiveWindow(image_size, title, no_display=f"{NO_DISPLAY}; for headless rendering leave out --window")
    try:
        ctx = window.ctx
        image = draw(ctx)
        texture = ctx.texture((image.shape[1], image.shape[0]), 3, np.ascontiguousarray(image[::-1]).tobytes())
        try:
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            window.show(texture)
            shown = window.read_back()
            window.swap("showing the frame in a window")
            start = time.monotonic()
            while not window.should_close():
                if hold_s is not None and time.monotonic() - start >= hold_s:
                    break
                window.poll(0.05)
                window.present()
                window.swap()
        finally:
            window.show(None)
            texture.release()
        return image, shown
    finally:
        window.close()
