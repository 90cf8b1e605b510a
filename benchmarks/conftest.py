"""Fixtures the benchmarks share."""

from types import SimpleNamespace

import numpy as np
import pytest


@pytest.fixture(scope="module")
def ctx():
    """A headless EGL context for one benchmark module (the GPU's on a machine with one)."""
    from render.context import create_context

    context = create_context("egl")
    yield context
    context.release()

@pytest.fixture(scope="module")
def stars():
    """The star catalogue, or a synthetic sky of the same size where the data is not built."""
    try:
        from domectl.skydata import load_stars

        return load_stars()
    except Exception:  # data not built: a synthetic sky of the same size
        rng = np.random.default_rng(0)
        n = 117_955
        xyz = rng.normal(size=(n, 3))
        xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
        return SimpleNamespace(
            hip=np.arange(n, dtype=np.int32), icrs_xyz=xyz, pm_xyz_rad_per_yr=np.zeros((n, 3)),
            mag=rng.uniform(-1.0, 12.0, n).astype(np.float32), bv=rng.uniform(-0.3, 2.0, n).astype(np.float32),
        )
