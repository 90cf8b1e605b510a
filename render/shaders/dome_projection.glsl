// Dome projection, shared by every program that draws on the domemaster.
// GLSL twin of domectl/projection.py (fisheye_uv); tests/test_render_projection.py
// compares the two. Conventions: dome frame +z zenith, +y front, +x right;
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
