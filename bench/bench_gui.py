"""Review-app speed: time to step one frame at 1080p (decode + overlay + paint), p50 and p95, and
time to open a project holding 100,000 candidates. Targets: p95 < 30 ms per step; < 2 s to open.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--steps 120] [--candidates 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import percentiles
from logotag_gui.core.base.records import BBox, Candidate, FrameRef
from logotag_gui.core.media.video import probe
from logotag_gui.core.store import open_repository
from resources import synth


def make_project(db: Path, clip: Path, n_candidates: int) -> None:
    info = probe(clip)
    repo = open_repository(db)
    vid = repo.add_video(path=str(clip.resolve()), kind="video", fps=info.fps, frame_count=info.frame_count,
                         duration_s=info.duration_s, width=info.width, height=info.height)
    run = repo.start_run(video_id=vid, config={"fps": info.fps}, embedder=("keypoints", "", ""),
                         verifier=("none", "", ""), frames_total=info.frame_count)
    brands = list(synth.DEMO_BRANDS)
    batch = []
    for i in range(n_candidates):
        index = i % info.frame_count
        ref = FrameRef(index, index / info.fps, info.width, info.height)
        batch.append(Candidate(ref, BBox(40 + (i * 37) % 1500, 40 + (i * 53) % 900, 160, 80), brands[i % 3],
                               0.3 + (i % 70) / 100, "keypoints", track_id=i % 500))
        if len(batch) == 5000:
            repo.add_batch(run_id=run, video_id=vid, candidates=batch, last_frame_index=index, frames_done=0)
            batch = []
    if batch:
        repo.add_batch(run_id=run, video_id=vid, candidates=batch, last_frame_index=0, frames_done=0)
    repo.mark_run(run, status="done")
    repo.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--candidates", type=int, default=100_000)
    args = p.parse_args()
    from PySide6.QtWidgets import QApplication

    from logotag_gui.qt.main_window import MainWindow

    app = QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        marks = {n: synth.make_logo(n, *s) for n, s in synth.DEMO_BRANDS.items()}
        clip = tmp / "clip1080.mp4"
        synth.write_clip(clip, marks, synth.DEMO_PLACEMENTS, n_frames=args.steps + 30, fps=30, size=(1920, 1080))
        # ~7 boxes per frame for stepping: a realistic overlay.
        make_project(tmp / "step.sqlite", clip, (args.steps + 30) * 7)
        make_project(tmp / "big.sqlite", clip, args.candidates)

        def wait(cond, timeout=10.0):
            end = time.perf_counter() + timeout
            while not cond() and time.perf_counter() < end:
                app.processEvents()

        w = MainWindow(reviewer="bench")
        w.resize(1600, 1000)
        w.show()
        w.open_project(str(tmp / "step.sqlite"))
        cv = w.clip_view
        wait(lambda: cv.shown == 0)
        times = []
        for _ in range(args.steps):
            target = cv.current + 1
            t0 = time.perf_counter()
            cv.step(1)
            wait(lambda target=target: cv.shown == target)
            cv.view.viewport().repaint()  # include painting the frame and its boxes
            times.append((time.perf_counter() - t0) * 1000)
        p50, p95 = percentiles(times)
        print(f"step one frame at 1920x1080 (decode + overlay + paint, ~7 boxes): p50 {p50:.1f} ms, p95 {p95:.1f} ms "
              f"over {len(times)} steps (target p95 < 30 ms)")
        w.close()

        w2 = MainWindow(reviewer="bench")
        w2.show()
        t0 = time.perf_counter()
        w2.open_project(str(tmp / "big.sqlite"))
        opened = time.perf_counter() - t0
        wait(lambda: w2.clip_view.shown == 0)
        shown = time.perf_counter() - t0
        print(f"open a project with {w2.table_model.filtered_count():,} candidates: {opened:.2f} s to a usable window, "
              f"{shown:.2f} s to the first frame (target < 2 s)")
        t0 = time.perf_counter()
        w2.table_model.sort(3)
        print(f"sort 100k rows by score: {(time.perf_counter() - t0) * 1000:.0f} ms")
        w2.close()


if __name__ == "__main__":
    main()
