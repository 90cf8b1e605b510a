"""A node process: the GL pipeline behind the node loop, with clean shutdown."""

from __future__ import annotations

import ctypes
import logging
import signal
import sys
from pathlib import Path

import numpy as np

from domectl.config import Hall
from domectl.keys import NodeKeys
from domectl.node import Calibrator, NodeLoop
from domectl.transport import NodeLink

log = logging.getLogger("domectl.node")


def die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to this process when its parent dies.

    The embedded runner's nodes must never outlive it, even after a kill -9.
    """
    if sys.platform.startswith("linux"):
        try:
            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass


def run_node(hall: Hall, ig_id: int, frame_endpoint: str, control_endpoint: str, *, scale: float,
             out_dir: Path | None, headless: bool, exit_with_master: bool,
             keys: NodeKeys | None = None, standby: tuple[str, str] | None = None) -> int:
    """Run one IG until the master ends the run (or SIGINT/SIGTERM); returns an exit code.

    ``keys``: this IG's CURVE keys (:mod:`domectl.keys`); None speaks plaintext.
    """
    from render.context import create_context
    from domectl.pipeline import IGPipeline
    from domectl.skydata import load_stars
    from render.image import save_png

    stop = {"flag": False}

    def on_signal(signum, _frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if not headless:
        log.warning("ig%02d: windowed output is not built yet; rendering offscreen", ig_id)
    ctx = create_context()
    pipeline = IGPipeline(ctx, hall, ig_id, scale, load_stars())
    link = NodeLink(ig_id, frame_endpoint, control_endpoint, keys=keys, standby=standby)
    loop = NodeLoop(ig_id, link, pipeline.render, exit_with_master=exit_with_master,
                    late_frame=hall.timing.late_frame, black=np.zeros_like, calibrator=Calibrator(pipeline))
    try:
        loop.run(should_stop=lambda: stop["flag"])
    finally:
        link.close()
    if out_dir is not None and loop.presented is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_png(out_dir / f"ig{ig_id:02d}.png", loop.presented)
    s = loop.stats
    log.info("ig%02d: rendered %d, presented %d, missed %d, dropped %s", ig_id, s.frames_rendered,
             s.frames_presented, s.missed_swaps, s.dropped)
    return 0
