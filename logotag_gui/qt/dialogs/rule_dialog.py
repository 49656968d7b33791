"""The project's counting rule (base/counting.py): a preset, or its values changed.

The preset fills the fields; a field changed makes the rule "custom" (or the name typed). The values are checked
as the core checks them (`counting.custom`): a value out of range keeps the dialog open with the core's message,
which names the field and its range. Shares are typed as percentages, as the reports print them.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.base.counting import PRESETS, CountingRule, RuleError, custom

# field -> (label, shown as a percentage)
FIELDS: dict[str, tuple[str, bool]] = {
    "min_visible": ("Share of the mark in view (%)", True),
    "min_sharpness": ("Sharpness, 0-1 (0.6 crisp, 0.3 soft, under 0.1 a blur)", False),
    "min_size": ("Box's share of the frame (%)", True),
    "min_exposure_s": ("Shortest exposure that counts (s)", False),
    "join_gap_s": ("Gap joining two appearances (s; not counted)", False),
}


class RuleDialog(QDialog):
    def __init__(self, rule: CountingRule, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Counting rule")
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name, name)
        self.fields = {name: QLineEdit() for name in FIELDS}
        self.each_copy = QCheckBox("Each copy of a brand on one frame counts (else two copies count once)")
        self.name = QLineEdit()
        self.name.setPlaceholderText("the preset's name, or 'custom' where a value differs")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.error.hide()
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Start from", self.preset)
        for name, (label, _) in FIELDS.items():
            form.addRow(label, self.fields[name])
        form.addRow("", self.each_copy)
        form.addRow("Name", self.name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.sentence)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._rule = rule
        base = rule.name if rule.name in PRESETS else None
        self.preset.setCurrentIndex(list(PRESETS).index(base) if base else 0)
        self._fill(rule)
        if base is None:  # a custom rule keeps its name unless it is changed
            self.name.setText(rule.name)
        self.preset.currentIndexChanged.connect(lambda _: self._fill(PRESETS[self.preset.currentData()]))

    def _fill(self, rule: CountingRule) -> None:
        for name, (_, percent) in FIELDS.items():
            value = getattr(rule, name)
            self.fields[name].setText(f"{value * 100:g}" if percent else f"{value:g}")
        self.each_copy.setChecked(not rule.one_per_frame)
        self.name.clear()
        self.sentence.setText(rule.describe())
        self.error.hide()

    def values(self) -> dict[str, object]:
        """The fields as the rule's values (shares from percentages); RuleError for a field that is not a number, or
        a percentage outside 0-100."""
        out: dict[str, object] = {}
        for name, (label, percent) in FIELDS.items():
            text = self.fields[name].text().strip().replace(",", ".").rstrip("%").strip()
            try:
                value = float(text)
            except ValueError:
                raise RuleError(f"{label}: '{self.fields[name].text()}' is not a number.") from None
            if percent and not 0 <= value <= 100:  # said in the field's own unit, not the core's share of 1
                raise RuleError(f"{label}: {value:g}% is outside 0-100%.")
            out[name] = round(value / 100, 12) if percent else value
        out["one_per_frame"] = not self.each_copy.isChecked()
        if self.name.text().strip():
            out["name"] = self.name.text().strip()
        return out

    def build(self) -> CountingRule:
        """The rule the dialog holds: the preset with the fields' values (RuleError where one is out of range)."""
        return custom(self.preset.currentData(), **self.values())

    def accept(self) -> None:
        try:
            self._rule = self.build()
        except RuleError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        super().accept()

    def rule(self) -> CountingRule:
        """The rule accepted (the one given where the dialog was cancelled)."""
        return self._rule

