// Transform-feedback probe of the zoom: zoom_dir (dome_projection.glsl) and
// unzoom_dir_grad (dome_inverse.glsl), directions and derivatives in, results out.
// Used by tests to compare the GLSL with its numpy twins in domectl.projection.
#include "dome_inverse.glsl"

#ifdef VERTEX_SHADER
in vec3 in_dir;
in vec3 in_dx;
in vec3 in_dy;
uniform vec4 u_zoom;
out vec3 out_zoomed;
out vec3 out_sky;
out vec3 out_dx;
out vec3 out_dy;
void main() {
    out_zoomed = zoom_dir(in_dir, u_zoom);
    out_dx = in_dx;
    out_dy = in_dy;
    out_sky = unzoom_dir_grad(in_dir, u_zoom, out_dx, out_dy);
}
#endif

#ifdef FRAGMENT_SHADER
out vec4 frag;
void main() {
    frag = vec4(0.0);
}
#endif
