"""Soak: a review session deciding while a pipeline commits batches into the same SQLite project, both
killed with SIGKILL at random moments; afterwards, everything either process reported committed must be
in the database, and no frame may hold a box twice.

The reviewer process makes decisions through the app's ReviewSession (accept, reject, relabel, tighten,
whole tracks, undo), each tagged with a unique reviewer name, and prints the tag once the call returned
(committed). The pipeline process runs clips (copies of the demo clip) and prints the ids of each stored
batch. The driver starts both, kills one or both after a random pause, restarts them, and repeats.

    python bench/soak_review.py [--decisions 10000] [--kills 20] [--folder /tmp/soak]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REVIEWER = r'''
import random, sys
sys.path.insert(0, sys.argv[3])
from logotag_gui.core.base.records import BBox, DecisionKind
from logotag_gui.core.review import Project
db, start = sys.argv[1], int(sys.argv[2])
project = Project.open(db)  # durable: synchronous=FULL, as in the app
video = next(v for v in project.videos() if v.path.endswith("review.mp4"))
session = project.session(video.id, reviewer="soak")
rng = random.Random(start)
seq = start
while True:
    c = rng.choice(session.candidates)
    session.reviewer = f"soak-{seq}"
    step = rng.random()
    if step < 0.3:
        session.accept(c)
    elif step < 0.5:
        session.reject(c)
    elif step < 0.6:
        session.relabel(c, rng.choice(["Norvik", "Aquila", "Fennel"]))
    elif step < 0.7:
        b = c.final_bbox
        session.edit_box(c, BBox(b.x + 1, b.y, b.w, b.h))
    elif step < 0.8:
        if not session.decide_track(c, DecisionKind.ACCEPT):  # nothing left pending on that track
            session.reject(c)
    elif session.can_undo:
        session.undo()
    else:
        session.accept(c)
    print(f"decided soak-{seq}", flush=True)  # only now: the call returned, so it is committed
    seq += 1
'''

PIPELINE = r'''
import sys
sys.path.insert(0, sys.argv[3])
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.review import Project
from logotag_gui.core.store.repository import RunBusy
db, clips, logos = sys.argv[1], sys.argv[2].split(","), sys.argv[4]
project = Project.open(db, durable=False)
done = {v.path for v in project.videos() if v.last_run_status == "done"}
for clip in clips:
    if clip in done:  # a finished clip would be run afresh (its pending boxes replaced): leave it
        continue
    config = RunConfig(input=clip, logos=logos, embedder="keypoints", verifier="none", fps=10, batch_frames=1)
    try:
        project.run(config, on_batch=lambda stored: print("stored " + " ".join(str(c.id) for c in stored) or "-",
                                                            flush=True))
    except RunBusy as exc:  # the killed predecessor's lock: taken over at once (its pid is gone)
        print(f"busy {exc}", flush=True)
        raise
print("all clips done", flush=True)
'''


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decisions", type=int, default=10_000)
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--folder", default="/tmp/logotag-soak")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.base.records import MANUAL
    from logotag_gui.core.review import Project
    from logotag_gui.core.store import open_repository

    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    demo = ROOT / "resources" / "demo"
    logos = str(demo / "logos")
    review_clip = folder / "review.mp4"
    shutil.copy(demo / "demo_clip.mp4", review_clip)
    clips = []
    for i in range(args.clips):
        clip = folder / f"clip{i}.mp4"
        shutil.copy(demo / "demo_clip.mp4", clip)
        clips.append(str(clip))
    db = str(folder / "soak.sqlite")
    project = Project.open(db, durable=False)
    project.set_logos(logos)
    project.run(RunConfig(input=str(review_clip), logos=logos, embedder="keypoints", verifier="none", fps=10))
    project.close()
    rng = random.Random(args.seed)
    logs = {"review": folder / "review.log", "pipeline": folder / "pipeline.log"}
    for log in logs.values():
        log.write_text("")
    procs: dict[str, subprocess.Popen] = {}
    kills = decided = 0
    started = time.time()

    def launch(name: str) -> None:
        out = open(logs[name], "a")  # noqa: SIM115 (the child owns it)
        if name == "review":
            argv = [sys.executable, "-c", REVIEWER, db, str(decided + kills * 1_000_000), str(ROOT)]
        else:
            argv = [sys.executable, "-c", PIPELINE, db, ",".join(clips), str(ROOT), logos]
        procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def count() -> int:
        return sum(1 for line in logs["review"].read_text().splitlines() if line.startswith("decided "))

    launch("review")
    launch("pipeline")
    while decided < args.decisions or kills < args.kills:
        time.sleep(rng.uniform(1.0, 6.0))
        decided = count()
        victims = rng.choice([["review"], ["pipeline"], ["review", "pipeline"]])
        for name in victims:
            proc = procs[name]
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
            launch(name)
    for proc in procs.values():
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    # ---- what was reported, against what is stored ------------------------------------------------
    repo = open_repository(db)
    review_lines = logs["review"].read_text().splitlines()
    reported = {line.split()[1] for line in review_lines if line.startswith("decided ")}
    with repo.engine.connect() as conn:
        stored_tags = {r[0] for r in conn.exec_driver_sql("SELECT reviewer FROM decisions WHERE reviewer LIKE 'soak-%'")}
    missing = reported - stored_tags
    batches = [line.split()[1:] for line in logs["pipeline"].read_text().splitlines() if line.startswith("stored")]
    batch_ids = {int(i) for ids in batches for i in ids if i != "-"}
    present = {c.id for c in repo.candidates()}
    lost_batches = batch_ids - present
    keys = [(v.id, c.frame.index, c.brand, tuple(c.bbox.as_list())) for v in repo.videos()
            for c in repo.candidates(video_id=v.id) if c.method != MANUAL]
    duplicates = len(keys) - len(set(keys))
    errors = [line for text in (logs["review"].read_text(), logs["pipeline"].read_text())
              for line in text.splitlines() if "Error" in line or "Traceback" in line]
    runs = repo.runs()
    print(f"{time.time() - started:.0f} s, {kills} processes killed with SIGKILL")
    print(f"reviewer: {len(reported)} decisions reported committed, {len(missing)} of them missing in the database")
    print(f"pipeline: {len(batches)} batches ({len(batch_ids)} candidates) reported stored, {len(lost_batches)} missing; "
          f"runs: {', '.join(f'{r.status}' for r in runs)}")
    print(f"boxes stored twice on one frame: {duplicates}; error lines in the logs: {len(errors)}")
    for line in errors[:5]:
        print("  ", line)
    sys.exit(1 if missing or lost_batches or duplicates else 0)


if __name__ == "__main__":
    main()
