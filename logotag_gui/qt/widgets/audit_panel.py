"""The audit panel: draw a random sample of the clip's frames, answer each (which brands are on screen), and
read the seconds per brand with their 95% interval as the answers come in.

On a frame of the sample the panel lists the project's brands: those it counts there first and ticked, then
the brands the run proposed nearest this frame (then anywhere in the clip), then the rest; typing in the
filter above the list narrows it. The reviewer unticks what is not on screen, ticks what is (a click, or the
number key of the row as shown: 1-9 reach the first nine visible rows; Shift+P adds a brand the project does
not know yet) and confirms (Ctrl+Enter), which moves on to the next frame of the sample (U goes there too).
The panel fits a 1366 px screen's side dock: its buttons stack, its table's columns share the width.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
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
from logotag_gui.core.review.commands import key

COLUMNS = ["Brand", "Seconds", "± 95%", "Model"]
COLUMN_TIPS = ["", "Estimated seconds on screen", "Half the 95% interval", "What the model and review count"]
NUMBERED_ROWS = 9  # the number keys 1-9

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
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Type to filter the brands")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(lambda _text: self._apply_filter())
        self.filter.returnPressed.connect(self._tick_first_match)
        self.brands = QListWidget()
        self.brands.setMaximumHeight(200)
        self.brands.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.confirm_btn = QPushButton(f"Confirm ({key('audit_confirm')})")
        self.confirm_btn.setToolTip("Confirm this frame's answer and go to the next frame of the sample")
        self.add_btn = QPushButton(f"Add brand ({key('audit_add')})")
        self.next_btn = QPushButton(f"Next frame ({key('audit_next')})")
        self.confirm_btn.clicked.connect(self.confirmRequested)
        self.add_btn.clicked.connect(self.addBrandRequested)
        self.next_btn.clicked.connect(self.nextRequested)
        answer = QGridLayout()  # two by two: three buttons side by side were cut at 1366 px
        for i, b in enumerate((self.confirm_btn, self.add_btn, self.next_btn)):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            answer.addWidget(b, i // 2, i % 2)
        self.table = _estimate_table()
        self.width_note = QLabel("")
        self.width_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.here)
        layout.addWidget(self.filter)
        layout.addWidget(self.brands)
        layout.addLayout(answer)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.width_note)
        self.frame: int | None = None
        self._set_answering(False)

    def _set_answering(self, on: bool) -> None:
        for w in (self.brands, self.confirm_btn, self.add_btn, self.filter):
            w.setEnabled(on)

    # ---- the frame shown ----------------------------------------------------------------------------
    def show_frame(self, audit: Audit | None, frame: int, brands: list[str] | None = None,
                   likely: list[str] | None = None) -> None:
        """On a frame of the sample: the project's `brands`, those on screen ticked and first (its answer, or
        what the project counts there), then the `likely` ones in their order (proposed near the frame, then in
        the clip), then the rest alphabetically."""
        self.brands.clear()
        self.filter.clear()
        in_sample = audit is not None and frame in audit.frames
        self.frame = frame if in_sample else None
        self._set_answering(in_sample)
        if not in_sample:
            self.here.setText(f"This frame is not in the sample: {key('audit_next')} goes to the next one to answer."
                              if audit is not None and audit.sample else "")
            return
        assert audit is not None
        answered = audit.answers.get(frame)
        shown = answered if answered is not None else audit.predicted(frame)
        self.here.setText(f"Frame {frame}: " + ("answered; change and confirm again if need be" if answered is not None
                                                else "tick the brands on screen, then confirm"))
        for brand in sorted(shown):
            self.add_brand(brand)
        for brand in unticked_order(brands or [], likely or [], shown):
            self.add_brand(brand, checked=False)

    def add_brand(self, brand: str, *, checked: bool = True) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for i in range(self.brands.count()):
            if self.brands.item(i).data(Qt.ItemDataRole.UserRole) == brand:
                self.brands.item(i).setCheckState(state)
                return
        item = QListWidgetItem(brand)
        item.setData(Qt.ItemDataRole.UserRole, brand)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(state)
        self.brands.addItem(item)
        self._apply_filter()

    def visible_brands(self) -> list[str]:
        """The brands listed as shown, in order (row n is the number key n + 1's)."""
        return [item.data(Qt.ItemDataRole.UserRole) for item in self._visible_items()]

    def _visible_items(self) -> list[QListWidgetItem]:
        return [self.brands.item(i) for i in range(self.brands.count()) if not self.brands.item(i).isHidden()]

    def _apply_filter(self) -> None:
        """Hide the brands the filter's text is not part of; number the first nine shown."""
        wanted = self.filter.text().strip().casefold()
        for i in range(self.brands.count()):
            item = self.brands.item(i)
            item.setHidden(bool(wanted) and wanted not in item.data(Qt.ItemDataRole.UserRole).casefold())
        for n, item in enumerate(self._visible_items()):
            brand = item.data(Qt.ItemDataRole.UserRole)
            item.setText(f"{n + 1}. {brand}" if n < NUMBERED_ROWS else brand)

    def _tick_first_match(self) -> None:
        """Enter in the filter: tick (or untick) the first brand shown, and clear the filter for the next."""
        if self.filter.text().strip():
            self.toggle(0)
            self.filter.clear()

    def toggle(self, row: int) -> None:
        """A number key: tick or untick the brand on that row as shown (after the filter)."""
        items = self._visible_items()
        if 0 <= row < len(items) and self.brands.isEnabled():
            item = items[row]
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
        more = estimate.more_frames
        self.width_note.setText(
            f"±{estimate.target:.0%} on the total: " + ("reached." if more == 0 else
                                                          "not reachable within the clip." if more is None else
                                                          f"about {more} frames more (draw them above)."))


def unticked_order(brands: list[str], likely: list[str], ticked: frozenset[str] | set[str]) -> list[str]:
    """The brands not ticked: the likely ones first in their order, then the rest alphabetically."""
    known = set(brands)
    first = [b for b in dict.fromkeys(likely) if b in known and b not in ticked]
    return first + sorted(known - set(first) - set(ticked))


def _estimate_table() -> QTableWidget:
    """Brand, seconds, interval and the model's figure: the brand's column takes what the others leave."""
    table = QTableWidget(0, len(COLUMNS))
    for col, (name, tip) in enumerate(zip(COLUMNS, COLUMN_TIPS, strict=True)):
        item = QTableWidgetItem(name)
        item.setToolTip(tip)
        table.setHorizontalHeaderItem(col, item)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(30)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    return table
