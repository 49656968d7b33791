"""The OCR verifier: does the text in the box name the brand? (Reading and name matching: text_reading.py.)

Not reading a brand's name is not evidence that its logo is absent: the mark may be a symbol, the
crop too small or blurred, or OCR may slip one letter ("Fored" for "Ford"). So the verifier says
"no" only on positive evidence: the crop clearly reads another brand's name, or clearly reads other
text where the brand's references show that its mark holds its name. Everything else is "unsure",
with a low confidence and a rationale that says which case it was.

A name match (text_reading.match_name) at or above `min_similarity` (0.8) names the brand; a match
within the allowed edits but below it ("Fored": one edit from the 4-letter "Ford", 0.75) is a near
miss: "unsure", never "no";
- the lines read in one crop are also matched as one text (a name split over two lines: "AK | amai");
- clear text that is a piece of the name (a word of 3 letters inside it, or of 4+ letters within one
  edit of a stretch of it: "netct" of "netcup", the rest occluded) is "unsure" too, never "no".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from logotag_gui.core.base.records import Verdict, VerdictState
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.vision.text_reading import (
    ENGINE,
    UNREADABLE_SIDE,
    NameMatch,
    TextLine,
    TextReader,
    engine_revision,
    match_name,
    name_in_reference,
    normalise,
    substring_distance,
    words,
)

if TYPE_CHECKING:
    from logotag_gui.core.media.logos import LogoDictionary

log = logging.getLogger(__name__)


@dataclass(slots=True)
class OcrVerifier:
    """Does the text in the box name the brand? "yes", "no" only on positive evidence, else "unsure".

    `prepare(dictionary)` tells it every brand's names (to recognise another brand's name) and which
    brands' references show their name (`named_marks`); without it, clear non-brand text is "unsure".
    """

    names: dict[str, list[str]] = field(default_factory=dict)  # brand -> aliases
    min_similarity: float = 0.8
    threshold: float = 0.5
    clear_text: float = 0.8  # OCR score from which a line counts as clearly read
    min_letters: int = 3  # clearly read text must hold this many letters to count against a brand
    # Brands whose references show a readable name; None: not known (prepare() was not called).
    named_marks: set[str] | None = None
    name: str = "ocr"
    model_id: str = ENGINE
    revision: str | None = None

    def __post_init__(self) -> None:
        self.revision = engine_revision()

    def prepare(self, dictionary: LogoDictionary) -> None:
        """Learn every brand's names and which brands' marks show a name OCR can read (cached per reference)."""
        self.names = {brand: dictionary.names_for(brand)[1:] for brand in dictionary.brands}
        named = set()
        for ref in dictionary.references:
            if ref.brand not in named and name_in_reference(ref.image, dictionary.names_for(ref.brand),
                                                            min_similarity=self.min_similarity) is not None:
                named.add(ref.brand)
        self.named_marks = named
        symbols = sorted(set(self.names) - named)
        if symbols:
            log.info("OCR verifier: no name read in the references of %s; text that is not a brand's name "
                     "says nothing about them",
                     ", ".join(symbols))

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        return [self._verify_one(item) for item in items]

    def _verify_one(self, item: VerifyItem) -> Verdict:
        brand = item.candidate.brand
        lines = TextReader.read(_upscale_small(item.crop))
        text = " | ".join(line.text for line in lines)
        read = f"read '{text}'"

        def verdict(state: VerdictState, confidence: float | None, why: str) -> Verdict:
            return Verdict(state, None if confidence is None else round(confidence, 3), why, text, self.name)

        # 1. The brand's own name (or an alias).
        own = [brand, *self.names.get(brand, [])]
        best = _best_match(_readings(lines), own)
        if best is not None and best[0].similarity >= self.min_similarity:
            m, line = best
            confidence = m.similarity * line.score
            slip = f" ({_edits(m.edits)})" if m.edits else ""
            if confidence >= self.threshold:
                return verdict(VerdictState.YES, confidence, f"{read}, matches '{m.name}'{slip}")
            return verdict(VerdictState.UNSURE, confidence,
                           f"{read}, matches '{m.name}'{slip} but unclearly (OCR score {line.score:.2f})")
        # 2. Another brand's name, read exactly and clearly.
        for line in lines:
            if line.score < self.clear_text:
                continue
            for other, aliases in self.names.items():
                if other == brand:
                    continue
                hit = next((n for n in (other, *aliases) if match_name(line.text, n).exact), None)
                if hit is not None:
                    return verdict(VerdictState.NO, line.score, f"{read}: the name of another brand, '{other}'")
        # 3. A near miss of the brand's own name: OCR slips a letter, the logo may well be there.
        if best is not None:
            m, line = best
            return verdict(VerdictState.UNSURE, 0.5 * m.similarity * line.score,
                           f"{read}, {_edits(m.edits)} from '{m.name}': a near miss, unsure")
        # 4. Nothing read: a symbol, or too small or blurred. Says nothing either way.
        h, w = item.crop.shape[:2]
        symbol = self.named_marks is not None and brand not in self.named_marks
        if not lines:
            if min(h, w) < UNREADABLE_SIDE:
                why = f"no text read: the crop ({w}x{h} px) is too small to read"
            elif symbol:
                why = f"no text read: the references of '{brand}' show no readable name (a symbol)"
            else:
                why = "no text read: the mark may be a symbol, or too small or blurred to read"
            return verdict(VerdictState.UNSURE, 0.0, why)
        # 5. Other text. Evidence against the brand only where it is clear and the brand's mark holds its name.
        clear = [line for line in lines if line.score >= self.clear_text
                 and sum(ch.isalpha() for ch in normalise(line.text)) >= self.min_letters]
        if not clear:
            top = max(line.score for line in lines)
            why = (f"too few letters to tell (fewer than {self.min_letters})" if top >= self.clear_text
                   else f"not clearly (OCR score {top:.2f})")
            return verdict(VerdictState.UNSURE, 0.0, f"{read}, {why}; no brand name")
        part = next((n for n in own for line in clear if _fragment_of(line.text, n)), None)
        if part is not None:
            return verdict(VerdictState.UNSURE, 0.0, f"{read}: a part of '{part}' or a misreading of it, unsure")
        if self.named_marks is None:
            return verdict(VerdictState.UNSURE, 0.0, f"{read}, no brand name; whether the mark of '{brand}' shows "
                           "its name is not known (the verifier was not prepared with the logo dictionary)")
        if symbol:
            return verdict(VerdictState.UNSURE, 0.0, f"{read}, no brand name; the references of '{brand}' show no "
                           "readable name (a symbol), so the text says nothing about it")
        top = max(line.score for line in clear)
        return verdict(VerdictState.NO, min(top, 0.9),
                       f"{read} clearly, not the name its references show ('{brand}')")


def _readings(lines: Sequence[TextLine]) -> list[TextLine]:
    """The lines, and all of them as one (a name split over two lines: "AK | amai"), at the lowest line score."""
    if len(lines) < 2:
        return list(lines)
    joined = TextLine(" ".join(line.text for line in lines), min(line.score for line in lines), lines[0].box)
    return [*lines, joined]


def _fragment_of(read: str, name: str) -> bool:
    """A word of the text is a piece of the name: 3 letters exactly, 4 or more within one edit ("netct", "iltrap").

    Part of a name (the rest occluded, cut off or unread) is no evidence that the mark is absent.
    """
    name_n = normalise(name)
    return any(len(w) >= 3 and substring_distance(w, name_n) <= (0 if len(w) <= 3 else 1)
               for w in {*words(read), normalise(read)})


def _best_match(lines: Sequence[TextLine], names: Sequence[str]) -> tuple[NameMatch, TextLine] | None:
    """The line and name that match best within the allowed edits (fewest edits, then OCR score), or None."""
    found = [(m, line) for line in lines for m in (match_name(line.text, n) for n in names) if m.within]
    return max(found, key=lambda f: (f[0].similarity, f[1].score), default=None)


def _edits(n: int) -> str:
    return "one edit" if n == 1 else f"{n} edits"


def _upscale_small(image: np.ndarray, min_side: int = 64) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    if min(h, w) >= min_side:
        return image
    f = min_side / max(1, min(h, w))
    return cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
