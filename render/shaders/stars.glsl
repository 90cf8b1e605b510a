// Stars as point sprites with a Gaussian PSF, drawn with additive blending.
// Numpy twins: positions domectl.astro.star_directions (+ refract_enu when
// refraction is on) + domectl.projection.zoom_dir + fisheye_uv;
// photometry render.sky.star_psf. Output is display-encoded (gamma u_gamma).
#include "dome_projection.glsl"
#include "refraction.glsl"

#ifdef VERTEX_SHADER
in vec3 in_icrs;       // unit vector at the catalogue epoch (J1991.25)
in vec3 in_pm;         // d(unit vector)/dt, rad per Julian year
in float in_mag;       // Hipparcos Hp
in vec3 in_rgb;        // linear colour, max channel 1

uniform mat3 u_dome_from_icrs;
uniform bool u_refract;         // when set: d = dome_from_enu * refract(enu_from_icrs * u)
uniform mat3 u_enu_from_icrs;
uniform mat3 u_dome_from_enu;
uniform float u_refraction_scale;  // 0.28 P_mbar / (T_C + 273)
uniform vec3 u_beta;            // observer velocity / c, ICRS
uniform vec3 u_sun_e;           // unit vector Sun -> observer, ICRS
uniform float u_deflection;     // 2GM/(c^2 E) of the Sun at the observer's distance E; 0: none
uniform float u_years;          // Julian years since the catalogue epoch
uniform vec4 u_zoom;            // the sky's zoom: (centre, log2 zoom); stars stay points
uniform vec4 u_rect;            // (u0, v0, u1, v1) of the domemaster drawn
uniform vec2 u_size_px;         // render target size
uniform float u_margin_px;      // the viewport overhangs the target by this on every side
uniform float u_limiting_mag;
uniform float u_brightness;
uniform float u_contrast;
uniform float u_faint_peak;
uniform float u_sigma0_px;
uniform float u_size_exponent;
uniform float u_max_point_px;
uniform float u_rim_margin;     // domemaster radius past the springline still drawn
uniform float u_gamma;

flat out vec2 v_centre_px;      // window coordinates of the star (sub-pixel)
flat out vec3 v_peak_rgb;       // linear peak intensity x colour
flat out float v_sigma_px;
flat out float v_radius_px;     // PSF truncation radius

void main() {
    // Keep this order and these exact formulas: the numpy twin does the same.
    vec3 u = normalize(in_icrs + u_years * in_pm);
    float ue = dot(u, u_sun_e);
    u = normalize(u + u_deflection / max(1.0 + ue, 1e-7) * (u_sun_e - ue * u));
    u = normalize(u + u_beta - dot(u, u_beta) * u);
    vec3 d = u_refract ? u_dome_from_enu * refract_enu(u_enu_from_icrs * u, u_refraction_scale)
                       : u_dome_from_icrs * u;
    vec2 uv = fisheye_uv(zoom_dir(d, u_zoom));

    // Photometry (twin: render.sky.star_psf).
    float flux = pow(10.0, -0.4 * (in_mag - u_limiting_mag));
    float intensity = u_brightness * u_faint_peak * pow(flux, u_contrast);
    float peak = min(intensity, 1.0);
    float sigma = u_sigma0_px * pow(max(intensity, 1.0), u_size_exponent);
    // Truncate where the encoded profile drops below half an 8-bit step.
    float reach = log(max(peak, 1e-30)) + u_gamma * log(510.0);
    float radius = min(sigma * sqrt(2.0 * max(reach, 0.0)), 0.5 * u_max_point_px - 1.0);

    v_centre_px = rect_window(uv, u_rect, u_size_px);
    v_peak_rgb = peak * in_rgb;
    v_sigma_px = sigma;
    v_radius_px = radius;
    // The sprite covers every pixel centre within `radius` of the (sub-pixel) centre.
    gl_PointSize = 2.0 * ceil(radius) + 2.0;
    // NDC of the enlarged viewport: a sprite centred just outside the target
    // is not clipped, so its PSF wing inside the target is drawn.
    gl_Position = vec4((v_centre_px + u_margin_px) / (u_size_px + 2.0 * u_margin_px) * 2.0 - 1.0, 0.0, 1.0);

    bool faint = in_mag > u_limiting_mag || radius <= 0.0;
    bool below_rim = length(uv - vec2(0.5)) > 0.5 + u_rim_margin;
    bool outside = any(lessThan(v_centre_px, vec2(-radius))) || any(greaterThan(v_centre_px, u_size_px + radius));
    if (faint || below_rim || outside) {
        gl_Position = vec4(2.0, 2.0, 2.0, 1.0);   // outside the clip volume: culled
        gl_PointSize = 1.0;
    }
}
#endif

#ifdef FRAGMENT_SHADER
uniform float u_gamma;
flat in vec2 v_centre_px;
flat in vec3 v_peak_rgb;
flat in float v_sigma_px;
flat in float v_radius_px;
out vec4 frag;

void main() {
    // The PSF is centred on the exact projected position (gl_FragCoord is the
    // pixel centre), not on the sprite's pixel-snapped square, so centroids are
    // exact and a star moving by a fraction of a pixel moves smoothly.
    vec2 offset = gl_FragCoord.xy - v_centre_px;
    float r2 = dot(offset, offset);
    if (r2 > v_radius_px * v_radius_px) {
        discard;
    }
    vec3 linear_rgb = v_peak_rgb * exp(-0.5 * r2 / (v_sigma_px * v_sigma_px));
    frag = vec4(pow(linear_rgb, vec3(1.0 / u_gamma)), 1.0);
}
#endif
