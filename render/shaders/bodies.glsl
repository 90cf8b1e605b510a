// Sun, Moon and planets: one instanced quad each, drawn after the stars with
// premultiplied "over" blending (the disc hides the stars behind it; glare adds).
// A body is a disc (angular size, phase-lit), plus a Gaussian point (planets
// too small to show a disc, same photometry as the stars), plus glare (Sun).
// Under the zoom a body moves with the sky (zoom_dir); its disc radius, given in
// pixels, already includes the zoom's local magnification (render/sky.py).
#include "dome_projection.glsl"

#ifdef VERTEX_SHADER
in vec2 in_corner;      // per vertex: (+-1, +-1)
in vec3 in_enu;         // per body: unit apparent direction, horizontal frame
in vec3 in_rgb;         // linear colour
in vec4 in_disc;        // (disc radius px, glare radius px, glare strength, phase angle rad)
in vec2 in_psf;         // (sigma px, linear peak) of the point part, 0 for none

uniform mat3 u_dome_from_enu;
uniform vec3 u_sun_enu;         // lights the phase; zero when unknown
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_max_body_px;
uniform float u_rim_margin;
uniform vec4 u_zoom;            // the sky's zoom: (centre, log2 zoom)

flat out vec2 v_centre_px;
flat out vec2 v_sun_dir;        // unit window-space direction toward the Sun
flat out vec3 v_rgb;
flat out vec4 v_disc;
flat out vec2 v_psf;

void main() {
    vec3 d = u_dome_from_enu * in_enu;
    vec2 uv = fisheye_uv(zoom_dir(d, u_zoom));
    v_centre_px = rect_window(uv, u_rect, u_size_px);

    // Local direction toward the Sun: step a little along the great circle to it (the
    // zoom keeps angles; the step shrinks with it so that it stays short once drawn).
    vec3 s = u_dome_from_enu * u_sun_enu;
    vec3 toward = s - dot(s, d) * d;
    vec2 dir = vec2(1.0, 0.0);
    if (length(toward) > 1e-6) {
        float step = 1e-3 / max(exp2(u_zoom.w), 1.0);
        vec2 ahead = rect_window(fisheye_uv(zoom_dir(d + step * normalize(toward), u_zoom)), u_rect, u_size_px);
        if (length(ahead - v_centre_px) > 0.0) {
            dir = normalize(ahead - v_centre_px);
        }
    }
    v_sun_dir = dir;
    v_rgb = in_rgb;
    v_disc = in_disc;
    v_psf = in_psf;

    // The cap bounds glare and points; a disc (large under a strong zoom) is never cut.
    float extent = max(max(in_disc.x, in_disc.y), 4.0 * in_psf.x) + 1.0;
    extent = min(extent, max(u_max_body_px, in_disc.x + 1.0));
    vec2 window = v_centre_px + in_corner * extent;
    gl_Position = vec4(window / u_size_px * 2.0 - 1.0, 0.0, 1.0);

    // Cull bodies wholly below the springline.
    float extent_uv = extent / u_size_px.x * (u_rect.z - u_rect.x);
    if (length(uv - vec2(0.5)) > 0.5 + u_rim_margin + extent_uv) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
    }
}
#endif

#ifdef FRAGMENT_SHADER
uniform float u_gamma;
uniform float u_opacity;        // the layer's fade
flat in vec2 v_centre_px;
flat in vec2 v_sun_dir;
flat in vec3 v_rgb;
flat in vec4 v_disc;
flat in vec2 v_psf;
out vec4 frag;

void main() {
    vec2 offset = gl_FragCoord.xy - v_centre_px;
    float dist = length(offset);
    float disc_r = v_disc.x;

    // Disc with a one-pixel antialiased edge.
    float cover = disc_r > 0.0 ? clamp(disc_r - dist + 0.5, 0.0, 1.0) : 0.0;
    // Phase: the visible hemisphere's normal at this point, lit from the Sun
    // at phase angle i (0 = full); the terminator is soft over about a pixel.
    vec2 p = offset / max(disc_r, 1e-3);
    float x = dot(p, v_sun_dir);
    float y = dot(p, vec2(-v_sun_dir.y, v_sun_dir.x));
    float z = sqrt(max(1.0 - x * x - y * y, 0.0));
    float i = v_disc.w;
    float lit_dot = x * sin(i) + z * cos(i);
    float soft = 1.0 / max(disc_r, 1.0);
    float lit = smoothstep(-soft, soft, lit_dot);

    float point = v_psf.y > 0.0 ? v_psf.y * exp(-0.5 * dist * dist / (v_psf.x * v_psf.x)) : 0.0;
    float glare_r = v_disc.y;
    float glare = glare_r > 0.0 ? v_disc.z * exp(-4.0 * dist / glare_r) * (1.0 - smoothstep(0.7 * glare_r, glare_r, dist)) : 0.0;

    vec3 linear_rgb = clamp(v_rgb * (cover * lit + point + glare), 0.0, 1.0);
    // Premultiplied: colour added, the disc's coverage hides what is behind.
    frag = vec4(pow(linear_rgb, vec3(1.0 / u_gamma)), cover) * u_opacity;
}
#endif
