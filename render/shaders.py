"""The one shader loader: ``render/shaders/<name>.glsl`` -> a moderngl program.

A program is one file holding both stages, each in its own section::

    #include "dome_projection.glsl"     // shared code, pasted in (either stage)
    #ifdef VERTEX_SHADER
    ...
    #endif
    #ifdef FRAGMENT_SHADER
    ...
    #endif

The loader prepends ``#version 330 core``, ``#define VERTEX_SHADER`` (or
``FRAGMENT_SHADER``) and the caller's defines, expands ``#include "x.glsl"``
lines (each file once), and marks every piece with a ``#line`` directive
whose number encodes the file: file S (0 = ``name.glsl``) line L is numbered
``S * LINE_BASE + L``, so the driver's messages map back to ``name.glsl:LINE``.
(Not the ``#line L S`` source-string number: Mesa 22 reports string 0 for
errors inside expressions of an included string.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import moderngl

from domectl.errors import ShaderError

SHADER_DIR = Path(__file__).resolve().parent / "shaders"
GLSL_VERSION = "#version 330 core"
STAGES = ("VERTEX_SHADER", "FRAGMENT_SHADER")
#: Line numbers of file S start at S * LINE_BASE + 1 (shader files are far shorter).
LINE_BASE = 100_000

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$')
# Mesa: "0:12(5): error: ..."; NVIDIA: "0(12) : error C0000: ..."; AMD/Intel Windows: "ERROR: 0:12: ...".
_DRIVER_LINE = (
    re.compile(r"^\s*(?P<src>\d+):(?P<line>\d+)\(\d+\):\s*(?P<msg>.*)$"),
    re.compile(r"^\s*(?P<src>\d+)\((?P<line>\d+)\)\s*:\s*(?P<msg>.*)$"),
    re.compile(r"^\s*(?:ERROR|WARNING):\s*(?P<src>\d+):(?P<line>\d+):\s*(?P<msg>.*)$"),
)


def _expand(path: Path, shader_dir: Path, files: list[Path]) -> str:
    """Source of ``path`` with includes pasted in, each piece tagged by ``#line`` (see LINE_BASE)."""
    index = len(files)
    files.append(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ShaderError(
            f"{path.name}: shader file not found in {shader_dir}; "
            f"programs are render/shaders/<name>.glsl"
        ) from None
    base = index * LINE_BASE
    out = [f"#line {base + 1}"]
    for number, line in enumerate(lines, start=1):
        match = _INCLUDE.match(line)
        if match is None:
            out.append(line)
            continue
        target = shader_dir / match.group(1)
        if target in files:
            out.append(f"// {match.group(1)} already included")
            continue
        if not target.is_file():
            raise ShaderError(f"{path.name}:{number}: #include {match.group(1)!r}: no such file in {shader_dir}")
        out.append(_expand(target, shader_dir, files))
        out.append(f"#line {base + number + 1}")
    return "\n".join(out)


def build_sources(
    name: str, defines: Mapping[str, object] | None = None, shader_dir: Path | str | None = None
) -> tuple[dict[str, str], list[Path]]:
    """Stage sources for program ``name``: ({'VERTEX_SHADER': src, 'FRAGMENT_SHADER': src}, files).

    ``files[S]`` is the file whose lines are numbered from ``S * LINE_BASE + 1``
    (0 is ``name.glsl``).
    """
    shader_dir = Path(shader_dir) if shader_dir is not None else SHADER_DIR
    files: list[Path] = []
    body = _expand(shader_dir / f"{name}.glsl", shader_dir, files)
    header_defines = "".join(f"#define {key} {value}\n" for key, value in (defines or {}).items())
    sources = {stage: f"{GLSL_VERSION}\n#define {stage} 1\n{header_defines}{body}\n" for stage in STAGES}
    return sources, files


def _map_message(message: str, files: Sequence[Path], sources: Mapping[str, str]) -> str:
    """Rewrite a driver's log so each located line reads ``file.glsl:LINE: msg`` + the source line."""
    out = []
    stage = ""
    for raw in message.splitlines():
        lowered = raw.strip().lower()
        if lowered in ("vertex_shader", "fragment_shader", "geometry_shader", "program"):
            stage = lowered.replace("_", " ")
            continue
        if not raw.strip() or set(raw.strip()) == {"="} or raw.startswith("GLSL "):
            continue
        for pattern in _DRIVER_LINE:
            match = pattern.match(raw)
            if match is None:
                continue
            src, line = divmod(int(match.group("line")), LINE_BASE)
            if src < len(files):
                path = files[src]
                try:
                    text = path.read_text(encoding="utf-8").splitlines()[line - 1].strip()
                except (IndexError, OSError):
                    text = ""
                where = f"{path.name}:{line}: {match.group('msg')}"
                if stage:
                    where += f" ({stage})"
                if text:
                    where += f"\n    {text}"
                out.append(where)
                break
        else:
            out.append(f"{files[0].name}: {raw.strip()}" + (f" ({stage})" if stage else ""))
    return "\n".join(out)


def load_program(
    ctx: moderngl.Context,
    name: str,
    defines: Mapping[str, object] | None = None,
    *,
    varyings: Sequence[str] = (),
    shader_dir: Path | str | None = None,
) -> moderngl.Program:
    """Compile and link ``<shader_dir>/<name>.glsl`` (default ``render/shaders``).

    ``defines`` become ``#define KEY VALUE`` lines after the version line.
    ``varyings`` names vertex outputs to capture by transform feedback; a
    program with varyings has no fragment stage. Raises :class:`ShaderError`
    reading ``name.glsl:LINE: message`` (with the offending source line) when
    compiling or linking fails.
    """
    sources, files = build_sources(name, defines, shader_dir)
    try:
        if varyings:
            return ctx.program(vertex_shader=sources["VERTEX_SHADER"], varyings=list(varyings))
        return ctx.program(vertex_shader=sources["VERTEX_SHADER"], fragment_shader=sources["FRAGMENT_SHADER"])
    except moderngl.Error as exc:
        kind = "link" if "Linker" in str(exc) else "compile"
        raise ShaderError(
            f"{name}.glsl failed to {kind}:\n{_map_message(str(exc), files, sources)}\n"
            f"fix the GLSL in {files[0]}"
        ) from None


def set_uniform(program: moderngl.Program, name: str, value) -> None:
    """Set uniform ``name`` if the driver kept it (unused uniforms are optimised out): bytes are
    written as they are (matrices), anything else is assigned as the uniform's value."""
    if name in program:
        uniform = program[name]
        if isinstance(value, (bytes, bytearray)):
            uniform.write(value)
        else:
            uniform.value = value
