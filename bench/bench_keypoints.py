"""Frames per second of an offline stage-1 backend at 1280x720 (keypoints by default).

    python bench/bench_keypoints.py [--frames 20] [--extra-brands 24] [--backend keypoints|shape|ocr|offline]

With a clip and its truth, stage 1 runs as `logotag run` does (decode, propose, NMS, tracks, store; no
verifier, no following), once per way of running it, in one process on the same frames, and prints
frames/s beside recall (IoU 0.5 and relaxed) and precision:

    python bench/bench_keypoints.py --backend offline --clip bench/out/benchmark/clip.mp4 \
        --truth bench/out/benchmark/clip_truth.json --logos bench/out/benchmark/logos
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import frames_1280x720
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.pipeline.backends import make_proposer
from resources import synth


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--extra-brands", type=int, default=24, help="distractor brands, for a 27-brand dictionary")
    p.add_argument("--backend", default="keypoints", choices=["keypoints", "shape", "ocr", "offline"])
    p.add_argument("--clip", help="a clip (or image folder) with --truth and --logos: frames/s beside recall")
    p.add_argument("--truth")
    p.add_argument("--logos")
    p.add_argument("--fps", type=float, default=2.0)
    args = p.parse_args()
    if args.clip:
        compare_on_clip(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        brands = dict(synth.DEMO_BRANDS)
        shapes = ["ring", "triangle", "leaf"]
        for i in range(args.extra_brands):
            brands[f"Brand{i:02d}"] = ((37 * i) % 200, (91 * i) % 200, (53 * i) % 200), (240, 240, 240), shapes[i % 3]
        synth.write_logo_folder(Path(tmp), brands)
        dictionary = load_dictionary(tmp)
        proposer = make_proposer(args.backend)
        t0 = time.perf_counter()
        proposer.prepare(dictionary)
        prep = time.perf_counter() - t0
        frames = [Frame(FrameRef(i, i / 2, 1280, 720), img) for i, img in enumerate(frames_1280x720(args.frames))]
        proposer.propose(frames[0])  # warm-up
        t0 = time.perf_counter()
        found = sum(len(proposer.propose(f)) for f in frames)
        dt = time.perf_counter() - t0
    print(f"{args.backend}: {len(dictionary.brands)} brands ({len(dictionary.references)} reference images), "
          f"index {prep:.2f} s; {args.frames} frames 1280x720 in {dt:.2f} s = {args.frames / dt:.2f} frames/s "
          f"({dt / args.frames * 1000:.0f} ms/frame), {found} raw candidates")



# Ways of running stage 1, compared on the same clip in one process: (label, RunConfig changes).
WAYS = [
    ("one frame at a time, fp32", {"workers": 1, "skip_unchanged": False, "precision": "fp32"}),
    ("decode ahead, a thread per core, unchanged frames skipped, fp32", {"precision": "fp32"}),
    ("LogoTag's default (the same, bf16 where the CPU has it natively)", {}),
]


def compare_on_clip(args: argparse.Namespace) -> None:
    from logotag_gui.core.analysis.evaluate import Box, evaluate, load_truth
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.media.video import open_source, sample_indices
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository

    truth = load_truth(args.truth)
    frames = None
    if truth.kind == "video":
        count = max(truth.boxes) + 1 if truth.boxes else 0
        frames = sample_indices(frame_count=count, native_fps=truth.fps or args.fps, fps=args.fps)
    source = open_source(args.clip)
    info = source.info
    source.close()
    base = RunConfig(input=args.clip, logos=args.logos, embedder=args.backend, verifier="none", fps=args.fps,
                     propagate=False)
    print(f"{args.backend} on {Path(args.clip).name} ({info.width}x{info.height}), stage 1 only; "
          f"one process, ways in turn on the same frames")
    print(f"{'way':<80} {'frames/s':>8} {'s/frame':>8} {'recall':>7} {'relaxed':>7} {'precision':>9}")
    from logotag_gui.core.pipeline.backends import ModelCache as Cache

    models = Cache()
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: models loaded, OCR engine started
        repo = open_repository(f"{tmp}/bench.sqlite")
        run_pipeline(base.with_(end_frame=0), repo=repo, models=models)
        repo.close()
    for label, changes in WAYS:
        config = base.with_(**changes)
        with tempfile.TemporaryDirectory() as tmp:
            repo = open_repository(f"{tmp}/bench.sqlite")
            t0 = time.perf_counter()
            result = run_pipeline(config, repo=repo, models=models)
            wall = time.perf_counter() - t0 - result.timings.get("index_s", 0) - result.timings.get("load_s", 0)
            predictions: dict = {}
            for c in repo.candidates(video_id=result.video_id):
                key = c.frame.name if c.frame.name is not None else c.frame.index
                predictions.setdefault(key, []).append(Box(c.brand, c.bbox, c.score))
            repo.close()
        total = evaluate(truth, predictions, frames=frames).total()
        print(f"{label:<80} {result.frames_done / wall:>8.2f} {wall / result.frames_done:>8.3f} "
              f"{total.recall:>7.1%} {total.relaxed_recall:>7.1%} {total.precision:>9.1%}"
              f"   ({result.frames_done} frames, {int(result.timings.get('unchanged_frames', 0))} unchanged)")


if __name__ == "__main__":
    main()
