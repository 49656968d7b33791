"""Issue 12 from the terminal: each failure is one `logotag: ...` line and exit 2, never a traceback;
an empty report says why; a database URL is printed without its password."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from logotag_gui.cli import main
from logotag_gui.core.base import logsetup
from logotag_gui.core.base.records import BBox, DecisionKind, FrameRef
from logotag_gui.core.store import open_repository
from tests.seeded import decide, draw


def _one_line_failure(capsys, code: int, *, contains: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("logotag: ") and contains in last, err
    return last


def _pending_project(tmp_path) -> Path:
    db = tmp_path / "p.sqlite"
    repo = open_repository(db)
    video_id = repo.add_video(path=str(tmp_path / "clip.mp4"), kind="video", fps=10.0, frame_count=60,
                              duration_s=6.0, width=640, height=360)
    for i in range(3):
        c = draw(repo, video_id=video_id, frame=FrameRef(i, i / 10, 640, 360), bbox=BBox(10, 10, 80, 40),
                 brand="Norvik", reviewer="ann")
        decide(repo, [c.stored_id], DecisionKind.CLEAR, video_id=video_id, reviewer="ann")  # back to pending
    repo.close()
    return db


# ---- row 9: unreadable inputs and decompression bombs ---------------------------------------------


def test_logo_folder_with_brands_json_not_utf8(tmp_path, capsys):
    folder = tmp_path / "logos"
    folder.mkdir()
    Image.new("RGB", (60, 40), "red").save(folder / "Norvik.png")
    (folder / "brands.json").write_bytes('{"Norvik": ["Norvík"]}'.encode("cp1252"))
    _one_line_failure(capsys, main(["index", "--logos", str(folder)]), contains="not UTF-8")


def _photos(tmp_path, size) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", size, "grey").save(folder / "big.png")
    return folder


@pytest.mark.parametrize("side", [500, 400])  # 250k pixels: Pillow's error; 160k: its warning (1x-2x the limit)
def test_input_image_over_the_decompression_bomb_limit(tmp_path, logos_dir, monkeypatch, capsys, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # the demo logos are ~73k pixels
    folder = _photos(tmp_path, (side, side))
    code = main(["-q", "run", str(folder), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite"),
                 "--embedder", "keypoints", "--verifier", "none"])
    _one_line_failure(capsys, code, contains="pixels")


def test_logo_over_the_decompression_bomb_limit(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "logos"
    folder.mkdir()
    Image.new("RGB", (400, 400), "red").save(folder / "Norvik.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    _one_line_failure(capsys, main(["index", "--logos", str(folder)]), contains="Norvik.png")


def test_unreadable_input_folder(tmp_path, logos_dir, capsys, deny_listing):
    folder = _photos(tmp_path, (64, 48))
    deny_listing(folder)
    code = main(["-q", "run", str(folder), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite"),
                 "--embedder", "keypoints", "--verifier", "none"])
    last = _one_line_failure(capsys, code, contains="photos")
    assert "ermission denied" in last


def test_unreadable_logo_folder(tmp_path, capsys, deny_listing):
    folder = tmp_path / "logos"
    folder.mkdir()
    deny_listing(folder)
    _one_line_failure(capsys, main(["index", "--logos", str(folder)]), contains="permission denied")


# ---- row 12: eval --truth of another shape --------------------------------------------------------


@pytest.mark.parametrize("truth", [{"frames": 5}, [1, 2, 3], {"images": [], "annotations": [{"bbox": 1}]}, 7])
def test_eval_with_a_truth_of_another_shape(tmp_path, capsys, truth):
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    (tmp_path / "p.jsonl").write_text(json.dumps({"frame": 0, "brand": "a", "bbox": [0, 0, 1, 1]}) + "\n")
    code = main(["eval", "--truth", str(tmp_path / "truth.json"), "--predictions", str(tmp_path / "p.jsonl")])
    _one_line_failure(capsys, code, contains="Expected")


def test_eval_with_predictions_of_another_shape(tmp_path, capsys):
    (tmp_path / "truth.json").write_text(json.dumps({"fps": 10, "frames": {"0": []}}))
    (tmp_path / "p.jsonl").write_text('{"frame": 0, "brand": "a"}\n')
    code = main(["eval", "--truth", str(tmp_path / "truth.json"), "--predictions", str(tmp_path / "p.jsonl")])
    _one_line_failure(capsys, code, contains="bbox")


# ---- row 13: a report with nothing reviewed -------------------------------------------------------


def test_report_with_nothing_reviewed_says_so_and_still_writes(tmp_path, capsys):
    db = _pending_project(tmp_path)
    out = tmp_path / "e.csv"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "No detection has been reviewed yet (3 waiting)" in err and "--source model" in err
    assert out.read_text().count("\n") == 1  # the header: the report is empty, and says so on stderr


# ---- row 8 and elsewhere: outputs that cannot be written ------------------------------------------


def test_outputs_into_a_missing_folder_are_one_line(tmp_path, capsys):
    db = _pending_project(tmp_path)
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "missing" / "e.csv")])
    _one_line_failure(capsys, code, contains="Cannot write")
    code = main(["export", "--db", str(db), "--out", str(tmp_path / "missing" / "e.jsonl")])
    _one_line_failure(capsys, code, contains="Cannot write")
    code = main(["export", "--db", str(db), "--out", str(tmp_path / "e.txt")])
    _one_line_failure(capsys, code, contains="export format")


# ---- elsewhere: a database URL is never printed with its password ---------------------------------


def test_run_prints_the_database_without_its_password(tmp_path, monkeypatch, capsys):
    import logotag_gui.core.pipeline.run as pipeline
    import logotag_gui.core.store as store

    result = SimpleNamespace(run_id=1, resumed_from=None, frames_done=2, frames_total=2, candidates=0,
                             embedder="keypoints", verifier="none", video_id=1)
    monkeypatch.setattr(store, "open_repository", lambda *a, **k: None)
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *a, **k: result)
    url = "postgresql+psycopg://ann:s3cret@db.example/logos"
    assert main(["-q", "run", str(tmp_path), "--logos", str(tmp_path), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "postgresql+psycopg://ann:***@db.example/logos" in out


def test_failing_database_url_never_shows_its_password(tmp_path, capsys):
    url = "postgresql+psycopg://ann:s3cret@127.0.0.1:9/logos"  # nothing listens on port 9
    code = main(["export", "--db", url, "--out", str(tmp_path / "e.jsonl")])
    err = capsys.readouterr().err
    assert code != 0 and "s3cret" not in err and err.strip().startswith("logotag: ")
    assert len(err.strip().splitlines()) == 1  # the driver's two-line message is joined
    assert "s3cret" not in logsetup.log_path().read_text(encoding="utf-8")
