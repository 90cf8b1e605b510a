"""Costs of warp and blend: the set-up a node pays once, ``warp build``, and the GL warp pass per frame.

    .venv/bin/pytest benchmarks/bench_warp.py --benchmark-only -p no:cacheprovider

* A full 4096 x 2160 warp mesh at warp.mesh.DEFAULT_STEP_PX, and blend masks
  of the reference layout at 1/8 and full projector resolution.
* ``warp build`` for the 12 projectors at full resolution (the defaults of
  ``domectl warp build``): time, and peak memory in ``extra_info`` (Python
  heap peak from tracemalloc, measured in a second run, and the process's
  peak RSS).
* The GL warp pass for one 4096 x 2160 projector (the mesh, blend mask and
  slice size a node uses) against a plain full-screen copy of the same slice
  texture into a target of the same size, measured in the same run; both
  include the read-back into a preallocated buffer (WarpPass.draw always
  reads back). ``extra_info["warp_over_copy"]`` is the ratio of medians.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_lacoupole_layout import load_lacoupole

from warp import blend_mask, build_hall_warp, build_mesh, coverage_fraction

# Frames per measurement of the GL passes (after one warm-up frame each).
GL_ROUNDS = 7


@pytest.fixture(scope="module")
def hall():
    return load_lacoupole()


def test_build_mesh_4k(benchmark, hall):
    dome, projectors, eye = hall
    mesh = benchmark(build_mesh, dome, projectors[0], eye)
    assert mesh.shape == (136, 257)


def test_blend_mask_eighth_resolution(benchmark, hall):
    dome, projectors, eye = hall
    mask = benchmark(blend_mask, dome, projectors, eye, 0, 512, 270)
    assert mask.shape == (270, 512)


def test_blend_mask_full_resolution(benchmark, hall):
    dome, projectors, eye = hall
    mask = benchmark.pedantic(blend_mask, (dome, projectors, eye, 0, 4096, 2160), rounds=1, iterations=1)
    assert mask.shape == (2160, 4096)


def test_coverage_fraction_200k_points(benchmark, hall):
    dome, projectors, _ = hall
    assert benchmark(coverage_fraction, dome, projectors) >= 0.999


def test_warp_build_12_projectors_full_resolution(benchmark, hall, tmp_path_factory):
    dome, projectors, eye = hall
    assert len(projectors) == 12 and projectors[0].width_px == 4096
    kwargs = {"name": "lacoupole", "buffer_px": 10240}
    report = benchmark.pedantic(build_hall_warp, (dome, projectors, eye, tmp_path_factory.mktemp("build")),
                                kwargs, rounds=1, iterations=1)
    tracemalloc.start()
    build_hall_warp(dome, projectors, eye, tmp_path_factory.mktemp("build_traced"), **kwargs)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # ru_maxrss is in KiB on Linux.
    benchmark.extra_info.update({
        "peak_traced_MiB": round(peak_bytes / 2**20, 1),
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stage_timings_s": report["timings"],
        "coverage_fraction": report["coverage_fraction"],
        "blend_sum_max_deviation": report["blend_sum_max_deviation"],
        "warp_error_max_px": report["warp_error_max_px"],
        "mpcdi_warp_error_max_px": report["mpcdi_warp_error_max_px"],
    })
    assert report["coverage_fraction"] >= 0.999
    assert report["warp_error_max_px"] <= 0.25


def _interleaved_medians_s(first, second, rounds: int) -> tuple[float, float]:
    """Median seconds of two callables timed alternately, so both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


def test_gl_warp_pass_vs_plain_copy_4k(benchmark, ctx, hall):
    import moderngl

    from domectl.pipeline import (
        BLEND_MASK_MAX_W,
        MAX_SLICE_PX,
        MESH_STEP_PX_FULL,
        springline_cut_deg,
    )
    from render.shaders import load_program
    from render.warp_pass import WarpPass

    dome, projectors, eye = hall
    proj = projectors[0]
    w, h = proj.width_px, proj.height_px
    # What a node builds (domectl/pipeline.py IGPipeline at scale 1).
    mesh = build_mesh(dome, proj, eye, step_px=MESH_STEP_PX_FULL)
    rect = mesh.domemaster_region()
    slice_w, slice_h = mesh.render_size_px(max_px=MAX_SLICE_PX)
    mask_h = max(2, round(h * BLEND_MASK_MAX_W / w))
    blend = blend_mask(dome, projectors, eye, 0, BLEND_MASK_MAX_W, mask_h)
    pattern = np.random.default_rng(0).integers(0, 256, (slice_h, slice_w, 4), dtype=np.uint8)
    slice_tex = ctx.texture((slice_w, slice_h), 4, pattern.tobytes())
    slice_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
    warp = WarpPass(ctx, mesh.pixel_xy, mesh.uv, mesh.valid, blend, gamma=proj.gamma, out_size=(w, h),
                    cut=springline_cut_deg(dome, mesh))

    # The baseline: the same slice texture drawn over the same-size target by one
    # full-screen triangle (render/shaders/blit.glsl), read back the same way.
    blit = load_program(ctx, "blit")
    vao = ctx.vertex_array(blit, [])
    target = ctx.texture((w, h), 4, dtype="f1")
    fbo = ctx.framebuffer(color_attachments=[target])
    rgb = np.empty((h, w, 3), dtype=np.uint8)

    def copy_frame():
        fbo.use()
        slice_tex.use(0)
        blit["u_image"].value = 0
        vao.render(moderngl.TRIANGLES, vertices=3)
        fbo.read_into(rgb, components=3, alignment=1)

    def warp_frame():
        warp.draw(slice_tex, rect)

    copy_frame()
    warp_frame()  # warm-up: shader compilation, first-use allocations
    copy_s, warp_s = _interleaved_medians_s(copy_frame, warp_frame, GL_ROUNDS)
    benchmark.pedantic(warp_frame, rounds=GL_ROUNDS, iterations=1)
    benchmark.extra_info.update({
        "renderer": ctx.info.get("GL_RENDERER", "?"),
        "out_size": [w, h],
        "slice_size": [slice_w, slice_h],
        "mesh_shape": list(mesh.shape),
        "triangles": warp.triangle_count,
        "copy_median_ms": round(1e3 * copy_s, 3),
        "warp_median_ms": round(1e3 * warp_s, 3),
        "warp_over_copy": round(warp_s / copy_s, 3),
    })
    for obj in (vao, blit, fbo, target, slice_tex):
        obj.release()
    warp.release()
    assert ctx.error == "GL_NO_ERROR"
