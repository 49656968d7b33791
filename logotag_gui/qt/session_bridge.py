"""The review session's change events as Qt signals, so that widgets connect to them like to any other."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from logotag_gui.core.review import ReviewEvent, ReviewSession


class SessionBridge(QObject):
    changed = Signal(object)  # list[Candidate]: decided, relabelled, re-tracked, hinted
    added = Signal(object)  # list[Candidate]: drawn, followed, found, stored by a run
    removed = Signal(object)  # list[int]: ids that are gone (an undone drawing or proposal)
    reset = Signal()  # everything may have changed
    selected = Signal(object)  # the current candidate id, or None
    history = Signal()  # undo / redo availability

    def __init__(self, session: ReviewSession, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self._unsubscribe = session.subscribe(self._relay)

    def _relay(self, event: ReviewEvent) -> None:
        if event.kind == "changed":
            self.changed.emit(list(event.candidates))
        elif event.kind == "added":
            self.added.emit(list(event.candidates))
        elif event.kind == "removed":
            self.removed.emit(list(event.ids))
        elif event.kind == "reset":
            self.reset.emit()
        elif event.kind == "selected":
            self.selected.emit(event.ids[0] if event.ids else None)
        elif event.kind == "history":
            self.history.emit()

    def detach(self) -> None:
        self._unsubscribe()
