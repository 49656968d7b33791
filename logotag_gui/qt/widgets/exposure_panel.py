"""Exposure panel: per-brand figures for the current clip and a chart of seconds on screen over time.

Recomputed from the core's exposure rules a moment after each decision (debounced), so the figures
follow the reviewer without recomputing on every key press. Where the clip has an audit sample, each
brand's estimated seconds with their 95% interval stand beside the reviewed ones.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.analysis.audit import ClipEstimate
from logotag_gui.core.analysis.exposure import BrandExposure, ExposureRules, clip_exposure, cumulative_steps
from logotag_gui.core.analysis.report import brand_colours
from logotag_gui.core.base.records import Candidate
from logotag_gui.core.review import Changes, ReviewSession

COLUMNS = ["Brand", "Seconds", "Estimate ± 95%", "Exposures", "Mean size", "Max size", "Centre s", "Solus s",
           "No box s", "Excluded"]


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
        self.min_size = QDoubleSpinBox()
        self.min_size.setRange(0, 10)
        self.min_size.setSuffix(" %")
        self.min_size.setSingleStep(0.1)
        self.min_duration = QDoubleSpinBox()
        self.min_duration.setRange(0, 60)
        self.min_duration.setSuffix(" s")
        self.min_duration.setSingleStep(0.5)
        controls = QHBoxLayout()
        for label, w in (("From", self.source), ("Min size", self.min_size), ("Min duration", self.min_duration)):
            controls.addWidget(QLabel(label))
            controls.addWidget(w)
        controls.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chart = ExposureChart()
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
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
        self.min_size.valueChanged.connect(self.recompute)
        self.min_duration.valueChanged.connect(self.recompute)

    def rules(self) -> ExposureRules:
        return ExposureRules(source=self.source.currentData(), min_size_share=self.min_size.value() / 100,
                             min_duration_s=self.min_duration.value())

    def set_session(self, session: ReviewSession | None) -> None:
        """Follow this session's clip (or none)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session, self.estimate = session, None
        if session is None:
            self._candidates = []
        else:
            self._candidates = session.candidates
            self._interval, self._duration = session.interval_s, session.video.duration_s
            self._unsubscribe = session.subscribe(self._changed)
        self.recompute()

    def _changed(self, changes: Changes) -> None:
        if changes.candidates and self.session is not None:
            self._candidates = self.session.candidates
            self._debounce.start()

    def set_estimate(self, estimate: ClipEstimate | None) -> None:
        self.estimate = estimate
        self.recompute()

    def recompute(self) -> None:
        self.stats = clip_exposure(self._candidates, interval_s=self._interval, rules=self.rules())
        estimates = self.estimate.brands if self.estimate is not None else {}
        brands = sorted(set(self.stats) | set(estimates))
        colours = dict(zip(brands, brand_colours(len(brands)), strict=True))  # a brand's line and legend alike
        self.table.setRowCount(len(brands))
        for row, brand in enumerate(brands):
            s = self.stats.get(brand, BrandExposure(brand))
            e = estimates.get(brand)
            values = [s.brand, f"{s.seconds:.1f}", e.format() if e is not None else "–", str(s.exposures),
                      f"{s.mean_size_share:.2%}", f"{s.max_size_share:.2%}", f"{s.centre_seconds:.1f}",
                      f"{s.solus_seconds:.1f}", f"{s.unknown_seconds:.1f}",
                      f"{s.excluded_small} small / {s.excluded_brief} brief"]
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
