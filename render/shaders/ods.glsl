// Omnidirectional stereo (ODS), shared by the programs that draw near things (spheres,
// models). GLSL twin of domectl/stereo.py (taper, eye_offsets_m, ods_dirs); the conventions,
// the convergence bound and the closed form are in that module's docstring.
// Dome frame: +z zenith, +y front, +x right; positions in metres from the dome centre.
// eye: -1 left, +1 right, 0 mono; separation: the eyes' separation s (metres);
// taper_from: t0, the dome elevation (deg) where the separation starts to taper to 0 at the zenith.

const int ODS_ITERATIONS = 4;       // domectl.stereo.ODS_ITERATIONS

// 1 - smoothstep(t0, 90, elev): 1 at and below t0, 0 at the zenith.
float ods_taper(float elev_deg, float taper_from) {
    float x = clamp((elev_deg - taper_from) / max(90.0 - taper_from, 1e-6), 0.0, 1.0);
    return 1.0 - x * x * (3.0 - 2.0 * x);
}

// o(d): where eye `eye` sits when looking along the unit dome direction d (metres):
// e (s / 2) tau(elev(d)) normalize(d x z); d x z = (d.y, -d.x, 0) points right of d.
vec3 ods_origin(vec3 d, float eye, float separation, float taper_from) {
    float rho = length(d.xy);
    if (eye == 0.0 || separation == 0.0 || rho <= 0.0) {
        return vec3(0.0);
    }
    float elev_deg = degrees(atan(d.z, rho));
    return (eye * 0.5 * separation * ods_taper(elev_deg, taper_from) / rho) * vec3(d.y, -d.x, 0.0);
}

// The unit direction in which eye `eye` sees the point p (metres, dome frame): the
// fixed point of d <- normalize(p - o(d)) from normalize(p). Mono returns normalize(p).
vec3 ods_dir(vec3 p, float eye, float separation, float taper_from) {
    vec3 d = normalize(p);
    if (eye == 0.0 || separation == 0.0) {
        return d;
    }
    for (int i = 0; i < ODS_ITERATIONS; ++i) {
        d = normalize(p - ods_origin(d, eye, separation, taper_from));
    }
    return d;
}
