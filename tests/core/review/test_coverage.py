"""Coverage: views looked at, the one figure with its interval, what "done" means, and what a look says.

The estimator matches the reference implementation of prediction-powered inference (`ppi_py`) where both apply;
a clip never reads done while a view nobody looked at holds a brand the review does not count.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logotag_gui.core.analysis import audit as ppi
from logotag_gui.core.analysis.evaluate import Box, Truth
from logotag_gui.core.base.records import BBox, VerdictState
from logotag_gui.core.media.views import View, split_views, view_of
from logotag_gui.core.pipeline.follow import FollowedBox, FollowResult
from logotag_gui.core.review import ReviewSession
from logotag_gui.core.review.audit import Audit
from logotag_gui.core.review.figure import clip_figure
from logotag_gui.core.review.simulate import simulate_review
from tests.seeded import frame, seeded_project

ppi_py = pytest.importorskip("ppi_py")


# ---- the estimator against the reference implementation --------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 0.4, 1.0])
def test_the_ppi_mean_matches_the_reference_implementation(lam):
    rng = np.random.default_rng(5)
    yhat_all = (rng.random(400) < 0.3).astype(float)
    y_all = np.where(rng.random(400) < 0.85, yhat_all, 1 - yhat_all)
    labelled = rng.choice(400, 60, replace=False)
    unlabelled = np.setdiff1d(np.arange(400), labelled)
    y, yhat, yhat_u = y_all[labelled], yhat_all[labelled], yhat_all[unlabelled]
    mean, se = ppi.ppi_mean(y, yhat, yhat_u, lam, finite=False)
    low, high = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.05, lam=lam)
    assert mean == pytest.approx(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=lam)[0])
    assert mean - ppi.Z95 * se == pytest.approx(low[0], abs=1e-6)
    assert mean + ppi.Z95 * se == pytest.approx(high[0], abs=1e-6)


def test_power_tuning_never_leans_on_a_useless_model_and_fully_on_a_perfect_one():
    rng = np.random.default_rng(1)
    y = (rng.random(80) < 0.4).astype(float)
    noise = (rng.random(80) < 0.5).astype(float)
    assert ppi.power_tuned_lambda([(y, noise)]) < 0.3  # the prediction says nothing of the answers
    assert ppi.power_tuned_lambda([(y, y)]) == 1.0  # the prediction is the answer
    assert ppi.power_tuned_lambda([(y, 1 - y)]) == 0.0  # worse than nothing: clipped to ignoring it


def test_settled_frames_count_exactly_and_a_clip_looked_at_in_full_has_no_interval():
    predicted = {f: frozenset({"a"}) for f in range(10)}
    settled = {f: frozenset({"a", "b"}) if f < 4 else frozenset() for f in range(10)}
    est = ppi.estimate(strata={"all": list(range(10))}, predicted=predicted, answers={}, interval_s=0.5,
                       settled=settled)
    assert est.total.exact and est.total.se == 0 and est.total.seconds == 4.0 == est.total.settled_s
    assert est.brands["b"].seconds == 2.0 and est.brands["a"].seconds == 2.0


def test_a_brand_the_answers_never_touch_says_so_instead_of_borrowing_the_total():
    rng = np.random.default_rng(2)
    frames = list(range(300))
    truth = {f: frozenset({"a"} | ({"rare"} if f in (7, 8) else set())) if rng.random() < 0.6 else frozenset()
             for f in frames}
    predicted = {f: truth[f] - {"rare"} for f in frames}
    answers = {f: truth[f] for f in frames[100:130]}
    est = ppi.estimate(strata={"all": frames}, predicted=predicted, answers=answers, interval_s=0.5)
    assert est.brands["a"].se < 0.5 * est.total.se + 1e-9 or est.brands["a"].few_answers is False
    rare = est.brands.get("rare")
    assert rare is None or rare.few_answers


def test_the_intervals_hold_per_brand_and_are_no_wider_than_the_classical_one():
    from tests.core.analysis.test_audit import _population

    truth, views, predicted = _population()
    true_brand = {b: sum(b in s for s in truth.values()) * 0.5 for b in {b for s in truth.values() for b in s}}
    tuned, classical, hits = [], [], 0
    for seed in range(40):
        drawn = ppi.draw(views, n=100, seed=seed)
        answers = {f: frozenset(truth[f]) for f, _ in drawn.frames}
        est = ppi.estimate(strata=drawn.strata, predicted=predicted, answers=answers, interval_s=0.5)
        plain = ppi.estimate(strata=drawn.strata, predicted=predicted, answers=answers, interval_s=0.5, lam=0.0)
        tuned.append(est.total.half_width)
        classical.append(plain.total.half_width)
        hits += sum(est.brands[b].low <= s <= est.brands[b].high for b, s in true_brand.items())
    assert np.mean(tuned) <= 1.05 * np.mean(classical)
    assert hits >= 0.9 * 40 * len(true_brand)


# ---- views --------------------------------------------------------------------------------------------------
def _pan(frames: int, step: int, *, cut_at: int | None = None):
    rng = np.random.default_rng(0)
    wall = (rng.random((720, 8000)) * 255).astype(np.uint8)
    wall = np.asarray(__import__("cv2").GaussianBlur(wall, (0, 0), 3))
    other = (rng.random((720, 1280)) * 255).astype(np.uint8)
    for i in range(frames):
        x = i * step
        picture = other if cut_at is not None and i >= cut_at else wall[:, x:x + 1280]
        yield i, np.ascontiguousarray(picture)


def test_a_view_ends_where_the_camera_has_moved_a_set_share_of_the_frame_or_the_shot_cuts():
    still = split_views(_pan(10, 0), cuts=[])
    assert len(still) == 1 and (still[0].first, still[0].last) == (0, 9)
    panning = split_views(_pan(24, 64), cuts=[], share=0.25)  # 64 px of 1280 a frame: a quarter after 5 frames
    assert 4 <= len(panning) <= 6 and all(v.last - v.first <= 5 for v in panning)
    wider = split_views(_pan(24, 64), cuts=[])  # the default: half the frame
    assert 2 <= len(wider) <= 3 and all(v.last - v.first <= 10 for v in wider)
    cut = split_views(_pan(10, 0, cut_at=6), cuts=[6])
    assert [(v.first, v.last) for v in cut] == [(0, 5), (6, 9)]
    assert view_of(cut, 7) == cut[1] and view_of(cut, 12) is None


# ---- the review session: looks, done, absent brands -----------------------------------------------------------
def _session(db):
    # acme on frames 0-25 (right) and a false acme on 40; the model misses globex on 45-55.
    repo, vid = seeded_project(db, [(f, 10, "acme", 0, VerdictState.YES) for f in range(0, 30, 5)]
                               + [(40, 300, "acme", None, VerdictState.YES)])
    truth = Truth("video", {f: [Box("acme", BBox(10, 50, 60, 40))] for f in range(0, 30, 5)}
                  | {f: [Box("globex", BBox(200, 50, 60, 40))] for f in (45, 50, 55)}, 10.0)
    session = ReviewSession(repo, repo.video(vid), reviewer="ann")
    session.set_views([View(0, 25, 10), View(30, 40, 35), View(45, 55, 50)])
    return session, truth


def test_a_clip_never_reads_done_while_a_view_nobody_looked_at_holds_a_miss(db_url):
    session, _truth = _session(db_url)
    for e in list(session.exposures()):
        (session.accept_exposure if e.first < 30 else session.reject_exposure)(e, advance=False)
    figure = clip_figure(session)
    assert figure.pending_exposures == 0 and not figure.done  # "0 to review", but three views unlooked
    assert "3 views to look at" in figure.format()
    for view in session.views[:2]:
        session.complete_view(view)
    assert not clip_figure(session).done  # globex's view is still unlooked
    for f in (45, 50, 55):  # what the look at globex's view showed, marked
        session.mark_present(f, "globex")
    session.complete_view(session.views[2])
    figure = clip_figure(session)
    assert figure.done and figure.coverage.looked_share == 1.0
    # exact, and the same seconds as the accepted exposures (globex 1.5 s)
    assert figure.total.exact and figure.total.seconds == pytest.approx(sum(e.seconds for e in session.exposures()))
    assert figure.estimate.brands["globex"].seconds == pytest.approx(1.5)
    session.undo()  # the look taken back: not done again
    assert not clip_figure(session).done


def test_a_look_is_one_step_undone_with_ctrl_z_and_stored_at_once(db_url):
    session, _ = _session(db_url)
    view = session.views[0]
    session.complete_view(view)
    again = ReviewSession(session.repo, session.video, reviewer="bob")
    assert again.view_looked(view) and again.looked(10) and again.views == session.views
    assert session.undo_text == "View 0-25 complete"
    session.undo()
    assert not session.view_looked(view) and not ReviewSession(session.repo, session.video, reviewer="x").looked(10)
    session.redo()
    assert session.view_looked(view)


def test_a_rejected_box_is_not_an_absent_brand_but_a_looked_at_view_is(db_url):
    session, _ = _session(db_url)
    wrong = session.at_frame(40)[0]
    session.reject(wrong, advance=False)
    seed = session.at_frame(0)[0]
    # The true acme, followed into frame 40 beside where the wrong box was: it is proposed there.
    found = FollowResult(boxes=[FollowedBox(frame(40), BBox(330, 60, 60, 40), 0.9, False)])
    assert [c.frame.index for c in session.add_followed(seed, found)] == [40]
    # The same box the reviewer rejected is not proposed again.
    same = FollowResult(boxes=[FollowedBox(frame(40), wrong.final_bbox, 0.9, False)])
    assert session.add_followed(seed, same) == []
    # Where a reviewer looked and marked no acme, following adds nothing.
    session.complete_view(session.views[2])
    assert session.absent("acme", 50) and not session.absent("acme", 40)
    there = FollowResult(boxes=[FollowedBox(frame(50), BBox(10, 50, 60, 40), 0.9, False)])
    assert session.add_followed(seed, there) == []
    # An audit answer without acme says the same of its frame.
    audit = Audit(session)
    audit.draw(frames=12, seed=0)
    audit.answer(35, {"globex"})
    assert session.absent("acme", 35) and not session.absent("globex", 35)
    here = FollowResult(boxes=[FollowedBox(frame(35), BBox(10, 50, 60, 40), 0.9, False)])
    assert session.add_followed(seed, here) == []


def test_an_audit_draws_only_frames_nobody_settled_and_its_figure_counts_them_exactly(db_url):
    session, truth = _session(db_url)
    for e in list(session.exposures()):
        (session.accept_exposure if e.first < 30 else session.reject_exposure)(e, advance=False)
    session.complete_view(session.views[0])
    audit = Audit(session)
    sample = audit.draw(frames=4, seed=0)
    assert sample.population == 6 and not {f.frame_index for f in sample.frames} & set(range(0, 30, 5))
    for f in audit.frames:
        audit.answer(f, {b.brand for b in truth.boxes.get(f, [])})
    est = audit.estimate()
    assert est.total.settled_s == pytest.approx(3.0) and est.settled_frames == 6


def test_the_oracle_pays_for_every_look_and_finds_misses_only_where_it_looked(db_url):
    session, truth = _session(db_url)
    result = simulate_review(session, truth, strategy="exposures", propagate=False)
    assert result.counts["look"] == 3 and result.views == 3 and result.looked_share == 1.0
    # globex (45-55), found nowhere, is found on the sharpest frame of its view and drawn there
    assert result.boxes_drawn == 1 and result.error == pytest.approx(0.0) and result.done
    assert result.as_dict()["looks"] == 3


# ---- after any sequence of review steps ------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["accept", "reject", "look", "undo", "mark"]), st.integers(0, 11)),
                      max_size=14))
def test_no_sequence_of_steps_reads_done_while_an_unlooked_view_holds_a_brand(tmp_path_factory, steps):
    session, truth = _session(tmp_path_factory.mktemp("p") / "p.sqlite")
    for what, i in steps:
        f = session.sampled[i]
        e = next(iter(session.exposures()), None)
        if what == "accept" and e is not None and e.pending and e.live is not None:
            session.accept_exposure(e, advance=False)
        elif what == "reject" and e is not None and e.pending:
            session.reject_exposure(e, advance=False)
        elif what == "look" and session.view_at(f) is not None:
            session.complete_view(session.view_at(f))
        elif what == "undo":
            session.undo()
        elif what == "mark" and "globex" not in {c.final_brand for c in session.at_frame(f)}:
            session.mark_present(f, "globex")
        figure = clip_figure(session)
        if figure.done:
            assert not session.unlooked_views() and figure.pending_exposures == 0
            assert figure.total.exact and figure.total.se == 0
        on_screen = {f for f, boxes in truth.boxes.items() if boxes}
        if any(not session.view_looked(v) and any(v.contains(f) for f in on_screen) for v in session.views):
            assert not figure.done


def test_the_meter_videos_and_the_report_give_the_same_seconds(db_url, capsys):
    from logotag_gui.cli import main
    from logotag_gui.core.analysis.exposure import ExposureRules
    from logotag_gui.core.review.project import Project

    session, _ = _session(db_url)
    for e in list(session.exposures()):
        session.accept_exposure(e, advance=False)
    for f in (45, 50, 55):
        session.mark_present(f, "globex")
    for v in session.views:
        session.complete_view(v)
    figure = clip_figure(session)
    assert figure.done and figure.total.exact
    project = Project(session.repo, db_url)
    report = project.report(rules=ExposureRules())
    assert report.estimate(ppi.ALL)[0] == pytest.approx(figure.total.seconds)
    assert report.estimate("globex")[0] == pytest.approx(figure.estimate.brands["globex"].seconds)
    if "://" not in db_url:
        assert main(["videos", "--db", db_url]) == 0
        assert f"{figure.total.seconds:.1f} s exact" in capsys.readouterr().out


def test_a_grown_audit_sample_never_adds_a_frame_nobody_needs_to_answer(db_url):
    session, _ = _session(db_url)
    audit = Audit(session)
    drawn = {f.frame_index for f in audit.draw(frames=2, seed=0).frames}
    for e in list(session.exposures()):
        session.reject_exposure(e, advance=False)
    session.complete_view(session.views[2])  # 45-55 looked at, nothing there: settled since the sample was drawn
    added = {f.frame_index for f in audit.extend(8).frames} - drawn
    assert len(added) >= 4 and not added & {45, 50, 55}


def test_the_small_sample_quantile_matches_students_t():
    stats = pytest.importorskip("scipy.stats")
    for dof in (3, 5, 10, 29, 60, 400):
        assert ppi.t975(dof) == pytest.approx(stats.t.ppf(0.975, dof), rel=0.01)
    assert ppi.t975(0) == ppi.Z95


def test_a_learned_maybe_on_a_looked_at_frame_does_not_keep_the_clip_open(db_url):
    """A "maybe" (a learned proposal under the belief's floor, out of the exposures to review) on a frame whose
    view was looked at: the look said every brand on screen there is marked, so the frame is settled; shown among
    the exposures (the maybe lane asked for), it is one more thing to decide."""
    from logotag_gui.core.base.records import Candidate, Verdict
    from logotag_gui.core.review.learned_belief import BELIEF_METHOD, LEARNED, is_maybe

    repo, vid = seeded_project(db_url, [(f, 10, "acme", 0, VerdictState.YES) for f in range(0, 30, 5)])
    run = repo.start_run(video_id=vid, config={"fps": 2}, embedder=("keypoints", "", ""), verifier=("none", "", ""),
                         frames_total=12)
    maybe = Candidate(frame(10), BBox(300, 50, 60, 40), "globex", 0.4, LEARNED,
                      verdict=Verdict(VerdictState.NO, 0.2, method=BELIEF_METHOD))
    repo.add_batch(run_id=run, video_id=vid, candidates=[maybe], last_frame_index=55, frames_done=12)
    session = ReviewSession(repo, repo.video(vid), reviewer="ann")
    assert is_maybe(next(c for c in session.candidates if c.final_brand == "globex"))
    session.set_views([View(0, 55, 10)])
    for e in list(session.exposures()):
        session.accept_exposure(e, advance=False)
    session.complete_view(session.views[0])
    figure = clip_figure(session)
    assert 10 in session.settled() and figure.done
    session.show_maybe(True)
    assert 10 not in session.settled() and not clip_figure(session).done
