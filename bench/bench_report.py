"""Time the exposure report for a project with 100,000 accepted detections (compute, CSV, HTML).

    python bench/bench_report.py [--detections 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from logotag_gui.core.analysis.report import build_report, write_csv, write_html
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, ReviewState
from logotag_gui.core.store import open_repository
from logotag_gui.core.store.schema import CandidateRow
from resources import synth


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--detections", type=int, default=100_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        marks = {n: synth.make_logo(n, *s) for n, s in synth.DEMO_BRANDS.items()}
        clip = tmp / "clip.mp4"
        n_frames = 600
        synth.write_clip(clip, marks, synth.DEMO_PLACEMENTS, n_frames=n_frames, fps=25, size=(640, 360))
        repo = open_repository(tmp / "p.sqlite")
        vid = repo.add_video(path=str(clip), kind="video", fps=25, frame_count=n_frames, duration_s=n_frames / 25,
                             width=640, height=360)
        run = repo.start_run(video_id=vid, config={"fps": 25}, embedder=("keypoints", "", ""),
                             verifier=("none", "", ""), frames_total=n_frames)
        brands = list(synth.DEMO_BRANDS) + [f"Brand{i}" for i in range(17)]
        batch = []
        for i in range(args.detections):
            f = (i * 7) % n_frames
            batch.append(Candidate(FrameRef(f, f / 25, 640, 360), BBox((i * 13) % 500, (i * 29) % 300, 60, 30),
                                   brands[i % len(brands)], 0.8, "keypoints"))
            if len(batch) == 10_000:
                repo.add_batch(run_id=run, video_id=vid, candidates=batch, last_frame_index=f, frames_done=0)
                batch = []
        if batch:
            repo.add_batch(run_id=run, video_id=vid, candidates=batch, last_frame_index=0, frames_done=0)
        with repo.engine.begin() as conn:  # accept everything in one statement (decisions are not timed here)
            conn.execute(CandidateRow.__table__.update().values(review_state=ReviewState.ACCEPTED.value,
                                                                review_kind="accept", reviewer="bench"))
        t0 = time.perf_counter()
        report = build_report(repo)
        t1 = time.perf_counter()
        write_csv(report, tmp / "e.csv")
        t2 = time.perf_counter()
        write_html(report, tmp / "e.html")
        t3 = time.perf_counter()
        size = (tmp / "e.html").stat().st_size
    print(f"exposure report over {args.detections:,} accepted detections, {len(brands)} brands, one clip: "
          f"metrics {t1 - t0:.2f} s (load + compute), CSV {t2 - t1:.3f} s, HTML with chart and "
          f"{len(report.totals)} thumbnails {t3 - t2:.2f} s ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
