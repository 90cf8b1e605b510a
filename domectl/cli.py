"""The ``domectl`` command: one subcommand per job, each with ``--help``."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from datetime import datetime, timezone
from pathlib import Path

from domectl import __version__
from domectl.argtypes import positive_int_arg
from domectl.errors import ConfigError, DomectlError


def parse_utc(text: str | None) -> datetime:
    """ISO 8601 -> aware UTC datetime; a time without a zone is taken as UTC; None is now."""
    if text is None or text == "now":
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--time {text!r}: not an ISO 8601 time; write e.g. 2026-11-20T21:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--scale {text!r}: not a number") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"--scale {value:g}: must be in (0, 1]; 1 is full resolution")
    return value


def _rate(text: str) -> float:
    from domectl.simclock import check_rate

    try:
        return check_rate(float(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--rate {text!r}: {e}") from None


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")


def _keys_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keys", type=Path, default=None, metavar="DIR",
                   help="the hall's CURVE keys (default: <config dir>/keys; made by `domectl keys`)")


#: The smallest domemaster side `render` and `show render` draw (a thumbnail still shows the sky).
MIN_SIZE_PX = 16


def size_px_arg(text: str) -> int:
    """``--size`` of `domectl render` and `domectl show render`: a domemaster side in pixels."""
    from domectl.still import MAX_STILL_PX

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text!r}: not a whole number of pixels") from None
    if not MIN_SIZE_PX <= value <= MAX_STILL_PX:
        raise argparse.ArgumentTypeError(f"--size {value}: must be in [{MIN_SIZE_PX}, {MAX_STILL_PX}] pixels")
    return value


def _layer_names() -> tuple[str, ...]:
    from domectl.layermix import LAYER_NAMES

    return LAYER_NAMES


def _numbers(text: str, what: str, count: int) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{what} {text!r}: write {count} numbers separated by commas")
    return values


def _zoom(text: str) -> float:
    from domectl.projection import MAX_ZOOM, MIN_ZOOM

    try:
        zoom = float(text)
    except ValueError:
        zoom = math.nan
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise argparse.ArgumentTypeError(f"--zoom {text!r}: a magnification from {MIN_ZOOM:g} to {MAX_ZOOM:g}")
    return zoom


def _view(text: str) -> tuple[float, float]:
    az, alt = _numbers(text, "--view", 2)
    if not -90.0 <= alt <= 90.0:
        raise argparse.ArgumentTypeError(f"--view {text!r}: the altitude must be in [-90, 90] degrees")
    return az % 360.0, alt


def _rect(text: str) -> tuple[float, float, float, float]:
    u0, v0, u1, v1 = _numbers(text, "--rect", 4)
    if not (0.0 <= u0 < u1 <= 1.0 and 0.0 <= v0 < v1 <= 1.0):
        raise argparse.ArgumentTypeError(f"--rect {text!r}: need 0 <= U0 < U1 <= 1 and 0 <= V0 < V1 <= 1")
    return u0, v0, u1, v1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="domectl", description="An open planetarium dome engine: master, IG nodes, sky, warp.")
    parser.add_argument("--version", action="version", version=f"domectl {__version__}")
    parser.add_argument("--log-level", default="warning",
                        choices=["debug", "info", "warning", "error"], help="logging detail (default: warning)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="the embedded default: master + every IG as processes on this machine",
                       description="Start the master and one node process per IG on this machine, exchange "
                                   "frames over real ZeroMQ sockets with a swap barrier, and write each IG's "
                                   "output, the reconstructed domemaster and metrics to --out.")
    _config_arg(p)
    p.add_argument("--headless", action="store_true", help="render offscreen through EGL (no window)")
    p.add_argument("--frames", type=positive_int_arg, default=8, help="frames to run (default: 8)")
    p.add_argument("--scale", type=_scale, default=0.125,
                   help="shrink every projector's resolution by this factor (default: 0.125; 1 = full)")
    p.add_argument("--out", type=Path, default=Path("out/run"), help="output directory (default: out/run)")
    p.add_argument("--time", default=None, help="UTC start time, ISO 8601 (default: now)")
    p.add_argument("--rate", type=_rate, default=1.0,
                   help="sim seconds per show second, -1e7..1e7; negative runs backwards, 0 pauses (default: 1)")
    p.add_argument("--refraction", action="store_true",
                   help="apply atmospheric refraction (10 C, the standard pressure at the site's elevation)")
    p.add_argument("--live", action="store_true",
                   help="pace frames at the hall's fps with its swap deadline instead of lockstep")
    p.add_argument("--igs", default=None, help="only these IG ids, e.g. 1,3,5 (default: all)")
    p.add_argument("--calibration", choices=("store", "hall"), default="store",
                   help="the projectors' warp from the hall's calibration store (default; made from the config "
                        "on first use) or from the hall config only")
    p.add_argument("--pattern", type=_pattern_arg, default=None, metavar="NAME[:P01,P02]",
                   help="show a test pattern (calibration/patterns.py) instead of the sky, on these projectors")
    _show_args(p)

    p = sub.add_parser("master", help="run the master on this control computer",
                       description="Run the master: bind the hall's frame and control ports, wait for the "
                                   "IGs, and drive frames live at the hall's fps.")
    _config_arg(p)
    p.add_argument("--frames", type=positive_int_arg, default=None, help="stop after this many frames (default: run)")
    p.add_argument("--time", default=None, help="UTC start time, ISO 8601 (default: now)")
    p.add_argument("--rate", type=_rate, default=1.0,
                   help="sim seconds per show second, -1e7..1e7; negative runs backwards, 0 pauses (default: 1)")
    p.add_argument("--lockstep", action="store_true", help="wait for every node each frame (offline)")
    p.add_argument("--refraction", action="store_true", help="apply atmospheric refraction")
    p.add_argument("--join-timeout", type=float, default=30.0, help="seconds to wait for IGs to join")
    p.add_argument("--standby", action="store_true",
                   help="run as the standby master: mirror the primary, take over within 1 s if it dies")
    _show_args(p)
    _keys_arg(p)

    p = sub.add_parser("node", help="run one image generator (IG)",
                       description="Run one IG: receive frames from the master, render its projector's slice "
                                   "of the sky, warp and blend it, and present it at each swap.")
    _config_arg(p)
    p.add_argument("--ig", type=positive_int_arg, required=True, help="this node's IG id (see cluster.toml)")
    p.add_argument("--headless", action="store_true", help="render offscreen through EGL (no window)")
    p.add_argument("--scale", type=_scale, default=1.0, help="shrink the projector resolution (default: 1)")
    p.add_argument("--out", type=Path, default=None, help="write the last presented frame as igNN.png here")
    p.add_argument("--frame-endpoint", default=None, help=argparse.SUPPRESS)
    p.add_argument("--control-endpoint", default=None, help=argparse.SUPPRESS)
    p.add_argument("--exit-with-master", action="store_true",
                   help="exit when the master ends the run (embedded use) instead of waiting for it")
    _keys_arg(p)
    p.add_argument("--keys-from-env", action="store_true", help=argparse.SUPPRESS)   # set by `domectl run`

    p = sub.add_parser("render", help="render one domemaster frame to a PNG (headless, or in a window)",
                       description="Render the sky of one moment as a whole domemaster (or a rectangle of it) "
                                   "with the chosen layers, the same way the cluster draws it, and write a PNG.")
    _config_arg(p)
    p.add_argument("--time", default=None, help="UTC time, ISO 8601 (default: now)")
    p.add_argument("--size", type=size_px_arg, default=2048, help="domemaster side in pixels (default: 2048)")
    p.add_argument("--layers", default="default",
                   help="comma-separated layers, or 'all', 'default' (the sky as the eye sees it), 'none'; "
                        "known: " + ", ".join(_layer_names()))
    p.add_argument("--view", type=_view, default=None, metavar="AZ,ALT",
                   help="sky azimuth at the dome's front and view altitude, degrees (default: the hall's front, 0)")
    p.add_argument("--zoom", type=_zoom, default=1.0,
                   help="magnify the sky about the point 30 deg above the dome's front, 0.25..100 (default: 1)")
    p.add_argument("--lang", choices=["fr", "en", "nl", "de"], default=None,
                   help="label language (default: the hall's)")
    p.add_argument("--pointer", default="", help="highlight an object: a planet (mars), HIP 27989, or Ori")
    p.add_argument("--caption", default=None, help="a text overlay at the front of the dome")
    p.add_argument("--rect", type=_rect, default=(0.0, 0.0, 1.0, 1.0), metavar="U0,V0,U1,V1",
                   help="render only this rectangle of the domemaster (0..1, v up; default: all of it)")
    p.add_argument("--refraction", action="store_true", help="apply atmospheric refraction")
    p.add_argument("--eye", choices=("left", "right", "mono"), default="mono",
                   help="render one eye's picture of the stereo pair (near objects shift between them; "
                        "default: mono)")
    p.add_argument("--window", action="store_true",
                   help="also show the frame in a window (GLFW; needs a display) until it is closed")
    p.add_argument("--hold", type=float, default=None, metavar="S",
                   help="with --window: close the window after S seconds (default: when the user closes it)")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")

    p = sub.add_parser("status", help="the running master's frame and every IG's health",
                       description="Read the running master's status (frame, and per IG: online, fps, render "
                                   "time, missed swaps). Exit status 0 when the master is live, 1 when it is "
                                   "stopped, stale or absent.")
    _config_arg(p)
    p.add_argument("--json", action="store_true", help="print JSON (frame, nodes[ig, online, fps, render_ms, missed])")

    p = sub.add_parser("config", help="check a hall config directory",
                       description="Load and validate a hall config; print a summary, or the error "
                                   "naming file and key.")
    _config_arg(p)

    p = sub.add_parser("data", help="check the bundled sky data against its manifest",
                       description="Verify the sha256 of every bundled sky data file against "
                                   "domectl/data/MANIFEST.json and print their provenance.")

    p = sub.add_parser("sky", help="where the Sun, Moon, planets and brightest stars are",
                       description="Alt/az, magnitude (and phase for bodies) of the Sun, Moon, planets and "
                                   "the 30 brightest stars, as seen from the hall's site.")
    _config_arg(p)
    p.add_argument("--time", default=None, help="UTC time, ISO 8601 (default: now)")
    p.add_argument("--refraction", action="store_true", help="apply atmospheric refraction")
    p.add_argument("--json", action="store_true", help="print JSON")

    from domectl import cli_calibrate, cli_keys, cli_poll, cli_preview, cli_show, cli_votes, cli_warp

    cli_warp.add_parser(sub)
    cli_keys.add_parser(sub)
    cli_show.add_parser(sub)
    cli_poll.add_parser(sub)
    cli_votes.add_parser(sub)
    cli_preview.add_parser(sub)
    cli_calibrate.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()),
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    try:
        if args.command in ("run", "master", "sky", "render") and args.time is not None:
            args.time = parse_utc(args.time)
        return COMMANDS[args.command](args)
    except argparse.ArgumentTypeError as e:
        parser.error(str(e))
    except DomectlError as e:
        print(f"domectl {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"domectl {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                # `domectl ... | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


def _show_args(p) -> None:
    p.add_argument("--show", type=Path, default=None, metavar="FILE",
                   help="play this show from the first frame (it drives time, place, view, layers, texts)")
    p.add_argument("--show-from", default=None, metavar="T",
                   help="with --show: start at this show time (seconds, MM:SS, HH:MM:SS.s) or label")


def start_show(master, args) -> None:
    """``--show FILE [--show-from T]``: load the show into ``master`` and play it from the next frame."""
    if args.show_from is not None and args.show is None:
        raise argparse.ArgumentTypeError("--show-from needs --show FILE")
    if args.show is None:
        return
    run = master.load_show(args.show)
    if args.show_from is not None:
        try:
            target = float(args.show_from)
        except ValueError:
            target = args.show_from
        run.seek(target, master.next_time_s())
    run.play(master.next_time_s())
    print(f"show: {run.title} ({run.path}) playing from {run.playhead.show_time(master.next_time_s()):.1f} s",
          flush=True)


def _pattern_arg(text: str) -> str:
    from calibration.patterns import parse_spec

    try:
        parse_spec(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _before_run(master, args) -> None:
    if args.pattern is not None:
        from calibration.patterns import check_projectors, parse_spec

        try:
            check_projectors(master.hall, parse_spec(args.pattern)[1])
        except ConfigError as e:
            raise argparse.ArgumentTypeError(f"--pattern: {e}") from None
        master.pattern = args.pattern
    start_show(master, args)


def cmd_run(args) -> int:
    from domectl.config import load_hall
    from domectl.embedded import run_embedded

    hall = load_hall(args.config)
    igs = None
    if args.igs:
        try:
            igs = tuple(int(x) for x in args.igs.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--igs {args.igs!r}: write IG ids like 1,2,3") from None
        for i in igs:
            hall.ig(i)
    report = run_embedded(hall, frames=args.frames, scale=args.scale, out_dir=args.out,
                          start_utc=args.time or parse_utc(None), rate=args.rate, lockstep=not args.live,
                          refraction=args.refraction,
                          headless=args.headless, igs=igs, calibration=args.calibration,
                          before_run=lambda master: _before_run(master, args))
    return 0 if report["ok"] else 1


def cmd_master(args) -> int:
    from domectl.config import load_hall
    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from domectl.master import Master, Scene
    from domectl.oscio import TIMECODE_ADDRESS, AudioCues, TimecodeChase
    from domectl.status import status_path
    from domectl.transport import MasterLink

    from domectl.keys import default_keys_dir, load_master_keys
    from domectl.services import open_votes

    import signal

    def stop_on_term(signum, frame):      # systemd's stop: the same orderly end as Ctrl-C
        raise KeyboardInterrupt

    if args.standby and args.show is not None:
        raise argparse.ArgumentTypeError("--show is for the primary: a standby continues the primary's show")
    signal.signal(signal.SIGTERM, stop_on_term)
    hall = load_hall(args.config)
    keys_dir = args.keys or default_keys_dir(hall.root)
    keys = load_master_keys(keys_dir, [g.id for g in hall.igs])
    host, frame_port, control_port = hall.master.sockets(standby=args.standby)
    link = MasterLink("*" if host != "127.0.0.1" else "127.0.0.1", frame_port, control_port, keys=keys)
    scene = Scene(start_utc=args.time or parse_utc(None), rate=args.rate,
                  view_az_deg=hall.dome.front_az_deg, language=hall.default_language,
                  refraction=args.refraction)
    audio = AudioCues(hall.osc.audio_host, hall.osc.audio_port)
    timecode = TimecodeChase(hall.osc.timecode_port, hall.osc.allowed_networks) if hall.osc.timecode_port else None
    role = "standby" if args.standby else "primary"
    master = Master(hall, link, CachedEphemeris(Ephemeris()), scene,
                    status_file=None if args.standby else status_path(hall.name),
                    audio=audio, timecode=timecode, role=role, votes=open_votes(hall, role))
    services = None
    start_show(master, args)
    if timecode is not None:
        print(f"master: chasing OSC timecode {TIMECODE_ADDRESS} on udp port {timecode.port}", flush=True)
    print(f"master: frames on {link.frame_endpoint}, control on {link.control_endpoint}", flush=True)
    try:
        if args.standby:
            from domectl.standby import Watch, take_over, watch_until_dead
            from domectl.transport import WatchLink

            primary_frames = hall.master.endpoints[0]
            watch, watch_link = Watch(), WatchLink(primary_frames, keys=keys)
            print(f"master: standby, watching the primary on {primary_frames}", flush=True)
            try:
                if not watch_until_dead(watch, watch_link):
                    return 0
            finally:
                watch_link.close()
            take_over(master, watch)
            master.status_file = status_path(hall.name)
            print(f"master: took over after frame {master.barrier.frame}", flush=True)
            services = _start_services(hall, master, keys_dir)
        else:
            print(f"master: status in {master.status_file}", flush=True)
            services = _start_services(hall, master, keys_dir)
            joined = master.wait_for_nodes(args.join_timeout,
                                           lambda n, total: print(f"master: {n}/{total} IGs joined", flush=True))
            if joined == 0:
                print("master: no IG joined; starting anyway, late nodes join from a snapshot", flush=True)
        master.run(args.frames, lockstep=args.lockstep)
    finally:
        master.shutdown(final=False)
        if services is not None:
            services.stop()
        master.votes.release()
        link.close()
    print(json.dumps({**master.metrics.summary(master.barrier), "rejected_peers": link.rejected_peers},
                     indent=2))
    return 0


def _start_services(hall, master, keys_dir):
    from domectl.services import start_services

    services = start_services(hall, master, keys_dir)
    base = f"http://{hall.master.host}:{services.control.port}"
    print(f"master: votes on udp port {hall.osc.vote_port} (/vote <seat> <button>), control surfaces on udp port "
          f"{services.osc_control.port} (/domectl/...), control API on {base}/api/state", flush=True)
    # The token in the fragment: a browser keeps it and never sends it to a server. Printed only
    # to a terminal: a master run by systemd would otherwise leave it in the journal.
    if sys.stdout.isatty():
        print(f"master: operator console on {base}/#token={services.control.token}", flush=True)
    else:
        from domectl.control import TOKEN_FILE
        from domectl.status import run_dir

        where = keys_dir / TOKEN_FILE if keys_dir is not None and (keys_dir / TOKEN_FILE).is_file() \
            else run_dir(hall.name) / TOKEN_FILE
        print(f"master: operator console on {base}/ (its control token is in {where}; open "
              f"{base}/#token=<token> once on each console)", flush=True)
    return services


def cmd_node(args) -> int:
    import os

    from domectl.config import load_hall
    from domectl.keys import default_keys_dir, load_node_keys, node_keys_from_env
    from domectl.runner import run_node

    hall = load_hall(args.config)
    hall.ig(args.ig)
    if args.keys_from_env:
        keys = node_keys_from_env(os.environ, args.ig)
    else:
        keys = load_node_keys(args.keys or default_keys_dir(hall.root), args.ig)
    frame_ep, control_ep = hall.master.endpoints
    explicit = args.frame_endpoint or args.control_endpoint
    frame_ep, control_ep = args.frame_endpoint or frame_ep, args.control_endpoint or control_ep
    # The hall's standby master is the node's second choice (not for an embedded run's own master).
    standby = hall.master.standby_endpoints if hall.master.has_standby and not explicit else None
    return run_node(hall, args.ig, frame_ep, control_ep, scale=args.scale, out_dir=args.out,
                    headless=args.headless, exit_with_master=args.exit_with_master, keys=keys,
                    standby=standby)


def cmd_status(args) -> int:
    from domectl.config import load_hall
    from domectl.status import format_status, read_status, status_path

    hall = load_hall(args.config)
    status = read_status(status_path(hall.name))
    print(json.dumps(status, indent=1) if args.json else format_status(status))
    return 1 if status["stale"] or status.get("stopped") else 0


def cmd_keys(args) -> int:
    from domectl.cli_keys import cmd_keys as keys

    return keys(args)


def cmd_warp(args) -> int:
    from domectl.cli_warp import cmd_warp as warp

    return warp(args)


def cmd_config(args) -> int:
    from domectl.config import load_hall

    hall = load_hall(args.config)
    print(f"{hall.name}: {hall.root}")
    print(f"  site {hall.site.name} {hall.site.latitude_deg:.3f}, {hall.site.longitude_deg:.3f}, "
          f"{hall.site.elevation_m:g} m")
    print(f"  dome radius {hall.dome.radius_m:g} m, tilt {hall.dome.tilt_deg:g} deg")
    print(f"  {len(hall.projectors)} projectors, {len(hall.igs)} IGs, {hall.seats.total} seats")
    return 0


def cmd_data(args) -> int:
    from domectl.skydata import manifest, verify_manifest

    verify_manifest()
    for name, entry in sorted(manifest()["files"].items()):
        sources = ", ".join(f"{s.get('package')} {s.get('version')} ({s.get('licence')})"
                            for s in entry.get("sources", []))
        print(f"ok  {name}  {entry['sha256'][:16]}  from {sources}")
    return 0


def cmd_sky(args) -> int:
    from domectl.config import load_hall
    from domectl.ephemeris import Ephemeris, sky_table

    hall = load_hall(args.config)
    s = hall.site
    rows = sky_table(Ephemeris(), args.time or parse_utc(None), s.latitude_deg, s.longitude_deg,
                     s.elevation_m, refraction=args.refraction)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'name':<12} {'hip':>7} {'alt':>8} {'az':>8} {'mag':>6} {'phase':>6}")
    for r in rows:
        hip = "" if r["hip"] is None else r["hip"]
        phase = "" if r["phase"] is None else f"{r['phase']:.2f}"
        print(f"{r['name']:<12} {hip:>7} {r['alt_deg']:8.2f} {r['az_deg']:8.2f} {r['mag']:6.2f} {phase:>6}")
    return 0


def cmd_render(args) -> int:
    from domectl.config import load_hall
    from domectl.ephemeris import Ephemeris
    from domectl.frame import Overlay
    from domectl.layermix import parse_layers
    from domectl.skydata import load_stars
    from domectl.still import StillRequest, render_still, still_frame, still_size

    hall = load_hall(args.config)
    view_az, view_alt = args.view if args.view is not None else (None, 0.0)
    overlays = ()
    if args.caption:
        overlays = (Overlay("text", args.caption, dome_az_deg=0.0, dome_elev_deg=25.0, size_deg=3.0),)
    request = StillRequest(utc=args.time or parse_utc(None), size_px=args.size, layers=parse_layers(args.layers),
                           view_az_deg=view_az, view_alt_deg=view_alt, zoom=args.zoom, language=args.lang,
                           pointer=args.pointer, overlays=overlays, rect_uv=args.rect,
                           refraction=args.refraction, eye=args.eye)
    state = still_frame(hall, request, Ephemeris())
    catalog = load_stars()
    if args.window:
        from render.window import show_in_window

        image = show_in_window(lambda ctx: render_still(ctx, hall, state, request, catalog), still_size(request),
                               title=f"domectl render {request.utc:%Y-%m-%d %H:%M} UTC", hold_s=args.hold)
    else:
        from render.context import create_context

        ctx = create_context("egl")
        image = render_still(ctx, hall, state, request, catalog)
    from render.image import save_png

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(args.out, image)
    w, h = still_size(request)
    print(f"wrote {args.out} ({w} x {h}, {request.utc:%Y-%m-%dT%H:%M:%SZ}, sun {state.sun_alt_deg:+.1f} deg, "
          f"layers {','.join(request.layers) or 'none'}"
          f"{'' if request.eye == 'mono' else ', ' + request.eye + ' eye'})")
    return 0


def _lazy(module: str, function: str):
    """A command implemented in domectl.<module> (imported when it runs)."""
    def run(args) -> int:
        import importlib

        return getattr(importlib.import_module(f"domectl.{module}"), function)(args)
    return run


COMMANDS = {"run": cmd_run, "master": cmd_master, "node": cmd_node, "config": cmd_config,
            "data": cmd_data, "sky": cmd_sky, "render": cmd_render, "status": cmd_status,
            "warp": cmd_warp, "keys": cmd_keys, "show": _lazy("cli_show", "cmd_show"),
            "poll": _lazy("cli_poll", "cmd_poll"), "votes": _lazy("cli_votes", "cmd_votes"),
            "calibrate": _lazy("cli_calibrate", "cmd_calibrate"),
            "preview": _lazy("cli_preview", "cmd_preview")}


if __name__ == "__main__":
    sys.exit(main())
