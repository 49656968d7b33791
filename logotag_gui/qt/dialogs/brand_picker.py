"""Choosing a brand for a drawn, relabelled or marked box: typed, never pre-filled.

A pre-filled brand made Enter label a new box with the last brand used, whatever was on screen; and a
dialog in the middle of the window hid the box being named. Here the field starts empty (the last brand
is offered in the placeholder: Tab takes it), the list narrows to the brands containing what is typed,
Enter takes the highlighted one, and the dialog opens beside the box, not over it.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QVBoxLayout, QWidget


class BrandPicker(QDialog):
    def __init__(self, title: str, brands: list[str], *, suggestion: str | None = None, near: QRect | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.suggestion = suggestion if suggestion in brands else None
        self.line = QLineEdit()
        self.line.setPlaceholderText(f"type a brand (Tab: {self.suggestion})" if self.suggestion else "type a brand")
        self.list = QListWidget()
        self.list.addItems(brands)
        self.list.setMaximumHeight(220)
        self.list.itemActivated.connect(lambda item: self._take(item.text()))
        self.note = QLabel("Enter takes the highlighted brand; a new name is added after you confirm it")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.line, self.list, self.note):
            layout.addWidget(widget)
        self.line.textChanged.connect(self._narrow)
        self.line.returnPressed.connect(self._enter)
        self.line.installEventFilter(self)
        self._chosen = ""
        self._narrow("")
        self.list.setCurrentRow(-1)  # nothing highlighted until something is typed: Enter alone names nothing
        if near is not None:
            self._beside(near)

    def chosen(self) -> str:
        return self._chosen

    def eventFilter(self, obj, event) -> bool:
        if obj is self.line and event.type() == event.Type.KeyPress:
            if event.key() == Qt.Key.Key_Tab and not self.line.text() and self.suggestion:
                self.line.setText(self.suggestion)
                return True
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):  # move in the list without leaving the field
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
                if rows:
                    at = rows.index(self.list.currentRow()) if self.list.currentRow() in rows else -1
                    self.list.setCurrentRow(rows[max(0, min(len(rows) - 1, at + step))])
                return True
        return super().eventFilter(obj, event)

    def _narrow(self, text: str) -> None:
        typed = text.strip().lower()
        first = None
        exact = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            shown = typed in item.text().lower()
            item.setHidden(not shown)
            if shown and first is None:
                first = i
            if item.text().lower() == typed:
                exact = i
        if typed:
            best = exact if exact is not None else first
            self.list.setCurrentRow(best if best is not None else -1)

    def _enter(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._take(item.text())
        elif self.line.text().strip():
            self._take(self.line.text().strip())  # a new name: the caller asks before adding it

    def _take(self, brand: str) -> None:
        self._chosen = brand
        self.accept()

    def _beside(self, box: QRect) -> None:
        """To the right of the box (global coordinates), else to its left, kept on the screen."""
        self.adjustSize()
        screen = QGuiApplication.screenAt(box.center()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry() if screen is not None else QRect(0, 0, 1 << 14, 1 << 14)
        size = self.sizeHint()
        x = box.right() + 16 if box.right() + 16 + size.width() <= area.right() else box.left() - 16 - size.width()
        x = max(area.left(), min(x, area.right() - size.width()))
        y = max(area.top(), min(box.top(), area.bottom() - size.height()))
        self.move(x, y)
