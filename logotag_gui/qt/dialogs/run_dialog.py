"""Run settings, generated from RunConfig's settings (core/config.py) and the backend registry (core/backends.py).

A setting with a label is offered here; the frame range is bounded by the clip; the rest stay CLI options.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.base.config import RunConfig, Setting, settings
from logotag_gui.core.pipeline import backends

# What an image folder has no use for: it is not sampled in time, and its images are not a shot to follow in.
VIDEO_ONLY = ("fps", "propagate", "detect_every")
PLACEHOLDERS = {"vlm_revision": "commit SHA (required with remote code)",
                "vlm_endpoint": "http://localhost:8000/v1 (with Stage 2: endpoint)"}
UNSET = -0.01  # a spin box's "default" position for a setting that may be None


class RunDialog(QDialog):
    def __init__(self, base: RunConfig, *, frame_count: int, clips: int, images: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run the pipeline" + (f" on {clips} clips" if clips > 1 else ""))
        self._base = base
        self.fields: dict[str, QWidget] = {}
        form = self._form = QFormLayout()
        for s in settings():
            if s.label is None:
                continue
            widget = self._widget(s, getattr(base, s.name))
            self.fields[s.name] = widget
            if isinstance(widget, QCheckBox):
                form.addRow("", widget)
            else:
                form.addRow(s.label, widget)
        for stage in ("embedder", "verifier"):
            combo = self.fields.get(stage)
            if isinstance(combo, QComboBox):
                combo.currentTextChanged.connect(self._grey_what_does_not_apply)
        self._grey_what_does_not_apply()
        self.start, self.end = QSpinBox(), QSpinBox()
        last = max(0, frame_count - 1)
        end = last if base.end_frame is None else base.end_frame
        for box, value in ((self.start, base.start_frame), (self.end, end)):
            box.setRange(0, last)
            box.setValue(value)
        # The range can only be a range: the last frame never before the first.
        self.start.valueChanged.connect(self.end.setMinimum)
        self.end.valueChanged.connect(self.start.setMaximum)
        self.end.setMinimum(self.start.value())
        self.start.setMaximum(self.end.value())
        what = "image" if images else "frame"
        form.addRow(f"First {what}:", self.start)
        form.addRow(f"Last {what}:", self.end)
        if images:
            for name in VIDEO_ONLY:
                if name in self.fields:
                    form.setRowVisible(self.fields[name], False)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        hint = QLabel("auto uses SigLIP-2 and the VLM when their weights are on this machine, "
                      "otherwise the offline detector (keypoints, OCR text, shape matcher) and the OCR verifier.")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def _grey_what_does_not_apply(self) -> None:
        """A setting only some backends take (the VLM's model, SigLIP-2's, the endpoint URL) is greyed out
        unless a chosen stage takes it, and its tooltip says which do."""
        embedder, verifier = (self._text(name) for name in ("embedder", "verifier"))
        for s in settings():
            widget = self.fields.get(s.name)
            if widget is None:
                continue
            users = backends.users_of(s.name)
            used = backends.applies(s.name, embedder, verifier)
            widget.setEnabled(used)
            label = self._form.labelForField(widget)
            if label is not None:
                label.setEnabled(used)
            where = "; ".join(f"{'Stage 1' if stage == 'proposers' else 'Stage 2'}: {', '.join(names)}"
                              for stage, names in users.items())
            widget.setToolTip(s.help + (f"\n(used with {where})" if where else ""))

    def _text(self, name: str) -> str:
        widget = self.fields.get(name)
        return widget.currentText().strip() if isinstance(widget, QComboBox) else getattr(self._base, name)

    @staticmethod
    def _widget(s: Setting, value: Any) -> QWidget:
        if s.kind is bool:
            box = QCheckBox(s.label)
            box.setChecked(bool(value))
            return box
        if s.choices is not None:
            combo = QComboBox()
            if isinstance(s.choices, str):  # a stage: the registry's backends, each explained
                table = backends.PROPOSERS if s.choices == "proposers" else backends.VERIFIERS
                combo.addItems(backends.choices(s.choices))
                for i, name in enumerate(table, start=1):  # after "auto"
                    combo.setItemData(i, table[name].summary, Qt.ItemDataRole.ToolTipRole)
            else:  # a device may also be named ("cuda:1"); a precision is one of three
                combo.setEditable(s.open_choices)
                combo.addItems(list(s.choices))
            combo.setCurrentText(str(value))
            return combo
        if s.kind is float:
            lo, hi, step = (d if v is None else v for v, d in zip(s.range, (0.0, 1e6, 0.1), strict=True))
            spin = QDoubleSpinBox()
            optional = s.optional
            spin.setRange(UNSET if optional else lo, hi)
            spin.setSingleStep(step)
            spin.setDecimals(2)
            if optional:
                spin.setSpecialValueText("default for the embedder")
            spin.setValue(UNSET if value is None else float(value))
            return spin
        if s.kind is int:
            low, high, by = s.range
            whole = QSpinBox()
            whole.setRange(int(low if low is not None else 0), int(high if high is not None else 1_000_000))
            whole.setSingleStep(int(by or 1))
            whole.setValue(int(value) if value is not None else whole.minimum())
            return whole
        line = QLineEdit("" if value is None else str(value))
        line.setPlaceholderText(PLACEHOLDERS.get(s.name, ""))
        return line

    def config(self) -> RunConfig:
        values: dict[str, object] = {}
        for s in settings():
            widget = self.fields.get(s.name)
            if isinstance(widget, QCheckBox):
                values[s.name] = widget.isChecked()
            elif isinstance(widget, QComboBox):
                values[s.name] = widget.currentText().strip()
            elif isinstance(widget, QSpinBox):
                values[s.name] = widget.value()
            elif isinstance(widget, QDoubleSpinBox):
                values[s.name] = None if widget.value() <= UNSET else widget.value()
            elif isinstance(widget, QLineEdit):
                text = widget.text().strip()
                values[s.name] = None if not text and s.optional else text
        return self._base.with_(start_frame=self.start.value(), end_frame=self.end.value(), **values)
