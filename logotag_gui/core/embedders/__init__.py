"""Stage 1: embedders (proposers) turn a frame into candidate boxes, behind one small protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # kept light: the shape matcher's trainer imports this package where faiss is absent
    from logotag_gui.core.logos import LogoDictionary
    from logotag_gui.core.records import Candidate, Frame


class Proposer(Protocol):
    name: str
    model_id: str
    revision: str | None

    def prepare(self, dictionary: LogoDictionary) -> None:
        """Index the references; called once per dictionary, before the first frame."""

    def propose(self, frame: Frame) -> list[Candidate]:
        """Raw candidates for one frame, before NMS and tracking."""


def make_proposer(name: str, **options: object) -> Proposer:
    if name == "siglip2":
        from logotag_gui.core.embedders.siglip2 import Siglip2Proposer

        return Siglip2Proposer(**options)  # type: ignore[arg-type]
    if name == "keypoints":
        from logotag_gui.core.embedders.keypoints import KeypointProposer

        return KeypointProposer(**options)  # type: ignore[arg-type]
    if name == "ocr":
        from logotag_gui.core.embedders.ocr_text import OcrTextProposer

        return OcrTextProposer(**options)  # type: ignore[arg-type]
    if name == "offline":
        from logotag_gui.core.embedders.offline import OfflineProposer

        return OfflineProposer(**options)  # type: ignore[arg-type]
    if name == "shape":
        from logotag_gui.core.embedders.shape import ShapeProposer

        return ShapeProposer(**options)  # type: ignore[arg-type]
    raise ValueError(f"unknown embedder '{name}': choose siglip2, keypoints, ocr, shape or offline")
