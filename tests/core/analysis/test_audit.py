"""The audit: seconds estimated from a stored random sample of frames, with a 95% interval that holds the truth.

The estimator is tested where the truth is known: a made-up clip of 1,200 sampled frames, eight brands, and
a prediction that misses three brands most of the time, drops others now and then and adds false ones.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from logotag_gui.cli import STRATEGIES, main
from logotag_gui.core.analysis import audit as ppi
from logotag_gui.core.analysis.evaluate import Box, Truth
from logotag_gui.core.base.records import BBox, VerdictState
from logotag_gui.core.review import ReviewSession
from logotag_gui.core.review.audit import Audit
from logotag_gui.core.review.simulate import STRATEGIES as SIMULATED
from logotag_gui.core.review.simulate import simulate_review
from tests.seeded import seeded_project


def _population(seed: int = 0, frames: int = 1200):
    rng = np.random.default_rng(seed)
    brands = [f"b{i}" for i in range(8)]
    truth: dict[int, set[str]] = {f: set() for f in range(frames)}
    for b in brands:
        for _ in range(6):
            start, length = int(rng.integers(0, frames - 20)), int(rng.integers(4, 20))
            for f in range(start, start + length):
                truth[f].add(b)
    views, predicted = [], {}
    for f in range(frames):
        said = {b for b in sorted(truth[f]) if not (b in brands[:3] and rng.random() < 0.8) and rng.random() > 0.15}
        if rng.random() < 0.05:
            said.add(str(rng.choice(brands)))
        lead = min(said) if said else (str(rng.choice(brands)) if rng.random() < 0.1 else None)
        p = float(rng.uniform(0.5, 1)) if said else (float(rng.uniform(0, 0.5)) if lead else None)
        views.append(ppi.FrameView(f, frozenset(said), lead, p))
        predicted[f] = frozenset(said)
    return truth, views, predicted


def test_the_95_percent_interval_holds_the_true_seconds_over_100_samples():
    truth, views, predicted = _population()
    true_total = sum(len(b) for b in truth.values()) * 0.5
    true_brand = {b: sum(b in s for s in truth.values()) * 0.5 for b in {b for s in truth.values() for b in s}}
    assert sum(len(s) for s in predicted.values()) * 0.5 < 0.8 * true_total  # the prediction alone is far off
    errors, covered, brand_covered = [], 0, 0
    for seed in range(100):
        drawn = ppi.draw(views, n=100, seed=seed)
        assert len(drawn.frames) == 100 and len({f for f, _ in drawn.frames}) == 100
        answers = {f: frozenset(truth[f]) for f, _ in drawn.frames}
        est = ppi.estimate(strata=drawn.strata, predicted=predicted, answers=answers, interval_s=0.5)
        errors.append((est.total.seconds - true_total) / true_total)
        covered += est.total.low <= true_total <= est.total.high
        brand_covered += sum(est.brands[b].low <= s <= est.brands[b].high for b, s in true_brand.items())
    assert covered >= 90 and brand_covered >= 0.9 * 100 * len(true_brand)
    assert abs(np.mean(errors)) < 0.02  # unbiased: the errors average out
    assert np.mean(np.abs(errors)) < 0.12


def test_a_census_is_exact_and_a_partial_sample_is_still_a_random_sample_of_each_stratum():
    truth, views, predicted = _population(seed=3, frames=300)
    every = ppi.draw(views, n=300, seed=1)
    census = ppi.estimate(strata=every.strata, predicted=predicted,
                          answers={f: frozenset(truth[f]) for f, _ in every.frames}, interval_s=0.5)
    assert census.total.exact and census.total.se == 0
    assert census.total.seconds == sum(len(s) for s in truth.values()) * 0.5
    drawn = ppi.draw(views, n=60, seed=2)
    first = [key for _, key in drawn.frames[: len(drawn.strata) * 2]]
    assert set(first) == set(drawn.strata)  # every stratum comes early in the answering order
    more = ppi.extend(drawn.strata, [f for f, _ in drawn.frames], more=40, seed=9)
    assert len(more) == 40 and not {f for f, _ in more} & {f for f, _ in drawn.frames}
    assert census.more_frames == 0


def _session(db):
    # acme on frames 0-25 (right) and a false acme on 40; the model misses globex on 45-55.
    repo, vid = seeded_project(db, [(f, 10, "acme", 0, VerdictState.YES) for f in range(0, 30, 5)]
                               + [(40, 300, "acme", None, VerdictState.YES)])
    truth = Truth("video", {f: [Box("acme", BBox(10, 50, 60, 40))] for f in range(0, 30, 5)}
                  | {f: [Box("globex", BBox(200, 50, 60, 40))] for f in (45, 50, 55)}, 10.0)
    return ReviewSession(repo, repo.video(vid), reviewer="ann"), truth


def test_the_sample_is_stored_answered_and_read_back_by_a_second_reviewer(db_url):
    session, truth = _session(db_url)
    audit = Audit(session)
    sample = audit.draw(frames=6, seed=4)
    assert len(sample.frames) == 6 and sum(len(v) for v in sample.strata.values()) == len(session.sampled)
    for f in audit.frames[:4]:
        audit.answer(f, {b.brand for b in truth.boxes.get(f, [])})
    other = Audit(ReviewSession(session.repo, session.video, reviewer="bob"))
    assert other.frames == audit.frames and other.answers == audit.answers
    assert other.next_unanswered() == audit.frames[4]
    estimate = other.estimate()
    assert estimate.total.answered == 4 and estimate.total.predicted_s == 3.5
    other.answer(audit.frames[4], None)  # taking an answer back leaves the frame unanswered
    assert other.next_unanswered() == audit.frames[4]
    grown = other.extend(4)
    assert len(grown.frames) == 10 and Audit(session).answers == audit.answers  # the answers carried over


def test_the_audit_command_draws_and_estimates(tmp_path, capsys):
    session, truth = _session(tmp_path / "p.sqlite")
    assert main(["audit", "--db", str(tmp_path / "p.sqlite"), "--frames", "8"]) == 0
    assert "drew 8 of 12 sampled frames" in capsys.readouterr().out
    audit = Audit(session)
    for f in audit.frames:
        audit.answer(f, {b.brand for b in truth.boxes.get(f, [])})
    assert main(["audit", "--db", str(tmp_path / "p.sqlite"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answered"] == 8 and out["population"] == 12
    total = next(b for b in out["brands"] if b["brand"] == ppi.ALL)
    assert total["low"] <= 4.5 <= total["high"]  # six acme and three globex frames: 4.5 s


def test_the_oracle_audits_and_reports_error_width_and_coverage(db_url):
    session, truth = _session(db_url)
    result = simulate_review(session, truth, strategy="audit", frames=12, seeds=3)
    assert result.audit.answered == 12 and result.audit.coverage == 1.0  # every frame answered: exact
    assert result.error == pytest.approx(0.0) and result.audit.mean_half_width == 0.0
    assert result.counts["audit_frame"] == 12 and result.counts["audit_add"] == 3  # globex, three times
    assert result.counts["audit_toggle"] == 1  # the false acme on frame 40
    assert result.as_dict()["analyst_minutes_per_hour"] > 0
    assert STRATEGIES == SIMULATED


def test_the_report_shows_the_estimate_beside_the_reviewed_seconds(tmp_path):
    import csv

    session, truth = _session(tmp_path / "p.sqlite")
    audit = Audit(session)
    audit.draw(frames=12, seed=0)
    for f in audit.frames:
        audit.answer(f, {b.brand for b in truth.boxes.get(f, [])})
    session.repo.close()
    assert main(["report", "--db", str(tmp_path / "p.sqlite"), "--format", "csv", "--out",
                 str(tmp_path / "r.csv")]) == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    globex = next(r for r in rows if r["brand"] == "globex" and r["scope"] == "clip")
    assert globex["seconds"] == "0.0" and float(globex["estimate_s"]) == 1.5  # only the audit saw it
    total = next(r for r in rows if r["brand"] == ppi.ALL)
    assert float(total["estimate_s"]) == 4.5 and total["audited_frames"] == "12" and total["sampled_frames"] == "12"
    project = next(r for r in rows if r["brand"] == "acme" and r["scope"] == "project")
    assert float(project["ci95_low"]) == float(project["ci95_high"]) == 3.0  # every frame answered: exact
    assert main(["report", "--db", str(tmp_path / "p.sqlite"), "--format", "html", "--out",
                 str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Estimate (95%)" in page and "Audit: 12 of 12 sampled frames answered" in page
