"""Seconds per taught box against the clip's length: what one drawn box costs learning (`Learner.teach`: keep the
view, search the clip's other shots with it) on clips of 1, 3 and 10 minutes.

The clips repeat the pan bench's clip (bench/make_pan_bench.py: bench/out/pan/clip.mp4, 42 s of a pan over 14
FlickrLogos-27 photos) end to end, copied without re-encoding (a hard cut at each join), cut at the length asked
for: bench/out/learn/clip_<M>min.mp4. Each clip gets a project of its own and an empty keypoint store; its cuts
are found first (once per clip, not counted). Then boxes from the pan clip's truth are drawn one after another on
frames of its first repetition, each taught at once, as the reviewer's drawn box is: the first box describes the
clip's sampled frames (cold), the next ones read what the store kept (warm). `--describe-first` describes the
sampled frames ahead (`Learner.describe`, what a quiet worker does when the clip opens) and times that apart.

    python bench/make_pan_bench.py                      # once: bench/out/pan/
    python bench/bench_learning.py --minutes 1 3        # now
    python bench/bench_learning.py --minutes 1 3 10     # on a quiet machine (10 minutes: ~1200 sampled frames)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import av

from logotag_gui.core.base.records import BBox
from logotag_gui.core.media.shots import shot_cuts
from logotag_gui.core.media.video import open_source
from logotag_gui.core.review import Project
from logotag_gui.core.review.learning import Learner

ROOT = Path(__file__).resolve().parents[1]
PAN = ROOT / "bench" / "out" / "pan"


def repeated_clip(src: Path, out: Path, seconds: float) -> Path:
    """`src` played again and again (packets copied, timestamps shifted) until `seconds` long."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(src)) as probe:
        stream = probe.streams.video[0]
        tb = stream.time_base
        length = int(stream.duration or round(float(probe.duration / av.time_base) / float(tb)))
    end = int(seconds / float(tb))
    with av.open(str(tmp), "w") as dst:
        ostream = None
        offset = 0
        while offset < end:
            with av.open(str(src)) as inp:
                istream = inp.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                for packet in inp.demux(istream):
                    if packet.dts is None:
                        continue
                    if packet.pts is not None and packet.pts + offset >= end and packet.is_keyframe:
                        break
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts += offset
                    packet.stream = ostream
                    dst.mux(packet)
            offset += length
    os.replace(tmp, out)
    return out


def taught_boxes(n: int) -> list[tuple[int, str, BBox]]:
    """`n` boxes of the pan clip's truth, the largest of a frame each, spread over its first half."""
    truth = json.loads((PAN / "gt.json").read_text())["boxes"]
    frames = sorted(int(k) for k, v in truth.items() if v)
    out: list[tuple[int, str, BBox]] = []
    for k in range(n):
        index = frames[(k * 7 + 3) * len(frames) // (7 * n + 7)]
        brand, x, y, w, h = max(truth[str(index)], key=lambda b: b[3] * b[4])
        out.append((index, brand, BBox(x, y, w, h)))
    return out


def bench(clip: Path, boxes: int, describe_first: bool, before: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        project = Project.open(Path(tmp) / "p.sqlite", durable=False)
        project.set_logos(str(PAN / "logos"))
        assert project.add_clips([str(clip)]) == []
        video = project.videos()[0]
        session = project.session(video.id, reviewer="bench")
        source = open_source(clip)
        try:
            project.repo.add_cuts(video.id, shot_cuts(source))
            # (a Learner from before the keypoint store has no cache_root: the bench also times the old code)
            store: dict[str, Any] = {"cache_root": Path(tmp) / "cache"} if "cache_root" in Learner.__dataclass_fields__ else {}
            learner = Learner(project.repo, source, video=video, sampled=session.sampled, reviewer="bench", **store)
            row: dict = {"clip_s": round(video.duration_s), "sampled": len(session.sampled),
                         "cuts": len(project.repo.cuts(video.id) or [])}
            if before:  # as before the keypoint store: 160 frames' keypoints in memory, the rest described again
                learner._store.folder = None
            if describe_first and store and not before:
                t = time.perf_counter()
                learner.describe()
                row["describe_s"] = round(time.perf_counter() - t, 2)
            seconds, found = [], []
            for index, brand, bbox in taught_boxes(boxes):
                drawn = session.add_box(index, bbox, brand)
                t = time.perf_counter()
                lessons = learner.teach([drawn], {brand: session.of_brand(brand)})
                seconds.append(round(time.perf_counter() - t, 2))
                session.ingest(lessons.added)
                found.append(len(lessons.added))
            row["seconds"] = seconds
            row["found"] = found
            row["cold_s"] = seconds[0]
            row["warm_s"] = round(statistics.median(seconds[1:]), 2) if len(seconds) > 1 else None
            return row
        finally:
            source.close()
            project.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 3])
    ap.add_argument("--boxes", type=int, default=4, help="boxes drawn and taught one after another per clip")
    ap.add_argument("--describe-first", action="store_true", help="describe the sampled frames before the first box")
    ap.add_argument("--before", action="store_true",
                    help="without the keypoint store (memory only, as before it): the figures to compare with")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "learn")
    args = ap.parse_args()
    if not (PAN / "clip.mp4").is_file():
        raise SystemExit(f"{PAN / 'clip.mp4'} is missing: run python bench/make_pan_bench.py first")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{'without' if args.before else 'with'} the keypoint store")
    for minutes in args.minutes:
        clip = repeated_clip(PAN / "clip.mp4", args.out / f"clip_{minutes:g}min.mp4", 60 * minutes)
        row = bench(clip, args.boxes, args.describe_first, args.before)
        print(f"{minutes:g} min: " + json.dumps(row), flush=True)
    if max(args.minutes) < 10:
        print("the 10-minute clip (about 1200 sampled frames, ~6 minutes of describing first) on a quiet machine: "
              "python bench/bench_learning.py --minutes 1 10 --describe-first; and as before the store (each box "
              "describes every frame again): add --before")


if __name__ == "__main__":
    main()
