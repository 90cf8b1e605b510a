// Warp + blend + uplift + colour: a projector-space mesh samples the display-encoded
// slice at each vertex's domemaster (u, v), decodes to linear light,
// multiplies by the projector's blend weight, raises black by the black-level
// uplift (uplift + (1 - uplift) * x), applies the calibration's colour
// (per-channel gain, then an optional per-channel LUT, both in linear light)
// and encodes again. The formula and why: render/warp_pass.py's docstring.
// Numpy twin: render.warp_pass.warp_shade (tests/test_render_warp.py,
// tests/test_black_uplift.py); its colour step render.warp_pass.colour_linear
// (tests/test_calibration_cluster.py).

#ifdef VERTEX_SHADER
in vec2 in_ndc;        // projector pixel position, rows flipped so GL row 0 = image top row
in vec2 in_uv;         // domemaster (u, v) seen by that projector pixel
in float in_cut;       // signed margin to the dome's edge: lit where >= 0
out vec2 v_uv;
out float v_cut;
void main() {
    v_uv = in_uv;
    v_cut = in_cut;
    gl_Position = vec4(in_ndc, 0.0, 1.0);
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_slice;    // RGBA8, display-encoded
uniform sampler2D u_blend;    // RG32F over the projector image (any resolution): R the linear
                              // blend weight, G the linear black-level uplift
uniform vec2 u_out_size;      // projector image size in pixels
uniform vec4 u_rect;          // (u0, v0, u1, v1) of the domemaster the slice holds
uniform float u_gamma;
uniform vec3 u_gain;          // linear-light gain per channel (1: none)
uniform sampler2D u_lut;      // (n, 1) RGB32F: entry k is the output for input k / (n - 1)
uniform float u_lut_size;     // n; 0: no LUT
in vec2 v_uv;
in float v_cut;
out vec4 frag;
void main() {
    if (v_cut < 0.0) {
        frag = vec4(0.0, 0.0, 0.0, 1.0);   // beyond the springline: no light
        return;
    }
    vec2 st = (v_uv - u_rect.xy) / (u_rect.zw - u_rect.xy);
    vec3 encoded = texture(u_slice, st).rgb;
    // Pixel centres land on texel centres when the mask has the projector's resolution
    // (exact); a coarser mask is interpolated bilinearly (the weights are smooth ramps).
    vec2 mask = texture(u_blend, gl_FragCoord.xy / u_out_size).rg;
    vec3 linear_rgb = pow(encoded, vec3(u_gamma)) * mask.r;
    // Black-level uplift before the colour step, so that the LUT linearises it like any light.
    linear_rgb = mask.g + (1.0 - mask.g) * linear_rgb;
    // A projector cannot show more than its white: a gain above 1 saturates.
    linear_rgb = clamp(linear_rgb * u_gain, 0.0, 1.0);
    if (u_lut_size > 1.5) {
        // Texel k's centre is at (k + 0.5) / n: input x lands between entries floor and
        // ceil of x (n - 1), linearly interpolated by the texture unit.
        vec3 s = (linear_rgb * (u_lut_size - 1.0) + 0.5) / u_lut_size;
        linear_rgb = vec3(texture(u_lut, vec2(s.r, 0.5)).r, texture(u_lut, vec2(s.g, 0.5)).g,
                          texture(u_lut, vec2(s.b, 0.5)).b);
    }
    frag = vec4(pow(linear_rgb, vec3(1.0 / u_gamma)), 1.0);
}
#endif
