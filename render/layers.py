"""The sky's layers: their names, their drawing order, and what each is handed per draw.

A frame of the domemaster (or an IG's slice of it) is composed by drawing the
layers below, in this order, into one display-encoded (gamma 2.2) RGBA8
framebuffer already bound, viewport ``(0, 0, w, h)``, cleared to black:

    daylight                    sky colour by day and in twilight (hides faint stars)
    milky-way                   the Milky Way's glow
    stars                       point stars (render/sky.py)
    orbits                      bodies' orbit ellipses, with depth for each eye (render/orbits.py)
    planets                     Sun with glare, Moon with phase, planets (render/sky.py); bodies
                                near enough to show a globe as lit textured spheres (render/spheres.py)
    landscape                   the horizon silhouette: opaque ground hides what is below
    models                      lit 3D models (OBJ) in the sky or on the dome (render/models.py)
    grid-altaz, grid-equatorial, grid-ecliptic, meridian, horizon
    constellation-boundaries, constellation-lines
    constellation-names, star-names, planet-names, cardinals
    pointer                     highlights the object the operator selected
    overlays                    full-dome frames, text and images fixed on the dome

Stereo: an IG renders one eye (``LayerView.eye``). What lies at infinity
(stars, the Milky Way, the body discs, grids, lines, labels) and what is fixed
on the dome (overlays) is the same picture for both eyes; spheres, models and
orbits, placed in metres relative to the observer, are drawn with
omnidirectional stereo (domectl/stereo.py, render/shaders/ods.glsl).

Every layer has an opacity in [0, 1] (0 = not drawn) that the master fades
over time (``domectl.layermix``); the node gets the opacities in the
``FrameState`` and a layer multiplies what it draws by its opacity.

A layer object implements::

    names: tuple[str, ...]                  # the layer names it draws
    draw(view: LayerView, name: str, opacity: float) -> None
    release() -> None

and sets its own blend mode; it must not leave GL errors pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The overlay record travels in the FrameState; the renderer draws the same record.
from domectl.frame import Overlay

# One list of layer names for the whole engine: the master fades them, the CLI parses them.
from domectl.layermix import DEFAULT_LAYERS, LAYER_NAMES as LAYER_ORDER  # noqa: E402

__all__ = ["DEFAULT_LAYERS", "LANGUAGES", "LAYER_ORDER", "LayerView", "Overlay"]

#: Label languages (ISO 639-1).
LANGUAGES: tuple[str, ...] = ("fr", "en", "nl", "de")


@dataclass(frozen=True)
class LayerView:
    """What every layer needs to draw one render (a slice or a whole domemaster).

    Rotations are (3, 3) float64, row-major, applied to column vectors:
    ``d_dome = dome_from_enu @ d_enu``, ``d_enu = enu_from_icrs @ d_icrs``,
    ``dome_from_icrs = dome_from_enu @ enu_from_icrs``. ENU = East-North-Up
    at the site (apparent, of date); ICRS ~ J2000 equator.

    rect_uv = (u0, v0, u1, v1): the domemaster rectangle rendered;
    size_px = (w, h) its pixels. ``dome_from_enu`` includes the dome tilt
    and the operator's view rotation; labels are upright with respect to
    the dome (see render/labels.py).
    bodies: objects with ``name`` (lower-case "sun", "moon", "mars", ...),
    ``enu (3,)``, ``mag``, ``angular_diameter_deg``, ``phase_angle_deg``.
    sun_enu: unit ENU direction of the Sun (zeros if unknown);
    sun_alt_deg its apparent altitude.
    pointer: the selected object: a body name ("mars"), "HIP 32349" or a
    constellation abbreviation ("Ori"); "" for none.
    landscape_alt_deg: (N,) altitude of the horizon silhouette at N azimuths
    evenly spaced from north (0) through east; empty: a flat horizon at 0.
    zoom: the sky's magnification (``FrameState.zoom``, > 0; 1 none) about
    ``domectl.projection.ZOOM_CENTRE_DOME``: every layer attached to the sky
    or the landscape draws through it (``domectl.projection.zoom_dir``), the
    overlays fixed on the dome do not.
    """

    rect_uv: tuple[float, float, float, float]
    size_px: tuple[int, int]
    dome_from_enu: np.ndarray
    enu_from_icrs: np.ndarray
    bodies: tuple[Any, ...] = ()
    sun_enu: np.ndarray = field(default_factory=lambda: np.zeros(3))
    sun_alt_deg: float = -90.0
    language: str = "en"
    pointer: str = ""
    overlays: tuple[Overlay, ...] = ()
    landscape_alt_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gamma: float = 2.2
    #: The star and planet layers' parameters (render.sky.SkyParams): aberration,
    #: proper motion, refraction, the Sun's deflection. None where no star layer is drawn.
    sky: Any = None
    #: Show time in seconds: what animates (the pointer's ring turns); never a clock read.
    time_s: float = 0.0
    zoom: float = 1.0
    #: The eye this render is for (domectl.stereo.EYE_SIGN): -1 left, +1 right, 0 mono.
    eye: int = 0
    #: The ODS eye separation in the scene, metres (FrameState.eye_separation_m; 0: mono).
    eye_separation_m: float = 0.0
    #: Elevation in the dome frame (deg) above which the separation tapers to 0 at the zenith
    #: (hall.stereo.taper_from_deg).
    taper_from_deg: float = 45.0
    #: Bodies drawn as lit spheres (domectl.frame.SphereView: centre_m, radius_m, polar_ratio,
    #: body_from_enu, sun_dir; metres relative to the observer, ENU axes).
    spheres: tuple[Any, ...] = ()
    #: 3D models (domectl.frame.ModelView: name, on_dome, position_m, frame_from_model, scale, opacity).
    models: tuple[Any, ...] = ()
    #: Orbit ellipses (domectl.frame.OrbitView: centre_m, axis_a_m, axis_b_m; metres, ENU axes).
    orbits: tuple[Any, ...] = ()

    @property
    def dome_from_icrs(self) -> np.ndarray:
        return np.asarray(self.dome_from_enu, np.float64) @ np.asarray(self.enu_from_icrs, np.float64)

    @property
    def px_per_deg(self) -> float:
        """Output pixels per degree of arc along a domemaster radius (r = theta / pi)."""
        return self.size_px[0] / ((self.rect_uv[2] - self.rect_uv[0]) * 180.0)
