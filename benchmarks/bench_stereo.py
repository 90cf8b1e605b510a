"""What omnidirectional stereo costs an IG (pytest-benchmark).

    .venv/bin/python -m pytest benchmarks/bench_stereo.py --benchmark-only -p no:cacheprovider

One 1024 px domemaster of a voyage scene: all Hipparcos stars (or a synthetic
sky of the same size), the planets' discs, the Moon as a lit sphere 12 of its
radii away (40 deg across), a 3D model (a 2,000-triangle ball) and two orbit
lines, drawn through render.compose.DomeRenderer as a node does, finished on
the GPU. Measured:

* ``mono``: the frame for a mono IG (eye 0);
* ``eye``: the same frame for one eye of the stereo pair (eye +1, s = 0.064 m):
  what each of the hall's 24 IGs pays; its ratio to ``mono`` is the per-IG
  cost of stereo (the model's vertices iterate the ODS fixed point, the
  sphere's pixels offset their rays, the orbits are projected per eye);
* ``pair``: left then right, against one mono frame: what a machine rendering
  both eyes (a show render of the two sequences) pays.

Each test puts ``mono_ms`` and the ratio to it in its ``extra_info``: the best
of 15 rounds of each, measured in alternation, so that a shared machine's load
(the 2-core development box) cancels out of the ratio.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from domectl.frame import ModelView, OrbitView, SphereView
from domectl.projection import altaz_to_enu, dome_from_enu, rot_x, rot_z
from render.compose import DomeRenderer
from render.layers import LayerView
from render.sky import SkyParams, StarLook

SIZE_PX = 1024
SEPARATION_M = 0.064
LAYERS = {"stars": 1.0, "orbits": 1.0, "planets": 1.0, "models": 1.0}




def ball_mesh(rings: int = 32, segments: int = 32) -> SimpleNamespace:
    """A unit UV sphere as a Mesh (domectl.meshes.Mesh fields): 2 x 32 x 31 = 1,984 triangles."""
    theta = np.linspace(0.0, np.pi, rings + 1)
    phi = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    pos = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    idx = np.arange(len(pos)).reshape(rings + 1, segments)
    nxt = np.roll(idx, -1, axis=1)
    tris = np.concatenate([np.stack([idx[:-1], idx[1:], nxt[1:]], -1).reshape(-1, 3),
                           np.stack([idx[:-1], nxt[1:], nxt[:-1]], -1).reshape(-1, 3)])
    return SimpleNamespace(positions=pos.astype(np.float32), normals=pos.astype(np.float32),
                           colours=np.full(pos.shape, 0.7, np.float32), triangles=tris.astype(np.uint32),
                           bounding_radius=1.0)


def scene_view(eye: int) -> LayerView:
    view = dome_from_enu(180.0, 0.0, 20.0)
    sun = altaz_to_enu(25.0, 100.0)
    moon_dir = altaz_to_enu(35.0, 170.0)
    bodies = tuple(SimpleNamespace(name=name, enu=altaz_to_enu(alt, az), mag=mag, angular_diameter_deg=size,
                                   phase_angle_deg=60.0, illuminated_fraction=0.75)
                   for name, alt, az, mag, size in (("Sun", 25.0, 100.0, -26.7, 0.53), ("Mars", 40.0, 220.0, 0.5, 0.003),
                                                    ("Jupiter", 20.0, 140.0, -2.3, 0.01), ("Moon", 35.0, 170.0, -9.0, 0.5)))
    radius = 1.7374e6
    spheres = (SphereView("moon", tuple(moon_dir * 12.0 * radius), radius, 0.9988, tuple(rot_x(0.3).ravel()),
                          tuple(sun)),)
    models = (ModelView("ball", False, tuple(altaz_to_enu(30.0, 200.0) * 3.0), tuple(np.eye(3).ravel()), 0.3, 1.0),)
    orbits = (OrbitView("moon", (0.0, 0.0, 0.0), (12.0 * radius, 0.0, 2.0 * radius), (0.0, 12.0 * radius, 0.0)),
              OrbitView("iss", (0.0, 0.0, -6.5e6), (0.0, 6.8e6, 0.0), (6.8e6, 0.0, 0.0)))
    return LayerView(rect_uv=(0.0, 0.0, 1.0, 1.0), size_px=(SIZE_PX, SIZE_PX), dome_from_enu=view,
                     enu_from_icrs=rot_x(0.7) @ rot_z(2.1), bodies=bodies, sun_enu=sun, sun_alt_deg=25.0,
                     sky=SkyParams(dome_from_icrs=view @ rot_x(0.7) @ rot_z(2.1), dome_from_enu=view, bodies=bodies),
                     eye=eye, eye_separation_m=SEPARATION_M if eye else 0.0, taper_from_deg=45.0,
                     spheres=spheres, models=models, orbits=orbits)


@pytest.fixture(scope="module")
def renderer(ctx, stars):
    mesh = ball_mesh()
    r = DomeRenderer(ctx, stars, look=StarLook(limiting_mag=6.5), textures=lambda name: None,
                     models=lambda name: mesh)
    yield r
    r.release()


def interleaved_ms(ctx, renderer, a_views, b_views, rounds: int = 15) -> tuple[float, float]:
    """Best wall times (ms) of rendering ``a_views`` and ``b_views`` (each one after the other,
    finished on the GPU), measured in alternation: a shared machine's load hits both alike."""
    best = [float("inf"), float("inf")]
    for views in (a_views, b_views):                            # warm-up: JIT, targets, uploads
        for view in views:
            renderer.render(view, LAYERS)
    ctx.finish()
    for _ in range(rounds):
        for i, views in enumerate((a_views, b_views)):
            start = time.perf_counter()
            for view in views:
                renderer.render(view, LAYERS)
            ctx.finish()
            best[i] = min(best[i], time.perf_counter() - start)
    return 1e3 * best[0], 1e3 * best[1]


@pytest.mark.parametrize("case", ["mono", "eye", "pair"])
def test_stereo_cost(benchmark, ctx, renderer, case):
    views = {"mono": [scene_view(0)], "eye": [scene_view(1)], "pair": [scene_view(-1), scene_view(1)]}[case]

    def frame():
        for view in views:
            renderer.render(view, LAYERS)
        ctx.finish()

    frame()
    benchmark.pedantic(frame, rounds=9, iterations=1)
    mono_ms, case_ms = interleaved_ms(ctx, renderer, [scene_view(0)], views)
    benchmark.extra_info.update({"mono_ms": round(mono_ms, 2), f"{case}_ms": round(case_ms, 2),
                                 "ratio_to_mono": round(case_ms / mono_ms, 3)})
