"""Draw the media the committed shows use (flat shapes, so the PNGs stay a few KB each).

    .venv/bin/python shows/media/make_media.py

Writes next to this script:

* ``la-coupole.png``: La Coupole's concrete dome on its hillside, a silhouette
  (an image placed on the dome by ``from-v2-to-the-moon.show``);
* ``v2-rise/0001.png`` ... : a V2 in its black-and-white test livery rising on
  its flame, a clip placed on the dome;
* ``launch-glow/0000.png`` ... : a domemaster (zenith at the centre, the
  dome's front at the bottom) whose front horizon flares orange and fades, a
  full-dome clip for the Apollo 11 launch.

Deterministic: the same Pillow writes the same bytes, so a rerun changes nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
#: Frames of the V2 clip (at 12 fps in the show: two seconds of climb).
V2_FRAMES = 24
V2_SIZE = (96, 192)
#: Frames and side of the full-dome glow (a small domemaster: the glow is soft, 256 px is plenty).
GLOW_FRAMES = 16
GLOW_PX = 256

CONCRETE = (176, 172, 160, 255)
SHADOW = (120, 116, 108, 255)
GRASS = (58, 84, 52, 255)


def la_coupole(path: Path) -> None:
    """The dome (71 m across) sitting on the chalk quarry's edge, with the railway tunnel mouth."""
    w, h = 320, 160
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.polygon([(0, h), (0, 118), (60, 104), (130, 98), (200, 100), (270, 108), (w, 116), (w, h)], fill=GRASS)
    d.pieslice([70, 40, 250, 160], 180, 360, fill=SHADOW)          # the dome, a flattened half-ellipse ...
    d.pieslice([84, 46, 250, 154], 180, 360, fill=CONCRETE)        # ... lit from the east, a crescent of shade
    d.rectangle([150, 96, 176, 118], fill=(20, 20, 20, 255))         # tunnel mouth
    d.line([(70, 100), (250, 100)], fill=SHADOW, width=2)
    img.save(path, optimize=True)


def _v2(d: ImageDraw.ImageDraw, cx: float, top: float, scale: float) -> None:
    """A V2 (14 m tall, 1.65 m wide) with its four fins and checkered test paint."""
    body_w, body_h = 14 * scale, 110 * scale
    nose = [(cx, top), (cx - body_w / 2, top + 28 * scale), (cx + body_w / 2, top + 28 * scale)]
    d.polygon(nose, fill=(235, 235, 230, 255))
    y0, y1 = top + 28 * scale, top + body_h
    d.rectangle([cx - body_w / 2, y0, cx + body_w / 2, y1], fill=(235, 235, 230, 255))
    for k in range(4):                                              # black quarters, alternating
        ya, yb = y0 + k * (y1 - y0) / 4, y0 + (k + 1) * (y1 - y0) / 4
        left = k % 2 == 0
        d.rectangle([cx - body_w / 2 if left else cx, ya, cx if left else cx + body_w / 2, yb], fill=(25, 25, 25, 255))
    fin = 12 * scale
    d.polygon([(cx - body_w / 2, y1 - 22 * scale), (cx - body_w / 2 - fin, y1 + 4 * scale), (cx - body_w / 2, y1)],
              fill=(25, 25, 25, 255))
    d.polygon([(cx + body_w / 2, y1 - 22 * scale), (cx + body_w / 2 + fin, y1 + 4 * scale), (cx + body_w / 2, y1)],
              fill=(25, 25, 25, 255))


def v2_rise(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    w, h = V2_SIZE
    for n in range(V2_FRAMES):
        img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        climb = 8.0 * n * n / V2_FRAMES                              # accelerating, as a rocket does
        top = 70 - climb
        flame_h = 30 + 10 * (n % 3)                                  # the flame flickers on a 3-frame cycle
        base = top + 110 * 0.6
        d.polygon([(w / 2 - 5, base), (w / 2 + 5, base), (w / 2, base + flame_h)], fill=(255, 170, 40, 230))
        d.polygon([(w / 2 - 3, base), (w / 2 + 3, base), (w / 2, base + flame_h * 0.6)], fill=(255, 245, 200, 255))
        _v2(d, w / 2, top, 0.6)
        img.save(folder / f"{n + 1:04d}.png", optimize=True)


def launch_glow(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    size = GLOW_PX
    for n in range(GLOW_FRAMES):
        img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        # Bright for the first third, then fading: the flash of ignition seen from the stands.
        strength = min(1.0, 3.0 * (n + 1) / GLOW_FRAMES) * (1.0 - max(0.0, (n - GLOW_FRAMES / 3) / GLOW_FRAMES))
        cx, cy = size / 2, size - 1                                   # the front of the dome's rim
        for ring in range(6, 0, -1):                                  # six flat bands, outer (faint) first
            r = size * 0.12 * ring * (0.8 + 0.2 * math.sin(math.pi * n / GLOW_FRAMES))
            alpha = int(255 * strength * (1.0 - ring / 7.0))
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 150 + 12 * (6 - ring), 60, alpha))
        mask = Image.new("L", (size, size), 0)                        # keep the disc of the domemaster only
        ImageDraw.Draw(mask).ellipse([0, 0, size - 1, size - 1], fill=255)
        img.putalpha(Image.composite(img.getchannel("A"), mask, mask))
        img.save(folder / f"{n:04d}.png", optimize=True)


def main() -> None:
    la_coupole(HERE / "la-coupole.png")
    v2_rise(HERE / "v2-rise")
    launch_glow(HERE / "launch-glow")
    print(f"wrote la-coupole.png, {V2_FRAMES} v2-rise frames, {GLOW_FRAMES} launch-glow frames in {HERE}")


if __name__ == "__main__":
    main()
