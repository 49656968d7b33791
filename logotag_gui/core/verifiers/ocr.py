"""OCR: read text with rapidocr (its models ship in the wheel) and match brand names and aliases.

Used two ways: as a verifier (does the text in this box name the brand?) and as an offline
proposal source (text anywhere in the frame that names a brand becomes a candidate).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from logotag_gui.core.records import BBox, Verdict, VerdictState
from logotag_gui.core.verifiers import VerifyItem

log = logging.getLogger(__name__)


def normalise(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def name_similarity(read: str, name: str) -> float:
    """How well text read by OCR names `name`: 1.0 when the name appears in it, else fuzzy."""
    read_n, name_n = normalise(read), normalise(name)
    if not read_n or not name_n:
        return 0.0
    if len(name_n) <= 4:
        # Short names ("HP", "Mini") hide inside ordinary words: only a whole word counts.
        words = {normalise(w) for w in re.split(r"[^0-9A-Za-z]+", read)}
        return 1.0 if name_n in words or read_n == name_n else 0.0
    if name_n in read_n:
        return 1.0
    if len(read_n) < 0.6 * len(name_n):
        return 0.0
    # Compare against each same-length slice of the read text, so extra words do not dilute it.
    width = len(name_n)
    spans = [read_n[i:i + width] for i in range(max(1, len(read_n) - width + 1))]
    return max(difflib.SequenceMatcher(None, s, name_n).ratio() for s in spans)


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    score: float
    box: BBox


class TextReader:
    """A shared rapidocr engine (loading its ONNX models takes a second)."""

    _engine = None

    @classmethod
    def engine(cls):
        if cls._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            cls._engine = RapidOCR()
        return cls._engine

    @classmethod
    def read(cls, image: np.ndarray) -> list[TextLine]:
        result, _ = cls.engine()(np.ascontiguousarray(image[:, :, ::-1]))  # rapidocr expects BGR
        lines = []
        for quad, text, score in result or []:
            pts = np.asarray(quad, dtype=np.float32)
            x1, y1 = pts.min(axis=0)
            x2, y2 = pts.max(axis=0)
            lines.append(TextLine(str(text), float(score), BBox(float(x1), float(y1), float(x2 - x1), float(y2 - y1))))
        return lines


@dataclass(slots=True)
class OcrVerifier:
    names: dict[str, list[str]] = field(default_factory=dict)  # brand -> aliases
    min_similarity: float = 0.8
    threshold: float = 0.5
    name: str = "ocr"
    model_id: str = "rapidocr-onnxruntime"
    revision: str | None = None

    def __post_init__(self) -> None:
        from importlib.metadata import version

        self.revision = version("rapidocr-onnxruntime")

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        return [self._verify_one(item) for item in items]

    def _verify_one(self, item: VerifyItem) -> Verdict:
        brand = item.candidate.brand
        names = [brand, *self.names.get(brand, [])]
        lines = TextReader.read(_upscale_small(item.crop))
        text = " | ".join(line.text for line in lines)
        best, best_name, best_score = 0.0, "", 0.0
        for line in lines:
            for candidate_name in names:
                sim = name_similarity(line.text, candidate_name)
                if sim > best:
                    best, best_name, best_score = sim, candidate_name, line.score
        if best >= self.min_similarity:
            confidence = round(best * best_score, 3)
            state = VerdictState.YES if confidence >= self.threshold else VerdictState.UNSURE
            return Verdict(state, confidence, f"read '{text}', matches '{best_name}'", text, self.name)
        why = f"read '{text}', no brand name" if text else "no text found"
        return Verdict(VerdictState.NO, round(1.0 - best, 3), why, text, self.name)


def _upscale_small(image: np.ndarray, min_side: int = 64) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    if min(h, w) >= min_side:
        return image
    f = min_side / max(1, min(h, w))
    return cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
