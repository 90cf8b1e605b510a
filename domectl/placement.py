"""Placing a 3D model (domectl/meshes.py) in the scene: the ModelView a show or the operator sends.

Two placements: **on the dome** (the dome frame: +z zenith, +y front, +x
right; ``az_deg`` from the dome's front toward its right, ``elev_deg`` above
the springline, as texts and images are placed) or **in the sky** (the ENU
frame: ``az_deg`` from north through east, ``elev_deg`` an altitude; the model
turns with the view as a body does). The model's +z, its up axis, stays
along the frame's vertical; ``heading_deg`` turns it about that vertical
(clockwise seen from above), then ``pitch_deg`` tilts its top toward its -y (leans it back).
"""

from __future__ import annotations

import math

import numpy as np

from domectl.frame import ModelView
from domectl.projection import rot_x, rot_z


def model_rotation(heading_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """(3, 3) frame_from_model for a heading and a pitch (module docstring)."""
    return rot_z(-math.radians(heading_deg)) @ rot_x(math.radians(pitch_deg))


def place_model(name: str, *, on_dome: bool, az_deg: float, elev_deg: float, distance_m: float,
                scale: float = 1.0, heading_deg: float = 0.0, pitch_deg: float = 0.0,
                opacity: float = 1.0) -> ModelView:
    """The ModelView of model ``name`` placed ``distance_m`` from the dome centre toward (az, elev)."""
    az, el = math.radians(az_deg), math.radians(elev_deg)
    # Dome frame: azimuth from +y toward +x; ENU: azimuth from north (+y) toward east (+x): one formula.
    position = (distance_m * math.cos(el) * math.sin(az), distance_m * math.cos(el) * math.cos(az),
                distance_m * math.sin(el))
    rotation = model_rotation(heading_deg, pitch_deg)
    return ModelView(name, bool(on_dome), tuple(float(x) for x in position),
                     tuple(float(x) for x in rotation.ravel()), float(scale), float(opacity))
