"""`logotag rule` shows and sets the project's counting rule; `report --rule` counts under a preset; simulate-review
sets the project's rule from the truth's unless --keep-rule (issue 30)."""

from __future__ import annotations

import json

from logotag_gui.cli import RULE_PRESETS, main
from logotag_gui.core.base.counting import PRESETS, CountingRule, preset
from logotag_gui.core.base.records import DecisionKind
from tests.seeded import decide, leaving_project


def _project(tmp_path):
    """acme wholly in view on frames 0-10, then a box 25% in view on frame 15 (tests/seeded.py)."""
    db = tmp_path / "p.sqlite"
    repo, _vid = leaving_project(db)
    return db, repo


def test_the_cli_names_every_preset():
    assert tuple(PRESETS) == RULE_PRESETS


def test_rule_shows_the_projects_rule_and_sets_it(tmp_path, capsys):
    db, repo = _project(tmp_path)
    assert main(["rule", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == preset("any").describe()
    assert main(["rule", "--db", str(db), "--preset", "strict"]) == 0
    assert capsys.readouterr().out.strip() == preset("strict").describe()
    assert repo.counting_rule() == preset("strict")
    # Custom values start from the stored rule; the name says it differs from its preset.
    assert main(["rule", "--db", str(db), "--min-visible", "0.6", "--join-gap", "0", "--each-copy"]) == 0
    stored = repo.counting_rule()
    assert stored == CountingRule("custom", min_visible=0.6, min_sharpness=0.3, min_size=0.001, min_exposure_s=1.0,
                                  join_gap_s=0.0, one_per_frame=False)
    assert capsys.readouterr().out.strip() == stored.describe()
    assert main(["rule", "--db", str(db), "--preset", "mrc", "--min-exposure", "5", "--name", "client A"]) == 0
    assert repo.counting_rule() == CountingRule("client A", min_visible=0.5, min_exposure_s=5.0, join_gap_s=0.0)


def test_a_bad_rule_value_is_one_line_and_exit_2(tmp_path, capsys):
    db, repo = _project(tmp_path)
    assert main(["rule", "--db", str(db), "--min-visible", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "min_visible" in err[0] and "0-1" in err[0]
    assert repo.counting_rule() == preset("any")  # nothing stored


def test_report_counts_under_the_projects_rule_or_the_preset_given(tmp_path, capsys):
    db, repo = _project(tmp_path)
    decide(repo, [c.stored_id for c in repo.candidates()], DecisionKind.ACCEPT, video_id=repo.videos()[0].id,
           reviewer="me")
    out = tmp_path / "r.csv"
    assert main(["rule", "--db", str(db), "--min-visible", "0.6"]) == 0
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "acme" in text and "1.5 s  seen      2.0 s" in text and "Counting rule 'custom'" in text
    assert main(["report", "--db", str(db), "--out", str(out), "--rule", "any"]) == 0
    text = capsys.readouterr().out
    assert "2.0 s  seen      2.0 s" in text and "Counting rule 'any'" in text
    assert repo.counting_rule().name == "custom"  # the project's rule is left as it was


def test_simulate_review_sets_the_truths_rule_unless_told_to_keep_the_projects(tmp_path, capsys):
    db, _ = _project(tmp_path)
    gt = tmp_path / "gt.json"
    boxes = {str(f): [["acme", 100, 50, 80, 40]] for f in (0, 5, 10)}
    gt.write_text(json.dumps({"fps": 10, "boxes": boxes, "rule": {"min_visible": 0.6}}))
    common = ["simulate-review", "--db", str(db), "--truth", str(gt), "--json", "--no-propagate", "--no-learn"]
    assert main(common) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rule"]["name"] == "truth" and result["rule"]["min_visible"] == 0.6
    assert result["brands"][0]["model_s"] == 1.5  # frame 15's box is 25% in view: not counted
    assert main([*common, "--keep-rule"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rule"]["name"] == "any" and result["brands"][0]["model_s"] == 2.0
