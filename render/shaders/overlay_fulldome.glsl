// A full-dome frame: a domemaster image (the convention of our own output: zenith
// at the centre, front at the bottom, r = theta / pi) filling the rectangle of the
// domemaster being rendered, one full-screen triangle. Fixed on the dome: no zoom.
// The texture holds premultiplied, display-encoded RGBA (mipmapped), rows from the
// image's top; output is premultiplied "over" x u_opacity. The level of detail is
// given (u_lod, texels per output pixel, as render/overlays.py computes it) rather
// than taken from dFdx: a slice then samples what the whole render samples at its
// pixels, and a frame drawn at its own size samples its texel centres at level 0,
// giving back the image itself. Numpy twin: the image (tests/test_render_fulldome.py).
#include "dome_inverse.glsl"

#ifdef VERTEX_SHADER
void main() {
    gl_Position = fullscreen_triangle(gl_VertexID);
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_image;
uniform vec4 u_rect;            // (u0, v0, u1, v1) of the domemaster drawn
uniform vec2 u_size_px;
uniform float u_lod;            // log2 of the image's texels per output pixel, >= 0
uniform float u_opacity;
out vec4 frag;

void main() {
    vec2 uv = window_uv(gl_FragCoord.xy, u_rect, u_size_px);
    frag = textureLod(u_image, vec2(uv.x, 1.0 - uv.y), u_lod) * u_opacity;
}
#endif
