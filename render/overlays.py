"""The ``overlays`` layer: full-dome frames, texts and images fixed on the dome (``view.overlays``,
render/layers.py ``Overlay``). None of them zooms with the sky.

Placement: an overlay is centred on the dome-frame direction
``(dome_az_deg, dome_elev_deg)`` (:func:`overlay_dir`: azimuth from the
dome's front +y toward its right +x, elevation above the springline), upright
as labels are (render/labels.py: up toward the zenith, toward the back near
it), its size an angle: a text's cap height, an image's height (its width
follows its aspect ratio). Both are laid on the sphere in the anchor's
tangent basis and projected per vertex, so they keep their shape anywhere.

Text: any Unicode the font has (newlines start new lines, centred), colour
``Overlay.rgb`` display-encoded. Images: a PNG (or any format Pillow reads)
at a path the node can read, shown with its own colours (display-encoded, as
PNGs are) and alpha, premultiplied before filtering. Textures are cached per
path (up to ``max_images``, least recently used dropped) and reloaded when
the file's size or modification time changes; a file that is missing or
unreadable is logged once (per path and version), counted
(:attr:`OverlaysLayer.unreadable`) and skipped: a render never fails on an
overlay.

Full-dome frames (kind "fulldome", a film's frames): a square domemaster PNG
(the convention of our own output, so a domemaster we rendered comes back
unchanged) filling the rectangle being rendered (``view.rect_uv``: a slice
shows its part of it), over the sky layers and under every text and image,
whatever their order; the placement fields are ignored. Loaded and cached as
images are; sampled at a level of detail from its texels per output pixel
(:func:`fulldome_lod`), so a frame drawn at its own size is the image itself,
through a sampler of its own without the images' anisotropic filtering
(llvmpipe applies that even at an explicit level: a frame drawn at its own
size came back blurred, by up to 147 levels on random pixels).

Overlays are drawn in their order in ``view.overlays`` (full-dome frames
first); each overlay's ``opacity`` multiplies the layer's.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np
from PIL import Image

from render.context import check_gl
from render.labels import ZENITH_CAP_DEG, Label, TextPainter, offset_dirs
from render.lines import RIM_MARGIN_R
from render.shaders import load_program

log = logging.getLogger(__name__)

#: Quads per side of an image's grid on the sphere: a 30 deg image has 2 deg cells, whose
#: chords stray from the projected curve by far less than a pixel.
IMAGE_GRID = 16


def fulldome_lod(image_size_px: tuple[int, int], view: Any) -> float:
    """Mip level (log2 of the image's texels per output pixel, >= 0) of a full-dome frame
    of ``(width, height)`` drawn into ``view.rect_uv`` at ``view.size_px``."""
    u0, v0, u1, v1 = (float(x) for x in view.rect_uv)
    texels_per_px = max(image_size_px[0] * (u1 - u0) / float(view.size_px[0]),
                        image_size_px[1] * (v1 - v0) / float(view.size_px[1]))
    return max(0.0, float(np.log2(texels_per_px)))


def overlay_dir(dome_az_deg: float, dome_elev_deg: float) -> np.ndarray:
    """Dome-frame unit vector (3,) of an overlay position (module docstring)."""
    az, elev = np.radians(float(dome_az_deg)), np.radians(float(dome_elev_deg))
    return np.array([np.cos(elev) * np.sin(az), np.cos(elev) * np.cos(az), np.sin(elev)])


def image_grid_dirs(anchor_dome: np.ndarray, width_deg: float, height_deg: float, grid_uv: np.ndarray,
                    zenith_cap_deg: float = ZENITH_CAP_DEG) -> np.ndarray:
    """Twin of ``overlay_image.glsl``'s vertex stage: image coordinates -> dome directions.

    grid_uv (N, 2) in [0, 1] (x right, y up across the image) -> (N, 3) unit vectors.
    """
    half = 0.5 * np.radians(np.array([float(width_deg), float(height_deg)]))
    local = (np.asarray(grid_uv, dtype=np.float64) * 2.0 - 1.0) * half
    anchor = np.asarray(anchor_dome, dtype=np.float64)
    return offset_dirs(anchor / np.linalg.norm(anchor), local, zenith_cap_deg)


@dataclass
class _CachedImage:
    signature: tuple[int, int]
    texture: moderngl.Texture | None
    aspect: float  # width / height


def _premultiplied_rgba(path: str, max_size: int) -> tuple[np.ndarray, float]:
    """Read an image file -> ((H, W, 4) uint8 premultiplied RGBA, top row first; width / height)."""
    with Image.open(path) as image:
        image.load()
        rgba = image.convert("RGBA")
    aspect = rgba.width / rgba.height
    if max(rgba.size) > max_size:
        scale = max_size / max(rgba.size)
        rgba = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))), Image.LANCZOS)
    data = np.asarray(rgba, dtype=np.float32)
    data[..., :3] *= data[..., 3:4] / 255.0
    return np.round(data).astype(np.uint8), aspect


class OverlaysLayer:
    """The ``overlays`` layer (render/layers.py protocol). ``text`` may be shared with the label layers.

    ``unreadable`` counts the overlay draws skipped because their file could
    not be read (each frame's; the log says it once per file).
    """

    names = ("overlays",)

    def __init__(self, ctx: moderngl.Context, *, text: TextPainter | None = None, max_images: int = 32) -> None:
        self.ctx = ctx
        self._own_text = text is None
        self.text = text if text is not None else TextPainter(ctx)
        self.max_images = int(max_images)
        self._program = load_program(ctx, "overlay_image")
        n = IMAGE_GRID
        gy, gx = np.mgrid[0 : n + 1, 0 : n + 1] / n
        grid = np.stack([gx.ravel(), gy.ravel()], axis=-1).astype(np.float32)
        quads = []
        for row in range(n):
            for col in range(n):
                a = row * (n + 1) + col
                quads += [a, a + 1, a + n + 1, a + 1, a + n + 2, a + n + 1]
        self._grid = ctx.buffer(grid.tobytes())
        self._indices = ctx.buffer(np.asarray(quads, dtype=np.int32).tobytes())
        self._vao = ctx.vertex_array(self._program, [(self._grid, "2f", "in_grid")], index_buffer=self._indices,
                                     index_element_size=4)
        self._fulldome_program = load_program(ctx, "overlay_fulldome")
        self._fulldome_vao = ctx.vertex_array(self._fulldome_program, [])
        self._fulldome_sampler = ctx.sampler(filter=(moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR),
                                             repeat_x=False, repeat_y=False, anisotropy=1.0)
        self.unreadable = 0
        self._images: OrderedDict[str, _CachedImage] = OrderedDict()
        self._reported: set[tuple[str, Any]] = set()
        self._text_batches: list[Any] = []
        check_gl(ctx, "OverlaysLayer setup")

    # -- images

    def _report(self, path: str, signature: Any, message: str) -> None:
        if (path, signature) not in self._reported:
            self._reported.add((path, signature))
            log.warning("overlay image %s: %s; the overlay is skipped", path, message)

    def image(self, path: str) -> tuple[moderngl.Texture, float] | None:
        """The texture and aspect (width / height) of the image at ``path``, or None if unreadable
        (logged once, counted in :attr:`unreadable`)."""
        try:
            stat = os.stat(path)
        except OSError as exc:
            self._report(path, None, f"cannot be read ({exc.strerror or exc})")
            self.unreadable += 1
            return None
        signature = (stat.st_mtime_ns, stat.st_size)
        cached = self._images.get(path)
        if cached is not None and cached.signature == signature:
            self._images.move_to_end(path)
            if cached.texture is None:
                self.unreadable += 1
                return None
            return cached.texture, cached.aspect
        if cached is not None and cached.texture is not None:
            cached.texture.release()
        texture, aspect = None, 1.0
        try:
            pixels, aspect = _premultiplied_rgba(path, int(self.ctx.info.get("GL_MAX_TEXTURE_SIZE", 8192)))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            self._report(path, signature, f"not a readable image ({exc})")
            self.unreadable += 1
        else:
            height, width = pixels.shape[:2]
            texture = self.ctx.texture((width, height), 4, np.ascontiguousarray(pixels).tobytes(), alignment=1)
            texture.repeat_x = texture.repeat_y = False
            texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            texture.anisotropy = min(8.0, float(self.ctx.max_anisotropy or 1.0))
            texture.build_mipmaps()
        self._images[path] = _CachedImage(signature, texture, aspect)
        self._images.move_to_end(path)
        while len(self._images) > self.max_images:
            _, old = self._images.popitem(last=False)
            if old.texture is not None:
                old.texture.release()
        return None if texture is None else (texture, aspect)

    # -- drawing

    def draw(self, view: Any, name: str, opacity: float) -> None:
        if name != "overlays":
            raise ValueError(f"OverlaysLayer draws 'overlays', not {name!r}")
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity <= 0.0:
            return
        texts = 0
        # Full-dome frames first: they lie under every text and image.
        ordered = sorted(view.overlays, key=lambda overlay: overlay.kind != "fulldome")
        for overlay in ordered:
            alpha = float(np.clip(overlay.opacity, 0.0, 1.0)) * opacity
            if alpha <= 0.0:
                continue
            if overlay.kind == "fulldome":
                self._draw_fulldome(view, str(overlay.content), alpha)
                continue
            if overlay.kind == "pattern":            # the node shows it in projector pixels instead
                continue
            anchor = overlay_dir(overlay.dome_az_deg, overlay.dome_elev_deg)
            if overlay.kind == "text":
                if texts == len(self._text_batches):
                    self._text_batches.append(self.text.batch())
                batch = self._text_batches[texts]
                texts += 1
                batch.write([Label(tuple(anchor), str(overlay.content), float(overlay.size_deg),
                                   tuple(float(c) for c in overlay.rgb))])
                self.text.draw(view, [batch], np.eye(3), alpha)
            elif overlay.kind == "image":
                self._draw_image(view, str(overlay.content), anchor, float(overlay.size_deg), alpha)
            elif ("kind", overlay.kind) not in self._reported:
                self._reported.add(("kind", overlay.kind))
                log.warning("overlay kind %r unknown (use 'text', 'image' or 'fulldome'): skipped", overlay.kind)

    def _draw_image(self, view: Any, path: str, anchor: np.ndarray, height_deg: float, alpha: float) -> None:
        found = self.image(path)
        if found is None:
            return
        texture, aspect = found
        ctx = self.ctx
        prog = self._program
        prog["u_anchor"].value = tuple(float(x) for x in anchor)
        prog["u_half_size_rad"].value = (0.5 * np.radians(height_deg * aspect), 0.5 * np.radians(height_deg))
        prog["u_zenith_cap_rad"].value = float(np.radians(self.text.zenith_cap_deg))
        prog["u_rect"].value = tuple(float(x) for x in view.rect_uv)
        prog["u_size_px"].value = (float(view.size_px[0]), float(view.size_px[1]))
        prog["u_rim_r"].value = 0.5 + RIM_MARGIN_R
        prog["u_opacity"].value = alpha
        prog["u_image"].value = 0
        texture.use(location=0)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self._vao.render(moderngl.TRIANGLES)
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, "OverlaysLayer image")

    def _draw_fulldome(self, view: Any, path: str, alpha: float) -> None:
        found = self.image(path)
        if found is None:
            return
        texture, _ = found
        ctx = self.ctx
        prog = self._fulldome_program
        prog["u_rect"].value = tuple(float(x) for x in view.rect_uv)
        prog["u_size_px"].value = (float(view.size_px[0]), float(view.size_px[1]))
        prog["u_lod"].value = fulldome_lod(texture.size, view)
        prog["u_opacity"].value = alpha
        prog["u_image"].value = 0
        texture.use(location=0)
        self._fulldome_sampler.use(location=0)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        ctx.enable(moderngl.BLEND)
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        self._fulldome_vao.render(moderngl.TRIANGLES, vertices=3)
        self._fulldome_sampler.clear(location=0)
        ctx.disable(moderngl.BLEND)
        check_gl(ctx, "OverlaysLayer fulldome")

    def release(self) -> None:
        for cached in self._images.values():
            if cached.texture is not None:
                cached.texture.release()
        self._images.clear()
        for batch in self._text_batches:
            batch.release()
        self._text_batches.clear()
        for obj in (self._vao, self._indices, self._grid, self._program, self._fulldome_vao, self._fulldome_program,
                    self._fulldome_sampler):
            obj.release()
        if self._own_text:
            self.text.release()

