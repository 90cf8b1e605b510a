"""Argument types shared by domectl's commands (argparse ``type=`` functions; no heavy imports)."""

from __future__ import annotations

import argparse


def positive_int_arg(text: str) -> int:
    """A whole number >= 1 (frames, pixels, steps)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1")
    return value
