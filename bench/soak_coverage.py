"""Soak: reviewers completing views (V) and taking looks back (Ctrl+Z) on one clip, killed with SIGKILL at
random moments; afterwards every look a reviewer reported done (and did not report undone) must be stored.

Each reviewer process opens the project as the app does (durable: synchronous=FULL on SQLite), completes a
random view nobody has looked at through ReviewSession.complete_view, or undoes its last step, and prints
`done A B` / `undone A B` only once the call returned (committed). The driver kills a random reviewer 0.2-2 s
after it is ready, restarts it, and repeats. A kill between a commit and its print may leave one look stored
that was never reported (allowed), or take back one reported look with an undo that was never reported: that
look, the top of the killed life's undo stack, is the one tolerated miss per life. With `--reviewers 2` both
reviewers work on the same clip at once (SQLite, or PostgreSQL with `--db postgresql+psycopg://...`).

    python bench/soak_coverage.py [--kills 15] [--reviewers 1] [--folder /tmp/logotag-soak-coverage] [--db URL]
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
import random, sys, time
sys.path.insert(0, sys.argv[3])
from logotag_gui.core.review import ReviewSession
from logotag_gui.core.store import open_repository
db, seed, name = sys.argv[1], int(sys.argv[2]), sys.argv[4]
repo = open_repository(db, durable=True)
video = repo.videos()[0]
session = ReviewSession(repo, video, reviewer=name)
rng = random.Random(seed)
print("life", flush=True)
while True:
    time.sleep(0.002)  # a light load: the soak is about kills, not speed
    left = session.unlooked_views()
    if session.can_undo and (not left or rng.random() < 0.25):
        a, b = session.undo_text.split()[1].split("-")
        session.undo()
        print(f"undone {a} {b}", flush=True)  # only now: the undo returned, so it is committed
        continue
    if not left:  # the other reviewer looked at the rest: wait for an undo
        time.sleep(0.05)
        session.reload()
        continue
    v = rng.choice(left)
    if session.complete_view(v).history:  # a step of this reviewer's, committed: the call returned
        print(f"done {v.first} {v.last}", flush=True)
    else:
        print(f"had {v.first} {v.last}", flush=True)  # another reviewer's look: no step of this one
'''


def expected(log: str) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(looks this reviewer's log says are stored, the ones a kill may have taken back unreported)."""
    present: set[tuple[int, int]] = set()
    tolerated: set[tuple[int, int]] = set()
    stack: list[tuple[int, int]] = []
    for line in log.splitlines():
        word, *rest = line.split()
        if word == "life":
            if stack:
                tolerated.add(stack[-1])
            stack = []
            continue
        if word not in ("done", "undone"):
            continue
        look = (int(rest[0]), int(rest[1]))
        tolerated.discard(look)
        if word == "done":
            present.add(look)
            stack.append(look)
        else:
            present.discard(look)
            if stack and stack[-1] == look:
                stack.pop()
    if stack:
        tolerated.add(stack[-1])
    return present, tolerated & present


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=15)
    p.add_argument("--reviewers", type=int, default=1)
    p.add_argument("--views", type=int, default=200)
    p.add_argument("--folder", default="/tmp/logotag-soak-coverage")
    p.add_argument("--db", help="a database URL (e.g. a fresh PostgreSQL database); default a SQLite file")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    from sqlalchemy import select

    from logotag_gui.core.media.views import View
    from logotag_gui.core.review import ReviewSession
    from logotag_gui.core.store import open_repository
    from logotag_gui.core.store.schema import ViewLook
    from tests.seeded import seeded_project

    folder = Path(args.folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = args.db or str(folder / "soak.sqlite")
    # 10 fps, reviewed every 5th frame: two sampled frames a view
    repo, vid = seeded_project(db, [(0, 10, "acme", None)], frame_count=args.views * 10)
    session = ReviewSession(repo, repo.video(vid), reviewer="setup")
    session.set_views([View(f, f + 5, f) for f in range(0, args.views * 10, 10)])
    repo.close()
    rng = random.Random(args.seed)
    names = [f"rev{i}" for i in range(args.reviewers)]
    logs = {n: folder / f"{n}.log" for n in names}
    for log in logs.values():
        log.write_text("")
    procs: dict[str, subprocess.Popen] = {}
    launched: dict[str, int] = {}
    kills = 0
    started = time.time()

    def launch(name: str) -> None:
        out = open(logs[name], "a")  # noqa: SIM115 (the child owns it)
        argv = [sys.executable, "-c", REVIEWER, db, str(rng.randrange(10**9)), str(ROOT), name]
        procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        launched[name] = launched.get(name, 0) + 1

    for n in names:
        launch(n)
    def lives(name: str) -> int:
        return logs[name].read_text().count("life\n")

    while kills < args.kills:
        name = rng.choice(names)
        wait_until = time.time() + 60  # the kill is timed from when the reviewer is ready (a session open)
        while lives(name) < launched[name] and time.time() < wait_until and procs[name].poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.2, 2.0))
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

    repo = open_repository(db)
    with repo.engine.connect() as conn:
        rows = list(conn.execute(select(ViewLook.first_frame, ViewLook.last_frame, ViewLook.reviewer)))
    stored = {(a, b): r for a, b, r in rows}
    failed = False
    for name, log in logs.items():
        text = log.read_text()
        present, tolerated = expected(text)
        missing = {look for look in present if stored.get(look) != name} - tolerated
        reported = sum(1 for line in text.splitlines() if line.startswith(("done", "undone")))
        errors = [line for line in text.splitlines() if "Error" in line or "Traceback" in line]
        print(f"{name}: {reported} looks and undos reported committed, {len(present)} looks reported stored, "
              f"{len(missing)} of them missing ({len(tolerated)} may be undone unreported); "
              f"error lines: {len(errors)}")
        for line in errors[:5]:
            print("  ", line)
        failed |= bool(missing or errors)
    print(f"{time.time() - started:.0f} s, {kills} processes killed with SIGKILL, {len(rows)} looks stored, "
          f"{len(rows) - len(stored)} stored twice")
    sys.exit(1 if failed or len(rows) != len(stored) else 0)


if __name__ == "__main__":
    main()
