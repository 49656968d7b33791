from __future__ import annotations

import csv

from logotag_gui.cli import main
from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import DecisionKind
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.store import open_repository
from tests.seeded import decide


def test_report_csv_and_html_from_reviewed_decisions(tmp_path, demo_clip, logos_dir, capsys):
    db = tmp_path / "p.sqlite"
    repo = open_repository(db)
    result = run_pipeline(RunConfig(input=str(demo_clip[0]), logos=str(logos_dir), embedder="keypoints",
                                    verifier="none"), repo=repo)
    norvik = [c for c in repo.candidates(video_id=result.video_id) if c.brand == "Norvik"]
    for c in norvik[:4]:
        decide(repo, [c.stored_id], DecisionKind.ACCEPT, video_id=result.video_id, reviewer="ann")
    decide(repo, [norvik[4].stored_id], DecisionKind.REJECT, video_id=result.video_id, reviewer="ann")

    assert main(["report", "--db", str(db), "--out", str(tmp_path / "e.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "e.csv").open()))
    clip_rows = [r for r in rows if r["scope"] == "clip"]
    assert [r["brand"] for r in clip_rows] == ["Norvik"]
    assert float(clip_rows[0]["seconds"]) == 4 * 0.5  # four accepted frames at 2 fps
    assert [r["scope"] for r in rows] == ["clip", "project"]

    assert main(["report", "--db", str(db), "--format", "html", "--out", str(tmp_path / "e.html"),
                 "--source", "model"]) == 0
    page = (tmp_path / "e.html").read_text()
    assert "NOT reviewed" in page and "data:image/png;base64," in page
    assert main(["report", "--db", str(db), "--format", "html", "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Norvik" in page and "data:image/jpeg;base64," in page  # thumbnail of the best exposure
    assert "Norvik" in capsys.readouterr().out


def test_every_brand_of_a_busy_clip_gets_a_colour_of_its_own():
    from logotag_gui.core.analysis.report import PALETTE, brand_colours

    assert brand_colours(3) == PALETTE[:3]
    many = brand_colours(16)
    assert len(set(many)) == 16
    # no two as close as two shades of one colour (the palette repeated itself after ten brands)
    closest = min(sum((a - b) ** 2 for a, b in zip(x, y, strict=True)) ** 0.5
                  for i, x in enumerate(many) for y in many[i + 1:])
    assert closest > 40
