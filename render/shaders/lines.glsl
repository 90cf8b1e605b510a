// Antialiased lines on the dome, pass 1 of 2: each segment (two unit vectors,
// a chord of at most MAX_STEP_DEG) is rotated into the dome frame, zoomed
// (zoom_dir), projected (fisheye_uv), and drawn as a quad around its
// window-space chord (under a zoom that magnifies, in u_pieces pieces, one
// per draw, so that the chords stay short on the dome); the
// fragment's coverage (distance to the chord, dash pattern, springline) goes
// into a one-channel target with MAX blending, so joints and crossings of a
// layer never add up. Pass 2 (lines_composite.glsl) lays the colour over the
// frame with that coverage. Numpy twin of the vertex stage:
// render/lines.py piece_segments + project_segments.
#include "dome_projection.glsl"
#include "label_sphere.glsl"

#ifdef VERTEX_SHADER
in vec2 in_corner;      // per vertex: (0 or 1 along the chord, -1 or +1 across)
in vec3 in_a;           // per segment: start, unit vector in the frame u_rot maps from
in vec3 in_b;           // end
in vec2 in_arc_deg;     // arc length along the polyline at a and at b (dashes)

uniform mat3 u_rot;             // to the dome frame
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_half_width_px;  // half the drawn width (at least half a pixel)
uniform float u_rim_r;          // segments with both ends beyond this domemaster radius are culled
uniform vec4 u_zoom;            // the sky's zoom: (centre, log2 zoom)
uniform int u_pieces;           // pieces per segment (0, a uniform never set, counts as 1)
uniform int u_piece;            // the piece this draw draws, 0 .. u_pieces - 1

flat out vec2 v_a_px;
flat out vec2 v_b_px;
flat out vec2 v_arc_deg;

void main() {
    // The piece: a stretch of the chord, whose points project onto the same great circle
    // (zoom_dir and fisheye_uv take any non-zero vector's direction); the segment's own
    // ends are kept exactly.
    int pieces = max(u_pieces, 1);
    float t0 = float(u_piece) / float(pieces);
    float t1 = float(u_piece + 1) / float(pieces);
    bool first = u_piece == 0;
    bool last = u_piece + 1 >= pieces;
    vec3 a = first ? in_a : mix(in_a, in_b, t0);
    vec3 b = last ? in_b : mix(in_a, in_b, t1);
    vec2 uv_a = fisheye_uv(zoom_dir(u_rot * a, u_zoom));
    vec2 uv_b = fisheye_uv(zoom_dir(u_rot * b, u_zoom));
    v_a_px = rect_window(uv_a, u_rect, u_size_px);
    v_b_px = rect_window(uv_b, u_rect, u_size_px);
    v_arc_deg = vec2(first ? in_arc_deg.x : mix(in_arc_deg.x, in_arc_deg.y, t0),
                     last ? in_arc_deg.y : mix(in_arc_deg.x, in_arc_deg.y, t1));

    vec2 chord = v_b_px - v_a_px;
    float len = length(chord);
    vec2 along = len > 1e-6 ? chord / len : vec2(1.0, 0.0);
    vec2 across = vec2(-along.y, along.x);
    // One pixel beyond the half width on every side holds the antialiased edge and the round caps.
    float reach = u_half_width_px + 1.0;
    vec2 window = mix(v_a_px, v_b_px, in_corner.x) + along * (2.0 * in_corner.x - 1.0) * reach
                  + across * in_corner.y * reach;
    gl_Position = vec4(window / u_size_px * 2.0 - 1.0, 0.0, 1.0);
    bool below_rim = length(uv_a - vec2(0.5)) > u_rim_r && length(uv_b - vec2(0.5)) > u_rim_r;
    if (below_rim) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);  // outside the clip volume: culled
    }
}
#endif

#ifdef FRAGMENT_SHADER
uniform vec4 u_rect;
uniform vec2 u_size_px;
uniform float u_half_width_px;
uniform float u_ink;            // coverage of the line's core: 1, or the width for lines under a pixel
uniform float u_rim_r;
uniform vec2 u_dash_deg;        // (on, period) along the polyline; period 0: solid

flat in vec2 v_a_px;
flat in vec2 v_b_px;
flat in vec2 v_arc_deg;
out vec4 frag;

void main() {
    vec2 p = gl_FragCoord.xy;
    vec2 chord = v_b_px - v_a_px;
    float len2 = dot(chord, chord);
    float t = len2 > 0.0 ? clamp(dot(p - v_a_px, chord) / len2, 0.0, 1.0) : 0.0;
    float dist = length(p - (v_a_px + t * chord));
    float coverage = clamp(u_half_width_px + 0.5 - dist, 0.0, 1.0) * u_ink;
    if (u_dash_deg.y > 0.0) {
        // Signed distance to the nearest dash edge, in degrees, then in pixels along the chord.
        float s = mod(mix(v_arc_deg.x, v_arc_deg.y, t), u_dash_deg.y);
        float inside = s < u_dash_deg.x ? min(s, u_dash_deg.x - s) : -min(s - u_dash_deg.x, u_dash_deg.y - s);
        float px_per_deg = sqrt(len2) / max(v_arc_deg.y - v_arc_deg.x, 1e-6);
        coverage *= clamp(inside * px_per_deg + 0.5, 0.0, 1.0);
    }
    coverage *= rim_coverage(p, u_rect, u_size_px, u_rim_r);
    if (coverage <= 0.0) {
        discard;
    }
    frag = vec4(coverage, 0.0, 0.0, 1.0);
}
#endif
