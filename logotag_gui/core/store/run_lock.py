"""Hold a clip's run lock while the pipeline runs on it, saying every few seconds that we are alive.

The lock lives in the database (videos.run_owner / run_heartbeat), so it holds across processes and
machines sharing a PostgreSQL project, and a crash cannot leave it held: a holder that stops
renewing it is taken over after `STALE_AFTER`, at once when it was a process of this machine that
no longer exists.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from logotag_gui.core.base.errors import StoreError
from logotag_gui.core.store.runs import HEARTBEAT_S

if TYPE_CHECKING:
    from logotag_gui.core.store.repository import Repository

log = logging.getLogger(__name__)


class RunLock:
    """The clip's lock, or with `part_id` the lock of one frame range of a split run (run_parts.py)."""

    def __init__(self, repo: Repository, video_id: int, *, part_id: int | None = None,
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
