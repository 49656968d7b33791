from __future__ import annotations

import csv
import json

from PIL import Image

from logotag_gui.core.analysis.export import FIELDS, export, read_jsonl
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import BBox, DecisionKind
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from resources.synth import DEMO_BRANDS, DEMO_PLACEMENTS, background, make_logo, render_frame
from tests.seeded import decide

SEED_KEYS = {"frame", "bbox", "score_retr", "brand", "verdict", "confidence_vlm", "rationale"}


def _reviewed_project(tmp_path, demo_clip, logos_dir):
    repo = open_repository(tmp_path / "p.sqlite")
    result = run_pipeline(RunConfig(input=str(demo_clip[0]), logos=str(logos_dir), embedder="keypoints",
                                    verifier="none"), repo=repo)
    cands = repo.candidates(video_id=result.video_id)
    vid = result.video_id
    decide(repo, [cands[0].stored_id], DecisionKind.ACCEPT, video_id=vid, reviewer="ann")
    decide(repo, [cands[1].stored_id], DecisionKind.RELABEL, video_id=vid, reviewer="ann", brand="Aquila")
    decide(repo, [cands[2].stored_id], DecisionKind.BOX_EDIT, video_id=vid, reviewer="ann", bbox=BBox(1, 2, 30, 40))
    decide(repo, [cands[3].stored_id], DecisionKind.REJECT, video_id=vid, reviewer="bob")
    return repo, cands


def test_jsonl_and_csv_round_trip(tmp_path, demo_clip, logos_dir):
    repo, cands = _reviewed_project(tmp_path, demo_clip, logos_dir)
    n = export(repo, tmp_path / "all.jsonl")
    rows = list(read_jsonl(tmp_path / "all.jsonl"))
    assert n == len(rows) == len(cands)
    assert set(rows[0]) >= SEED_KEYS and set(rows[0]) == set(FIELDS)
    by_id = {r["candidate_id"]: r for r in rows}
    assert by_id[cands[0].id]["decision"] == "accepted" and by_id[cands[0].id]["reviewer"] == "ann"
    assert by_id[cands[1].id]["brand"] == "Aquila" and by_id[cands[1].id]["brand_model"] == cands[1].brand
    assert by_id[cands[2].id]["bbox"] == [1, 2, 30, 40]
    assert by_id[cands[3].id]["decision"] == "rejected"
    assert by_id[cands[4].id]["decision"] == "pending" and by_id[cands[4].id]["decided_at"] is None
    assert rows[0]["frame"] == rows[0]["frame_index"] and rows[0]["video"].endswith("demo.mp4")

    assert export(repo, tmp_path / "reviewed.csv", reviewed_only=True) == 4
    with (tmp_path / "reviewed.csv").open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["candidate_id"] for r in table] == [str(c.id) for c in cands[:4]]
    assert json.loads(table[2]["bbox"]) == [1, 2, 30, 40]
    assert not (tmp_path / "reviewed.csv.part").exists()
    # what counts: accepted (relabelled and edited boxes included), the rejected one left out
    assert export(repo, tmp_path / "accepted.jsonl", accepted_only=True) == 3
    assert [r["candidate_id"] for r in read_jsonl(tmp_path / "accepted.jsonl")] == [c.id for c in cands[:3]]


def test_image_folder_records_use_the_file_name(tmp_path, logos_dir):
    marks = {n: make_logo(n, *spec) for n, spec in DEMO_BRANDS.items()}
    folder = tmp_path / "photos"
    folder.mkdir()
    bg = background(640, 360, 1)
    for i in range(2):
        image, _ = render_frame(bg, marks, DEMO_PLACEMENTS[:1], i, 2)
        Image.fromarray(image).save(folder / f"shot_{i}.jpg", quality=92)
    repo = open_repository(tmp_path / "p.sqlite")
    run_pipeline(RunConfig(input=str(folder), logos=str(logos_dir), embedder="keypoints", verifier="none"), repo=repo)
    export(repo, tmp_path / "out.jsonl")
    frames = [r["frame"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert frames and set(frames) <= {"shot_0.jpg", "shot_1.jpg"}
