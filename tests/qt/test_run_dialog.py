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
    labelled = {s.name for s in settings() if s.label}
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
    assert dialog.fields["device"].isEditable() and not dialog.fields["precision"].isEditable()
    dialog.fields["precision"].setCurrentText("fp32")
    assert dialog.config().precision == "fp32"


def test_the_dialog_opens_with_what_the_last_run_used(window, qtbot, tmp_path, demo_clip, logos_dir, monkeypatch):
    from logotag_gui.qt.dialogs.run_dialog import RunDialog

    clip, _ = demo_clip
    assert window.open_project(str(tmp_path / "p.sqlite")) and window.set_logos(str(logos_dir))
    window.add_clips([str(clip)])
    seen: list[RunConfig] = []

    def run_with(choose):
        def exec_(dialog):
            seen.append(dialog.config())
            choose(dialog)
            return RunDialog.DialogCode.Accepted
        monkeypatch.setattr(RunDialog, "exec", exec_)
        with qtbot.waitSignal(window.runs.worker.allFinished, timeout=120_000):
            window.runs.run_clips([window.video.id])
        qtbot.waitUntil(lambda: not window.runs.running, timeout=10_000)

    def keypoints_at_one_fps(dialog):
        dialog.fields["embedder"].setCurrentText("keypoints")
        dialog.fields["verifier"].setCurrentText("none")
        dialog.fields["fps"].setValue(1.0)
        dialog.start.setValue(5)

    run_with(keypoints_at_one_fps)
    run_with(lambda dialog: None)
    assert (seen[0].embedder, seen[0].fps) == ("auto", 2.0)
    second = seen[1]
    assert (second.embedder, second.verifier, second.fps) == ("keypoints", "none", 1.0)
    assert second.start_frame == 0  # a frame range is for one run, not remembered


def test_settings_no_chosen_stage_takes_are_greyed_out_and_say_who_takes_them(qtbot):
    base = RunConfig(input="clip.mp4", logos="logos", embedder="offline", verifier="ocr")
    dialog = _dialog(qtbot, base)
    assert dialog.config() == base.with_(end_frame=99)  # greyed settings still come back unchanged
    enabled = {name for name, widget in dialog.fields.items() if widget.isEnabled()}
    assert {"vlm_model", "vlm_endpoint", "siglip_model", "device", "trust_remote_code"}.isdisjoint(enabled)
    assert {"embedder", "verifier", "fps", "threshold", "min_margin", "precision", "propagate"} <= enabled
    assert "Stage 2: endpoint" in dialog.fields["vlm_endpoint"].toolTip()
    dialog.fields["verifier"].setCurrentText("endpoint")
    assert dialog.fields["vlm_endpoint"].isEnabled() and dialog.fields["vlm_model"].isEnabled()
    assert not dialog.fields["trust_remote_code"].isEnabled()  # remote code is a local VLM's matter
    dialog.fields["embedder"].setCurrentText("auto")  # auto may pick SigLIP-2
    assert dialog.fields["siglip_model"].isEnabled() and dialog.fields["device"].isEnabled()


def test_the_last_frame_cannot_come_before_the_first(qtbot):
    dialog = _dialog(qtbot, RunConfig(input="clip.mp4", logos="logos"), frames=100)
    dialog.start.setValue(60)
    dialog.end.setValue(10)  # refused: held at the first frame
    assert (dialog.start.value(), dialog.end.value()) == (60, 60)
    dialog.end.setValue(80)
    dialog.start.setValue(95)  # likewise the first frame cannot pass the last
    assert dialog.config().start_frame == 80 and dialog.config().end_frame == 80


def test_an_image_folder_is_not_offered_what_only_video_has(qtbot):
    from logotag_gui.qt.dialogs.run_dialog import VIDEO_ONLY, RunDialog

    base = RunConfig(input="stills", logos="logos")
    dialog = RunDialog(base, frame_count=20, clips=1, images=True)
    qtbot.addWidget(dialog)
    dialog.show()
    assert VIDEO_ONLY and all(not dialog.fields[name].isVisible() for name in VIDEO_ONLY)
    assert dialog.fields["embedder"].isVisible()
    assert all(getattr(dialog.config(), name) == getattr(base, name) for name in VIDEO_ONLY)
    video = _dialog(qtbot, base)
    video.show()
    assert all(video.fields[name].isVisible() for name in VIDEO_ONLY)
