"""dome_projection.glsl against its numpy twin domectl.projection.fisheye_uv."""

from __future__ import annotations

import numpy as np

from domectl.projection import altaz_to_enu, fisheye_uv
from render.context import release_framebuffers
from render.shaders import load_program

# float32 GPU math (llvmpipe's atan is good to about 1e-6 relative): 2e-6 uv
# is 0.02 px of a 10240 px domemaster.
UV_TOLERANCE = 2e-6


def glsl_fisheye_uv(ctx, dirs: np.ndarray) -> np.ndarray:
    """(N, 3) directions -> (N, 2) uv computed by the shader (transform feedback)."""
    prog = load_program(ctx, "fisheye_probe", varyings=["out_uv"])
    src = ctx.buffer(np.ascontiguousarray(dirs, dtype=np.float32).tobytes())
    dst = ctx.buffer(reserve=len(dirs) * 8)
    vao = ctx.vertex_array(prog, [(src, "3f", "in_dir")])
    # A headless EGL context has no default framebuffer, and a draw (even with
    # the rasteriser discarded) needs a complete one bound.
    fbo = ctx.simple_framebuffer((1, 1))
    fbo.use()
    try:
        vao.transform(dst, vertices=len(dirs))
        return np.frombuffer(dst.read(), dtype=np.float32).reshape(-1, 2).astype(np.float64)
    finally:
        release_framebuffers(ctx, fbo)
        for obj in (vao, dst, src, prog):
            obj.release()


def test_fisheye_twin_matches_numpy(gl_ctx):
    rng = np.random.default_rng(7)
    random_dirs = rng.normal(size=(5000, 3))
    # The zenith, its neighbourhood (where arccos loses precision), the cardinal
    # rim points, below the springline, and non-unit vectors.
    special = np.concatenate(
        [
            [[0.0, 0.0, 1.0], [1e-6, 0.0, 1.0], [0.0, -1e-4, 1.0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]],
            altaz_to_enu(np.full(36, 89.999), np.arange(0, 360, 10)),
            altaz_to_enu(np.full(36, -20.0), np.arange(5, 365, 10)),
            3.7 * altaz_to_enu(np.linspace(0, 90, 36), np.linspace(0, 350, 36)),
        ]
    )
    dirs = np.concatenate([random_dirs, special])
    expected = fisheye_uv(dirs.astype(np.float32).astype(np.float64))
    actual = glsl_fisheye_uv(gl_ctx, dirs)
    error = np.abs(actual - expected).max(axis=1)
    worst = int(np.argmax(error))
    assert error[worst] <= UV_TOLERANCE, f"direction {dirs[worst]}: glsl {actual[worst]} numpy {expected[worst]}"


def test_fisheye_twin_orientation(gl_ctx):
    # Independent of the numpy twin: zenith at the centre, front (+y) at the
    # bottom (v < 0.5), right (+x) at the right, springline at radius 0.5.
    dirs = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, -1, 0], [-1, 0, 0]], dtype=np.float64)
    expected = np.array([[0.5, 0.5], [0.5, 0.0], [1.0, 0.5], [0.5, 1.0], [0.0, 0.5]])
    np.testing.assert_allclose(glsl_fisheye_uv(gl_ctx, dirs), expected, atol=UV_TOLERANCE)
