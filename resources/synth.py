"""Generated material: logos and clips with exact ground truth, for the demo, tests and benchmarks.

Everything here is drawn from code (Pillow's bundled font, geometric shapes, seeded noise), so it
carries no third-party licence and can ship in the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from logotag_gui.core.base.records import BBox

DEMO_BRANDS = {
    # name: (text colour, accent colour, shape)
    "Norvik": ((200, 30, 40), (20, 20, 20), "ring"),
    "Aquila": ((20, 90, 190), (240, 180, 20), "triangle"),
    "Fennel": ((15, 85, 40), (250, 250, 250), "leaf"),
}


def make_logo(name: str, text_rgb: tuple[int, int, int], accent_rgb: tuple[int, int, int], shape: str,
              *, height: int = 160) -> Image.Image:
    """A transparent brand mark: an emblem plus the brand name, with enough structure for keypoints."""
    font = ImageFont.load_default(size=int(height * 0.5))
    text_w = int(font.getlength(name)) + 8
    w = height + text_w + height // 4
    img = Image.new("RGBA", (w, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    e = height - 16
    if shape == "ring":
        d.ellipse((8, 8, 8 + e, 8 + e), fill=(*text_rgb, 255))
        d.ellipse((8 + e // 4, 8 + e // 4, 8 + 3 * e // 4, 8 + 3 * e // 4), fill=(*accent_rgb, 255))
        d.rectangle((8 + e // 2 - 6, 8, 8 + e // 2 + 6, 8 + e), fill=(255, 255, 255, 255))
    elif shape == "triangle":
        d.polygon([(8, 8 + e), (8 + e // 2, 8), (8 + e, 8 + e)], fill=(*text_rgb, 255))
        d.polygon([(8 + e // 4, 8 + e), (8 + e // 2, 8 + e // 2), (8 + 3 * e // 4, 8 + e)], fill=(*accent_rgb, 255))
    else:
        d.ellipse((8, 8 + e // 4, 8 + e, 8 + 3 * e // 4), fill=(*text_rgb, 255))
        d.line((8, 8 + e // 2, 8 + e, 8 + e // 2), fill=(*accent_rgb, 255), width=6)
        for k in range(1, 4):
            x = 8 + k * e // 4
            d.line((x, 8 + e // 2, x + e // 8, 8 + e // 4 + 6), fill=(*accent_rgb, 255), width=4)
    d.text((height + 4, height // 2), name, font=font, fill=(*text_rgb, 255), anchor="lm")
    return img


def write_logo_folder(folder: Path, brands: dict = DEMO_BRANDS) -> dict[str, Image.Image]:
    """`<brand>.png` per brand plus brands.json with aliases; returns the marks by brand."""
    folder.mkdir(parents=True, exist_ok=True)
    marks = {}
    for name, (text_rgb, accent, shape) in brands.items():
        marks[name] = make_logo(name, text_rgb, accent, shape)
        marks[name].save(folder / f"{name}.png")
    (folder / "brands.json").write_text(json.dumps({n: {"aliases": [n.upper()]} for n in brands}, indent=1))
    return marks


def background(width: int, height: int, seed: int) -> np.ndarray:
    """A textured, non-repeating scene (gradient, blobs, noise) so logos are not on a blank field."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        90 + 60 * np.sin(xx / (width / 3) + rng.uniform(0, 6)),
        110 + 50 * np.cos(yy / (height / 2) + rng.uniform(0, 6)),
        120 + 40 * np.sin((xx + yy) / (width / 4)),
    ], axis=-1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(25):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, max(11, width // 10)))
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(40, 220, 3)))
    img = img.filter(ImageFilter.GaussianBlur(3))
    arr = np.asarray(img).astype(np.int16) + rng.integers(-8, 9, (height, width, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class Placement:
    brand: str
    start: tuple[float, float]  # top-left at the first frame, as fractions of the frame
    end: tuple[float, float]  # top-left at the last frame
    width_frac: float  # logo width as a fraction of the frame width
    first: int = 0  # first frame it is visible
    last: int | None = None  # last frame it is visible (None: to the end)
    end_width_frac: float | None = None  # the width at its last frame: a zoom (None: the same width)


def render_frame(bg: np.ndarray, marks: dict[str, Image.Image], placements: list[Placement], index: int,
                 n_frames: int) -> tuple[np.ndarray, list[tuple[str, BBox]]]:
    h, w = bg.shape[:2]
    frame = Image.fromarray(bg)
    truth = []
    for p in placements:
        last = n_frames - 1 if p.last is None else p.last
        if not p.first <= index <= last:
            continue
        a = (index - p.first) / max(1, last - p.first)
        mark = marks[p.brand]
        lw = int((p.width_frac + a * ((p.end_width_frac or p.width_frac) - p.width_frac)) * w)
        lh = int(mark.height * lw / mark.width)
        x = int((p.start[0] + a * (p.end[0] - p.start[0])) * w)
        y = int((p.start[1] + a * (p.end[1] - p.start[1])) * h)
        frame.alpha_composite(mark.resize((lw, lh), Image.Resampling.LANCZOS), (x, y)) if frame.mode == "RGBA" else \
            frame.paste(mark.resize((lw, lh), Image.Resampling.LANCZOS), (x, y),
                        mark.resize((lw, lh), Image.Resampling.LANCZOS))
        truth.append((p.brand, BBox(x, y, lw, lh).clipped(w, h)))
    return np.asarray(frame.convert("RGB")), truth


DEMO_PLACEMENTS = [
    Placement("Norvik", (0.05, 0.10), (0.45, 0.15), 0.30),
    Placement("Aquila", (0.60, 0.60), (0.35, 0.55), 0.28, first=10, last=45),
    Placement("Fennel", (0.62, 0.72), (0.50, 0.66), 0.25, first=30),
]


def write_clip(path: Path, marks: dict[str, Image.Image], placements: list[Placement], *, n_frames: int = 60,
               fps: int = 10, size: tuple[int, int] = (640, 360), seed: int = 7, codec: str = "libx264",
               crf: int = 20) -> dict[int, list[tuple[str, BBox]]]:
    """Encode a clip with moving logos (one shot); returns the ground truth boxes per frame index."""
    return write_shots(path, marks, [Shot(n_frames, tuple(placements), seed)], fps=fps, size=size, codec=codec,
                       crf=crf)


@dataclass(frozen=True, slots=True)
class Shot:
    """A stretch of a clip between two cuts: its own background, its own logos."""

    frames: int
    placements: tuple[Placement, ...]
    seed: int = 7


def write_shots(path: Path, marks: dict[str, Image.Image], shots: list[Shot], *, fps: int = 10,
                size: tuple[int, int] = (640, 360), codec: str = "libx264",
                crf: int = 20) -> dict[int, list[tuple[str, BBox]]]:
    """Encode shots one after another (hard cuts between them); returns the truth per frame index."""
    w, h = size
    truth: dict[int, list[tuple[str, BBox]]] = {}
    container = av.open(str(path), "w")
    try:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        index = 0
        for shot in shots:
            bg = background(w, h, shot.seed)
            for i in range(shot.frames):
                image, boxes = render_frame(bg, marks, list(shot.placements), i, shot.frames)
                truth[index] = boxes
                index += 1
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return truth


def write_truth(path: Path, truth: dict[int, list[tuple[str, BBox]]], fps: float) -> None:
    """Per-frame ground truth as JSON: {"fps": f, "frames": {"12": [{"brand": b, "bbox": [x,y,w,h]}]}}."""
    data = {"fps": fps, "frames": {str(i): [{"brand": b, "bbox": box.as_list()} for b, box in boxes]
                                   for i, boxes in truth.items()}}
    path.write_text(json.dumps(data))
