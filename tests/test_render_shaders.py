"""The shader loader: sections, defines, includes, and errors mapped to file:line."""

from __future__ import annotations

import re

import pytest

from domectl.errors import ShaderError
from render.shaders import SHADER_DIR, build_sources, load_program

GOOD_BODY = """\
#ifdef VERTEX_SHADER
in vec2 in_pos;
void main() {
    gl_Position = vec4(in_pos, 0.0, 1.0);
}
#endif
#ifdef FRAGMENT_SHADER
out vec4 frag;
void main() {
    frag = vec4(VALUE);
}
#endif
"""


def test_every_shipped_program_compiles(gl_ctx):
    # Programs have stage sections; the rest (dome_projection, refraction) are includes.
    programs = sorted(p.stem for p in SHADER_DIR.glob("*.glsl") if "#ifdef VERTEX_SHADER" in p.read_text())
    assert {"stars", "bodies", "warp", "fisheye_probe"} <= set(programs)
    for name in programs:
        load_program(gl_ctx, name).release()


def test_sections_defines_and_version(tmp_path):
    (tmp_path / "good.glsl").write_text(GOOD_BODY)
    sources, files = build_sources("good", {"VALUE": 0.25}, tmp_path)
    assert files == [tmp_path / "good.glsl"]
    for stage, other in (("VERTEX_SHADER", "FRAGMENT_SHADER"), ("FRAGMENT_SHADER", "VERTEX_SHADER")):
        lines = sources[stage].splitlines()
        assert lines[0] == "#version 330 core"
        assert f"#define {stage} 1" in lines
        assert f"#define {other} 1" not in lines
        assert "#define VALUE 0.25" in lines


def test_defines_reach_the_program(gl_ctx, tmp_path):
    (tmp_path / "good.glsl").write_text(GOOD_BODY)
    load_program(gl_ctx, "good", {"VALUE": 0.5}, shader_dir=tmp_path).release()
    with pytest.raises(ShaderError, match=r"good\.glsl:10: .*VALUE"):
        load_program(gl_ctx, "good", shader_dir=tmp_path)  # VALUE undefined on line 10


def test_compile_error_names_file_line_and_source(gl_ctx, tmp_path):
    broken = GOOD_BODY.replace("gl_Position = vec4(in_pos, 0.0, 1.0);", "gl_Position = vec4(in_pos, 0.0, 1.0)")
    (tmp_path / "broken.glsl").write_text(broken)
    with pytest.raises(ShaderError) as info:
        load_program(gl_ctx, "broken", {"VALUE": 1.0}, shader_dir=tmp_path)
    message = str(info.value)
    # The statement lacks its ';' on line 4; the parser notices at the '}' on line 5.
    match = re.search(r"^broken\.glsl:(\d+): .*\(vertex shader\)$", message, re.MULTILINE)
    assert match is not None, message
    assert int(match.group(1)) in (4, 5)
    assert "fix the GLSL in" in message


def test_error_inside_an_include_names_the_included_file(gl_ctx, tmp_path):
    (tmp_path / "lib.glsl").write_text("// helpers\n\nfloat twice(float x) {\n    return 2.0 * undefined_name;\n}\n")
    main = '#include "lib.glsl"\n' + GOOD_BODY.replace("vec4(VALUE)", "vec4(twice(VALUE))")
    (tmp_path / "main.glsl").write_text(main)
    with pytest.raises(ShaderError, match=r"lib\.glsl:4: .*undefined_name"):
        load_program(gl_ctx, "main", {"VALUE": 1.0}, shader_dir=tmp_path)


def test_lines_after_an_include_keep_their_numbers(gl_ctx, tmp_path):
    (tmp_path / "lib.glsl").write_text("float twice(float x) {\n    return 2.0 * x;\n}\n")
    main = '#include "lib.glsl"\n' + GOOD_BODY.replace("frag = vec4(VALUE);", "frag = vec4(VALUE) + oops;")
    (tmp_path / "main.glsl").write_text(main)
    with pytest.raises(ShaderError, match=r"main\.glsl:11: .*oops"):
        load_program(gl_ctx, "main", {"VALUE": 1.0}, shader_dir=tmp_path)


def test_link_error_is_a_shader_error(gl_ctx, tmp_path):
    text = GOOD_BODY.replace("in vec2 in_pos;", "in vec2 in_pos;\nout vec3 v_x;").replace(
        "gl_Position = vec4(in_pos, 0.0, 1.0);", "gl_Position = vec4(in_pos, 0.0, 1.0); v_x = vec3(1.0);"
    ).replace("out vec4 frag;", "in vec4 v_x;\nout vec4 frag;").replace("vec4(VALUE)", "v_x")
    (tmp_path / "mismatch.glsl").write_text(text)
    with pytest.raises(ShaderError, match=r"mismatch\.glsl failed to link:\n.*v_x"):
        load_program(gl_ctx, "mismatch", shader_dir=tmp_path)


def test_missing_program_and_missing_include(gl_ctx, tmp_path):
    with pytest.raises(ShaderError, match=r"nothere\.glsl: shader file not found in"):
        load_program(gl_ctx, "nothere", shader_dir=tmp_path)
    (tmp_path / "inc.glsl").write_text('\n#include "gone.glsl"\n')
    with pytest.raises(ShaderError, match=r"inc\.glsl:2: #include 'gone\.glsl': no such file"):
        load_program(gl_ctx, "inc", shader_dir=tmp_path)
