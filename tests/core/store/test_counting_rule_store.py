"""The project's counting rule in the store: schema v6, its migration from v5, and a stored value checked on read."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import inspect, text

from logotag_gui.core.base.counting import DEFAULT, CountingRule, RuleError, custom, preset
from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef
from logotag_gui.core.store import open_repository, schema
from tests.seeded import decide


def _seed(repo):
    vid = repo.add_video(path="/clips/a.mp4", kind="video", fps=25, frame_count=100, duration_s=4, width=640,
                         height=360)
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=3)
    cands = [Candidate(FrameRef(i * 12, i * 0.48, 640, 360), BBox(10 + i, 20, 50, 30), "acme", 0.8, "keypoints")
             for i in range(3)]
    stored = repo.add_batch(run_id=run, video_id=vid, candidates=cands, last_frame_index=24, frames_done=3)
    decide(repo, [stored[0].stored_id], DecisionKind.ACCEPT, video_id=vid, reviewer="ann")
    return vid, stored


def test_the_rule_is_stored_per_project_and_any_until_set(tmp_path):
    path = tmp_path / "p.sqlite"
    repo = open_repository(path)
    assert repo.counting_rule() == DEFAULT
    repo.set_counting_rule(preset("mrc"), by="ann")
    repo.set_counting_rule(custom("strict", min_exposure_s=5.0), by="ann")  # set again: one row, the latest
    repo.close()
    again = open_repository(path)
    assert again.counting_rule() == custom("strict", min_exposure_s=5.0)
    assert again.counting_rule().name == "custom"
    again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select count(*), max(set_by) from counting_rule").fetchone() == (1, "ann")


def test_a_version_5_project_is_migrated_to_6_and_keeps_its_data(tmp_path):
    path = tmp_path / "p.sqlite"
    repo = open_repository(path)
    vid, stored = _seed(repo)
    with repo.engine.begin() as conn:  # back to what LogoTag wrote at schema v5
        conn.execute(text("DROP TABLE counting_rule"))
        conn.execute(text("UPDATE logotag_meta SET value = '5' WHERE key = 'schema_version'"))
    repo.close()
    again = open_repository(path)
    back = again.candidates(video_id=vid)
    assert [c.id for c in back] == [c.id for c in stored]
    assert back[0].review.state.value == "accepted" and again.count_decisions() == 1
    assert again.counting_rule() == DEFAULT  # no rule stored: counted as before
    again.set_counting_rule(preset("mrc"))
    assert again.counting_rule() == preset("mrc")
    assert "counting_rule" in inspect(again.engine).get_table_names()
    again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("select value from logotag_meta where key='schema_version'").fetchone() == ("6",)
    assert schema.SCHEMA_VERSION == 6


def test_a_newer_database_keeps_its_clear_error(tmp_path):
    path = tmp_path / "p.sqlite"
    open_repository(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("update logotag_meta set value='7' where key='schema_version'")
    with pytest.raises(StoreError, match=r"newer LogoTag \(schema v7; this version reads up to v6\)"):
        open_repository(path)


def test_a_stored_rule_out_of_range_is_refused_naming_the_field(tmp_path):
    path = tmp_path / "p.sqlite"
    repo = open_repository(path)
    repo.set_counting_rule(CountingRule("client", min_visible=0.5))
    with repo.engine.begin() as conn:  # edited by hand
        conn.execute(text("UPDATE counting_rule SET min_visible = 3"))
    with pytest.raises(RuleError, match=r"Counting rule 'client': min_visible .* is 3.0, outside 0-1"):
        repo.counting_rule()
    repo.close()
