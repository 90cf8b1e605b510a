// Show a finished image in a window: one full-screen triangle sampling a texture.
#ifdef VERTEX_SHADER
out vec2 v_uv;
void main() {
    // Vertices (-1,-1), (3,-1), (-1,3) cover the screen; uv follows.
    vec2 corner = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    v_uv = 0.5 * corner + 0.5;
    gl_Position = vec4(corner, 0.0, 1.0);
}
#endif

#ifdef FRAGMENT_SHADER
uniform sampler2D u_image;
in vec2 v_uv;
out vec4 frag;
void main() {
    frag = vec4(texture(u_image, v_uv).rgb, 1.0);
}
#endif
