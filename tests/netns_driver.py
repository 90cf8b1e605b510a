"""A master or a node process for tests/test_netns.py: the real Master / NodeLoop over CURVE.

    python tests/netns_driver.py master --keys DIR --igs 1,2,3 --frames 300 --out master.json
    python tests/netns_driver.py node --ig 2 --host 10.213.2.1 --keys DIR --out ig02.json

Run inside a network namespace with ``ip netns exec``. The sky is a fixed
stand-in (the test is about the cluster link, not the ephemeris); the hall is
the reference hall, so ports, fps and deadline are the real ones unless
overridden. Each process writes a JSON report of what it saw to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import types
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domectl.config import load_hall
from domectl.keys import load_master_keys, load_node_keys
from domectl.master import Master, Scene
from domectl.node import NodeLoop
from domectl.transport import MasterLink, NodeLink

# After the final bye, keep the sockets open this long: LINGER is 0, so closing at once could
# drop the bye (or its retransmission, under packet loss) before it leaves the machine.
BYE_FLUSH_S = 0.5


class StillSky:
    def sample(self, utc, lat, lon, elev):
        return types.SimpleNamespace(tt_jd=2461000.5, enu_from_icrs=np.eye(3), beta_icrs=np.zeros(3),
                                     years_since_epoch=35.0, sun_alt_deg=-30.0, bodies=())


def run_master(args) -> dict:
    hall = load_hall()
    igs = tuple(int(x) for x in args.igs.split(","))
    link = MasterLink("0.0.0.0", args.frame_port, args.control_port,
                      keys=load_master_keys(args.keys, igs))
    master = Master(hall, link, StillSky(), Scene(start_utc=datetime(2026, 11, 20, 21, tzinfo=timezone.utc)),
                    igs=igs, fps=args.fps, deadline_ms=args.deadline_ms)
    t0 = time.monotonic()
    joined = master.wait_for_nodes(args.join_timeout)
    join_s = time.monotonic() - t0
    decisions = []
    if joined == len(igs):
        master.run(args.frames, lockstep=False,
                   progress=lambda n, d: decisions.append((d.waited_ns / 1e6, list(d.late))))
    # The barrier as the last frame left it (the nodes' byes below take them out of it).
    nodes = {n.ig: {"in_barrier": n.in_barrier, "online": n.online, "swaps": n.swaps, "missed": n.missed,
                    "joins": n.joins, "presented": n.presented_frame}
             for n in master.barrier.nodes.values()}
    master.shutdown(final=True)
    end = time.monotonic() + BYE_FLUSH_S
    while time.monotonic() < end:
        master.pump(20)
    report = {
        "joined": joined, "join_s": join_s, "frames": len(decisions),
        "waited_ms": [w for w, _ in decisions], "late": [late for _, late in decisions],
        "rejected_peers": dict(link.rejected_peers), "barrier_rejected": dict(master.barrier.rejected),
        "nodes": nodes,
    }
    link.close()
    return report


def run_node(args) -> dict:
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("flag", True))
    endpoint = f"tcp://{args.host}:{{}}"
    link = NodeLink(args.ig, endpoint.format(args.frame_port), endpoint.format(args.control_port),
                    keys=load_node_keys(args.keys, args.ig))
    loop = NodeLoop(args.ig, link, lambda state: state.frame)
    loop.run(should_stop=lambda: stop["flag"])
    s = loop.stats
    report = {"ig": args.ig, "finished": loop.finished, "presented_frame": loop.presented_frame,
              "rendered": s.frames_rendered, "presented": s.frames_presented, "missed_swaps": s.missed_swaps,
              "reconnects": s.reconnects, "dropped": s.dropped, "auth_failures": link.auth_failures}
    link.close()
    return report


def main(argv=None) -> int:
    hall = load_hall()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="role", required=True)
    for role in ("master", "node"):
        r = sub.add_parser(role)
        r.add_argument("--keys", type=Path, required=True)
        r.add_argument("--out", type=Path, required=True)
        r.add_argument("--frame-port", type=int, default=hall.master.frame_port)
        r.add_argument("--control-port", type=int, default=hall.master.control_port)
    m = sub.choices["master"]
    m.add_argument("--igs", required=True)
    m.add_argument("--frames", type=int, default=300)
    m.add_argument("--fps", type=float, default=hall.timing.fps)
    m.add_argument("--deadline-ms", type=float, default=hall.timing.swap_deadline_ms)
    m.add_argument("--join-timeout", type=float, default=30.0)
    n = sub.choices["node"]
    n.add_argument("--ig", type=int, required=True)
    n.add_argument("--host", required=True)
    args = p.parse_args(argv)
    report = run_master(args) if args.role == "master" else run_node(args)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report))
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
