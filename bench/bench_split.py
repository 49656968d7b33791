"""One long clip on 1, 2, ... Ray workers of one core each: `logotag run-many` whole, against the clip split
into as many frame ranges as workers (`--split-minutes`), each run into a fresh project.

Prints, per worker count: the wall time of the whole command as a user waits for it (Ray's start, each
worker's model loading and indexing, the ranges, joining and following), sampled frames per second, the
speed-up over one worker, box recall / precision at IoU 0.5 and the model-only exposure error (the split
must not change them), tracks, and the peak resident memory of a worker process (VmHWM).

The settings run one after the other, not interleaved (each uses every core it is given): run it on a quiet
machine, with nothing else running.

    python bench/bench_split.py --clip bench/out/broadcast3/clip.mp4 --truth bench/out/broadcast3/gt.json \\
        --logos bench/out/broadcast3/logos --workers 1 2
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_run import parse_setting, score
from logotag_gui.core.analysis.evaluate import load_truth
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.jobs.run_many import run_many
from logotag_gui.core.media.video import open_source
from logotag_gui.core.store import open_repository


def worker_peaks_mib() -> list[float]:
    """Peak resident memory of each live Ray worker process of this machine (Linux /proc)."""
    peaks = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::"):
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


def run_once(clip: str, logos: str, truth, workers: int, overrides: dict) -> dict:
    import ray

    source = open_source(clip)
    duration_min = source.info.duration_s / 60
    source.close()
    split = duration_min / workers * 1.001 if workers > 1 else 0.0
    config = RunConfig(input="", logos=logos, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "p.sqlite")
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # each run indexes the logos anew, as a fresh node
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        try:
            summary = run_many([clip], config, db, num_cpus=1, split_minutes=split, poll_s=5.0)
            wall = time.perf_counter() - t0
            peaks = worker_peaks_mib()
        finally:
            ray.shutdown()
        [result] = summary.results
        if result.status != "done":
            raise SystemExit(f"{workers} worker(s): {result.status} {result.message}")
        repo = open_repository(db)
        assert result.run_id is not None
        video = repo.video(repo.run_info(result.run_id).video_id)
        interval = 1.0 / min(config.fps, video.fps)
        row = {"wall_s": wall, "frames": result.frames_total,
               "tracks": len({c.track_id for c in repo.candidates(video_id=video.id)}),
               "peak_mib": max(peaks, default=0.0), **score(repo, video.id, truth, interval, config.fps)}
        repo.close()
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clip", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--logos", required=True)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--set", default="", help='settings, e.g. "fps=1" (default: the defaults)')
    args = p.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    truth = load_truth(args.truth)
    overrides = parse_setting(args.set)
    rows = {}
    for workers in args.workers:
        rows[workers] = run_once(str(Path(args.clip).resolve()), str(Path(args.logos).resolve()), truth, workers,
                                 overrides)
        print(f"  {workers} worker(s): {rows[workers]['wall_s']:.0f} s", file=sys.stderr)
    base = rows[args.workers[0]]["wall_s"]
    print(f"{Path(args.clip).name}: run-many, one core per worker, the whole command ({args.set or 'defaults'})")
    print(f"{'workers':>7} {'wall':>7} {'frames/s':>8} {'speed-up':>8} {'recall':>7} {'precision':>9} "
          f"{'exp. error':>10} {'tracks':>6} {'peak MiB':>8}")
    for workers, r in rows.items():
        print(f"{workers:7d} {r['wall_s']:6.0f}s {r['frames'] / r['wall_s']:8.2f} {base / r['wall_s']:7.2f}x "
              f"{r['recall']:7.1%} {r['precision']:9.1%} {r['exposure_error']:10.1%} {r['tracks']:6d} "
              f"{r['peak_mib']:8.0f}")


if __name__ == "__main__":
    main()
