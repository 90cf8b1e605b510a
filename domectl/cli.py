"""The `domectl` command."""
import sys


def main(argv=None) -> int:
    print("domectl: under construction", file=sys.stderr)
    return 2
