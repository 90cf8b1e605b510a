// Dome projection, shared by every program that draws on the domemaster.
// GLSL twin of domectl/projection.py (fisheye_uv, zoom_dir); tests/test_render_projection.py
// and tests/test_render_zoom.py compare them. Conventions: dome frame +z zenith, +y front, +x right;
// domemaster (u, v) in [0, 1], v up, zenith at (0.5, 0.5), front at the
// bottom, r = theta / pi (springline at r = 0.5).

const float DOME_PI = 3.14159265358979323846;

// Dome-frame direction (need not be unit) -> domemaster (u, v).
// theta = atan(rho, z) equals the twin's arccos(z / |d|), but arccos loses
// float32 precision near the zenith (an error of ~sqrt(2 eps) rad = 3e-4 rad,
// a pixel of a 10K domemaster); atan2 keeps full precision everywhere.
vec2 fisheye_uv(vec3 d) {
    float rho = length(d.xy);
    float r = atan(rho, d.z) / DOME_PI;
    vec2 unit_xy = rho > 0.0 ? d.xy / rho : vec2(0.0);
    return vec2(0.5 + r * unit_xy.x, 0.5 - r * unit_xy.y);
}

// The zoom (twin: domectl.projection.zoom_dir): where the sky direction d (dome frame,
// need not be unit) is drawn when the sky is magnified by exp2(zoom.w) about the dome-frame
// unit vector zoom.xyz: at theta' = 2 atan(zoom tan(theta / 2)) from it, same azimuth about
// it (conformal). zoom.w == 0 (zoom 1, and the value of a u_zoom never set) returns d itself.
// a = 1 + cos(theta) and b = 1 - cos(theta) come from |u +- centre|^2 / 2, each exact in
// float where it is small (near the centre a cosine would lose the offset's precision).
vec3 zoom_dir(vec3 d, vec4 zoom) {
    if (zoom.w == 0.0) {
        return d;
    }
    float z = exp2(zoom.w);
    vec3 u = normalize(d);
    vec3 e = u - zoom.xyz;
    vec3 s = u + zoom.xyz;
    float a = 0.5 * dot(s, s);
    float b = 0.5 * dot(e, e);
    return ((a - z * z * b + 2.0 * z * b) * zoom.xyz + 2.0 * z * e) / (a + z * z * b);
}

// Domemaster (u, v) -> window coordinates (pixels, origin bottom-left, pixel
// centres at +0.5) of a render of the rectangle rect = (u0, v0, u1, v1) at
// size_px = (w, h).
vec2 rect_window(vec2 uv, vec4 rect, vec2 size_px) {
    return (uv - rect.xy) / (rect.zw - rect.xy) * size_px;
}

// Domemaster (u, v) -> normalised device coordinates of that render.
vec2 rect_ndc(vec2 uv, vec4 rect) {
    return (uv - rect.xy) / (rect.zw - rect.xy) * 2.0 - 1.0;
}
