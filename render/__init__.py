"""Rendering: the only package that imports moderngl.

    context.py     create_context (EGL, headless), check_gl, render_target, InstanceBuffer
    shaders.py     load_program: the one loader of ``shaders/*.glsl`` (one program per
                   file; includes: dome_projection, dome_inverse, dome_pass, refraction,
                   label_sphere, ods)
    layers.py      the layer protocol, LayerView, the drawing order
    compose.py     DomeRenderer: every layer, in order, into one slice or domemaster
    sky.py         SkyRenderer: stars and Sun/Moon/planets (discs and points)
    spheres.py     the Moon and planets as lit, textured spheres (ray-cast per pixel, per eye)
    models.py      OBJ models lit by the Sun (depth-tested, per eye); orbits.py: orbit ellipses
    backdrop.py    daylight and twilight sky, Milky Way, landscape (full-screen passes)
    grids.py       alt-az, equatorial, ecliptic grids, meridian, horizon
    lines.py       constellation lines and boundaries
    labels.py      glyph atlas; constellation and star names, cardinals
    pointer.py     the operator's pointer;  overlays.py: full-dome frames, text and image overlays
    window.py      a GLFW window showing a frame
    warp_pass.py   WarpPass: slice -> projector image through a warp mesh and blend weights
    image.py       read-back and PNG I/O

Slices are display-encoded (gamma 2.2) RGBA8 textures; the warp pass decodes
them to linear light, multiplies by the blend weight, and re-encodes.

The sky's zoom (``LayerView.zoom``) is one conformal map of the dome frame
(``domectl.projection.zoom_dir``), in ``dome_projection.glsl`` for what is
drawn from its sky direction and inverted in ``dome_inverse.glsl`` for the
per-pixel passes; every layer attached to the sky uses it, the overlays do not.

Stereo (``LayerView.eye``, ``eye_separation_m``): what is at a finite distance
(spheres, models, orbits) is seen from the eye's omnidirectional-stereo offset
(``domectl.stereo``, ``shaders/ods.glsl``); everything at infinity is the same
for both eyes.
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
