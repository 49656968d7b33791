"""OCR as a proposal source: text read anywhere in the frame that names a brand becomes a candidate.

Most brand marks hold their name, and rapidocr's models ship in its wheel, so this works offline.
The box is the text line's box: tight around the word mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from logotag_gui.core.logos import LogoDictionary
from logotag_gui.core.records import BBox, Candidate, Frame
from logotag_gui.core.verifiers.ocr import TextReader, name_similarity


@dataclass
class OcrTextProposer:
    min_similarity: float = 0.8
    max_side: int = 1600  # frames are read at up to this size (text needs resolution)
    name: str = "ocr"
    model_id: str = "rapidocr-onnxruntime"
    revision: str | None = None
    _names: dict[str, list[str]] = field(default_factory=dict)
    # brand -> where the whole mark lies around its written name, in units of the name's box
    # (left, top, right, bottom), read from the references: turns a word box into a logo box.
    _margins: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from importlib.metadata import version

        self.revision = version("rapidocr-onnxruntime")

    @property
    def embedder_id(self) -> str:
        return f"ocr:{self.revision}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        self._names = {brand: dictionary.names_for(brand) for brand in dictionary.brands}
        self._margins = {}
        for ref in dictionary.references:
            if ref.brand not in self._margins:
                margins = self._text_margins(ref.image, self._names[ref.brand])
                if margins is not None:
                    self._margins[ref.brand] = margins

    def _text_margins(self, image: np.ndarray, names: list[str]) -> tuple[float, float, float, float] | None:
        h, w = image.shape[:2]
        f = max(1.0, 400 / max(h, w))  # small references: read them larger
        if f > 1.0:
            image = cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
        for line in TextReader.read(np.ascontiguousarray(image)):
            if max(name_similarity(line.text, n) for n in names) >= self.min_similarity and line.box.w > 0 < line.box.h:
                b = line.box
                H, W = image.shape[:2]
                margins = (b.x / b.w, b.y / b.h, (W - b.x2) / b.w, (H - b.y2) / b.h)
                # A name that is a small part of a big emblem says little about the emblem's extent.
                return tuple(min(max(m, 0.0), 3.0) for m in margins)  # type: ignore[return-value]
        return None

    def propose(self, frame: Frame) -> list[Candidate]:
        image = frame.image
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        out = []
        for line in TextReader.read(np.ascontiguousarray(image)):
            best_brand, best = None, 0.0
            for brand, names in self._names.items():
                sim = max(name_similarity(line.text, n) for n in names)
                if sim > best:
                    best_brand, best = brand, sim
            if best_brand is None or best < self.min_similarity:
                continue
            b = line.box
            left, top, right, bottom = self._margins.get(best_brand, (0.0, 0.0, 0.0, 0.0))
            b = BBox(b.x - left * b.w, b.y - top * b.h, b.w * (1 + left + right), b.h * (1 + top + bottom))
            box = BBox(b.x / scale, b.y / scale, b.w / scale, b.h / scale).clipped(frame.ref.width, frame.ref.height)
            out.append(Candidate(frame.ref, box, best_brand, round(best * line.score, 4), self.name,
                                 reference=f"text:{line.text}"))
        return out
