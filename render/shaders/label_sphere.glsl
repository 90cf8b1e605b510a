// Geometry on the dome sphere shared by text, images and lines: the upright
// tangent basis at a point, offsets along the sphere, and the springline clip.
// Numpy twins: render/labels.py label_up, label_basis and offset_dirs;
// tests/test_render_labels.py compares them with renders.

// Unit vector of v, or zero when v is (nearly) zero.
vec3 sphere_safe_normalize(vec3 v) {
    float len = length(v);
    return len > 1e-12 ? v / len : vec3(0.0);
}

// "Up" for text at the dome-frame unit vector p: toward the dome zenith along
// the sphere, blending (smoothstep in the angle from the zenith, full at the
// zenith, none beyond cap_rad) into the tangent projection of the dome's back
// (-y), which is "up" for an audience facing the front with heads tilted back.
// Where the two cancel (on the back meridian, about cap_rad / 2 behind the
// zenith: a point every such field must have) up falls back to +x's projection.
vec3 label_up(vec3 p, float cap_rad) {
    vec3 to_zenith = sphere_safe_normalize(vec3(0.0, 0.0, 1.0) - p.z * p);
    vec3 to_back = sphere_safe_normalize(vec3(0.0, -1.0, 0.0) + p.y * p);
    float theta = atan(length(p.xy), p.z);
    float w = cap_rad > 0.0 ? 1.0 - smoothstep(0.0, cap_rad, theta) : 0.0;
    vec3 up = mix(to_zenith, to_back, w);
    if (length(up) < 1e-6) {
        up = vec3(1.0, 0.0, 0.0) - p.x * p;
    }
    return normalize(up);
}

// The point reached from p by going offset_rad.x along `right` and
// offset_rad.y along `up` (tangent unit vectors at p), as one great-circle step
// of the combined length: the azimuthal equidistant map about p, so shapes
// drawn in (right, up) keep their angular size and form anywhere on the dome.
vec3 label_offset_dir(vec3 p, vec3 right, vec3 up, vec2 offset_rad) {
    vec3 o = offset_rad.x * right + offset_rad.y * up;
    float angle = length(offset_rad);
    return angle > 0.0 ? cos(angle) * p + (sin(angle) / angle) * o : p;
}

// Coverage (0..1, antialiased over one output pixel) of the window pixel at
// frag_px inside the domemaster disc of radius rim_r about (0.5, 0.5), for a
// render of rect = (u0, v0, u1, v1) at size_px.
float rim_coverage(vec2 frag_px, vec4 rect, vec2 size_px, float rim_r) {
    vec2 uv = rect.xy + frag_px / size_px * (rect.zw - rect.xy);
    float px_per_r = size_px.x / (rect.z - rect.x);
    return clamp((rim_r - length(uv - vec2(0.5))) * px_per_r + 0.5, 0.0, 1.0);
}
