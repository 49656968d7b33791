from __future__ import annotations

import json

import pytest

from logotag_gui.cli import main
from logotag_gui.core.analysis.calibration import calibrate
from logotag_gui.core.analysis.evaluate import Box, evaluate, load_truth, predictions_from_records
from logotag_gui.core.base.records import (
    BBox,
    Candidate,
    FrameRef,
    Review,
    ReviewState,
    Verdict,
    VerdictState,
)
from resources.synth import write_truth


def _coco(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
                       {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100}],
            "categories": [{"id": 1, "name": "Coca-Cola"}, {"id": 2, "name": "Nike"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]},
                            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [50, 50, 10, 10]},
                            {"id": 3, "image_id": 2, "category_id": 2, "bbox": [0, 0, 40, 40]}]}
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(coco))
    return load_truth(path)


def test_strict_relaxed_precision_and_false_positives(tmp_path):
    truth = _coco(tmp_path)
    preds = {
        "a.jpg": [Box("cocacola", BBox(10, 10, 20, 20), 0.9),  # strict hit; brand names normalised
                  Box("Nike", BBox(40, 40, 40, 40), 0.8),  # holds the centre, IoU 0.06 < 0.1: a miss
                  Box("Nike", BBox(10, 10, 20, 20), 0.3)],  # wrong place: false positive
        "b.jpg": [Box("Nike", BBox(0, 0, 80, 80), 0.7),  # IoU 0.25: relaxed hit only
                  Box("Nike", BBox(1, 1, 40, 40), 0.6)],  # strict hit (the truth box is matched once)
    }
    result = evaluate(truth, preds)
    total = result.total()
    assert total.truth == 3 and total.predicted == 5
    assert total.hits == 2 and total.relaxed_hits == 2
    assert result.brands["nike"].hits == 1 and result.brands["nike"].relaxed_hits == 1
    assert total.true_positives == 2
    assert result.false_positives_per_frame == pytest.approx(3 / 2)


def test_video_truth_and_exposure_seconds(tmp_path):
    path = tmp_path / "clip_truth.json"
    write_truth(path, {0: [("A", BBox(0, 0, 10, 10))], 5: [("A", BBox(0, 0, 10, 10))], 10: []}, fps=10)
    truth = load_truth(path)
    assert truth.kind == "video" and truth.fps == 10
    result = evaluate(truth, {0: [Box("A", BBox(0, 0, 10, 10))], 10: [Box("A", BBox(0, 0, 10, 10))]},
                      frames=[0, 5, 10], interval_s=0.5)
    a = result.brands["a"]
    assert a.truth_seconds == 1.0 and a.predicted_seconds == 1.0 and a.hits == 1 and a.precision == 0.5


def test_predictions_from_export_leave_out_rejected():
    preds = predictions_from_records([
        {"frame": "a.jpg", "brand": "A", "bbox": [0, 0, 1, 1], "score_retr": 0.5, "decision": "accepted"},
        {"frame": "a.jpg", "brand": "B", "bbox": [0, 0, 1, 1], "score_retr": 0.5, "decision": "rejected"}])
    assert [b.brand for b in preds["a.jpg"]] == ["A"]


def _reviewed(score, state, brand="a", verdict=VerdictState.NOT_RUN, relabel=None):
    return Candidate(FrameRef(0, 0, 10, 10), BBox(0, 0, 1, 1), brand, score, "keypoints", verdict=Verdict(verdict),
                     review=Review(state, brand=relabel))


def test_calibration_suggests_the_lowest_threshold_reaching_the_target():
    cands = [_reviewed(0.9, ReviewState.ACCEPTED, verdict=VerdictState.YES),
             _reviewed(0.8, ReviewState.ACCEPTED, verdict=VerdictState.NO),
             _reviewed(0.7, ReviewState.REJECTED, verdict=VerdictState.YES),
             _reviewed(0.6, ReviewState.ACCEPTED, verdict=VerdictState.YES),
             _reviewed(0.5, ReviewState.ACCEPTED, relabel="b"),  # relabelled: a negative for "a"
             _reviewed(0.4, ReviewState.PENDING)]
    (row,) = calibrate(cands, target_precision=0.9)
    assert (row.positives, row.negatives) == (3, 2)
    assert row.suggested_threshold == 0.8 and row.precision_at_threshold == 1.0
    assert row.recall_at_threshold == pytest.approx(2 / 3)
    assert row.verdict_precision == pytest.approx(2 / 3) and row.verdict_recall == pytest.approx(2 / 3)


def test_eval_cli_on_the_demo_clip_and_from_reviews(tmp_path, demo_clip, logos_dir, capsys):
    clip, truth = demo_clip
    write_truth(tmp_path / "truth.json", truth, fps=10)
    assert main(["eval", "--truth", str(tmp_path / "truth.json"), "--input", str(clip), "--logos", str(logos_dir),
                 "--embedder", "keypoints", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "video" and out["frames"] == 12 and out["total"]["recall"] >= 0.6
    assert main(["eval", "--from-reviews", "--db", str(tmp_path / "missing.sqlite")]) == 2
