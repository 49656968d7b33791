"""Exposure panel: per-brand figures for the current clip and a chart of seconds on screen over time.

Counted under the project's counting rule (base/counting.py), the one the reports count under, with the sharpness
the reports measured (the cache: nothing is decoded here; a box not measured yet counts, as unmeasured). The rule's
sentence stands above the table, with a button that changes it (the window's "Counting rule…" command; the dialog
is qt/dialogs/rule_dialog.py): the rule is stored at once and every figure (this panel, the status bar's meter)
is counted again from the stored boxes, without a new run. Recomputed a moment after each decision
(debounced), so the figures follow the reviewer without recomputing on every key press. Where the clip has an
audit sample, each brand's estimated seconds with their 95% interval stand beside the reviewed ones.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.analysis.audit import ClipEstimate
from logotag_gui.core.analysis.exposure import BrandExposure, ExposureRules, clip_exposure, cumulative_steps
from logotag_gui.core.analysis.report import brand_colours
from logotag_gui.core.base.counting import DEFAULT, CountingRule
from logotag_gui.core.base.records import Candidate
from logotag_gui.core.review import Changes, ReviewSession

COLUMNS = ["Brand", "Seconds", "Seen s", "Estimate ± 95%", "Exposures", "Mean size", "Max size", "Centre s",
           "Solus s", "No box s", "Excluded"]


def excluded_text(s: BrandExposure) -> str:
    """What the rule left out of a brand's seconds, in the table's last column."""
    parts = [(s.excluded_small, "small"), (s.excluded_hidden, "out of view"), (s.excluded_blurred, "blurred"),
             (s.excluded_brief, "brief")]
    return " / ".join(f"{n} {what}" for n, what in parts if n) or "0"


class ExposureChart(QWidget):
    """Cumulative seconds on screen per brand across the clip's duration."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self._stats: dict[str, BrandExposure] = {}
        self._colours: dict[str, tuple[int, int, int]] = {}
        self._duration = 1.0

    def set_data(self, stats: dict[str, BrandExposure], duration_s: float,
                 colours: dict[str, tuple[int, int, int]]) -> None:
        self._stats, self._duration, self._colours = stats, max(duration_s, 1e-6), colours
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(250, 250, 250))
        left, right, top, bottom = 36, self.width() - 10, 8, self.height() - 18
        p.setPen(QColor(120, 120, 120))
        p.drawLine(left, bottom, right, bottom)
        p.drawLine(left, top, left, bottom)
        peak = max((s.seconds for s in self._stats.values()), default=0.0) or 1.0
        p.drawText(2, top + 10, f"{peak:.0f}s")
        p.drawText(right - 40, self.height() - 4, f"{self._duration:.0f} s")
        for s in self._stats.values():
            p.setPen(QPen(QColor(*self._colours.get(s.brand, (90, 90, 90))), 2))
            corners = [QPointF(left + t / self._duration * (right - left), bottom - cum / peak * (bottom - top))
                       for t, cum in cumulative_steps(s.timeline, self._duration)]
            p.drawPolyline(corners)
        p.end()


class ExposurePanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.source = QComboBox()
        self.source.addItem("Reviewed (accepted)", "accepted")
        self.source.addItem("Model 'yes' (not reviewed)", "model")
        self.rule = DEFAULT  # the project's counting rule, read with the session
        self.rule_label = QLabel()
        self.rule_label.setWordWrap(True)
        self.change_rule_btn = QPushButton("Counting rule…")
        self.change_rule_btn.setToolTip("When a mark counts: a preset (any, strict, mrc) or your client's values; "
                                        "stored in the project, every figure counts under it")
        self.change_rule_btn.clicked.connect(self.change_rule)
        self.change_rule_btn.setEnabled(False)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("From"))
        controls.addWidget(self.source)
        controls.addWidget(self.change_rule_btn)
        controls.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = ExposureChart()
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.rule_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.chart)
        self._candidates: list[Candidate] = []
        self._interval, self._duration = 0.5, 1.0
        self.stats: dict[str, BrandExposure] = {}
        self.estimate: ClipEstimate | None = None
        self.session: ReviewSession | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.recompute)
        self.source.currentIndexChanged.connect(self.recompute)
        self._show_rule()

    def rules(self) -> ExposureRules:
        """What the panel counts, and what a report written from the app counts: the source chosen, under the
        project's counting rule (the report reads the stored rule)."""
        return ExposureRules(source=self.source.currentData())

    def _show_rule(self) -> None:
        unmeasured = sum(s.unmeasured for s in self.stats.values())
        note = (f" ({unmeasured} boxes not measured for sharpness yet count: a report measures them)"
                if unmeasured else "")
        self.rule_label.setText(self.rule.describe() + note)

    def change_rule(self) -> None:
        """Ask for the project's counting rule: the window's "Counting rule…" command (qt/actions.py opens the
        dialog and hands the rule to `set_rule`), found by its name, as widgets know nothing of the window."""
        action = self.window().findChild(QAction, "counting_rule")
        if action is not None:
            action.trigger()

    def set_rule(self, rule: CountingRule) -> None:
        """Store `rule` as the project's counting rule and count again: this panel at once; the meter through the
        session's listeners (told that every brand's exposures may count otherwise)."""
        session = self.session
        if session is None:
            return
        session.repo.set_counting_rule(rule, by=session.reviewer)
        self.rule = session.repo.counting_rule()
        self.recompute()
        session.notify(Changes(exposures=frozenset(session.brands_on_screen()) | frozenset(self.stats)))

    def set_session(self, session: ReviewSession | None) -> None:
        """Follow this session's clip (or none)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session, self.estimate = session, None
        if session is None:
            self._candidates, self.rule = [], DEFAULT
        else:
            self._candidates = session.candidates
            self._interval, self._duration = session.interval_s, session.video.duration_s
            self.rule = session.repo.counting_rule()
            self._unsubscribe = session.subscribe(self._changed)
        self.change_rule_btn.setEnabled(session is not None)
        self.recompute()

    def _changed(self, changes: Changes) -> None:
        if changes.candidates and self.session is not None:
            self._candidates = self.session.candidates
            self._debounce.start()
        if changes.reset and self.session is not None:  # read again: another window may have changed the rule
            self.rule = self.session.repo.counting_rule()
            self._debounce.start()

    def set_estimate(self, estimate: ClipEstimate | None) -> None:
        self.estimate = estimate
        self.recompute()

    def recompute(self) -> None:
        from logotag_gui.core.analysis import sharpness

        session = self.session
        measured = (sharpness.cached(session.video.path, self._candidates)
                    if session is not None and self.rule.needs_pixels else None)
        self.stats = clip_exposure(self._candidates, interval_s=self._interval, rules=self.rules(),
                                   grid=session.sampled if session is not None else None, rule=self.rule,
                                   sharpness=measured)
        self._show_rule()
        estimates = self.estimate.brands if self.estimate is not None else {}
        brands = sorted(set(self.stats) | set(estimates))
        colours = dict(zip(brands, brand_colours(len(brands)), strict=True))  # a brand's line and legend alike
        self.table.setRowCount(len(brands))
        for row, brand in enumerate(brands):
            s = self.stats.get(brand, BrandExposure(brand))
            e = estimates.get(brand)
            values = [s.brand, f"{s.seconds:.1f}", f"{s.seen_seconds:.1f}", e.format() if e is not None else "–",
                      str(s.exposures), f"{s.mean_size_share:.2%}", f"{s.max_size_share:.2%}",
                      f"{s.centre_seconds:.1f}", f"{s.solus_seconds:.1f}", f"{s.unknown_seconds:.1f}",
                      excluded_text(s)]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                else:  # the chart's legend: the brand in its line's colour
                    item.setForeground(QColor(*colours[brand]))
                    item.setText(f"━ {text}")
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.chart.set_data(self.stats, self._duration, colours)
