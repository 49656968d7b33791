"""Generate a seeded logo benchmark from freely licensed material.

Brand marks: the npm package `simple-icons` (CC0-1.0 SVG data; the marks remain their owners'
trademarks, used here only to measure), rasterised with `resvg-py` in the brand colour from its JSON
and set beside the brand name as a lockup (most brand marks hold their name). Backgrounds: the
photographs bundled with scikit-image (`skimage.data`, BSD-3-Clause and public domain). Each image
gets 1-3 logos from the dictionary (20-400 px, rotation, perspective, blur, noise, lighting,
partial occlusion, JPEG) plus look-alike distractors from brands not in the dictionary.

Outputs (under --out): logos/ (one clean reference per brand + brands.json), images/ +
annotations.json (COCO), clip.mp4 + clip_truth.json (per-frame truth of moving logos).

    pip install resvg-py scikit-image && python bench/make_benchmark.py --out bench/out/benchmark
    logotag eval --truth bench/out/benchmark/annotations.json --input bench/out/benchmark/images \\
        --logos bench/out/benchmark/logos --embedder offline
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.base.records import BBox
from resources.synth import write_truth

CACHE = Path(__file__).resolve().parent / ".cache"
BACKGROUNDS = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
               "brick", "grass", "gravel", "camera", "coins", "moon"]


def simple_icons_dir() -> Path:
    found = CACHE / "node_modules" / "simple-icons"
    if not found.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", str(CACHE), "simple-icons@16"], check=True)
    return found


def render_icon(svg: str, hex_colour: str, height: int) -> Image.Image:
    import resvg_py

    svg = svg.replace("<svg ", f'<svg fill="#{hex_colour}" ', 1)
    png = resvg_py.svg_to_bytes(svg_string=svg, height=height, width=height)
    return Image.open(io.BytesIO(bytes(png))).convert("RGBA")


def lockup(icon: Image.Image, title: str, hex_colour: str) -> Image.Image:
    """Icon plus brand name, like most brand marks; transparent background."""
    h = icon.height
    font = ImageFont.load_default(size=int(h * 0.55))
    text_w = int(font.getlength(title)) + 10
    out = Image.new("RGBA", (h + h // 5 + text_w, h), (0, 0, 0, 0))
    out.alpha_composite(icon, (0, 0))
    colour = tuple(int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
    ImageDraw.Draw(out).text((h + h // 5, h // 2), title, font=font, fill=(*colour, 255), anchor="lm")
    return out


def pick_brands(icons: Path, rng: np.random.Generator, n: int) -> list[dict]:
    data = json.loads((icons / "data" / "simple-icons.json").read_text())
    simple = [d for d in data if re.fullmatch(r"[A-Za-z]{4,10}", d["title"])
              and (icons / "icons" / f"{d['slug']}.svg").exists()]
    # Dark or light brand colours vanish on some backgrounds; keep mid-luminance ones.
    simple = [d for d in simple if 50 < sum(int(d["hex"][i:i + 2], 16) for i in (0, 2, 4)) / 3 < 200]
    chosen = rng.choice(len(simple), size=n, replace=False)
    return [simple[i] for i in sorted(chosen)]


def background(name: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    from skimage import data

    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[:, :, :3].astype(np.uint8)
    w, h = size
    scale = max(w / img.shape[1], h / img.shape[0]) * rng.uniform(1.0, 1.6)
    img = cv2.resize(img, (int(img.shape[1] * scale) + 1, int(img.shape[0] * scale) + 1), interpolation=cv2.INTER_AREA)
    y = rng.integers(0, img.shape[0] - h + 1)
    x = rng.integers(0, img.shape[1] - w + 1)
    return np.ascontiguousarray(img[y:y + h, x:x + w])


def place(canvas: np.ndarray, mark: Image.Image, rng: np.random.Generator, *, width: int, at: tuple[int, int] | None = None,
          angle: float | None = None, occlude: bool = True) -> BBox | None:
    """Warp `mark` (RGBA) onto `canvas` in place; returns the logo's box, or None if it fell off the frame."""
    H, W = canvas.shape[:2]
    mw, mh = mark.size
    scale = width / mw
    corners = np.float32([[0, 0], [mw, 0], [mw, mh], [0, mh]])
    jitter = rng.uniform(-0.12, 0.12, (4, 2)).astype(np.float32) * np.float32([mw, mh])
    angle = rng.uniform(-20, 20) if angle is None else angle
    rot = cv2.getRotationMatrix2D((mw / 2, mh / 2), angle, scale)
    target = cv2.transform((corners + jitter).reshape(-1, 1, 2), rot).reshape(-1, 2)
    x0, y0 = target.min(axis=0)
    bw, bh = target.max(axis=0) - target.min(axis=0)
    if at is None:
        at = (int(rng.uniform(0, max(1, W - bw))), int(rng.uniform(0, max(1, H - bh))))
    target += np.float32([at[0] - x0, at[1] - y0])
    warp = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
    rgba = np.asarray(mark).astype(np.float32)
    warped = cv2.warpPerspective(rgba, warp, (W, H), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    sigma = rng.uniform(0, 1.6)
    if sigma > 0.3:
        warped = cv2.GaussianBlur(warped, (0, 0), sigma)
    alpha = warped[:, :, 3:4] / 255.0
    light = rng.uniform(0.65, 1.25)
    colour = np.clip(warped[:, :, :3] * light, 0, 255)
    canvas[:] = (canvas * (1 - alpha) + colour * alpha).astype(np.uint8)
    box = BBox(*map(float, target.min(axis=0)), *map(float, target.max(axis=0) - target.min(axis=0))).clipped(W, H)
    if box.area < 64:
        return None
    if occlude and rng.random() < 0.3:  # something passes in front of part of the logo
        ow, oh = box.w * rng.uniform(0.2, 0.45), box.h * rng.uniform(0.5, 1.0)
        ox, oy = box.x + rng.uniform(0, box.w - ow), box.y + rng.uniform(0, box.h - oh)
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.rectangle(canvas, (int(ox), int(oy)), (int(ox + ow), int(oy + oh)), fill, -1)
    return box


def finish(image: np.ndarray, rng: np.random.Generator) -> Image.Image:
    noisy = np.clip(image.astype(np.int16) + rng.normal(0, rng.uniform(0, 6), image.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=int(rng.integers(45, 95)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="bench/out/benchmark")
    p.add_argument("--images", type=int, default=80)
    p.add_argument("--brands", type=int, default=12)
    p.add_argument("--distractors", type=int, default=8)
    p.add_argument("--clip-frames", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    (out / "logos").mkdir(parents=True, exist_ok=True)
    (out / "images").mkdir(exist_ok=True)
    icons = simple_icons_dir()
    chosen = pick_brands(icons, rng, args.brands + args.distractors)
    brands, distractors = chosen[: args.brands], chosen[args.brands:]
    marks = {}
    for d in chosen:
        marks[d["title"]] = lockup(render_icon((icons / "icons" / f"{d['slug']}.svg").read_text(), d["hex"], 160),
                                   d["title"], d["hex"])
    for d in brands:
        marks[d["title"]].save(out / "logos" / f"{d['title']}.png")
    aliases = {d["title"]: {"aliases": d.get("aliases", {}).get("aka", [])} for d in brands}
    (out / "logos" / "brands.json").write_text(json.dumps(aliases, indent=1))

    categories = [{"id": i + 1, "name": d["title"]} for i, d in enumerate(brands)]
    cat_id = {c["name"]: c["id"] for c in categories}
    coco = {"images": [], "annotations": [], "categories": categories}
    for i in range(args.images):
        size = (1024, 768) if rng.random() < 0.5 else (800, 600)
        canvas = background(BACKGROUNDS[i % len(BACKGROUNDS)], size, rng)
        for d in [brands[j] for j in rng.choice(len(brands), size=rng.integers(1, 4), replace=False)]:
            width = int(np.exp(rng.uniform(np.log(20), np.log(400))))
            box = place(canvas, marks[d["title"]], rng, width=width)
            if box is not None:
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i + 1,
                                            "category_id": cat_id[d["title"]], "bbox": box.as_list(),
                                            "area": round(box.area, 1), "iscrowd": 0})
        for d in [distractors[j] for j in rng.choice(len(distractors), size=rng.integers(0, 3), replace=False)]:
            place(canvas, marks[d["title"]], rng, width=int(rng.uniform(60, 300)))
        name = f"bench_{i:04d}.jpg"
        finish(canvas, rng).save(out / "images" / name, quality=95)
        coco["images"].append({"id": i + 1, "file_name": name, "width": size[0], "height": size[1]})
    (out / "annotations.json").write_text(json.dumps(coco))
    write_clip(out, brands[:3], marks, args.clip_frames, rng)
    print(f"wrote {args.images} images ({len(coco['annotations'])} logos of {len(brands)} brands, "
          f"plus distractors) and a {args.clip_frames}-frame clip to {out}")


def write_clip(out: Path, brands: list[dict], marks: dict, n: int, rng: np.random.Generator) -> None:
    """A 1280x720 clip at 10 fps: the camera pans over a photo while three logos move and grow."""
    import av

    big = background("rocket", (1800, 900), rng)
    paths = [((0.05, 0.1), (0.45, 0.2), 180, 260), ((0.7, 0.6), (0.35, 0.55), 240, 160), ((0.6, 0.1), (0.65, 0.3), 120, 200)]
    spans = [(0, n - 1), (n // 5, n * 3 // 4), (n // 2, n - 1)]
    truth = {}
    container = av.open(str(out / "clip.mp4"), "w")
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    stream.options = {"crf": "23", "preset": "veryfast"}
    for i in range(n):
        x = int((big.shape[1] - 1280) * i / max(1, n - 1))
        canvas = np.ascontiguousarray(big[90:810, x:x + 1280])
        boxes = []
        for d, (start, end, w0, w1), (first, last) in zip(brands, paths, spans, strict=True):
            if not first <= i <= last:
                continue
            a = (i - first) / max(1, last - first)
            at = (int((start[0] + a * (end[0] - start[0])) * 1280), int((start[1] + a * (end[1] - start[1])) * 720))
            box = place(canvas, marks[d["title"]], np.random.default_rng(i), width=int(w0 + a * (w1 - w0)), at=at,
                        angle=0.0, occlude=False)
            if box is not None:
                boxes.append((d["title"], box))
        truth[i] = boxes
        for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    write_truth(out / "clip_truth.json", truth, fps=10)


if __name__ == "__main__":
    main()
