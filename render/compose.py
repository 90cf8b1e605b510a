"""DomeRenderer: every layer of the sky, composed in order into one slice or domemaster.

One object per node (or per offline render): it owns the target textures and
the layer objects, each built the first time its layer is visible (a node
that never shows star names never builds their glyph atlas). A frame is::

    texture = renderer.render(view, opacities)

``view`` is a :class:`render.layers.LayerView` (what to draw and where),
``opacities`` maps layer names to [0, 1] (missing = 0): the master's fades,
straight from the FrameState. Layers are drawn in
:data:`render.layers.LAYER_ORDER`; see render/layers.py for the protocol.

Stars in daylight: with the ``daylight`` layer at opacity ``a``, the stars'
limiting magnitude moves from the night value ``m`` to the sky-limited value
``m_sky = twilight_limiting_mag(sun_alt, m)`` as ``m + a (m_sky - m)``, so
the stars fade as the Sun rises, and come back (a planetarium's privilege)
when the operator fades the daylight out.

Stars under the zoom (``view.zoom``): the night limit deepens by
``ZOOM_MAG_PER_DECADE * log10(zoom)``, as through a telescope: a zoom of 10
shows stars 2.5 magnitudes fainter (and, the photometry being relative to the
limit, every star brighter); a zoom below 1, which crowds more sky onto the
dome, shows fewer. Stars stay points (their size follows their brightness
only, never the zoom's magnification).

Stereo: ``view.eye`` picks the IG's eye; the layers placed in metres (the
spheres of the "planets" layer, "models", "orbits") draw with omnidirectional
stereo (domectl/stereo.py), every other layer is the same for both eyes. A
frame without spheres, models or orbits draws exactly as before they existed:
those layers then build nothing and draw nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import moderngl
import numpy as np

from domectl.errors import RenderError
from render.context import check_gl, release_framebuffers, render_target
from render.image import read_rgb
from render.layers import LAYER_ORDER, LayerView
from render.sky import SkyRenderer, StarLook

log = logging.getLogger("domectl.render")

#: Magnitudes the stars' limit deepens per decade of zoom. A real telescope at a fixed exit
#: pupil gains 5 (its aperture grows with its magnification); half of that still reveals
#: fainter stars as one zooms in, without flooding a strong zoom with the catalogue's
#: faintest (the hall's 6.5 reaches 11.5 at the shows' largest zoom, 100; Hipparcos ends near 12).
ZOOM_MAG_PER_DECADE = 2.5

#: Which drawing object serves each layer (one object may serve several layers); built by
#: DomeRenderer._build on first use.
LAYER_OBJECTS: dict[str, str] = {
    "daylight": "daylight", "milky-way": "milky-way", "landscape": "landscape",
    "orbits": "orbits", "models": "models",
    "grid-altaz": "grids", "grid-equatorial": "grids", "grid-ecliptic": "grids", "meridian": "grids",
    "horizon": "grids",
    "constellation-boundaries": "lines", "constellation-lines": "lines",
    "constellation-names": "labels", "star-names": "labels", "planet-names": "labels", "cardinals": "labels",
    "pointer": "pointer", "overlays": "overlays",
}


def twilight_limit(night_limiting_mag: float, sun_alt_deg: float, daylight_opacity: float) -> float:
    """The stars' limiting magnitude with the daylight layer at ``daylight_opacity``."""
    from render.backdrop import twilight_limiting_mag

    sky_limit = float(twilight_limiting_mag(sun_alt_deg, night_limiting_mag))
    return night_limiting_mag + daylight_opacity * (sky_limit - night_limiting_mag)


class _StarLayers:
    """The stars and the solar-system bodies, drawn by the SkyRenderer; bodies near enough
    for a globe (``view.spheres``, render/spheres.py) as lit spheres instead of discs.

    The discs go first, then the spheres far to near: a sphere in front of the Sun eclipses its
    disc and glare (the rarer disc body in front of a sphere is hidden by it, render/spheres.py).
    """

    names = ("stars", "planets")

    def __init__(self, sky: SkyRenderer, *, textures: Any = None):
        self.sky = sky
        self.look: StarLook = sky.look
        self._textures = textures
        self._spheres: Any = None                      # built for the first frame with a sphere

    def draw(self, view: LayerView, name: str, opacity: float) -> None:
        if view.sky is None:
            raise RenderError(f"layer {name!r} needs LayerView.sky (render.sky.SkyParams)")
        if name == "stars":
            self.sky.draw_stars(view.sky, view.rect_uv, view.size_px, opacity, self.look, zoom=view.zoom)
            return
        placements = []
        if view.spheres:
            from render.spheres import sphere_placements

            placements = sphere_placements(view)
        if not placements:
            self.sky.draw_bodies(view.sky, view.rect_uv, view.size_px, opacity, self.look, zoom=view.zoom)
            return
        drawn = {p.name for p in placements}
        discs = replace(view.sky, bodies=tuple(b for b in view.sky.bodies if str(b.name).lower() not in drawn))
        self.sky.draw_bodies(discs, view.rect_uv, view.size_px, opacity, self.look, zoom=view.zoom)
        self.spheres().draw(view, placements, opacity)

    def spheres(self) -> Any:
        """The SphereRenderer, built on first use."""
        if self._spheres is None:
            from render.spheres import SphereRenderer

            self._spheres = SphereRenderer(self.sky.ctx, textures=self._textures)
        return self._spheres

    def release(self) -> None:
        if self._spheres is not None:
            self._spheres.release()
            self._spheres = None
        self.sky.release()


class DomeRenderer:
    """All layers into one target.

    ``catalog``: the star catalogue (``domectl.skydata.load_stars()``);
    ``look``: the night star look (``render.sky.look_for_density``);
    ``textures``: body name -> equirectangular sRGB texture or None, for the
    spheres (default ``domectl.textures.load_texture``); ``models``: model
    name -> Mesh (default ``domectl.meshes.load_model``);
    ``sky_settings``: other SkyRenderer keyword settings.
    """

    def __init__(self, ctx: moderngl.Context, catalog: Any, *, look: StarLook = StarLook(),
                 textures: Any = None, models: Any = None, **sky_settings: Any):
        self.ctx = ctx
        self.look = look
        self._model_loader = models
        self._stars = _StarLayers(SkyRenderer(ctx, catalog, look=look, **sky_settings), textures=textures)
        self.catalog = catalog
        self._layers: dict[str, Any] = {"stars": self._stars, "planets": self._stars}
        self._instances: dict[str, Any] = {}
        # Painters shared by the vector and text layers (one glyph atlas, one line program).
        self._text_painter: Any = None
        self._line_painter: Any = None
        self._targets: dict[tuple[int, int], tuple[moderngl.Texture, moderngl.Framebuffer]] = {}
        self._rgb: dict[tuple[int, int], np.ndarray] = {}
        self.texture: moderngl.Texture | None = None
        self.framebuffer: moderngl.Framebuffer | None = None

    def layer(self, name: str) -> Any:
        """The object drawing layer ``name``, built on first use."""
        if name not in self._layers:
            if name not in LAYER_OBJECTS:
                raise RenderError(f"unknown layer {name!r}: known layers: {', '.join(LAYER_ORDER)}")
            key = LAYER_OBJECTS[name]
            if key not in self._instances:
                self._instances[key] = self._build(key)
                check_gl(self.ctx, f"building layer {name}")
            self._layers[name] = self._instances[key]
        return self._layers[name]

    def _text(self) -> Any:
        if self._text_painter is None:
            from render.labels import TextPainter

            self._text_painter = TextPainter(self.ctx)
        return self._text_painter

    def _lines(self) -> Any:
        if self._line_painter is None:
            from render.lines import LinePainter

            self._line_painter = LinePainter(self.ctx)
        return self._line_painter

    def _build(self, key: str) -> Any:
        ctx = self.ctx
        if key == "daylight":
            from render.backdrop import DaylightLayer

            return DaylightLayer(ctx)
        if key == "milky-way":
            from render.backdrop import MilkyWayLayer

            return MilkyWayLayer(ctx)
        if key == "landscape":
            from render.backdrop import LandscapeLayer

            return LandscapeLayer(ctx)
        if key == "grids":
            from render.grids import GridLayer

            return GridLayer(ctx)
        if key == "lines":
            from render.lines import ConstellationLinesLayer

            return ConstellationLinesLayer(ctx, painter=self._lines())
        if key == "labels":
            from render.labels import LabelsLayer

            return LabelsLayer(ctx, text=self._text(), stars=self.catalog)
        if key == "pointer":
            from render.pointer import PointerLayer

            return PointerLayer(ctx, text=self._text(), lines=self._lines(), stars=self.catalog)
        if key == "orbits":
            from render.orbits import OrbitsLayer

            return OrbitsLayer(ctx, painter=self._lines)
        if key == "models":
            from render.models import ModelsLayer

            return ModelsLayer(ctx, loader=self._model_loader)
        if key == "overlays":
            from render.overlays import OverlaysLayer

            return OverlaysLayer(ctx, text=self._text())
        raise RenderError(f"no drawing object {key!r}")  # LAYER_OBJECTS names only the keys above

    def _target(self, size_px: tuple[int, int]) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        key = (int(size_px[0]), int(size_px[1]))
        if key not in self._targets:
            self._targets[key] = render_target(self.ctx, key)
        return self._targets[key]

    def star_look(self, view: LayerView, opacities: Mapping[str, float], *, star_brightness: float = 1.0,
                  star_contrast: float = 1.0, limiting_mag_delta: float = 0.0) -> StarLook:
        """The star look of this frame: the night look, the operator's settings, the zoom, the daylight."""
        limit = self.look.limiting_mag + limiting_mag_delta + ZOOM_MAG_PER_DECADE * float(np.log10(view.zoom))
        daylight = float(opacities.get("daylight", 0.0))
        if daylight > 0.0:
            limit = twilight_limit(limit, view.sun_alt_deg, daylight)
        return replace(self.look, limiting_mag=limit, brightness=self.look.brightness * star_brightness,
                       contrast=self.look.contrast * star_contrast)

    def render(self, view: LayerView, opacities: Mapping[str, float], *, star_brightness: float = 1.0,
               star_contrast: float = 1.0, limiting_mag_delta: float = 0.0) -> moderngl.Texture:
        """Draw every visible layer of ``view``; returns the RGBA8 display-encoded texture (v up)."""
        for name in opacities:
            if name not in self._layers and name not in LAYER_OBJECTS:
                raise RenderError(f"unknown layer {name!r}: known layers: {', '.join(LAYER_ORDER)}")
        self.texture, self.framebuffer = self._target(view.size_px)
        self.framebuffer.use()
        self.framebuffer.clear(0.0, 0.0, 0.0, 1.0)
        self.ctx.viewport = (0, 0, int(view.size_px[0]), int(view.size_px[1]))
        self._stars.look = self.star_look(view, opacities, star_brightness=star_brightness,
                                          star_contrast=star_contrast, limiting_mag_delta=limiting_mag_delta)
        for name in LAYER_ORDER:
            opacity = min(1.0, max(0.0, float(opacities.get(name, 0.0))))
            if opacity <= 0.0:
                continue
            self.layer(name).draw(view, name, opacity)
            self.ctx.viewport = (0, 0, int(view.size_px[0]), int(view.size_px[1]))
        self.ctx.disable(moderngl.BLEND)
        check_gl(self.ctx, "DomeRenderer.render")
        return self.texture

    def read_rgb(self) -> np.ndarray:
        """The last render as (H, W, 3) uint8, top row first (a buffer reused per size: copy to keep)."""
        if self.framebuffer is None:
            raise RenderError("DomeRenderer.read_rgb() before any render(): call render() first")
        width, height = self.framebuffer.size
        out = self._rgb.setdefault((width, height), np.empty((height, width, 3), np.uint8))
        return read_rgb(self.framebuffer, out=out)

    def release(self) -> None:
        """Free every GL object (the context stays)."""
        # Layers first: a layer never releases a painter it was given.
        for obj in {id(o): o for o in self._layers.values()}.values():
            obj.release()
        for painter in (self._text_painter, self._line_painter):
            if painter is not None:
                painter.release()
        self._text_painter = self._line_painter = None
        self._layers.clear()
        self._instances.clear()
        release_framebuffers(self.ctx, *(fbo for _, fbo in self._targets.values()))
        for texture, _ in self._targets.values():
            texture.release()
        self._targets.clear()
