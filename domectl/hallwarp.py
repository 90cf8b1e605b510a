"""The hall's config as warp models (numpy only): dome, projectors, eye, at a scale."""

from __future__ import annotations

import numpy as np

from domectl.config import Hall, Projector
from warp.geometry import DomeModel, Lens, ProjectorModel


def dome_model(hall: Hall) -> DomeModel:
    return DomeModel(radius_m=hall.dome.radius_m, springline_deg=hall.dome.springline_deg)


def scaled_size(projector: Projector, scale: float) -> tuple[int, int]:
    """Projector resolution shrunk by ``scale`` (lenses are resolution-independent)."""
    return (max(16, round(projector.width_px * scale)), max(16, round(projector.height_px * scale)))


def projector_model(projector: Projector, scale: float = 1.0) -> ProjectorModel:
    width, height = scaled_size(projector, scale)
    lens = Lens(kind=projector.lens.kind, throw_ratio=projector.lens.throw_ratio,
                fov_deg=projector.lens.fov_deg, shift_x=projector.lens.shift[0],
                shift_y=projector.lens.shift[1])
    return ProjectorModel(name=projector.id, position_m=projector.position_m, yaw_deg=projector.yaw_deg,
                          pitch_deg=projector.pitch_deg, roll_deg=projector.roll_deg, width_px=width,
                          height_px=height, lens=lens, gamma=projector.gamma,
                          black_level=projector.black_level)


def projector_models(hall: Hall, scale: float = 1.0) -> list[ProjectorModel]:
    return [projector_model(p, scale) for p in hall.projectors]


def eye_m(hall: Hall) -> np.ndarray:
    return np.asarray(hall.eye_m, dtype=np.float64)
