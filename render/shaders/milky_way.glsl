// The Milky Way's glow: a galactic (l, b) equirectangular map sampled per
// pixel, added to what is below. Numpy twin of the lookup:
// render.backdrop.milky_way_intensity (finest level).
#include "dome_pass.glsl"

#ifdef VERTEX_SHADER
void main() {
    gl_Position = fullscreen_triangle(gl_VertexID);
}
#endif

#ifdef FRAGMENT_SHADER
uniform mat3 u_galactic_from_dome;
uniform sampler2D u_map;        // (l, b) brightness, l wraps, b clamps
uniform vec3 u_rgb;             // linear colour x peak x opacity x night factor
uniform float u_gamma;
out vec4 frag;

void main() {
    vec2 uv = dome_pass_uv();
    vec3 d_dx, d_dy;
    vec3 d = dome_pass_sky_dir_grad(uv, d_dx, d_dy);
    vec3 g = u_galactic_from_dome * d;
    vec3 g_dx = u_galactic_from_dome * d_dx;
    vec3 g_dy = u_galactic_from_dome * d_dy;
    float s = atan(g.y, g.x) / (2.0 * DOME_INV_PI);                 // (-0.5, 0.5]: wraps at l = 180
    float t = atan(g.z, length(g.xy)) / DOME_INV_PI + 0.5;
    // Analytic gradients pick the level of detail: no jump where the longitude
    // wraps, so no line there.
    vec2 ds = longitude_grad(g, g_dx, g_dy) / (2.0 * DOME_INV_PI);
    vec2 dt = latitude_grad(g, g_dx, g_dy) / DOME_INV_PI;
    float value = textureGrad(u_map, vec2(s, t), vec2(ds.x, dt.x), vec2(ds.y, dt.y)).r;
    frag = vec4(pow(value * u_rgb, vec3(1.0 / u_gamma)), 0.0);
}
#endif
