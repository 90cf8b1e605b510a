// Opaque ground below the horizon silhouette, "over" blended (premultiplied),
// edge antialiased over one output pixel. Numpy twin: render.backdrop.landscape_coverage.
#include "dome_pass.glsl"

#ifdef VERTEX_SHADER
void main() {
    gl_Position = fullscreen_triangle(gl_VertexID);
}
#endif

#ifdef FRAGMENT_SHADER
uniform mat3 u_enu_from_dome;
uniform sampler2D u_profile;    // (N, 1) R32F: altitude (deg) at azimuth i * 360 / N
uniform int u_profile_n;
uniform vec3 u_ground;          // display-encoded ground colour
uniform float u_opacity;
out vec4 frag;

void main() {
    vec2 uv = dome_pass_uv();
    vec3 d_dx, d_dy;
    vec3 d = dome_pass_sky_dir_grad(uv, d_dx, d_dy);
    vec3 e = u_enu_from_dome * d;
    vec3 e_dx = u_enu_from_dome * d_dx;
    vec3 e_dy = u_enu_from_dome * d_dy;
    float alt_deg = degrees(atan(e.z, length(e.xy)));
    float az_turns = atan(e.x, e.y) / (2.0 * DOME_INV_PI);            // from north through east
    // Linear interpolation between samples, in float (not the texture unit's 8-bit weights).
    float n = float(u_profile_n);
    float x = fract(az_turns) * n;
    float i0 = floor(x);
    int k0 = int(i0) % u_profile_n;
    int k1 = (k0 + 1) % u_profile_n;
    float h0 = texelFetch(u_profile, ivec2(k0, 0), 0).r;
    float h1 = texelFetch(u_profile, ivec2(k1, 0), 0).r;
    float depth = mix(h0, h1, x - i0) - alt_deg;                     // > 0: below the ground
    // Its gradient (deg per px): the silhouette's slope along azimuth, minus the altitude's.
    // Azimuth is atan(x, y): the longitude of (y, x, z).
    vec2 az_grad = longitude_grad(e.yxz, e_dx.yxz, e_dy.yxz);
    vec2 depth_grad = degrees((h1 - h0) * n / 360.0 * az_grad - latitude_grad(e, e_dx, e_dy));
    float coverage = clamp(depth / max(length(depth_grad), 1e-6) + 0.5, 0.0, 1.0);
    float alpha = coverage * u_opacity;
    frag = vec4(u_ground * alpha, alpha);
}
#endif
