"""Stage 1: embedders (proposers) turn a frame into candidate boxes, behind one small protocol.

They are listed, built and given their run settings by the registry in `core/pipeline/backends.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # kept light: the shape matcher's trainer imports this package where faiss is absent
    from logotag_gui.core.base.records import Candidate, Frame
    from logotag_gui.core.media.logos import LogoDictionary


class Proposer(Protocol):
    name: str
    model_id: str
    revision: str | None
    thread_safe: bool  # frames may be proposed on several threads at once (pipeline/stage_one.py)

    def prepare(self, dictionary: LogoDictionary) -> None:
        """Index the references; called once per dictionary, before the first frame."""

    def propose(self, frame: Frame) -> list[Candidate]:
        """Raw candidates for one frame, before NMS and tracking."""

