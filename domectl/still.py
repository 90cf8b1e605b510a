"""One domemaster frame, offline: what ``domectl render`` does.

The frame comes from the same :meth:`Master.frame_state` the live cluster
uses, so a still equals the live show's frame for the same scene; it is then
drawn whole (or a rectangle of it) by the same :class:`DomeRenderer` the nodes
use for their slices, for one eye (``StillRequest.eye``: the left or right
eye's picture of omnidirectional stereo, domectl/stereo.py, or mono).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from domectl.config import Hall
from domectl.frame import FrameState, Overlay
from domectl.layermix import DEFAULT_LAYERS, LayerMix
from domectl.master import Master, Scene

#: The largest side a still may have (llvmpipe's and most GPUs' texture limit).
MAX_STILL_PX = 16384


@dataclass(frozen=True)
class StillRequest:
    """What to render: the sky at ``utc`` and how it is shown."""

    utc: datetime
    size_px: int = 2048
    layers: tuple[str, ...] = DEFAULT_LAYERS
    view_az_deg: float | None = None     # None: the hall's front azimuth
    view_alt_deg: float = 0.0
    zoom: float = 1.0                    # magnification about the zoom centre (domectl/projection.py)
    language: str | None = None          # None: the hall's default language
    pointer: str = ""
    overlays: tuple[Overlay, ...] = ()
    rect_uv: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    refraction: bool = False
    site: tuple[float, float, float] | None = None
    eye: str = "mono"                    # "left", "right" or "mono" (domectl/stereo.py)


def still_frame(hall: Hall, request: StillRequest, ephemeris) -> FrameState:
    """The FrameState the master would send for this scene."""
    scene = Scene(start_utc=request.utc, rate=0.0, site=request.site,
                  view_az_deg=hall.dome.front_az_deg if request.view_az_deg is None else request.view_az_deg,
                  view_alt_deg=request.view_alt_deg, zoom=request.zoom, layers=LayerMix(on=request.layers),
                  language=request.language or hall.default_language, refraction=request.refraction,
                  pointer=request.pointer, overlays=request.overlays)
    return Master(hall, None, ephemeris, scene, igs=()).frame_state(0)


def still_size(request: StillRequest) -> tuple[int, int]:
    """Output (w, h): ``size_px`` across the whole domemaster, cropped to ``rect_uv``."""
    u0, v0, u1, v1 = request.rect_uv
    scale = request.size_px
    return max(1, round((u1 - u0) * scale)), max(1, round((v1 - v0) * scale))


def render_still(ctx, hall: Hall, state: FrameState, request: StillRequest, catalog) -> np.ndarray:
    """Draw ``state`` for ``request.eye`` into (H, W, 3) uint8, top row first, ready for PNG; black
    when the frame is blacked out (as the nodes show it)."""
    from domectl.pipeline import render_frame
    from domectl.stereo import EYE_SIGN
    from render.compose import DomeRenderer
    from render.sky import look_for_density

    if state.blackout:
        w, h = still_size(request)
        return np.zeros((h, w, 3), np.uint8)
    look = look_for_density(hall.render.limiting_mag, request.size_px / 180.0)
    renderer = DomeRenderer(ctx, catalog, look=look)
    try:
        render_frame(renderer, state, hall, request.rect_uv, still_size(request), EYE_SIGN[request.eye])
        return renderer.read_rgb().copy()
    finally:
        renderer.release()
