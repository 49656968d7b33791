"""The review app driven like a user: keys, clicks, and checks on the database and the export."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import Qt

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import BBox, ReviewState
from logotag_gui.core.store import open_repository

pytestmark = pytest.mark.gui


def _open_and_run(window, qtbot, tmp_path, clip, logos, **config):
    assert window.open_project(str(tmp_path / "p.sqlite"))
    assert window.set_logos(str(logos))
    window.add_clips([str(clip)])
    assert window.video is not None
    run = RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", **config)
    with qtbot.waitSignal(window.runs.worker.allFinished, timeout=120_000):
        window.runs.run_clips([window.video.id], run)
    qtbot.waitUntil(lambda: not window.runs.running and len(window.session) > 0, timeout=10_000)


def _open_ran(window, qtbot, tmp_path, ran_project):
    """A copy of a project the pipeline ran on the demo clip once for the session (the GUI's run path is tested
    by the first test and by cancelling one)."""
    shutil.copy(ran_project, tmp_path / "p.sqlite")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    qtbot.waitUntil(lambda: window.session is not None and len(window.session) > 0, timeout=10_000)


def _press(window, qtbot, key, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window.clip_view.view, key, modifier)


def test_run_review_undo_relabel_draw_and_export(window, qtbot, tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    _open_and_run(window, qtbot, tmp_path, clip, logos_dir)
    stored = open_repository(tmp_path / "p.sqlite")
    total = len(window.session.candidates)
    assert total == stored.count_candidates() > 5
    assert window.table_model.filtered_count() == total

    _press(window, qtbot, Qt.Key.Key_J)  # first candidate
    first = window.current_candidate()
    assert first is not None and window.clip_view.current == first.frame.index
    qtbot.waitUntil(lambda: window.clip_view.shown == first.frame.index)
    assert first.id in window.clip_view.view.boxes()  # the box is on the frame shown

    _press(window, qtbot, Qt.Key.Key_A)  # accept, moves on to the next unreviewed
    assert stored.candidate(first.id).review.state is ReviewState.ACCEPTED
    assert stored.candidate(first.id).review.reviewer == "tester"
    second = window.current_candidate()
    assert second.id != first.id
    _press(window, qtbot, Qt.Key.Key_R)
    assert stored.candidate(second.id).review.state is ReviewState.REJECTED

    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the reject
    assert stored.candidate(second.id).review.state is ReviewState.PENDING
    _press(window, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert stored.candidate(second.id).review.state is ReviewState.REJECTED  # redo
    assert [h["kind"] for h in stored.history(second.id)] == ["reject", "clear", "reject"]

    window.select_candidate(first.id)
    window.review.relabel("Aquila")
    assert stored.candidate(first.id).final_brand == "Aquila"

    # Tighten a box as a drag of its corner would.
    window.clip_view.view.boxEdited.emit(first.id, BBox(10, 10, 50, 40))
    assert stored.candidate(first.id).final_bbox == BBox(10, 10, 50, 40)

    # Draw a missed box on the current frame.
    before = stored.count_candidates()
    window.review.add_box(BBox(300, 200, 60, 30), "Fennel")
    assert stored.count_candidates() == before + 1
    manual = [c for c in stored.candidates() if c.method == "manual"]
    assert manual[0].review.state is ReviewState.ACCEPTED and manual[0].frame.index == window.clip_view.current
    window.review.undo()  # undo removes a drawn box
    assert stored.count_candidates() == before

    out = tmp_path / "reviewed.jsonl"
    with qtbot.waitSignal(window.export_to(str(out), reviewed_only=True).done, timeout=30_000) as done:
        pass
    assert done.args == [2]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["decision"] for r in records} == {"accepted", "rejected"}
    assert any(r["brand"] == "Aquila" and r["bbox"] == [10, 10, 50, 40] for r in records)


def test_accept_whole_track_with_t(window, qtbot, tmp_path, demo_clip, logos_dir, ran_project):
    _open_ran(window, qtbot, tmp_path, ran_project)
    _press(window, qtbot, Qt.Key.Key_J)
    c = window.current_candidate()
    members = [m for m in window.session.candidates if m.track_id == c.track_id]
    assert len(members) > 2
    _press(window, qtbot, Qt.Key.Key_T)
    stored = open_repository(tmp_path / "p.sqlite")
    assert all(stored.candidate(m.id).review.state is ReviewState.ACCEPTED for m in members)
    window.review.undo()
    assert all(stored.candidate(m.id).review.state is ReviewState.PENDING for m in members)


def test_table_selection_jumps_and_filters(window, qtbot, tmp_path, demo_clip, logos_dir, ran_project):
    _open_ran(window, qtbot, tmp_path, ran_project)
    model = window.table_model
    target = model.candidate_at(3)
    window.table.selectRow(3)
    assert window.clip_view.selected_id == target.id and window.clip_view.current == target.frame.index
    window.filter_bar.brand.setCurrentText("Aquila")
    assert model.filtered_count() == sum(c.final_brand == "Aquila" for c in window.session.candidates) > 0
    assert all(model.candidate_at(r).final_brand == "Aquila" for r in range(model.rowCount()))


def test_cancel_keeps_what_was_done(window, qtbot, tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    assert window.open_project(str(tmp_path / "p.sqlite")) and window.set_logos(str(logos_dir))
    window.add_clips([str(clip)])
    run = RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="none", batch_frames=1,
                    fps=10)
    with qtbot.waitSignal(window.runs.worker.batchStored, timeout=60_000):
        window.runs.run_clips([window.video.id], run)
    assert "running" in window.clips.item(0).text()  # the clip list shows the run
    with qtbot.waitSignal(window.runs.worker.allFinished, timeout=60_000):
        window.runs.cancel()
    stored = open_repository(tmp_path / "p.sqlite")
    run_row = stored.runs()[-1]
    assert run_row.status == "cancelled" and 0 < run_row.frames_done < run_row.frames_total
    assert stored.count_candidates() == len(window.session.candidates)


def test_corrupt_video_and_bad_logo_folder_show_messages(window, qtbot, tmp_path):
    assert window.open_project(str(tmp_path / "p.sqlite"))
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01" * 500)
    window.add_clips([str(bad)])
    dialogs = [w for w in window.findChildren(object) if getattr(w, "objectName", lambda: "")() == "errorDialog"]
    assert dialogs and "corrupt.mp4" in dialogs[-1].text()
    assert window.project.videos() == []
    empty = tmp_path / "nologos"
    empty.mkdir()
    assert window.set_logos(str(empty)) is False
    dialogs = [w for w in window.findChildren(object) if getattr(w, "objectName", lambda: "")() == "errorDialog"]
    assert "no reference images" in dialogs[-1].text()


def test_reopening_a_project_restores_decisions(qtbot, tmp_path, demo_clip, logos_dir, window, ran_project):
    _open_ran(window, qtbot, tmp_path, ran_project)
    _press(window, qtbot, Qt.Key.Key_J)
    _press(window, qtbot, Qt.Key.Key_A)
    accepted = window.session.candidates[0].id
    window.close()  # as if the app were quit
    from logotag_gui.qt.main_window import MainWindow

    again = MainWindow(reviewer="tester")
    qtbot.addWidget(again)
    assert again.open_project(str(tmp_path / "p.sqlite"))
    assert next(c for c in again.session.candidates if c.id == accepted).review.state is ReviewState.ACCEPTED
    assert str(tmp_path / "p.sqlite") in again.recent_projects()
    again.close()


def test_exposure_panel_follows_decisions_and_writes_the_report(window, qtbot, tmp_path, demo_clip, logos_dir, ran_project):
    _open_ran(window, qtbot, tmp_path, ran_project)
    assert window.exposure.stats == {}  # nothing accepted yet
    _press(window, qtbot, Qt.Key.Key_J)
    c = window.current_candidate()
    _press(window, qtbot, Qt.Key.Key_T)  # accept its whole track
    qtbot.waitUntil(lambda: c.brand in window.exposure.stats, timeout=3000)
    accepted_frames = {m.frame.index for m in window.session.candidates if m.track_id == c.track_id}
    assert window.exposure.stats[c.brand].seconds == pytest.approx(0.5 * len(accepted_frames))
    assert window.exposure.table.rowCount() == 1
    with qtbot.waitSignal(window.write_report(str(tmp_path / "exposure.html")).done, timeout=30_000):
        pass
    assert c.brand in (tmp_path / "exposure.html").read_text()


def test_calibration_dialog_reports_reviewed_brands(window, qtbot, tmp_path, demo_clip, logos_dir, monkeypatch, ran_project):
    from logotag_gui.qt.dialogs import messages

    shown = []
    monkeypatch.setattr(messages.TextDialog, "exec", lambda self: shown.append(self.findChild(
        messages.QPlainTextEdit).toPlainText()))
    _open_ran(window, qtbot, tmp_path, ran_project)
    _press(window, qtbot, Qt.Key.Key_J)
    _press(window, qtbot, Qt.Key.Key_A)
    _press(window, qtbot, Qt.Key.Key_R)
    with qtbot.waitSignal(window.show_calibration().done, timeout=30_000):
        pass
    assert "suggested thresholds" in shown[0] and window.session.candidates[0].brand in shown[0]


def test_a_drawn_box_is_followed_and_t_accepts_the_whole_proposed_track(window, qtbot, tmp_path, demo_clip,
                                                                          logos_dir, brand_answer):
    """No run at all (the detector missed everything): one drawn box, followed through the clip, one key."""
    clip, truth = demo_clip
    assert window.open_project(str(tmp_path / "p.sqlite")) and window.set_logos(str(logos_dir))
    window.add_clips([str(clip)])
    assert len(window.session) == 0
    window.clip_view.go_to(10)
    qtbot.waitUntil(lambda: window.clip_view.shown == 10)
    box = next(b for brand, b in truth[10] if brand == "Norvik")
    brand_answer("Norvik")
    _press(window, qtbot, Qt.Key.Key_B)
    window.clip_view.view.boxDrawn.emit(box)  # the drag, as test_frame_view drives it with the mouse
    drawn = window.session.current
    assert not window.review.idle  # following the drawn box is under way
    assert drawn.method == "manual" and drawn.final_brand == "Norvik" and drawn.frame.index == 10
    assert window.reference_for(drawn) == logos_dir / "Norvik.png"  # a drawn box shows its brand's reference
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)  # following and learning from the drawing
    track = window.session.track(drawn.track_id)
    # Followed boxes, and those that learning from the drawing found first and that joined the track.
    proposed = [c for c in track if c.id != drawn.id]
    assert {c.method for c in proposed} <= {"tracked", "learned"}
    assert len(proposed) >= 8 and all(c.review.state is ReviewState.PENDING for c in proposed)
    assert all(c.bbox.iou(next(b for n, b in truth[c.frame.index] if n == "Norvik")) >= 0.6 for c in proposed)
    assert "Norvik" in window.clip_view.timeline.lanes  # the proposal is on the timeline
    _press(window, qtbot, Qt.Key.Key_T)
    stored = open_repository(tmp_path / "p.sqlite")
    assert all(stored.candidate(c.id).review.state is ReviewState.ACCEPTED for c in proposed)
    window.review.undo()  # the track decision, as one step
    assert all(stored.candidate(c.id).review.state is ReviewState.PENDING for c in proposed)


def test_every_decision_the_app_makes_goes_through_the_review_session(window, qtbot, tmp_path, demo_clip,
                                                                       logos_dir, monkeypatch, ran_project):
    """One door for the reviewer's writes: the session's one-transaction edit; no other write of decisions."""
    from logotag_gui.core.store.repository import Repository

    writes = []
    for name in ("apply_edit", "set_track"):
        original = getattr(Repository, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            import inspect

            callers = [f.frame.f_globals.get("__name__", "") for f in inspect.stack()[1:4]]
            writes.append((_name, callers[0]))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Repository, name, spy)
    _open_ran(window, qtbot, tmp_path, ran_project)
    for key, modifier in ((Qt.Key.Key_J, None), (Qt.Key.Key_A, None), (Qt.Key.Key_R, None), (Qt.Key.Key_T, None),
                          (Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier),
                          (Qt.Key.Key_X, None), (Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)):
        _press(window, qtbot, key, modifier or Qt.KeyboardModifier.NoModifier)
    window.review.relabel("Aquila")
    window.review.add_box(BBox(300, 200, 60, 30), "Fennel")
    qtbot.waitUntil(lambda: window.review.idle, timeout=30_000)  # what following and learning found, saved
    assert len(writes) >= 8 and set(writes) == {("apply_edit", "logotag_gui.core.review.session")}
