"""Crops per second of the siglip2 stage vs a faithful copy of the seed's loop, same model and frames.

The seed loop crops one window at a time with PIL and runs the processor in batches of 24, fp32.
Ours crops and resizes windows in batched tensor operations and feeds NaFlex patches directly.
Two models, both random weights: "tiny" shows pipeline overhead, "base" (SigLIP-2 base's
architecture) shows compute.

    python bench/bench_siglip2.py [--windows 48] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import frames_1280x720, save_siglip2, timed
from logotag_gui.core.proposers.siglip2 import Siglip2Proposer
from logotag_gui.core.vision.crops import WindowSpec, make_windows


def seed_loop(model, processor, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The seed article's loop, kept as it was: one PIL crop per window, processor batches of 24."""
    pil = Image.fromarray(frame)
    crops = [pil.crop((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in boxes]
    feats = []
    for i in range(0, len(crops), 24):
        inputs = processor(images=crops[i:i + 24], return_tensors="pt")
        with torch.no_grad():
            out = model.get_image_features(**inputs)
        feats.append(out.pooler_output.numpy())
    return np.vstack(feats)


def bench(size: str, frames: list[np.ndarray], windows: int | None) -> None:
    from transformers import AutoImageProcessor, AutoModel

    with tempfile.TemporaryDirectory() as tmp:
        path = save_siglip2(Path(tmp), size=size)
        ours = Siglip2Proposer(model_id=str(path), device="cpu", batch_size=32)
        model = AutoModel.from_pretrained(path).eval()
        processor = AutoImageProcessor.from_pretrained(path)
        boxes = make_windows(1280, 720, WindowSpec())
        if windows:
            # An even spread over all window shapes, so both paths see the same mix.
            boxes = boxes[np.linspace(0, len(boxes) - 1, windows).astype(int)]
        n = len(boxes) * len(frames)
        seed_s = timed(lambda: [seed_loop(model, processor, f, boxes) for f in frames])
        ours_s = timed(lambda: [ours.embed_windows(f, boxes) for f in frames])
        ours.native_resolution = True
        native_s = timed(lambda: [ours.embed_windows(f, boxes) for f in frames])
        ours.native_resolution = False
        a = seed_loop(model, processor, frames[0], boxes[:4])
        b = ours.embed_windows(frames[0], boxes[:4])
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        print(f"{size:>5} | {len(frames)} frame(s) x {len(boxes)} windows | seed loop {n / seed_s:8.1f} crops/s | "
              f"ours {n / ours_s:8.1f} crops/s | speed-up x{seed_s / ours_s:5.2f} | "
              f"feature cosine seed vs ours min {cos.min():.4f} | native resolution {n / native_s:8.1f} crops/s "
              f"(x{seed_s / native_s:5.2f})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--windows", type=int, default=48, help="windows per frame for the base model (all: 0)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, 1280x720 frames, "
          f"{len(make_windows(1280, 720, WindowSpec()))} windows per full frame")
    bench("tiny", frames_1280x720(4), None)
    bench("base", frames_1280x720(1), args.windows or None)


if __name__ == "__main__":
    main()
