"""Table model over the review session's candidates: sorting and filtering in Python lists, rows exposed lazily.

QSortFilterProxyModel would call data() once per comparison (millions of Python calls for 100,000
rows); here a sort is one `list.sort` with a key and a filter one list comprehension, and the view
only ever asks for the rows it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from logotag_gui.core.base.records import Candidate, ReviewState
from logotag_gui.core.review import Changes, ReviewSession

COLUMNS = ["Frame", "Time", "Brand", "Score", "Verdict", "Conf.", "Decision", "Track"]
STATE_COLOURS = {ReviewState.PENDING: QColor(240, 190, 40), ReviewState.ACCEPTED: QColor(60, 180, 90),
                 ReviewState.REJECTED: QColor(210, 60, 60)}
_SORT_KEYS: list[Callable[[Candidate], Any]] = [
    lambda c: (c.frame.index, c.id or 0),
    lambda c: c.frame.t,
    lambda c: c.final_brand.lower(),
    lambda c: c.score,
    lambda c: c.verdict.state.value,
    lambda c: c.verdict.confidence if c.verdict.confidence is not None else -1.0,
    lambda c: c.review.state.value,
    lambda c: c.track_id if c.track_id is not None else -1,
]


@dataclass(slots=True)
class Filter:
    brand: str | None = None
    state: str | None = None  # ReviewState value
    verdict: str | None = None  # VerdictState value
    min_score: float = 0.0

    def accepts(self, c: Candidate) -> bool:
        return ((self.brand is None or c.final_brand == self.brand)
                and (self.state is None or c.review.state.value == self.state)
                and (self.verdict is None or c.verdict.state.value == self.verdict)
                and c.score >= self.min_score)


def format_time(t: float) -> str:
    m, s = divmod(t, 60)
    return f"{int(m):02d}:{s:05.2f}"


class CandidateTableModel(QAbstractTableModel):
    """A view of the review session's candidates: it keeps only the ids in display order (filter and
    sort); every cell is read from the session, so a decision shows the moment the session has it."""

    CHUNK = 500

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.session: ReviewSession | None = None
        self._rows: list[int] = []  # candidate ids after filter and sort
        self._row_of: dict[int, int] = {}
        self._shown = 0
        self._filter = Filter()
        self._sort = (0, Qt.SortOrder.AscendingOrder)
        self._unsubscribe: Callable[[], None] | None = None

    # ---- following the session -------------------------------------------------------------------
    def set_session(self, session: ReviewSession | None) -> None:
        """Show this session's candidates and follow its changes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.beginResetModel()
        self.session = session
        self._rebuild()
        self.endResetModel()
        if session is not None:
            self._unsubscribe = session.subscribe(self._changed)

    def _changed(self, changes: Changes) -> None:
        if changes.reset or changes.added or changes.removed:
            self.candidates_added()
        elif changes.changed:
            self.candidates_changed(changes.changed)

    def candidates_added(self, _candidates: Sequence[Candidate] = ()) -> None:
        """Rows stored by a run or by review: re-filtered and re-sorted, the rows already shown kept."""
        self.beginResetModel()
        self._rebuild(keep_shown=True)
        self.endResetModel()

    def candidates_changed(self, candidates: Sequence[Candidate]) -> None:
        # A changed row stays where it is until the next filter or sort: rows must not jump under the reviewer.
        for c in candidates:
            row = self._row_of.get(c.stored_id)
            if row is not None and row < self._shown:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def set_filter(self, flt: Filter) -> None:
        self.beginResetModel()
        self._filter = flt
        self._rebuild()
        self.endResetModel()

    def _rebuild(self, keep_shown: bool = False) -> None:
        cands = self.session.candidates if self.session is not None else []
        if self._filter != Filter():
            cands = [c for c in cands if self._filter.accepts(c)]
        column, order = self._sort
        cands = sorted(cands, key=_SORT_KEYS[column], reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [c.stored_id for c in cands]
        self._row_of = {cid: row for row, cid in enumerate(self._rows)}
        self._shown = min(len(self._rows), max(self._shown if keep_shown else 0, self.CHUNK))

    # ---- Qt model API ----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent=QModelIndex()) -> None:
        extra = min(self.CHUNK, len(self._rows) - self._shown)
        if extra <= 0:
            return
        self.beginInsertRows(QModelIndex(), self._shown, self._shown + extra - 1)
        self._shown += extra
        self.endInsertRows()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._rebuild(keep_shown=True)
        self.layoutChanged.emit()

    @property
    def sorted_by_review_order(self) -> bool:
        return self._sort == (0, Qt.SortOrder.AscendingOrder) and self._filter == Filter()

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= self._shown or self.session is None:
            return None
        c = self.session.get(self._rows[index.row()])
        if c is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(c, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == 6:
            return STATE_COLOURS[c.review.state]
        if role == Qt.ItemDataRole.UserRole:
            return c
        return None

    @staticmethod
    def _display(c: Candidate, col: int) -> str:
        if col == 0:
            return c.frame.name or str(c.frame.index)
        if col == 1:
            return format_time(c.frame.t)
        if col == 2:
            return c.final_brand + (" *" if c.review.brand else "") + ("" if c.has_box else " (on screen, no box)")
        if col == 3:
            return f"{c.score:.3f}" if c.has_box else "–"
        if col == 4:
            shown = "not verified" if c.verdict.state.value == "not_run" else c.verdict.state.value
            return shown + (" (track)" if c.verdict.from_track else "")
        if col == 5:
            return "" if c.verdict.confidence is None else f"{c.verdict.confidence:.2f}"
        if col == 6:
            return c.review.state.value + (" (like a rejected box)" if c.hint and not c.review.decided else "")
        return "" if c.track_id is None else str(c.track_id)

    # ---- helpers for the window ---------------------------------------------------------------
    def candidate_at(self, row: int) -> Candidate | None:
        if not 0 <= row < self._shown or self.session is None:
            return None
        return self.session.get(self._rows[row])

    def row_of(self, candidate_id: int) -> int | None:
        """The view row of a candidate, fetching more rows if it lies beyond those shown."""
        row = self._row_of.get(candidate_id)
        if row is None:
            return None
        while row >= self._shown and self.canFetchMore():
            self.fetchMore()
        return row

    def filtered_count(self) -> int:
        return len(self._rows)

    def total_count(self) -> int:
        return len(self.session) if self.session is not None else 0

    def ids(self) -> list[int]:
        """The candidate ids in the table's order (its sort and filter)."""
        return list(self._rows)
