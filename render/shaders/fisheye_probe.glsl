// Transform-feedback probe of dome_projection.glsl: directions in, (u, v) out.
// Used by tests to compare the GLSL projection with its numpy twin.
#include "dome_projection.glsl"

#ifdef VERTEX_SHADER
in vec3 in_dir;
out vec2 out_uv;
void main() {
    out_uv = fisheye_uv(in_dir);
}
#endif

#ifdef FRAGMENT_SHADER
out vec4 frag;
void main() {
    frag = vec4(0.0);
}
#endif
