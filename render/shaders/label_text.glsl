// Text on the dome: one instanced quad per glyph, placed on the sphere.
// A glyph's quad corners are offsets from its label's anchor in the anchor's
// upright tangent basis (label_sphere.glsl), in atlas texels scaled to radians,
// taken along the sphere and projected per vertex: text keeps its angular size
// and shape anywhere on the dome, also near the rim where the fisheye stretches.
// Under the zoom (u_zoom) a label's anchor moves with the sky (zoom_dir); the text
// keeps its angular size. Numpy twin of the vertex stage: render/labels.py glyph_corner_dirs.
// Coverage comes from a mipmapped glyph atlas (render/labels.py GlyphAtlas);
// output is premultiplied "over" in the frame's display-encoded values.
#include "dome_projection.glsl"
#include "label_sphere.glsl"

#ifdef VERTEX_SHADER
in vec2 in_corner;          // per vertex: (0 or 1, 0 or 1)
in vec3 in_anchor;          // per glyph: its label's anchor, unit vector in the frame u_rot maps from
in vec4 in_quad;            // quad lower-left (x, y) and size (w, h) in texels, text-local (x right, y up)
in vec2 in_atlas;           // atlas texel (column, row) of the quad's top-left corner
in float in_rad_per_texel;  // the label's scale
in vec4 in_rgba;            // display-encoded colour and alpha

uniform mat3 u_rot;
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform vec2 u_atlas_size;
uniform float u_zenith_cap_rad;
uniform float u_cull_theta_rad;  // labels anchored farther than this from the zenith are not drawn
uniform vec4 u_zoom;             // the sky's zoom: (centre, log2 zoom); zero (no zoom) for dome text

out vec2 v_tex;
flat out vec4 v_rgba;

void main() {
    vec3 p = normalize(zoom_dir(u_rot * in_anchor, u_zoom));
    vec3 up = label_up(p, u_zenith_cap_rad);
    vec3 right = cross(p, up);
    vec2 local = in_quad.xy + in_corner * in_quad.zw;
    vec3 d = label_offset_dir(p, right, up, local * in_rad_per_texel);
    gl_Position = vec4(rect_ndc(fisheye_uv(d), u_rect), 0.0, 1.0);
    v_tex = (in_atlas + vec2(in_corner.x * in_quad.z, (1.0 - in_corner.y) * in_quad.w)) / u_atlas_size;
    v_rgba = in_rgba;
    if (atan(length(p.xy), p.z) > u_cull_theta_rad) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // outside the clip volume: culled
    }
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_atlas;      // R8 coverage, mipmapped
uniform vec2 u_atlas_size;
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_rim_r;
uniform float u_opacity;

in vec2 v_tex;
flat in vec4 v_rgba;
out vec4 frag;

void main() {
    float coverage = texture(u_atlas, v_tex).r;
    // Magnified, bilinear coverage ramps over a texel, i.e. over several pixels: steepen
    // the ramp around the 0.5 contour back to one pixel, so large text stays crisp.
    vec2 texels = v_tex * u_atlas_size;
    float texels_per_px = max(length(dFdx(texels)), length(dFdy(texels)));
    float px_per_texel = 1.0 / max(texels_per_px, 1e-6);
    if (px_per_texel > 1.0) {
        coverage = clamp((coverage - 0.5) * px_per_texel + 0.5, 0.0, 1.0);
    }
    float alpha = coverage * v_rgba.a * u_opacity * rim_coverage(gl_FragCoord.xy, u_rect, u_size_px, u_rim_r);
    if (alpha <= 0.0) {
        discard;
    }
    frag = vec4(v_rgba.rgb * alpha, alpha);
}
#endif
