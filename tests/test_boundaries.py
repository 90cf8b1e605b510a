"""What each package brings with it, and that the sky and a frame need no network."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("module, forbidden", [
    ("warp", ["moderngl", "zmq", "skyfield", "scipy", "PIL"]),
    ("calibration", ["moderngl", "zmq", "skyfield"]),
    ("domectl.projection", ["moderngl", "zmq", "skyfield"]),
    ("domectl.astro", ["moderngl", "zmq", "skyfield"]),
    ("domectl.protocol", ["moderngl", "zmq", "skyfield"]),
    ("domectl.frame", ["moderngl", "zmq", "skyfield", "numpy"]),
    ("domectl.node", ["moderngl", "zmq", "skyfield"]),
    ("domectl.master", ["moderngl", "zmq", "skyfield"]),
    # The master's side of the console preview: GL and the pixels live in its child process.
    ("domectl.preview", ["moderngl", "zmq", "skyfield", "numpy", "PIL", "glfw"]),
    # The operator's commands and object search run in the master.
    ("domectl.objects", ["moderngl", "glfw", "zmq"]),
    ("domectl.operator", ["moderngl", "glfw", "zmq"]),
    # Imported to build `domectl`'s parser for every command.
    ("domectl.cli_preview", ["moderngl", "zmq", "skyfield", "numpy", "glfw"]),
    ("domectl.config", ["moderngl", "zmq", "skyfield", "numpy"]),
    ("domectl.keys", ["moderngl", "zmq", "skyfield", "numpy"]),
    ("domectl.layermix", ["moderngl", "zmq", "skyfield", "numpy"]),
    ("domectl.status", ["moderngl", "zmq", "skyfield", "numpy"]),
    ("domectl.skydata", ["moderngl", "zmq", "skyfield"]),
    ("render", ["zmq", "skyfield"]),
    ("domectl.pipeline", ["zmq", "skyfield"]),
])
def test_dependencies_point_one_way(module, forbidden):
    result = _run(f"""
        import importlib, sys
        importlib.import_module({module!r})
        print(",".join(m for m in {forbidden!r} if m in sys.modules))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"importing {module} brought in {result.stdout.strip()}"


#: An import of GL or of the window library, and a use of render.window's private GLFW loader.
_GL_IMPORT = re.compile(r"^\s*(import|from)\s+(moderngl|glfw)\b|\b_glfw\b", re.MULTILINE)


@pytest.mark.parametrize("package", ["domectl", "warp", "calibration"])
def test_only_render_touches_gl_and_windows(package):
    # Even lazily, inside a function: the import tests above only see module-level imports.
    found = [f"{path.relative_to(ROOT)}:{source[:match.start()].count(chr(10)) + 1}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for source in [path.read_text()] for match in _GL_IMPORT.finditer(source)]
    assert found == [], f"GL or GLFW used outside render/ (draw through render/: render.window.LiveWindow, " \
                        f"render.context): {found}"


def test_loading_the_sky_and_rendering_a_frame_open_no_network_connection():
    result = _run("""
        import socket
        attempts = []
        def refuse(*args, **kwargs):
            attempts.append(args)
            raise OSError("network use is forbidden in this test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from datetime import datetime, timezone
        from domectl.config import load_hall
        from domectl.ephemeris import Ephemeris
        from domectl.master import Master, Scene
        from domectl.pipeline import IGPipeline
        from domectl.skydata import load_constellation_lines, load_stars, verify_manifest
        from render.context import create_context

        hall = load_hall()
        verify_manifest()
        load_constellation_lines()
        master = Master(hall, link=None, ephemeris=Ephemeris(),
                        scene=Scene(start_utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc)))
        state = master.frame_state(0)
        image = IGPipeline(create_context(), hall, 1, 0.03125, load_stars()).render(state)
        assert image.max() > 0
        print("attempts", len(attempts))
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "attempts 0" in result.stdout
