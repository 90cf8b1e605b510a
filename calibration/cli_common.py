"""What the calibration commands share: the store's arguments, and running a module on its own.

Each ``calibration/cli_*.py`` adds its actions to ``domectl calibrate`` with
``add_subparsers(actions)``, every action setting ``func`` (what runs it) and
``calibrate_command`` (its name, for messages). :func:`standalone` runs those
same actions as ``python -m calibration.cli_<module> ACTION ...``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from domectl.errors import DomectlError


def store_args(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--store`` and ``--author``: the hall, its calibration store, who changes it."""
    p.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")
    p.add_argument("--store", type=Path, default=None, metavar="DIR",
                   help="the calibration store (default: the hall's, under $DOMECTL_STATE_DIR or "
                        "~/.local/state/domectl/<hall>/calibration)")
    p.add_argument("--author", default=None, help="who makes the change (default: user@host)")


def standalone(add_subparsers: Callable, argv: list[str] | None, description: str) -> int:
    """Parse ``argv`` with a module's actions and run the chosen one; 2 with a message on a user
    error, 130 when interrupted."""
    parser = argparse.ArgumentParser(prog="domectl calibrate", description=description)
    add_subparsers(parser.add_subparsers(dest="calibrate_command", metavar="ACTION", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DomectlError, ValueError) as e:
        print(f"domectl calibrate {args.calibrate_command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("domectl calibrate: interrupted", file=sys.stderr)
        return 130
