"""Text detection sized for video frames: rapidocr's default (the short side enlarged to 736 px) against a
frame detected at its own size (long side at most 960 px: text_reading.WHOLE_FRAME_DETECTION), in one process,
interleaved frame by frame.

For each clip: seconds per frame, text lines read, and how many of the truth's (frame, brand) pairs have the
brand's name read on that frame (a name read is what the OCR proposer and verifier need; brands whose marks
hold no legible name count against both ways alike).

    python bench/bench_ocr.py --clip bench/out/pan/clip.mp4 --truth bench/out/pan/gt.json [--frames 12]

With --angle: frames at their own size, with rapidocr's angle classifier (text turned 180 degrees) and without.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logotag_gui.core.analysis.evaluate import load_truth
from logotag_gui.core.media.video import open_source
from logotag_gui.core.vision.text_reading import TextReader, name_similarity


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", action="append", required=True)
    p.add_argument("--truth", action="append", required=True)
    p.add_argument("--frames", type=int, default=12, help="frames per clip, spread over its truth's frames")
    p.add_argument("--angle", action="store_true", help="with and without the angle classifier instead")
    args = p.parse_args()
    if args.angle:
        engine = TextReader.engine(whole_frame=True)
        ways = {"own size, angle classifier": lambda im: _texts(engine(im[:, :, ::-1], use_cls=True)),
                "own size, no angle classifier": lambda im: _texts(engine(im[:, :, ::-1], use_cls=False))}
    else:
        for own in (False, True):
            TextReader.engine(whole_frame=own)  # loaded before timing
        ways = {"default (short side to 736)": lambda im: [x.text for x in TextReader.read(im)],
                "frame at its own size (long side <= 960)":
                    lambda im: [x.text for x in TextReader.read(im, whole_frame=True)]}
    for clip, truth_path in zip(args.clip, args.truth, strict=True):
        truth = load_truth(truth_path)
        source = open_source(clip)
        with_logos = sorted(f for f, boxes in truth.boxes.items() if isinstance(f, int) and boxes)
        picked = [with_logos[int(i)] for i in np.linspace(0, len(with_logos) - 1, min(args.frames, len(with_logos)))]
        seconds = dict.fromkeys(ways, 0.0)
        lines = dict.fromkeys(ways, 0)
        named = dict.fromkeys(ways, 0)
        pairs = 0
        for f in picked:
            image = source.frame(f).image
            brands = {b.brand for b in truth.boxes[f]}
            pairs += len(brands)
            for name, way in ways.items():
                start = time.perf_counter()
                read = way(np.ascontiguousarray(image))
                seconds[name] += time.perf_counter() - start
                lines[name] += len(read)
                named[name] += sum(any(name_similarity(text, b) >= 0.8 for text in read) for b in brands)
        source.close()
        print(f"{clip}: {len(picked)} frames, {pairs} (frame, brand) pairs on them")
        for name in ways:
            print(f"  {name:<42} {seconds[name] / len(picked):5.2f} s/frame  {lines[name]:4d} lines  "
                  f"names read {named[name]}/{pairs}")


def _texts(result) -> list[str]:
    return [str(t) for t in (getattr(result, "txts", None) or ())]


if __name__ == "__main__":
    main()
