"""The status bar's messages, readable at any window width.

QStatusBar paints a message only to the left of its permanent widgets (the meter, a run's progress): a long
one ("Model 'lmms-lab/…' is not in the local cache: …") was cut under the meter, and the reason for a fallback
could not be read. Here a message is a label that yields its width to the permanent widgets: elided, with
the whole text in its tooltip, in the message log (the last messages, also in the log file) and, when it does
not fit, in a banner over the status bar (`banner`: the window places it) until the message goes.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

log = logging.getLogger(__name__)
KEEP_MESSAGES = 50  # the message log's length


class ElidedLabel(QLabel):
    """A one-line label that shows as much of its text as its width allows, ending in "…"."""

    elisionChanged = Signal(bool)  # the text shown is cut now (True) or whole again (False)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    @property
    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    @property
    def elided(self) -> bool:
        """The text shown is cut (the banner shows it whole)."""
        return self.text() != self._full

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())  # yields its width: never pushes the meter out

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 8, super().sizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        was = self.elided
        width = self.contentsRect().width()
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, width)))
        if self.elided != was:
            self.elisionChanged.emit(self.elided)


class MessageBar(QStatusBar):
    """`showMessage`, `clearMessage` and `currentMessage` as QStatusBar's, drawn in a label of its own."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_label = ElidedLabel()
        self.addWidget(self.message_label, 1)
        self.message_label.elisionChanged.connect(lambda _cut: self.place_banner())
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.setStyleSheet("background:#fff4c8; color:#222; padding:4px 8px; border-top:1px solid #c8b060;")
        self.banner.hide()
        self._message = ""
        self.history: list[tuple[float, str]] = []  # (when, message): the message log
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.timeout.connect(self.clearMessage)

    def showMessage(self, text: str, timeout: int = 0) -> None:  # type: ignore[override]
        self._message = text
        self.message_label.set_full_text(text)
        self._clear.stop()
        if timeout > 0:
            self._clear.start(timeout)
        if text:
            self._remember(text)
        self.messageChanged.emit(text)
        self.place_banner()

    def clearMessage(self) -> None:
        self.showMessage("")

    def currentMessage(self) -> str:
        return self._message

    def _remember(self, text: str) -> None:
        log.info("status: %s", text)
        self.history = [*self.history, (time.time(), text)][-KEEP_MESSAGES:]
        recent = "\n".join(f"{time.strftime('%H:%M:%S', time.localtime(t))}  {m}" for t, m in self.history[-10:])
        self.message_label.setToolTip(f"{text}\n\nEarlier messages:\n{recent}")

    def place_banner(self) -> None:
        """The banner says the whole message while the bar can show only part of it."""
        self.banner.setText(self._message)
        self.banner.setVisible(bool(self._message) and self.message_label.elided)
