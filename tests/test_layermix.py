"""Layer fades: interpolated, eased, reversible mid-way, and the same for every IG."""

import pytest

from domectl.errors import ConfigError
from domectl.layermix import DEFAULT_LAYERS, LAYER_NAMES, LayerMix, ease, parse_layers


def test_a_fade_interpolates_between_its_ends():
    mix = LayerMix(on=())
    mix.fade("constellation-lines", 1.0, fade_s=2.0, now_s=10.0)
    assert mix.opacity("constellation-lines", 9.0) == 0.0
    assert mix.opacity("constellation-lines", 10.0) == 0.0
    assert mix.opacity("constellation-lines", 11.0) == pytest.approx(0.5)
    assert mix.opacity("constellation-lines", 10.5) == pytest.approx(ease(0.25))
    assert 0.0 < mix.opacity("constellation-lines", 10.5) < 0.25  # eased: slow at the start
    assert mix.opacity("constellation-lines", 12.0) == 1.0
    assert mix.opacity("constellation-lines", 99.0) == 1.0


def test_the_fade_is_monotonic_and_smooth():
    mix = LayerMix(on=("stars",))
    mix.fade("stars", 0.0, fade_s=3.0, now_s=0.0)
    values = [mix.opacity("stars", t / 100) for t in range(0, 301)]
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert max(a - b for a, b in zip(values, values[1:])) < 0.01  # no jump between 10 ms steps


def test_a_fade_reversed_halfway_turns_back_from_where_it_is():
    mix = LayerMix(on=())
    mix.fade("grid-altaz", 1.0, fade_s=2.0, now_s=0.0)
    mix.fade("grid-altaz", 0.0, fade_s=2.0, now_s=1.0)
    assert mix.opacity("grid-altaz", 1.0) == pytest.approx(0.5)
    assert mix.opacity("grid-altaz", 2.0) == pytest.approx(0.25)
    assert mix.opacity("grid-altaz", 3.0) == 0.0


def test_a_zero_fade_is_a_cut():
    mix = LayerMix(on=())
    mix.fade("meridian", 0.7, fade_s=0.0, now_s=5.0)
    assert mix.opacity("meridian", 5.0) == pytest.approx(0.7)


def test_state_lists_every_layer_in_drawing_order():
    mix = LayerMix()
    state = dict(mix.state(0.0))
    assert tuple(dict(mix.state(0.0))) == LAYER_NAMES
    assert {name for name, opacity in state.items() if opacity == 1.0} == set(DEFAULT_LAYERS)


def test_a_snapshot_restores_fades_in_progress():
    mix = LayerMix()
    mix.fade("constellation-names", 1.0, fade_s=4.0, now_s=2.0)
    copy = LayerMix.from_snapshot(mix.snapshot())
    assert copy.state(3.0) == mix.state(3.0)


def test_bad_requests_name_the_layer_and_the_fix():
    mix = LayerMix()
    with pytest.raises(ConfigError, match="'planet'.*known layers: daylight"):
        mix.fade("planet", 1.0, now_s=0.0)
    with pytest.raises(ConfigError, match="opacity 2.0: must be in"):
        mix.fade("stars", 2.0, now_s=0.0)
    with pytest.raises(ConfigError, match="fade_s -1"):
        mix.fade("stars", 1.0, fade_s=-1, now_s=0.0)


def test_parse_layers():
    assert parse_layers("planets, stars") == ("stars", "planets")  # drawing order
    assert parse_layers("default,constellation-lines,stars") == tuple(
        name for name in LAYER_NAMES if name in DEFAULT_LAYERS or name == "constellation-lines")
    assert parse_layers("all") == LAYER_NAMES
    assert parse_layers("none") == ()
    with pytest.raises(ConfigError, match="--layers 'sun'"):
        parse_layers("stars,sun")


def test_the_renderer_draws_the_same_layers():
    from render.layers import LAYER_ORDER

    assert LAYER_ORDER == LAYER_NAMES
