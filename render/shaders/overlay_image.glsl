// An image fixed on the dome: a grid of quads placed on the sphere about the
// overlay's anchor in its upright tangent basis (label_sphere.glsl), projected
// per vertex, so the picture keeps its shape and angular size anywhere on the
// dome. The texture holds premultiplied, display-encoded RGBA (mipmapped);
// output is premultiplied "over". Numpy twin of the vertex stage:
// render/overlays.py image_grid_dirs.
#include "dome_projection.glsl"
#include "label_sphere.glsl"

#ifdef VERTEX_SHADER
in vec2 in_grid;                // (0..1, 0..1): left to right, bottom to top of the image

uniform vec3 u_anchor;          // dome-frame unit vector of the image's centre
uniform vec2 u_half_size_rad;   // half width, half height (radians of arc)
uniform float u_zenith_cap_rad;
uniform vec4 u_rect;

out vec2 v_tex;

void main() {
    vec3 p = normalize(u_anchor);
    vec3 up = label_up(p, u_zenith_cap_rad);
    vec3 right = cross(p, up);
    vec3 d = label_offset_dir(p, right, up, (in_grid * 2.0 - 1.0) * u_half_size_rad);
    gl_Position = vec4(rect_ndc(fisheye_uv(d), u_rect), 0.0, 1.0);
    v_tex = vec2(in_grid.x, 1.0 - in_grid.y);  // texture rows run from the image's top
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_image;
uniform float u_opacity;
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_rim_r;

in vec2 v_tex;
out vec4 frag;

void main() {
    float a = u_opacity * rim_coverage(gl_FragCoord.xy, u_rect, u_size_px, u_rim_r);
    vec4 texel = texture(u_image, v_tex) * a;
    if (texel.a <= 0.0) {
        discard;
    }
    frag = texel;
}
#endif
