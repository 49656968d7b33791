"""The run lock: one process at a time runs a clip (or a frame range of a split run). `RunLock` holds it while
the pipeline runs, saying every few seconds that we are alive; the functions below take it, tell whether it is
live and say who holds it.

The lock lives in the database (videos.run_owner / run_heartbeat), so it holds across processes and
machines sharing a PostgreSQL project, and a crash cannot leave it held: a holder that stops
renewing it is taken over after `STALE_AFTER`, at once when it was a process of this machine that
no longer exists.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import CursorResult, Result, Table, or_, select, update

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.store.schema import aware, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


log = logging.getLogger(__name__)


class RunBusy(StoreError):
    """Another live process is running the pipeline on this clip."""


# A run's process says it is alive this often; after STALE_AFTER without a word its lock may be taken.
HEARTBEAT_S = 10.0
STALE_AFTER = timedelta(seconds=60)


def _process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str) -> bool:
    """True when the owner is a process of this machine that no longer exists (killed, crashed)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE changed. Session.execute returns a CursorResult for it, but is typed as returning
    any Result (SQLAlchemy's maintainers advise a cast: sqlalchemy/sqlalchemy#12913)."""
    return cast(CursorResult[Any], result).rowcount


def take_lock(s: Session, table: Table, row_id: int, owner_column: str,
              heartbeat_column: str) -> tuple[str | None, str]:
    """Take a lock kept in a row (owner, heartbeat): free, stale, or held by a dead process of this machine.

    An atomic conditional UPDATE, so two processes can never both win, on SQLite as on PostgreSQL.
    Returns (the owner token when taken else None, the holder found)."""
    owner, now = _process_owner(), utcnow()
    key, holder, beat = table.c.id, table.c[owner_column], table.c[heartbeat_column]
    got = rowcount(s.execute(update(table).where(key == row_id, or_(holder.is_(None), beat < now - STALE_AFTER))
                              .values({holder: owner, beat: now})))
    if got:
        return owner, ""
    held = s.execute(select(holder).where(key == row_id)).scalar()
    if held is not None and _owner_dead(held) and rowcount(
            s.execute(update(table).where(key == row_id, holder == held).values({holder: owner, beat: now}))):
        return owner, ""
    return None, held or ""


def lock_live(owner: str | None, heartbeat: datetime | None) -> bool:
    if owner is None or heartbeat is None:
        return False
    return aware(heartbeat) >= utcnow() - STALE_AFTER and not _owner_dead(owner)


def busy_message(what: str, held: str, heartbeat: datetime | None) -> str:
    host, _, rest = (held or "?:?").partition(":")
    seen = (utcnow() - aware(heartbeat)).total_seconds() if heartbeat else 0
    return (f"{what} is being run by another LogoTag process (pid {rest.partition(':')[0]} on {host}, last heard "
            f"from {seen:.0f} s ago). Wait for it to finish or cancel it there; a process that died gives it up "
            f"after {int(STALE_AFTER.total_seconds())} s.")


class LockStore(Protocol):
    """What a lock calls on the store: the Repository's run and part lock methods (runs.py, run_parts.py)."""

    def acquire_run_lock(self, video_id: int) -> str: ...
    def renew_run_lock(self, video_id: int, owner: str) -> bool: ...
    def release_run_lock(self, video_id: int, owner: str) -> None: ...
    def acquire_part_lock(self, part_id: int) -> str: ...
    def renew_part_lock(self, part_id: int, owner: str) -> bool: ...
    def release_part_lock(self, part_id: int, owner: str) -> None: ...


class RunLock:
    """The clip's lock, or with `part_id` the lock of one frame range of a split run (run_parts.py)."""

    def __init__(self, repo: LockStore, video_id: int, *, part_id: int | None = None,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.repo, self.video_id, self.part_id, self.heartbeat_s = repo, video_id, part_id, heartbeat_s
        self.owner: str | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunLock:
        if self.part_id is None:
            self.owner = owner = self.repo.acquire_run_lock(self.video_id)
        else:
            self.owner = owner = self.repo.acquire_part_lock(self.part_id)
        self._thread = threading.Thread(target=self._beat, args=(owner,), name=f"run-lock-{self.video_id}", daemon=True)
        self._thread.start()
        return self

    def _beat(self, owner: str) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                renewed = (self.repo.renew_run_lock(self.video_id, owner) if self.part_id is None
                           else self.repo.renew_part_lock(self.part_id, owner))
                if not renewed:
                    self.lost.set()
                    return
            except StoreError as exc:  # a busy database: try again at the next beat
                log.warning("could not renew the run lock: %s", exc)

    def check(self) -> None:
        """Between batches: stop if another process has taken the clip over (we stalled past the limit)."""
        if self.lost.is_set():
            raise StoreError("Another LogoTag process took this clip over while this run was stalled; "
                             "this run stopped to avoid duplicate results. Run it again to carry on.")

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.owner is not None and not self.lost.is_set():
            try:
                if self.part_id is None:
                    self.repo.release_run_lock(self.video_id, self.owner)
                else:
                    self.repo.release_part_lock(self.part_id, self.owner)
            except StoreError as exc:  # it goes stale on its own
                log.warning("could not release the run lock: %s", exc)
