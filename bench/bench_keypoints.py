"""Frames per second of an offline stage-1 backend at 1280x720 (keypoints by default).

    python bench/bench_keypoints.py [--frames 20] [--extra-brands 24] [--backend keypoints|shape|ocr|offline]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import frames_1280x720
from logotag_gui.core import synth
from logotag_gui.core.embedders import make_proposer
from logotag_gui.core.logos import load_dictionary
from logotag_gui.core.records import Frame, FrameRef


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--extra-brands", type=int, default=24, help="distractor brands, for a 27-brand dictionary")
    p.add_argument("--backend", default="keypoints", choices=["keypoints", "shape", "ocr", "offline"])
    args = p.parse_args()
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


if __name__ == "__main__":
    main()
