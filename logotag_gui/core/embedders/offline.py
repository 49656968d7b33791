"""The offline detector: keypoints and OCR proposals fused, so that the two sources reinforce each other.

Where OCR reads a brand's name and no keypoint box covers it, the brand's references are matched
again among the keypoints around the name alone (a lower inlier floor is safe there). For a brand
whose reference is a symbol without its name, the name is only such a hint: alone it proposes
nothing (with the better reading of references, this cut false positives on FlickrLogos-27 photos
from 0.59 to 0.23 per image).
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
    smaller = min(a.area, b.area)
    return smaller > 0 and a.intersection(b) / smaller >= 0.7  # one mostly inside the other


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
        feats = self.keypoints.frame_features(frame)
        keypoint = self.keypoints.propose(frame, feats)
        text = []
        for hit in self.ocr.read_names(frame):
            cand = self.ocr.candidate(frame, hit)
            if any(k.brand == cand.brand and _overlaps(k.bbox, cand.bbox) for k in keypoint):
                text.append(cand)
                continue
            # The written name says where the mark is: look for the reference's keypoints around it,
            # which also gives the whole mark's box rather than the word's.
            names_mark = self.ocr.names_its_mark(hit.brand)
            local = self.keypoints.match_near(frame, feats, hit.brand, hit.box, must_cover=names_mark)
            if local is not None:
                keypoint.append(local)
                text.append(cand.with_(bbox=local.bbox))
            elif names_mark:  # a symbol-only brand's name alone is not its mark
                text.append(cand)
        return fuse(keypoint, text)
