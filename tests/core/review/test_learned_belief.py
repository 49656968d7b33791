"""Learning proposes only what it can stand behind: a belief per learned proposal, a maybe lane under its floor, a
view whose finds keep being rejected stops proposing, and each brand's learned precision counted."""

from __future__ import annotations

import pytest

from logotag_gui.core.analysis.evaluate import Box, Truth
from logotag_gui.core.base.records import BBox, Candidate, DecisionKind, FrameRef, Review, ReviewState, VerdictState
from logotag_gui.core.media.video import open_source
from logotag_gui.core.review import Project
from logotag_gui.core.review.learned_belief import (
    MIN_FIT,
    BeliefModel,
    MatchFeatures,
    ViewRecord,
    is_maybe,
    learned_precision,
    learned_verdict,
    view_records,
)
from logotag_gui.core.review.learning import Learner, LearnSettings
from logotag_gui.core.review.simulate import simulate_review
from resources import synth
from tests.seeded import clip_project, decide, fennel_shots, seeded_project

SETTINGS = LearnSettings()
SHOTS = [synth.Shot(20, (synth.Placement("Fennel", (0.10, 0.20), (0.15, 0.22), 0.30),), seed=3),
         synth.Shot(20, (synth.Placement("Fennel", (0.55, 0.55), (0.50, 0.50), 0.28),), seed=9)]


def _frame(i: int) -> FrameRef:
    return FrameRef(i, i / 10, 640, 360)


def _learned(f: int, brand: str, *, view: int = 7, track: int | None = None, belief: float | None = None,
             review: Review | None = None, inliers: int = 16, x: float = 100) -> Candidate:
    """A learned proposal of `view`, with the verdict learning gives it for `belief` (None: none given)."""
    c = Candidate(_frame(f), BBox(x, 50, 60, 40), brand, inliers / 40, "learned", reference=f"review:{view}",
                  track_id=track, review=review or Review())
    if belief is not None:
        features = MatchFeatures(inliers, view_id=view)
        c = c.with_(verdict=learned_verdict(belief, features, ViewRecord().mean(), floor=SETTINGS.floor,
                                            sure=SETTINGS.sure))
    return c


# ---- the belief ----------------------------------------------------------------------------------------------
def test_belief_rises_with_inliers_and_with_the_views_accepts():
    model = BeliefModel()
    fresh = ViewRecord().mean()
    assert model.p(MatchFeatures(8), fresh) < model.p(MatchFeatures(16), fresh) < model.p(MatchFeatures(40), fresh)
    # A box of another shape than its view's, or a chance match on one frame, is believed less than a track.
    assert model.p(MatchFeatures(16, aspect=0.5), fresh) < model.p(MatchFeatures(16), fresh)
    assert model.p(MatchFeatures(16, frames=1), fresh) < model.p(MatchFeatures(16, frames=5), fresh)
    # The view's record: accepts lift it, rejects sink it (Beta-binomial mean).
    assert ViewRecord(rejected=3).mean() < fresh < ViewRecord(accepted=3).mean()
    f = MatchFeatures(16)
    assert model.p(f, ViewRecord(rejected=3).mean()) < model.p(f, fresh) < model.p(f, ViewRecord(accepted=3).mean())


def test_a_views_record_counts_tracks_not_boxes():
    rejected, accepted = Review(ReviewState.REJECTED), Review(ReviewState.ACCEPTED)
    relabelled = Review(ReviewState.ACCEPTED, brand="other", kind=DecisionKind.RELABEL)
    cands = [_learned(f, "acme", view=1, track=10, review=rejected) for f in (0, 5, 10, 15)]  # one track: one match
    cands += [_learned(0, "acme", view=1, track=11, review=accepted), _learned(5, "acme", view=1, track=11,
                                                                                review=rejected)]  # trimmed: half
    cands += [_learned(0, "acme", view=2, review=relabelled), _learned(5, "acme", view=2)]  # pending: not counted
    records = view_records(cands)
    assert records == {1: ViewRecord(accepted=0.5, rejected=1.5), 2: ViewRecord(accepted=0.0, rejected=1.0)}


def test_the_model_keeps_its_prior_until_enough_decisions_then_fits_them():
    accepted, rejected = Review(ReviewState.ACCEPTED), Review(ReviewState.REJECTED)
    # The project's learned proposals: those with few inliers were all wrong, those with many all right.
    few = [_learned(0, "acme", track=i, belief=0.5, inliers=9, review=rejected) for i in range(MIN_FIT)]
    many = [_learned(0, "acme", track=100 + i, belief=0.5, inliers=30, review=accepted) for i in range(MIN_FIT)]
    assert BeliefModel.fit(few[:3] + many[:3]).fitted_on == 0  # too few: the prior's weights
    assert BeliefModel.fit(few).fitted_on == 0  # one kind only: nothing to tell apart
    fitted = BeliefModel.fit(few + many)
    assert fitted.fitted_on == 2 * MIN_FIT
    prior, mean = BeliefModel(), ViewRecord().mean()
    assert fitted.p(MatchFeatures(9), mean) < prior.p(MatchFeatures(9), mean)
    assert fitted.p(MatchFeatures(30), mean) > prior.p(MatchFeatures(30), mean)
    # Pending proposals and proposals without stored features teach the model nothing.
    assert BeliefModel.fit([_learned(0, "acme", track=i, review=accepted) for i in range(40)]).fitted_on == 0


def test_the_verdict_carries_the_belief_and_under_the_floor_says_maybe():
    f = MatchFeatures(12, view_id=3)
    low = learned_verdict(0.2, f, 0.6, floor=0.35, sure=0.65)
    mid = learned_verdict(0.5, f, 0.6, floor=0.35, sure=0.65)
    high = learned_verdict(0.8, f, 0.6, floor=0.35, sure=0.65)
    assert (low.state, mid.state, high.state) == (VerdictState.NO, VerdictState.UNSURE, VerdictState.YES)
    assert low.confidence == 0.2 and "learned view 3" in low.rationale
    maybe = _learned(0, "acme").with_(verdict=low)
    assert is_maybe(maybe)
    assert not is_maybe(maybe.with_(review=Review(ReviewState.ACCEPTED)))  # decided: never maybe
    assert not is_maybe(maybe.with_(method="keypoints"))  # a detector's "no" is the model's word, shown as ever
    assert not is_maybe(_learned(0, "acme").with_(verdict=mid))


# ---- the maybe lane ------------------------------------------------------------------------------------------
def test_proposals_under_the_floor_are_kept_out_of_the_exposures_to_review_until_shown(tmp_path):
    repo, vid = seeded_project(tmp_path / "p.sqlite", [(0, 100, "acme", 1), (5, 100, "acme", 1)])
    stored = repo.add_candidates(video_id=vid, candidates=[
        _learned(30, "acme", belief=0.1),  # maybe
        _learned(45, "globex", belief=0.1),  # maybe: its brand has nothing else
        _learned(50, "acme", belief=0.5)])  # shown
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="ann")
    maybe_ids = {stored[0].id, stored[1].id}
    assert {c.id for c in session.maybe()} == maybe_ids
    assert [c.id for c in session.maybe("globex")] == [stored[1].id]
    shown = {i for e in session.exposures() for i in e.ids}
    assert stored[2].id in shown and not maybe_ids & shown
    assert not maybe_ids & {i for e in session.gallery() for i in e.ids}
    assert session.exposure_at("acme", 30) is None and session.brands_on_screen() == ["acme"]
    assert session.meter().pending_exposures == 2
    assert {c.id for c in repo.candidates(video_id=vid)} >= maybe_ids  # kept in the project
    assert session.get(stored[0].id) is not None  # and in the session (the timeline, the frame view)
    # On demand: the maybe lane joins the exposures, and leaves them again.
    changes = session.show_maybe(True)
    assert changes.exposures == {"acme", "globex"}
    assert maybe_ids <= {i for e in session.exposures() for i in e.ids}
    assert session.meter().pending_exposures == 4
    session.show_maybe(False)
    assert session.exposure_at("globex", 45) is None
    # A maybe decided is no maybe: rejected, it is an exposure like any decided one.
    session.reject(session.get(stored[1].id))
    assert session.exposure_at("globex", 45) is not None and session.maybe("globex") == []


# ---- a view whose finds keep being rejected ------------------------------------------------------------------------
class _NoPixels:
    def frame(self, index):
        raise AssertionError("re-believing proposals reads no pixels")


def test_a_views_pending_finds_sink_as_its_finds_are_rejected(tmp_path):
    repo, vid = seeded_project(tmp_path / "p.sqlite", [(0, 100, "acme", 1)])
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="ann")
    learner = Learner(repo, _NoPixels(), video=session.video, sampled=session.sampled, reviewer="ann",
                      cache_root=tmp_path / "cache")
    first = repo.reserve_track_ids(vid, 10)
    # The view's finds: four wrong matches (their own tracks) and a pending one, believed at first.
    wrong = repo.add_candidates(video_id=vid, candidates=[_learned(f, "acme", track=first + k, belief=0.5, x=300)
                                                          for k, f in enumerate((10, 20, 30, 40))])
    pending = repo.add_candidates(video_id=vid, candidates=[_learned(55, "acme", track=first + 9, belief=0.5,
                                                                     inliers=9)])[0]
    session.reload()
    assert not is_maybe(session.get(pending.id))
    for c in wrong:
        decide(repo, [c.id], DecisionKind.REJECT, video_id=vid, reviewer="ann")
    session.reload()
    changed = learner.rescore(session.of_brand("acme"))
    assert [c.id for c in changed] == [pending.id]
    assert changed[0].verdict.confidence < 0.5 and is_maybe(changed[0])
    session.update(changed)
    assert session.maybe("acme") == [changed[0]]
    assert learner.rescore(session.of_brand("acme")) == []  # nothing moved since


@pytest.fixture(scope="module")
def two_shots(tmp_path_factory):
    return fennel_shots(tmp_path_factory.mktemp("shots"), "two_shots", SHOTS)


def test_a_view_rejected_n_times_stops_proposing(tmp_path, two_shots, logos_dir):
    clip, truth = two_shots
    project, video, session = clip_project(tmp_path, clip, logos_dir)
    source = open_source(clip)
    try:
        told: list[str] = []
        learner = Learner(project.repo, source, video=video, sampled=session.sampled, reviewer="ann",
                          dictionary=project.dictionary(), cache_root=tmp_path / "cache", notify=told.append)
        drawn = session.add_box(5, truth[5][0][1], "Fennel")
        learner.learn([drawn])
        view = project.repo.review_references(brand="Fennel")[0].id
        repo = project.repo

        def find() -> list[Candidate]:
            return learner.find_more("Fennel", session.of_brand("Fennel"),
                                     new_track_id=lambda: repo.reserve_track_ids(video.id))

        found = find()
        assert found and all(c.verdict.confidence is not None and not is_maybe(c) for c in found)
        # Its finds rejected, one match (track) at a time, in a corner of the first shot (out of the way).
        n = next(k for k in range(10) if ViewRecord(rejected=k).mean() < SETTINGS.view_floor)
        for k in range(n):
            bad = Candidate(FrameRef(k, k / 10, video.width, video.height), BBox(0, 0, 12, 12), "Fennel", 0.3,
                            "learned", reference=f"review:{view}", track_id=repo.reserve_track_ids(video.id))
            [stored] = repo.add_candidates(video_id=video.id, candidates=[bad])
            decide(repo, [stored.id], DecisionKind.REJECT, video_id=video.id, reviewer="ann")
            session.reload()
            if k < n - 1:
                assert find(), f"rejected {k + 1} times, of {n}: the view still proposes"
        assert find() == []
        assert len(told) == 1 and "proposes no more" in told[0] and f"{n} of its {n}" in told[0]
        assert find() == [] and len(told) == 1  # told once
    finally:
        source.close()


# ---- precision per brand ---------------------------------------------------------------------------------------
def test_learned_precision_per_brand_counts():
    accepted, rejected = Review(ReviewState.ACCEPTED), Review(ReviewState.REJECTED)
    relabelled = Review(ReviewState.ACCEPTED, brand="globex", kind=DecisionKind.RELABEL)
    cands = [_learned(0, "acme", review=accepted), _learned(5, "acme", review=accepted),
             _learned(10, "acme", review=rejected), _learned(15, "acme", review=relabelled),
             _learned(20, "acme", belief=0.1), _learned(25, "acme", belief=0.9),
             _learned(0, "globex"), Candidate(_frame(0), BBox(0, 0, 9, 9), "acme", 0.9, "keypoints", review=accepted)]
    tallies = learned_precision(cands)
    assert sorted(tallies) == ["acme", "globex"]
    acme = tallies["acme"]
    assert (acme.proposed, acme.accepted, acme.rejected, acme.maybe) == (6, 2, 2, 1)
    assert acme.precision == 0.5
    assert tallies["globex"].precision is None and tallies["globex"].proposed == 1


def test_the_oracle_reports_learned_precision_and_learned_exposures(tmp_path):
    """acme: a model track on 0-10 (right) and a learned track on 40-45 (right); globex: a learned box on 25 (wrong,
    shown) and a maybe on 50 (wrong, not shown)."""
    repo, vid = seeded_project(tmp_path / "p.sqlite", [(0, 100, "acme", 1), (5, 100, "acme", 1), (10, 100, "acme", 1)])
    track = repo.reserve_track_ids(vid)
    repo.add_candidates(video_id=vid, candidates=[
        _learned(40, "acme", track=track, belief=0.6), _learned(45, "acme", track=track, belief=0.6),
        _learned(25, "globex", belief=0.5, x=400), _learned(50, "globex", belief=0.1, x=400)])
    truth = Truth("video", {f: [Box("acme", BBox(100, 50, 60, 40))] for f in (0, 5, 10, 40, 45)}, 10.0)
    session = Project(repo, str(tmp_path / "p.sqlite")).session(vid, reviewer="oracle")
    result = simulate_review(session, truth, strategy="exposures", propagate=False)
    assert result.error == 0.0
    learned = result.as_dict()["learned"]
    assert learned["acme"] == {"proposed": 2, "accepted": 2, "rejected": 0, "maybe": 0, "precision": 1.0}
    assert learned["globex"] == {"proposed": 2, "accepted": 0, "rejected": 1, "maybe": 1, "precision": 0.0}
    assert result.learned_exposures == {"accepted": 1, "rejected": 1, "trimmed": 0}
    assert "learned proposals, accepted/decided per brand: acme 2/2 (100%) of 2; globex 0/1 (0%) of 2, 1 maybe" \
        in result.format()
