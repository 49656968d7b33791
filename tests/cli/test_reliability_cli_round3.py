"""Issue 27 from the terminal: bad values refused before any work (14, 17, 19), an interrupted export
(16), a full disk during an export (6), an unexpected error as one line (8), a read-only project (7), a
folder or a full disk where the database should be (10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from logotag_gui.cli import build_parser, main, run_config
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import BBox, FrameRef
from logotag_gui.core.store import open_repository
from tests.seeded import draw

REPO_ROOT = Path(__file__).resolve().parents[2]


def _refused(capsys, argv: list[str], *needles: str) -> str:
    """The command is refused (exit 2) with one message naming each needle; nothing else happens."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's refusal
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for needle in needles:
        assert needle in last, last
    return last


def _project(tmp_path: Path, *, rows: int = 3) -> Path:
    db = tmp_path / "p.sqlite"
    repo = open_repository(db)
    video_id = repo.add_video(path=str(tmp_path / "clip.mp4"), kind="video", fps=10.0, frame_count=60,
                              duration_s=6.0, width=640, height=360)
    for i in range(rows):
        draw(repo, video_id=video_id, frame=FrameRef(i, i / 10, 640, 360), bbox=BBox(10, 10, 80, 40), brand="Norvik",
             reviewer="ann")
    repo.close()
    return db


# ---- rows 14, 17, 19: bad values refused before work starts ---------------------------------------


@pytest.mark.parametrize("option,value,allowed", [
    ("--fps", "-1", "0.1"),  # row 14: never started, ate memory
    ("--fps", "0", "0.1"),
    ("--fps", "nan", "0.1"),
    ("--fps", "inf", "0.1"),
    ("--threshold", "5", "1"),
    ("--vlm-concurrency", "0", "1"),  # row 17: a traceback from the thread pool
    ("--batch-frames", "0", "1"),  # row 17: "the video is probably cut off"
    ("--start-frame", "-3", "0"),
    ("--nms-iou", "1.5", "1"),
])
def test_run_refuses_a_value_out_of_range_before_any_work(tmp_path, logos_dir, capsys, option, value, allowed):
    clip = tmp_path / "nothing-here.mp4"  # never opened: the value is refused first
    db = tmp_path / "p.sqlite"
    _refused(capsys, ["-q", "run", str(clip), "--logos", str(logos_dir), "--db", str(db), option, value],
             option, value, allowed)
    assert not db.exists()  # refused before the project was made


def test_run_refuses_a_start_after_the_end(tmp_path, logos_dir, capsys):
    db = tmp_path / "p.sqlite"
    _refused(capsys, ["-q", "run", str(tmp_path / "c.mp4"), "--logos", str(logos_dir), "--db", str(db),
                      "--start-frame", "50", "--end-frame", "10"], "--start-frame 50", "--end-frame 10")
    assert not db.exists()


def test_run_config_check_names_the_setting_and_its_range():
    config = run_config(build_parser().parse_args(["run", "c.mp4", "--logos", "l"])).with_(fps=-1.0)
    with pytest.raises(InputError) as err:
        config.check()
    assert "--fps" in str(err.value) and "-1" in str(err.value) and "0.1" in str(err.value)
    run_config(build_parser().parse_args(["run", "c.mp4", "--logos", "l"])).check()  # the defaults pass


@pytest.mark.parametrize("argv,needles", [
    (["audit", "--frames", "-5"], ("--frames", "-5")),
    (["audit", "--frames", "0"], ("--frames", "0")),
    (["audit", "--target", "0"], ("--target", "0")),
    (["report", "--gap", "-1"], ("--gap", "-1")),
    (["report", "--min-size", "-0.5"], ("--min-size", "-0.5")),
    (["report", "--min-size", "2"], ("--min-size", "2")),
    (["report", "--min-duration", "-2"], ("--min-duration", "-2")),
    (["report", "--gap", "nan"], ("--gap", "nan")),
])
def test_audit_and_report_refuse_bad_values(tmp_path, capsys, argv, needles):
    db = _project(tmp_path)
    before = db.read_bytes()
    out = ["--out", str(tmp_path / "e.csv")] if argv[0] == "report" else []  # never into the working folder
    _refused(capsys, [*argv, "--db", str(db), *out], *needles)
    assert db.read_bytes() == before


def test_eval_refuses_a_bad_fps(tmp_path, capsys):
    (tmp_path / "truth.json").write_text(json.dumps({"fps": 10, "frames": {"0": []}}))
    (tmp_path / "p.jsonl").write_text("")
    _refused(capsys, ["eval", "--truth", str(tmp_path / "truth.json"), "--predictions", str(tmp_path / "p.jsonl"),
                      "--fps", "0"], "--fps", "0")


def test_sample_indices_never_loops_whatever_it_is_given():
    """Row 14's root: `--fps -1` made the step negative and the loop never ended (memory grew by the GB).
    Run in a child with a memory cap and a timeout, so that the old code fails instead of hanging the suite."""
    script = textwrap.dedent("""
        import math, resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from logotag_gui.core.base.errors import InputError
        from logotag_gui.core.media.video import sample_indices
        refused = 0
        for fps, native in [(-1, 25), (0, 25), (math.nan, 25), (math.inf, 25), (2, 0), (2, -25), (2, math.nan)]:
            try:
                sample_indices(frame_count=1000, native_fps=native, fps=fps)
            except InputError as exc:
                assert "fps" in str(exc).lower() or "frame rate" in str(exc), exc
                refused += 1
        assert refused == 7, refused
        assert sample_indices(frame_count=10, native_fps=10, fps=5, start=-4) == [0, 2, 4, 6, 8]
        assert sample_indices(frame_count=10, native_fps=10, fps=5, start=7, end=3) == []
        assert sample_indices(frame_count=30, native_fps=10, fps=2) == [0, 5, 10, 15, 20, 25]
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


# ---- row 6: a full disk during `logotag export` ---------------------------------------------------


def test_export_on_a_filling_disk_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch, capsys):
    from tests.core.test_reliability_files_round3 import filling_disk

    db = _project(tmp_path, rows=300)
    out = tmp_path / "e.csv"
    out.write_text("old")
    filling_disk(monkeypatch, room=20_000)
    last = _refused(capsys, ["export", "--db", str(db), "--out", str(out)], "Cannot write", str(out), "space")
    assert "unexpected" not in last
    assert out.read_text() == "old"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


# ---- row 16: SIGINT and SIGTERM during a long export ----------------------------------------------

_SLOW_EXPORT = """
import sys, time
from pathlib import Path
from logotag_gui.core.analysis import export as ex

real = ex.records
def slow(*args, **kwargs):  # a long export: 0.05 s a record, and a mark once it is under way
    for i, rec in enumerate(real(*args, **kwargs)):
        if i == 2:
            Path(sys.argv[1]).write_text("writing")
        time.sleep(0.05)
        yield rec
ex.records = slow
from logotag_gui.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_export_says_so_in_one_line_and_leaves_no_part(tmp_path, sig, code):
    db = _project(tmp_path, rows=400)
    out = tmp_path / "X.csv"
    out.write_text("old")
    mark = tmp_path / "under-way"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_EXPORT, str(mark), "export", "--db", str(db), "--out",
                             str(out)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not mark.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), proc.communicate(timeout=30)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logotag: ") and "interrupted" in lines[0], err
    assert out.read_text() == "old"
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]


# ---- row 8: an unexpected error is one line on the terminal, its traceback in the log --------------

_BROKEN_COMMAND = """
import sys
from logotag_gui import cli

def broken(args):
    raise RuntimeError("boom in a command")
cli.cmd_videos = broken
raise SystemExit(cli.main(sys.argv[1:]))
"""


def test_an_unexpected_error_is_one_line_and_the_log_names_process_command_and_project(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    monkeypatch.setenv("LOGOTAG_LOG_DIR", str(logs))
    db = _project(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", _BROKEN_COMMAND, "videos", "--db", str(db)], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no traceback, no second "ERROR: unexpected error" line
    assert lines[0].startswith("logotag: unexpected error") and "boom in a command" in lines[0]
    assert str(logs / "logotag.log") in lines[0]
    text = (logs / "logotag.log").read_text(encoding="utf-8")
    assert "Traceback" in text and "RuntimeError: boom in a command" in text
    records = [line for line in text.splitlines() if line[:4].isdigit()]  # a record's first line: its time
    assert records
    for line in records:  # several processes share one log: each line says whose it is
        assert f"pid {proc.pid}" in line and "logotag videos" in line and str(db) in line, line


def test_a_symlink_loop_as_the_video_is_one_line_naming_it(tmp_path, logos_dir, capsys):
    loop = tmp_path / "a.mp4"
    loop.symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(loop)
    last = _refused(capsys, ["-q", "run", str(loop), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite")],
                    str(loop), "symbolic link")
    assert "unexpected" not in last and "loop" in last


# ---- rows 7 and 10: a read-only project; a folder or a full disk where the database should be -------


def _can_mount() -> bool:
    """A private mount namespace with a read-only bind and a tmpfs (root in a container that allows it)."""
    import shutil

    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && mount -o remount,ro $d "
                            "&& umount $d; rc=$?; rmdir $d; exit $rc"], capture_output=True, timeout=30)
    return probe.returncode == 0


CAN_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(not CAN_MOUNT, reason="needs unshare and mount (root in a private namespace)")


def _in_namespace(setup: str, argv: list[str], *, env_dir: Path) -> subprocess.CompletedProcess:
    """`logotag ARGV` after the shell `setup` (mounts), in a private mount namespace that ends with it."""
    import shlex

    command = " ".join(shlex.quote(a) for a in [sys.executable, "-c", "import sys; from logotag_gui.cli import "
                                                "main; raise SystemExit(main(sys.argv[1:]))", *argv])
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", f"set -e; {setup}; {command}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LOGOTAG_LOG_DIR": str(env_dir / "logs")})


@needs_mount
def test_a_project_on_a_read_only_mount_exports_reports_and_lists(tmp_path):
    db = _project(tmp_path)
    shared, mnt = db.parent, tmp_path / "mnt"
    mnt.mkdir()
    ro = f"mount --bind {shared} {mnt} && mount -o remount,bind,ro {mnt}"
    out = tmp_path.parent / f"{tmp_path.name}-out"
    out.mkdir()
    for argv in (["export", "--db", str(mnt / db.name), "--out", str(out / "e.csv")],
                 ["report", "--db", str(mnt / db.name), "--out", str(out / "r.csv")],
                 ["videos", "--db", str(mnt / db.name)]):
        proc = _in_namespace(ro, argv, env_dir=out)
        assert proc.returncode == 0, proc.stderr
    assert (out / "e.csv").read_text().count("\n") == 4  # the header and the three boxes
    assert "Norvik" in (out / "r.csv").read_text()


@needs_mount
def test_a_run_on_a_read_only_project_says_so_and_how_to_fix_it(tmp_path, demo_clip, logos_dir):
    db = _project(tmp_path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ro = f"mount --bind {db.parent} {mnt} && mount -o remount,bind,ro {mnt}"
    proc = _in_namespace(ro, ["-q", "run", str(demo_clip[0]), "--logos", str(logos_dir), "--db", str(mnt / db.name),
                              "--embedder", "keypoints", "--verifier", "none", "--fps", "1"], env_dir=tmp_path)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr and last.startswith("logotag: ")
    assert "read-only" in last and "copy" in last.lower() and str(mnt / db.name) in last


def test_a_read_only_folder_opens_the_project_read_only(tmp_path, monkeypatch, capsys):
    """Root ignores permission bits, so a folder nobody may write is simulated where the store asks
    (os.access); the mount tests above check the real thing where mounts are allowed."""
    db = _project(tmp_path)
    real_access = os.access

    def no_writing(path, mode, *args, **kwargs):
        if mode & os.W_OK and Path(path).resolve().is_relative_to(tmp_path.resolve()):
            return False
        return real_access(path, mode, *args, **kwargs)

    out = tmp_path.parent / f"{tmp_path.name}-out.csv"
    repo = open_repository(db)
    assert repo.read_only is None
    repo.close()
    monkeypatch.setattr(os, "access", no_writing)
    repo = open_repository(db, create=False)
    assert repo.read_only and "cannot be written" in repo.read_only
    repo.close()
    assert main(["export", "--db", str(db), "--out", str(out)]) == 0
    assert out.read_text().count("\n") == 4
    assert not (tmp_path / "p.sqlite-shm").exists() and not (tmp_path / "p.sqlite-wal").exists()


def test_a_folder_where_the_database_should_be_is_named(tmp_path, capsys):
    folder = tmp_path / "p.sqlite"
    folder.mkdir()
    for argv in (["export", "--db", str(folder), "--out", str(tmp_path / "e.csv")], ["videos", "--db", str(folder)]):
        last = _refused(capsys, argv, str(folder), "folder")
        assert "unable to open" not in last


@needs_mount
def test_a_project_on_a_full_disk_names_the_cause_and_the_fix(tmp_path):
    db = _project(tmp_path)
    disk = tmp_path / "disk"
    disk.mkdir()
    fill = (f"mount -t tmpfs -o size=1m tmpfs {disk} && cp {db} {disk}/ && "
            f"(dd if=/dev/zero of={disk}/fill bs=4k 2>/dev/null || true)")
    proc = _in_namespace(fill, ["export", "--db", str(disk / db.name), "--out", str(tmp_path / "e.csv")],
                         env_dir=tmp_path)
    last = proc.stderr.strip().splitlines()[-1]
    if proc.returncode == 0:  # SQLite read it without room for its -shm file: nothing to explain
        return
    assert proc.returncode == 2 and last.startswith("logotag: "), proc.stderr
    assert "full" in last and "free" in last.lower() and str(disk / db.name) in last, last


@pytest.mark.parametrize("fps", [0, None])
def test_eval_says_when_the_truth_gives_no_frame_rate(tmp_path, capsys, fps):
    """Row 19's "truth fps 0": the truth reader (evaluate.py) reads 0 as "not given"; eval says what it assumes."""
    (tmp_path / "truth.json").write_text(json.dumps({"fps": fps, "frames": {"0": []}}))
    (tmp_path / "p.jsonl").write_text("")
    assert main(["eval", "--truth", str(tmp_path / "truth.json"), "--predictions", str(tmp_path / "p.jsonl"),
                 "--fps", "5"]) == 0
    err = capsys.readouterr().err
    assert "gives no frame rate" in err and "--fps 5" in err and '"fps"' in err
