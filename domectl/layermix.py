"""Layer opacities over time: each layer fades from where it is to a target over its fade time.

The master owns one :class:`LayerMix`; the operator (or a show cue) asks for a
target opacity and a fade time, and every frame the mix gives each layer's
opacity at that frame's show time, which travels to the nodes in the
``FrameState``. A fade is a smoothstep ease (no jolt at either end) from the
opacity the layer had when the fade was asked for, so a fade reversed halfway
turns back from where it is instead of jumping.

The opacity is a pure function of the show time and the requests made so far:
a node never fades anything itself, and every IG shows the same opacity in
the same frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from domectl.errors import ConfigError

#: Every layer the renderer draws, in drawing order (``render/layers.py`` holds the same
#: list next to the drawing code; tests/test_layermix.py checks they agree).
LAYER_NAMES: tuple[str, ...] = (
    "daylight", "milky-way", "stars", "orbits", "planets", "landscape", "models",
    "grid-altaz", "grid-equatorial", "grid-ecliptic", "meridian", "horizon",
    "constellation-boundaries", "constellation-lines", "constellation-names", "star-names", "planet-names",
    "cardinals", "pointer", "overlays",
)
#: What a night sky shows when nobody chose: the sky as the eye sees it, no chart marks.
#: "models" is on: a model shows only where a show or the voyage places one (FrameState.models);
#: "orbits" are chart marks, off until asked for.
DEFAULT_LAYERS: tuple[str, ...] = ("daylight", "milky-way", "stars", "planets", "landscape", "models",
                                   "pointer", "overlays")
#: A layer asked to fade without a time fades over this long: slow enough to read as a
#: fade on the dome, short enough not to keep a presenter waiting.
DEFAULT_FADE_S = 1.5


def check_layer(name: str, where: str = "layer") -> str:
    """``name`` if it is a known layer, else a ConfigError listing the known ones."""
    if name not in LAYER_NAMES:
        raise ConfigError(f"{where} {name!r}: unknown layer; known layers: {', '.join(LAYER_NAMES)}")
    return name


def parse_layers(text: str, where: str = "--layers") -> tuple[str, ...]:
    """``"stars,planets"`` -> ("stars", "planets"), in drawing order, without repeats.

    ``all`` and ``default`` stand for those sets and mix with names
    (``default,constellation-lines``); ``none`` or nothing is no layer.
    """
    chosen: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        layers = expand_layer(part)
        chosen.update(layers if layers is not None else (check_layer(part, where),))
    return tuple(name for name in LAYER_NAMES if name in chosen)


def expand_layer(part: str) -> tuple[str, ...] | None:
    """The layers one item of a layer list stands for: a layer's name, ``all``, ``default``,
    ``none`` or nothing (no layer); None when it is none of these."""
    if part in ("", "none"):
        return ()
    if part == "all":
        return LAYER_NAMES
    if part == "default":
        return DEFAULT_LAYERS
    return (part,) if part in LAYER_NAMES else None


def ease(x: float) -> float:
    """Smoothstep on [0, 1]: 0 and 1 with zero slope at both ends."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class Fade:
    """One value eased from ``start_opacity`` to ``target_opacity`` over ``fade_s`` from ``start_s``."""

    start_opacity: float
    target_opacity: float
    start_s: float
    fade_s: float

    def at(self, show_time_s: float) -> float:
        if self.fade_s <= 0.0 or show_time_s >= self.start_s + self.fade_s:
            return self.target_opacity
        if show_time_s <= self.start_s:
            return self.start_opacity
        k = ease((show_time_s - self.start_s) / self.fade_s)
        return self.start_opacity + (self.target_opacity - self.start_opacity) * k


class LayerMix:
    """Opacity of every layer at any show time, from fade requests.

    >>> mix = LayerMix(on=("stars",))
    >>> mix.fade("constellation-lines", 1.0, fade_s=2.0, now_s=10.0)
    >>> mix.opacity("constellation-lines", 11.0)
    0.5
    """

    def __init__(self, on: tuple[str, ...] = DEFAULT_LAYERS):
        self._fades: dict[str, Fade] = {
            name: Fade(0.0, 1.0 if name in on else 0.0, 0.0, 0.0) for name in LAYER_NAMES
        }
        for name in on:
            check_layer(name)

    def fade(self, name: str, target_opacity: float, fade_s: float = DEFAULT_FADE_S, *, now_s: float) -> None:
        """From ``now_s``, take layer ``name`` to ``target_opacity`` in [0, 1] over ``fade_s`` seconds."""
        check_layer(name)
        if not (math.isfinite(target_opacity) and 0.0 <= target_opacity <= 1.0):
            raise ConfigError(f"layer {name!r} opacity {target_opacity!r}: must be in [0, 1]")
        if not (math.isfinite(fade_s) and fade_s >= 0.0):
            raise ConfigError(f"layer {name!r} fade_s {fade_s!r}: must be >= 0")
        current = self._fades[name].at(now_s)
        self._fades[name] = Fade(current, float(target_opacity), float(now_s), float(fade_s))

    def opacity(self, name: str, show_time_s: float) -> float:
        return self._fades[check_layer(name)].at(show_time_s)

    def target(self, name: str) -> float:
        return self._fades[check_layer(name)].target_opacity

    def state(self, show_time_s: float) -> tuple[tuple[str, float], ...]:
        """Every layer's opacity at ``show_time_s``, for the FrameState (drawing order)."""
        return tuple((name, self._fades[name].at(show_time_s)) for name in LAYER_NAMES)

    def snapshot(self) -> dict[str, tuple[float, float, float, float]]:
        """The fades in progress, for a standby master to mirror: name -> (from, to, start_s, fade_s)."""
        return {name: (f.start_opacity, f.target_opacity, f.start_s, f.fade_s) for name, f in self._fades.items()}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, tuple[float, float, float, float]]) -> LayerMix:
        mix = cls(on=())
        for name, (start, target, start_s, fade_s) in snapshot.items():
            mix._fades[check_layer(name)] = Fade(float(start), float(target), float(start_s), float(fade_s))
        return mix
