"""Menus, toolbar and keyboard shortcuts of the main window, made from the commands declared once in
core/review/commands.py; here only the handlers that need a dialog or glue."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMenuBar, QStatusBar, QToolBar, QWidget

from logotag_gui.core.review import ReviewSession, VideoSummary
from logotag_gui.core.review.commands import COMMANDS, MENUS, TOOLBAR_ORDER, Command, sheet_rows
from logotag_gui.qt.clip_view import ClipView
from logotag_gui.qt.review_controller import ReviewController
from logotag_gui.qt.run_controller import RunController
from logotag_gui.qt.widgets.audit_panel import AuditPanel
from logotag_gui.qt.widgets.exposure_panel import ExposurePanel


class ActionHost(Protocol):
    """The window the actions act on: the main window (main_window.py), which builds them, so the actions name
    what they use here rather than importing the window."""

    review: ReviewController
    runs: RunController
    clip_view: ClipView
    audit_panel: AuditPanel
    exposure: ExposurePanel
    video: VideoSummary | None
    reviewer: str
    settings: QSettings

    @property
    def session(self) -> ReviewSession | None: ...

    def window(self) -> QWidget: ...  # the top-level widget: the actions' and dialogs' parent
    def menuBar(self) -> QMenuBar: ...
    def addToolBar(self, title: str, /) -> QToolBar: ...
    def addAction(self, action: QAction, /) -> None: ...
    def statusBar(self) -> QStatusBar: ...
    def close(self) -> bool: ...
    def open_project(self, target: str) -> bool: ...
    def recent_projects(self) -> list[str]: ...
    def add_clips(self, paths: list[str]) -> None: ...
    def set_logos(self, folder: str) -> bool: ...
    def export_dialog(self, scope: str) -> None: ...
    def report_dialog(self) -> None: ...
    def show_audit_panel(self) -> None: ...
    def show_calibration(self) -> object: ...  # the background task's signals
    def show_shortcuts(self) -> None: ...
    def cancel_busy(self) -> None: ...


def _new_project(w: ActionHost) -> None:
    path, _ = QFileDialog.getSaveFileName(w.window(), "New project", "project.logotag.sqlite",
                                          "LogoTag project (*.sqlite)")
    if path:
        w.open_project(path)


def _open_project(w: ActionHost) -> None:
    path, _ = QFileDialog.getOpenFileName(w.window(), "Open project", "", "LogoTag project (*.sqlite);;All files (*)")
    if path:
        w.open_project(path)


def _open_url(w: ActionHost) -> None:
    url, ok = QInputDialog.getText(w.window(), "Open shared project", "Database URL (e.g. postgresql+psycopg://user@host/db):")
    if ok and url:
        w.open_project(url.strip())


def _add_clips(w: ActionHost) -> None:
    paths, _ = QFileDialog.getOpenFileNames(w.window(), "Add clips", "",
                                            "Videos (*.mp4 *.mov *.mkv *.webm *.m4v *.avi)")
    if paths:
        w.add_clips(paths)


def _add_image_folder(w: ActionHost) -> None:
    folder = QFileDialog.getExistingDirectory(w.window(), "Add a folder of images")
    if folder:
        w.add_clips([folder])


def _set_logos(w: ActionHost) -> None:
    folder = QFileDialog.getExistingDirectory(w.window(), "Logo folder (<brand>.png or <brand>/<any>.png)")
    if folder:
        w.set_logos(folder)


def _reviewer(w: ActionHost) -> None:
    name, ok = QInputDialog.getText(w.window(), "Reviewer", "Your name (stored with every decision):", text=w.reviewer)
    if ok and name.strip():
        w.reviewer = name.strip()
        w.settings.setValue("reviewer", w.reviewer)
        if w.session is not None:
            w.session.reviewer = w.reviewer


def _draw(w: ActionHost) -> None:
    if w.video is not None:
        w.clip_view.view.set_draw_mode(True)
        w.statusBar().showMessage("Drag a box around the missed logo (Esc cancels); it is then followed through the "
                                  "clip", 6000)


def _toggle(w: ActionHost, attribute: str, on: bool) -> None:
    w.review.set_option(attribute, on)


def _audit_panel(w: ActionHost) -> None:
    w.show_audit_panel()


def _calibration(w: ActionHost) -> None:
    w.show_calibration()


def _counting_rule(w: ActionHost) -> None:
    """The project's counting rule: a preset or the client's values, stored at once; every figure counts again."""
    from logotag_gui.qt.dialogs.rule_dialog import RuleDialog

    if w.session is None:
        return
    dialog = RuleDialog(w.exposure.rule, w.window())
    if not dialog.exec():  # cancelled
        return
    w.exposure.set_rule(dialog.rule())
    w.statusBar().showMessage(f"{w.exposure.rule.describe()} Every figure counts under it now.", 8000)


def _show_rejected(w: ActionHost) -> None:
    w.statusBar().showMessage(w.clip_view.view.toggle_rejected(), 4000)


def _run_clip(w: ActionHost) -> None:
    w.runs.run_clips([w.video.id] if w.video else [])


def _show_maybe(w: ActionHost) -> None:
    session = w.session
    if session is None:
        return
    session.show_maybe(not session.showing_maybe)
    waiting = len(session.maybe())
    w.statusBar().showMessage(f"Learned maybes shown among the exposures ({waiting})" if session.showing_maybe else
                              f"Learned maybes hidden ({waiting} waiting)", 4000)


# The handlers of `call="app:<name>"` commands: those that need a dialog or glue.
APP_HANDLERS: dict[str, Callable[[ActionHost], None]] = {
    "new_project": _new_project, "open_project": _open_project, "open_url": _open_url, "add_clips": _add_clips,
    "add_image_folder": _add_image_folder, "set_logos": _set_logos, "reviewer": _reviewer, "draw": _draw,
    "audit_panel": _audit_panel, "calibration": _calibration, "show_rejected": _show_rejected,
    "run_clip": _run_clip, "show_maybe": _show_maybe, "counting_rule": _counting_rule,
}


def perform(w: ActionHost, command: Command, *extra: object) -> None:
    """Run `command` on the window `w` (core/review/commands.py says how `call` is read)."""
    kwargs = dict(command.kwargs)
    if command.call.startswith("app:"):
        APP_HANDLERS[command.call[4:]](w)
    elif command.call.startswith("verb:"):
        assistant = w.review.assistant
        if assistant is None:
            return
        name = command.call[5:]  # the assistant's verb (it learns from the step) or else the session's
        verb = getattr(assistant, name, None) or getattr(assistant.session, name)
        done = w.review.saving(verb, w.clip_view.current, *command.args, *extra, **kwargs)
        if done is not None and command.done:
            w.statusBar().showMessage(command.done, 4000)
    else:
        target: object = w
        for part in command.call.split("."):
            target = getattr(target, part)
        target(*command.args, *extra, **kwargs)  # type: ignore[operator]


# Review options, on by default: (name, text, controller attribute)
TOGGLES = [("follow_drawn", "Follow drawn and tightened boxes through the clip", "follow_drawn"),
           ("learn", "Learn from decisions while reviewing", "learn")]
SHORTCUT_SHEET = [(" / ".join(QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) if k != "1-9"
                              and " " not in k else k for k in keys.split(" / ")), text)
                  for keys, text in sheet_rows()]


def _action(w: ActionHost, command: Command, shortcut: str, text: str, *extra: object) -> QAction:
    action = QAction(text, w.window())
    action.setObjectName(command.name if not extra else f"{command.name}_{extra[0]}")
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{text} ({shortcut})")
    action.needs = command.needs  # type: ignore[attr-defined]
    action.triggered.connect(lambda _=False, c=command, e=extra: perform(w, c, *e))
    w.addAction(action)  # shortcuts work wherever focus is in the window
    return action


def build_actions(w: ActionHost) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    menus = {menu: w.menuBar().addMenu(menu) for menu in MENUS}
    for command in COMMANDS:
        if command.is_gesture or not command.call:
            continue
        if command.key == "1-9":  # nine window shortcuts (row n of the audit panel), not nine menu items
            for n, digit in enumerate(command.digits):
                actions[f"{command.name}_{n}"] = _action(w, command, digit, f"{command.text} (row {digit})", n)
            continue
        action = _action(w, command, command.key, command.text)
        if command.in_menu:
            menus[command.menu].addAction(action)
        actions[command.name] = action
    menus["Re&view"].addSeparator()
    for name, text, attribute in TOGGLES:
        toggle = QAction(text, w.window())
        toggle.setObjectName(name)
        toggle.setCheckable(True)
        toggle.setChecked(getattr(w.review, attribute))
        toggle.toggled.connect(lambda on, a=attribute: _toggle(w, a, on))
        menus["Re&view"].addAction(toggle)
        actions[name] = toggle
    recent = menus["&File"].addMenu("Open recent")
    recent.aboutToShow.connect(lambda: _fill_recent(w, recent))
    toolbar = w.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    for name in TOOLBAR_ORDER:
        toolbar.addAction(actions[name])
    return actions


def _fill_recent(w: ActionHost, menu: QMenu) -> None:
    menu.clear()
    for target in w.recent_projects():
        menu.addAction(target, partial(w.open_project, target))
    if menu.isEmpty():
        menu.addAction("(none)").setEnabled(False)
