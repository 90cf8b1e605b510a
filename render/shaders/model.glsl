// A 3D model (OBJ, domectl/meshes.py) lit by the Sun: render/models.py. Numpy twin of the vertex
// stage: render.models.project_vertices; of the lighting: render.models.model_shade.
//
// Vertices are in model units; u_dome_from_model (scale and rotation) and u_position_dome (metres)
// place them in the dome frame, relative to the dome centre. Each vertex goes through ODS
// (ods_dir, ods.glsl), the zoom (u_zoom: the sky's for a model in the sky, none for one on
// the dome) and the fisheye, as the other layers. The fisheye is singular at the dome's
// nadir: a triangle with a vertex farther than u_max_zenith_cos from the zenith, or nearer
// than u_near_m to the eye (ODS has no meaning there), is dropped whole. Every vertex of a
// triangle carries the triangle's three corners (in_a, in_b, in_c) so that all three make
// the same decision. Depth: log of the eye's distance, interpolated per triangle.
#include "dome_projection.glsl"
#include "ods.glsl"

#ifdef VERTEX_SHADER
in vec3 in_a;               // the triangle's corners, model units
in vec3 in_b;
in vec3 in_c;
in float in_corner;         // which of them this vertex is: 0, 1, 2
in vec3 in_normal;          // model frame, unit
in vec3 in_rgb;             // linear albedo

uniform mat3 u_dome_from_model;     // scale x rotation
uniform mat3 u_normal_dome_from_model;  // the rotation alone
uniform vec3 u_position_dome;       // the model's origin, metres
uniform float u_eye;
uniform float u_separation;
uniform float u_taper_from;
uniform vec4 u_zoom;
uniform vec4 u_rect;
uniform float u_near_m;
uniform float u_max_zenith_cos;
uniform vec2 u_depth;               // (log near, 1 / (log far - log near)) of the depth range, metres

out vec3 v_normal;
out vec3 v_rgb;
out vec3 v_dir;
invariant gl_Position;          // the depth pre-pass of a fading model and its colour pass agree

bool dropped(vec3 p) {
    float r = length(p);
    return r < u_near_m || p.z < u_max_zenith_cos * r;
}

void main() {
    vec3 pa = u_position_dome + u_dome_from_model * in_a;
    vec3 pb = u_position_dome + u_dome_from_model * in_b;
    vec3 pc = u_position_dome + u_dome_from_model * in_c;
    vec3 p = in_corner < 0.5 ? pa : (in_corner < 1.5 ? pb : pc);
    vec3 d = ods_dir(p, u_eye, u_separation, u_taper_from);
    vec2 ndc = rect_ndc(fisheye_uv(zoom_dir(d, u_zoom)), u_rect);
    float distance_m = length(p - ods_origin(d, u_eye, u_separation, u_taper_from));
    float depth = clamp((log(max(distance_m, 1e-30)) - u_depth.x) * u_depth.y, 0.0, 1.0) * 2.0 - 1.0;
    v_normal = u_normal_dome_from_model * in_normal;
    v_rgb = in_rgb;
    v_dir = d;
    gl_Position = (dropped(pa) || dropped(pb) || dropped(pc)) ? vec4(2.0, 2.0, 2.0, 1.0) : vec4(ndc, depth, 1.0);
}
#endif

#ifdef FRAGMENT_SHADER
uniform vec3 u_sun_dome;        // unit toward the Sun, dome frame; zero: unknown (drawn unshaded)
uniform float u_ambient;        // share of the light that reaches the night side
uniform float u_gamma;
uniform float u_opacity;
in vec3 v_normal;
in vec3 v_rgb;
in vec3 v_dir;
out vec4 frag;

// render.models.model_shade.
float model_shade(vec3 n, vec3 sun, float ambient) {
    if (dot(sun, sun) == 0.0) {
        return 1.0;
    }
    return ambient + (1.0 - ambient) * max(dot(n, sun), 0.0);
}

void main() {
    vec3 n = normalize(v_normal);
    // The side facing the eye is lit as the front (an open mesh's inside shows as its outside).
    if (dot(n, v_dir) > 0.0) {
        n = -n;
    }
    vec3 linear_rgb = clamp(v_rgb * model_shade(n, u_sun_dome, u_ambient), 0.0, 1.0);
    frag = vec4(pow(linear_rgb, vec3(1.0 / u_gamma)) * u_opacity, u_opacity);
}
#endif
