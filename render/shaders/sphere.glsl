// A lit, textured sphere (an oblate spheroid), ray-cast per pixel: render/spheres.py.
// Numpy twin: render.spheres.sphere_pixels (and sphere_shade for the lighting).
//
// Each pixel's drawn direction -> (unzoom) the sky direction d it shows (dome frame) -> the eye's
// ray o(d) + t d (ods_origin, ods.glsl: the exact inverse of the forward ODS map) -> its first
// intersection with the spheroid, in the spheroid's scaled frame where it is the unit sphere:
// q + t v, q = S^-1 B (o - C), v = S^-1 B d (B: body-fixed from dome, S = diag(R, R, R polar)).
// The closest approach to the centre is at t_mid = -q.v / v.v; h = |q + t_mid v| < 1 hits.
// No mesh: no seam, no tessellation, no far side (the first intersection is the near side),
// exact at any size (a planet filling half the sky as well as a 2 px Moon).
// The quad drawn bounds the sphere's image (render.spheres.sphere_bounds_px); the pixel
// side is that of dome_pass.glsl (rect, zoom, rim), the output premultiplied "over".
#include "dome_inverse.glsl"
#include "ods.glsl"

#ifdef VERTEX_SHADER
uniform vec4 u_quad_ndc;        // (x0, y0, x1, y1) of the bounding quad
void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float(gl_VertexID >> 1));
    gl_Position = vec4(mix(u_quad_ndc.xy, u_quad_ndc.zw, corner), 0.0, 1.0);
}
#endif

#ifdef FRAGMENT_SHADER
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_rim_r;
uniform vec4 u_zoom;
uniform float u_eye;
uniform float u_separation;
uniform float u_taper_from;
uniform mat3 u_scaled_from_dome;    // S^-1 B
uniform vec3 u_q0;                  // S^-1 B (-C): the dome centre in the scaled frame
uniform mat3 u_body_from_dome;      // B
uniform vec3 u_sun_body;            // unit, body-fixed: toward the Sun
uniform float u_polar_ratio;
uniform float u_radius_px_per_rad;  // R (metres) x output px per radian (along a domemaster radius)
uniform float u_ls_weight;          // Lommel-Seeliger share of the lighting (the Moon's flat look)
uniform bool u_textured;
uniform sampler2D u_albedo;         // equirectangular, sRGB-encoded (domectl/textures.py)
uniform vec3 u_albedo_rgb;          // linear albedo without a texture
uniform float u_gamma;
uniform float u_opacity;
out vec4 frag;

// The zoom's local magnification at the sky direction d (domectl.projection.zoom_magnification).
float zoom_gain(vec3 d, vec4 zoom) {
    if (zoom.w == 0.0) {
        return 1.0;
    }
    float z = exp2(zoom.w);
    vec3 e = d - zoom.xyz;
    vec3 s = d + zoom.xyz;
    return 2.0 * z / (0.5 * dot(s, s) + z * z * 0.5 * dot(e, e));
}

// Lambert mixed with Lommel-Seeliger (2 cos_i / (cos_i + cos_e): 1 at the centre of a full disc,
// flat across it): render.spheres.sphere_shade.
float sphere_shade(float cos_i, float cos_e, float ls_weight) {
    if (cos_i <= 0.0) {
        return 0.0;
    }
    float ls = 2.0 * cos_i / (cos_i + max(cos_e, 0.0));
    return mix(cos_i, ls, ls_weight);
}

void main() {
    vec2 uv = window_uv(gl_FragCoord.xy, u_rect, u_size_px);
    bool inside_rim = length(uv - vec2(0.5)) <= u_rim_r;
    vec3 d = normalize(unzoom_dir(fisheye_dir(uv), u_zoom));
    vec3 o = ods_origin(d, u_eye, u_separation, u_taper_from);
    vec3 q = u_q0 + u_scaled_from_dome * o;
    vec3 v = u_scaled_from_dome * d;
    float vv = dot(v, v);
    float t_mid = -dot(q, v) / vv;
    vec3 pc = q + t_mid * v;
    float h = length(pc);
    // Distance to the limb in output pixels (the scaled frame's unit is R, seen from t_mid metres).
    float edge_px = (1.0 - h) * u_radius_px_per_rad * zoom_gain(d, u_zoom) / max(t_mid, 1e-30);
    float coverage = t_mid > 0.0 ? clamp(edge_px + 0.5, 0.0, 1.0) : 0.0;
    // The near intersection; just outside the limb (antialiasing), the limb point.
    vec3 hit = h < 1.0 ? q + (t_mid - sqrt((1.0 - h * h) / vv)) * v : pc / max(h, 1e-30);

    vec3 p_body = vec3(hit.xy, hit.z * u_polar_ratio);
    vec3 n = normalize(vec3(hit.xy, hit.z / u_polar_ratio));
    vec3 toward_eye = -normalize(u_body_from_dome * d);
    float shade = sphere_shade(dot(n, u_sun_body), dot(n, toward_eye), u_ls_weight);

    vec3 albedo = u_albedo_rgb;
    if (u_textured) {
        // Longitude 0 at the centre, east to the right; row 0 (t = 0) the north pole. Of the two
        // longitude cuts (at 180 and at 0 deg) use the one away from this pixel, so the mip level
        // does not jump at the seam (Tarini 2012).
        float u_a = atan(p_body.y, p_body.x) / (2.0 * DOME_INV_PI) + 0.5;
        float u_b = fract(u_a + 0.5) - 0.5;
        vec2 g_a = vec2(dFdx(u_a), dFdy(u_a));
        vec2 g_b = vec2(dFdx(u_b), dFdy(u_b));
        bool use_a = max(abs(g_a.x), abs(g_a.y)) <= max(abs(g_b.x), abs(g_b.y));
        float u_tex = use_a ? u_a : u_b;
        vec2 g_u = use_a ? g_a : g_b;
        float t_tex = 0.5 - asin(clamp(p_body.z / length(p_body), -1.0, 1.0)) / DOME_INV_PI;
        vec2 g_t = vec2(dFdx(t_tex), dFdy(t_tex));
        vec3 texel = textureGrad(u_albedo, vec2(u_tex, t_tex), vec2(g_u.x, g_t.x), vec2(g_u.y, g_t.y)).rgb;
        albedo = pow(texel, vec3(u_gamma));
    }
    vec3 linear_rgb = clamp(albedo * shade, 0.0, 1.0);
    float alpha = coverage * u_opacity;
    if (!inside_rim || alpha <= 0.0) {
        discard;
    }
    frag = vec4(pow(linear_rgb, vec3(1.0 / u_gamma)) * alpha, alpha);
}
#endif
