"""The counting rule in the app: the dialog (a preset, custom values checked as the core checks them) and the
exposure panel, which counts under the project's rule, shows it and changes it; every figure counts again without
a new run (issue 30)."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

from logotag_gui.core.base.counting import PRESETS, CountingRule
from logotag_gui.core.store import open_repository
from logotag_gui.qt.dialogs.rule_dialog import RuleDialog

pytestmark = pytest.mark.gui


def test_the_dialog_fills_a_preset_and_keeps_a_bad_value_with_the_cores_message(qtbot):
    dialog = RuleDialog(PRESETS["any"])
    qtbot.addWidget(dialog)
    dialog.preset.setCurrentIndex(list(PRESETS).index("strict"))
    assert dialog.fields["min_visible"].text() == "90" and dialog.fields["min_size"].text() == "0.1"
    assert dialog.build() == PRESETS["strict"]
    dialog.fields["min_visible"].setText("150")
    dialog.accept()
    assert dialog.error.isVisibleTo(dialog) and "150% is outside 0-100%" in dialog.error.text()  # the field's unit
    assert dialog.rule() == PRESETS["any"] and not dialog.result()  # still open, nothing taken
    dialog.fields["min_visible"].setText("60")
    dialog.fields["min_exposure_s"].setText("-1")
    dialog.accept()
    assert "min_exposure_s" in dialog.error.text() and not dialog.result()  # the core's range, named
    dialog.fields["min_exposure_s"].setText("1")
    dialog.fields["min_visible"].setText("abc")
    dialog.accept()
    assert "not a number" in dialog.error.text()
    dialog.fields["min_visible"].setText("60")
    dialog.each_copy.setChecked(True)
    dialog.accept()
    assert dialog.result() and dialog.rule() == CountingRule("custom", min_visible=0.6, min_sharpness=0.3,
                                                             min_size=0.001, min_exposure_s=1.0, one_per_frame=False)


def test_a_custom_rule_opens_with_its_values_and_name(qtbot):
    rule = CountingRule("client A", min_visible=0.5, min_exposure_s=3.0)
    dialog = RuleDialog(rule)
    qtbot.addWidget(dialog)
    assert dialog.name.text() == "client A" and dialog.fields["min_exposure_s"].text() == "3"
    assert dialog.build() == rule


def test_the_panel_counts_under_the_projects_rule_and_changing_it_recounts_every_figure(
        window, qtbot, tmp_path, monkeypatch, ran_project):
    shutil.copy(ran_project, tmp_path / "p.sqlite")
    assert window.open_project(str(tmp_path / "p.sqlite"))
    qtbot.waitUntil(lambda: window.session is not None and len(window.session) > 0, timeout=10_000)
    assert "Counting rule 'any'" in window.exposure.rule_label.text()
    qtbot.keyClick(window.clip_view.view, Qt.Key.Key_J)
    c = window.current_candidate()
    qtbot.keyClick(window.clip_view.view, Qt.Key.Key_T)  # accept its whole track
    qtbot.waitUntil(lambda: c.brand in window.exposure.stats, timeout=3000)
    seconds = window.exposure.stats[c.brand].seconds
    assert seconds > 0 and "under rule" not in window.meter.toolTip()

    def answer(dialog):  # the analyst types a size bar no box reaches
        dialog.fields["min_size"].setText("50")
        dialog.name.setText("big only")
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(RuleDialog, "exec", answer)
    window.exposure.change_rule_btn.click()  # the panel's button runs the window's "Counting rule…" command
    stored = open_repository(tmp_path / "p.sqlite").counting_rule()
    assert stored == CountingRule("big only", min_size=0.5)
    assert window.exposure.rule == stored and stored.describe() in window.exposure.rule_label.text()
    stats = window.exposure.stats[c.brand]
    assert stats.seconds == 0 and stats.seen_seconds == seconds and stats.excluded_small > 0
    assert "0.0 s under rule 'big only'" in window.meter.toolTip()  # the meter counted again, no run
