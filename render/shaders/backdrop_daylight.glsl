// Daylight and twilight sky colour, one full-screen triangle, added to the
// (black) target. Numpy twin: render.backdrop.sky_radiance_linear (per-pixel
// part _scattered + tone_map_linear); the per-frame terms (Sun geometry,
// optical depths, ozone, twilight level) come from daylight_sun_terms.
#include "dome_pass.glsl"

#ifdef VERTEX_SHADER
void main() {
    gl_Position = fullscreen_triangle(gl_VertexID);
}
#endif

#ifdef FRAGMENT_SHADER
uniform mat3 u_enu_from_dome;
uniform vec3 u_sun_geo;         // Sun direction, altitude clamped to >= 0
uniform vec3 u_sun_depth;       // tau * m_sun per channel
uniform float u_shadow;         // share of the air column above the Earth's shadow
uniform vec3 u_scale;           // solar illuminance x ozone x twilight level x shadow
uniform vec3 u_ambient;         // multiple-scattering fill
uniform vec3 u_extinction;      // tau per channel
uniform vec3 u_rayleigh;        // Rayleigh optical depth per channel
uniform vec3 u_aerosol;         // aerosol albedo x optical depth per channel
uniform float u_hg_g;           // Henyey-Greenstein asymmetry
uniform vec3 u_tone;            // (white cd/m^2, power, toe cd/m^2)
uniform float u_tone_offset;    // (toe / white) ** power
uniform float u_opacity;
uniform float u_gamma;
out vec4 frag;

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);

void main() {
    vec2 uv = dome_pass_uv();
    vec3 d = normalize(u_enu_from_dome * dome_pass_sky_dir(uv));
    // Below the horizon: the horizon's colour (the landscape hides it).
    float z = clamp(d.z, 0.0, 1.0);
    float alt_deg = degrees(asin(z));
    float m_view = 1.0 / (z + 0.50572 * pow(alt_deg + 6.07995, -1.6364));   // Kasten & Young 1989
    vec3 a = u_extinction * m_view;
    vec3 t = (a - u_sun_depth) * u_shadow;
    // (exp(t) - 1) / t: the lit part of the column (1 + t/2 near 0).
    bvec3 small = lessThan(abs(t), vec3(1e-4));
    vec3 t_safe = mix(t, vec3(1.0), small);
    vec3 lit = mix((exp(t_safe) - 1.0) / t_safe, 1.0 + 0.5 * t, small);

    float c = dot(d, u_sun_geo);
    float rayleigh = 3.0 / (16.0 * DOME_INV_PI) * (1.0 + c * c);
    float g = u_hg_g;
    float hg = (1.0 - g * g) / (4.0 * DOME_INV_PI * pow(1.0 + g * g - 2.0 * g * c, 1.5));
    vec3 phase = u_rayleigh * rayleigh + u_aerosol * hg;
    vec3 extinct = exp(-a);
    vec3 radiance = u_scale * phase * m_view * extinct * lit + u_ambient * (1.0 - extinct);

    // Tone map on luminance, hue kept (twin: tone_map_linear).
    float y = dot(radiance, LUMA);
    float y_display = pow((y + u_tone.z) / u_tone.x, u_tone.y) - u_tone_offset;
    vec3 rgb = y > 0.0 ? clamp(radiance * (y_display / y), 0.0, 1.0) : vec3(0.0);
    frag = vec4(pow(u_opacity * rgb, vec3(1.0 / u_gamma)), 0.0);
}
#endif
