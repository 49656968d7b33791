"""Every command of the app, declared once: its name, menu, text, key, what it needs and what runs it.

The app's menus, toolbar and shortcuts (qt/actions.py), the F1 sheet, the key hints in messages (`key`, `keys`)
and README's keyboard table (`markdown_table`, held to README by tests/qt/test_shortcuts_doc.py) are all made from
`COMMANDS`. A new review key is one `Command` here plus its verb on the review session (core/review/session.py):
`call="verb:<method>"` runs `<method>(frame shown, *args, **kwargs)` of the review assistant where it has one (it
learns from the step: core/review/assistant.py), else of the session, as one saved step, and says `done`
(docs/development.md has a worked example).

Runs are found by name on the window (`call="review.decide"` is `window.review.decide(*args, **kwargs)`); the
handful that need a dialog or glue are the app's own handlers (`call="app:<name>"`, qt/actions.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Literal

from logotag_gui.core.base.records import DecisionKind

Menu = Literal["&File", "&Run", "Re&view", "&Navigate", "&View", "&Help", ""]
Needs = Literal["", "project", "clip", "idle"]  # "" always; a project open; a clip shown; a project and no run


@dataclass(frozen=True)
class Command:
    name: str
    menu: Menu
    text: str  # the menu item's text
    key: str = ""  # a QKeySequence string ("Shift+A"); "1-9" is the nine digit keys; a gesture is named in words
    needs: Needs = ""
    call: str = ""  # see the module's docstring; "" for a gesture the frame view handles itself
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    row: str = ""  # commands sharing a row share one line of the keyboard table (the first one's `help`)
    help: str = ""  # the keyboard table's text; the menu text when empty
    done: str = ""  # what a verb says once saved ("verb:" calls only)
    toolbar: bool = False
    in_menu: bool = True
    sheet: bool = True  # in the keyboard table and the F1 sheet

    @property
    def is_gesture(self) -> bool:
        return bool(self.key) and not self.call

    @property
    def digits(self) -> list[str]:
        """The keys this command is bound to: one, or the nine of "1-9"."""
        if self.key == "1-9":
            return [str(n) for n in range(1, 10)]
        return [self.key] if self.key and not self.is_gesture else []


def _c(name: str, menu: Menu, text: str, key: str = "", needs: Needs = "", call: str = "", *args: Any,
       row: str = "", help: str = "", done: str = "", toolbar: bool = False, in_menu: bool = True,
       sheet: bool = True, **kwargs: Any) -> Command:
    return Command(name, menu, text, key, needs, call, args, tuple(kwargs.items()), row or name, help, done,
                   toolbar, in_menu, sheet)


ACCEPT, REJECT = DecisionKind.ACCEPT, DecisionKind.REJECT

# In the keyboard table's order: review first (what an analyst learns first), then the rest.
COMMANDS: tuple[Command, ...] = (
    # ---- review: exposures and the sweep
    _c("next_exposure", "&Navigate", "Next exposure to review", "X", "clip", "review.navigate_exposures", 1,
       row="exposure_nav", help="next / previous exposure to review (least certain seconds first)", toolbar=True),
    _c("prev_exposure", "&Navigate", "Previous exposure to review", "Shift+X", "clip", "review.navigate_exposures",
       -1, row="exposure_nav"),
    _c("accept_exposure", "Re&view", "Accept exposure", "Shift+A", "clip", "review.decide_exposure", ACCEPT,
       row="exposure_decide", help="accept / reject the whole exposure (and move to the next)", toolbar=True),
    _c("reject_exposure", "Re&view", "Reject exposure", "Shift+R", "clip", "review.decide_exposure", REJECT,
       row="exposure_decide", toolbar=True),
    _c("accept_gallery", "Re&view", "Accept the exposures in the gallery (the brand's, or every brand's)",
       "Ctrl+Shift+A", "clip", "review.accept_gallery",
       help="accept the exposures the gallery shows (the brand's, or every brand's; without a gallery, the brand's)"),
    _c("set_in", "Re&view", "Exposure starts here (in point)", "I", "clip", "verb:set_in", row="edges",
       help="the exposure's in / out point to the frame shown (trim or extend); or drag a bar's end"),
    _c("set_out", "Re&view", "Exposure ends here (out point)", "O", "clip", "verb:set_out", row="edges"),
    _c("split", "Re&view", "Split the exposure here", "S", "clip", "verb:split_exposure",
       help="split the exposure at the frame shown", done="Split the exposure at the frame shown"),
    _c("present", "Re&view", "A brand is on screen here (no box)…", "P", "clip", "review.mark_present",
       help="a brand is on screen here (no box needed); LogoTag looks for its mark and follows it", toolbar=True),
    _c("gallery", "&View", "Film strip: the exposure's frames, the brand's exposures to review, or every brand's",
       "G", "clip", "clip_view.toggle_gallery",
       help="film strip: the exposure's frames, the brand's gallery of exposures to review, or every brand's"),
    _c("sweep", "Re&view", "This view is complete: on to the next view nobody looked at", "V", "clip",
       "review.sweep", row="sweep", help="sweep: the view shown is complete (every brand on screen is marked), on to "
       "the next view nobody looked at / on without saying so"),
    _c("sweep_skip", "Re&view", "Next view nobody looked at (this one not complete)", "Shift+V", "clip",
       "review.sweep", row="sweep", complete=False),
    # ---- review: boxes
    _c("next", "&Navigate", "Next candidate", "J", "clip", "review.navigate", row="box_nav",
       help="next / previous candidate (box)", step=1),
    _c("prev", "&Navigate", "Previous candidate", "K", "clip", "review.navigate", row="box_nav", step=-1),
    _c("next_unreviewed", "&Navigate", "Next unreviewed candidate", "N", "clip", "review.navigate",
       row="unreviewed_nav", help="next / previous unreviewed candidate", step=1, unreviewed=True),
    _c("prev_unreviewed", "&Navigate", "Previous unreviewed candidate", "Shift+N", "clip", "review.navigate",
       row="unreviewed_nav", step=-1, unreviewed=True),
    _c("next_track", "&Navigate", "Next track", "]", "clip", "review.navigate", row="track_nav",
       help="next / previous track", step=1, track=True),
    _c("prev_track", "&Navigate", "Previous track", "[", "clip", "review.navigate", row="track_nav", step=-1,
       track=True),
    _c("accept", "Re&view", "Accept", "A", "clip", "review.decide", ACCEPT, row="box_decide",
       help="accept / reject the box (and move to the next unreviewed)", toolbar=True),
    _c("reject", "Re&view", "Reject", "R", "clip", "review.decide", REJECT, row="box_decide", toolbar=True),
    _c("accept_track", "Re&view", "Accept whole track", "T", "clip", "review.decide_track", ACCEPT, row="track",
       help="accept / reject the box's whole track"),
    _c("reject_track", "Re&view", "Reject whole track", "Shift+T", "clip", "review.decide_track", REJECT,
       row="track"),
    _c("relabel", "Re&view", "Relabel…", "L", "clip", "review.relabel", help="relabel to another brand"),
    _c("draw", "Re&view", "Draw a missed box", "B", "clip", "app:draw", toolbar=True,
       help="draw a missed box (drag on the frame); it is then followed through the clip. Esc cancels"),
    _c("follow", "Re&view", "Follow this box through the clip", "E", "clip", "review.follow",
       help="follow the selected box through the clip (its boxes join its track)"),
    _c("find_more", "Re&view", "Find more like this", "M", "clip", "review.find_more",
       help="find more like this (search the clip with what review taught about the brand)"),
    _c("tighten", "", "", "drag a corner", help="tighten the selected box", in_menu=False),
    _c("show_maybe", "&View", "Show or hide the learned maybes (proposals learning does not stand behind)", "Shift+M",
       "clip", "app:show_maybe", help="show or hide the learned \"maybe\" proposals among the exposures to review"),
    # ---- the audit
    _c("audit", "Re&view", "Audit sample…", "", "clip", "app:audit_panel"),
    _c("audit_next", "Re&view", "Audit: next frame to answer", "U", "clip", "review.next_audit_frame",
       help="audit: go to the next sample frame to answer"),
    _c("audit_confirm", "Re&view", "Audit: confirm this frame's brands", "Ctrl+Return", "clip",
       "review.confirm_audit_frame", help="audit: confirm the brands ticked for this frame"),
    _c("audit_add", "Re&view", "Audit: add a brand on screen…", "Shift+P", "clip", "review.add_audit_brand",
       help="audit: add a brand on screen on this frame"),
    # the nine digit keys: shortcuts of the window, not nine menu items
    _c("audit_toggle", "Re&view", "Audit: tick or untick a brand", "1-9", "clip", "audit_panel.toggle",
       in_menu=False, help="audit: tick or untick the brand on that row"),
    _c("calibration", "Re&view", "Calibration from reviews…", "", "project", "app:calibration"),
    _c("counting_rule", "Re&view", "Counting rule…", "", "clip", "app:counting_rule"),
    _c("undo", "Re&view", "Undo", "Ctrl+Z", "project", "review.undo", row="undo", toolbar=True,
       help="undo / redo (each is a new stored decision; history is kept; the last 200 steps)"),
    _c("redo", "Re&view", "Redo", "Ctrl+Shift+Z", "project", "review.redo", row="undo", toolbar=True),
    # ---- playing and viewing
    _c("play", "&Navigate", "Play / pause", "Space", "clip", "clip_view.toggle_play", help="play / pause"),
    _c("step_back", "&Navigate", "Previous frame", "Left", "clip", "clip_view.step", -1, row="frames",
       help="previous / next frame; previous / next sampled frame"),
    _c("step_fwd", "&Navigate", "Next frame", "Right", "clip", "clip_view.step", 1, row="frames"),
    _c("sample_back", "&Navigate", "Previous sampled frame", "Shift+Left", "clip", "clip_view.step_sampled", -1,
       row="frames"),
    _c("sample_fwd", "&Navigate", "Next sampled frame", "Shift+Right", "clip", "clip_view.step_sampled", 1,
       row="frames"),
    _c("first", "&Navigate", "First frame", "Home", "clip", "clip_view.go_to", 0, row="ends",
       help="first / last frame"),
    _c("last", "&Navigate", "Last frame", "End", "clip", "clip_view.go_to", sys.maxsize, row="ends"),  # clamped
    _c("fit", "&View", "Fit frame", "F", "clip", "clip_view.view.fit", row="zoom",
       help="fit, zoom in, zoom out (mouse wheel zooms, drag pans)"),
    _c("zoom_in", "&View", "Zoom in", "+", "clip", "clip_view.view.zoom", 1.25, row="zoom"),
    _c("zoom_out", "&View", "Zoom out", "-", "clip", "clip_view.view.zoom", 0.8, row="zoom"),
    _c("show_rejected", "&View", "Show or hide rejected boxes", "H", "clip", "app:show_rejected",
       help="show or hide rejected boxes (hidden by default; the selected box is always drawn)"),
    # ---- runs, files and the rest
    _c("run_clip", "&Run", "Run this clip…", "Ctrl+R", "idle", "app:run_clip", row="run", toolbar=True,
       help="run this clip / all clips"),
    _c("run_all", "&Run", "Run all clips…", "Ctrl+Shift+R", "idle", "runs.run_clips", None, row="run"),
    _c("cancel", "&Run", "Cancel run", "Ctrl+.", "project", "runs.cancel", help="cancel the run", toolbar=True),
    _c("new", "&File", "New project…", "Ctrl+N", "", "app:new_project", row="files",
       help="new project / open project / add clips / set the logo folder"),
    _c("open", "&File", "Open project…", "Ctrl+O", "", "app:open_project", row="files", toolbar=True),
    _c("open_url", "&File", "Open shared project (database URL)…", "", "", "app:open_url"),
    _c("add_clips", "&File", "Add clips…", "Ctrl+Shift+O", "project", "app:add_clips", row="files", toolbar=True),
    _c("add_images", "&File", "Add image folder…", "", "project", "app:add_image_folder"),
    _c("logos", "&File", "Set logo folder…", "Ctrl+L", "project", "app:set_logos", row="files", toolbar=True),
    _c("export_all", "&File", "Export all records…", "Ctrl+E", "project", "export_dialog", "all", row="export",
       help="export all / reviewed records"),
    _c("export_accepted", "&File", "Export accepted detections…", "", "project", "export_dialog", "accepted"),
    _c("export_reviewed", "&File", "Export reviewed records (accepted and rejected)…", "Ctrl+Shift+E", "project",
       "export_dialog", "reviewed", row="export", toolbar=True),
    _c("report", "&File", "Exposure report (HTML/CSV)…", "Ctrl+Shift+P", "project", "report_dialog",
       help="exposure report (HTML or CSV)"),
    _c("reviewer", "&File", "Reviewer name…", "", "", "app:reviewer"),
    _c("quit", "&File", "Quit", "Ctrl+Q", "", "close", help="quit"),
    _c("escape", "&View", "Cancel drawing or following", "Esc", "clip", "cancel_busy",
       help="cancel drawing or following"),
    _c("shortcuts", "&Help", "Keyboard shortcuts", "F1", "", "show_shortcuts", help="the shortcuts sheet"),
)
BY_NAME = {c.name: c for c in COMMANDS}
MENUS: tuple[Menu, ...] = ("&File", "&Run", "Re&view", "&Navigate", "&View", "&Help")  # the menu bar's order
TOOLBAR_ORDER = ("open", "add_clips", "logos", "run_clip", "cancel", "next_exposure", "accept_exposure",
                 "reject_exposure", "present", "draw", "accept", "reject", "undo", "redo", "export_reviewed")


def key(name: str) -> str:
    """The key of command `name`, for a hint in a message ("Shift+A accepts"); KeyError for an unknown name."""
    return BY_NAME[name].key


def keys(*names: str) -> str:
    """Several commands' keys, as one hint: keys("set_in", "set_out") == "I / O"."""
    return " / ".join(key(n) for n in names)


def sheet_rows() -> list[tuple[str, str]]:
    """(keys, what they do): one row per `row`, in declaration order; keys of a row joined by " / "."""
    rows: dict[str, tuple[list[str], str]] = {}
    for c in COMMANDS:
        if not c.key or not c.sheet:
            continue
        rows.setdefault(c.row, ([], c.help or c.text.rstrip("…")))[0].append(c.key)
    return [(" / ".join(found), text) for found, text in rows.values()]


def markdown_table() -> str:
    """README's keyboard table, made from `COMMANDS` (`python -m logotag_gui.core.review.commands` prints it)."""
    lines = ["| Key | Action |", "| --- | --- |"]
    lines += [f"| {k} | {text} |" for k, text in sheet_rows()]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    print(markdown_table())
