"""Reading text in images (rapidocr: its ONNX models ship in its wheel) and matching brand names in it.

Shared by the OCR proposer (stage 1: text that names a brand becomes a candidate) and the OCR verifier
(stage 2: does the text in a box name its brand?), which stay independent of each other.

How a name matches text (`match_name`), after folding accents and case ("CITROEN" is "Citroën"):

- names of up to `WHOLE_WORD_MAX` letters match whole words only (or a few neighbouring words
  joined: "H P"), so "HP" never matches inside "shampoo" nor "Files" inside "profiles";
- longer names match anywhere in the text, spaces ignored ("Open Tofu Foundation" names OpenTofu);
- a real edit distance (Levenshtein: insert, delete or replace one letter) counts OCR slips:
  `allowed_edits` is 0 up to 3 letters, 1 from 4 to 7 letters, 2 from 8 letters;
- similarity = 1 - edits / letters of the name.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from logotag_gui.core.base.records import BBox

WHOLE_WORD_MAX = 5  # names this short hide inside ordinary words: match whole words only
MAX_JOINED_WORDS = 3  # "H P", "Coca Cola": a short name may be read as a few words
UNREADABLE_SIDE = 24  # a crop smaller than this (pixels, either side) is too small to read
# Letters OCR folds to plain Latin that Unicode does not decompose.
_EXTRA_FOLDS = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "đ": "d", "Đ": "d",
                              "ł": "l", "Ł": "l", "ı": "i", "ß": "ss", "þ": "th", "ð": "d"})


def fold(text: str) -> str:
    """Lower case without accents: "CITROËN" -> "citroen"; keeps spaces and punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalise(text: str) -> str:
    """Only the letters and digits, folded: "Coca-Cola®" -> "cocacola", "Citroën" -> "citroen"."""
    return re.sub(r"[^0-9a-z]", "", fold(text))


def words(text: str) -> list[str]:
    return [w for w in re.split(r"[^0-9a-z]+", fold(text)) if w]


def allowed_edits(length: int) -> int:
    """OCR slips a name may carry and still count: none for 3 letters ("HP", "BMW"), one up to 7, two from 8."""
    return 0 if length <= 3 else 1 if length <= 7 else 2


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest single-letter insertions, deletions and replacements."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def substring_distance(name: str, text: str) -> int:
    """The fewest edits that turn `name` into some stretch of `text` (Sellers' approximate matching)."""
    previous = [0] * (len(text) + 1)  # the name may start anywhere in the text
    for i, cn in enumerate(name, 1):
        current = [i]
        for j, ct in enumerate(text, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (cn != ct)))
        previous = current
    return min(previous)


@dataclass(frozen=True, slots=True)
class NameMatch:
    """How well one text names one brand name; see the module docstring for the rule."""

    name: str
    edits: int  # fewest edits from the name to the text (to a whole word for short names)
    letters: int  # letters and digits of the normalised name

    @property
    def allowed(self) -> int:
        return allowed_edits(self.letters)

    @property
    def within(self) -> bool:
        """Within the edits the rule allows for a name this long (exact matches included)."""
        return self.letters > 0 and self.edits <= self.allowed

    @property
    def exact(self) -> bool:
        return self.letters > 0 and self.edits == 0

    @property
    def similarity(self) -> float:
        """1 - edits / letters inside the allowed edits, else 0.0 (a far miss says nothing)."""
        return round(1.0 - self.edits / self.letters, 4) if self.within else 0.0


@functools.lru_cache(maxsize=65536)  # a clip shows the same text frame after frame
def match_name(read: str, name: str) -> NameMatch:
    """How well text read by OCR names `name` (the fewest edits, by the rule of the module docstring)."""
    name_n = normalise(name)
    if not name_n:
        return NameMatch(name, 0, 0)
    read_n = normalise(read)
    if not read_n:
        return NameMatch(name, len(name_n), len(name_n))
    if len(name_n) > WHOLE_WORD_MAX:
        return NameMatch(name, substring_distance(name_n, read_n), len(name_n))
    tokens = words(read)
    spans = {"".join(tokens[i:j]) for i in range(len(tokens))
             for j in range(i + 1, min(len(tokens), i + MAX_JOINED_WORDS) + 1)}
    return NameMatch(name, min(edit_distance(name_n, s) for s in spans), len(name_n))


def name_similarity(read: str, name: str) -> float:
    """How well text read by OCR names `name`: 1.0 exact, 1 - edits/letters within the allowed edits, else 0."""
    return match_name(read, name).similarity


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    score: float
    box: BBox


class TextReader:
    """A shared rapidocr engine (loading its ONNX models takes a second)."""

    _engine = None
    _loading = threading.Lock()  # frames are read on several threads: load the engine once

    @classmethod
    def engine(cls):
        with cls._loading:
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


# (image hash, shape, names, min_similarity) -> where the reference shows the name, or None: each reference is
# read once per process, whoever asks (it takes up to four OCR passes).
_REFERENCE_NAMES: dict[tuple, BBox | None] = {}


def name_in_reference(image: np.ndarray, names: Sequence[str], *, min_similarity: float = 0.8) -> BBox | None:
    """Where a reference image shows one of the brand's names, in its own pixels; None for a symbol.

    Small references are read larger. The text detector misses words that touch the image border and
    references are often cropped tight, so the crop is read with a border too (FedEx, Google, Coca-Cola
    need it); slanted script (Sprite) is read only once turned upright.
    """
    import cv2

    key = (hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape, tuple(names), min_similarity)
    if key in _REFERENCE_NAMES:
        return _REFERENCE_NAMES[key]
    h, w = image.shape[:2]
    f = max(1.0, 400 / max(h, w))
    if f > 1.0:
        image = cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
    pad = int(0.15 * max(image.shape[:2]))
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    views = itertools.chain([(image, np.array([[1, 0, -pad], [0, 1, -pad]], dtype=np.float32)),
                             (padded, np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))],
                            (_rotated(padded, angle) for angle in (20, -20)))  # turned only if needed
    found = None
    for i, (view, to_view) in enumerate(views):
        lines = TextReader.read(np.ascontiguousarray(view))
        scored = [(max(name_similarity(line.text, n) for n in names), line.box) for line in lines]
        best = max(((sim, b) for sim, b in scored if sim >= min_similarity and b.w > 0 < b.h),
                   key=lambda item: item[0], default=None)
        if best is not None:
            b = best[1]
            corners = np.array([[b.x, b.y], [b.x2, b.y], [b.x2, b.y2], [b.x, b.y2]], dtype=np.float32).reshape(-1, 1, 2)
            pts = cv2.transform(corners, cv2.invertAffineTransform(to_view)).reshape(-1, 2) - pad
            (x1, y1), (x2, y2) = pts.min(axis=0) / f, pts.max(axis=0) / f
            found = BBox(float(x1), float(y1), float(x2 - x1), float(y2 - y1))
            break
        if i == 1 and not lines:  # no text at all, upright: a symbol, not worth turning
            break
    _REFERENCE_NAMES[key] = found
    return found


def _rotated(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned about its centre on a canvas that holds all of it, and the 2x3 map into it."""
    import cv2

    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    W, H = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += W / 2 - w / 2
    m[1, 2] += H / 2 - h / 2
    return cv2.warpAffine(image, m, (W, H), borderMode=cv2.BORDER_REPLICATE), m.astype(np.float32)
