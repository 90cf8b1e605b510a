// Antialiased lines on the dome, pass 2 of 2: one full-screen triangle lays
// the layer's colour over the bound frame with the coverage pass 1 gathered
// (lines.glsl): premultiplied "over", alpha = coverage x opacity, in the
// frame's display-encoded values.

#ifdef VERTEX_SHADER
void main() {
    // Vertices 0, 1, 2 -> a triangle covering the whole viewport.
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_coverage;   // same size as the frame, texel = pixel
uniform vec3 u_rgb;             // display-encoded colour
uniform float u_opacity;
out vec4 frag;

void main() {
    float alpha = texelFetch(u_coverage, ivec2(gl_FragCoord.xy), 0).r * u_opacity;
    if (alpha <= 0.0) {
        discard;
    }
    frag = vec4(u_rgb * alpha, alpha);
}
#endif
