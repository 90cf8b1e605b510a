"""``domectl calibrate auto``: camera-assisted automatic calibration of a hall's projectors.

    domectl calibrate auto --camera sim --out DIR [--config DIR] [--projectors p01,p02]
                           [--seed N] [--noise SCALE] [--camera-px N] [--misalign P:KEY=DELTA,...]
                           [--period-px PX] [--phase-steps N] [--no-warp]

Writes ``DIR/report.json`` (per projector ``rms_px``, ``max_px``, status, and
with the simulated camera ``warp_rms_px``/``warp_max_px`` against the truth),
``DIR/calibration.json``, ``DIR/error_pNN.png`` and the rebuilt warp with its
coverage and blend-sum maps under ``DIR/warp/`` (calibration/auto.py). One
progress line per projector and step on stderr.

Only the simulated camera exists (``--camera sim``): the hall's nominal
models with random mounting errors (``--seed``), plus deliberate mis-posing
(``--misalign p05:yaw=+1.5``), seen by a fisheye at the dome centre with
noise (``--noise`` scales shot and read noise; 0 = none).

Wiring: :func:`add_subparsers` adds ``auto`` to the actions of ``domectl
calibrate``; :func:`run` runs it (errors propagate as
:class:`~domectl.errors.DomectlError`). Alone: ``python -m calibration.cli_auto
auto --camera sim --out DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calibration.cli_common import standalone
from domectl.argtypes import positive_int_arg
from domectl.errors import DomectlError

CAMERAS = ("sim",)
REAL_CAMERA_HELP = (
    "only the simulated camera exists (--camera sim). A real camera plugs in by implementing "
    "calibration.camera.Camera: a calibrated fisheye model (a warp ProjectorModel with a fisheye Lens, its pose in "
    "the dome frame) and capture(projector_id, image) -> a linear (RAW) exposure while that projector shows image "
    "and every other projector is black")


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text}: must be a finite number >= 0")
    return value


def add_subparsers(calibrate_sub) -> argparse.ArgumentParser:
    """Add ``auto`` to ``domectl calibrate``'s actions (an ``add_subparsers()`` object); returns its parser."""
    a = calibrate_sub.add_parser(
        "auto", help="camera-assisted automatic calibration (structured light, fitted pose and lens)",
        description="Project Gray code and phase shift from each projector, capture them with a fisheye camera "
                    "at the dome centre, decode camera-to-projector correspondences, fit each projector's pose "
                    "and lens, rebuild the warp, and write report.json, calibration.json, error heatmaps and "
                    "coverage / blend-sum maps to --out.")
    a.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")
    a.add_argument("--camera", default="sim", metavar="KIND",
                   help="the camera: 'sim' (a simulated fisheye; the only one so far)")
    a.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    a.add_argument("--projectors", default=None, metavar="IDS",
                   help="comma-separated projector ids to calibrate (default: all)")
    a.add_argument("--seed", type=int, default=0, help="simulation: random mounting errors and camera noise seed")
    a.add_argument("--noise", type=_non_negative, default=1.0, metavar="SCALE",
                   help="simulation: camera shot and read noise scale (default 1; 0 = no noise)")
    a.add_argument("--camera-px", type=positive_int_arg, default=None, metavar="N",
                   help="simulation: fisheye camera image side in pixels (default 1024)")
    a.add_argument("--misalign", action="append", default=[], metavar="P:KEY=DELTA,...",
                   help="simulation: mis-pose a projector, e.g. p05:yaw=+1.5,x_mm=20 (keys: x_mm y_mm z_mm "
                        "yaw pitch roll in degrees, throw_pct, shift_x shift_y); repeatable")
    a.add_argument("--period-px", type=positive_int_arg, default=None, metavar="PX",
                   help="phase-shift period in projector pixels (default 64; even)")
    a.add_argument("--phase-steps", type=positive_int_arg, default=None, metavar="N",
                   help="phase-shift steps per axis (default 4)")
    a.add_argument("--no-warp", action="store_true", help="skip rebuilding the warp (and its coverage maps)")
    a.set_defaults(calibrate_command="auto", func=run)
    return a


def run(args) -> int:
    """Run ``calibrate auto``; 0 when every calibrated projector fitted, 1 when some failed."""
    from calibration.auto import (
        AutoCalibrationError,
        parse_misalign,
        run_auto_calibration,
        simulated_truth,
    )
    from calibration.camera import (
        DEFAULT_CAMERA_PX,
        CameraNoise,
        SimCamera,
        camera_model,
    )
    from domectl.config import load_hall
    from domectl.hallwarp import dome_model, eye_m, projector_models

    if args.camera not in CAMERAS:
        raise AutoCalibrationError(f"--camera {args.camera!r}: {REAL_CAMERA_HELP}")
    hall = load_hall(args.config)
    dome = dome_model(hall)
    nominal = projector_models(hall)
    names = [p.name for p in nominal]
    ids = None
    if args.projectors is not None:
        ids = [s.strip() for s in args.projectors.split(",") if s.strip()]
        unknown = [i for i in ids if i not in names]
        if unknown or not ids:
            raise AutoCalibrationError(f"--projectors {args.projectors!r}: unknown {', '.join(unknown) or 'none given'}; "
                                       f"this hall has {', '.join(names)}")
    misalign = parse_misalign(args.misalign, names)
    truth = simulated_truth(nominal, seed=args.seed, misalign=misalign)
    size_px = args.camera_px or DEFAULT_CAMERA_PX
    try:
        cam_model = camera_model(size_px)
        noise = CameraNoise(noise_scale=args.noise)
    except DomectlError as e:
        raise AutoCalibrationError(f"--camera-px / --noise: {e}") from None
    camera = SimCamera(dome, truth, cam_model, noise, seed=args.seed)
    info = {"kind": "sim", "size_px": size_px, "fov_deg": cam_model.lens.fov_deg,
            "position_m": list(cam_model.position_m), "seed": args.seed, "noise_scale": args.noise,
            "blur_px": noise.blur_px, "read_noise": noise.read_noise, "full_well_e": noise.full_well_e,
            "bits": noise.bits, "misalign": misalign}

    def progress(line: str) -> None:
        print(f"calibrate auto: {line}", file=sys.stderr, flush=True)

    report = run_auto_calibration(dome, nominal, eye_m(hall), camera, args.out, hall_name=hall.name,
                                  projector_ids=ids, truth=truth, period_px=args.period_px,
                                  phase_steps=args.phase_steps, build_warp=not args.no_warp, camera_info=info,
                                  progress=progress)
    s = report["summary"]
    plural = "" if s["calibrated"] == 1 else "s"
    line = (f"calibrate auto: {s['calibrated']} projector{plural}: {len(s['ok'])} ok, "
            f"corrected {s['corrected'] or 'none'}, failed {s['failed'] or 'none'}; worst fit {s['worst_rms_px']} px RMS")
    if "worst_warp_rms_px" in s:
        line += f"; worst warp vs truth {s['worst_warp_rms_px']} px RMS, {s['worst_warp_max_px']} px max"
    print(line + f"; report {Path(args.out) / 'report.json'}", file=sys.stderr, flush=True)
    return 1 if s["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m calibration.cli_auto auto ...`` (the arguments of ``domectl calibrate``)."""
    return standalone(add_subparsers, argv, "Projector calibration.")


if __name__ == "__main__":
    sys.exit(main())
