"""Issue 28, the review layer: nothing selected is a typed error (not any LookupError), and a view that fails
on a change neither stops the other views nor makes a committed step look unsaved."""

from __future__ import annotations

import logging

import pytest

from logotag_gui.core.base.errors import LogoTagError, NothingSelected
from logotag_gui.core.base.records import ReviewState
from logotag_gui.core.review import ReviewSession
from tests.seeded import seeded_project


def _session(db) -> ReviewSession:
    repo, vid = seeded_project(db, [(0, 10, "acme", None), (5, 10, "acme", None)])
    return ReviewSession(repo, repo.video(vid), reviewer="ann")


def test_a_step_on_nothing_selected_says_so_with_a_type_of_its_own(db_url):
    s = _session(db_url)
    s.select(None)
    with pytest.raises(NothingSelected) as box:
        s.accept()
    assert box.value.what == "box" and isinstance(box.value, LookupError) and "select" in str(box.value).lower()
    s.select_exposure(None)
    with pytest.raises(NothingSelected) as exposure:
        s.accept_exposure()
    assert exposure.value.what == "exposure"
    from logotag_gui.core.review.exposures import Exposure

    with pytest.raises(NothingSelected, match="gone") as gone:  # one a decision removed: select another
        s.resolve_exposure(Exposure("globex", (3,), {}, (), 0.5, 0, 0.5))
    assert gone.value.what == "exposure"


def test_a_failing_listener_is_logged_and_neither_stops_the_others_nor_undoes_the_step(db_url, caplog):
    s = _session(db_url)
    seen = []

    def broken(changes) -> None:
        raise LogoTagError("the panel could not redraw")

    s.subscribe(broken)
    s.subscribe(seen.append)
    c = s.candidates[0]
    with caplog.at_level(logging.ERROR):
        done = s.accept(c)  # committed, then told to the views: one fails
    assert done.review.state is ReviewState.ACCEPTED
    assert s.repo.candidate(c.id).review.state is ReviewState.ACCEPTED and s.can_undo
    assert any(ch.candidates for ch in seen)  # the view after the broken one was told of the decision
    assert "the panel could not redraw" in caplog.text
    s.undo()  # the broken view does not stop undo either
    assert s.repo.candidate(c.id).review.state is ReviewState.PENDING
