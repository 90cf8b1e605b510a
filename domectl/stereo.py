"""Omnidirectional stereo (ODS) on the dome, in numpy: where each eye sees a near point.

A dome shows one picture per eye to an audience looking every way at once, so
there is no single pair of eye positions. ODS gives every *viewing direction*
its own pair: looking along ``d``, the eyes sit on a horizontal circle of radius
``s / 2`` about the dome centre, each perpendicular to ``d``, the right eye to
the right of it. In the dome frame (+z dome zenith, +y front, +x right; metres
from the dome centre, as in domectl/projection.py), eye ``e`` (-1 left, +1
right, 0 mono: :data:`EYE_SIGN`) sees the point ``P`` along the unit direction
``d`` that solves

    P = o(d) + lambda d,  lambda > 0,
    o(d) = e (s / 2) tau(elev(d)) normalize(d x z),
    tau(elev) = 1 - smoothstep(t0, 90 deg, elev)              (:func:`taper`)

``d x z`` is horizontal and points to the right of ``d``: for ``d`` = +y (the
front), ``d x z`` = +x. ``elev(d)`` is the dome-frame elevation of ``d``. The
taper ``tau`` is 1 up to ``t0`` (the hall's ``stereo.taper_from_deg``) and falls
smoothly to 0 at the zenith, where "perpendicular to d and horizontal" has no
meaning: overhead, both eyes see the same picture.

**Solution** (:func:`ods_dirs`; GLSL twin ``ods_dir`` in render/shaders/ods.glsl):
fixed-point iteration ``d <- normalize(P - o(d))`` from ``d0 = normalize(P)``.
With ``a = s / 2`` and ``r = |P|``, the map is a contraction of factor
``k <= a L / (r - a)``, where ``L`` bounds how fast ``tau(elev(d)) normalize(d x z)``
turns with ``d`` (per radian): ``1 / sin(zenith angle) <= 2`` outside the taper band
for zenith angles from ``90 - t0`` to 150 deg (everything the dome shows, with
margin), and ``1 / sin(zenith) + |d tau / d elev| <= 3.4`` in the band (``t0 = 45 deg``).
Toward the nadir (never shown) ``d x z`` turns ever faster and convergence slows.
The first step moves ``d`` by at most ``a / (r - a)``; after ``n`` iterations
the error is at most ``k^n a / ((r - a)(1 - k))`` radians, about
``(3.4 a / r)^n a / r`` for ``r >> s``. With ``ODS_ITERATIONS = 4`` and
``s = 0.064 m``: a point 1 m away is within 6e-6 rad by the bound (0.02 px on the
hall's 10K domemaster, 3260 px per radian; measured: 1.2e-7 rad), one 3 m away
within 2e-8 rad (measured: 5e-10 rad); tests/test_stereo.py checks the bound.
Points nearer than ``s`` have no meaningful solution (inside the eyes'
circle); the layers drop geometry that near (render/models.py, render/orbits.py).

**The inverse** needs no iteration: the drawn direction ``d`` of a pixel is seen
by eye ``e`` along the ray ``o(d) + lambda d``. The lit spheres are ray-cast that
way (render/spheres.py, ``ods_origin`` in ods.glsl), which is exactly the
inverse of the forward map above.

**Closed form where tau = 1** (:func:`horizon_dirs`): the eye lies in the
horizontal plane, on the circle of radius ``a``, with the ray tangent to it.
Let ``r_h = |(P_x, P_y)|`` be the point's horizontal distance. The ray's
horizontal part runs from ``o`` (length ``a``, perpendicular to it) to
``(P_x, P_y)``, so its length is ``sqrt(r_h^2 - a^2)`` and it makes the angle
``delta = asin(a / r_h)`` with ``(P_x, P_y)``. Eye ``e`` sees ``P``

* at the point's azimuth turned by ``e * delta`` counter-clockwise seen from
  above (about +z): the right eye, displaced to the right, sees the point
  shifted to the left, the left eye to the right;
* at elevation ``atan2(P_z, sqrt(r_h^2 - a^2))`` for both eyes (a little higher
  than the mono ``atan2(P_z, r_h)``).

Valid wherever the result's elevation is at most ``t0``. The two eyes' directions
then differ by the **horizon disparity** ``2 asin(a / r_h) = 2 asin(s / (2 r_h))``
of azimuth (:func:`horizon_disparity_deg`); as a true angle between the two
directions that is ``2 delta cos(elev)`` and, for a point at distance ``r``, at
most ``2 asin(s / (2 r))`` (in the horizontal plane): the comfort limit is set
from it (:func:`comfort_separation_m`).

Objects at infinity (stars, the BodyView discs, labels) are not touched: for
``r -> infinity`` every eye's direction tends to ``normalize(P)`` (zero
disparity), and those layers draw their directions as they are.

Precision: the layers compute in float32 relative to the observer. A planet
1e12 m away is still placed to ``1e12 * 6e-8 = 6e4 m``, far below a pixel
(its disparity, ``s / r = 6e-14`` rad, is then zero in any float).
"""

from __future__ import annotations

import math

import numpy as np

#: The eye's sign in ``o(d)`` (module docstring), from the config's IG ``eye``.
EYE_SIGN: dict[str, int] = {"left": -1, "right": +1, "mono": 0}
#: Fixed-point iterations of :func:`ods_dirs` (and of ``ods.glsl``): error bound in the module docstring.
ODS_ITERATIONS = 4


def taper(elev_deg: np.ndarray | float, taper_from_deg: float) -> np.ndarray:
    """The separation's taper toward the zenith: ``1 - smoothstep(t0, 90, elev)``, (N,) -> (N,).

    ``elev_deg``: dome-frame elevation in degrees; ``taper_from_deg`` (t0, in
    [0, 90)): 1 at and below it, 0 at the zenith, smooth (zero slope) at both ends.
    """
    t0 = float(taper_from_deg)
    if not 0.0 <= t0 < 90.0:
        raise ValueError(f"taper_from_deg {taper_from_deg!r}: must be in [0, 90) (hall.toml [stereo])")
    x = np.clip((np.asarray(elev_deg, dtype=np.float64) - t0) / (90.0 - t0), 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


def eye_offsets_m(dirs: np.ndarray, eye: int, separation_m: float, taper_from_deg: float) -> np.ndarray:
    """``o(d)``: the eye's position (metres, dome frame) for viewing directions, (N, 3) -> (N, 3).

    ``dirs`` unit vectors in the dome frame. Zero at the zenith (where ``d x z``
    vanishes the taper is 0 too) and for ``eye == 0``.
    """
    d = np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
    if eye == 0 or separation_m == 0.0:
        return np.zeros_like(d)
    side = np.stack([d[:, 1], -d[:, 0], np.zeros(len(d))], axis=-1)        # d x z
    length = np.hypot(d[:, 0], d[:, 1])
    side = np.divide(side, length[:, None], out=np.zeros_like(side), where=length[:, None] > 0.0)
    elev_deg = np.degrees(np.arctan2(d[:, 2], length))
    return (float(eye) * 0.5 * float(separation_m) * taper(elev_deg, taper_from_deg))[:, None] * side


def ods_dirs(points_m: np.ndarray, eye: int, separation_m: float, taper_from_deg: float,
             iterations: int = ODS_ITERATIONS) -> np.ndarray:
    """The unit directions (dome frame) in which eye ``eye`` sees ``points_m``: (N, 3) -> (N, 3).

    ``points_m``: metres from the dome centre, dome frame; ``eye``: -1, 0 or +1
    (:data:`EYE_SIGN`); ``separation_m``: the eyes' separation ``s``;
    ``taper_from_deg``: ``t0``. Fixed-point iteration (module docstring); mono
    (``eye == 0`` or ``s == 0``) returns ``normalize(points_m)`` exactly.
    """
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    d = p / np.linalg.norm(p, axis=-1, keepdims=True)
    if eye == 0 or separation_m == 0.0:
        return d
    for _ in range(int(iterations)):
        q = p - eye_offsets_m(d, eye, separation_m, taper_from_deg)
        d = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return d


def ods_error_bound_rad(distance_m: np.ndarray | float, separation_m: float,
                        iterations: int = ODS_ITERATIONS, turn_rate: float = 3.4) -> np.ndarray:
    """The bound ``k^n a / ((r - a)(1 - k))`` on :func:`ods_dirs`' error, radians (module docstring).

    ``distance_m`` (N,) or a scalar; ``turn_rate``: ``L`` (3.4 for ``t0 >= 45 deg``,
    zenith angles up to 150 deg). Infinite where the iteration is not a
    contraction (points within about ``L s / 2`` of the eye).
    """
    r = np.asarray(distance_m, dtype=np.float64)
    a = 0.5 * float(separation_m)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = a * float(turn_rate) / (r - a)
        bound = k ** int(iterations) * a / ((r - a) * (1.0 - k))
    return np.where((r > a) & (k < 1.0), bound, np.inf)


def horizon_dirs(points_m: np.ndarray, eye: int, separation_m: float) -> np.ndarray:
    """The closed-form ODS directions where the taper is 1 (module docstring): (N, 3) -> (N, 3).

    Exact for points whose result lies at or below ``taper_from_deg``; a point
    whose horizontal distance is under ``s / 2`` (inside the eyes' circle) gives NaN.
    """
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    a = 0.5 * float(separation_m) * (1 if eye > 0 else -1 if eye < 0 else 0)
    r_h = np.hypot(p[:, 0], p[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.arcsin(a / r_h)
        along = np.sqrt(r_h * r_h - a * a)
    azimuth = np.arctan2(p[:, 1], p[:, 0]) + delta          # counter-clockwise seen from above
    elev = np.arctan2(p[:, 2], along)
    return np.stack([np.cos(elev) * np.cos(azimuth), np.cos(elev) * np.sin(azimuth), np.sin(elev)], axis=-1)


def horizon_disparity_deg(distance_m: np.ndarray | float, separation_m: float) -> np.ndarray:
    """The two eyes' azimuth difference where the taper is 1: ``2 asin(s / (2 r_h))`` in degrees.

    ``distance_m``: the point's horizontal distance ``r_h`` from the dome
    centre (metres, (N,) or a scalar); infinity gives 0; a point inside the
    eyes' circle (``r_h < s / 2``) gives 180.
    """
    r_h = np.asarray(distance_m, dtype=np.float64)
    safe = np.where(r_h > 0.0, r_h, 1.0)
    ratio = np.where(r_h > 0.0, np.clip(float(separation_m) / (2.0 * safe), 0.0, 1.0), 1.0)
    return np.degrees(2.0 * np.arcsin(ratio))


def comfort_separation_m(requested_m: float, nearest_m: float, comfort_disparity_deg: float) -> float:
    """The eye separation to use: ``requested_m``, reduced so that nothing shows more disparity than
    ``comfort_disparity_deg``.

    ``nearest_m``: distance (metres) of the nearest object drawn with depth;
    its largest disparity is the horizon disparity at that distance
    (module docstring), so the limit is ``2 nearest sin(comfort / 2)``.
    Returns ``min(requested_m, limit)``; ``nearest_m`` infinite (nothing
    near): ``requested_m``; ``nearest_m <= 0`` (something at the eye) or a
    comfort limit <= 0: 0 (mono). Raises ValueError for NaN or a negative request.
    """
    requested_m, nearest_m, comfort = float(requested_m), float(nearest_m), float(comfort_disparity_deg)
    if math.isnan(requested_m) or math.isnan(nearest_m) or math.isnan(comfort) or requested_m < 0.0:
        raise ValueError(f"comfort_separation_m({requested_m!r}, {nearest_m!r}, {comfort!r}): "
                         "needs a separation >= 0 and numbers, not NaN")
    if math.isinf(nearest_m) and nearest_m > 0.0:
        return requested_m
    if nearest_m <= 0.0 or comfort <= 0.0:
        return 0.0
    limit = 2.0 * nearest_m * math.sin(math.radians(min(comfort, 180.0)) / 2.0)
    return min(requested_m, limit)
