"""simulate-review sets the project's counting rule from the truth's, as an analyst sets a client's, and counts the
reviewed and model seconds under it."""

from __future__ import annotations

import json

from logotag_gui.core.analysis.evaluate import Box, Truth
from logotag_gui.core.base.counting import CountingRule, read_truth_rule
from logotag_gui.core.base.records import BBox
from logotag_gui.core.review import Project
from logotag_gui.core.review.figure import clip_figure
from logotag_gui.core.review.simulate import simulate_review
from tests.seeded import leaving_project


def test_the_oracle_sets_the_truths_rule_and_counts_under_it(tmp_path):
    db = tmp_path / "p.sqlite"
    repo, vid = leaving_project(db)
    boxes = {f: [Box("acme", BBox(100, 50, 80, 40))] for f in (0, 5, 10)} | {15: [Box("acme", BBox(-60, 50, 80, 40))]}
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"fps": 10, "boxes": {}}))  # made before the makers stated their rule
    rule = read_truth_rule(gt)
    assert rule == CountingRule("truth", min_visible=0.6)

    session = Project(repo, str(db)).session(vid, reviewer="oracle")
    assert clip_figure(session).rule_s is None  # the "any" rule: nothing more to count than before
    result = simulate_review(session, Truth("video", boxes, 10.0), propagate=False, rule=rule)
    assert repo.counting_rule() == rule and result.rule == rule
    assert result.model_s == {"acme": 1.5} and result.reviewed_s == {"acme": 1.5}  # frame 15's box is 25% in view
    assert result.as_dict()["rule"]["min_visible"] == 0.6 and "Counting rule 'truth'" in result.format()
    figure = clip_figure(session)
    assert figure.rule == rule and figure.rule_s == {"acme": 1.5} and figure.accepted_s == 2.0
    assert "1.5 s under rule 'truth'" in figure.format()


def _leaving_project(tmp_path, name):
    db = tmp_path / f"{name}.sqlite"
    repo, vid = leaving_project(db, method="tracked")
    return Project(repo, str(db)).session(vid, reviewer="oracle")


def test_a_stretch_the_rule_does_not_count_needs_no_trim():
    """The truth (made under "60% in view") leaves out frame 15, where the mark is leaving the frame: under the
    truth's rule the oracle confirms the exposure whole (frame 15 seen, not counted); under "any" it trims it."""
    import tempfile
    from pathlib import Path

    truth = Truth("video", {f: [Box("acme", BBox(100, 50, 80, 40))] for f in (0, 5, 10)}, 10.0)
    with tempfile.TemporaryDirectory() as folder:
        ruled = simulate_review(_leaving_project(Path(folder), "ruled"), truth, propagate=False, strategy="exposures",
                                rule=CountingRule("truth", min_visible=0.6))
        plain = simulate_review(_leaving_project(Path(folder), "plain"), truth, propagate=False, strategy="exposures")
    assert ruled.counts.get("trim", 0) == 0 and ruled.counts.get("accept_exposure") == 1
    assert ruled.reviewed_s == {"acme": 1.5}  # exact: frame 15 is seen, not counted
    assert plain.counts.get("trim") == 1 and plain.reviewed_s == {"acme": 1.5}
