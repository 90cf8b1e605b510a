"""The embedded default: the master in this process, one node process per IG, one machine.

``domectl run`` and the tests use the same :class:`~domectl.master.Master` and
node code as a real cluster, over real ZeroMQ sockets on loopback (ports
chosen by the OS, so runs never collide). At the end it writes every IG's
last presented frame, the domemaster reconstructed from the left-eye
projectors (what a camera at the eye point would see) and metrics.json.

Calibration: as ``domectl master``, the run uses the hall's calibration store
(``calibration="store"``, made from the hall config if it does not exist);
``calibration="hall"`` draws with the hall config's nominal models only (a
run that must not depend on what a technician saved on this machine).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from domectl.config import Hall
from domectl.hallwarp import dome_model, eye_m, projector_models
from domectl.keys import HallKeys, ephemeral_hall_keys, node_keys_to_env
from domectl.master import LOCKSTEP_LIVENESS_S, Master, Scene
from domectl.runner import die_with_parent
from domectl.oscio import AudioCues
from domectl.status import status_path
from domectl.transport import MasterLink

log = logging.getLogger("domectl.run")

# Node start-up (import, EGL context, star upload, warp mesh, blend mask) for 24 processes
# sharing two cores takes tens of seconds; past this something is broken, not slow.
JOIN_TIMEOUT_S = 240.0
#: Where a run's calibration comes from (run_embedded's ``calibration``).
CALIBRATION_SOURCES = ("store", "hall")
# After the final bye, nodes write their PNG and exit; then they are stopped by force.
EXIT_GRACE_S = 30.0


def _say(msg: str) -> None:
    print(f"[domectl run] {msg}", flush=True)


def spawn_nodes(hall: Hall, igs, link: MasterLink, scale: float, out_dir: Path, headless: bool,
                keys: HallKeys | None = None):
    """One node process per IG; with ``keys``, each gets its own CURVE keys in its environment
    (never on the command line, which any user can read in /proc)."""
    procs = {}
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    for ig in igs:
        cmd = [sys.executable, "-m", "domectl", "--log-level", "warning", "node",
               "--config", str(hall.root), "--ig", str(ig), "--scale", repr(scale), "--out", str(out_dir),
               "--frame-endpoint", link.frame_endpoint, "--control-endpoint", link.control_endpoint,
               "--exit-with-master"]
        if headless:
            cmd.append("--headless")
        node_env = env
        if keys is not None:
            cmd.append("--keys-from-env")
            node_env = {**env, **node_keys_to_env(keys.nodes[ig])}
        procs[ig] = subprocess.Popen(cmd, env=node_env, preexec_fn=die_with_parent)
    return procs


def stop_nodes(procs: dict, grace_s: float) -> dict[int, int]:
    """Wait for the nodes to exit; terminate, then kill, what is left. Returns exit codes."""
    end = time.monotonic() + grace_s
    for p in procs.values():
        try:
            p.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
    for p in procs.values():
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return {ig: p.returncode for ig, p in procs.items()}


def reconstruct_dome(hall: Hall, scale: float, out_dir: Path, size_px: int) -> np.ndarray:
    """The domemaster a camera at the eye would see, from the left-eye (or mono) IG images."""
    from render.image import load_png
    from warp.reconstruct import reconstruct_domemaster

    projectors = projector_models(hall, scale)
    images = []
    for p, model in zip(hall.projectors, projectors):
        igs = [g for g in hall.igs if g.projector == p.id and g.eye in ("left", "mono")]
        path = out_dir / f"{igs[0].name}.png" if igs else None
        if path is not None and path.exists():
            signal = load_png(path).astype(np.float64) / 255.0
        else:
            signal = np.zeros((model.height_px, model.width_px, 3))
        images.append(signal ** model.gamma)          # projector signal -> linear light
    dome = reconstruct_domemaster(dome_model(hall), projectors, eye_m(hall), images, size_px)
    encoded = np.clip(dome, 0.0, 1.0) ** (1.0 / 2.2)
    return np.round(encoded * 255.0).astype(np.uint8)


def run_embedded(hall: Hall, *, frames: int, scale: float, out_dir: Path, start_utc: datetime,
                 rate: float = 1.0, lockstep: bool = True, headless: bool = True, refraction: bool = False,
                 igs: tuple[int, ...] | None = None, before_run=None, calibration: str = "store") -> dict:
    """Run ``frames`` frames of the hall with every IG a process here; ``before_run(master)``
    is called once the master exists, before any node starts (``--show`` loads a show there).
    ``calibration``: "store" (the hall's calibration store) or "hall" (its config only)."""
    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from render.image import save_png

    if calibration not in CALIBRATION_SOURCES:
        raise ValueError(f"calibration {calibration!r}: one of {', '.join(CALIBRATION_SOURCES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("ig*.png"):
        old.unlink()
    igs = igs or tuple(g.id for g in hall.igs)
    t_begin = time.monotonic()
    # CURVE with keys made for this run only: the embedded default runs as the hall does.
    keys = ephemeral_hall_keys(igs)
    link = MasterLink("127.0.0.1", "*", "*", keys=keys.master)
    scene = Scene(start_utc=start_utc, rate=rate, view_az_deg=hall.dome.front_az_deg,
                  language=hall.default_language, refraction=refraction)
    master = Master(hall, link, CachedEphemeris(Ephemeris()), scene, igs=igs,
                    liveness_s=LOCKSTEP_LIVENESS_S if lockstep else None, status_file=status_path(hall.name),
                    audio=AudioCues(hall.osc.audio_host, hall.osc.audio_port))
    if calibration == "store":
        master.use_store_calibration()
    if before_run is not None:
        before_run(master)
    _say(f"{hall.name}: {len(igs)} IGs at scale {scale:g}, {frames} frames from "
         f"{start_utc.isoformat(timespec='seconds')}, master on {link.frame_endpoint}")
    procs = spawn_nodes(hall, igs, link, scale, out_dir, headless, keys)
    ok = False
    try:
        joined = master.wait_for_nodes(
            JOIN_TIMEOUT_S, lambda n, total: _say(f"{n}/{total} IGs joined"))
        if joined < len(igs):
            dead = [ig for ig, p in procs.items() if p.poll() is not None]
            _say(f"only {joined}/{len(igs)} IGs joined; exited early: {dead or 'none'}")
        else:
            t0 = time.monotonic()

            def progress(n, decision):
                late = f", late: {list(decision.late)}" if decision.late else ""
                _say(f"frame {n + 1}/{frames} swapped after {decision.waited_ns / 1e6:.0f} ms{late}")

            master.run(frames, lockstep=lockstep, progress=progress)
            _say(f"{frames} frames in {time.monotonic() - t0:.1f} s")
            ok = True
    except KeyboardInterrupt:
        _say("interrupted: stopping every node")
        master.shutdown(final=True)
        stop_nodes(procs, 5.0)
        link.close()
        raise
    master.shutdown(final=True)
    codes = stop_nodes(procs, EXIT_GRACE_S)
    link.close()
    summary = master.metrics.summary(master.barrier)
    missing = [ig for ig in igs if not (out_dir / f"ig{ig:02d}.png").exists()]
    ok = ok and not missing and all(c == 0 for c in codes.values())
    if ok:
        size_px = max(256, round(hall.render.domemaster_px * scale))
        _say(f"reconstructing dome.png ({size_px} px) from the left-eye projectors")
        save_png(out_dir / "dome.png", reconstruct_dome(hall, scale, out_dir, size_px))
    report = {
        "ok": ok, "hall": hall.name, "start_utc": start_utc.isoformat(), "scale": scale,
        "lockstep": lockstep, "calibration": {"source": calibration, "version": master.calibration_version},
        "wall_s": round(time.monotonic() - t_begin, 2),
        "node_exit_codes": {f"ig{ig:02d}": c for ig, c in codes.items()},
        "missing_outputs": [f"ig{ig:02d}.png" for ig in missing], **summary,
        "rejected_peers": dict(link.rejected_peers),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2))
    _say(f"{'done' if ok else 'FAILED'}: {out_dir}/ (ig01.png..ig{max(igs):02d}.png, dome.png, metrics.json)")
    return report
