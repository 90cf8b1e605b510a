"""The GL context, the GL error check, and the dependency rule of render/."""

from __future__ import annotations

import subprocess
import sys

import moderngl
import pytest

from domectl.errors import RenderError
from render.context import EGL_APT_PACKAGES, check_gl, create_context


def test_context_is_gl33_core_or_newer(gl_ctx):
    assert gl_ctx.version_code >= 330
    check_gl(gl_ctx, "nothing")


def test_check_gl_raises_on_pending_error_and_clears_it(gl_ctx):
    texture = gl_ctx.texture((1, 1), 4)
    try:
        texture.use(10**6)  # glActiveTexture(GL_TEXTURE0 + 10**6): GL_INVALID_ENUM, unchecked by moderngl
        with pytest.raises(RenderError, match=r"OpenGL error GL_INVALID_ENUM pending after texture bind: .*report it"):
            check_gl(gl_ctx, "texture bind")
        check_gl(gl_ctx, "after the error was read")
    finally:
        texture.release()


def test_check_gl_names_the_step(gl_ctx):
    class Pending:
        error = "GL_INVALID_OPERATION"

    with pytest.raises(RenderError, match=r"GL_INVALID_OPERATION pending after warp draw"):
        check_gl(Pending(), "warp draw")


def test_unknown_backend_says_what_to_do():
    # An unknown backend fails before any context is made, so this does not
    # mix backends in the session's process.
    with pytest.raises(RenderError, match=r"backend='nonexistent'.*xvfb-run|backend='egl'"):
        create_context("nonexistent")


def test_egl_failure_message_names_the_apt_packages(monkeypatch):
    def broken(**kwargs):
        raise Exception("libGL.so not loaded")

    monkeypatch.setattr(moderngl, "create_standalone_context", broken)
    with pytest.raises(RenderError) as info:
        create_context("egl")
    assert f"apt-get install {EGL_APT_PACKAGES}" in str(info.value)
    assert "libGL.so not loaded" in str(info.value)


def test_only_render_imports_moderngl():
    code = (
        "import sys, domectl.projection, domectl.astro, domectl.errors;"
        "assert 'moderngl' not in sys.modules, 'moderngl imported by a numpy package';"
        "import render; assert 'moderngl' in sys.modules; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
