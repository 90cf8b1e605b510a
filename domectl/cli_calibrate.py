"""``domectl calibrate ...``: the technician's commands (issue 10).

    domectl calibrate pattern grid [--projectors p01,p02]   # on the running cluster's projectors
    domectl calibrate pattern --off
    domectl calibrate pattern white --out out/patterns       # the pattern PNGs, one per projector, no cluster
    domectl calibrate history | show [V] | diff A [B] | rollback V | export --out F.mpcdi | import F.mpcdi
    domectl calibrate auto --camera sim --out DIR [--save]   # structured light, fitted pose and lens
    domectl calibrate colour --camera sim --out DIR [--save] # brightness and colour matched from flat fields
    domectl calibrate blend --projector p03 --width 0.5 --gamma 2.4 --uplift off   # a new store version
    domectl calibrate adjust --projector p03                 # move control points, live on the dome; s saves

Test patterns (calibration/patterns.py) go through the running master's
control API (``POST /api/calibration/pattern``): the named projectors show the
pattern in their own pixels, unwarped, instead of the sky; the others black.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    from calibration.patterns import PATTERNS

    p = subparsers.add_parser(
        "calibrate", help="align and blend the projectors: test patterns, calibration",
        description="The technician's tools: test patterns on the projectors through the running cluster, "
                    "and the hall's versioned calibration store (history, diff, rollback, MPCDI import/export).")
    actions = p.add_subparsers(dest="calibrate_action", metavar="ACTION", required=True)
    q = actions.add_parser(
        "pattern", help="show a test pattern on the projectors (or write its PNGs)",
        description="Show a test pattern on the running cluster's projectors, each in its own pixels "
                    "(unwarped), instead of the sky; the projectors not named show black. With --out, write "
                    "each projector's pattern as a PNG instead (no cluster needed). Patterns: "
                    + ", ".join(PATTERNS) + ".")
    q.add_argument("pattern", nargs="?", choices=PATTERNS, metavar="PATTERN",
                   help="one of: " + ", ".join(PATTERNS))
    q.add_argument("--projectors", default="", metavar="P01,P02",
                   help="only these projectors show it (default: all)")
    q.add_argument("--off", action="store_true", help="end the test pattern: the sky comes back")
    q.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write pNN.png per projector here instead of showing it on the cluster")
    q.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall)")
    q.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="key directory with control.token (default: <config dir>/keys)")
    q.add_argument("--token", default=None, help="the control token (default: found on this machine)")
    from calibration import cli_adjust, cli_auto, cli_store, cli_tune

    auto = cli_auto.add_subparsers(actions)
    auto.add_argument("--save", action="store_true",
                      help="commit the fitted calibration to the hall's store as a new version (when none failed)")
    auto.add_argument("--store", type=Path, default=None, metavar="DIR",
                      help="with --save: the calibration store (default: the hall's)")
    cli_store.add_subparsers(actions)
    cli_tune.add_subparsers(actions)
    cli_adjust.add_subparsers(actions)
    return p


def cmd_calibrate(args) -> int:
    if args.calibrate_action == "pattern":
        return _pattern(args)
    if args.calibrate_action == "auto":
        status = args.func(args)
        if status == 0 and args.save:
            _save_auto(args)
        elif args.save:
            print("calibrate auto: a projector failed: nothing saved to the store (see report.json)")
        return status
    if getattr(args, "func", None) is not None:       # the calibration/cli_*.py actions (cli_common.py)
        return args.func(args)
    raise argparse.ArgumentTypeError(f"calibrate {args.calibrate_action}: unknown action")


def _pattern(args) -> int:
    if args.off == (args.pattern is not None):
        raise argparse.ArgumentTypeError("calibrate pattern: give a PATTERN, or --off to end it")
    projectors = [p.strip() for p in args.projectors.split(",") if p.strip()]
    if args.out is not None:
        return _write_patterns(args, projectors)
    from domectl.control import client_for

    _, client = client_for(args, control=True)
    body = {"pattern": "" if args.off else args.pattern}
    if projectors:
        body["projectors"] = projectors
    answer = client.post("/api/calibration/pattern", body)
    shown = answer["pattern"]
    print(f"calibrate: {'pattern ' + shown + ' on the projectors' if shown else 'no pattern: the sky is back'}")
    return 0


def _write_patterns(args, projectors: list[str]) -> int:
    from PIL import Image

    from calibration.patterns import check_projectors, pattern_image
    from domectl.config import load_hall
    from domectl.errors import ConfigError

    if args.off:
        raise argparse.ArgumentTypeError("calibrate pattern --off: nothing to write with --out")
    hall = load_hall(args.config)
    try:
        check_projectors(hall, projectors)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(f"--projectors: {e}") from None
    known = {p.id: p for p in hall.projectors}
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = projectors or list(known)
    for i, pid in enumerate(chosen, 1):
        proj = known[pid]
        ig = next((g for g in hall.igs if g.projector == pid), None)
        image = pattern_image(args.pattern, proj.width_px, proj.height_px, projector_id=pid,
                              ig_id=ig.id if ig else None, eye=ig.eye if ig else "", gamma=proj.gamma)
        path = args.out / f"{pid}.png"
        Image.fromarray(image).save(path)
        print(f"calibrate: [{i}/{len(chosen)}] wrote {path} ({proj.width_px} x {proj.height_px})", flush=True)
    return 0


def _save_auto(args) -> None:
    """Commit DIR/calibration.json from ``calibrate auto`` to the hall's store."""
    import json

    from calibration.model import CalibrationSet
    from calibration.store import CalibrationStore, default_store_root
    from domectl.config import load_hall

    hall = load_hall(args.config)
    path = args.out / "calibration.json"
    calibration = CalibrationSet.from_json(path.read_text(), where=str(path))
    report = json.loads((args.out / "report.json").read_text())
    worst = max((p.get("rms_px", 0.0) for p in report.get("projectors", {}).values()), default=0.0)
    store = CalibrationStore.open(args.store or default_store_root(hall), hall)
    version = store.save(calibration, note=f"auto calibration, camera {args.camera}, worst fit {worst:.2f} px RMS "
                                           f"({args.out})")
    print(f"calibrate auto: saved as v{version:04d} in {store.root}")
