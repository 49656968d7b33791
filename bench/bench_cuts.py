"""Shot cuts against the truth: precision and recall of `media.shots.CutDetector` on the bench clips.

The broadcast-like clips' truth (bench/make_broadcast_clip.py: gt.json "shots") says where each shot starts; the
pan clip (bench/make_pan_bench.py) switches photo every 3 s. A found cut is right when it lands on a shot's first frame (one
frame of slack either side). Prints each clip's cuts found, missed and false, and with `--trace` the detector's
measures around each false or missed cut.

    python bench/bench_cuts.py [--clips bench/out/pan bench/out/broadcast bench/out/broadcast3]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from logotag_gui.core.media.shots import shot_cuts
from logotag_gui.core.media.video import open_source

ROOT = Path(__file__).resolve().parents[1]
CLIPS = [ROOT / "bench" / "out" / name for name in ("pan", "broadcast", "broadcast3")]


def true_cuts(folder: Path) -> list[int]:
    """The broadcast-like clips' shot starts after the first; the pan clip's truth lists no shots, but it shows
    each photo for 3 s and switches to the next at once (../shared/tools/make_pan_clip.py): a hard cut."""
    truth = json.loads((folder / "gt.json").read_text())
    if "shots" in truth:
        return [s["start"] for s in truth["shots"][1:]]
    every = 3 * int(truth["fps"])
    return list(range(every, int(truth["frames"]), every))


def score(found: list[int], truth: list[int], slack: int = 1) -> tuple[list[int], list[int], list[int]]:
    """(right, false, missed)."""
    right = [c for c in found if any(abs(c - t) <= slack for t in truth)]
    false = [c for c in found if c not in right]
    missed = [t for t in truth if not any(abs(c - t) <= slack for c in found)]
    return right, false, missed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, nargs="+", default=[c for c in CLIPS if (c / "clip.mp4").is_file()])
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    total = [0, 0, 0]
    for folder in args.clips:
        source = open_source(folder / "clip.mp4")
        try:
            found = shot_cuts(source)
        finally:
            source.close()
        truth = true_cuts(folder)
        right, false, missed = score(found, truth)
        total = [total[0] + len(right), total[1] + len(false), total[2] + len(missed)]
        precision = len(right) / len(found) if found else 1.0
        recall = len(right) / len(truth) if truth else 1.0
        print(f"{folder.name}: {len(truth)} cuts, found {len(found)}: precision {precision:.3f} recall {recall:.3f}; "
              f"false {false}, missed {missed}")
    n_right, n_false, n_missed = total
    print(f"all: precision {n_right / max(1, n_right + n_false):.3f} recall {n_right / max(1, n_right + n_missed):.3f}")


if __name__ == "__main__":
    main()
