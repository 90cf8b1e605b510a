"""Warp and blend math for projectors on a dome: numpy only.

    geometry.py     DomeModel, Lens, ProjectorModel; pose/pixel conventions; ray casting both ways
    mesh.py         WarpMesh, build_mesh: vertex grid projector pixel -> domemaster uv
    blend.py        edge-distance blend weights, masks, gamma storage, black-level uplift
    reconstruct.py  warp a domemaster, reconstruct what the eye sees, coverage
    formats/        calibration files: PFM, PNG maps, Paul Bourke meshes, MPCDI 2.0;
                    WarpMesh <-> formats; preview pictures (one module per format)
    build.py        ``warp build``: a hall's calibration set (MPCDI, blend PNGs,
                    coverage and blend-sum maps, report.json) with its checks

The math imports only numpy, the standard library and ``domectl.projection``.
The one exception is PNG: ``warp/formats/png.py`` imports Pillow, lazily,
inside the functions that encode or decode a PNG (alpha/beta maps, previews),
so ``import warp`` itself brings in no image library.
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
from warp.build import build_hall_warp
from warp.formats import FormatError
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
    "FormatError",
    "Lens",
    "ProjectorModel",
    "WarpMesh",
    "WarpModelError",
    "as_eye_m",
    "black_uplift_at_points",
    "black_uplift_mask",
    "blend_mask",
    "blend_weights",
    "build_hall_warp",
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
