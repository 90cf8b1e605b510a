"""``domectl warp``: build a hall's calibration set, import and export calibration files.

    domectl warp build  [--config DIR] --out DIR [--scale S] [--mask-width PX] [--warp-width PX]
    domectl warp import FILE --out DIR [--format auto|mpcdi|bourke|pfm] [--convention guess|absolute|displacement]
    domectl warp export [--config DIR] --format bourke|pfm --out DIR [--scale S]

``build`` writes ``<hall>.mpcdi``, ``blend_pNN.png``, ``coverage.png``,
``blend_sum.png`` and ``report.json`` (warp/build.py) and prints one line per
step on stderr. ``import`` reads an MPCDI archive, a Paul Bourke mesh or a PFM
warp map, checks it, and writes preview PNGs and ``summary.json``.
``export`` writes each projector's model-based warp as a Bourke mesh
(intensity = blend weight, gamma-encoded) or a PFM warp map.

Wired into ``domectl`` by :func:`add_parser` and :func:`cmd_warp`;
``python -m domectl.cli_warp warp ...`` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from domectl.cli import _scale  # one --scale rule for every command
from domectl.errors import DomectlError

IMPORT_FORMATS = ("auto", "mpcdi", "bourke", "pfm")
EXPORT_FORMATS = ("bourke", "pfm")
# Preview pictures written by `warp import`, pixels across.
PREVIEW_WIDTH_PX = 512
# `warp export --format pfm`: warp map samples across (height in proportion).
EXPORT_PFM_WIDTH_PX = 512


def _width(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a whole number of pixels") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 2 pixels")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``warp`` and its actions to ``domectl``'s subparsers; returns the ``warp`` parser."""
    p = subparsers.add_parser(
        "warp", help="build, import and export warp and blend calibration",
        description="Build a hall's calibration set from its projector models (MPCDI 2.0 + blend PNGs + "
                    "coverage and blend-sum maps + report), or import and export calibration files "
                    "(MPCDI, Paul Bourke meshes, PFM warp maps).")
    actions = p.add_subparsers(dest="warp_command", metavar="ACTION", required=True)

    b = actions.add_parser(
        "build", help="write the hall's calibration set and check it",
        description="Ray-cast every projector to the dome, build warp meshes, blend and black-level maps, "
                    "and write <hall>.mpcdi, blend_pNN.png, coverage.png, blend_sum.png and report.json "
                    "to --out, each file atomically (report.json last).")
    _config(b)
    b.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    b.add_argument("--scale", type=_scale, default=1.0,
                   help="shrink every projector's resolution by this factor (default: 1 = full)")
    b.add_argument("--mask-width", type=_width, default=None, metavar="PX",
                   help="blend/black maps this many pixels across (default: 1024, at most the projector's)")
    b.add_argument("--warp-width", type=_width, default=None, metavar="PX",
                   help="MPCDI warp maps this many samples across (default: 512, at most the projector's)")
    b.add_argument("--preview-px", type=_width, default=None, metavar="PX",
                   help="coverage.png and blend_sum.png side (default: 1024)")

    i = actions.add_parser(
        "import", help="read an MPCDI, Bourke or PFM file, check it, write previews",
        description="Read a calibration file (MPCDI .mpcdi archive, Paul Bourke .data mesh or PFM warp map), "
                    "report what it holds, and write preview PNGs and summary.json to --out.")
    i.add_argument("file", type=Path, metavar="FILE", help="the file to import")
    i.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    i.add_argument("--format", choices=IMPORT_FORMATS, default="auto",
                   help="file format (default: from the extension, else the first bytes)")
    i.add_argument("--convention", choices=("guess", "absolute", "displacement"), default="guess",
                   help="how PFM warp values read: absolute coordinates, displacements from the sample's "
                        "position, or guess (default)")

    e = actions.add_parser(
        "export", help="write each projector's warp as Bourke meshes or PFM warp maps",
        description="Write every projector's model-based warp to --out: 'bourke' as <projector>.data "
                    "(x, y on the image, u, v domemaster, intensity = blend weight gamma-encoded), "
                    "'pfm' as <projector>_warp.pfm (domemaster coordinates, top-left origin, y down).")
    _config(e)
    e.add_argument("--format", choices=EXPORT_FORMATS, required=True, help="bourke or pfm")
    e.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory (created)")
    e.add_argument("--scale", type=_scale, default=1.0, help="shrink the projectors' resolution (default: 1)")
    return p


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="DIR",
                   help="hall config directory (default: the embedded reference hall, config/lacoupole)")


def stderr_progress(prefix: str = "warp build", stream=None):
    """A ``progress(stage, done, total)`` callback printing ``warp build: blend 3/12`` lines."""

    def report(stage: str, done: int, total: int) -> None:
        print(f"{prefix}: {stage} {done}/{total}", file=stream or sys.stderr, flush=True)

    return report


def cmd_warp(args) -> int:
    """Run ``domectl warp ACTION``; the exit status (errors propagate as :class:`DomectlError`)."""
    return {"build": cmd_warp_build, "import": cmd_warp_import, "export": cmd_warp_export}[args.warp_command](args)


def _hall_models(config, scale: float):
    from domectl.config import load_hall
    from domectl.hallwarp import dome_model, eye_m, projector_models

    hall = load_hall(config)
    return hall, dome_model(hall), projector_models(hall, scale), eye_m(hall)


def _hall_stem(hall) -> str:
    return hall.root.name if hall.root is not None else hall.name


def cmd_warp_build(args) -> int:
    from warp.build import (
        DEFAULT_MASK_WIDTH_PX,
        DEFAULT_PREVIEW_PX,
        DEFAULT_WARP_WIDTH_PX,
        build_hall_warp,
    )

    hall, dome, projectors, eye = _hall_models(args.config, args.scale)
    report = build_hall_warp(
        dome, projectors, eye, args.out, name=_hall_stem(hall),
        mask_width_px=args.mask_width or DEFAULT_MASK_WIDTH_PX,
        warp_width_px=args.warp_width or DEFAULT_WARP_WIDTH_PX,
        buffer_px=max(2, round(hall.render.domemaster_px * args.scale)),
        preview_px=args.preview_px or DEFAULT_PREVIEW_PX,
        progress=stderr_progress(),
    )
    print(f"{args.out / report['files']['mpcdi']}: {report['projector_count']} projectors; "
          f"coverage {100 * report['coverage_fraction']:.3f} %, "
          f"blend sum within {100 * report['blend_sum_max_deviation']:.3f} %, "
          f"warp error <= {report['warp_error_max_px']:.3f} px")
    return 0


def _sniff(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in (".mpcdi", ".zip"):
        return "mpcdi"
    if ext in (".data", ".txt"):
        return "bourke"
    if ext == ".pfm":
        return "pfm"
    from warp.formats._io import FormatError, read_bytes

    head = read_bytes(path)[:4]
    if head.startswith(b"PK"):
        return "mpcdi"
    if head[:2] in (b"PF", b"Pf"):
        return "pfm"
    if head[:1].isdigit():
        return "bourke"
    raise FormatError(f"{path}: cannot tell its format from the name or the first bytes {head!r}: "
                      "give --format mpcdi, bourke or pfm")


def _range(a) -> list[float] | None:
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return [float(a.min()), float(a.max())] if a.size else None


def cmd_warp_import(args) -> int:
    import numpy as np

    from warp.formats import read_bourke, read_mpcdi, read_pfm_warp, write_png
    from warp.formats._io import atomic_write_bytes
    from warp.formats.preview import warp_preview

    fmt = args.format if args.format != "auto" else _sniff(args.file)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []

    def png(name: str, image) -> None:
        write_png(out / name, image)
        written.append(name)

    if fmt == "mpcdi":
        doc = read_mpcdi(args.file, warp_convention=args.convention)
        regions = []
        for buf in doc.buffers:
            for r in buf.regions:
                entry = {"id": r.id, "buffer": buf.id, "resolution_px": [r.x_resolution_px, r.y_resolution_px],
                         "xywh": [r.x, r.y, r.x_size, r.y_size],
                         "frustum": None if r.frustum is None else vars(r.frustum)}
                stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in r.id)
                if r.warp is not None:
                    w = r.absolute_warp()
                    entry["warp"] = {"shape": list(w.shape), "convention": w.convention,
                                     "interpolation": r.warp_interpolation, "valid_fraction": float(w.valid.mean()),
                                     "x_range": _range(w.coords[..., 0]), "y_range": _range(w.coords[..., 1])}
                    png(f"{stem}_warp.png", warp_preview(w.coords, w.valid, PREVIEW_WIDTH_PX,
                                                         r.x_resolution_px / r.y_resolution_px))
                for key, image, lin in (("alpha", r.alpha, r.alpha_linear()), ("beta", r.beta, r.beta_linear())):
                    if image is None:
                        continue
                    entry[key] = {"shape": list(image.shape), "bit_depth": 8 * image.dtype.itemsize,
                                  "linear_range": _range(lin)}
                    # Previews are 8-bit and linear light: what each projector multiplies by.
                    preview = np.rint(255 * np.clip(lin if lin.ndim == 2 else lin.mean(axis=2), 0, 1)).astype(np.uint8)
                    png(f"{stem}_{key}.png", preview)
                if r.alpha is not None:
                    entry["alpha"]["gamma_embedded"] = r.alpha_gamma
                regions.append(entry)
        summary = {"format": "mpcdi", "profile": doc.profile, "geometry_level": doc.geometry_level,
                   "version": doc.version, "date": doc.date,
                   "buffers": [{"id": b.id, "resolution_px": [b.x_resolution_px, b.y_resolution_px]}
                               for b in doc.buffers], "regions": regions}
        line = f"MPCDI {doc.version} profile {doc.profile}, {len(regions)} region(s)"
    elif fmt == "bourke":
        mesh = read_bourke(args.file)
        # Texture coordinates with v up -> the preview's y down; black nodes show black.
        coords = np.stack([mesh.uv[..., 0], 1.0 - mesh.uv[..., 1]], axis=-1)
        lit = mesh.intensity > 0
        if mesh.xy[0, 0, 1] < mesh.xy[-1, 0, 1]:
            coords, lit = coords[::-1], lit[::-1]  # the file starts at the bottom row
        png("warp.png", warp_preview(coords, lit, PREVIEW_WIDTH_PX, mesh.aspect))
        summary = {"format": "bourke", "mesh_type": mesh.mesh_type, "nodes": [mesh.shape[1], mesh.shape[0]],
                   "aspect": mesh.aspect, "u_range": _range(mesh.uv[..., 0]), "v_range": _range(mesh.uv[..., 1]),
                   "intensity_range": _range(mesh.intensity), "black_nodes": int((mesh.intensity <= 0).sum())}
        line = f"Paul Bourke mesh {mesh.shape[1]} x {mesh.shape[0]} nodes, aspect {mesh.aspect:.5g}"
    else:
        w = read_pfm_warp(args.file, args.convention)
        png("warp.png", warp_preview(w.coords, w.valid, PREVIEW_WIDTH_PX))
        summary = {"format": "pfm", "shape": list(w.shape), "convention": w.convention,
                   "valid_fraction": float(w.valid.mean()), "x_range": _range(w.coords[..., 0]),
                   "y_range": _range(w.coords[..., 1])}
        line = f"PFM warp {w.shape[1]} x {w.shape[0]} ({w.convention})"
    summary["file"] = str(args.file)
    summary["written"] = written + ["summary.json"]
    atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=2) + "\n").encode("utf-8"))
    print(f"{args.file}: {line}; wrote {', '.join(summary['written'])} to {out}")
    return 0


def cmd_warp_export(args) -> int:
    import numpy as np

    from warp.blend import blend_weights
    from warp.build import mesh_step_for
    from warp.formats import (
        mesh_to_bourke,
        mesh_to_mpcdi_warp,
        write_bourke,
        write_pfm_warp,
    )
    from warp.mesh import build_mesh

    hall, dome, projectors, eye = _hall_models(args.config, args.scale)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, p in enumerate(projectors):
        mesh = build_mesh(dome, p, eye, mesh_step_for(p))
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in p.name)
        if args.format == "bourke":
            weight = blend_weights(dome, projectors, eye, index, mesh.pixel_xy.reshape(-1, 2)).reshape(mesh.shape)
            # Bourke's intensity multiplies the (gamma-encoded) signal: encode the linear weight.
            intensity = np.clip(weight, 0.0, 1.0) ** (1.0 / p.gamma)
            name = f"{stem}.data"
            write_bourke(out / name, mesh_to_bourke(mesh, intensity))
        else:
            cols = min(EXPORT_PFM_WIDTH_PX, p.width_px)
            rows = max(2, round(p.height_px * cols / p.width_px))
            name = f"{stem}_warp.pfm"
            # The whole domemaster as the region: coordinates top-left origin, y down.
            write_pfm_warp(out / name, mesh_to_mpcdi_warp(mesh, cols, rows))
        written.append(name)
        print(f"warp export: {name} {index + 1}/{len(projectors)}", file=sys.stderr, flush=True)
    print(f"wrote {len(written)} {args.format} file(s) for {hall.name} to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``domectl warp`` on its own (what ``domectl`` does once :func:`add_parser` is wired in)."""
    parser = argparse.ArgumentParser(prog="domectl")
    add_parser(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    try:
        return cmd_warp(args)
    except DomectlError as e:
        print(f"domectl warp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("domectl warp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
