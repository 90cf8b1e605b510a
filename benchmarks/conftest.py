"""Fixtures the benchmarks share."""

import pytest


@pytest.fixture(scope="module")
def ctx():
    """A headless EGL context for one benchmark module (the GPU's on a machine with one)."""
    from render.context import create_context

    context = create_context("egl")
    yield context
    context.release()
