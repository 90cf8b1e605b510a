"""``domectl calibrate colour`` and ``domectl calibrate blend``: brightness/colour matching and blend tuning.

    domectl calibrate colour --camera sim --out DIR [--config DIR] [--store DIR] [--seed N] [--save]
                             [--lut] [--camera-px N] [--noise SCALE] [--gamma-spread G]
    domectl calibrate blend  --projector p03|all [--width F] [--gamma G] [--uplift on|off]
                             [--config DIR] [--store DIR] [--note TEXT] [--author WHO]

``colour`` measures every projector's per-channel response from flat-field
captures and matches them to the dimmest per channel (calibration/colour.py):
``DIR/report.json`` (per projector measured RGB, gains, residual mismatch),
``DIR/calibration.json`` and ``DIR/flat_white.png`` (the dome's flat white
before | after, the max/min ratio of the projectors' regions under each).
The camera's regions come from the models of the store's current version
(or the hall config's, when there is no store yet). Only the simulated
camera exists: the true hall = those models with random mounting errors,
each projector with a random brightness (+-15 %) and white point (+-3 % per
channel) and, with ``--gamma-spread``, tone curve (seeded by ``--seed``).
``--save`` commits the matched set as a new version of the hall's store.

``blend`` edits the blend of one projector (or all) in the store's current
version and commits the result as a new version: ``--width`` is the ramp
as a fraction of the half image (warp.blend's ``ramp_frac``, 0.01..1),
``--gamma`` the gamma its mask is encoded for, ``--uplift`` its black-level
uplift.

Errors print ``domectl calibrate ACTION: error: ...`` and exit with status 2.
Wiring: :func:`add_subparsers` adds both to ``domectl calibrate``'s actions;
each sets ``func=run`` (and ``tune_command``). Alone: ``python -m
calibration.cli_tune colour --camera sim --out DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from calibration.cli_common import standalone, store_args
from domectl.argtypes import positive_int_arg
from domectl.errors import DomectlError

CAMERAS = ("sim",)
TUNE_COMMANDS = ("colour", "blend")


def _number(low: float, high: float, what: str):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text}: {what} must be in [{low:g}, {high:g}]")
        return value
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    store_args(p)


def add_subparsers(calibrate_sub) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add ``colour`` and ``blend`` to ``domectl calibrate``'s actions; returns their parsers."""
    from calibration.model import MIN_WIDTH_FRAC

    c = calibrate_sub.add_parser(
        "colour", help="match the projectors' brightness and colour from flat-field captures",
        description="Capture flat black, red, green and blue ramps from each projector with a fisheye camera, "
                    "measure each one's per-channel response where only it lights the dome, and compute per-channel "
                    "gains (and with --lut a tone-curve LUT) matching every projector to the dimmest. Writes "
                    "report.json, calibration.json and flat_white.png (before | after) to --out.")
    _common(c)
    c.add_argument("--camera", default="sim", metavar="KIND", help="the camera: 'sim' (the only one so far)")
    c.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    c.add_argument("--seed", type=int, default=0,
                   help="simulation: the projectors' random brightness, white point, mounting errors and noise")
    c.add_argument("--save", action="store_true", help="commit the matched calibration to the store as a new version")
    c.add_argument("--lut", action="store_true", help="also match the tone curves with a per-channel LUT")
    c.add_argument("--camera-px", type=positive_int_arg, default=None, metavar="N",
                   help="simulation: fisheye camera image side in pixels (default 1024)")
    c.add_argument("--noise", type=_number(0.0, 100.0, "--noise"), default=1.0, metavar="SCALE",
                   help="simulation: camera shot and read noise scale (default 1; 0 = none)")
    c.add_argument("--gamma-spread", type=_number(0.0, 0.5, "--gamma-spread"), default=0.0, metavar="G",
                   help="simulation: each projector channel's true gamma differs from the nominal by up to this")
    c.add_argument("--note", default="", help="with --save: why (added to the version's note)")
    c.set_defaults(calibrate_command="colour", tune_command="colour", func=run)

    b = calibrate_sub.add_parser(
        "blend", help="tune a projector's blend: ramp width, mask gamma, black-level uplift",
        description="Change one projector's (or every projector's) blend in the store's current version and "
                    "commit it as a new version.")
    _common(b)
    b.add_argument("--projector", required=True, metavar="ID", help="a projector id, e.g. p03, or 'all'")
    b.add_argument("--width", type=_number(MIN_WIDTH_FRAC, 1.0, "--width"), default=None, metavar="F",
                   help=f"ramp width as a fraction of the half image, per axis ({MIN_WIDTH_FRAC:g}..1; default 1)")
    b.add_argument("--gamma", type=_number(0.5, 5.0, "--gamma"), default=None, metavar="G",
                   help="the gamma the blend mask is encoded for (the projector's display gamma, e.g. 2.2)")
    b.add_argument("--uplift", choices=("on", "off"), default=None, help="black-level uplift for this projector")
    b.add_argument("--note", default="", help="why")
    b.set_defaults(calibrate_command="blend", tune_command="blend", func=run)
    return c, b


def _open_store(args, hall, create: bool):
    """The hall's store (created from the hall when ``create``), or None when it does not exist and not ``create``."""
    from calibration.store import CURRENT_FILE, CalibrationStore, default_store_root

    root = args.store if args.store is not None else default_store_root(hall)
    if not create and not (Path(root) / CURRENT_FILE).exists():
        return None
    store = CalibrationStore.open(root, hall, author=args.author)
    for line in store.recovered:
        print(f"domectl calibrate: {store.root}: {line}", file=sys.stderr)
    return store


def _current(store, where: str):
    found = store.current()
    for why in found.skipped:
        print(f"domectl calibrate {where}: warning: {why}", file=sys.stderr)
    return found


def _run_colour(args) -> int:
    from calibration.auto import simulated_truth
    from calibration.camera import (
        DEFAULT_CAMERA_PX,
        CameraNoise,
        SimCamera,
        camera_model,
        simulated_responses,
    )
    from calibration.colour import ColourMatchError, run_colour_matching
    from calibration.model import from_hall
    from domectl.config import load_hall
    from domectl.hallwarp import dome_model, eye_m

    if args.camera not in CAMERAS:
        raise ColourMatchError(f"--camera {args.camera!r}: only the simulated camera exists (--camera sim); a real "
                               "one implements calibration.camera.Camera (capture RGB flat fields, linear RAW)")
    hall = load_hall(args.config)
    store = _open_store(args, hall, create=args.save)
    base = _current(store, "colour") if store is not None else None
    calibration = base.calibration if base is not None else from_hall(hall)
    if calibration.hall != hall.name:
        raise ColourMatchError(f"the store holds hall {calibration.hall!r}, the config is {hall.name!r}: "
                               "give the matching --config or --store")
    dome = dome_model(hall)
    models = [p.model for p in calibration.projectors]
    truth = simulated_truth(models, seed=args.seed)
    responses = simulated_responses(truth, seed=args.seed, gamma_spread=args.gamma_spread)
    size_px = args.camera_px or DEFAULT_CAMERA_PX
    try:
        cam_model = camera_model(size_px)
        noise = CameraNoise(noise_scale=args.noise)
    except DomectlError as e:
        raise ColourMatchError(f"--camera-px / --noise: {e}") from None
    camera = SimCamera(dome, truth, cam_model, noise, seed=args.seed, responses=responses)
    info = {"kind": "sim", "size_px": size_px, "fov_deg": cam_model.lens.fov_deg, "seed": args.seed,
            "noise_scale": args.noise, "gamma_spread": args.gamma_spread,
            "source": f"store {base.info.name}" if base is not None else "hall config",
            "sim_true_gain_rgb": {n: list(r.gain_rgb) for n, r in responses.items()}}

    def progress(line: str) -> None:
        print(f"calibrate colour: {line}", file=sys.stderr, flush=True)

    report, matched = run_colour_matching(camera, dome, eye_m(hall), calibration, args.out, use_lut=args.lut,
                                          camera_info=info, progress=progress)
    before, after = report["before"]["spread_pct"], report["after"]["spread_pct"]
    line = (f"calibrate colour: {len(matched.projectors)} projectors: mismatch R/G/B "
            f"{'/'.join(f'{v:.2f}' for v in before)} % before, {'/'.join(f'{v:.2f}' for v in after)} % after; "
            f"report {Path(args.out) / 'report.json'}")
    print(line, file=sys.stderr, flush=True)
    if args.save:
        note = (f"colour matching ({'gains + LUT' if args.lut else 'gains'}), camera {args.camera}: mismatch "
                f"{max(before):.2f} % -> {max(after):.2f} %" + (f"; {args.note}" if args.note else ""))
        version = store.save(matched, note=note, author=args.author)
        print(f"calibrate colour: saved as v{version:04d} in {store.root}")
    return 0


def _run_blend(args) -> int:
    from calibration.store import StoreError
    from domectl.config import load_hall

    if args.width is None and args.gamma is None and args.uplift is None:
        raise StoreError("nothing to change: give --width, --gamma and/or --uplift")
    hall = load_hall(args.config)
    store = _open_store(args, hall, create=True)
    calibration = _current(store, "blend").calibration
    names = [p.name for p in calibration.projectors]
    if args.projector != "all" and args.projector not in names:
        raise StoreError(f"--projector {args.projector!r}: no such projector in {calibration.hall!r}; "
                         f"it has {', '.join(names)} (or 'all')")
    chosen = names if args.projector == "all" else [args.projector]
    changes = {}
    if args.width is not None:
        changes["width_frac"] = args.width
    if args.gamma is not None:
        changes["gamma"] = args.gamma
    if args.uplift is not None:
        changes["black_uplift"] = args.uplift == "on"
    for name in chosen:
        p = calibration.projector(name)
        calibration = calibration.replace_projector(dataclasses.replace(p, blend=dataclasses.replace(p.blend,
                                                                                                    **changes)))
    said = ", ".join(f"{k} {'on' if v is True else 'off' if v is False else f'{v:g}'}" for k, v in changes.items())
    note = f"blend {args.projector}: {said}" + (f"; {args.note}" if args.note else "")
    version = store.save(calibration, note=note, author=args.author)
    print(f"calibrate blend: v{version:04d}: {note}")
    return 0


def run(args) -> int:
    """Run ``calibrate colour`` or ``calibrate blend``; 0, or 2 with a message on stderr for a user error."""
    command = args.tune_command
    try:
        return _run_colour(args) if command == "colour" else _run_blend(args)
    except DomectlError as e:
        print(f"domectl calibrate {command}: error: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """``python -m calibration.cli_tune colour|blend ...`` (the arguments of ``domectl calibrate``)."""
    return standalone(add_subparsers, argv, "Blend tuning and colour matching.")


if __name__ == "__main__":
    sys.exit(main())
