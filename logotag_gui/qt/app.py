"""`logotag-gui`: start the review app.

    logotag-gui                          empty window (File → New/Open project)
    logotag-gui PROJECT.sqlite           reopen a project (or a database URL)
    logotag-gui --video CLIP --logos DIR start a new project beside the clip
    logotag-gui --demo                   the bundled demo clip and logos, run with the offline backends (a demo
                                         reviewed before: asks whether to go on with it or start afresh)
    logotag-gui --demo --fresh           a fresh demo (a reviewed one is kept as demo-previous.logotag.sqlite)
"""

from __future__ import annotations

import argparse
import ctypes.util
import logging
import os
import sys
from pathlib import Path

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.logsetup import set_log_context, setup_logging

log = logging.getLogger(__name__)


def demo_paths() -> tuple[Path, Path]:
    """The demo clip and logo folder: package data, in a source checkout, a wheel and the bundle alike."""
    import logotag_gui

    demo = Path(logotag_gui.__file__).resolve().parent / "resources" / "demo"
    return demo / "demo_clip.mp4", demo / "logos"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logotag-gui", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", nargs="?", help="project database (.sqlite file or SQLAlchemy URL)")
    p.add_argument("--video", action="append", default=[], help="clip to add (repeatable)")
    p.add_argument("--logos", help="logo folder")
    p.add_argument("--demo", action="store_true", help="open the bundled demo and run the offline pipeline on it")
    p.add_argument("--fresh", action="store_true",
                   help="with --demo: start a fresh demo project (the one reviewed before is kept beside it)")
    p.add_argument("--reviewer", help="name stored with each decision (default: remembered, else your login)")
    p.add_argument("--no-auto-run", action="store_true", help="with --demo: do not start the run")
    p.add_argument("--smoke-test", action="store_true",
                   help="with --demo: run the demo, print a one-line result and quit (checks a bundle)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


def _install_excepthook(window) -> None:
    """Unexpected errors go to the log and a dialog, not a console traceback and a dead window."""
    from logotag_gui.qt.dialogs.messages import show_error

    def hook(exc_type, exc, tb) -> None:
        log.error("unexpected error", exc_info=(exc_type, exc, tb))
        show_error(window, "Unexpected error", f"{exc_type.__name__}: {exc}")

    sys.excepthook = hook


# The X11 libraries Qt's xcb platform plugin loads (library name -> Debian/Ubuntu package). Without one, Qt aborts
# with a message naming the plugin, or the wrong library, rather than what to install.
X11_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xcb-keysyms": "libxcb-keysyms1",
                 "xcb-image": "libxcb-image0", "xcb-render-util": "libxcb-render-util0", "xcb-shape": "libxcb-shape0",
                 "xcb-randr": "libxcb-randr0", "xkbcommon-x11": "libxkbcommon-x11-0", "xkbcommon": "libxkbcommon0",
                 "EGL": "libegl1", "GL": "libgl1", "fontconfig": "libfontconfig1", "dbus-1": "libdbus-1-3"}


def missing_x11_packages(environ: dict[str, str] | None = None, find=ctypes.util.find_library) -> list[str]:
    """The packages to install before Qt can open a window on X11 (empty elsewhere: offscreen, Wayland, macOS)."""
    env = os.environ if environ is None else environ
    platform = env.get("QT_QPA_PLATFORM", "")
    on_x11 = platform.startswith("xcb") or (not platform and not env.get("WAYLAND_DISPLAY"))
    if not sys.platform.startswith("linux") or not on_x11:
        return []
    return [package for library, package in X11_LIBRARIES.items() if find(library) is None]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(verbose=args.verbose)
    set_log_context(command="logotag-gui")  # with each line's pid and project: the log file is shared
    missing = missing_x11_packages()
    if missing:
        print("LogoTag's window needs Qt's X11 libraries, which this machine lacks. Install them with:\n"
              f"  sudo apt-get install {' '.join(missing)}\n(the command-line tool, `logotag`, runs without them)",
              file=sys.stderr)
        return 2
    from PySide6.QtWidgets import QApplication

    from logotag_gui.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("LogoTag")
    app.setOrganizationName("LogoTag")
    window = MainWindow(reviewer=args.reviewer)
    _install_excepthook(window)
    window.show()
    start(window, args)
    if args.smoke_test:
        _quit_when_demo_done(app, window)
    return app.exec()


def _quit_when_demo_done(app, window, timeout_s: float = 180.0) -> None:
    """Exit 0 once the demo run finished with candidates and the first frame is on screen, else 1."""
    import time

    from PySide6.QtCore import QTimer

    started = time.monotonic()
    timer = QTimer(window)

    def check() -> None:
        done = (not window.runs.running and window.session is not None and len(window.session) > 0
                and window.clip_view.shown is not None)
        if done or time.monotonic() - started > timeout_s:
            timer.stop()
            print(f"smoke test {'ok' if done else 'FAILED'}: {len(window.session or [])} candidates, "
                  f"frame shown: {window.clip_view.shown is not None}", flush=True)
            window.close()
            app.exit(0 if done else 1)

    timer.timeout.connect(check)
    timer.start(250)


def demo_project(window, path: Path, *, fresh: bool) -> str:
    """The demo's project: the one left last time, unless it was reviewed and a fresh one is asked for (--fresh,
    or the reviewer's answer). A second `make demo` reopened yesterday's reviewed demo without a word."""
    if path.exists() and (fresh or (demo_reviewed(path) and ask_fresh_demo(window))):
        previous = path.with_name(f"demo-previous{''.join(path.suffixes)}")
        for old in path.parent.glob(f"{path.name}*"):  # the database and SQLite's -wal / -shm beside it
            old.replace(previous.with_name(previous.name + old.name[len(path.name):]))
        log.info("a fresh demo project; the one before is kept as %s", previous)
    return str(path)


def demo_reviewed(path: Path) -> bool:
    """Someone decided something in this demo project (a box, a presence, an exposure)."""
    from logotag_gui.core.base.errors import LogoTagError
    from logotag_gui.core.review import Project

    try:
        project = Project.open(str(path))
    except LogoTagError:
        return False
    try:
        return any(v.decided for v in project.videos())
    finally:
        project.close()


def ask_fresh_demo(window) -> bool:
    """The demo was reviewed before: go on with that review (False) or start a fresh demo (True)?"""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, "The demo was reviewed before",
                      "You reviewed the demo before. Go on with that review, or start a fresh demo? (The reviewed "
                      "one is kept as demo-previous.logotag.sqlite; `logotag-gui --demo --fresh` starts afresh "
                      "without asking.)", parent=window)
    fresh = box.addButton("Start a fresh demo", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Go on with my review", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is fresh


def start(window, args: argparse.Namespace) -> None:
    """Open what the command line asked for (shared with tests)."""
    from platformdirs import user_data_dir

    if args.demo:
        clip, logos = demo_paths()
        if not clip.exists() or not logos.is_dir():
            from logotag_gui.qt.dialogs.messages import show_error

            message = f"The demo is not installed: {clip} is missing. Reinstall LogoTag (its package ships the demo)."
            print(f"logotag-gui: {message}", file=sys.stderr)
            show_error(window, "No demo", message)
            if args.smoke_test:
                raise SystemExit(1)
            return
        if args.smoke_test:  # a check starts from nothing: never a demo project an earlier start left behind
            import tempfile

            project = str(Path(tempfile.mkdtemp(prefix="logotag-smoke-")) / "demo.logotag.sqlite")
        else:
            project = demo_project(window, Path(args.project or Path(user_data_dir("logotag", appauthor=False))
                                                / "demo.logotag.sqlite"), fresh=args.fresh)
        Path(project).parent.mkdir(parents=True, exist_ok=True)
        args.video, args.logos = [str(clip)], str(logos)
    elif args.project:
        project = args.project
    elif args.video:
        first = Path(args.video[0]).expanduser().resolve()
        project = str(first.with_suffix(".logotag.sqlite"))
    else:
        return
    if not window.open_project(project):
        return
    if args.logos and not window.set_logos(args.logos):
        return
    known = {v.path for v in window.project.videos()}
    new = [v for v in args.video if str(Path(v).resolve()) not in known]
    if new:
        window.add_clips(new)
    if args.demo and not args.no_auto_run and window.video is not None and not len(window.session or []):
        config = RunConfig(input=window.video.path, logos=window.logos_dir, embedder="offline", verifier="ocr")
        window.runs.run_clips([window.video.id], config)


if __name__ == "__main__":
    raise SystemExit(main())
