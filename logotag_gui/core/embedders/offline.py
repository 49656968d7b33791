"""The offline detector: keypoints and OCR proposals fused, so that the two sources reinforce each other.

A keypoint box and an OCR box of the same brand that overlap (or one inside the other: the word
inside the whole mark) become one candidate with the keypoint box, scored as two independent
pieces of evidence: 1 - (1 - s_kp)(1 - s_ocr). Unconfirmed boxes keep their own score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from logotag_gui.core.embedders.keypoints import KeypointProposer
from logotag_gui.core.embedders.ocr_text import OcrTextProposer
from logotag_gui.core.logos import LogoDictionary
from logotag_gui.core.records import BBox, Candidate, Frame


def _overlaps(a: BBox, b: BBox) -> bool:
    if a.iou(b) >= 0.3:
        return True
    ix = max(0.0, min(a.x2, b.x2) - max(a.x, b.x))
    iy = max(0.0, min(a.y2, b.y2) - max(a.y, b.y))
    smaller = min(a.area, b.area)
    return smaller > 0 and ix * iy / smaller >= 0.7  # one mostly inside the other


def fuse(keypoint: list[Candidate], text: list[Candidate]) -> list[Candidate]:
    out, used = [], set()
    for kp in keypoint:
        match = next((i for i, t in enumerate(text) if i not in used and t.brand == kp.brand
                      and _overlaps(kp.bbox, t.bbox)), None)
        if match is None:
            out.append(kp)
            continue
        used.add(match)
        score = 1 - (1 - kp.score) * (1 - text[match].score)
        out.append(kp.with_(score=round(score, 4), method="keypoints+ocr"))
    out += [t for i, t in enumerate(text) if i not in used]
    return out


@dataclass
class OfflineProposer:
    keypoints: KeypointProposer = field(default_factory=lambda: KeypointProposer(synthesize=True))
    ocr: OcrTextProposer = field(default_factory=OcrTextProposer)
    name: str = "offline"
    model_id: str = "opencv-sift+rapidocr"
    revision: str | None = None

    def __post_init__(self) -> None:
        self.revision = f"{self.keypoints.revision}+{self.ocr.revision}"

    @property
    def embedder_id(self) -> str:
        return f"offline:{self.revision}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        self.keypoints.prepare(dictionary)
        self.ocr.prepare(dictionary)

    def propose(self, frame: Frame) -> list[Candidate]:
        return fuse(self.keypoints.propose(frame), self.ocr.propose(frame))
