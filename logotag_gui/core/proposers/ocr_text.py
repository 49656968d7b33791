"""OCR as a proposal source: text read anywhere in the frame that names a brand becomes a candidate.

Most brand marks hold their name, and rapidocr's models ship in its wheel, so this works offline.
The box is the text line's, grown to the whole mark where the brand's reference shows where its
name sits in it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from logotag_gui.core.base.records import BBox, Candidate, Frame
from logotag_gui.core.media.logos import LogoDictionary
from logotag_gui.core.vision.text_reading import (
    ENGINE,
    TextReader,
    engine_revision,
    name_box,
    name_in_reference,
    name_similarity,
    normalise,
)

log = logging.getLogger(__name__)

MIN_LEGIBLE_SIDE = 64  # references smaller than this may hide a name OCR cannot read


@dataclass
class OcrTextProposer:
    min_similarity: float = 0.8
    max_side: int = 1600  # frames are read at up to this size (text needs resolution)
    thread_safe = True  # frames may be proposed on several threads at once (stage_one.py)
    name: str = "ocr"
    model_id: str = ENGINE
    revision: str | None = None
    _names: dict[str, list[str]] = field(default_factory=dict)
    # brand -> where the whole mark lies around its written name, in units of the name's box
    # (left, top, right, bottom), read from the references: turns a word box into a logo box.
    _margins: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    # Brands whose references are legible yet show no name (a symbol, like a swoosh): there the
    # written name is only a hint of where the mark may be, not the mark.
    _symbol_only: set[str] = field(default_factory=set)
    # Reading a reference takes up to four OCR passes (about a second): the app keeps this proposer
    # loaded between runs, so each reference is read once per session.

    def __post_init__(self) -> None:
        self.revision = engine_revision()

    @property
    def embedder_id(self) -> str:
        return f"ocr:{self.revision}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        self._names = {brand: dictionary.names_for(brand) for brand in dictionary.brands}
        self._margins = {}
        legible = set()
        for ref in dictionary.references:
            if ref.brand not in self._margins:
                if max(ref.image.shape[:2]) >= MIN_LEGIBLE_SIDE:
                    legible.add(ref.brand)
                margins = self.name_margins(ref.image, self._names[ref.brand])
                if margins is not None:
                    self._margins[ref.brand] = margins
        self._symbol_only = legible - set(self._margins)
        if self._symbol_only:
            log.info("No name read in the references of %s: their written names only guide the keypoint search",
                     ", ".join(sorted(self._symbol_only)))

    def names_its_mark(self, brand: str) -> bool:
        """False where the brand's references show a symbol without the name (or nothing could be read)."""
        return brand not in self._symbol_only

    def mark_around_name(self, brand: str) -> tuple[float, float, float, float] | None:
        """Where the brand's whole mark lies around its written name (left, top, right, bottom, in units of the
        name's box), as its references show it; None where no reference shows the name."""
        return self._margins.get(brand)

    def name_margins(self, image: np.ndarray, names: list[str]) -> tuple[float, float, float, float] | None:
        """Where a reference image's mark lies around the brand's name read in it (left, top, right, bottom, in
        units of the name's box), or None where no name is read."""
        box = name_in_reference(image, names, min_similarity=self.min_similarity)  # read once per process
        if box is None:
            return None
        H, W = image.shape[:2]
        margins = (box.x / box.w, box.y / box.h, (W - box.x2) / box.w, (H - box.y2) / box.h)
        # A name that is a small part of a big emblem says little about the emblem's extent.
        left, top, right, bottom = (min(max(m, 0.0), 3.0) for m in margins)
        return left, top, right, bottom

    def read_names(self, frame: Frame) -> list[NameHit]:
        """Text lines in the frame that name a brand, with their word boxes in source pixels."""
        image = frame.image
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            image = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        hits = []
        for line in TextReader.read(np.ascontiguousarray(image), whole_frame=True):
            best_brand, best = None, 0.0
            for brand, names in self._names.items():
                sim = max(name_similarity(line.text, n) for n in names)
                if sim > best:
                    best_brand, best = brand, sim
            if best_brand is None or best < self.min_similarity or is_mention(line.text, self._names[best_brand]):
                continue
            b = name_box(line, self._names[best_brand], self.min_similarity)
            box = BBox(b.x / scale, b.y / scale, b.w / scale, b.h / scale).clipped(frame.ref.width, frame.ref.height)
            hits.append(NameHit(best_brand, line.text, round(best * line.score, 4), box))
        return hits

    def candidate(self, frame: Frame, hit: NameHit) -> Candidate:
        """The hit as a candidate: its word box widened by the brand's margins to cover the whole mark."""
        b = hit.box
        left, top, right, bottom = self._margins.get(hit.brand, (0.0, 0.0, 0.0, 0.0))
        box = BBox(b.x - left * b.w, b.y - top * b.h, b.w * (1 + left + right), b.h * (1 + top + bottom))
        return Candidate(frame.ref, box.clipped(frame.ref.width, frame.ref.height), hit.brand, hit.score, self.name,
                         reference=f"text:{hit.text}")

    def propose(self, frame: Frame) -> list[Candidate]:
        return [self.candidate(frame, hit) for hit in self.read_names(frame)]


@dataclass(frozen=True, slots=True)
class NameHit:
    brand: str
    text: str
    score: float  # name similarity x OCR confidence
    box: BBox  # the text line, in source pixels


_ADDRESS = re.compile(r"www\.|https?:|\.(com|net|org)\b|@", re.IGNORECASE)


def is_mention(text: str, names: list[str], max_extra_chars: int = 8) -> bool:
    """Text that names the brand without being its mark: a web or mail address, or a sentence.

    A mark's text line holds the name and perhaps a short tagline; measured on FlickrLogos-27 photos,
    dropping these cut OCR false positives by a seventh and lost no logo.
    """
    if _ADDRESS.search(text):
        return True
    return len(normalise(text)) > min(len(normalise(n)) for n in names) + max_extra_chars
