"""Shared fixtures.

* ``gl_ctx``: the one headless EGL context of the test session (one backend
  per process: EGL then GLX in one process crashes). A test that uses it
  fails if it leaves a GL error pending.
* ``tmp_failures``: writes actual / expected / diff PNGs to
  ``tests/_failures/`` when an image comparison fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

FAILURES_DIR = Path(__file__).resolve().parent / "_failures"
#: Drained at most this many pending errors before a test (GL keeps one flag per error kind).
_MAX_PENDING_ERRORS = 16


@pytest.fixture(scope="session")
def _gl_session_ctx():
    from render.context import create_context

    ctx = create_context("egl")
    yield ctx
    ctx.release()


@pytest.fixture
def gl_ctx(_gl_session_ctx) -> Iterator:
    """The session's EGL context, with no GL error pending at the start."""
    for _ in range(_MAX_PENDING_ERRORS):
        if _gl_session_ctx.error == "GL_NO_ERROR":
            break
    yield _gl_session_ctx


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Fail a test that used ``gl_ctx`` and left a GL error pending."""
    result = yield
    ctx = getattr(item, "funcargs", {}).get("gl_ctx")
    if ctx is not None:
        error = ctx.error
        if error != "GL_NO_ERROR":
            pytest.fail(f"GL error {error} pending at the end of {item.nodeid}: a GL call in this test failed")
    return result


def _diff_image(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """|actual - expected| scaled x4 so small differences show; mismatched shapes -> all red."""
    if actual.shape != expected.shape:
        return np.full(actual.shape[:2] + (3,), (255, 0, 0), dtype=np.uint8)
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16)) * 4
    return np.clip(diff, 0, 255).astype(np.uint8)


@pytest.fixture
def tmp_failures(request) -> Callable[[str, np.ndarray, np.ndarray], Path]:
    """``save(name, actual, expected) -> directory``: write the three PNGs of a failed comparison."""

    def save(name: str, actual: np.ndarray, expected: np.ndarray) -> Path:
        from render.image import save_png

        FAILURES_DIR.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{request.node.name}_{name}")
        as_rgb = lambda a: np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a  # noqa: E731
        actual, expected = as_rgb(np.asarray(actual, np.uint8)), as_rgb(np.asarray(expected, np.uint8))
        save_png(FAILURES_DIR / f"{stem}_actual.png", actual)
        save_png(FAILURES_DIR / f"{stem}_expected.png", expected)
        save_png(FAILURES_DIR / f"{stem}_diff.png", _diff_image(actual, expected))
        return FAILURES_DIR

    return save


@pytest.fixture
def no_network(monkeypatch):
    """Make any attempt to open a network connection fail the test loudly."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to open a network connection: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _state_and_run_dirs(tmp_path_factory, monkeypatch):
    """Every test (and every master it starts) keeps votes and status in its own temp dirs,
    never in the user's ~/.local/state or a running hall's run directory."""
    base = tmp_path_factory.mktemp("domectl-dirs")
    monkeypatch.setenv("DOMECTL_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("DOMECTL_RUN_DIR", str(base / "run"))


def free_ports(n: int) -> list[int]:
    """n ports free for both TCP and UDP on loopback right now."""
    import socket

    out: list[int] = []
    while len(out) < n:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        if port not in out:
            out.append(port)
    return out


@pytest.fixture
def hall_on_free_ports(tmp_path):
    """The reference hall with every port (ZeroMQ, HTTP, OSC) moved to a free one: (config dir, hall)."""
    import dataclasses

    from domectl.config import dump_hall, load_hall

    hall = load_hall()
    frame, control, s_frame, s_control, http, vote, osc_control = free_ports(7)
    master = dataclasses.replace(hall.master, frame_port=frame, control_port=control,
                                 standby_frame_port=s_frame, standby_control_port=s_control, http_port=http)
    osc = dataclasses.replace(hall.osc, vote_port=vote, control_port=osc_control)
    hall = dataclasses.replace(hall, master=master, osc=osc)
    root = dump_hall(hall, tmp_path / "hall")
    return root, load_hall(root)
