"""Keys while the work runs: a run of the clip, following a box, and learning passes all busy on their threads
while a reviewer presses keys, round after round. Nothing crashes, every result lands on the GUI thread, and
what the window shows is what the database holds (a crash here once came from such a mix, not on demand)."""

from __future__ import annotations

import itertools
import threading

import pytest
from PySide6.QtCore import Qt

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.records import ReviewState
from logotag_gui.core.store import open_repository

pytestmark = [pytest.mark.gui, pytest.mark.slow]

ROUNDS = 12
KEYS = [Qt.Key.Key_N, Qt.Key.Key_A, Qt.Key.Key_E, Qt.Key.Key_X, Qt.Key.Key_R, Qt.Key.Key_J, Qt.Key.Key_T,
        Qt.Key.Key_K, Qt.Key.Key_M]


def test_keys_while_a_run_a_follow_and_learning_work(window, qtbot, tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    assert window.open_project(str(tmp_path / "p.sqlite")) and window.set_logos(str(logos_dir))
    window.add_clips([str(clip)])
    gui_thread = threading.current_thread()
    touched_from: set[str] = set()
    original = window.refresh_panel

    def watched_refresh() -> None:  # every update of the window must come on the GUI thread
        touched_from.add(threading.current_thread().name)
        original()

    window.refresh_panel = watched_refresh
    run = RunConfig(input=str(clip), logos=str(logos_dir), embedder="keypoints", verifier="ocr", batch_frames=1)
    window.runs.run_clips([window.video.id], run)
    keys = itertools.cycle(KEYS)
    for round_ in range(ROUNDS):
        for _ in range(4):
            qtbot.keyClick(window.clip_view.view, next(keys))
            qtbot.wait(15)
        if round_ % 3 == 2:
            qtbot.keyClick(window.clip_view.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(window.clip_view.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
        qtbot.wait(60)
    qtbot.waitUntil(lambda: not window.runs.running, timeout=180_000)
    for key in (Qt.Key.Key_X, Qt.Key.Key_E, Qt.Key.Key_N, Qt.Key.Key_A):  # and on, with following at work
        qtbot.keyClick(window.clip_view.view, key)
        qtbot.wait(15)
    qtbot.keyClick(window.clip_view.view, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.review.idle, timeout=60_000)  # following and learning passes, applied
    assert touched_from <= {gui_thread.name}
    stored = open_repository(tmp_path / "p.sqlite")
    shown = {c.id: (c.review.state, c.final_brand) for c in window.session.candidates}
    held = {c.id: (c.review.state, c.final_brand) for c in stored.candidates(video_id=window.video.id)}
    assert shown == held and any(state is not ReviewState.PENDING for state, _ in shown.values())
    stored.close()
