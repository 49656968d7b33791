"""The views review taught, under the Dictionary: brand, where each was taught, how many boxes it proposed; a view
that proposes what is not its brand (a box that took in a score graphic) is deleted here, and the delete undone
(Undo, or Ctrl+Z while the list has the focus). Each is stored at once (core/review/learning.py's LearnedViews)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from logotag_gui.core.review.learned_views import LearnedView, LearnedViews

COLUMNS = ["Learned view", "Taught on", "By", "Proposed"]
TAUGHT_BY = {"added": "drawn", "box_edit": "tightened", "followed": "followed", "accept": "accepted",
             "relabel": "relabelled", "reject": "rejected", "present": "marked present"}


class LearnedViewsPanel(QWidget):
    changed = Signal()  # views deleted or put back: the dictionary's listing is out of date

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._views: LearnedViews | None = None
        self.list = QTreeWidget()
        self.list.setHeaderLabels(COLUMNS)
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Views of brands that review taught (drawn, accepted or rejected boxes) and how many "
                             "boxes each proposed. Delete one that proposes what is not its brand; Ctrl+Z here puts "
                             "it back.")
        self.list.installEventFilter(self)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Forget the selected views: learning no longer searches with them (Del)")
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Put the last deleted views back (Ctrl+Z in this list)")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.delete_button.clicked.connect(self.delete_selected)
        self.undo_button.clicked.connect(self.undo)
        self.list.itemSelectionChanged.connect(self._update_enabled)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._update_enabled()

    def under(self, above: QWidget) -> QSplitter:
        """`above` (the dictionary's references) with this list below it: one dock for both."""
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(above)
        split.addWidget(self)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        return split

    def set_views(self, views: LearnedViews | None) -> None:
        """The open project's learned views (None: no project)."""
        self._views = views
        self.status.clear()
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        if self._views is not None:
            for view in self._views.listed():
                self.list.addTopLevelItem(_item(view))
            for column in range(len(COLUMNS)):
                self.list.resizeColumnToContents(column)
        self._update_enabled()

    def selected_ids(self) -> list[int]:
        return [int(item.data(0, Qt.ItemDataRole.UserRole)) for item in self.list.selectedItems()]

    def delete_selected(self) -> None:
        ids = self.selected_ids()
        if self._views is None or not ids:
            return
        gone = self._views.delete(ids)
        self.status.setText(f"Deleted {gone} learned view{'s' if gone != 1 else ''}: learning no longer searches "
                            "with it (its pending boxes stay to review). Undo puts it back.")
        self.refresh()
        self.changed.emit()

    def undo(self) -> None:
        if self._views is None or not self._views.can_undo:
            return
        back = self._views.undo()
        self.status.setText(f"Put back {back} learned view{'s' if back != 1 else ''}.")
        self.refresh()
        self.changed.emit()

    def _update_enabled(self) -> None:
        self.delete_button.setEnabled(self._views is not None and bool(self.list.selectedItems()))
        self.undo_button.setEnabled(self._views is not None and self._views.can_undo)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Z and Del in the list are this list's (the window's Ctrl+Z undoes a review decision elsewhere)."""
        if watched is self.list and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                and isinstance(event, QKeyEvent):
            undo, delete = event.matches(QKeySequence.StandardKey.Undo), event.key() == Qt.Key.Key_Delete
            if undo or delete:
                if event.type() == QEvent.Type.KeyPress:
                    self.undo() if undo else self.delete_selected()
                event.accept()
                return True
        return super().eventFilter(watched, event)


def _item(view: LearnedView) -> QTreeWidgetItem:
    kind = "" if view.polarity == "positive" else " (look-alike)"
    where = f"{Path(view.video_path).name} · frame {view.frame_index}"
    item = QTreeWidgetItem([f"{view.brand}{kind}", where, TAUGHT_BY.get(view.taught_by, view.taught_by),
                            str(view.proposals)])
    item.setData(0, Qt.ItemDataRole.UserRole, view.id)
    item.setToolTip(1, f"{view.video_path}, frame {view.frame_index}, box {view.bbox.as_list()}"
                       f"{f', by {view.reviewer}' if view.reviewer else ''}")
    item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item
