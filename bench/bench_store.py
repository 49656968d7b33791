"""What durable decisions cost: one reviewer decision committed with SQLite synchronous=FULL vs NORMAL.

In WAL mode, NORMAL survives a killed process but may lose the last commits on a power cut; FULL
syncs the log on every commit. The review session opens its project with FULL (a decision must
outlive a power cut), the pipeline with NORMAL (a lost batch is redone). This prints the median and
95th percentile time of one decision (`ReviewSession.accept`, the app's own path) both ways, in one run.

    python bench/bench_store.py [--decisions 300] [--folder /tmp]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import percentiles
from logotag_gui.core.base.records import BBox, Candidate, FrameRef
from logotag_gui.core.review import Project


def seeded(path: Path, n: int) -> None:
    project = Project.open(path, durable=False)
    repo = project.repo
    vid = repo.add_video(path="/clips/bench.mp4", kind="video", fps=25, frame_count=n * 12, duration_s=n / 2,
                         width=1280, height=720)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=n)
    cands = [Candidate(FrameRef(i * 12, i * 0.48, 1280, 720), BBox(10, 20, 50, 30), "acme", 0.8, "keypoints")
             for i in range(n)]
    repo.add_batch(run_id=run, video_id=vid, candidates=cands, last_frame_index=(n - 1) * 12, frames_done=n)
    project.close()


def timed_decisions(path: Path, *, durable: bool) -> list[float]:
    import time

    project = Project.open(path, durable=durable)
    session = project.session(project.videos()[0].id, reviewer="bench")
    times = []
    for c in session.candidates:
        t0 = time.perf_counter()
        session.accept(c, advance=False)
        times.append(time.perf_counter() - t0)
    project.close()
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decisions", type=int, default=300)
    p.add_argument("--folder", default=None, help="where the test databases go (the disk you review on)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        for durable in (False, True, False, True):  # interleaved: a noisy machine weighs on both alike
            path = Path(tmp) / f"p-{durable}.sqlite"
            path.unlink(missing_ok=True)
            seeded(path, args.decisions)
            median, p95 = percentiles(timed_decisions(path, durable=durable))
            print(f"synchronous={'FULL  ' if durable else 'NORMAL'} one decision: median {median * 1000:.2f} ms, "
                  f"p95 {p95 * 1000:.2f} ms ({args.decisions} decisions)")


if __name__ == "__main__":
    main()
