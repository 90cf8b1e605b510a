// Atmospheric refraction of horizontal (ENU) directions.
// GLSL twin of domectl.astro.refract_enu (Skyfield's Bennett formula scaled by
// pressure and temperature, solved by a fixed number of fixed-point steps);
// tests/test_render_sky.py compares rendered stars against the twin.

const int REFRACT_ITERATIONS = 6;          // domectl.astro.REFRACT_ITERATIONS
const float REFRACT_MIN_ALT_DEG = -1.0;
const float REFRACT_MAX_ALT_DEG = 89.9;

// Refraction (deg) at an observed altitude h (deg); scale = 0.28 P / (T + 273).
float refraction_deg(float h, float scale) {
    if (h < REFRACT_MIN_ALT_DEG || h > REFRACT_MAX_ALT_DEG) {
        return 0.0;
    }
    return 0.016667 / tan(radians(h + 7.31 / (h + 4.4))) * scale;
}

// Unrefracted ENU direction -> refracted ENU unit direction (azimuth kept).
vec3 refract_enu(vec3 v, float scale) {
    float horizontal = length(v.xy);
    float alt_deg = degrees(atan(v.z, horizontal));
    float h = alt_deg;
    for (int i = 0; i < REFRACT_ITERATIONS; ++i) {
        h = alt_deg + refraction_deg(h, scale);
    }
    float new_alt = radians(h);
    float k = horizontal > 0.0 ? cos(new_alt) / horizontal : 0.0;
    return vec3(v.xy * k, sin(new_alt));
}
