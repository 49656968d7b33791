"""Menus, toolbar and keyboard shortcuts of the main window, declared in one table."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMenuBar, QStatusBar, QToolBar, QWidget

from logotag_gui.core.base.records import DecisionKind
from logotag_gui.core.review import ReviewSession, VideoSummary
from logotag_gui.qt.clip_view import ClipView
from logotag_gui.qt.review_controller import ReviewController
from logotag_gui.qt.run_controller import RunController
from logotag_gui.qt.widgets.audit_panel import AuditPanel


class ActionHost(Protocol):
    """The window the actions act on: the main window (main_window.py), which builds them, so the actions name
    what they use here rather than importing the window."""

    review: ReviewController
    runs: RunController
    clip_view: ClipView
    audit_panel: AuditPanel
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


# name, menu, text, shortcut, needs (project | clip | idle | ""), handler
ACTIONS: list[tuple[str, str, str, str, str, Callable]] = [
    ("new", "&File", "New project…", "Ctrl+N", "", _new_project),
    ("open", "&File", "Open project…", "Ctrl+O", "", _open_project),
    ("open_url", "&File", "Open shared project (database URL)…", "", "", _open_url),
    ("add_clips", "&File", "Add clips…", "Ctrl+Shift+O", "project", _add_clips),
    ("add_images", "&File", "Add image folder…", "", "project", _add_image_folder),
    ("logos", "&File", "Set logo folder…", "Ctrl+L", "project", _set_logos),
    ("export_all", "&File", "Export all records…", "Ctrl+E", "project", lambda w: w.export_dialog("all")),
    ("export_accepted", "&File", "Export accepted detections…", "", "project", lambda w: w.export_dialog("accepted")),
    ("export_reviewed", "&File", "Export reviewed records (accepted and rejected)…", "Ctrl+Shift+E", "project",
     lambda w: w.export_dialog("reviewed")),
    ("report", "&File", "Exposure report (HTML/CSV)…", "Ctrl+Shift+P", "project", lambda w: w.report_dialog()),
    ("reviewer", "&File", "Reviewer name…", "", "", _reviewer),
    ("quit", "&File", "Quit", "Ctrl+Q", "", lambda w: w.close()),
    ("run_clip", "&Run", "Run this clip…", "Ctrl+R", "idle",
     lambda w: w.runs.run_clips([w.video.id] if w.video else [])),
    ("run_all", "&Run", "Run all clips…", "Ctrl+Shift+R", "idle", lambda w: w.runs.run_clips(None)),
    ("cancel", "&Run", "Cancel run", "Ctrl+.", "project", lambda w: w.runs.cancel()),
    ("accept", "Re&view", "Accept", "A", "clip", lambda w: w.review.decide(DecisionKind.ACCEPT)),
    ("reject", "Re&view", "Reject", "R", "clip", lambda w: w.review.decide(DecisionKind.REJECT)),
    ("accept_track", "Re&view", "Accept whole track", "T", "clip",
     lambda w: w.review.decide_track(DecisionKind.ACCEPT)),
    ("reject_track", "Re&view", "Reject whole track", "Shift+T", "clip",
     lambda w: w.review.decide_track(DecisionKind.REJECT)),
    ("accept_exposure", "Re&view", "Accept exposure", "Shift+A", "clip",
     lambda w: w.review.decide_exposure(DecisionKind.ACCEPT)),
    ("reject_exposure", "Re&view", "Reject exposure", "Shift+R", "clip",
     lambda w: w.review.decide_exposure(DecisionKind.REJECT)),
    ("accept_gallery", "Re&view", "Accept the exposures in the gallery (the brand's, or every brand's)",
     "Ctrl+Shift+A", "clip",
     lambda w: w.review.accept_gallery()),
    ("set_in", "Re&view", "Exposure starts here (in point)", "I", "clip", lambda w: w.review.move_edge("in")),
    ("set_out", "Re&view", "Exposure ends here (out point)", "O", "clip", lambda w: w.review.move_edge("out")),
    ("split", "Re&view", "Split the exposure here", "S", "clip", lambda w: w.review.split_exposure()),
    ("present", "Re&view", "A brand is on screen here (no box)…", "P", "clip", lambda w: w.review.mark_present()),
    ("relabel", "Re&view", "Relabel…", "L", "clip", lambda w: w.review.relabel()),
    ("draw", "Re&view", "Draw a missed box", "B", "clip", _draw),
    ("follow", "Re&view", "Follow this box through the clip", "E", "clip", lambda w: w.review.follow()),
    ("find_more", "Re&view", "Find more like this", "M", "clip", lambda w: w.review.find_more()),
    ("sweep", "Re&view", "This view is complete: on to the next view nobody looked at", "V", "clip",
     lambda w: w.review.sweep()),
    ("sweep_skip", "Re&view", "Next view nobody looked at (this one not complete)", "Shift+V", "clip",
     lambda w: w.review.sweep(complete=False)),
    ("audit", "Re&view", "Audit sample…", "", "clip", lambda w: w.show_audit_panel()),
    ("audit_next", "Re&view", "Audit: next frame to answer", "U", "clip", lambda w: w.review.next_audit_frame()),
    ("audit_confirm", "Re&view", "Audit: confirm this frame's brands", "Ctrl+Return", "clip",
     lambda w: w.review.confirm_audit_frame()),
    ("audit_add", "Re&view", "Audit: add a brand on screen…", "Shift+P", "clip",
     lambda w: w.review.add_audit_brand()),
    ("calibration", "Re&view", "Calibration from reviews…", "", "project", lambda w: w.show_calibration()),
    ("undo", "Re&view", "Undo", "Ctrl+Z", "project", lambda w: w.review.undo()),
    ("redo", "Re&view", "Redo", "Ctrl+Shift+Z", "project", lambda w: w.review.redo()),
    ("next", "&Navigate", "Next candidate", "J", "clip", lambda w: w.review.navigate(step=1)),
    ("prev", "&Navigate", "Previous candidate", "K", "clip", lambda w: w.review.navigate(step=-1)),
    ("next_unreviewed", "&Navigate", "Next unreviewed candidate", "N", "clip",
     lambda w: w.review.navigate(step=1, unreviewed=True)),
    ("prev_unreviewed", "&Navigate", "Previous unreviewed candidate", "Shift+N", "clip",
     lambda w: w.review.navigate(step=-1, unreviewed=True)),
    ("next_exposure", "&Navigate", "Next exposure to review", "X", "clip",
     lambda w: w.review.navigate_exposures(1)),
    ("prev_exposure", "&Navigate", "Previous exposure to review", "Shift+X", "clip",
     lambda w: w.review.navigate_exposures(-1)),
    ("next_track", "&Navigate", "Next track", "]", "clip", lambda w: w.review.navigate(step=1, track=True)),
    ("prev_track", "&Navigate", "Previous track", "[", "clip", lambda w: w.review.navigate(step=-1, track=True)),
    ("play", "&Navigate", "Play / pause", "Space", "clip", lambda w: w.clip_view.toggle_play()),
    ("step_fwd", "&Navigate", "Next frame", "Right", "clip", lambda w: w.clip_view.step(1)),
    ("step_back", "&Navigate", "Previous frame", "Left", "clip", lambda w: w.clip_view.step(-1)),
    ("sample_fwd", "&Navigate", "Next sampled frame", "Shift+Right", "clip", lambda w: w.clip_view.step_sampled(1)),
    ("sample_back", "&Navigate", "Previous sampled frame", "Shift+Left", "clip",
     lambda w: w.clip_view.step_sampled(-1)),
    ("first", "&Navigate", "First frame", "Home", "clip", lambda w: w.clip_view.go_to(0)),
    ("last", "&Navigate", "Last frame", "End", "clip", lambda w: w.clip_view.go_to(w.video.frame_count - 1)),
    ("gallery", "&View", "Film strip: the exposure's frames, the brand's exposures to review, or every brand's",
     "G", "clip",
     lambda w: w.clip_view.toggle_gallery()),
    ("show_rejected", "&View", "Show or hide rejected boxes", "H", "clip",
     lambda w: w.statusBar().showMessage(w.clip_view.view.toggle_rejected(), 4000)),
    ("fit", "&View", "Fit frame", "F", "clip", lambda w: w.clip_view.view.fit()),
    ("zoom_in", "&View", "Zoom in", "+", "clip", lambda w: w.clip_view.view.zoom(1.25)),
    ("zoom_out", "&View", "Zoom out", "-", "clip", lambda w: w.clip_view.view.zoom(0.8)),
    ("escape", "&View", "Cancel drawing or following", "Esc", "clip", lambda w: w.cancel_busy()),
    ("shortcuts", "&Help", "Keyboard shortcuts", "F1", "", lambda w: w.show_shortcuts()),
    # Audit: the number keys tick or untick the brands listed for the frame shown.
    *[(f"audit_toggle_{n}", "Re&view", f"Audit: tick or untick brand {n}", str(n), "clip",
       lambda w, row=n - 1: w.audit_panel.toggle(row)) for n in range(1, 10)],
]
# Review options, on by default: (name, text, controller attribute)
TOGGLES = [("follow_drawn", "Follow drawn and tightened boxes through the clip", "follow_drawn"),
           ("learn", "Learn from decisions while reviewing", "learn")]
TOOLBAR = ["open", "add_clips", "logos", "run_clip", "cancel", "next_exposure", "accept_exposure", "reject_exposure",
           "present", "draw", "accept", "reject", "undo", "redo", "export_reviewed"]
SHORTCUT_SHEET = [(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText), text.rstrip("…"))
                  for _, _, text, s, _, _ in ACTIONS if s]


def build_actions(w: ActionHost) -> dict[str, QAction]:
    actions: dict[str, QAction] = {}
    menus = {}
    for name, menu, text, shortcut, needs, handler in ACTIONS:
        action = QAction(text, w.window())
        action.setObjectName(name)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({shortcut})")
        action.needs = needs  # type: ignore[attr-defined]
        action.triggered.connect(lambda _=False, h=handler: h(w))
        if menu not in menus:
            menus[menu] = w.menuBar().addMenu(menu)
        menus[menu].addAction(action)
        w.addAction(action)  # shortcuts work wherever focus is in the window
        actions[name] = action
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
    for name in TOOLBAR:
        toolbar.addAction(actions[name])
    return actions


def _fill_recent(w: ActionHost, menu: QMenu) -> None:
    menu.clear()
    for target in w.recent_projects():
        menu.addAction(target, partial(w.open_project, target))
    if menu.isEmpty():
        menu.addAction("(none)").setEnabled(False)
