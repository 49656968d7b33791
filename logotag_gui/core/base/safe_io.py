"""One rule for every file LogoTag writes, and for every name or URL it shows.

- `safe_child(root, *parts)`: a path under `root` built from user text (a brand, a reviewer, a clip
  name), or `InputError` saying which part is unsafe and how to fix it. Nothing is sanitised
  silently: a brand called `../../x` is refused, never rewritten into a folder nobody asked for.
- `safe_filename(text)`: a file name made *from* user text (never refused, always one component).
- `atomic_write(path)` / `atomic_write_text` / `atomic_write_bytes`: every output goes to a temporary
  file in the same folder, is flushed and fsynced, then `os.replace`d over the final name; a killed
  process leaves the previous file whole (and at worst a hidden `.NAME.PID-HEX.part` file beside it, which
  the next write of the same file removes once its writer is gone).
- `SafeDictWriter`: the one CSV writer (export and report). Text cells that a spreadsheet would run
  as a formula are prefixed with a single quote (OWASP CSV injection guidance); numbers stay numbers.
- `redact_url(url)` / `redact_secrets(text)`: a database URL is never shown with its password.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any

from logotag_gui.core.base.errors import InputError, OutputError

# ---- names and paths ------------------------------------------------------------------------------

# Characters no file name may hold on one of the systems a shared project is opened on (Windows
# forbids these; `:` also opens an NTFS alternate data stream), plus the separators themselves.
_FORBIDDEN = set('<>:"|?*/\\')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 255  # one path component, on every common file system


def _unsafe_reason(part: str) -> str | None:
    """Why `part` cannot be one path component, or None when it can."""
    if not isinstance(part, str):
        return f"it is a {type(part).__name__}, not text"
    if not part or not part.strip():
        return "it is empty"
    if part in (".", ".."):
        return f"'{part}' means a folder itself or its parent"
    if "\x00" in part:
        return "it contains a NUL character"
    if PurePosixPath(part).is_absolute() or PureWindowsPath(part).is_absolute() or PureWindowsPath(part).drive:
        return "it is an absolute path or starts with a drive letter"
    if ".." in re.split(r"[/\\]", part):
        return "it climbs out of the folder with '..'"
    bad = sorted({ch for ch in part if ch in _FORBIDDEN or ord(ch) < 32 or ord(ch) == 127})
    if bad:
        shown = ", ".join(repr(ch) for ch in bad)
        return f"it contains {shown} (path separators and characters Windows forbids in file names)"
    if part != part.rstrip(" ."):
        return "it ends with a dot or a space (Windows drops them, so two names would share one folder)"
    if part.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        return f"'{part.split('.')[0]}' is a reserved device name on Windows"
    if len(part.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def safe_child(root: str | Path, *parts: str) -> Path:
    """`root / part / ...` where each part is one plain name that stays inside `root`.

    Refuses (InputError) empty names, `.` and `..`, separators, absolute paths, drive letters, NUL and
    other control characters, characters Windows forbids, Windows device names and over-long names;
    and a result that resolves outside `root` (through a symbolic link inside it).
    """
    root = Path(root)
    if not parts:
        raise ValueError("safe_child needs at least one name")
    for part in parts:
        reason = _unsafe_reason(part)
        if reason is not None:
            raise InputError(
                f"The name {part!r} cannot be used as a file or folder name under '{root}': {reason}. "
                "Rename it (a brand or reviewer name may not hold / \\ : * ? \" < > |, be empty, '.' or '..')."
            )
    path = root.joinpath(*parts)
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise InputError(
            f"'{path}' leads outside '{root}' (through a symbolic link); "
            "remove the link or choose another name."
        )
    return path


def symlink_loop_error(path: str | Path) -> InputError:
    """The message for a path whose symbolic links lead back to themselves (ELOOP; pathlib's "Symlink loop")."""
    return InputError(f"'{path}' is a symbolic link that leads back to itself (a loop of links), so it names no "
                      "file; point the link at the real video or folder, or give that path instead.")


def safe_filename(text: str, *, fallback: str = "unnamed", max_bytes: int = 120) -> str:
    """One file-name component made from any text: unsafe characters become `_`, never a path.

    The result is never empty, `.` or `..`, holds no separator or control character, does not start
    with a dot (no hidden files) and is at most `max_bytes` UTF-8 bytes.
    """
    text = unicodedata.normalize("NFC", str(text))
    out = "".join("_" if ch in _FORBIDDEN or ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    out = re.sub(r"\s+", " ", out).strip(" .")
    while len(out.encode("utf-8")) > max_bytes:
        out = out[:-1]
    out = out.rstrip(" .")
    if not out:
        out = fallback
    if out.split(".")[0].upper() in _WINDOWS_RESERVED:
        out = f"_{out}"
    return out


# ---- atomic writes --------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_WRITE_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS") if hasattr(errno, name)}
_FULL_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EDQUOT") if hasattr(errno, name)}
STALE_PART_S = 60  # a temporary file nobody has written for this long is a dead writer's


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or exc.__class__.__name__
    kept = f"'{path.name}' was kept as it was" if path.exists() else "nothing was written"
    if exc.errno in _FULL_ERRNOS:
        return OutputError(f"Cannot write '{path}': its disk is full ({reason}); {kept}. Free some space there or "
                           "choose another folder, then try again.")
    if exc.errno == getattr(errno, "EROFS", None):
        return OutputError(f"Cannot write '{path}': its folder is on a read-only disk ({reason}); {kept}. "
                           "Choose a folder you can write to.")
    return OutputError(
        f"Cannot write '{path}': {reason}. Choose a folder you can write to (and with free space)."
    )


def _part_name(path: Path) -> str:
    """The hidden temporary file beside `path`: it names its writer's pid, so that a later write can tell a
    killed writer's leftover (SIGKILL cannot be caught) from one still being written."""
    return f".{path.name[:180]}.{os.getpid()}-{secrets.token_hex(4)}.part"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or a system that cannot tell: alive
        return True
    return True


def remove_stale_parts(path: str | Path) -> list[Path]:
    """Remove the temporary files of `path` that a killed writer left: its pid is gone (on this machine), or
    nothing has written to it for a minute (the pid may be another machine's). Returns those removed."""
    path = Path(path)
    prefix = f".{path.name[:180]}."
    # pid-hex (this version) or hex alone (the older name, which named no pid)
    pattern = re.compile(r"(?:(?P<pid>\d+)-)?[0-9a-f]{8}")
    removed: list[Path] = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        match = pattern.fullmatch(name[len(prefix):-len(".part")])
        if match is None:
            continue
        try:
            stale = now - entry.lstat().st_mtime > STALE_PART_S
            pid = match["pid"]
            if not stale and pid is not None and int(pid) != os.getpid():
                stale = os.name == "posix" and not _pid_alive(int(pid))
            if stale:
                entry.unlink()
                removed.append(entry)
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
    return removed


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on a clean exit fsync it and `os.replace` it onto `path`.

    On an exception (or a killed process) `path` keeps its previous content; the temporary file is
    removed when Python still runs, and a killed writer's at the next write of `path`. `mode` is "w" (text)
    or "wb" (bytes). A full disk is one OutputError naming the file and the fix.
    """
    if mode not in ("w", "wb"):
        raise ValueError("atomic_write writes whole files: mode 'w' or 'wb'")
    path = Path(path)
    folder = path.parent
    remove_stale_parts(path)
    # Created by name with O_EXCL and mode 0o666 so the final file gets the usual umask permissions
    # (tempfile.mkstemp would leave it readable by the owner only).
    tmp = folder / _part_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    fh: IO[Any] | None = None
    try:
        fh = os.fdopen(fd, "wb") if "b" in mode else os.fdopen(fd, "w", encoding=encoding, newline=newline)
        try:
            yield fh
        except OSError as exc:  # a full disk while the caller writes; other errors are the caller's
            if exc.errno in _WRITE_ERRNOS and exc.filename is None:
                raise _output_error(path, exc) from exc
            raise
        try:
            fh.flush()
            with contextlib.suppress(OSError):  # an existing file keeps its permissions
                os.chmod(fh.fileno() if os.chmod in os.supports_fd else tmp, stat.S_IMODE(os.stat(path).st_mode))
            os.fsync(fh.fileno())
            fh.close()
        except OSError as exc:
            raise _output_error(path, exc) from exc
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise _output_error(path, exc) from exc
    except BaseException:
        # Closing flushes what is still buffered: on a full disk that fails again, and that second ENOSPC
        # would replace the error being raised. The descriptor is closed whether the flush works or not.
        if fh is None:
            with contextlib.suppress(OSError):
                os.close(fd)
        else:
            with contextlib.suppress(OSError, ValueError):
                fh.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", encoding=encoding) as fh:
        fh.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


# ---- CSV ------------------------------------------------------------------------------------------

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel, LibreOffice
# or Google Sheets. Leading spaces are looked through as well (some spreadsheets trim them).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell that could start a formula gets a leading `'`; every other value is returned as it is.

    Numbers (int, float, bool) are never touched: -3.5 is a number, not a formula. The text "-3.5"
    is neutralised like any other text: a brand or reviewer name is never a number.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_TRIGGERS) or value.lstrip(" ").startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeDictWriter(csv.DictWriter):
    """csv.DictWriter whose text cells are neutralised and always quoted; numbers stay bare numbers.

    Quoting every text cell keeps a cell whole when a spreadsheet splits on `;` or tab instead of `,`
    (an unquoted `a;=1+1` would otherwise start a new, formula cell).
    """

    def __init__(self, f: IO[str], fieldnames: Collection[str], **kwargs: Any) -> None:
        kwargs.setdefault("quoting", csv.QUOTE_NONNUMERIC)
        super().__init__(f, fieldnames, **kwargs)

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: "" if v is None else neutralise_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


# ---- URLs -----------------------------------------------------------------------------------------

# scheme://user:password@ ... ; the password runs to the last '@' before a '/' or a space.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<password>[^\s/]*)@")


def redact_secrets(text: str) -> str:
    """Every `scheme://user:password@` in free text (an error message, a log line) with `***` for the password."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:***@", str(text))


def redact_url(url: str | object) -> str:
    """A database URL or path as it may be shown: `postgresql://ann:***@host/db`; a plain path as it is."""
    text = str(url)
    if "://" in text:
        try:
            from sqlalchemy.engine import make_url

            return make_url(text).render_as_string(hide_password=True)
        except Exception:  # not a URL SQLAlchemy can parse: fall back to the pattern
            pass
    return redact_secrets(text)
