"""The run dialog is generated from the run settings and the backend registry: what it offers, it hands back."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.config import RunConfig, settings
from logotag_gui.core.pipeline import backends

pytestmark = pytest.mark.gui


def _dialog(qtbot, base: RunConfig, frames: int = 100):
    from logotag_gui.qt.dialogs.run_dialog import RunDialog

    dialog = RunDialog(base, frame_count=frames, clips=1)
    qtbot.addWidget(dialog)
    return dialog


def test_every_labelled_setting_is_offered_and_the_backends_come_from_the_registry(qtbot):
    dialog = _dialog(qtbot, RunConfig(input="clip.mp4", logos="logos"))
    labelled = {f.name for f in settings() if f.metadata["label"]}
    assert set(dialog.fields) == labelled
    stage1 = dialog.fields["embedder"]
    assert [stage1.itemText(i) for i in range(stage1.count())] == backends.choices("proposers")
    stage2 = dialog.fields["verifier"]
    assert "endpoint" in [stage2.itemText(i) for i in range(stage2.count())]


def test_unchanged_dialog_gives_back_the_settings_it_was_given(qtbot):
    base = RunConfig(input="clip.mp4", logos="logos", embedder="offline", threshold=None, vlm_revision=None,
                     end_frame=None, propagate=False)
    assert _dialog(qtbot, base).config() == base.with_(end_frame=99)


def test_edits_come_back_typed(qtbot):
    dialog = _dialog(qtbot, RunConfig(input="clip.mp4", logos="logos"))
    dialog.fields["embedder"].setCurrentText("keypoints")
    dialog.fields["verifier"].setCurrentText("endpoint")
    dialog.fields["vlm_endpoint"].setText(" http://gpu-box:8000/v1 ")
    dialog.fields["threshold"].setValue(0.4)
    dialog.fields["device"].setCurrentText("cuda:1")
    dialog.fields["propagate"].setChecked(False)
    dialog.start.setValue(10)
    config = dialog.config()
    assert (config.embedder, config.verifier, config.vlm_endpoint) == ("keypoints", "endpoint", "http://gpu-box:8000/v1")
    assert config.threshold == pytest.approx(0.4)
    assert (config.device, config.propagate, config.start_frame, config.end_frame) == ("cuda:1", False, 10, 99)
    assert config.vlm_revision is None  # an empty revision is no revision
