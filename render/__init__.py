"""Rendering: the only package that imports moderngl.

    context.py     create_context (EGL, headless), check_gl
    shaders.py     load_program: the one loader of ``shaders/*.glsl``
                   (programs: stars, bodies, warp, fisheye_probe; includes:
                   dome_projection, refraction)
    sky.py         SkyRenderer: black sky, stars, Sun/Moon/planets into a slice
    warp_pass.py   WarpPass: slice -> projector image through a warp mesh and blend weights
    image.py       read-back and PNG I/O

Slices are display-encoded (gamma 2.2) RGBA8 textures; the warp pass decodes
them to linear light, multiplies by the blend weight, and re-encodes.
"""

from render.context import check_gl, create_context
from render.image import load_png, read_rgb, save_png
from render.shaders import load_program
from render.sky import SkyParams, SkyRenderer, bv_to_rgb_linear, render_domemaster
from render.warp_pass import WarpPass

__all__ = [
    "SkyParams",
    "SkyRenderer",
    "WarpPass",
    "bv_to_rgb_linear",
    "check_gl",
    "create_context",
    "load_png",
    "load_program",
    "read_rgb",
    "render_domemaster",
    "save_png",
]
