"""The `domectl` command as a user meets it."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from domectl.cli import COMMANDS, build_parser, parse_utc

ROOT = Path(__file__).resolve().parent.parent


def _domectl(*args):
    return subprocess.run([sys.executable, "-m", "domectl", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_every_subcommand_has_help():
    result = _domectl("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout
        sub = _domectl(name, "--help")
        assert sub.returncode == 0, sub.stderr
        assert f"usage: domectl {name}" in sub.stdout


def test_the_installed_command_exists():
    exe = shutil.which("domectl", path=str(Path(sys.executable).parent))
    assert exe is not None, "the domectl console script is not installed next to this Python"
    assert subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.startswith("domectl ")


@pytest.mark.parametrize("args, message", [
    (["run", "--scale", "2"], "--scale 2: must be in (0, 1]"),
    (["run", "--scale", "big"], "--scale 'big': not a number"),
    (["run", "--frames", "0"], "0: must be at least 1"),
    (["run", "--time", "yesterday"], "--time 'yesterday': not an ISO 8601 time"),
    (["run", "--igs", "1,x"], "--igs '1,x': write IG ids like 1,2,3"),
    (["run", "--rate", "3e7"], "--rate '3e7': rate = 3e+07: must be within +-1e+07"),
    (["run", "--time", "1850-01-01T00:00:00Z"], "outside the ephemeris (JPL DE421)"),
    (["node", "--ig", "99", "--headless"], "no [[ig]] with id = 99"),
    (["render", "--zoom", "0.1"], "--zoom '0.1': a magnification from 0.25 to 100"),
    (["run", "--show-from", "moon"], "--show-from needs --show FILE"),
    (["master", "--standby", "--show", "shows/live-sky-tour.show"], "a standby continues the primary's show"),
])
def test_bad_arguments_are_explained(args, message):
    result = _domectl(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_config_errors_name_file_and_key(tmp_path):
    hall = tmp_path / "hall"
    shutil.copytree(ROOT / "config/lacoupole", hall)
    text = (hall / "hall.toml").read_text().replace("radius_m = 7.5", "radius_m = -1")
    (hall / "hall.toml").write_text(text)
    result = _domectl("config", "--config", str(hall))
    assert result.returncode == 2
    assert "hall.toml: dome.radius_m = -1: must be in (0, 100]" in result.stderr
    ok = _domectl("config", "--config", "config/lacoupole")
    assert ok.returncode == 0 and "12 projectors, 24 IGs, 134 seats" in ok.stdout


def test_times_are_utc_at_the_edges():
    assert parse_utc("2026-11-20T22:00:00+01:00").isoformat() == "2026-11-20T21:00:00+00:00"
    assert parse_utc("2026-11-20T21:00:00").isoformat() == "2026-11-20T21:00:00+00:00"
    assert parse_utc("2026-11-20T21:00:00Z").tzinfo is not None


def test_parser_defaults_run_the_embedded_hall():
    args = build_parser().parse_args(["run"])
    assert args.config is None and args.frames >= 1 and 0 < args.scale <= 1
