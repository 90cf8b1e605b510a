"""Calibration file formats: one module per format, parsers are pure functions bytes -> arrays.

    _io.py      FormatError, atomic writes (temp file + fsync + os.replace)
    pfm.py      PFM images (Pf grey, PF colour; either byte order), PFM warp maps
    png.py      PNG alpha/beta maps and previews (8/16-bit grey, RGB): Pillow, imported lazily
    bourke.py   Paul Bourke ``.data`` meshes
    mpcdi.py    MPCDI 2.0 archives (XML + PFM warps + PNG alpha/beta maps)
    convert.py  WarpMesh <-> MPCDI warps and Bourke meshes
    preview.py  coverage / blend-sum / warp pictures with legends (numpy)

Arrays are top row first everywhere (PFM files store rows bottom first;
the readers and writers flip). Each module's docstring gives its conventions.
"""

from warp.formats._io import FormatError, atomic_write_bytes
from warp.formats.bourke import (
    BourkeMesh,
    format_bourke,
    parse_bourke,
    read_bourke,
    write_bourke,
)
from warp.formats.convert import (
    bourke_to_mesh,
    mesh_to_bourke,
    mesh_to_mpcdi_warp,
    mpcdi_region_to_mesh,
    mpcdi_warp_to_mesh,
    region_coords_to_uv,
    region_from_uv_rect,
    sample_warp,
    uv_rect_of_region,
    uv_to_region_coords,
)
from warp.formats.mpcdi import (
    Mpcdi,
    MpcdiBuffer,
    MpcdiFrustum,
    MpcdiRegion,
    decode_mpcdi,
    encode_mpcdi,
    read_mpcdi,
    write_mpcdi,
)
from warp.formats.pfm import (
    PfmWarp,
    decode_pfm,
    encode_pfm,
    guess_warp_convention,
    read_pfm,
    read_pfm_warp,
    texel_grid,
    warp_from_values,
    write_pfm,
    write_pfm_warp,
)
from warp.formats.png import decode_png, encode_png, read_png, write_png

__all__ = [
    "BourkeMesh",
    "FormatError",
    "Mpcdi",
    "MpcdiBuffer",
    "MpcdiFrustum",
    "MpcdiRegion",
    "PfmWarp",
    "atomic_write_bytes",
    "bourke_to_mesh",
    "decode_mpcdi",
    "decode_pfm",
    "decode_png",
    "encode_mpcdi",
    "encode_pfm",
    "encode_png",
    "format_bourke",
    "guess_warp_convention",
    "mesh_to_bourke",
    "mesh_to_mpcdi_warp",
    "mpcdi_region_to_mesh",
    "mpcdi_warp_to_mesh",
    "parse_bourke",
    "read_bourke",
    "read_mpcdi",
    "read_pfm",
    "read_pfm_warp",
    "read_png",
    "region_coords_to_uv",
    "region_from_uv_rect",
    "sample_warp",
    "texel_grid",
    "uv_rect_of_region",
    "uv_to_region_coords",
    "warp_from_values",
    "write_bourke",
    "write_mpcdi",
    "write_pfm",
    "write_pfm_warp",
    "write_png",
]
