"""Costs of the warp set-up a node pays once at start (pytest-benchmark).

    .venv/bin/python -m pytest benchmarks/bench_warp.py --benchmark-only -p no:cacheprovider

A full 4096 x 2160 warp mesh at warp.mesh.DEFAULT_STEP_PX, and blend masks of
the reference layout at 1/8 and full projector resolution.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_lacoupole_layout import load_lacoupole  # noqa: E402

from warp import blend_mask, build_mesh, coverage_fraction  # noqa: E402


@pytest.fixture(scope="module")
def hall():
    return load_lacoupole()


def test_build_mesh_4k(benchmark, hall):
    dome, projectors, eye = hall
    mesh = benchmark(build_mesh, dome, projectors[0], eye)
    assert mesh.shape == (136, 257)


def test_blend_mask_eighth_resolution(benchmark, hall):
    dome, projectors, eye = hall
    mask = benchmark(blend_mask, dome, projectors, eye, 0, 512, 270)
    assert mask.shape == (270, 512)


def test_blend_mask_full_resolution(benchmark, hall):
    dome, projectors, eye = hall
    mask = benchmark.pedantic(blend_mask, (dome, projectors, eye, 0, 4096, 2160), rounds=1, iterations=1)
    assert mask.shape == (2160, 4096)


def test_coverage_fraction_200k_points(benchmark, hall):
    dome, projectors, _ = hall
    assert benchmark(coverage_fraction, dome, projectors) >= 0.999
