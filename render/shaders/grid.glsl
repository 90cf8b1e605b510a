// Coordinate grids and great circles (alt-az, equatorial, ecliptic grids;
// meridian; horizon): lines of constant latitude and longitude of a frame,
// a constant width in output pixels, "over" blended (premultiplied).
// Numpy twins: render.grids.grid_coordinates_deg, grid_degrees_per_px, grid_line_offset_deg.
#include "dome_pass.glsl"

#ifdef VERTEX_SHADER
void main() {
    gl_Position = fullscreen_triangle(gl_VertexID);
}
#endif

#ifdef FRAGMENT_SHADER
uniform mat3 u_frame_from_dome;  // the grid's frame: lat = atan(z, |xy|), lon = atan(y, x)
uniform float u_lat_step_deg;    // 0: no latitude lines
uniform float u_lon_step_deg;    // 0: no longitude lines
uniform float u_width_px;
uniform float u_alpha;
uniform float u_equator_width_px; // 0: the equator is an ordinary latitude line
uniform float u_equator_alpha;
uniform float u_pole_lat_deg;    // above this |lat| only every u_pole_keep-th longitude line
uniform float u_pole_keep;
uniform vec3 u_rgb;              // display-encoded
uniform float u_opacity;
out vec4 frag;

// Coverage of a pixel by a line width_px wide where offset_deg is 0 (a one-pixel box filter);
// per_px: degrees per output pixel across the line.
float line(float offset_deg, float per_px, float width_px) {
    return clamp(0.5 * width_px + 0.5 - abs(offset_deg) / max(per_px, 1e-9), 0.0, 1.0);
}

void main() {
    vec2 uv = dome_pass_uv();
    vec3 d_dx, d_dy;
    vec3 d = dome_pass_sky_dir_grad(uv, d_dx, d_dy);
    vec3 f = u_frame_from_dome * d;
    vec3 f_dx = u_frame_from_dome * d_dx;
    vec3 f_dy = u_frame_from_dome * d_dy;
    float lat = degrees(atan(f.z, length(f.xy)));
    float lon = degrees(atan(f.y, f.x));
    // Degrees per output pixel across the lines (the gradients' lengths).
    float lat_per_px = degrees(length(latitude_grad(f, f_dx, f_dy)));
    float lon_per_px = degrees(length(longitude_grad(f, f_dx, f_dy)));

    float alpha = 0.0;
    if (u_lat_step_deg > 0.0) {
        float k = round(lat / u_lat_step_deg);
        bool pole = abs(k * u_lat_step_deg) > 89.999;            // a "circle" at the pole is a point
        bool equator = k == 0.0 && u_equator_width_px > 0.0;       // drawn below, stronger
        if (!pole && !equator) {
            alpha = max(alpha, u_alpha * line(lat - k * u_lat_step_deg, lat_per_px, u_width_px));
        }
    }
    if (u_equator_width_px > 0.0) {
        alpha = max(alpha, u_equator_alpha * line(lat, lat_per_px, u_equator_width_px));
    }
    if (u_lon_step_deg > 0.0) {
        float k = round(lon / u_lon_step_deg);
        // Near the poles the meridians converge: keep one in u_pole_keep.
        bool keep = abs(lat) < u_pole_lat_deg || mod(k, u_pole_keep) == 0.0;
        if (keep) {
            alpha = max(alpha, u_alpha * line(lon - k * u_lon_step_deg, lon_per_px, u_width_px));
        }
    }
    alpha *= u_opacity;
    frag = vec4(u_rgb * alpha, alpha);
}
#endif
