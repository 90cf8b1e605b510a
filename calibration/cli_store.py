"""``domectl calibrate`` store commands: history, show, diff, rollback, export, import.

    domectl calibrate history  [--config DIR] [--store DIR] [--json]
    domectl calibrate show     [VERSION] [--json]
    domectl calibrate diff     A [B]                    (B: the current version)
    domectl calibrate rollback VERSION [--note TEXT]    (a new version equal to VERSION)
    domectl calibrate export   [--version V] --out FILE.mpcdi [--warp-width PX] [--mask-width PX]
    domectl calibrate import   FILE.mpcdi [--note TEXT] [--map REGION=PROJECTOR ...]

Every command takes ``--config`` (the hall; default the embedded reference
hall) and ``--store`` (default the hall's, :func:`calibration.store.default_store_root`),
and ``--author``. A store that does not exist yet is made from the hall's
config (v0001). Errors print ``domectl calibrate ACTION: error: ...`` and
exit with status 2.

:func:`add_subparsers` adds the actions to the ``calibrate`` group that
``domectl/cli_calibrate.py`` makes; each sets ``func=run``, so the group
dispatches with ``args.func(args)`` (calibration/cli_common.py). ``python -m
calibration.cli_store ACTION ...`` runs them alone (:func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from calibration.cli_common import standalone, store_args
from domectl.errors import DomectlError

STORE_COMMANDS = ("history", "show", "diff", "rollback", "export", "import")


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number of pixels") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 2 pixels")
    return value


def _mapping(text: str) -> tuple[str, str]:
    region, sep, projector = text.partition("=")
    if not sep or not region or not projector:
        raise argparse.ArgumentTypeError(f"{text!r}: expected REGION=PROJECTOR, e.g. surface1_region=p01")
    return region, projector


def _common(p: argparse.ArgumentParser) -> None:
    store_args(p)
    p.set_defaults(func=run)


def add_subparsers(calibrate_sub) -> None:
    """Add the store's actions to ``domectl calibrate``'s subparsers (``store_command`` names the action)."""
    h = calibrate_sub.add_parser("history", help="list the calibration versions",
                                 description="List every version of the hall's calibration, oldest first; "
                                             "* marks the current one, CORRUPT one whose files fail their sha256.")
    h.add_argument("--json", action="store_true", help="print JSON")
    h.set_defaults(store_command="history")

    s = calibrate_sub.add_parser("show", help="print a calibration version",
                                 description="Print a version (default: the current one) per projector.")
    s.add_argument("version", nargs="?", default=None, metavar="VERSION", help="e.g. 3 or v0003")
    s.add_argument("--json", action="store_true", help="print the version's meta and calibration as JSON")
    s.set_defaults(store_command="show")

    d = calibrate_sub.add_parser("diff", help="what changed between two versions",
                                 description="Per projector: pose and lens deltas, control points moved, blend, "
                                             "colour, fit and imported warps, with magnitudes.")
    d.add_argument("a", metavar="A", help="the older version")
    d.add_argument("b", nargs="?", default=None, metavar="B", help="the newer version (default: the current one)")
    d.set_defaults(store_command="diff")

    r = calibrate_sub.add_parser("rollback", help="make an old version current again (as a new version)",
                                 description="Commit a new version whose files equal VERSION's; history is kept.")
    r.add_argument("version", metavar="VERSION", help="the version to return to, e.g. 3 or v0003")
    r.add_argument("--note", default="", help="why")
    r.set_defaults(store_command="rollback")

    e = calibrate_sub.add_parser("export", help="write a version as an MPCDI 2.0 archive",
                                 description="Write a version's warp, blend and black-level maps as MPCDI 2.0 "
                                             "(profile 2d, buffer = the domemaster), with the whole calibration "
                                             "in domectl/calibration.json for a lossless re-import.")
    e.add_argument("--version", default=None, metavar="V", help="the version (default: the current one)")
    e.add_argument("--out", type=Path, required=True, metavar="FILE", help="the .mpcdi file to write")
    e.add_argument("--warp-width", type=_width, default=None, metavar="PX",
                   help="warp map samples across (default: 512, at most the projector's)")
    e.add_argument("--mask-width", type=_width, default=None, metavar="PX",
                   help="alpha/beta map texels across (default: 1024, at most the projector's)")
    e.set_defaults(store_command="export")

    i = calibrate_sub.add_parser("import", help="commit an MPCDI archive as a new version",
                                 description="Import an MPCDI archive: domectl's own exports come back exactly; "
                                             "another tool's warps are kept as they are and mark their projectors "
                                             "'imported warp'.")
    i.add_argument("file", type=Path, metavar="FILE", help="the .mpcdi archive")
    i.add_argument("--note", default="", help="why")
    i.add_argument("--map", type=_mapping, action="append", default=[], metavar="REGION=PROJECTOR",
                   help="which projector an MPCDI region is (default: regions named like projectors)")
    i.set_defaults(store_command="import")
    for p in (h, s, d, r, e, i):
        _common(p)


def _open(args, need_hall: bool = False):
    """(store, hall or None): the hall is loaded when the store's place or contents need it."""
    from calibration.store import CalibrationStore, default_store_root
    from domectl.config import load_hall

    hall = None
    if args.store is None or need_hall or args.config is not None:
        hall = load_hall(args.config)
    root = args.store if args.store is not None else default_store_root(hall)
    if hall is None and not (root / "CURRENT").exists():
        hall = load_hall(None)  # a new store: made from the (default) hall
    store = CalibrationStore.open(root, hall, author=args.author)
    for line in store.recovered:
        print(f"domectl calibrate: {store.root}: {line}", file=sys.stderr)
    return store, hall


def _info_dict(info) -> dict:
    return dataclasses.asdict(info)


def _show_text(info, calibration) -> str:
    lines = [info.summary().lstrip("* ").strip(),
             f"hall {calibration.hall!r}, {len(calibration.projectors)} projectors"]
    imported = (info.imported_warp or {}).get("regions", {})
    for p in calibration.projectors:
        m = p.model
        lens = f"throw {m.lens.throw_ratio:g}" if m.lens.kind == "perspective" else f"fisheye {m.lens.fov_deg:g} deg"
        moved = sum(1 for row in p.control.offsets_px for o in row if o != (0.0, 0.0))
        fit = "never fitted" if p.fit is None else f"fit rms {p.fit.rms_px:.3g} px"
        warp = f"imported warp ({imported[p.name]})" if p.name in imported else "model warp"
        lines.append(f"  {p.name}: pos ({', '.join(f'{x:.4g}' for x in m.position_m)}) m, yaw {m.yaw_deg:.4g} "
                     f"pitch {m.pitch_deg:.4g} roll {m.roll_deg:.4g} deg, {m.width_px} x {m.height_px}, {lens}; "
                     f"control {p.control.rows} x {p.control.cols} ({moved} moved); blend {p.blend.width_frac:g}; "
                     f"gain ({', '.join(f'{g:g}' for g in p.colour.gain_rgb)}); {fit}; {warp}")
    for w in (info.imported_warp or {}).get("warnings", []):
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def run(args) -> int:
    """Run one store action; 0, or 2 with a message on stderr for a user error."""
    from calibration.store import parse_version, version_name

    command = args.store_command
    try:
        store, hall = _open(args, need_hall=command == "export")
        if command == "history":
            infos = store.history()
            if args.json:
                print(json.dumps([_info_dict(i) for i in infos], indent=1))
            else:
                for i in infos:
                    print(i.summary())
            return 0
        if command == "show":
            if args.version is None:
                found = store.current()
                info, calibration = found.info, found.calibration
                for why in found.skipped:
                    print(f"domectl calibrate show: warning: {why}", file=sys.stderr)
            else:
                number = parse_version(args.version)
                calibration = store.load(number)
                info = store.info(number)
            if args.json:
                print(json.dumps({"meta": _info_dict(info), "calibration": json.loads(calibration.to_json())},
                                 indent=1))
            else:
                print(_show_text(info, calibration))
            return 0
        if command == "diff":
            a = parse_version(args.a)
            b = store.current_version() if args.b is None else parse_version(args.b)
            changes = store.diff(a, b)
            print(f"{version_name(a)} -> {version_name(b)}: "
                  + (f"{len(changes)} change(s)" if changes else "no differences"))
            for c in changes:
                print(f"  {c}")
            return 0
        if command == "rollback":
            number = parse_version(args.version)
            new = store.rollback(number, args.note, args.author)
            print(f"{version_name(new)}: rollback to {version_name(number)} committed; it is the current version")
            return 0
        if command == "export":
            version = None if args.version is None else parse_version(args.version)
            number = store.current_version() if version is None else version
            warnings = store.export_mpcdi(args.out, hall, number, warp_width_px=args.warp_width,
                                          mask_width_px=args.mask_width)
            for w in warnings:
                print(f"domectl calibrate export: warning: {w}", file=sys.stderr)
            print(f"{args.out}: {version_name(number)} as MPCDI 2.0")
            return 0
        if command == "import":
            new = store.import_mpcdi(args.file, args.note, args.author, mapping=dict(args.map) or None)
            info = store.info(new)
            for w in (info.imported_warp or {}).get("warnings", []):
                print(f"domectl calibrate import: warning: {w}", file=sys.stderr)
            print(info.summary().lstrip("* ").strip())
            return 0
        raise AssertionError(f"unknown store command {command!r}")
    except DomectlError as e:
        print(f"domectl calibrate {command}: error: {e}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """The store's actions on their own: ``python -m calibration.cli_store history --store DIR``."""
    return standalone(add_subparsers, argv, "The hall's versioned calibration store.")


if __name__ == "__main__":
    sys.exit(main())
