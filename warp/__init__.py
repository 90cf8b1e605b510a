"""Warp and blend math for projectors on a dome: numpy only.

    geometry.py     DomeModel, Lens, ProjectorModel; pose/pixel conventions; ray casting both ways
    mesh.py         WarpMesh, build_mesh: vertex grid projector pixel -> domemaster uv
    blend.py        edge-distance blend weights, masks, gamma storage, black-level uplift
    reconstruct.py  warp a domemaster, reconstruct what the eye sees, coverage

Imports only numpy, the standard library and ``domectl.projection``.
"""

from warp.blend import (
    black_uplift_at_points,
    black_uplift_mask,
    blend_mask,
    blend_weights,
    coverage_counts,
    decode_mask,
    edge_weight,
    encode_mask,
    fibonacci_dome_points,
    max_overlap_count,
    normalized_weights_at_points,
)
from warp.geometry import (
    DomeModel,
    Lens,
    ProjectorModel,
    WarpModelError,
    as_eye_m,
    check_inside,
    dome_points_to_pixels,
    dome_points_to_uv,
    pixels_to_dome_points,
    pixels_to_rays,
    projector_basis,
    projector_pixels_to_uv,
    uv_to_dome_points,
)
from warp.mesh import DEFAULT_STEP_PX, WarpMesh, build_mesh
from warp.reconstruct import (
    coverage_fraction,
    coverage_map,
    reconstruct_domemaster,
    sample_bilinear,
    warp_domemaster,
)

__all__ = [
    "DEFAULT_STEP_PX",
    "DomeModel",
    "Lens",
    "ProjectorModel",
    "WarpMesh",
    "WarpModelError",
    "as_eye_m",
    "black_uplift_at_points",
    "black_uplift_mask",
    "blend_mask",
    "blend_weights",
    "build_mesh",
    "check_inside",
    "coverage_counts",
    "coverage_fraction",
    "coverage_map",
    "decode_mask",
    "dome_points_to_pixels",
    "dome_points_to_uv",
    "edge_weight",
    "encode_mask",
    "fibonacci_dome_points",
    "max_overlap_count",
    "normalized_weights_at_points",
    "pixels_to_dome_points",
    "pixels_to_rays",
    "projector_basis",
    "projector_pixels_to_uv",
    "reconstruct_domemaster",
    "sample_bilinear",
    "uv_to_dome_points",
    "warp_domemaster",
]
