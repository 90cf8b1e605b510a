"""`domectl show render`: numbered domemaster PNGs, manifest, subtitles, resume, and offline == live.

Real GL (the session's EGL context) at 64-96 px; short shows written into tmp_path, and the
committed shows for a frame each. The offline == live test drives a real Master through its
frame loop (Master.run over a fake link) with the show loaded as the console loads it, draws
each live FrameState with the same renderer path, and compares it with the PNG that
``python -m domectl show render`` wrote for the same show time: pixel for pixel.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from domectl import __version__
from domectl.config import load_hall
from domectl.showrender import (
    FRAME_EPSILON,
    Progress,
    ShowFrames,
    ShowRenderError,
    add_render_parser,
    clipped_subtitles,
    cmd_show_render,
    done_ranges,
    draw_domemaster,
    frames_in,
    make_renderer,
    png_ok,
)
from render.image import load_png

ROOT = Path(__file__).resolve().parent.parent
SHOWS = ROOT / "shows"
SIZE = 64

# Motion in every frame: the view turns, the sky runs 600x, a text fades in and out, the pointer
# jumps: a frame off by one would differ.
MOTION = """\
title "Motion"
languages en fr
start 2026-11-20T21:00:00Z
site wizernes
view 180 30
rate 600
layers default,constellation-lines,cardinals

00:00      view 230 40 over 3 linear
00:00.5    text size 6 for 2 fade 0.5
             en "Hello"
             fr "Bonjour"
00:01      pointer saturn
00:02      text size 6 for 1
             en "Second text"
00:03      end
"""

BRANCHES = """\
title "Branches"
languages en fr
start 2026-11-20T21:00:00Z
view 180 30

00:00      poll next for 1
             en "Which?"
             option 1 en "One"
             option 2 en "Two"
             branch 1 -> one
             branch 2 -> two
             default -> one
00:01      label one
00:01      text size 12 for 1 fade 0
             en "AAA"
             fr "AAA-fr"
00:02      end
00:01      label two
00:01      text size 12 for 1 fade 0
             en "BBB"
00:02      end
"""


@pytest.fixture(scope="module")
def hall():
    return load_hall()


def write_show(tmp_path: Path, text: str, name: str = "t.show") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="domectl show")
    add_render_parser(parser.add_subparsers(dest="show_command"))
    return parser.parse_args(["render", *argv])


def render(gl_ctx, show: Path, out: Path, *extra: str) -> int:
    """``domectl show render`` in this process, with the session's GL context."""
    return cmd_show_render(parse([str(show), "--out", str(out), "--size", str(SIZE), *extra]), ctx=gl_ctx)


def frames(out: Path, suffix: str = "") -> list[Path]:
    return sorted(out.glob(f"frame_*{suffix}.png"))


def manifest(out: Path, name: str = "manifest.json") -> dict:
    return json.loads((out / name).read_text(encoding="utf-8"))


def stamps(paths) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in paths}


# ----------------------------------------------------------------- what a render writes


def test_numbered_frames_manifest_and_subtitles(gl_ctx, tmp_path, capsys, hall):
    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "4") == 0
    written = frames(out)
    # 0 .. 3 s at 4 fps, both ends included: 13 frames, numbered from 0.
    assert [p.name for p in written] == [f"frame_{k:06d}.png" for k in range(13)]
    assert all(png_ok(p, SIZE) for p in written)
    assert load_png(written[6]).shape == (SIZE, SIZE, 3)
    assert not list(out.glob(".*.tmp"))                      # no temporary file left behind
    m = manifest(out)
    assert m["format"] == 1 and m["domectl_version"] == __version__
    assert m["show_path"] == str(show.resolve())
    assert m["show_sha256"] == hashlib.sha256(show.read_bytes()).hexdigest()
    assert m["title"] == "Motion" and m["hall"] == hall.name
    assert (m["size_px"], m["fps"], m["from_s"], m["to_s"]) == (SIZE, 4.0, 0.0, 3.0)
    assert (m["eye"], m["language"], m["refraction"]) == (None, hall.default_language, False)
    assert m["start_utc"] == "2026-11-20T21:00:00Z" and m["poll_results"] == {}
    assert m["labels"] == [] and m["frame_count"] == 13 and m["frame_pattern"] == "frame_%06d.png"
    assert m["subtitles"] == {"en": {"srt": "subtitles.en.srt", "vtt": "subtitles.en.vtt"},
                              "fr": {"srt": "subtitles.fr.srt", "vtt": "subtitles.fr.vtt"}}
    assert (m["done"], m["done_count"], m["complete"]) == ([[0, 13]], 13, True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in written] + ["manifest.json", "subtitles.en.srt", "subtitles.en.vtt",
                                     "subtitles.fr.srt", "subtitles.fr.vtt"])
    captured = capsys.readouterr()
    assert "render: 13/13 frames (100.0 %)" in captured.err and "ETA" in captured.err
    assert "13 frames (13 rendered, 0 kept)" in captured.out


def test_subtitles_per_language_clipped_to_the_rendered_stretch(gl_ctx, tmp_path):
    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "2", "--from", "1", "--to", "00:02.5") == 0
    assert len(frames(out)) == 4                       # 1.0, 1.5, 2.0, 2.5
    # "Hello" 0.5-2.5 s and "Second text" 2-3 s, clipped to [1, 2.5], from 1 s on.
    assert (out / "subtitles.en.srt").read_text(encoding="utf-8") == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello\n\n2\n00:00:01,000 --> 00:00:01,500\nSecond text\n")
    assert (out / "subtitles.fr.vtt").read_text(encoding="utf-8") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nBonjour\n\n00:00:01.000 --> 00:00:01.500\nSecond text\n")


def test_clipping_leaves_out_texts_outside_the_stretch():
    entries = [(0.0, 1.0, "before"), (1.0, 3.0, "edge"), (2.0, 2.5, "inside"), (4.0, 5.0, "at end"), (6.0, 7.0, "after")]
    assert clipped_subtitles(entries, 2.0, 4.0) == [(0.0, 1.0, "edge"), (0.0, 0.5, "inside")]


# ----------------------------------------------------------------- resume


def test_resume_keeps_finished_frames_and_renders_missing_or_broken_ones(gl_ctx, tmp_path, capsys):
    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "4") == 0
    before = stamps(frames(out))
    pixels = {k: load_png(out / f"frame_{k:06d}.png") for k in (2, 5, 7)}
    (out / "frame_000002.png").unlink()
    broken = out / "frame_000005.png"
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])         # truncated
    flipped = out / "frame_000007.png"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF                                                  # a bad byte (CRC)
    flipped.write_bytes(bytes(data))
    after_damage = stamps(frames(out))
    capsys.readouterr()
    assert render(gl_ctx, show, out, "--fps", "4") == 0
    assert "13 frames (3 rendered, 10 kept)" in capsys.readouterr().out
    after = stamps(frames(out))
    assert len(after) == 13
    for name, stamp in before.items():
        if name in ("frame_000002.png", "frame_000005.png", "frame_000007.png"):
            assert after[name] != after_damage.get(name)
        else:
            assert after[name] == stamp, name                                   # untouched: same inode, mtime
    for k, expected in pixels.items():
        assert png_ok(out / f"frame_{k:06d}.png", SIZE)
        np.testing.assert_array_equal(load_png(out / f"frame_{k:06d}.png"), expected)
    assert manifest(out)["done"] == [[0, 13]]


def test_ctrl_c_saves_what_is_done_and_the_same_command_continues(gl_ctx, tmp_path, capsys, monkeypatch):
    import domectl.showrender as sr

    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    calls = []
    real_draw = sr.draw_domemaster

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(sr, "draw_domemaster", interrupted)
    assert render(gl_ctx, show, out, "--fps", "4") == 130
    assert "interrupted with 4 of 13 frames done" in capsys.readouterr().err
    m = manifest(out)
    assert (m["done"], m["done_count"], m["complete"]) == ([[0, 4]], 4, False)
    kept = stamps(frames(out)[:4])
    assert all(png_ok(out / name, SIZE) for name in kept)
    monkeypatch.setattr(sr, "draw_domemaster", real_draw)
    assert render(gl_ctx, show, out, "--fps", "4") == 0
    assert "13 frames (9 rendered, 4 kept)" in capsys.readouterr().out
    assert {k: v for k, v in stamps(frames(out)).items() if k in kept} == kept
    assert manifest(out)["complete"] is True


def test_other_parameters_are_refused_unless_restart(gl_ctx, tmp_path, capsys):
    from domectl.cli import main

    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "4", "--to", "1") == 0
    before = stamps(out.iterdir())
    capsys.readouterr()
    status = main(["show", "render", str(show), "--out", str(out), "--size", "96", "--fps", "2", "--to", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert "holds a render with other parameters" in err
    assert "size_px: 64 -> 96" in err and "fps: 4.0 -> 2.0" in err and "--restart" in err
    assert stamps(out.iterdir()) == before                                       # nothing written
    write_show(tmp_path, MOTION.replace('"Hello"', '"Hi"'))                   # the show changed
    with pytest.raises(ShowRenderError, match="show_sha256"):
        render(gl_ctx, show, out, "--fps", "4", "--to", "1")
    assert render(gl_ctx, show, out, "--fps", "2", "--to", "1", "--restart") == 0
    assert [p.name for p in frames(out)] == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    m = manifest(out)
    assert (m["fps"], m["frame_count"], m["done"]) == (2.0, 3, [[0, 3]])


# ----------------------------------------------------------------- choices


def test_a_start_now_show_takes_start_and_a_resume_keeps_it(gl_ctx, tmp_path, capsys):
    show = write_show(tmp_path, MOTION.replace("start 2026-11-20T21:00:00Z", "start now"))
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "1", "--to", "1", "--start", "2026-11-20T22:00:00+01:00") == 0
    assert manifest(out)["start_utc"] == "2026-11-20T21:00:00Z"
    capsys.readouterr()
    assert render(gl_ctx, show, out, "--fps", "1", "--to", "1") == 0          # no --start: the manifest's
    assert "2 frames (0 rendered, 2 kept)" in capsys.readouterr().out
    with pytest.raises(ShowRenderError, match="start_utc: '2026-11-20T21:00:00Z' -> '2026-11-21T21:00:00Z'"):
        render(gl_ctx, show, out, "--fps", "1", "--to", "1", "--start", "2026-11-21T21:00:00Z")



def test_poll_option_chooses_the_branch(gl_ctx, tmp_path):
    show = write_show(tmp_path, BRANCHES)
    default, two = tmp_path / "default", tmp_path / "two"
    assert render(gl_ctx, show, default, "--fps", "2", "--from", "one", "--to", "1.5") == 0
    assert render(gl_ctx, show, two, "--fps", "2", "--from", "two", "--to", "1.5", "--poll", "next=2") == 0
    assert "AAA" in (default / "subtitles.en.srt").read_text(encoding="utf-8")
    assert "BBB" not in (default / "subtitles.en.srt").read_text(encoding="utf-8")
    assert "BBB" in (two / "subtitles.en.srt").read_text(encoding="utf-8")
    assert "AAA" not in (two / "subtitles.en.vtt").read_text(encoding="utf-8")
    assert "AAA-fr" in (default / "subtitles.fr.srt").read_text(encoding="utf-8")
    assert manifest(default)["poll_results"] == {"next": None}
    assert manifest(two)["poll_results"] == {"next": "2"}
    assert [x["label"] for x in manifest(default)["labels"]] == ["one"]
    assert manifest(two)["labels"] == [{"label": "two", "show_time_s": 1.0, "frame": 0}]
    # The texts differ on the dome too.
    assert not np.array_equal(load_png(default / "frame_000000.png"), load_png(two / "frame_000000.png"))


def test_both_eyes_are_the_same_picture_for_now(gl_ctx, tmp_path):
    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    assert render(gl_ctx, show, out, "--fps", "2", "--from", "1", "--to", "1.5", "--eye", "left") == 0
    assert render(gl_ctx, show, out, "--fps", "2", "--from", "1", "--to", "1.5", "--eye", "right") == 0
    assert [p.name for p in frames(out, "_left")] == ["frame_000000_left.png", "frame_000001_left.png"]
    assert [p.name for p in frames(out, "_right")] == ["frame_000000_right.png", "frame_000001_right.png"]
    assert manifest(out, "manifest_left.json")["eye"] == "left"
    assert manifest(out, "manifest_right.json")["frame_pattern"] == "frame_%06d_right.png"
    for left, right in zip(frames(out, "_left"), frames(out, "_right"), strict=True):
        np.testing.assert_array_equal(load_png(left), load_png(right))


@pytest.mark.parametrize("name, label, extra", [
    ("live-sky-tour", "moon", []),
    ("from-v2-to-the-moon", "ussr", ["--poll", "road=2", "--language", "en"]),
])
def test_committed_shows_render(gl_ctx, tmp_path, name, label, extra):
    out = tmp_path / "out"
    assert render(gl_ctx, SHOWS / f"{name}.show", out, "--from", label, "--to", label, *extra) == 0
    (frame,) = frames(out)
    assert png_ok(frame, SIZE) and load_png(frame).max() > 0
    m = manifest(out)
    assert {x["label"]: x["frame"] for x in m["labels"]}[label] == 0
    assert m["frame_count"] == 1 and len(m["subtitles"]) == 4


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("args, message", [
    (["--fps", "4", "--from", "2", "--to", "1"], "--from 2 (0:02.000) is after --to 1 (0:01.000)"),
    (["--from", "nowhere"], "--from 'nowhere': not a show time nor a label"),
    (["--to", "99"], "--to 99: past the end of the show (0:02.000 on this path)"),
    (["--from", "1:75"], "--from '1:75': seconds run 0-59"),
    (["--poll", "nope=1"], "has no poll 'nope'; its polls: next"),
    (["--poll", "next=9"], "poll 'next' has no option '9'"),
    (["--poll", "next"], "write ID=KEY"),
    (["--from", "two"], "label 'two' is on another branch than these poll results take; add --poll next=2"),
    (["--start", "2026-01-01T00:00:00Z"], "--start is only for shows that say 'start now'"),
])
def test_bad_arguments_are_refused_with_nothing_written(tmp_path, capsys, args, message):
    from domectl.cli import main

    show = write_show(tmp_path, BRANCHES)
    out = tmp_path / "out"
    assert main(["show", "render", str(show), "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--size", "8"], "--size 8: must be in [16, 16384] pixels"),
    (["--size", "20000"], "--size 20000: must be in [16, 16384] pixels"),
    (["--fps", "0"], "--fps 0: must be a number > 0"),
    (["--fps", "-3"], "--fps -3: must be a number > 0"),
    (["--eye", "middle"], "invalid choice: 'middle'"),
])
def test_bad_options_are_usage_errors(tmp_path, capsys, args, message):
    from domectl.cli import main

    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["show", "render", str(write_show(tmp_path, MOTION)), "--out", str(out), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_unknown_file_and_invalid_show(tmp_path, capsys):
    from domectl.cli import main

    out = tmp_path / "out"
    assert main(["show", "render", str(tmp_path / "missing.show"), "--out", str(out)]) == 2
    assert "missing.show: no such show file" in capsys.readouterr().err
    (tmp_path / "a-file").write_text("x")
    assert main(["show", "render", str(write_show(tmp_path, MOTION)), "--out", str(tmp_path / "a-file")]) == 2
    assert "a-file: not a directory" in capsys.readouterr().err
    bad = write_show(tmp_path, MOTION.replace("view 230 40 over 3 linear", "view 230 40 over 3 linaer")
                     .replace("pointer saturn", "poiner saturn"), "bad.show")
    assert main(["show", "render", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:9:31: unknown easing 'linaer'" in err
    assert f"{bad}:13:12: unknown command 'poiner'" in err
    assert f"{bad}: 2 errors" in err
    assert not out.exists()


# ----------------------------------------------------------------- offline == live


def test_an_offline_frame_equals_the_live_frame_for_the_same_show_time(gl_ctx, tmp_path, hall):
    from fakes import T0, NullLink

    from domectl.ephemeris import CachedEphemeris, Ephemeris
    from domectl.master import Master, Scene

    fps = 4.0
    show = write_show(tmp_path, MOTION)
    out = tmp_path / "out"
    # Offline, end to end: the real command in its own process.
    done = subprocess.run([sys.executable, "-m", "domectl", "show", "render", str(show), "--out", str(out),
                           "--size", str(SIZE), "--fps", "4"], cwd=ROOT, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    offline = [load_png(p) for p in frames(out)]
    assert len(offline) == 13

    # Live: the master as `domectl master` makes it, the show loaded as the console loads it, played
    # from its start, frames through the master's own loop (a fake link, no IGs).
    scene = Scene(start_utc=T0, rate=1.0,
                  view_az_deg=hall.dome.front_az_deg, language=hall.default_language, refraction=False)
    master = Master(hall, NullLink(), CachedEphemeris(Ephemeris()), scene, igs=(), fps=fps)
    run = master.load_show(show)
    run.play(master.next_time_s())
    live = []
    master.run(13, lockstep=True, progress=lambda n, decision: live.append(master.current))
    assert [s.show_time_s for s in live] == [k / fps for k in range(13)]

    offline_frames = ShowFrames(hall, run.player.show, start_utc=scene.start_utc, poll_results={})
    renderer = make_renderer(gl_ctx, hall, SIZE)
    try:
        for k, state in enumerate(live):
            # The same FrameState (bar the deadline the barrier set) ...
            assert offline_frames.state(0.0 + k / fps, frame=k) == dataclasses.replace(state, deadline_ns=0)
            # ... and the same pixels as the PNG the command wrote for that show time.
            np.testing.assert_array_equal(draw_domemaster(renderer, state, hall, SIZE), offline[k])
    finally:
        renderer.release()
    # Every frame differs from the next: an off-by-one frame could not pass.
    assert all(not np.array_equal(a, b) for a, b in pairwise(offline))


# ----------------------------------------------------------------- small parts


def test_done_ranges_round_trip():
    assert done_ranges([5, 0, 1, 2, 7, 6, 9]) == [[0, 3], [5, 8], [9, 10]]
    assert frames_in(done_ranges({0, 1, 2, 5, 6, 7, 9})) == {0, 1, 2, 5, 6, 7, 9}
    assert frames_in([[3, 1], "x", [0, 2]]) == {0, 1}


def test_frame_count_includes_both_ends_without_float_drift(tmp_path, hall):
    from domectl.showrender import plan_render

    show = write_show(tmp_path, MOTION)
    plan = plan_render(parse([str(show), "--out", str(tmp_path / "o"), "--fps", "30", "--to", "2"]))
    assert plan.frame_count == 61 and plan.time_s(60) == 2.0
    plan = plan_render(parse([str(show), "--out", str(tmp_path / "o"), "--fps", "29.97", "--from", "0.1",
                              "--to", "0.1"]))
    assert plan.frame_count == 1 and FRAME_EPSILON < 1e-3


def test_progress_bar_on_a_terminal_and_lines_in_a_log():
    import io

    now = [0.0]
    stream = io.StringIO()
    bar = Progress(100, 20, stream, tty=True, clock=lambda: now[0])
    for _ in range(40):
        now[0] += 0.5
        bar.frame_done()
    bar.finish()
    last = stream.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("[" + "#" * 18 + "." * 12 + "] 60/100 frames (60.0 %), 2.00 fps, ETA 0:20")
    log = io.StringIO()
    lines = Progress(100, 0, log, tty=False, clock=lambda: now[0])
    for _ in range(30):
        now[0] += 1.0
        lines.frame_done()
    assert log.getvalue().count("\n") == 6           # one line every 5 s, the first at once
    assert log.getvalue().splitlines()[-1] == "render: 26/100 frames (26.0 %), 1.00 fps, ETA 1:14"
