// Transform-feedback probe of ods.glsl: points in, each eye's direction and eye position out.
// Used by tests/test_render_stereo.py to compare the GLSL with domectl/stereo.py.
#include "ods.glsl"

#ifdef VERTEX_SHADER
in vec3 in_point;
uniform float u_eye;
uniform float u_separation;
uniform float u_taper_from;
out vec3 out_dir;
out vec3 out_origin;
void main() {
    out_dir = ods_dir(in_point, u_eye, u_separation, u_taper_from);
    out_origin = ods_origin(out_dir, u_eye, u_separation, u_taper_from);
}
#endif

#ifdef FRAGMENT_SHADER
out vec4 frag;
void main() {
    frag = vec4(0.0);
}
#endif
