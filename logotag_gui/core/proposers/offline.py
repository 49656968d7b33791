"""The offline detector: keypoints, OCR and shape proposals fused, so that the sources reinforce each other.

Where OCR reads a brand's name and no keypoint box covers it, the brand's references are matched
again among the keypoints around the name alone (a lower inlier floor is safe there). For a brand
whose reference is a symbol without its name, the name is only such a hint: alone it proposes
nothing (with the better reading of references, this cut false positives on FlickrLogos-27 photos
from 0.59 to 0.23 per image).
A keypoint box and an OCR box of the same brand that overlap (or one inside the other: the word
inside the whole mark) become one candidate with the keypoint box, scored as two independent
pieces of evidence: 1 - (1 - s_kp)(1 - s_ocr). Unconfirmed boxes keep their own score.
Last, the learned shape matcher (shape.py) confirms those boxes the same way or adds the bare
symbols they missed, unless another brand's box holds the spot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import Candidate, Frame, joined_method, method_sources
from logotag_gui.core.media.logos import LogoDictionary
from logotag_gui.core.proposers.keypoints import KeypointProposer
from logotag_gui.core.proposers.ocr_text import OcrTextProposer
from logotag_gui.core.proposers.shape import ShapeProposer

log = logging.getLogger(__name__)


def fuse(primary: list[Candidate], secondary: list[Candidate], *,
         yield_to_other_brands: bool = False) -> list[Candidate]:
    """Attach each secondary candidate to an overlapping primary one of its brand, else keep it.

    With `yield_to_other_brands`, a secondary candidate on a spot that another brand's primary
    candidate holds is dropped: keypoints or a read name there outweigh a shape's likeness.
    """
    out, used = [], set()
    for first in primary:
        match = next((i for i, t in enumerate(secondary) if i not in used and t.brand == first.brand
                      and first.bbox.overlaps(t.bbox)), None)
        if match is None:
            out.append(first)
            continue
        used.add(match)
        if secondary[match].method in method_sources(first.method):  # one source does not count twice
            out.append(first)
            continue
        score = 1 - (1 - first.score) * (1 - secondary[match].score)
        out.append(first.with_(score=round(score, 4), method=joined_method(first.method, secondary[match].method)))
    rest = [t for i, t in enumerate(secondary) if i not in used]
    if yield_to_other_brands:
        rest = [t for t in rest if not any(t.bbox.overlaps(p.bbox) for p in primary)]
    return out + rest


def _shape_matcher(precision: str) -> ShapeProposer | None:
    try:
        return ShapeProposer(precision=precision)
    except ModelUnavailable as exc:
        log.warning("offline detector without its shape matcher: %s", exc)
        return None


@dataclass
class OfflineProposer:
    keypoints: KeypointProposer = field(default_factory=lambda: KeypointProposer(synthesize=True))
    ocr: OcrTextProposer = field(default_factory=OcrTextProposer)
    shape: ShapeProposer | None = None  # None: the installed shape matcher (find_shape), if any
    find_shape: bool = True
    precision: str = "auto"  # the shape matcher's number format (ShapeProposer.precision)
    # Beside a symbol-only brand's read name, a lower shape score will do: the name already says
    # that brand is here (FlickrLogos-27: 78 names read, 41 symbols boxed at IoU >= 0.5, 70 on the spot).
    shape_near_name: float = 0.45
    # Stricter than the shape backend alone (0.6): here it only adds what keypoints and OCR missed.
    # A run sets both from its settings (RunConfig.shape_threshold, shape_min_standout).
    shape_threshold: float = 0.65
    shape_min_standout: float = 5.0
    thread_safe = True  # frames may be proposed on several threads at once (stage_one.py)
    name: str = "offline"
    model_id: str = "opencv-sift+rapidocr+shape"
    revision: str | None = None

    def __post_init__(self) -> None:
        if self.shape is None and self.find_shape:
            self.shape = _shape_matcher(self.precision)
        self.revision = f"{self.keypoints.revision}+{self.ocr.revision}+{self.shape.revision if self.shape else 'none'}"

    @property
    def embedder_id(self) -> str:
        return f"offline:{self.revision}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        self.keypoints.prepare(dictionary)
        self.ocr.prepare(dictionary)
        if self.shape is not None:
            self.shape.prepare(dictionary)

    def propose(self, frame: Frame) -> list[Candidate]:
        feats = self.keypoints.frame_features(frame)
        keypoint = self.keypoints.propose(frame, feats)
        text = []
        for hit in self.ocr.read_names(frame):
            cand = self.ocr.candidate(frame, hit)
            if any(k.brand == cand.brand and k.bbox.overlaps(cand.bbox) for k in keypoint):
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
            elif self.shape is not None:  # but its symbol is likely beside the name
                near = self.shape.find_near(frame, hit.brand, hit.box, min_score=self.shape_near_name)
                if near is not None:
                    keypoint.append(near)
                    text.append(cand.with_(bbox=near.bbox))
        found = fuse(keypoint, text)
        if self.shape is None:
            return found
        shapes = self.shape.propose(frame, threshold=self.shape_threshold, min_standout=self.shape_min_standout)
        return fuse(found, shapes, yield_to_other_brands=True)
