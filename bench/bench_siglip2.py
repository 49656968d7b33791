"""Stage 1 per frame: the seed's loop on its own window set vs ours (`Siglip2Proposer.propose`), same
model, same frames, same dictionary; where the time goes (`--profile`); what the window sets cover
(`--coverage`).

The seed's loop (kept as it was): 129 square windows per 1280x720 frame (192/256/320 px stepped by
half a window from the top-left corner, as the seed article describes them), one PIL crop per
window, the image processor in batches of 24, the model in fp32, then FAISS (IndexFlatIP over the
normalised references, top 3). Ours: our window set (WindowSpec()), crops cut and resized in
batched tensor operations, NaFlex patches fed directly, the model in the dtype `precision` picks,
then the same FAISS search and the candidate list. Both are timed whole frames, interleaved frame by
frame so that a noisy machine slows both alike.

Two models, both random weights: "tiny" shows pipeline overhead, "base" (SigLIP-2 base's
architecture) shows compute.

    python bench/bench_siglip2.py [--frames 4] [--base-frames 1] [--threads 2] [--profile] [--fp32]
    python bench/bench_siglip2.py --coverage     # window sets vs the generated benchmark's truth boxes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import frames_1280x720, save_siglip2
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.proposers.siglip2 import Siglip2Proposer
from logotag_gui.core.vision.crops import REFERENCE_WIDTH, WindowSpec, make_windows
from resources import synth

BENCHMARK = Path(__file__).resolve().parent / "out" / "benchmark"
SEED_SPEC = WindowSpec(wide=False, spread=False)  # the seed's grid: 129 windows on 1280x720


def previous_windows(width: int, height: int) -> np.ndarray:
    """The window set before this change (for --coverage): the seed's grid plus one window flush with
    the right and bottom edges, and 2:1 windows at every size (238 on 1280x720)."""
    def starts(length: int, win: int, step: int) -> list[int]:
        if win >= length:
            return [0]
        s = list(range(0, length - win + 1, step))
        return s + ([length - win] if s[-1] != length - win else [])

    scale, out = width / REFERENCE_WIDTH, []
    shapes = []
    for size in (192, 256, 320):
        side = max(16, int(round(size * scale)))
        shapes += [(side, side), (min(width, 2 * side), side)]
    for w, h in dict.fromkeys(shapes):
        w, h = min(w, width), min(h, height)
        out += [(x, y, w, h) for y in starts(height, h, max(1, h // 2)) for x in starts(width, w, max(1, w // 2))]
    return np.asarray(out, dtype=np.int64)


# ---- the seed ---------------------------------------------------------------------------------
def seed_loop(model, processor, frame: np.ndarray, boxes: np.ndarray, times: dict | None = None) -> np.ndarray:
    """The seed article's loop, kept as it was: one PIL crop per window, processor batches of 24."""
    t0 = time.perf_counter()
    pil = Image.fromarray(frame)
    crops = [pil.crop((int(x), int(y), int(x + w), int(y + h))) for x, y, w, h in boxes]
    t1 = time.perf_counter()
    feats, t_proc, t_model = [], 0.0, 0.0
    for i in range(0, len(crops), 24):
        a = time.perf_counter()
        inputs = processor(images=crops[i:i + 24], return_tensors="pt")
        b = time.perf_counter()
        with torch.no_grad():
            out = model.get_image_features(**inputs)
        feats.append((out if isinstance(out, torch.Tensor) else out.pooler_output).numpy())
        t_proc, t_model = t_proc + b - a, t_model + time.perf_counter() - b
    if times is not None:
        for k, v in (("PIL crops", t1 - t0), ("processor (resize, normalise, patchify, pad)", t_proc),
                     ("model", t_model)):
            times[k] = times.get(k, 0.0) + v
    return np.vstack(feats)


class SeedStage:
    """The seed's stage 1 for one frame: its loop, then FAISS top 3 and the 0.7 threshold."""

    def __init__(self, model, processor, references: list[np.ndarray]) -> None:
        import faiss

        self.model, self.processor = model, processor
        vectors = np.vstack([seed_loop(model, processor, r, np.array([[0, 0, r.shape[1], r.shape[0]]]))
                             for r in references]).astype(np.float32)
        faiss.normalize_L2(vectors)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors)
        self.times: dict | None = None

    def __call__(self, frame: np.ndarray) -> list[tuple[int, int, float]]:
        import faiss

        boxes = make_windows(frame.shape[1], frame.shape[0], SEED_SPEC)
        feats = seed_loop(self.model, self.processor, frame, boxes, self.times).astype(np.float32)
        t0 = time.perf_counter()
        faiss.normalize_L2(feats)
        scores, ids = self.index.search(feats, 3)
        hits = [(w, int(i), float(s)) for w in range(len(boxes)) for s, i in zip(scores[w], ids[w], strict=True)
                if s >= 0.7]
        if self.times is not None:
            self.times["faiss + threshold"] = self.times.get("faiss + threshold", 0.0) + time.perf_counter() - t0
        return hits


# ---- per-frame figures ------------------------------------------------------------------------
def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def bench(size: str, frames: list[np.ndarray], *, fp32_too: bool, native: bool, profile: bool) -> None:
    from transformers import AutoImageProcessor, AutoModel

    with tempfile.TemporaryDirectory() as tmp:
        path = save_siglip2(Path(tmp) / "model", size=size)
        synth.write_logo_folder(Path(tmp) / "logos")
        dictionary = load_dictionary(Path(tmp) / "logos")
        ours = {"ours": Siglip2Proposer(model_id=str(path), device="cpu", cache_root=str(Path(tmp) / "cache"))}
        if fp32_too and ours["ours"].dtype != torch.float32:
            ours["ours fp32"] = Siglip2Proposer(model_id=str(path), device="cpu", precision="fp32",
                                                cache_root=str(Path(tmp) / "cache32"))
        if native:
            ours["ours native"] = Siglip2Proposer(model_id=str(path), device="cpu", native_resolution=True,
                                                  cache_root=str(Path(tmp) / "cachen"))
        for p in ours.values():
            p.prepare(dictionary)
        model = AutoModel.from_pretrained(path).eval()  # fp32, as the seed
        processor = AutoImageProcessor.from_pretrained(path)
        seed = SeedStage(model, processor, [r.image for r in dictionary.references])

    refs = [Frame(FrameRef(i, i / 2, f.shape[1], f.shape[0]), f) for i, f in enumerate(frames)]
    h, w = frames[0].shape[:2]
    n_seed, n_ours = len(make_windows(w, h, SEED_SPEC)), len(make_windows(w, h, WindowSpec()))
    # Features: the same windows (every shape of ours) through the seed's loop and ours.
    boxes = make_windows(w, h, WindowSpec())
    sample = boxes[np.unique(boxes[:, 2:], axis=0, return_index=True)[1]]
    a = seed_loop(model, processor, frames[0], sample)
    cos = {name: cosine(a, p.embed_windows(frames[0], sample)).min() for name, p in ours.items()}
    # Warm-up (allocator, kernels), then whole frames, interleaved.
    seed(frames[0][:360, :640].copy())
    for p in ours.values():
        p.propose(Frame(FrameRef(0, 0.0, 640, 360), frames[0][:360, :640].copy()))
    total = {"seed": 0.0, **{name: 0.0 for name in ours}}
    cpu = dict.fromkeys(total, 0.0)  # CPU seconds of this process: steadier than wall time on a shared machine
    if profile:
        seed.times = {}
        for p in ours.values():
            p.profile = {}
    load = os.getloadavg()[0]
    for frame, ref in zip(frames, refs, strict=True):
        for name in total:
            t0, c0 = time.perf_counter(), time.process_time()
            if name == "seed":
                seed(frame)
            else:
                ours[name].propose(ref)
            total[name] += time.perf_counter() - t0
            cpu[name] += time.process_time() - c0
    load = max(load, os.getloadavg()[0])
    n = len(frames)
    dtype = {name: str(p.dtype).removeprefix("torch.") for name, p in ours.items()}
    print(f"{size}: {n} frame(s) {w}x{h}, load (1-min average, max of start/end) {load:.2f}")
    print(f"  seed loop   {n_seed:4d} windows  fp32      {total['seed'] / n:7.3f} s/frame  {n / total['seed']:7.3f} frames/s"
          f"  {n * n_seed / total['seed']:7.1f} crops/s  (CPU {cpu['seed'] / n:.3f} s/frame)")
    for name in ours:
        print(f"  {name:<11} {n_ours:4d} windows  {dtype[name]:<8}  {total[name] / n:7.3f} s/frame  "
              f"{n / total[name]:7.3f} frames/s  {n * n_ours / total[name]:7.1f} crops/s  (CPU {cpu[name] / n:.3f} s/frame)"
              f"  per frame x{total['seed'] / total[name]:5.2f} vs seed (CPU time x{cpu['seed'] / cpu[name]:5.2f})"
              f"  feature cosine vs seed min {cos[name]:.5f}")
    if profile:
        print_profile("seed loop", seed.times, total["seed"], n)
        for name, p in ours.items():
            print_profile(name, p.profile, total[name], n)


def print_profile(name: str, times: dict[str, float], total: float, n: int) -> None:
    rest = total - sum(times.values())
    parts = [*sorted(times.items(), key=lambda kv: -kv[1]), ("python and the rest", rest)]
    print(f"  profile {name} ({total / n * 1000:.0f} ms/frame): " +
          ", ".join(f"{k} {v / n * 1000:.0f} ms ({100 * v / total:.0f}%)" for k, v in parts))


# ---- coverage ---------------------------------------------------------------------------------
def _iou(truth: np.ndarray, windows: np.ndarray) -> np.ndarray:
    t, b = truth[:, None, :].astype(float), windows[None, :, :].astype(float)
    iw = np.clip(np.minimum(t[..., 0] + t[..., 2], b[..., 0] + b[..., 2]) - np.maximum(t[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(t[..., 1] + t[..., 3], b[..., 1] + b[..., 3]) - np.maximum(t[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    return inter / (t[..., 2] * t[..., 3] + b[..., 2] * b[..., 3] - inter)


def coverage(truth: list[tuple[int, int, list[float]]], windows) -> tuple[float, float, float]:
    """Shares of truth boxes that some window covers at IoU >= 0.5, >= 0.3, and as evaluate.py's
    relaxed match does (holds the box's centre, IoU >= 0.1): the ceiling on what stage 1 can find."""
    by_size: dict[tuple[int, int], list[list[float]]] = {}
    for w, h, box in truth:
        by_size.setdefault((w, h), []).append(box)
    best, relaxed = [], []
    for (w, h), boxes in by_size.items():
        wins, t = windows(w, h), np.asarray(boxes, float)
        iou = _iou(t, wins)
        cx, cy = t[:, None, 0] + t[:, None, 2] / 2, t[:, None, 1] + t[:, None, 3] / 2
        holds = ((wins[None, :, 0] <= cx) & (cx <= wins[None, :, 0] + wins[None, :, 2])
                 & (wins[None, :, 1] <= cy) & (cy <= wins[None, :, 1] + wins[None, :, 3]))
        best += list(iou.max(1))
        relaxed += list(((iou >= 0.1) & holds).any(1))
    best_a = np.asarray(best)
    return 100 * (best_a >= 0.5).mean(), 100 * (best_a >= 0.3).mean(), 100 * np.mean(relaxed)


def benchmark_truth(folder: Path) -> tuple[list, list]:
    coco = json.loads((folder / "annotations.json").read_text())
    sizes = {i["id"]: (i["width"], i["height"]) for i in coco["images"]}
    images = [(*sizes[a["image_id"]], a["bbox"]) for a in coco["annotations"]]
    clip = json.loads((folder / "clip_truth.json").read_text())
    import cv2

    cap = cv2.VideoCapture(str(folder / "clip.mp4"))
    cw, ch = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or 1280, int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or 720
    cap.release()
    frames = [(cw, ch, b["bbox"]) for boxes in clip["frames"].values() for b in boxes]
    return images, frames


def moved(truth: list, k: int, seed: int = 0) -> list:
    """The same boxes at k random places each: a window set's coverage without the luck of where the
    benchmark happened to put its logos."""
    rng = np.random.default_rng(seed)
    return [(w, h, [rng.uniform(0, w - b[2]), rng.uniform(0, h - b[3]), b[2], b[3]]) for w, h, b in truth
            for _ in range(k)]


def coverage_report(folder: Path) -> None:
    images, clip = benchmark_truth(folder)
    sets = {
        "seed grid (squares)": SEED_SPEC,
        "previous default (seed grid + edge + 2:1 at all)": previous_windows,
        "spread squares only": WindowSpec(wide=False),
        "spread + 2:1 at 192": WindowSpec(wide=(192,)),
        "spread + 2:1 at 256": WindowSpec(wide=(256,)),
        "spread + 2:1 at 320": WindowSpec(wide=(320,)),
        "spread + 2:1 at 192, 256": WindowSpec(wide=(192, 256)),
        "spread + 2:1 at 256, 320 (default)": WindowSpec(),
        "spread + 2:1 at all": WindowSpec(wide=True),
    }
    print(f"Window sets vs {folder}: {len(images)} image boxes (800x600, 1024x768), {len(clip)} clip boxes "
          "(1280x720); % of truth boxes some window covers at IoU>=0.5 / >=0.3 / relaxed (centre, IoU>=0.1);\n"
          "'moved': the same boxes at 50 random places each.")
    print(f"{'window set':50s} {'n@720p':>6s} | {'images':^17s} | {'images moved':^17s} | {'clip':^17s} | "
          f"{'clip moved':^17s}")
    rows = [images, moved(images, 50), clip, moved(clip[::4], 50)]
    for name, spec in sets.items():
        windows = spec if callable(spec) else (lambda w, h, s=spec: make_windows(w, h, s))
        cells = [" ".join(f"{v:5.1f}" for v in coverage(r, windows)) for r in rows]
        print(f"{name:50s} {len(windows(1280, 720)):6d} | " + " | ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=4, help="1280x720 frames for the tiny model")
    p.add_argument("--base-frames", type=int, default=1, help="1280x720 frames for the base model (0: skip)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--profile", action="store_true", help="where the time goes, per stage")
    p.add_argument("--fp32", action="store_true", help="also ours in fp32 where `auto` picked bf16")
    p.add_argument("--native", action="store_true", help="also ours with --siglip-native")
    p.add_argument("--coverage", action="store_true", help="only the window sets' coverage of the benchmark")
    p.add_argument("--benchmark", type=Path, default=BENCHMARK)
    args = p.parse_args()
    if args.coverage:
        coverage_report(args.benchmark)
        return
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} CPU threads, windows per 1280x720 frame: seed "
          f"{len(make_windows(1280, 720, SEED_SPEC))}, ours {len(make_windows(1280, 720, WindowSpec()))}")
    kw = {"fp32_too": args.fp32, "native": args.native, "profile": args.profile}
    if args.frames:
        bench("tiny", frames_1280x720(args.frames), **kw)
    if args.base_frames:
        bench("base", frames_1280x720(args.base_frames), **kw)


if __name__ == "__main__":
    main()
