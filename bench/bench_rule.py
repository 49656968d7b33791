"""What changing the counting rule costs: every figure of a clip counted again from its stored boxes under each
preset (no run, no pixels: the presets' bars are geometric), and the seconds each gives.

    python bench/bench_rule.py --db bench/out/broadcast3/p.sqlite [--repeat 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logotag_gui.core.analysis.exposure import ExposureRules, clip_exposure, sampling_interval
from logotag_gui.core.base.counting import PRESETS, custom
from logotag_gui.core.store import open_repository


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True)
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()
    repo = open_repository(args.db)
    for video in repo.videos():
        start = time.perf_counter()
        candidates = repo.candidates(video_id=video.id)
        loaded = time.perf_counter() - start
        interval = sampling_interval(native_fps=video.fps, run_fps=2.0, kind=video.kind)
        print(f"{Path(video.path).name}: {len(candidates)} candidates, {video.duration_s:.0f} s; read from the store "
              f"in {loaded * 1000:.0f} ms")
        for name, rule in PRESETS.items():
            rule = custom(rule, min_sharpness=0.0)  # sharpness needs the clip's pixels (cached once, then read)
            start = time.perf_counter()
            for _ in range(args.repeat):
                out = clip_exposure(candidates, interval_s=interval, rule=rule, rules=ExposureRules(source="model"))
            each = (time.perf_counter() - start) / args.repeat
            print(f"  {name:<8} counted again in {each * 1000:6.1f} ms: {sum(s.seconds for s in out.values()):7.1f} s "
                  "on the model's boxes")
    repo.close()


if __name__ == "__main__":
    main()
