"""Exposure review in the app, driven by keys on a seeded project (no pipeline run): the next exposure to
review, accept or reject it whole, mark a brand on screen, split and trim, the timeline's bars and the film
strip, the meter, and an audit answered frame by frame."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from logotag_gui.core.base.records import ExposureState, ReviewState, VerdictState
from logotag_gui.core.store import open_repository
from tests.seeded import seeded_project

pytestmark = pytest.mark.gui


@pytest.fixture
def seeded(window, tmp_path, demo_clip, brand_answer):
    """The demo clip with Norvik found on frames 0-25 (a track, verified) and a false Aquila on 40."""
    clip, _ = demo_clip
    repo, _vid = seeded_project(tmp_path / "p.sqlite", [(f, 100, "Norvik", 0, VerdictState.YES) for f in
                                                        range(0, 30, 5)] + [(40, 300, "Aquila", None, VerdictState.NO)],
                                path=str(clip))
    repo.sync_brands({}, {"Norvik.png": ("Norvik", "x"), "Aquila.png": ("Aquila", "y"), "Fennel.png": ("Fennel", "z")})
    repo.close()
    brand_answer("Fennel")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    window.review.set_option("learn", False)  # no logo folder here: nothing to learn with
    return window, open_repository(tmp_path / "p.sqlite")


def _press(window, qtbot, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window.clip_view.view, key, modifier)


def test_exposures_are_reviewed_whole_from_the_keyboard(seeded, qtbot):
    window, stored = seeded
    session = window.session
    assert window.clip_view.timeline.lanes == ["Aquila", "Norvik"]
    _press(window, qtbot, Qt.Key.Key_X)  # the least certain seconds first: Norvik's six frames
    e = session.current_exposure
    assert e.brand == "Norvik" and window.clip_view.current == 0
    assert "Norvik" in window.panel.exposure.text() and "Shift+A" in window.panel.exposure.text()
    qtbot.waitUntil(lambda: len(window.clip_view.strip.frames()) == 6)  # the film strip: its six frames
    _press(window, qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert all(c.review.state is ReviewState.ACCEPTED for c in stored.candidates() if c.brand == "Norvik")
    assert session.current_exposure.brand == "Aquila" and window.clip_view.current == 40  # moved on
    _press(window, qtbot, Qt.Key.Key_R, Qt.KeyboardModifier.ShiftModifier)
    assert next(c for c in stored.candidates() if c.brand == "Aquila").review.state is ReviewState.REJECTED
    meter = window.meter.text()
    assert "accepted 3.0 s" in meter and "to do: 0 exposures" in meter and "done" not in meter  # views unlooked
    window.clip_view.go_to(50)
    _press(window, qtbot, Qt.Key.Key_P)  # Fennel is on screen here (the brand prompt answers "Fennel")
    marked = [c for c in stored.candidates() if c.brand == "Fennel"]
    assert [(c.frame.index, c.has_box, c.review.state) for c in marked] == [(50, False, ReviewState.ACCEPTED)]
    qtbot.waitUntil(lambda: window.exposure.stats.get("Fennel") is not None, timeout=3000)
    assert window.exposure.stats["Fennel"].unknown_seconds == 0.5
    _press(window, qtbot, Qt.Key.Key_O)  # out point on the frame shown: nothing to move
    window.clip_view.go_to(55)
    _press(window, qtbot, Qt.Key.Key_O)  # extends Fennel's exposure to frame 55
    assert sorted(c.frame.index for c in stored.candidates() if c.brand == "Fennel") == [50, 55]
    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not [c for c in stored.candidates() if c.brand == "Fennel"]


def test_split_trim_and_a_dragged_bar_end(seeded, qtbot):
    window, stored = seeded
    session = window.session
    norvik = session.exposures("Norvik")[0]
    window.review.select_exposure(norvik, 10)
    _press(window, qtbot, Qt.Key.Key_S)  # split at frame 10
    assert [(e.first, e.last) for e in session.exposures("Norvik")] == [(0, 5), (10, 25)]
    second = session.exposures("Norvik")[1]
    assert window.clip_view.timeline.selected == second.key
    window.clip_view.edgeDragged.emit(second, "out", 17)  # dropped between samples: the sample before it
    assert session.exposure_at("Norvik", 10).live == (10, 15)
    rejected = [c.frame.index for c in stored.candidates() if c.review.state is ReviewState.REJECTED]
    assert rejected == [20, 25]
    window.clip_view.go_to(5)
    _press(window, qtbot, Qt.Key.Key_I)  # the other part's in point: 5 is where it starts, so it trims 0
    assert session.exposure_at("Norvik", 0).state is ExposureState.PARTLY


def test_an_audit_is_drawn_answered_and_estimated(seeded, qtbot):
    window, stored = seeded
    window.actions_by_name["audit"].trigger()  # Review → Audit sample: the Audit tab comes up
    assert window.audit_dock.isVisible() and "No sample drawn" in window.audit_panel.progress.text()
    window.review.draw_audit(12)  # every sampled frame of the 6-s clip (its Draw button)
    audit = window.review.audit
    assert len(audit.frames) == 12 and window.clip_view.current == audit.frames[0]
    for _ in range(12):
        frame = window.clip_view.current
        qtbot.waitUntil(lambda f=frame: window.audit_panel.frame == f, timeout=3000)
        if frame == 55:  # Fennel is on screen here, and nothing proposed it: the brands listed are 1. Aquila,
            _press(window, qtbot, Qt.Key.Key_3)  # 2. Norvik (proposed nearest the frame first), 3. Fennel: tick it
        _press(window, qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(audit.answers) == 12 and audit.answers[40] == frozenset()  # the model's "no" on Aquila: not ticked
    assert audit.answers[55] == frozenset({"Fennel"}) and audit.answers[5] == frozenset({"Norvik"})
    total = window.exposure.estimate.total
    assert total.exact and total.seconds == pytest.approx(3.5)  # Norvik's six frames and Fennel's one
    assert window.exposure.estimate.brands["Fennel"].seconds == pytest.approx(0.5)
    assert "3.5 s exact" in window.meter.text()  # every frame nobody looked at is answered
    assert stored.audit_sample(window.session.video.id).frames[0].reviewer == "tester"


def test_the_gallery_of_every_brand_is_accepted_with_one_key(seeded, qtbot):
    window, stored = seeded
    session = window.session
    _press(window, qtbot, Qt.Key.Key_X)  # Norvik's exposure selected: G shows its brand's gallery
    _press(window, qtbot, Qt.Key.Key_G)
    assert window.clip_view.gallery_scope == "brand"
    assert [e.brand for e in window.clip_view.gallery_shown()] == ["Norvik"]
    _press(window, qtbot, Qt.Key.Key_G)  # G again: every brand's exposures still to review, one picture each
    assert window.clip_view.gallery_scope == "clip"
    assert sorted(e.brand for e in window.clip_view.gallery_shown()) == ["Aquila", "Norvik"]
    qtbot.waitUntil(lambda: len(window.clip_view.strip.frames()) == 2)
    assert any("Aquila" in window.clip_view.strip.item(i).text() for i in range(2))
    _press(window, qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert all(c.review.state is ReviewState.ACCEPTED for c in stored.candidates())
    assert session.review_queue() == [] and window.clip_view.gallery_shown() == []
    assert "accepted 3.5 s" in window.meter.text()
    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # one undo takes the lot back
    assert all(c.review.state is ReviewState.PENDING for c in stored.candidates())
    _press(window, qtbot, Qt.Key.Key_G)  # a third G: the film strip shows the exposure's frames again
    assert window.clip_view.gallery_scope is None and window.clip_view.gallery_shown() is None


def test_a_new_project_shows_nothing_of_the_one_before(seeded, qtbot, tmp_path):
    window, _repo = seeded
    qtbot.waitUntil(lambda: window.clip_view.shown is not None)
    _press(window, qtbot, Qt.Key.Key_X)  # an exposure selected: the panel describes it
    assert not window.panel.exposure.text().startswith("No exposure selected")
    _press(window, qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)  # accepted: seconds in the panel
    qtbot.waitUntil(lambda: window.exposure.table.rowCount() > 0)
    assert window.clip_view.timeline.lanes
    assert window.open_project(str(tmp_path / "empty.sqlite"))
    view = window.clip_view
    assert view.view.frame_index is None and not view.view.has_frame  # no old frame
    assert not view.timeline.lanes and view.position.text() == "" and view.slider.maximum() == 0
    assert window.exposure.table.rowCount() == 0 and window.clips.count() == 0
    assert window.panel.exposure.text().startswith("No exposure selected")


def test_the_sweep_looks_at_every_view_once_and_ctrl_z_takes_a_look_back(seeded, qtbot):
    window, _stored = seeded
    session = window.session
    qtbot.waitUntil(lambda: session.views_known, timeout=20000)  # found on the follow lane when the clip opened
    views = session.views
    assert views and [s for *_, s in window.clip_view.timeline.views] == ["not"] * len(views)
    _press(window, qtbot, Qt.Key.Key_V)  # the first press shows the first view (the frame shown is its own)
    for _ in range(len(views) + 1):
        _press(window, qtbot, Qt.Key.Key_V)  # complete, on to the next
    assert all(session.view_looked(v) for v in views)
    assert [s for *_, s in window.clip_view.timeline.views] == ["looked"] * len(views)
    assert "looked 100%" in window.meter.text()
    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sum(session.view_looked(v) for v in views) == len(views) - 1


def test_shift_m_shows_and_hides_the_learned_maybes(seeded, qtbot):
    window, _stored = seeded
    assert not window.session.showing_maybe
    _press(window, qtbot, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert window.session.showing_maybe and "shown" in window.statusBar().currentMessage()
    _press(window, qtbot, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert not window.session.showing_maybe
