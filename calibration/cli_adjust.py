"""``domectl calibrate adjust``: refine one projector's control grid by hand, live on the dome.

Talks to the running master's control API (docs/console.md):
``GET /api/calibration``, ``POST /api/calibration/adjust`` (a nudge per key),
``/save``, ``/revert``, and ``/api/calibration/pattern`` (the ``dots`` test
pattern on the projector while adjusting, the sky back on quit). Keys::

    arrows          move the selected control point 1 px (projector pixels; up = towards the image top)
    shift+arrows    10 px
    n / p           next / previous control point (row by row)
    t               toggle the dots pattern (see the points) and the sky (see the refinement)
    s               save (a new store version)
    r               revert to the store's current version
    q               quit (the sky comes back; unsaved changes stay live, marked dirty)

``--keys-script "right,right,up,shift+up,next,save"`` replays keys without a
terminal (tests, scripted rigs): the names above (``left``, ``shift+left``,
``next``/``n``, ``prev``/``p``, ``toggle``/``t``, ``save``/``s``,
``revert``/``r``, ``quit``/``q``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from calibration.cli_common import standalone
from domectl.errors import DomectlError

#: Pixels a plain and a shifted arrow move the point (projector pixels at full resolution).
STEP_PX = 1.0
SHIFT_STEP_PX = 10.0
PATTERN = "dots"

_ARROWS = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
_ALIASES = {"n": "next", "p": "prev", "previous": "prev", "s": "save", "r": "revert", "q": "quit",
            "t": "toggle"}
# Terminal escape sequences (xterm): arrows, and shift+arrows as CSI 1;2 X.
_ESCAPES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left",
            "\x1b[1;2A": "shift+up", "\x1b[1;2B": "shift+down", "\x1b[1;2C": "shift+right",
            "\x1b[1;2D": "shift+left"}


def add_subparsers(calibrate_sub) -> argparse.ArgumentParser:
    """Add ``adjust`` to ``domectl calibrate``'s actions (an ``add_subparsers()`` object); returns its parser."""
    a = calibrate_sub.add_parser(
        "adjust", help="refine a projector's control grid by hand, live on the dome",
        description="Move one projector's control points with the arrow keys while the running cluster shows "
                    "the result (arrows 1 px, shift 10 px; n/p next/previous point; t dots pattern or sky; "
                    "s save; r revert; q quit).")
    a.add_argument("--projector", required=True, metavar="ID", help="the projector to refine, e.g. p03")
    a.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")
    a.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="the hall's key directory, where control.token may be (default: the hall's keys/)")
    a.add_argument("--token", default=None, help="the control token (default: found on this machine)")
    a.add_argument("--keys-script", default=None, metavar="KEYS",
                   help='replay keys instead of reading the terminal, e.g. "right,right,up,shift+up,next,save"')
    a.set_defaults(calibrate_command="adjust", func=run)
    return a


def parse_keys(script: str) -> list[str]:
    """``"right, shift+up,n,save"`` -> ``["right", "shift+up", "next", "save"]``; ValueError names a bad key."""
    out = []
    for raw in script.split(","):
        key = raw.strip().lower()
        if not key:
            continue
        key = _ALIASES.get(key, key)
        base = key[len("shift+"):] if key.startswith("shift+") else key
        if base not in _ARROWS and key not in ("next", "prev", "save", "revert", "quit", "toggle"):
            raise ValueError(f"--keys-script: unknown key {raw.strip()!r}; use left/right/up/down (shift+ for "
                             "10 px), next, prev, toggle, save, revert, quit")
        out.append(key)
    return out


class Adjuster:
    """The session's state and what each key does, over a control client (``get``/``post``)."""

    def __init__(self, client, projector: str, out=sys.stdout):
        self.client = client
        self.projector = projector
        self.out = out
        state = client.get("/api/calibration")
        if not state["calibration"]["loaded"]:
            raise DomectlError("the master has no calibration loaded (it runs on the hall config): "
                               "restart it with its calibration store")
        mine = [p for p in state["projectors"] if p["name"] == projector]
        if not mine:
            raise DomectlError(f"no projector {projector!r} in the master's calibration; it has "
                               f"{', '.join(p['name'] for p in state['projectors'])}")
        self.control = mine[0]["control"]
        self.summary = state["calibration"]
        self.index = (self.control["rows"] // 2) * self.control["cols"] + self.control["cols"] // 2
        self.pattern_on = False

    @property
    def point(self) -> tuple[int, int]:
        return divmod(self.index, self.control["cols"])

    def start(self) -> None:
        self.show_pattern(True)
        self.say()

    def finish(self) -> None:
        self.show_pattern(False)

    def show_pattern(self, on: bool) -> None:
        body = {"pattern": PATTERN, "projectors": [self.projector]} if on else {"pattern": ""}
        self.client.post("/api/calibration/pattern", body)
        self.pattern_on = on

    def key(self, key: str) -> bool:
        """Do what ``key`` says; False when it is quit."""
        count = self.control["rows"] * self.control["cols"]
        if key == "quit":
            return False
        if key in ("next", "prev"):
            self.index = (self.index + (1 if key == "next" else -1)) % count
        elif key == "toggle":
            self.show_pattern(not self.pattern_on)
        elif key == "save":
            self.summary = self.client.post("/api/calibration/save",
                                             {"note": f"calibrate adjust {self.projector}"})["calibration"]
        elif key == "revert":
            self.summary = self.client.post("/api/calibration/revert", {})["calibration"]
            self._reload()
        else:
            step = SHIFT_STEP_PX if key.startswith("shift+") else STEP_PX
            ux, uy = _ARROWS[key.removeprefix("shift+")]
            row, col = self.point
            answer = self.client.post("/api/calibration/adjust", {
                "projector": self.projector, "row": row, "col": col, "dx_px": ux * step, "dy_px": uy * step})
            self.control, self.summary = answer["control"], answer["calibration"]
        self.say()
        return True

    def _reload(self) -> None:
        state = self.client.get("/api/calibration")
        self.control = next(p["control"] for p in state["projectors"] if p["name"] == self.projector)

    def line(self) -> str:
        row, col = self.point
        dx, dy = self.control["offsets_px"][row][col]
        s = self.summary
        return (f"{self.projector} point ({row}, {col}) of {self.control['rows']} x {self.control['cols']}: "
                f"offset ({dx:+.1f}, {dy:+.1f}) px   version {s['version']}{', unsaved' if s['dirty'] else ''}"
                f"   [{'dots' if self.pattern_on else 'sky'}]")

    def say(self) -> None:
        print(self.line(), file=self.out, flush=True)


def _terminal_keys():
    """Keys from the terminal in cbreak mode, as names (``right``, ``shift+up``, ``next``...)."""
    import os
    import select
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        while True:
            ch = os.read(fd, 1).decode("latin-1")
            if ch == "\x1b":
                seq = ch
                while select.select([fd], [], [], 0.05)[0] and len(seq) < 8:
                    seq += os.read(fd, 1).decode("latin-1")
                    if seq[-1].isalpha() or seq[-1] == "~":
                        break
                name = _ESCAPES.get(seq)
                if name is not None:
                    yield name
                continue
            name = _ALIASES.get(ch.lower())
            if name is not None:
                yield name
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run(args) -> int:
    """Run ``calibrate adjust``: 0 on quit (or the end of the script)."""
    from domectl.control import client_for

    keys = parse_keys(args.keys_script) if args.keys_script is not None else None
    if keys is None and not sys.stdin.isatty():
        raise DomectlError("calibrate adjust reads keys from a terminal: run it in one, or give --keys-script")
    _, client = client_for(args, control=True)
    adjuster = Adjuster(client, args.projector)
    adjuster.start()
    try:
        if keys is None:
            print("arrows 1 px, shift+arrows 10 px, n/p next/previous point, t dots/sky, s save, r revert, q quit",
                  flush=True)
        for key in keys if keys is not None else _terminal_keys():
            if not adjuster.key(key):
                break
    finally:
        adjuster.finish()
    if adjuster.summary["dirty"]:
        print(f"{args.projector}: unsaved changes stay live on the dome (s saves them; "
              "POST /api/calibration/revert drops them)", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m calibration.cli_adjust adjust ...`` (the arguments of ``domectl calibrate``)."""
    return standalone(add_subparsers, argv, "Projector calibration.")


if __name__ == "__main__":
    sys.exit(main())
