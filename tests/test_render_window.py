"""The same frame in a GLFW window as headless (under xvfb-run: a real X display, a real window)."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
import numpy as np
from datetime import datetime, timezone
from domectl.config import load_hall
from domectl.ephemeris import Ephemeris
from domectl.skydata import load_stars
from domectl.still import StillRequest, render_still, still_frame, still_size
from render.window import show_and_read_back

hall = load_hall()
request = StillRequest(utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc), size_px=192,
                       layers=("stars", "planets"))
state = still_frame(hall, request, Ephemeris())
catalog = load_stars()
image, shown = show_and_read_back(lambda ctx: render_still(ctx, hall, state, request, catalog),
                                  still_size(request), hold_s=0.0)
np.save(sys.argv[1], np.stack([image, shown]))
"""


def test_a_frame_shown_in_a_window_equals_the_headless_render(tmp_path, gl_ctx):
    assert shutil.which("xvfb-run"), "xvfb-run is missing: sh dev.sh setup installs it (Debian package xvfb)"
    out = tmp_path / "images.npy"
    result = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 640x480x24", sys.executable, "-c",
                             textwrap.dedent(SCRIPT), str(out)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    image, shown = np.load(out)
    assert image.shape == (192, 192, 3)
    assert image.sum() > 0                               # stars were drawn
    assert np.array_equal(shown, image)                  # the window shows exactly that frame

    from domectl.config import load_hall
    from domectl.ephemeris import Ephemeris
    from domectl.skydata import load_stars
    from domectl.still import StillRequest, render_still, still_frame
    from datetime import datetime, timezone

    hall = load_hall()
    request = StillRequest(utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc), size_px=192,
                           layers=("stars", "planets"))
    # EGL in this process; the window had its own context in the other one.
    headless = render_still(gl_ctx, hall, still_frame(hall, request, Ephemeris()), request, load_stars())
    assert np.abs(headless.astype(int) - image.astype(int)).max() <= 1
