"""One logging setup for the app and the CLI: a rotating log file under the user's data directory.

Every handler formats through `RedactingFormatter`: a database URL's password never reaches the log
file or the console, whatever message or traceback carries it. A log folder that cannot be written
falls back to the temporary folder (and then to the console only) instead of failing the command.

Several processes (the app, `logotag run`, Ray workers) share one log file: each line names its process
(pid and command) and project (`set_log_context`). A traceback goes to the log file only: the console
gets one line per message (`FILE_ONLY` keeps a message off the console, for one the caller prints itself).
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from platformdirs import user_log_dir

from logotag_gui.core.base.safe_io import redact_secrets

_configured: Path | None = None
_crash_file: IO[str] | None = None  # kept open for the life of the process: faulthandler writes to its descriptor
LOG_NAME = "logotag.log"
CRASH_NAME = "crash.log"
KEEP_CRASHES = 3
FILE_ONLY = {"console": False}  # `log.error(..., extra=FILE_ONLY)`: the log file only (the caller says it)
FILE_FORMAT = ("%(asctime)s %(levelname)s pid %(process)d %(command)s [%(project)s] %(name)s [%(threadName)s] "
               "%(message)s")
_context = {"command": Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", "project": "-"}


def set_log_context(*, command: str | None = None, project: str | None = None) -> None:
    """Name the command (`logotag export`, `logotag-gui`) and the project on every later line of the log;
    the project is shown without a database URL's password."""
    if command is not None:
        _context["command"] = command
    if project is not None:
        _context["project"] = redact_secrets(project)


def log_context() -> dict[str, str]:
    """The command and project the log's next lines name."""
    return dict(_context)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.command = _context["command"]
        record.project = _context["project"]
        return True


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then hides `scheme://user:password@` passwords in the whole text (traceback included)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(super().format(record))


class ConsoleFormatter(RedactingFormatter):
    """One line per message: a traceback is for the log file, and the console says where it is."""

    def __init__(self, fmt: str, *, log_file: Path | None) -> None:
        super().__init__(fmt)
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:  # the same record goes on to other handlers: put its traceback back
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        if saved[0] or saved[2]:
            error = saved[0][1] if saved[0] else None
            cause = f": {type(error).__name__}: {redact_secrets(str(error))}" if error is not None else ""
            where = f" (traceback in {self.log_file})" if self.log_file is not None else ""
            text += cause + where
        return " ".join(text.split("\n"))


def _console_wanted(record: logging.LogRecord) -> bool:
    return getattr(record, "console", True) is not False


def log_path() -> Path:
    if _configured is not None:
        return _configured
    override = os.environ.get("LOGOTAG_LOG_DIR")
    return Path(override or user_log_dir("logotag", appauthor=False)) / LOG_NAME


def _file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")


def setup_logging(*, verbose: bool = False, console: bool = True) -> Path:
    """Configure root logging once; returns the log file's path (shown in error messages)."""
    global _configured
    if _configured is not None:
        return _configured
    path = log_path()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    problem = None
    file_handler: logging.Handler | None = None
    for candidate in (path, Path(tempfile.gettempdir()) / f"logotag-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
                      / LOG_NAME):
        try:
            file_handler = _file_handler(candidate)
        except OSError as exc:
            problem = problem or f"cannot write the log file '{candidate}' ({exc.strerror or exc})"
            continue
        path = candidate
        break
    if file_handler is not None:
        file_handler.setFormatter(RedactingFormatter(FILE_FORMAT))
        file_handler.addFilter(_ContextFilter())
        root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
        stream.setFormatter(ConsoleFormatter("%(levelname)s: %(message)s",
                                             log_file=path if file_handler is not None else None))
        stream.addFilter(_console_wanted)
        root.addHandler(stream)
    for noisy in ("faiss.loader", "httpx", "huggingface_hub", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if problem:
        instead = f"logging to '{path}' instead" if file_handler else "logging to the console only"
        logging.getLogger(__name__).warning("%s; %s", problem, instead)
    if file_handler is not None:
        _trace_crashes(path.parent / CRASH_NAME)
    _configured = path
    return path


def _trace_crashes(path: Path) -> None:
    """A crash in native code (Qt, a codec, a model) kills the process before logging can say anything:
    faulthandler writes every thread's Python stack to `path` then. A trace left by the last session is
    kept under a dated name (the newest few) and named in the log, so a report can include it."""
    global _crash_file
    if faulthandler.is_enabled():  # already traced to stderr (python -X faulthandler, pytest): someone watches it
        return
    log = logging.getLogger(__name__)
    try:
        if path.exists() and path.stat().st_size:
            kept = path.with_name(f"crash-{time.strftime('%Y%m%d-%H%M%S', time.localtime(path.stat().st_mtime))}.log")
            path.replace(kept)
            log.warning("LogoTag stopped with a crash last time; what every thread was doing is in '%s'", kept)
            for old in sorted(path.parent.glob("crash-*.log"))[:-KEEP_CRASHES]:
                old.unlink()
        _crash_file = path.open("w", encoding="utf-8")
        faulthandler.enable(file=_crash_file, all_threads=True)
    except OSError as exc:
        log.warning("cannot write crash traces to '%s' (%s)", path, exc.strerror or exc)
