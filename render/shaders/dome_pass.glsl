// The fragment side every full-screen pass over a domemaster rectangle shares:
// its uniforms (set by render.backdrop.FullScreenPass), the pixel's (u, v) and
// the sky direction it shows (through the zoom).
// The programs' vertex stage draws fullscreen_triangle (dome_inverse.glsl).
#include "dome_inverse.glsl"

#ifdef FRAGMENT_SHADER
uniform vec4 u_rect;            // (u0, v0, u1, v1) of the domemaster drawn
uniform vec2 u_size_px;
uniform vec2 u_uv_per_px;       // ((u1 - u0) / w, (v1 - v0) / h), for fisheye_dir_grad
uniform float u_rim_r;          // pixels farther from the centre (in uv) are left untouched
uniform vec4 u_zoom;            // the sky's zoom: (centre, log2 zoom), domectl.projection.zoom_uniform

// This fragment's domemaster (u, v); a fragment beyond the rim is discarded.
vec2 dome_pass_uv() {
    vec2 uv = window_uv(gl_FragCoord.xy, u_rect, u_size_px);
    if (length(uv - vec2(0.5)) > u_rim_r) {
        discard;
    }
    return uv;
}

// The sky's direction (dome frame, as drawn without zoom) this pixel shows.
vec3 dome_pass_sky_dir(vec2 uv) {
    return unzoom_dir(fisheye_dir(uv), u_zoom);
}

// dome_pass_sky_dir with its derivatives per output pixel (fisheye_dir_grad, then unzoom_dir_grad).
vec3 dome_pass_sky_dir_grad(vec2 uv, out vec3 d_dx, out vec3 d_dy) {
    vec3 d = fisheye_dir_grad(uv, u_uv_per_px, d_dx, d_dy);
    return unzoom_dir_grad(d, u_zoom, d_dx, d_dy);
}
#endif
