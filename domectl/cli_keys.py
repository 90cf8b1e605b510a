"""``domectl keys``: make the hall's CURVE keys and say which file goes where.

Registered by :mod:`domectl.cli` with :func:`add_parser`; :func:`cmd_keys`
returns an exit code and raises :class:`~domectl.errors.DomectlError` (printed
by ``domectl``'s main) when the keys exist already or the config is wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``keys`` to ``domectl``'s subcommands."""
    p = subparsers.add_parser(
        "keys", help="make the hall's CURVE keys (master + one per IG)",
        description="Write the master's key pair and one key pair per IG of the hall into the key "
                    "directory (default: <config dir>/keys/), secret files readable by their owner "
                    "only. Existing keys are never replaced without --force. Then copy master.key "
                    "and igNN.key_secret to each IG.")
    p.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")
    p.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="key directory (default: <config dir>/keys)")
    p.add_argument("--force", action="store_true",
                   help="replace existing keys: every IG then needs its new key before it can join")
    return p


def cmd_keys(args) -> int:
    from domectl.config import load_hall
    from domectl.keys import MASTER_NAME, create_hall_keys, default_keys_dir

    hall = load_hall(args.config)
    keys_dir = args.keys or default_keys_dir(hall.root)
    files = create_hall_keys(keys_dir, [g.id for g in hall.igs], overwrite=args.force)
    master_public, master_secret = files[MASTER_NAME]
    print(f"{hall.name}: {'replaced' if args.force else 'wrote'} the CURVE keys of the master and "
          f"{len(hall.igs)} IGs in {keys_dir}/")
    print(f"  master (keep on the control computers): {master_secret.name} (secret), "
          f"{master_public.name} and every ig*.key")
    print("  copy to each IG's keys/ directory (scp, then chmod 600 the secret file):")
    for ig in hall.igs:
        _, secret = files[ig.name]
        print(f"    {ig.name} ({ig.host}): {master_public.name} {secret.name}")
    if args.force:
        print("  the old keys no longer work: every IG needs its new files before it can rejoin")
    return 0
