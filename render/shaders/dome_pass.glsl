// The fragment side every full-screen pass over a domemaster rectangle shares:
// its uniforms (set by render.backdrop.FullScreenPass) and the pixel's (u, v).
// The programs' vertex stage draws fullscreen_triangle (dome_inverse.glsl).
#include "dome_inverse.glsl"

#ifdef FRAGMENT_SHADER
uniform vec4 u_rect;            // (u0, v0, u1, v1) of the domemaster drawn
uniform vec2 u_size_px;
uniform vec2 u_uv_per_px;       // ((u1 - u0) / w, (v1 - v0) / h), for fisheye_dir_grad
uniform float u_rim_r;          // pixels farther from the centre (in uv) are left untouched

// This fragment's domemaster (u, v); a fragment beyond the rim is discarded.
vec2 dome_pass_uv() {
    vec2 uv = window_uv(gl_FragCoord.xy, u_rect, u_size_px);
    if (length(uv - vec2(0.5)) > u_rim_r) {
        discard;
    }
    return uv;
}
#endif
