"""The window's outputs: exports and the exposure report, written in the background, offered in the project's
folder under its name (the folder chosen last is remembered)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from logotag_gui.qt.dialogs.messages import show_error
from logotag_gui.qt.workers import run_in_background

if TYPE_CHECKING:
    from logotag_gui.core.review import Project, VideoSummary


class Outputs:
    if TYPE_CHECKING:  # what these use of the main window (main_window.py)
        settings: QSettings
        video: VideoSummary | None
        exposure: Any  # the exposure panel: its rules()

        @property
        def opened(self) -> Project: ...

        def statusBar(self) -> QStatusBar: ...

    def _parent(self) -> QWidget:
        return self  # type: ignore[return-value]  # a QMainWindow: the dialogs' and tasks' parent

    def export_to(self, path: str, *, reviewed_only: bool, accepted_only: bool = False, this_clip_only: bool = False):
        """Export in the background (a large project takes seconds); returns the task's signals."""
        video_id = self.video.id if this_clip_only and self.video else None
        return run_in_background(
            lambda project: project.export(path, video_id=video_id, reviewed_only=reviewed_only,
                                           accepted_only=accepted_only),
            db_url=self.opened.url, parent=self._parent(),
            on_done=lambda n: self.statusBar().showMessage(f"Exported {n} records to {path}", 8000),
            on_error=lambda m: show_error(self._parent(), "Export failed", m))

    def export_dialog(self, scope: str) -> None:
        """scope: "all" records, "reviewed" (accepted and rejected), or "accepted" (the detections that count)."""
        suffix = {"all": ".jsonl", "reviewed": "-reviewed.jsonl", "accepted": "-accepted.jsonl"}[scope]
        path = self._save_as("Export records", suffix, "JSON Lines (*.jsonl);;CSV (*.csv)")
        if path:
            self.export_to(path, reviewed_only=scope == "reviewed", accepted_only=scope == "accepted")

    def report_dialog(self) -> None:
        path = self._save_as("Exposure report", "-exposure.html", "HTML (*.html);;CSV (*.csv)")
        if path:
            self.write_report(path)

    def output_default(self, suffix: str) -> Path:
        """Where an export or report of the open project is offered: `<project><suffix>` (match.logotag.sqlite:
        match.jsonl, match-exposure.html) in the folder this project's last one went to, else the project's
        folder (a project on a database server: the last folder used, else the home folder)."""
        url = self.opened.url
        local = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None
        stem = Path(local.name if local is not None else url.rsplit("/", 1)[-1].split("?")[0])
        while stem.suffix.lower() in {".sqlite", ".sqlite3", ".db", ".logotag"}:
            stem = stem.with_suffix("")
        last = str(self.settings.value("output/folder", "") or "")
        last_ok = bool(last) and Path(last).is_dir()
        if last_ok and (self.settings.value("output/project", "") == _project_key(url) or local is None):
            folder = Path(last)
        elif local is not None:
            folder = local.parent
        else:
            folder = Path(last) if last_ok else Path.home()
        return folder / f"{stem.name or 'logotag'}{suffix}"

    def _save_as(self, title: str, suffix: str, filters: str) -> str:
        """A save dialog on `output_default`; the folder chosen is remembered (QSettings) for the next one."""
        path, _ = QFileDialog.getSaveFileName(self._parent(), title, str(self.output_default(suffix)), filters)
        if path:
            self.settings.setValue("output/folder", str(Path(path).parent))
            self.settings.setValue("output/project", _project_key(self.opened.url))
        return path

    def write_report(self, path: str):
        """Build and write the exposure report in the background; returns the task's signals."""
        rules = self.exposure.rules()
        return run_in_background(
            lambda project: project.write_report(path, rules=rules), db_url=self.opened.url, parent=self._parent(),
            on_done=lambda p: self.statusBar().showMessage(f"Exposure report written to {p}", 8000),
            on_error=lambda m: show_error(self._parent(), "Report failed", m))


def _project_key(url: str) -> str:
    """Which project the last output folder belongs to, without keeping a database URL (and its password)."""
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()[:16]
