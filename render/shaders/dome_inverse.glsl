// Inverse dome projection, shared by the full-screen (backdrop) programs.
// GLSL twin of domectl/projection.py (fisheye_dir, unzoom_dir, unzoom_dir_grad);
// conventions as in dome_projection.glsl: domemaster (u, v), v up, zenith at
// (0.5, 0.5), front (+y) at the bottom, r = theta / pi.
#include "dome_projection.glsl"

const float DOME_INV_PI = 3.14159265358979323846;

// The sky direction the zoom (zoom_dir, dome_projection.glsl) draws at dome direction d:
// the same map by 1 / zoom. zoom.w == 0 returns d itself.
vec3 unzoom_dir(vec3 d, vec4 zoom) {
    return zoom_dir(d, vec4(zoom.xyz, -zoom.w));
}

// unzoom_dir of the unit vector d, with d_dx and d_dy (d's derivatives per output pixel,
// tangent to the sphere) replaced by the sky direction's. The map by w = 1 / zoom is
// conformal; its derivative along a tangent v is
// (2 w v + (1 - w)^2 (v.c) c - (1 - w^2) (v.c) f) / (a + w^2 b), f its value, c the centre,
// a and b as in zoom_dir.
vec3 unzoom_dir_grad(vec3 d, vec4 zoom, inout vec3 d_dx, inout vec3 d_dy) {
    if (zoom.w == 0.0) {
        return d;
    }
    vec3 c = zoom.xyz;
    vec3 f = unzoom_dir(d, zoom);
    float w = exp2(-zoom.w);
    vec3 s = d + c;
    vec3 e = d - c;
    float scale = 1.0 / (0.5 * dot(s, s) + w * w * 0.5 * dot(e, e));
    vec3 bend = (1.0 - w) * (1.0 - w) * c - (1.0 - w * w) * f;
    d_dx = (2.0 * w * d_dx + dot(d_dx, c) * bend) * scale;
    d_dy = (2.0 * w * d_dy + dot(d_dy, c) * bend) * scale;
    return f;
}

// Domemaster (u, v) -> dome-frame unit vector (valid for r <= 1).
vec3 fisheye_dir(vec2 uv) {
    vec2 p = vec2(uv.x - 0.5, 0.5 - uv.y);
    float r = length(p);
    float theta = r * DOME_INV_PI;
    vec2 xy = r > 0.0 ? sin(theta) * (p / r) : vec2(0.0);
    return vec3(xy, cos(theta));
}

// fisheye_dir and its derivatives along window x and y (per output pixel),
// for a render of the domemaster at uv_per_px = ((u1 - u0) / w, (v1 - v0) / h).
// Analytic rather than dFdx: the same at a pixel whatever slice it is drawn
// in (dFdx differs by 2x2 quad, so slices starting at odd pixels would not
// match at their seams), and valid at every pixel, before or after a discard.
// Numpy twin: render.backdrop.fisheye_dir_grad.
vec3 fisheye_dir_grad(vec2 uv, vec2 uv_per_px, out vec3 d_dx, out vec3 d_dy) {
    vec2 p = vec2(uv.x - 0.5, 0.5 - uv.y);
    float r = length(p);
    float theta = r * DOME_INV_PI;
    float sin_t = sin(theta);
    float cos_t = cos(theta);
    // dir.xy = s(r) p with s = sin(pi r) / r; ds = ds/dr (its series near the zenith,
    // where the quotient loses float precision).
    float s = r < 1e-2 ? DOME_INV_PI * (1.0 - theta * theta / 6.0) : sin_t / r;
    float ds = r < 1e-2 ? -DOME_INV_PI * DOME_INV_PI * DOME_INV_PI * r / 3.0
                        : (theta * cos_t - sin_t) / (r * r);
    vec2 q = r > 0.0 ? p / r : vec2(0.0);
    // d(dir)/d(p.x), d(dir)/d(p.y); p.x grows with window x, p.y shrinks with window y.
    vec3 d_px = vec3(s + ds * r * q.x * q.x, ds * r * q.x * q.y, -DOME_INV_PI * sin_t * q.x);
    vec3 d_py = vec3(ds * r * q.x * q.y, s + ds * r * q.y * q.y, -DOME_INV_PI * sin_t * q.y);
    d_dx = d_px * uv_per_px.x;
    d_dy = -d_py * uv_per_px.y;
    return vec3(s * p, cos_t);
}

// Gradients (radians per output pixel, along window x and y) of the latitude
// atan(f.z, |f.xy|) and longitude atan(f.y, f.x) of a unit vector f whose
// derivatives are f_dx, f_dy. Both blow up at the poles (|f.xy| -> 0).
vec2 latitude_grad(vec3 f, vec3 f_dx, vec3 f_dy) {
    return vec2(f_dx.z, f_dy.z) / max(length(f.xy), 1e-12);
}

vec2 longitude_grad(vec3 f, vec3 f_dx, vec3 f_dy) {
    float rho2 = max(dot(f.xy, f.xy), 1e-24);
    return vec2(f.x * f_dx.y - f.y * f_dx.x, f.x * f_dy.y - f.y * f_dy.x) / rho2;
}

// Window coordinates (gl_FragCoord.xy: pixels, origin bottom-left, centres at
// +0.5) of a render of the rectangle rect = (u0, v0, u1, v1) at size_px ->
// domemaster (u, v). The inverse of rect_window in dome_projection.glsl.
vec2 window_uv(vec2 window_px, vec4 rect, vec2 size_px) {
    return rect.xy + window_px / size_px * (rect.zw - rect.xy);
}

// One triangle covering the viewport, from gl_VertexID 0, 1, 2 (no vertex buffer).
vec4 fullscreen_triangle(int vertex_id) {
    vec2 corner = vec2(float((vertex_id << 1) & 2), float(vertex_id & 2));
    return vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
