"""FrameState encoding: explicit, versioned, round-trips, and refuses anything malformed."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domectl.errors import LocalError, PeerError
from domectl.frame import (BodyView, FORMAT_VERSION, FrameState, ModelView, OrbitView, Overlay, SphereView,
                           decode_frame, encode_frame)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
f32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
#: A zoom is a magnification: any positive finite number travels (the shows use 0.25 .. 100).
zooms = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False, width=64)
name = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), min_size=1,
               max_size=20).filter(lambda s: 0 < len(s.encode()) < 256)

bodies = st.builds(BodyView, name=name, enu=st.tuples(finite, finite, finite), distance_au=finite,
                   mag=finite, angular_diameter_deg=finite, illuminated_fraction=finite,
                   phase_angle_deg=finite, limb_angle_deg=finite)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
overlays = st.builds(Overlay, kind=st.sampled_from(["text", "image", "fulldome"]), content=text, dome_az_deg=finite,
                     dome_elev_deg=finite, size_deg=finite, opacity=finite,
                     rgb=st.tuples(finite, finite, finite))
vec3 = st.tuples(finite, finite, finite)
spheres = st.builds(SphereView, name=name, centre_m=vec3, radius_m=finite, polar_ratio=finite,
                    body_from_enu=st.tuples(*[finite] * 9), sun_dir=vec3)
models = st.builds(ModelView, name=name, on_dome=st.booleans(), position_m=vec3,
                   frame_from_model=st.tuples(*[finite] * 9), scale=finite, opacity=finite)
orbits = st.builds(OrbitView, name=name, centre_m=vec3, axis_a_m=vec3, axis_b_m=vec3)
states = st.builds(
    FrameState,
    frame=st.integers(0, 2**63), deadline_ns=st.integers(-2**62, 2**62), show_time_s=finite,
    tt_jd=finite, latitude_deg=finite, longitude_deg=finite, elevation_m=finite,
    view_az_deg=finite, view_alt_deg=finite, zoom=zooms,
    enu_from_icrs=st.tuples(*[finite] * 9), beta_icrs=st.tuples(finite, finite, finite),
    years_since_epoch=finite, sun_alt_deg=finite, temperature_C=finite, pressure_mbar=finite,
    blackout=st.booleans(), refraction=st.booleans(),
    layers=st.lists(st.tuples(name, f32), max_size=12).map(tuple),
    bodies=st.lists(bodies, max_size=12).map(tuple),
    language=st.sampled_from(["fr", "en", "nl", "de"]),
    pointer=st.one_of(st.just(""), name), overlays=st.lists(overlays, max_size=4).map(tuple),
    star_brightness=finite, star_contrast=finite, limiting_mag_delta=finite,
    eye_separation_m=st.floats(min_value=0.0, allow_infinity=False, width=64),
    spheres=st.lists(spheres, max_size=4).map(tuple), models=st.lists(models, max_size=3).map(tuple),
    orbits=st.lists(orbits, max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(states)
def test_round_trip(state):
    assert decode_frame(encode_frame(state)) == state


def _sample() -> FrameState:
    return FrameState(frame=7, deadline_ns=1, show_time_s=0.1, tt_jd=2461000.5, latitude_deg=50.707,
                      longitude_deg=2.24, elevation_m=80.0, view_az_deg=180.0, view_alt_deg=0.0,
                      layers=(("stars", 1.0), ("planets", 0.5)),
                      bodies=tuple(BodyView(f"body{i}", (0.0, 0.0, 1.0), 1.0, 0.0, 0.5, 1.0, 0.0, 0.0)
                                   for i in range(11)))


def test_a_frame_with_all_bodies_is_a_few_hundred_bytes():
    assert 400 < len(encode_frame(_sample())) < 2048


def test_truncated_frames_are_peer_errors():
    data = encode_frame(_sample())
    for n in range(len(data)):
        with pytest.raises(PeerError):
            decode_frame(data[:n])


def test_wrong_magic_version_and_length_are_named():
    data = bytearray(encode_frame(_sample()))
    with pytest.raises(PeerError, match="not a FrameState"):
        decode_frame(b"XXXX" + bytes(data[4:]))
    bad_version = bytes(data[:4]) + struct.pack("<H", FORMAT_VERSION + 1) + bytes(data[6:])
    with pytest.raises(PeerError, match="run the same domectl version on master and nodes"):
        decode_frame(bad_version)
    with pytest.raises(PeerError, match="length field"):
        decode_frame(bytes(data) + b"\0")


def test_non_finite_numbers_are_refused():
    state = _sample()
    data = bytearray(encode_frame(state))
    # show_time_s sits right after the header, frame and deadline.
    struct.pack_into("<d", data, 10 + 16, float("nan"))
    with pytest.raises(PeerError, match="non-finite"):
        decode_frame(bytes(data))


def test_local_errors_name_the_field():
    with pytest.raises(LocalError, match="language"):
        encode_frame(FrameState(**{**_sample().__dict__, "language": "french"}))
    with pytest.raises(LocalError, match="layer name"):
        encode_frame(FrameState(**{**_sample().__dict__, "layers": (("", 1.0),)}))


def test_non_finite_values_fail_at_the_source():
    body = BodyView("Sun", (0.0, 0.0, 1.0), 1.0, -26.7, 0.53, 1.0, 0.0, float("nan"))
    with pytest.raises(LocalError, match="non-finite"):
        encode_frame(FrameState(**{**_sample().__dict__, "bodies": (body,)}))
    with pytest.raises(LocalError, match="non-finite"):
        encode_frame(FrameState(**{**_sample().__dict__, "tt_jd": float("inf")}))


def test_overlay_errors_name_the_field():
    bad_kind = Overlay("video", "x.mp4", 0.0, 30.0)
    with pytest.raises(LocalError, match="overlay kind 'video'"):
        encode_frame(FrameState(**{**_sample().__dict__, "overlays": (bad_kind,)}))
    with pytest.raises(LocalError, match="pointer"):
        encode_frame(FrameState(**{**_sample().__dict__, "pointer": "x" * 300}))


def test_overlay_kinds_keep_their_codes():
    # Codes travel in frames: text and image keep 0 and 1 from before "fulldome" (2) was added.
    shown = (Overlay("text", "Bonsoir", 0.0, 30.0), Overlay("image", "logo.png", 0.0, 30.0),
             Overlay("fulldome", "film/0001.png", 0.0, 90.0, 180.0, opacity=0.5))
    data = encode_frame(FrameState(**{**_sample().__dict__, "overlays": shown}))
    codes, at = [], len(data) - 8 - 3 * 3    # the overlays end before the separation and three empty blocks
    for overlay in reversed(shown):
        at -= 7 * 8 + len(overlay.content.encode()) + 2 + 1
        codes.insert(0, data[at])
    assert codes == [0, 1, 2]
    assert decode_frame(data).overlays == shown


def test_a_zoom_that_is_not_a_magnification_is_refused():
    for zoom in (0.0, -2.0):
        with pytest.raises(LocalError, match="zoom"):
            encode_frame(FrameState(**{**_sample().__dict__, "zoom": zoom}))
    data = bytearray(encode_frame(_sample()))
    # zoom follows the header, frame, deadline, show time, tt, site (3) and view az, alt.
    struct.pack_into("<d", data, 10 + 8 * 9, 0.0)
    with pytest.raises(PeerError, match="zoom 0.0 is not a magnification"):
        decode_frame(bytes(data))


def test_a_corrupt_overlay_kind_is_a_peer_error():
    state = FrameState(**{**_sample().__dict__, "overlays": (Overlay("text", "Bonsoir", 0.0, 30.0),)})
    data = bytearray(encode_frame(state))
    kind_at = len(data) - 8 - 3 * 3 - 2 - len("Bonsoir") - 7 * 8 - 1   # before the separation and 3 empty blocks
    assert data[kind_at] == 0
    data[kind_at] = 9
    with pytest.raises(PeerError, match="overlay kind 9"):
        decode_frame(bytes(data))


def test_a_name_with_a_newline_is_refused_at_the_source():
    # Names travel as one newline-joined block per kind (layers, bodies).
    with pytest.raises(LocalError, match="without a newline"):
        encode_frame(FrameState(**{**_sample().__dict__, "layers": (("stars\nplanets", 1.0),)}))


def _layer_block_at() -> int:
    """Offset of the layer count in an encoded _sample() (right after header and core)."""
    return 10 + struct.calcsize("<Qqdd3d3d9d3dddddIddd")


def test_a_name_block_that_disagrees_with_its_count_is_a_peer_error():
    data = bytearray(encode_frame(_sample()))
    at = _layer_block_at()
    assert data[at] == 2                       # stars, planets
    data[at] = 1                               # says one layer, names two (and the floats shift)
    with pytest.raises(PeerError, match="1 layers but names 2"):
        decode_frame(bytes(data))
    # The good frame still decodes: the cache holds the block's names, never a verdict on counts.
    assert decode_frame(encode_frame(_sample())) == _sample()


def test_a_name_block_that_is_not_utf8_is_a_peer_error():
    data = bytearray(encode_frame(_sample()))
    at = _layer_block_at() + 3                 # count, u16 length, then "stars\nplanets"
    assert bytes(data[at:at + 5]) == b"stars"
    data[at] = 0xFF
    with pytest.raises(PeerError, match="layer names are not UTF-8"):
        decode_frame(bytes(data))


def test_a_non_finite_body_number_is_a_peer_error():
    state = _sample()
    data = bytearray(encode_frame(state))
    # The last body's bright-limb angle is the last f64 before language, pointer and overlay count,
    # the eye separation and three empty blocks.
    struct.pack_into("<d", data, len(data) - 8 - 3 * 3 - 2 - 1 - 1 - 8, float("inf"))
    with pytest.raises(PeerError, match="body: non-finite"):
        decode_frame(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2000))
def test_any_corruption_is_a_peer_error_or_a_valid_frame(garbage, at):
    data = bytearray(encode_frame(_sample()))
    at = min(at, len(data))
    corrupt = bytes(data[:at]) + garbage + bytes(data[at + len(garbage):])
    try:
        decode_frame(corrupt)
    except PeerError:
        pass


def test_a_negative_eye_separation_is_refused_both_ways():
    with pytest.raises(LocalError, match="eye_separation_m"):
        encode_frame(FrameState(frame=1, deadline_ns=0, show_time_s=0.0, tt_jd=2461000.5, latitude_deg=0.0,
                                longitude_deg=0.0, elevation_m=0.0, view_az_deg=0.0, view_alt_deg=0.0,
                                eye_separation_m=-1.0))
    data = bytearray(encode_frame(_sample()))
    # The separation is followed by three empty blocks of 3 bytes each (u8 count 0, u16 name length 0).
    at = len(data) - 3 * 3 - 8
    struct.pack_into("<d", data, at, -0.5)
    with pytest.raises(PeerError, match="eye separation"):
        decode_frame(bytes(data))


def test_a_space_frame_with_every_body_as_a_sphere_stays_small():
    rot = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    state = FrameState(frame=7, deadline_ns=1, show_time_s=0.1, tt_jd=2461000.5, latitude_deg=0.0,
                       longitude_deg=0.0, elevation_m=0.0, view_az_deg=180.0, view_alt_deg=0.0,
                       eye_separation_m=2.0e5, spheres=tuple(SphereView(f"b{i}", (1e9, 0.0, 0.0), 1.7e6, 1.0, rot,
                                                                        (0.0, 1.0, 0.0)) for i in range(11)),
                       models=(ModelView("v2", True, (0.0, 5.0, 1.0), rot, 0.5, 1.0),),
                       orbits=tuple(OrbitView(f"b{i}", (0.0, 0.0, 0.0), (1e11, 0, 0), (0, 1e11, 0)) for i in range(10)))
    data = encode_frame(state)
    assert decode_frame(data) == state
    assert len(data) < 4096
