"""Full-screen backdrop layers: daylight, the Milky Way, the landscape.

Each layer draws one full-screen triangle whose fragment shader inverts the
projection per output pixel (window px -> domemaster (u, v) -> dome direction
-> through the inverse zoom, ``domectl.projection.unzoom_dir``, the sky's dome
direction -> ENU -> ICRS, ``dome_inverse.glsl``) and evaluates its layer analytically;
pixels past the springline (r > 0.5 + ``RIM_MARGIN_R``) are left untouched.
Output is display-encoded with ``view.gamma``, as every layer of
``render/layers.py``. Every per-pixel formula has a numpy twin here
(:func:`sky_radiance_linear`, :func:`milky_way_intensity`,
:func:`landscape_coverage`, :func:`fisheye_dir_grad`; grids: render/grids.py), compared with the GL output by
``tests/test_render_backdrop.py``; quantities that depend only on the Sun are
computed once per frame in numpy and handed to the shaders as uniforms.

Daylight model (:func:`sky_radiance_cd_m2`)
    Single scattering in a plane-parallel exponential atmosphere, the Sun's
    and the view's optical depths both integrated in closed form. With the
    extinction optical depth tau (per channel), airmasses ``m_v`` (view) and
    ``m_s`` (Sun), both by Kasten & Young (1989, Appl. Opt. 28, 4735), the
    radiance scattered along the view toward the observer is::

        L = E_sun * S(gamma) * m_v * (exp(-tau m_s) - exp(-tau m_v)) / (tau (m_v - m_s))
        S(gamma) = tau_R P_R(gamma) + w_M tau_M P_HG(gamma)

    (scattering at height z weighs density e^-z/H and is attenuated by the
    air above it toward the Sun and below it toward the observer;
    integrating over z gives the form above). Rayleigh optical depth from
    Hansen & Travis (1974, Space Sci. Rev. 16, 527, eq. 2.29) at 680, 550
    and 440 nm; aerosols by Angstrom's law with a Henyey-Greenstein phase
    function; Rayleigh phase 3/(16 pi) (1 + cos^2 gamma). Multiple scattering
    is a fill: ``MULTIPLE_SCATTERING`` of the zenith's light scattered once
    more, ``ambient * (1 - exp(-tau m_v))`` (it turns the sky opposite a low
    Sun blue-grey instead of red). The Sun's light also crosses the ozone
    layer (Chappuis band, 300 DU) on its way: that is why the twilight sky
    is blue rather than grey (Hulburt 1953, JOSA 43, 113). The model gives
    a blue zenith (~1700 cd/m^2 with the Sun at 45 deg), a whiter, brighter
    horizon, a forward aureole round the Sun, a golden to orange low sky
    toward the setting Sun, and a pale blue-grey zenith at sunset.

    The Sun below the horizon (twilight): the Sun's direction is taken at
    its azimuth on the horizon; the air below the Earth's shadow, height
    ``z = R (1 / cos(depression) - 1)``, is left out of the integral above
    (the column is lit above ``x = exp(-z / H)`` only: in the shader
    ``exp(-a) (exp(t) - 1) / t`` with ``t = (a - b) x``), so the glow sinks
    to a reddened band low toward the Sun under a blue zenith; the ozone path
    doubles as the light grazes the layer twice. The level is not the
    single-scattering one (multiple scattering and refraction dominate):
    the zenith's luminance follows the measured fall of the twilight sky's
    illuminance (:func:`twilight_factor`, from :func:`sky_illuminance_lux`:
    the AMS Glossary of Meteorology's clear-sky values at 0, -6, -12 and
    -18 deg, interpolated in log), less the glow left at -18 deg (below
    starlight and airglow), so the sky is exactly black from -18 deg down.

    Display: a planetarium cannot show 10^4 cd/m^2, and a linear mapping
    would turn civil twilight black. The luminance is compressed by a power
    law with a toe (:func:`tone_map_linear`, hand-tuned on 512 px
    domemasters: linear display luminance of the zenith ~0.43 with the Sun
    at 45 deg, 0.17 at sunset, 0.022 at -6 deg (deep blue), 0.0015 at -12),
    keeping the hue; channels above 1 clip to white round the Sun.

Limiting magnitude in twilight (:func:`twilight_limiting_mag`)
    Schaefer's threshold of a point source against a sky of luminance B
    (Schaefer 1990, PASP 102, 212, and 1993, Vistas Astron. 36, 311, after
    Hecht 1947; rods and cones, the more sensitive wins), for the sky of
    :func:`sky_luminance_cd_m2` (illuminance / pi: a uniform sky). The
    threshold due to the twilight adds, as a flux, to the one the hall has at
    night, so the night limit is unchanged below -18 deg; the Sun at -12 deg
    leaves ~+4.7, at -6 deg ~+3.3, at -3 deg ~+1.8, at 0 deg ~-0.5 and a
    clear day -3.5 to -4.0 (Venus only). An ideal observer who knows where
    to look: the AMS's "brightest stars visible" at -6 deg is a casual one.

Milky Way (:func:`milky_way_map`)
    The five nested outlines of ``domectl.skydata.load_milky_way`` (d3-celestial),
    filled in a galactic-longitude/latitude equirectangular map (the band
    lies within |b| < 22 deg, where that map is least distorted and no ring
    goes round a pole of the map), equal steps of brightness per level,
    blurred by ``MILKY_WAY_BLUR_DEG``; sampled per pixel (trilinear, mipmapped)
    with analytic gradients (``textureGrad``), so where the shader's
    longitude wraps (atan2 jumps at l = 180, the anticentre) the level of
    detail is that of the neighbours and no line shows.

Derivatives: every layer takes its per-pixel scale (degrees per output
pixel) from the analytic derivatives of the inverse projection
(:func:`fisheye_dir_grad`), never from ``dFdx``, which GPUs take over 2x2
quads: a slice starting at an odd pixel would then not match its neighbour.
    It fades with the twilight as its contrast does: :func:`night_factor`.
    Added to what is below (it is light), like the stars.

Landscape (:func:`landscape_coverage`)
    Opaque ground below ``view.landscape_alt_deg`` (a periodic profile,
    linearly interpolated in azimuth), antialiased over one pixel, "over"
    blended; its colour is dark ground lit by the sky and the Sun
    (:func:`ground_rgb_linear`), tone-mapped like the sky, black at night.

Performance: one full-screen pass per layer, no texture reads but the Milky
Way's one (trilinear) and the landscape's two (texelFetch); everything that
depends only on the frame is a uniform; daylight below -18 deg and a Milky
Way faded out are not drawn at all.
"""

from __future__ import annotations

import functools
from typing import Any

import moderngl
import numpy as np

from domectl.projection import zoom_uniform
from render.context import check_gl
from render.shaders import load_program, set_uniform
from render.sky import RIM_MARGIN_R

# ---------------------------------------------------------------------------
# Daylight: constants and the numpy twin of backdrop_daylight.glsl
# ---------------------------------------------------------------------------

#: Centre wavelengths of the (R, G, B) channels, micrometres.
WAVELENGTHS_UM = np.array([0.68, 0.55, 0.44])
#: Solar illuminance outside the atmosphere, lux (about 128 klx): the sky's
#: relative radiance (per unit solar irradiance) times this is cd/m^2.
SOLAR_ILLUMINANCE_LUX = 128_000.0
#: Aerosol optical depth at 550 nm (a clear, rural sky), Angstrom exponent,
#: Henyey-Greenstein asymmetry and single-scattering albedo.
AEROSOL_DEPTH_550 = 0.04
AEROSOL_ANGSTROM = 1.3
AEROSOL_G = 0.8
AEROSOL_ALBEDO = 0.9
#: Ozone (300 DU) absorption optical depth in the Chappuis band, averaged over each
#: channel's band (R 580-700, G 500-580, B 420-500 nm; cross-sections ~3.5, 3 and
#: 0.5e-21 cm^2 x 8.1e18 molecules/cm^2): it dims red and green alike, not blue.
OZONE_DEPTH = np.array([0.028, 0.024, 0.004])
#: Ozone layer height (km) and the Earth's radius (km), for the ozone airmass.
OZONE_HEIGHT_KM = 22.0
EARTH_RADIUS_KM = 6371.0
#: Below the horizon the Sun's light reaches the sky grazing the ozone layer twice:
#: its ozone airmass ramps to twice the horizon value over this many degrees of depression.
OZONE_DOUBLING_DEG = 3.0
#: Clear-sky horizontal illuminance by scattered sunlight (lux) at Sun altitudes
#: (deg), from the AMS Glossary of Meteorology ("civil twilight": ~585-410 lux at
#: sunset to ~3.5-2 lux; "nautical"/"astronomical twilight": ~0.008 lux at -12,
#: ~6e-4 lux at -18 deg, below starlight and airglow). Mid values.
TWILIGHT_ILLUMINANCE_LUX = ((-18.0, 6.0e-4), (-12.0, 8.0e-3), (-6.0, 2.7), (0.0, 500.0))
#: Clear-sky diffuse illuminance with the Sun up, DIN 5034-2: E = 0.8 + 15.5 sqrt(sin h) klx;
#: its constant is lowered to 0.5 klx to meet the AMS sunset value (continuous at 0 deg).
DAY_DIFFUSE_KLX = (0.5, 15.5)
#: Night sky luminance without twilight, cd/m^2 (about 21.6 mag/arcsec^2 in V):
#: the Milky Way's contrast and the tone map's toe are relative to it.
NIGHT_SKY_CD_M2 = 2.5e-4
#: Tone map: display luminance ((Y + toe)/white)**p - (toe/white)**p (hand-tuned, module docstring).
TONE_WHITE_CD_M2 = 16_000.0
TONE_POWER = 0.37
TONE_TOE_CD_M2 = NIGHT_SKY_CD_M2
#: Scale height of the air (km), for the height of the Earth's shadow in twilight.
RAYLEIGH_SCALE_HEIGHT_KM = 8.0
#: Multiple scattering as a fill: this share of the zenith's single-scattered light,
#: saturating toward the horizon as 1 - exp(-tau m_v) (hand-tuned; it makes the sky
#: opposite a low Sun blue-grey rather than red).
MULTIPLE_SCATTERING = 0.4
#: The ground: albedo (soil and grass), shade (module docstring of ground_rgb_linear),
#: hue (a dark greenish brown).
GROUND_ALBEDO = 0.12
GROUND_SHADE = 0.15
GROUND_TINT = (0.32, 0.36, 0.16)
#: Rec. 709 luminance weights of linear RGB.
LUMA = np.array([0.2126, 0.7152, 0.0722])
#: Below this Sun altitude (deg) the sky is black (the end of astronomical twilight).
ASTRONOMICAL_TWILIGHT_DEG = -18.0


def rayleigh_depth(wavelength_um: np.ndarray) -> np.ndarray:
    """Rayleigh optical depth of the whole atmosphere at sea level (Hansen & Travis 1974, eq. 2.29)."""
    lam = np.asarray(wavelength_um, dtype=np.float64)
    return 0.008569 * lam**-4 * (1.0 + 0.0113 * lam**-2 + 0.00013 * lam**-4)


#: (R, G, B) optical depths: Rayleigh scattering, aerosol extinction, total extinction.
RAYLEIGH_DEPTH = rayleigh_depth(WAVELENGTHS_UM)
AEROSOL_DEPTH = AEROSOL_DEPTH_550 * (WAVELENGTHS_UM / 0.55) ** -AEROSOL_ANGSTROM
EXTINCTION_DEPTH = RAYLEIGH_DEPTH + AEROSOL_DEPTH


def kasten_young_airmass(alt_deg: np.ndarray) -> np.ndarray:
    """Relative optical airmass at apparent altitude ``alt_deg`` (clamped to >= 0): (N,) -> (N,).

    Kasten & Young (1989): 1 / (sin h + 0.50572 (h + 6.07995 deg)^-1.6364); 38 at the horizon.
    """
    h = np.maximum(np.asarray(alt_deg, dtype=np.float64), 0.0)
    return 1.0 / (np.sin(np.radians(h)) + 0.50572 * (h + 6.07995) ** -1.6364)


def ozone_airmass(sun_alt_deg: float) -> float:
    """Path through a thin ozone shell at OZONE_HEIGHT_KM relative to the vertical (12 at the horizon).

    Below the horizon the light that reaches the sky crosses the shell twice:
    the path ramps to twice the horizon value over OZONE_DOUBLING_DEG.
    """
    h = np.radians(max(float(sun_alt_deg), 0.0))
    k = EARTH_RADIUS_KM / (EARTH_RADIUS_KM + OZONE_HEIGHT_KM)
    m = 1.0 / np.sqrt(1.0 - (k * np.cos(h)) ** 2)
    return float(m * (1.0 + min(max(-float(sun_alt_deg) / OZONE_DOUBLING_DEG, 0.0), 1.0)))


def sky_illuminance_lux(sun_alt_deg: float) -> float:
    """Clear-sky horizontal illuminance by scattered sunlight, above what is left at -18 deg, lux.

    Twilight: TWILIGHT_ILLUMINANCE_LUX interpolated in log10; day: DAY_DIFFUSE_KLX
    (DIN 5034-2). 0 from -18 deg down; 500 lux at sunset; ~16 klx with the Sun at the zenith.
    """
    h = float(sun_alt_deg)
    floor = TWILIGHT_ILLUMINANCE_LUX[0][1]
    if h > 0.0:
        c0, c1 = DAY_DIFFUSE_KLX
        e = 1000.0 * (c0 + c1 * np.sqrt(np.sin(np.radians(min(h, 90.0)))))
    else:
        alts, lux = zip(*TWILIGHT_ILLUMINANCE_LUX)
        e = 10.0 ** float(np.interp(h, alts, np.log10(lux)))
    return max(e - floor, 0.0)


def sky_luminance_cd_m2(sun_alt_deg: float) -> float:
    """Mean luminance of the clear sky due to the Sun (a uniform sky: illuminance / pi), cd/m^2."""
    return sky_illuminance_lux(sun_alt_deg) / np.pi


def twilight_factor(sun_alt_deg: float) -> float:
    """The twilight sky's brightness relative to sunset: 1 with the Sun up, 0 from -18 deg down."""
    if sun_alt_deg >= 0.0:
        return 1.0
    return sky_illuminance_lux(sun_alt_deg) / sky_illuminance_lux(0.0)


def night_factor(sun_alt_deg: float) -> float:
    """How much of a faint diffuse glow (the Milky Way) shows: its contrast against the sky.

    ``NIGHT_SKY_CD_M2 / (NIGHT_SKY_CD_M2 + sky_luminance_cd_m2(h))``: 1 at night
    (from -18 deg down), ~0.1 at -12 deg, ~3e-4 at -6 deg, 0 by day.
    """
    return NIGHT_SKY_CD_M2 / (NIGHT_SKY_CD_M2 + sky_luminance_cd_m2(sun_alt_deg))


# Schaefer (1990): threshold illuminance (foot-candles) of a point source on a background
# of B nanolamberts, I = c1 (1 + sqrt(c2 B))^2, rods (night) and cones (day); m = -16.57 - 2.5 log10 I.
_SCHAEFER_NIGHT = (10.0**-9.8, 10.0**-1.9)
_SCHAEFER_DAY = (10.0**-8.35, 10.0**-5.9)
_NL_PER_CD_M2 = np.pi * 1.0e5  # 1 cd/m^2 = pi * 1e-4 lambert


def _threshold_ftcd(background_nl: float) -> float:
    (n1, n2), (d1, d2) = _SCHAEFER_NIGHT, _SCHAEFER_DAY
    return min(n1 * (1.0 + np.sqrt(n2 * background_nl)) ** 2, d1 * (1.0 + np.sqrt(d2 * background_nl)) ** 2)


def twilight_limiting_mag(sun_alt_deg: float, night_limiting_mag: float) -> float:
    """The faintest magnitude visible against the sky with the Sun at ``sun_alt_deg``.

    ``night_limiting_mag`` from -18 deg down (the hall's, or a preview's,
    setting); brighter limits as the Sun rises: ~+4.7 at -12 deg (for 6.5 at
    night), ~+3.3 at -6, ~+1.8 at -3, ~-0.5 at 0, and by day -3.5 (Sun at 20
    deg) to -4.0 (Sun at the zenith), so only Venus shows. Schaefer's (1990) threshold on the sky of
    :func:`sky_luminance_cd_m2`, minus its dark-sky value, added as a flux to
    the night limit's: ``10**(-0.4 m) = 10**(-0.4 m_night) + (I(B) - I(0)) / I_0``.
    Monotonic in the Sun's altitude.
    """
    b_nl = sky_luminance_cd_m2(sun_alt_deg) * _NL_PER_CD_M2
    extra_ftcd = _threshold_ftcd(b_nl) - _threshold_ftcd(0.0)
    # m = -16.57 - 2.5 log10(I): flux relative to magnitude 0 is I / 10**(-16.57 / 2.5).
    flux = 10.0 ** (-0.4 * float(night_limiting_mag)) + extra_ftcd / 10.0 ** (-0.4 * 16.57)
    return float(-2.5 * np.log10(flux))


def _sun_geometry(sun_enu: np.ndarray) -> tuple[np.ndarray, float]:
    """(unit Sun direction with its altitude clamped to >= 0, true altitude in deg)."""
    s = np.asarray(sun_enu, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(s)
    if norm == 0.0:
        return np.array([0.0, 1.0, 0.0]), -90.0
    s = s / norm
    alt_deg = float(np.degrees(np.arcsin(np.clip(s[2], -1.0, 1.0))))
    if s[2] >= 0.0:
        return s, alt_deg
    horizontal = np.array([s[0], s[1], 0.0])
    h_norm = np.linalg.norm(horizontal)
    # Straight below (no azimuth): any azimuth will do, the sky is black.
    return (horizontal / h_norm if h_norm > 0.0 else np.array([0.0, 1.0, 0.0])), alt_deg


def shadow_fraction(sun_alt_deg: float) -> float:
    """Share of the air column above the Earth's shadow: exp(-z / H), z = R (1 / cos(depression) - 1)."""
    depression = np.radians(max(-float(sun_alt_deg), 0.0))
    z_km = EARTH_RADIUS_KM * (1.0 / np.cos(min(depression, 1.5)) - 1.0)
    return float(np.exp(-z_km / RAYLEIGH_SCALE_HEIGHT_KM))


def _phase(cos_gamma: np.ndarray) -> np.ndarray:
    """S(gamma) per channel: (N,) -> (N, 3)."""
    c = np.asarray(cos_gamma, dtype=np.float64)[..., None]
    rayleigh = 3.0 / (16.0 * np.pi) * (1.0 + c * c)
    g = AEROSOL_G
    hg = (1.0 - g * g) / (4.0 * np.pi * (1.0 + g * g - 2.0 * g * c) ** 1.5)
    return RAYLEIGH_DEPTH * rayleigh + AEROSOL_ALBEDO * AEROSOL_DEPTH * hg


def _scattered(dirs_enu, sun_geo, sun_depth, shadow, scale, ambient) -> np.ndarray:
    """The per-pixel part (twin of backdrop_daylight.glsl): (N, 3) ENU -> (N, 3)."""
    d = np.asarray(dirs_enu, dtype=np.float64)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    alt_deg = np.degrees(np.arcsin(np.clip(d[..., 2], 0.0, 1.0)))
    m_view = kasten_young_airmass(alt_deg)[..., None]
    a = EXTINCTION_DEPTH * m_view
    t = (a - sun_depth) * shadow
    # (exp(t) - 1) / t, the lit part of the column; t -> 0: 1 + t / 2.
    lit = np.where(np.abs(t) < 1e-4, 1.0 + 0.5 * t, np.expm1(t) / np.where(t == 0.0, 1.0, t))
    single = scale * _phase(d @ sun_geo) * m_view * np.exp(-a) * lit
    return single + ambient * -np.expm1(-a)


def daylight_sun_terms(sun_enu: np.ndarray) -> dict[str, Any]:
    """The per-frame part of the daylight model (uniforms of ``backdrop_daylight.glsl``).

    sun_geo (3,): the Sun's direction, altitude clamped to >= 0; sun_depth (3,):
    tau * m_s; shadow: share of the column lit (:func:`shadow_fraction`);
    scale (3,): solar illuminance x ozone transmittance x shadow share, times
    the twilight normalisation (the zenith follows :func:`twilight_factor`);
    ambient (3,): the multiple-scattering fill.
    """
    sun_geo, alt_deg = _sun_geometry(sun_enu)
    m_sun = float(kasten_young_airmass(max(alt_deg, 0.0)))
    sun_depth = EXTINCTION_DEPTH * m_sun
    zenith = np.array([[0.0, 0.0, 1.0]])

    def unscaled(shadow: float) -> tuple[np.ndarray, np.ndarray]:
        # Zenith single scattering with unit scale and no fill; the fill is its multiple.
        single = _scattered(zenith, sun_geo, sun_depth, shadow, shadow, 0.0)[0]
        # Light scattered twice is bluer: the fill is the zenith's light scattered again
        # (weight 1 - exp(-tau m_v) per channel), scaled to MULTIPLE_SCATTERING of its luminance.
        return single, MULTIPLE_SCATTERING * single / (-np.expm1(-EXTINCTION_DEPTH) @ LUMA)

    shadow = shadow_fraction(alt_deg)
    single, fill = unscaled(shadow)
    scale = SOLAR_ILLUMINANCE_LUX * np.exp(-OZONE_DEPTH * ozone_airmass(alt_deg))
    if alt_deg < 0.0:
        single0, fill0 = unscaled(1.0)
        zenith_now = (single + fill) @ LUMA
        scale = scale * twilight_factor(alt_deg) * ((single0 + fill0) @ LUMA) / max(zenith_now, 1e-300)
    return {"sun_geo": sun_geo, "sun_depth": sun_depth, "shadow": shadow,
            "scale": scale * shadow, "ambient": scale * fill, "sun_alt_deg": alt_deg}


def sky_radiance_cd_m2(dirs_enu: np.ndarray, sun_enu: np.ndarray) -> np.ndarray:
    """Physical sky model (module docstring): (N, 3) ENU directions, (3,) Sun -> (N, 3) cd/m^2 per channel.

    Directions below the horizon get the horizon's colour (the landscape hides them).
    """
    k = daylight_sun_terms(sun_enu)
    return _scattered(dirs_enu, k["sun_geo"], k["sun_depth"], k["shadow"], k["scale"], k["ambient"])


def tone_map_linear(rgb_cd_m2: np.ndarray) -> np.ndarray:
    """cd/m^2 per channel -> linear display RGB in [0, 1], hue kept, (N, 3) -> (N, 3)."""
    rgb = np.asarray(rgb_cd_m2, dtype=np.float64)
    y = rgb @ LUMA
    toe = (TONE_TOE_CD_M2 / TONE_WHITE_CD_M2) ** TONE_POWER
    y_display = ((y + TONE_TOE_CD_M2) / TONE_WHITE_CD_M2) ** TONE_POWER - toe
    gain = np.where(y > 0.0, y_display / np.maximum(y, 1e-30), 0.0)
    return np.clip(rgb * gain[..., None], 0.0, 1.0)


def sky_radiance_linear(dirs_enu: np.ndarray, sun_enu: np.ndarray) -> np.ndarray:
    """Sky colour: (N, 3) ENU directions, (3,) Sun ENU -> (N, 3) linear display RGB in [0, 1].

    The numpy twin of ``backdrop_daylight.glsl`` at opacity 1: the layer writes
    ``(opacity * this) ** (1 / gamma)``. Black from -18 deg of Sun altitude down.
    """
    return tone_map_linear(sky_radiance_cd_m2(dirs_enu, sun_enu))


def ground_rgb_linear(sun_alt_deg: float, albedo: float = GROUND_ALBEDO, shade: float = GROUND_SHADE,
                      tint=GROUND_TINT) -> np.ndarray:
    """Linear display colour of the ground: (3,).

    The ground's luminance ``albedo * (E_sky + E_sun) / pi`` (sky illuminance
    :func:`sky_illuminance_lux`, direct sunlight ``SOLAR_ILLUMINANCE_LUX sin h
    exp(-0.2 m(h))``), tone-mapped as the sky, times ``shade``; ``tint`` its
    hue (scaled to luminance 1). The tone curve compresses so much that real
    albedos would show the ground as bright as the sky: ``shade`` (hand-tuned)
    keeps it a dark silhouette below the sky, lit by day, black at night.
    """
    h = float(sun_alt_deg)
    direct = SOLAR_ILLUMINANCE_LUX * max(np.sin(np.radians(h)), 0.0) * float(np.exp(-0.2 * kasten_young_airmass(h)))
    luminance = albedo * (sky_illuminance_lux(h) + direct) / np.pi
    tint = np.asarray(tint, dtype=np.float64)
    tint = tint / (tint @ LUMA)
    return shade * tone_map_linear((luminance * tint)[None, :])[0]


# ---------------------------------------------------------------------------
# Milky Way: the map and its numpy twin
# ---------------------------------------------------------------------------

#: ICRS -> galactic rotation (rows: galactic x, y, z in ICRS; Hipparcos, ESA 1997, vol. 1, sec. 1.5.3).
GALACTIC_FROM_ICRS = np.array([
    [-0.0548755604, -0.8734370902, -0.4838350155],
    [+0.4941094279, -0.4448296300, +0.7469822445],
    [-0.8676661490, -0.1980763734, +0.4559837762],
])
#: Map size (longitude x latitude texels): 5.7 texels per degree.
MILKY_WAY_MAP_SIZE = (2048, 1024)
#: Gaussian blur of the filled outlines (sigma, deg): soft edges, no staircase.
MILKY_WAY_BLUR_DEG = 0.8
#: Linear display brightness of the brightest part at opacity 1 (the outer outline is a fifth of it).
MILKY_WAY_PEAK = 0.012
#: Its colour, linear RGB (bluish white).
MILKY_WAY_RGB = (0.80, 0.88, 1.0)


def _galactic_lon_lat_deg(dirs_icrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(dirs_icrs, dtype=np.float64) @ GALACTIC_FROM_ICRS.T
    g = g / np.linalg.norm(g, axis=-1, keepdims=True)
    lon = np.degrees(np.arctan2(g[..., 1], g[..., 0])) % 360.0
    lat = np.degrees(np.arcsin(np.clip(g[..., 2], -1.0, 1.0)))
    return lon, lat


def fill_rings(rings_lon_lat_deg: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Even-odd fill of closed spherical rings on a longitude/latitude grid: (H, W) bool, row 0 at lat -90.

    Each ring is (M, 2) (lon, lat) degrees, consecutive points joined by the
    shorter way round in longitude, so rings that cross lon 0/360 or go all
    the way round (the edges of a band about the sphere) need no cutting.
    A texel is inside when a meridian from the north pole of the grid down to
    it crosses the rings an odd number of times: the pole must be outside
    every ring (true of the Milky Way in galactic coordinates).
    """
    width, height = size
    crossings_col: list[np.ndarray] = []
    crossings_lat: list[np.ndarray] = []
    for ring in rings_lon_lat_deg:
        p0 = np.asarray(ring, dtype=np.float64)
        p1 = np.roll(p0, -1, axis=0)
        dlon = (p1[:, 0] - p0[:, 0] + 180.0) % 360.0 - 180.0
        # Columns whose centre x = (c + 0.5) * 360 / W lies in [lon0, lon0 + dlon) (or the
        # reverse half-open range for a westward edge), counted on the unwrapped line.
        x0 = p0[:, 0] * width / 360.0 - 0.5
        x1 = x0 + dlon * width / 360.0
        lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        first = np.ceil(lo).astype(np.int64)
        count = np.maximum(np.ceil(hi).astype(np.int64) - first, 0)
        edge = np.repeat(np.arange(len(p0)), count)
        col = np.repeat(first, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        t = (col - x0[edge]) / np.where(x1[edge] != x0[edge], x1[edge] - x0[edge], 1.0)
        crossings_col.append(col % width)
        crossings_lat.append(p0[edge, 1] + t * (p1[edge, 1] - p0[edge, 1]))
    col = np.concatenate(crossings_col) if crossings_col else np.zeros(0, np.int64)
    lat = np.concatenate(crossings_lat) if crossings_lat else np.zeros(0)
    # Rows whose centre lies below the crossing are flipped: rows 0 .. below-1.
    below = np.clip(np.ceil((lat + 90.0) * height / 180.0 - 0.5).astype(np.int64), 0, height)
    flips = np.zeros((height + 1, width), np.int64)
    np.add.at(flips, (below, col), 1)
    # Row r is flipped by every crossing with below > r.
    from_top = np.cumsum(flips[::-1], axis=0)[::-1]
    return (from_top[1:] % 2).astype(bool)


def _gaussian_blur_wrap(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Separable Gaussian blur, periodic along both axes (the map is zero at the poles), by FFT."""
    h, w = image.shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fx * fx + fy * fy))
    return np.fft.irfft2(np.fft.rfft2(image) * kernel, s=image.shape)


@functools.lru_cache(maxsize=2)
def milky_way_map(size: tuple[int, int] = MILKY_WAY_MAP_SIZE, blur_deg: float = MILKY_WAY_BLUR_DEG) -> np.ndarray:
    """The Milky Way's brightness in galactic (l, b): (H, W) float32 in [0, 1], row 0 at b = -90.

    Column c covers l in [c, c + 1) * 360 / W, row r covers b in -90 + [r, r + 1) * 180 / H.
    The five outline levels each add a fifth; blurred by ``blur_deg``. Cached per process.
    """
    from domectl.skydata import load_milky_way

    width, height = size
    levels = load_milky_way()
    total = np.zeros((height, width), np.float64)
    for rings in levels:
        lon_lat = [np.stack(_galactic_lon_lat_deg(ring), axis=-1) for ring in rings]
        total += fill_rings(lon_lat, size)
    total /= len(levels)
    sigma_px = blur_deg * width / 360.0
    blurred = np.clip(_gaussian_blur_wrap(total, sigma_px), 0.0, 1.0).astype(np.float32)
    blurred.setflags(write=False)  # shared by every caller (cached)
    return blurred


def milky_way_intensity(dirs_icrs: np.ndarray, milky_map: np.ndarray | None = None) -> np.ndarray:
    """Map brightness at ICRS directions, bilinear with wrap in longitude: (N, 3) -> (N,) in [0, 1].

    The twin of the texture lookup in ``milky_way.glsl`` at its finest level.
    """
    m = milky_way_map() if milky_map is None else milky_map
    height, width = m.shape
    lon, lat = _galactic_lon_lat_deg(dirs_icrs)
    x = lon / 360.0 * width - 0.5
    y = np.clip((lat + 90.0) / 180.0 * height - 0.5, 0.0, height - 1.0)
    x0, y0 = np.floor(x).astype(np.int64), np.minimum(np.floor(y).astype(np.int64), height - 2)
    fx, fy = x - x0, y - y0
    c0, c1 = x0 % width, (x0 + 1) % width
    top = m[y0 + 1, c0] * (1 - fx) + m[y0 + 1, c1] * fx
    bottom = m[y0, c0] * (1 - fx) + m[y0, c1] * fx
    return bottom * (1 - fy) + top * fy


# ---------------------------------------------------------------------------
# Landscape: the numpy twin of the silhouette lookup
# ---------------------------------------------------------------------------


def landscape_coverage(dirs_dome: np.ndarray, d_dx: np.ndarray, d_dy: np.ndarray, enu_from_dome: np.ndarray,
                       silhouette_alt_deg: np.ndarray) -> np.ndarray:
    """Ground coverage in [0, 1] at dome directions with per-pixel derivatives: (N, 3) x 3 -> (N,).

    ``clamp(depth / |grad depth| + 0.5, 0, 1)`` with depth = silhouette altitude
    - altitude (deg) and its gradient in degrees per output pixel: a one-pixel
    antialiased edge. The twin of ``landscape.glsl`` (directions and
    derivatives from :func:`fisheye_dir_grad`).
    """
    profile = landscape_profile(silhouette_alt_deg).astype(np.float64)
    m = np.asarray(enu_from_dome, dtype=np.float64)
    e, ex, ey = (np.asarray(v, dtype=np.float64) @ m.T for v in (dirs_dome, d_dx, d_dy))
    rho2 = np.maximum(e[:, 0] ** 2 + e[:, 1] ** 2, 1e-24)
    alt = np.degrees(np.arctan2(e[:, 2], np.sqrt(rho2)))
    az = np.degrees(np.arctan2(e[:, 0], e[:, 1]))
    n = len(profile)
    x = (az / 360.0 % 1.0) * n
    i0 = np.floor(x).astype(np.int64)
    h0, h1 = profile[i0 % n], profile[(i0 + 1) % n]
    depth = h0 + (h1 - h0) * (x - i0) - alt
    # Azimuth atan2(x, y): the longitude of (y, x, z); altitude: the latitude.
    az_grad = np.stack([(e[:, 1] * ex[:, 0] - e[:, 0] * ex[:, 1]), (e[:, 1] * ey[:, 0] - e[:, 0] * ey[:, 1])], -1)
    az_grad = az_grad / rho2[:, None]
    alt_grad = np.stack([ex[:, 2], ey[:, 2]], -1) / np.sqrt(rho2)[:, None]
    slope = ((h1 - h0) * n / 360.0)[:, None]
    per_px = np.linalg.norm(np.degrees(slope * az_grad - alt_grad), axis=-1)
    return np.clip(depth / np.maximum(per_px, 1e-6) + 0.5, 0.0, 1.0)


def landscape_profile(silhouette_alt_deg: np.ndarray) -> np.ndarray:
    """Validated silhouette (a LayerView's ``landscape_alt_deg``): (N,) float32 altitudes
    at azimuths i * 360 / N; empty -> [0.0] (flat)."""
    profile = np.asarray(silhouette_alt_deg, dtype=np.float64)
    if profile.size == 0:
        return np.zeros(1, np.float32)
    if profile.ndim != 1 or not np.all(np.isfinite(profile)) or np.any(np.abs(profile) > 90.0):
        raise ValueError(
            f"landscape_alt_deg must be a 1-D array of finite altitudes in [-90, 90] deg at azimuths "
            f"evenly spaced from north through east, got shape {profile.shape} with "
            f"{int(np.sum(~np.isfinite(profile)))} non-finite values; check the hall's landscape file"
        )
    return profile.astype(np.float32)


def landscape_alt_deg(az_deg: np.ndarray, silhouette_alt_deg: np.ndarray) -> np.ndarray:
    """Silhouette altitude at azimuths (deg from north through east): (N,) -> (N,) deg.

    Linear between the samples, periodic; the twin of ``landscape.glsl``.
    """
    profile = landscape_profile(silhouette_alt_deg).astype(np.float64)
    n = len(profile)
    x = (np.asarray(az_deg, dtype=np.float64) / 360.0 % 1.0) * n
    i0 = np.floor(x).astype(np.int64)
    return profile[i0 % n] * (1.0 - (x - i0)) + profile[(i0 + 1) % n] * (x - i0)


# ---------------------------------------------------------------------------
# The inverse projection with derivatives (twin of dome_inverse.glsl)
# ---------------------------------------------------------------------------


def fisheye_dir_grad(uv: np.ndarray, uv_per_px: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Domemaster (u, v) -> (dome directions, d/d(window x), d/d(window y)): (N, 2) -> 3 x (N, 3).

    ``domectl.projection.fisheye_dir`` and its analytic derivatives per output
    pixel of a render at ``uv_per_px = ((u1 - u0) / w, (v1 - v0) / h)``
    (window y up, as v). The twin of ``fisheye_dir_grad`` in ``dome_inverse.glsl``.
    """
    uv = np.asarray(uv, dtype=np.float64)
    p = np.stack([uv[:, 0] - 0.5, 0.5 - uv[:, 1]], axis=-1)
    r = np.hypot(p[:, 0], p[:, 1])
    theta = np.pi * r
    safe = np.where(r > 0.0, r, 1.0)
    s = np.where(r > 0.0, np.sin(theta) / safe, np.pi)
    ds = np.where(r > 1e-6, (theta * np.cos(theta) - np.sin(theta)) / safe**2, -np.pi**3 * r / 3.0)
    q = np.where(r[:, None] > 0.0, p / safe[:, None], 0.0)
    qx, qy = q[:, 0], q[:, 1]
    d_px = np.stack([s + ds * r * qx * qx, ds * r * qx * qy, -np.pi * np.sin(theta) * qx], axis=-1)
    d_py = np.stack([ds * r * qx * qy, s + ds * r * qy * qy, -np.pi * np.sin(theta) * qy], axis=-1)
    dirs = np.concatenate([s[:, None] * p, np.cos(theta)[:, None]], axis=-1)
    return dirs, d_px * uv_per_px[0], -d_py * uv_per_px[1]


def uv_per_px(view: Any) -> tuple[float, float]:
    """Domemaster (u, v) per output pixel of a LayerView: ((u1 - u0) / w, (v1 - v0) / h)."""
    u0, v0, u1, v1 = (float(x) for x in view.rect_uv)
    return (u1 - u0) / float(view.size_px[0]), (v1 - v0) / float(view.size_px[1])


# ---------------------------------------------------------------------------
# GL: the layers
# ---------------------------------------------------------------------------


def mat3_bytes(matrix: np.ndarray) -> bytes:
    """Row-major numpy (3, 3) -> GLSL mat3 (column-major) bytes."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float64).T, dtype=np.float32).tobytes()


def sun_from_view(view: Any) -> tuple[np.ndarray, float]:
    """(unit ENU Sun direction, altitude deg) of a LayerView.

    ``view.sun_enu`` when set; when it is zeros (unknown), the Sun at
    ``view.sun_alt_deg`` due south (the default, -90 deg, is night).
    """
    sun = np.asarray(view.sun_enu, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(sun)
    if norm > 0.0:
        sun = sun / norm
        return sun, float(np.degrees(np.arcsin(np.clip(sun[2], -1.0, 1.0))))
    alt = np.radians(float(view.sun_alt_deg))
    return np.array([0.0, -np.cos(alt), np.sin(alt)]), float(view.sun_alt_deg)


class FullScreenPass:
    """One program drawn as a full-screen triangle over a LayerView's target.

    Sets the uniforms every backdrop program shares (``u_rect``,
    ``u_size_px``, ``u_uv_per_px``, ``u_rim_r``, ``u_zoom``) and the blend
    mode; leaves blending off.
    """

    def __init__(self, ctx: moderngl.Context, program: str) -> None:
        self.ctx = ctx
        self.program = load_program(ctx, program)
        self.vao = ctx.vertex_array(self.program, [])
        self.name = program

    def set(self, name: str, value: Any) -> None:
        """Set a uniform if the driver kept it (unused uniforms are optimised out)."""
        set_uniform(self.program, name, value)

    def draw(self, view: Any, blend: tuple[int, int]) -> None:
        rect = tuple(float(x) for x in view.rect_uv)
        self.set("u_rect", rect)
        self.set("u_size_px", (float(view.size_px[0]), float(view.size_px[1])))
        self.set("u_uv_per_px", uv_per_px(view))
        self.set("u_rim_r", 0.5 + RIM_MARGIN_R)
        self.set("u_zoom", zoom_uniform(view.zoom))
        ctx = self.ctx
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = blend
        self.vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, f"{self.name} layer")

    def release(self) -> None:
        self.vao.release()
        self.program.release()


#: Blend modes: light adds; opaque things go "over" (premultiplied alpha).
ADD = (moderngl.ONE, moderngl.ONE)
OVER = (moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA)


def _enu_from_dome(view: Any) -> np.ndarray:
    return np.asarray(view.dome_from_enu, dtype=np.float64).T


class DaylightLayer:
    """The ``daylight`` layer: the sky's colour by day and in twilight (module docstring).

    Drawn first, added to the black target; black from -18 deg of Sun altitude down.
    """

    names = ("daylight",)

    def __init__(self, ctx: moderngl.Context) -> None:
        self._pass = FullScreenPass(ctx, "backdrop_daylight")
        p = self._pass
        p.set("u_extinction", tuple(EXTINCTION_DEPTH))
        p.set("u_rayleigh", tuple(RAYLEIGH_DEPTH))
        p.set("u_aerosol", tuple(AEROSOL_ALBEDO * AEROSOL_DEPTH))
        p.set("u_hg_g", AEROSOL_G)
        p.set("u_tone", (TONE_WHITE_CD_M2, TONE_POWER, TONE_TOE_CD_M2))
        p.set("u_tone_offset", (TONE_TOE_CD_M2 / TONE_WHITE_CD_M2) ** TONE_POWER)

    def draw(self, view: Any, name: str, opacity: float) -> None:
        sun, alt_deg = sun_from_view(view)
        if alt_deg <= ASTRONOMICAL_TWILIGHT_DEG or opacity <= 0.0:
            return  # black: nothing to add
        terms = daylight_sun_terms(sun)
        p = self._pass
        p.set("u_enu_from_dome", mat3_bytes(_enu_from_dome(view)))
        p.set("u_sun_geo", tuple(terms["sun_geo"]))
        p.set("u_sun_depth", tuple(terms["sun_depth"]))
        p.set("u_shadow", terms["shadow"])
        p.set("u_scale", tuple(terms["scale"]))
        p.set("u_ambient", tuple(terms["ambient"]))
        p.set("u_opacity", float(opacity))
        p.set("u_gamma", float(view.gamma))
        p.draw(view, ADD)

    def release(self) -> None:
        self._pass.release()


class MilkyWayLayer:
    """The ``milky-way`` layer: a soft glow from the outlines (:func:`milky_way_map`), added.

    ``peak``: linear display brightness of the brightest part at opacity 1;
    ``rgb``: linear colour. Faded by :func:`night_factor` of the Sun's altitude.
    """

    names = ("milky-way",)

    def __init__(self, ctx: moderngl.Context, *, peak: float = MILKY_WAY_PEAK,
                 rgb: tuple[float, float, float] = MILKY_WAY_RGB,
                 map_size: tuple[int, int] = MILKY_WAY_MAP_SIZE) -> None:
        self.peak = float(peak)
        self.rgb = tuple(float(x) for x in rgb)
        self._pass = FullScreenPass(ctx, "milky_way")
        brightness = milky_way_map(tuple(map_size))
        self.texture = ctx.texture((brightness.shape[1], brightness.shape[0]), 1, brightness.astype(np.float16).tobytes(),
                                   dtype="f2")
        self.texture.build_mipmaps()
        self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        self.texture.repeat_x = True
        self.texture.repeat_y = False
        self._pass.set("u_map", 0)
        check_gl(ctx, "MilkyWayLayer upload")

    def draw(self, view: Any, name: str, opacity: float) -> None:
        _, alt_deg = sun_from_view(view)
        gain = float(opacity) * night_factor(alt_deg) * self.peak
        if gain <= 1e-6:
            return  # below half an 8-bit step everywhere
        p = self._pass
        icrs_from_dome = np.asarray(view.enu_from_icrs, np.float64).T @ _enu_from_dome(view)
        p.set("u_galactic_from_dome", mat3_bytes(GALACTIC_FROM_ICRS @ icrs_from_dome))
        p.set("u_rgb", tuple(gain * c for c in self.rgb))
        p.set("u_gamma", float(view.gamma))
        self.texture.use(0)
        p.draw(view, ADD)

    def release(self) -> None:
        self._pass.release()
        self.texture.release()


class LandscapeLayer:
    """The ``landscape`` layer: opaque ground below ``view.landscape_alt_deg``, "over" blended.

    ``albedo``, ``shade``, ``tint``: see :func:`ground_rgb_linear`. The profile texture is
    re-uploaded only when the silhouette changes.
    """

    names = ("landscape",)

    def __init__(self, ctx: moderngl.Context, *, albedo: float = GROUND_ALBEDO, shade: float = GROUND_SHADE,
                 tint: tuple[float, float, float] = GROUND_TINT) -> None:
        self.ctx = ctx
        self.albedo = float(albedo)
        self.shade = float(shade)
        self.tint = tuple(float(x) for x in tint)
        self._pass = FullScreenPass(ctx, "landscape")
        self._profile_key: bytes | None = None
        self._texture: moderngl.Texture | None = None
        self._pass.set("u_profile", 0)

    def _upload(self, landscape_alt_deg: np.ndarray) -> None:
        profile = landscape_profile(landscape_alt_deg)
        limit = int(self.ctx.info["GL_MAX_TEXTURE_SIZE"])
        if len(profile) > limit:
            raise ValueError(f"landscape_alt_deg has {len(profile)} samples, more than this GPU's "
                             f"{limit}-texel textures hold: resample the silhouette (one per 0.1 deg is plenty)")
        key = profile.tobytes()
        if key == self._profile_key:
            return
        if self._texture is not None:
            self._texture.release()
        self._texture = self.ctx.texture((len(profile), 1), 1, key, dtype="f4")
        self._texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self._profile_key = key
        self._pass.set("u_profile_n", len(profile))

    def draw(self, view: Any, name: str, opacity: float) -> None:
        self._upload(view.landscape_alt_deg)
        _, alt_deg = sun_from_view(view)
        ground = ground_rgb_linear(alt_deg, self.albedo, self.shade, self.tint) ** (1.0 / float(view.gamma))
        p = self._pass
        p.set("u_enu_from_dome", mat3_bytes(_enu_from_dome(view)))
        p.set("u_ground", tuple(float(x) for x in ground))
        p.set("u_opacity", float(opacity))
        self._texture.use(0)
        p.draw(view, OVER)

    def release(self) -> None:
        self._pass.release()
        if self._texture is not None:
            self._texture.release()
            self._texture = None
