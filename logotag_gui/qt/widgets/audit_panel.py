"""The audit panel: draw a random sample of the clip's frames, answer each (which brands are on screen), and
read the seconds per brand with their 95% interval as the answers come in.

On a frame of the sample the panel lists the project's brands, those it counts there first and ticked; the
reviewer unticks what is not on screen, ticks what is (a click, or the row's number key; Shift+P adds a brand
the project does not know yet) and confirms (Ctrl+Enter), which moves on to the next frame of the sample
(U goes there too).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.analysis.audit import ClipEstimate
from logotag_gui.core.review.audit import DEFAULT_FRAMES, Audit

COLUMNS = ["Brand", "Seconds", "± 95%", "Model + review"]


class AuditPanel(QWidget):
    drawRequested = Signal(int)  # frames
    confirmRequested = Signal()
    nextRequested = Signal()
    addBrandRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.frames = QSpinBox()
        self.frames.setRange(5, 5000)
        self.frames.setValue(DEFAULT_FRAMES)
        self.frames.setSuffix(" frames")
        self.draw_btn = QPushButton("Draw sample")
        self.draw_btn.setToolTip("A seeded random sample of the clip's sampled frames, stratified by the model's "
                                 "confidence and brand; stored in the project (a second reviewer sees the same)")
        self.draw_btn.clicked.connect(lambda: self.drawRequested.emit(self.frames.value()))
        top = QHBoxLayout()
        top.addWidget(self.frames)
        top.addWidget(self.draw_btn)
        self.progress = QLabel("No sample drawn for this clip.")
        self.progress.setWordWrap(True)
        self.here = QLabel("")
        self.brands = QListWidget()
        self.brands.setMaximumHeight(200)
        self.brands.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.confirm_btn = QPushButton("Confirm frame (Ctrl+Enter)")
        self.add_btn = QPushButton("Add a brand (Shift+P)")
        self.next_btn = QPushButton("Next frame (U)")
        self.confirm_btn.clicked.connect(self.confirmRequested)
        self.add_btn.clicked.connect(self.addBrandRequested)
        self.next_btn.clicked.connect(self.nextRequested)
        answer = QHBoxLayout()
        for b in (self.confirm_btn, self.add_btn, self.next_btn):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            answer.addWidget(b)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.width_note = QLabel("")
        self.width_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.here)
        layout.addWidget(self.brands)
        layout.addLayout(answer)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.width_note)
        self.frame: int | None = None
        self._set_answering(False)

    def _set_answering(self, on: bool) -> None:
        for w in (self.brands, self.confirm_btn, self.add_btn):
            w.setEnabled(on)

    # ---- the frame shown ----------------------------------------------------------------------------
    def show_frame(self, audit: Audit | None, frame: int, brands: list[str] | None = None) -> None:
        """On a frame of the sample: the project's `brands`, those on screen ticked and first (its answer, or
        what the project counts there)."""
        self.brands.clear()
        in_sample = audit is not None and frame in audit.frames
        self.frame = frame if in_sample else None
        self._set_answering(in_sample)
        if not in_sample:
            self.here.setText("This frame is not in the sample: U goes to the next one to answer."
                              if audit is not None and audit.sample else "")
            return
        assert audit is not None
        answered = audit.answers.get(frame)
        shown = answered if answered is not None else audit.predicted(frame)
        self.here.setText(f"Frame {frame}: " + ("answered; change and confirm again if need be" if answered is not None
                                                else "tick the brands on screen, then confirm"))
        for brand in sorted(shown):
            self.add_brand(brand)
        for brand in sorted(set(brands or ()) - set(shown)):
            self.add_brand(brand, checked=False)

    def add_brand(self, brand: str, *, checked: bool = True) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for i in range(self.brands.count()):
            if self.brands.item(i).text().split(". ", 1)[-1] == brand:
                self.brands.item(i).setCheckState(state)
                return
        row = self.brands.count() + 1
        item = QListWidgetItem(f"{row}. {brand}" if row <= 9 else brand)
        item.setData(Qt.ItemDataRole.UserRole, brand)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(state)
        self.brands.addItem(item)

    def toggle(self, row: int) -> None:
        """A number key: tick or untick the brand on that row."""
        item = self.brands.item(row)
        if item is not None and self.brands.isEnabled():
            checked = item.checkState() == Qt.CheckState.Checked
            item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)

    def checked(self) -> list[str]:
        return [self.brands.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.brands.count())
                if self.brands.item(i).checkState() == Qt.CheckState.Checked]

    # ---- the sample and the estimate ------------------------------------------------------------------
    def show_audit(self, audit: Audit | None, estimate: ClipEstimate | None, population: int) -> None:
        self.table.setRowCount(0)
        if audit is None or audit.sample is None:
            self.progress.setText("No sample drawn for this clip: choose how many frames and draw one.")
            self.width_note.setText("")
            return
        answered, total = len(audit.answers), len(audit.frames)
        stale = " The clip was run again on another grid since: draw a new sample." if audit.stale else ""
        self.progress.setText(f"{answered} of {total} sample frames answered ({answered / max(1, population):.1%} of "
                              f"the clip's {population} sampled frames).{stale}")
        if estimate is None:
            self.width_note.setText("")
            return
        rows = [*estimate.brands.values(), *([estimate.total] if estimate.total else [])]
        self.table.setRowCount(len(rows))
        for r, e in enumerate(rows):
            for col, text in enumerate((e.brand, f"{e.seconds:.1f}", f"{e.half_width:.1f}", f"{e.predicted_s:.1f}")):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, col, item)
        self.table.resizeColumnsToContents()
        more = estimate.more_frames
        self.width_note.setText(
            f"±{estimate.target:.0%} on the total: " + ("reached." if more == 0 else
                                                          "not reachable within the clip." if more is None else
                                                          f"about {more} frames more (draw them above)."))
