"""The master's status, for ``domectl status``: a small JSON file, rewritten a few times a second.

The master writes it atomically (temp file + rename) into the hall's run
directory; ``domectl status`` reads it from another process. A file, not a
socket: reading it needs no key and cannot disturb the frame loop, and its
age tells whether the master is alive (older than ``STALE_AFTER_S``: it is
not). The operator's web console (issue 9) serves the same dict over HTTP.

    {"frame": 1234, "show_time_s": 20.57, "sim_utc": "...", "role": "primary",
     "pid": 4242, "fps": 60.0, "updated_unix_s": ..., "missed_deadlines": 0,
     "rejected": {"malformed": 3},
     "nodes": [{"ig": 1, "online": true, "in_barrier": true, "fps": 60.0,
                "render_ms": 2.1, "missed": 0, "swaps": 1234, "joins": 1}, ...]}
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from domectl.atomic import atomic_write_bytes
from domectl.errors import DomectlError

#: The master rewrites the file this often: a person reading `domectl status` sees a
#: current frame, and the cost (a few hundred bytes) is invisible next to a frame.
WRITE_INTERVAL_S = 0.25
#: A status older than this means the master is gone or stuck (8 missed writes).
STALE_AFTER_S = 2.0


class StatusError(DomectlError):
    """No status to read: no master is running for this hall (or it cannot write)."""


def run_dir(hall_name: str) -> Path:
    """Where a hall's running master keeps its status: ``$DOMECTL_RUN_DIR`` or a per-user temp dir."""
    base = os.environ.get("DOMECTL_RUN_DIR")
    root = Path(base) if base else Path(tempfile.gettempdir()) / f"domectl-{os.getuid()}"
    return root / _slug(hall_name)


def state_dir(hall_name: str) -> Path:
    """Where a hall's master keeps what must outlive it (the vote log): ``$DOMECTL_STATE_DIR``,
    else ``$XDG_STATE_HOME/domectl/<hall>`` (``~/.local/state/domectl/<hall>``). Not the run
    directory: /tmp may be emptied by a reboot, and a poll's votes must survive one."""
    base = os.environ.get("DOMECTL_STATE_DIR")
    if base:
        root = Path(base)
    else:
        root = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "domectl"
    return root / _slug(hall_name)


def _slug(hall_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", hall_name.lower()).strip("-") or "hall"


def status_path(hall_name: str) -> Path:
    return run_dir(hall_name) / "status.json"


def write_status(path: Path, status: dict) -> None:
    """Replace ``path`` with ``status`` atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Rewritten four times a second and worthless after a reboot: no fsync.
    atomic_write_bytes(path, json.dumps(status).encode(), mode=0o600, durable=False)


def read_status(path: Path, now_unix_s: float | None = None) -> dict:
    """The status at ``path`` with ``age_s`` and ``stale`` added; StatusError if there is none."""
    try:
        status = json.loads(path.read_text())
    except FileNotFoundError:
        raise StatusError(f"no master status at {path}: is `domectl master` (or `domectl run`) running "
                          "for this hall? (DOMECTL_RUN_DIR must match the master's)") from None
    except (OSError, ValueError) as e:
        raise StatusError(f"{path}: unreadable master status ({e}); the master rewrites it every "
                          f"{WRITE_INTERVAL_S:g} s: try again") from None
    if not isinstance(status, dict) or not isinstance(status.get("frame"), int) or \
            not isinstance(status.get("nodes"), list):
        raise StatusError(f"{path}: not a domectl master status (needs 'frame' and 'nodes')")
    now = time.time() if now_unix_s is None else now_unix_s
    status["age_s"] = max(0.0, now - float(status.get("updated_unix_s", 0.0)))
    status["stale"] = status["age_s"] > STALE_AFTER_S
    return status


def format_status(status: dict) -> str:
    """A few lines for a person: the frame, then one line per IG."""
    head = (f"frame {status['frame']}  show {status.get('show_time_s', 0.0):.2f} s  "
            f"sim {status.get('sim_utc', '?')}  {status.get('role', 'master')} pid {status.get('pid', '?')}")
    if status.get("stopped"):
        head += "  STOPPED: the master has shut down"
    elif status.get("stale"):
        head += f"  STALE: last update {status['age_s']:.1f} s ago (master stopped or stuck)"
    lines = [head, f"{'ig':>4} {'online':>6} {'fps':>6} {'render_ms':>9} {'missed':>6} {'swaps':>7}"]
    for n in status["nodes"]:
        lines.append(f"{n['ig']:>4} {'yes' if n['online'] else 'NO':>6} {n['fps']:6.1f} "
                     f"{n['render_ms']:9.2f} {n['missed']:>6} {n.get('swaps', 0):>7}")
    rejected = status.get("rejected") or {}
    if rejected:
        lines.append("rejected: " + ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())))
    return "\n".join(lines)
