"""Filters over the candidate table: brand, decision, verdict and a minimum score."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from logotag_gui.core.base.records import ReviewState, VerdictState
from logotag_gui.qt.table_model import CandidateTableModel, Filter

ANY = "any"


class FilterBar(QWidget):
    def __init__(self, model: CandidateTableModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        self.brand = QComboBox()
        self.state = QComboBox()
        self.state.addItems([ANY, *(s.value for s in ReviewState)])
        self.verdict = QComboBox()
        self.verdict.addItems([ANY, *(v.value for v in VerdictState)])
        self.min_score = QDoubleSpinBox()
        self.min_score.setRange(0, 1)
        self.min_score.setSingleStep(0.05)
        self.count = QLabel()
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        for label, w in (("Brand", self.brand), ("Decision", self.state), ("Verdict", self.verdict),
                         ("Score ≥", self.min_score)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.count)
        for combo in (self.brand, self.state, self.verdict):
            combo.currentTextChanged.connect(self.apply)
        self.min_score.valueChanged.connect(self.apply)
        model.modelReset.connect(self._count)
        self.set_brands([])

    def set_brands(self, brands: list[str]) -> None:
        current = self.brand.currentText()
        self.brand.blockSignals(True)
        self.brand.clear()
        self.brand.addItems([ANY, *brands])
        self.brand.setCurrentText(current if current in brands else ANY)
        self.brand.blockSignals(False)

    def apply(self, *_args) -> None:
        def pick(combo: QComboBox) -> str | None:
            return None if combo.currentText() == ANY else combo.currentText()

        self.model.set_filter(Filter(pick(self.brand), pick(self.state), pick(self.verdict), self.min_score.value()))

    def _count(self) -> None:
        self.count.setText(f"{self.model.filtered_count()} of {self.model.total_count()} candidates")

    def wrap(self, table) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self)
        layout.addWidget(table)
        return box
