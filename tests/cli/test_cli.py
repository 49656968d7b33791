from __future__ import annotations

import json

from logotag_gui.cli import main


def test_run_then_export(tmp_path, demo_clip, logos_dir, capsys):
    db = tmp_path / "p.sqlite"
    out = tmp_path / "d.jsonl"
    assert main(["-q", "run", str(demo_clip[0]), "--logos", str(logos_dir), "--db", str(db), "--embedder",
                 "keypoints", "--verifier", "none", "--fps", "1", "--out", str(out)]) == 0
    assert "frames" in capsys.readouterr().out
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and {"frame", "bbox", "brand", "verdict"} <= set(records[0])
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "r.csv"), "--reviewed-only"]) == 0
    assert (tmp_path / "r.csv").read_text().count("\n") == 1  # header only: nothing reviewed yet
    assert main(["videos", "--db", str(db)]) == 0
    assert "demo.mp4" in capsys.readouterr().out


def test_failures_exit_non_zero_with_one_line(tmp_path, logos_dir, capsys):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"junk" * 100)
    assert main(["run", str(bad), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("logotag: Cannot open video") and "x.mp4" in err[-1]
    assert main(["export", "--db", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_model_message_names_model_and_offline_backends(tmp_path, demo_clip, logos_dir, capsys):
    code = main(["run", str(demo_clip[0]), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite"),
                 "--embedder", "siglip2", "--verifier", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "google/siglip2-base-patch16-naflex" in err and "--embedder keypoints" in err


def test_quiet_and_verbose_work_after_the_command_too(tmp_path, capsys):
    from logotag_gui.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["videos", "--db", "x.sqlite", "-q"]).quiet is True
    assert parser.parse_args(["-q", "videos", "--db", "x.sqlite"]).quiet is True
    assert parser.parse_args(["videos", "--db", "x.sqlite"]).quiet is False
    assert parser.parse_args(["run", "clip.mp4", "--logos", "l", "-v"]).verbose is True


def test_a_run_without_db_makes_its_project_beside_the_clip(tmp_path, demo_clip, logos_dir, capsys):
    import shutil

    clip = tmp_path / "match.mp4"
    shutil.copy(demo_clip[0], clip)
    assert main(["-q", "run", str(clip), "--logos", str(logos_dir), "--embedder", "keypoints", "--verifier", "none",
                 "--fps", "1", "--no-propagate"]) == 0
    assert (tmp_path / "match.logotag.sqlite").exists()  # as `logotag-gui --video match.mp4` names it
    assert f"stored in {tmp_path / 'match.logotag.sqlite'}" in capsys.readouterr().out


def test_a_run_says_each_step_once_and_never_an_empty_line(tmp_path, demo_clip, logos_dir, capsys):
    assert main(["run", str(demo_clip[0]), "--logos", str(logos_dir), "--db", str(tmp_path / "p.sqlite"),
                 "--embedder", "keypoints", "--verifier", "none"]) == 0
    lines = [line.strip() for line in capsys.readouterr().err.splitlines() if line.strip() and "frame" not in line]
    assert lines[0].startswith("reading the logos"), lines
    assert not [line for line in lines if line.endswith(":")], lines  # a step without its words
    assert len(lines) == len(set(lines)), lines  # each once
