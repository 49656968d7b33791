"""One logging setup for the app and the CLI: a rotating log file under the user's data directory."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from platformdirs import user_log_dir

_configured: Path | None = None


def log_path() -> Path:
    override = os.environ.get("LOGOTAG_LOG_DIR")
    return Path(override or user_log_dir("logotag", appauthor=False)) / "logotag.log"


def setup_logging(*, verbose: bool = False, console: bool = True) -> Path:
    """Configure root logging once; returns the log file's path (shown in error messages)."""
    global _configured
    if _configured is not None:
        return _configured
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.DEBUG if verbose else logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        root.addHandler(stream)
    for noisy in ("faiss.loader", "httpx", "huggingface_hub", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = path
    return path
