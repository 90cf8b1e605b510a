"""No seams: a flat white frame through each node's real GL warp + blend, re-projected onto the dome.

This is the path the dome shows (render/warp_pass.py with the hall's meshes
and blend masks), checked against the independent numpy reconstruction of
what a camera at the eye would see.
"""

import numpy as np
import pytest

from domectl.config import load_hall
from domectl.hallwarp import dome_model, eye_m, projector_models
from domectl.pipeline import springline_cut_deg
from render.warp_pass import WarpPass
from warp.blend import blend_mask
from warp.mesh import build_mesh
from warp.reconstruct import domemaster_dome_points, reconstruct_domemaster
from warp.geometry import elevation_deg

SCALE = 0.125                 # 512 x 270 per projector
MESH_STEP_PX = 4              # the pipeline's 32 px at full resolution, scaled
UNIFORMITY = 0.02             # issue 5: uniform within 2 %
# Bilinear sampling of the 8-bit projector images lets black texels beyond the springline
# darken the last texel above it: about 0.2 deg at this scale (one texel at full resolution).
RIM_BAND_DEG = 0.5


@pytest.fixture(scope="module")
def white_through_gl(_gl_session_ctx):
    gl_ctx = _gl_session_ctx
    hall = load_hall()
    dome, projectors, eye = dome_model(hall), projector_models(hall, SCALE), eye_m(hall)
    white = gl_ctx.texture((16, 16), 4, np.full((16, 16, 4), 255, np.uint8).tobytes())
    images = []
    for i, p in enumerate(projectors):
        mesh = build_mesh(dome, p, eye, step_px=MESH_STEP_PX)
        blend = blend_mask(dome, projectors, eye, i, p.width_px, p.height_px)
        warp = WarpPass(gl_ctx, mesh.pixel_xy, mesh.uv, mesh.valid, blend, p.gamma,
                        (p.width_px, p.height_px), cut=springline_cut_deg(dome, mesh))
        signal = warp.draw(white, mesh.domemaster_region()).astype(np.float64) / 255.0
        images.append(signal ** p.gamma)
        warp.release()
    white.release()
    assert gl_ctx.error == "GL_NO_ERROR"
    return dome, projectors, eye, images


def test_flat_white_is_uniform_across_all_12_projectors(white_through_gl):
    dome, projectors, eye, images = white_through_gl
    size = 256
    seen = reconstruct_domemaster(dome, projectors, eye, images, size)[:, :, 0]
    points, visible = domemaster_dome_points(dome, eye, size)
    el = np.full(len(points), -90.0)
    el[visible] = elevation_deg(dome, points[visible])
    inner = (visible & (el >= dome.springline_deg + RIM_BAND_DEG)).reshape(size, size)
    deviation = np.abs(seen[inner] - 1.0)
    assert deviation.max() <= UNIFORMITY, f"worst {deviation.max():.4f} at {np.argmax(deviation)}"
    assert np.median(deviation) < 0.005


def test_nothing_is_lit_below_the_springline(white_through_gl):
    dome, projectors, eye, images = white_through_gl
    from warp.geometry import pixels_to_dome_points

    for p, image in zip(projectors, images):
        cols, rows = np.meshgrid(np.arange(p.width_px) + 0.5, np.arange(p.height_px) + 0.5)
        points, _ = pixels_to_dome_points(dome, p, np.stack([cols.ravel(), rows.ravel()], axis=1))
        below = elevation_deg(dome, points).reshape(p.height_px, p.width_px) < dome.springline_deg - 0.5
        if below.any():
            assert image[below].max() == 0.0, f"{p.name} lights the wall below the springline"
