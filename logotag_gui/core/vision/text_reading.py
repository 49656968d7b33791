"""Reading text in images (rapidocr with the PP-OCRv6 ONNX models its wheel ships) and matching brand names in it.

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
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from logotag_gui.core.base.config import cores_per_worker
from logotag_gui.core.base.errors import OutputError
from logotag_gui.core.base.records import BBox
from logotag_gui.core.base.safe_io import atomic_write_text

log = logging.getLogger(__name__)

WHOLE_WORD_MAX = 5  # names this short hide inside ordinary words: match whole words only
MAX_JOINED_WORDS = 3  # "H P", "Coca Cola": a short name may be read as a few words
UNREADABLE_SIDE = 24  # a crop smaller than this (pixels, either side) is too small to read
# Letters OCR folds to plain Latin that Unicode does not decompose.
_EXTRA_FOLDS = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
                              "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "ı": "i", "ß": "ss", "þ": "th", "ð": "d"})


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
    words: tuple[tuple[str, BBox], ...] = ()  # the recogniser's words, each boxed tight to its letters


def name_box(line: TextLine, names: Sequence[str], min_similarity: float) -> BBox:
    """Where the line names the brand: the shortest run of its words that names it as well as any
    (a line can hold a tagline, or the name twice: Bata's mark is a stylised and a plain "Bata", read
    as one line); the whole line where its words are not known or only the whole line names it. Between
    equal runs, the tallest: a name is usually the largest text of its line."""
    best: tuple[tuple[float, int, float], BBox] | None = None
    n = len(line.words)
    for i in range(n):
        for j in range(i + 1, n + 1):
            text = " ".join(word for word, _ in line.words[i:j])
            similarity = max(name_similarity(text, name) for name in names)
            if similarity < min_similarity:
                continue
            box = _union([b for _, b in line.words[i:j]])
            key = (similarity, -(j - i), box.h)
            if best is None or key > best[0]:
                best = (key, box)
    return line.box if best is None else best[1]


class TextReader:
    """A shared rapidocr engine (loading its ONNX models takes a second).

    `read` returns each text line with a box that hugs its letters (see `_tight_word`): the detector's
    own boxes are padded by half the text's height and, on a small logo, can take in an emblem beside
    the name, while the proposer and the keypoint search need where the name itself is written.
    """

    _engines: ClassVar[dict[bool, Any]] = {}  # whole_frame -> its engine
    # Whether an HD frame is detected at its own size (WHOLE_FRAME_DETECTION); bench/bench_run.py --ocr-frames
    # compares both ways in one process.
    frames_at_own_size: ClassVar[bool] = True
    _loading = threading.Lock()  # frames are read on several threads: load each engine once

    @classmethod
    def engine(cls, *, whole_frame: bool = False):
        with cls._loading:
            if whole_frame not in cls._engines:
                cls._engines[whole_frame] = load_engine(whole_frame=whole_frame)
        return cls._engines[whole_frame]

    @classmethod
    def read(cls, image: np.ndarray, *, whole_frame: bool = False) -> list[TextLine]:
        """`whole_frame`: a video frame of at least 960 px is detected at its own size or smaller, never enlarged
        (WHOLE_FRAME_DETECTION); a crop, a reference or a small frame is enlarged to rapidocr's default (its text is
        small)."""
        import cv2

        image = np.ascontiguousarray(image)
        # A frame smaller than the detection size is still enlarged as rapidocr does (its text is small).
        at_own_size = whole_frame and cls.frames_at_own_size and \
            max(image.shape[:2]) >= WHOLE_FRAME_DETECTION["Det.limit_side_len"]
        # rapidocr expects BGR; word boxes: where the recogniser placed each word's letters along its line
        # The angle classifier (text turned 180 degrees) only for crops and references: on whole video frames it cost
        # 5% and changed no name read (10 frames of each dev clip, docs/benchmarks.md); broadcast text is upright.
        result = cls.engine(whole_frame=at_own_size)(np.ascontiguousarray(image[:, :, ::-1]), return_word_box=True,
                                                     use_cls=not whole_frame)
        quads, texts, scores = (getattr(result, k, None) for k in ("boxes", "txts", "scores"))
        if quads is None or not texts or scores is None:
            return []
        line_quads = [np.asarray(q, dtype=np.float32).reshape(4, 2) for q in quads]
        # rapidocr drops the word boxes of a line it could not place, so its list need not align with the
        # lines: each word goes to the line whose outline holds its centre.
        words_of: list[list[tuple[np.ndarray, str]]] = [[] for _ in line_quads]
        for line_words in getattr(result, "word_results", None) or ():
            for word in line_words or ():
                if len(word) < 3 or word[2] is None:
                    continue
                quad = np.asarray(word[2], dtype=np.float32).reshape(4, 2)
                centre = tuple(float(v) for v in quad.mean(axis=0))
                inside = [cv2.pointPolygonTest(q, centre, True) for q in line_quads]
                best = int(np.argmax(inside))
                if inside[best] >= -2.0:
                    words_of[best].append((quad, str(word[0])))
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
        lines = []
        for line_quad, text, score, words in zip(line_quads, texts, scores, words_of, strict=False):
            outline = _bbox(line_quad)
            tight = [(word, _clip_to(_bbox(_tight_word(gray, quad, word)), outline)) for quad, word in words]
            box = outline if not tight else _clip_to(_union([b for _, b in tight]), outline)
            lines.append(TextLine(str(text).strip(), float(score), box, tuple(tight)))
        return lines


WORD_REACH = 0.25  # the recogniser's word box is widened by this much of its height at each end, then fitted
WORD_MARGIN = 0.15  # kept around a word's letters, in units of their height (the box hugs the name, not the line)


def _tight_word(gray: np.ndarray, quad: np.ndarray, text: str) -> np.ndarray:
    """The part of a word's box (a quadrilateral from the recogniser) that holds its letters, plus a margin.

    Along the line, the recogniser says where the word's letters are (their columns in its crop, give or
    take part of a letter); across it, the box is the detector's, padded by about half the text's height,
    and on a small logo it can take in an emblem beside the name. The letters themselves (`letters_box`), in
    the word's upright crop widened a little, give both extents. Never larger than the detector's line
    (the caller clips); the word's box unchanged where no letters stand out (too small, or no contrast).
    """
    import cv2

    p = quad.astype(np.float32)
    # The recogniser's columns can cut a word's first or last letter: look a little beyond them.
    along = (p[1] - p[0] + p[2] - p[3]) / 2
    height = (np.linalg.norm(p[3] - p[0]) + np.linalg.norm(p[2] - p[1])) / 2
    reach = along / max(1e-6, float(np.linalg.norm(along))) * WORD_REACH * height
    p = np.array([p[0] - reach, p[1] + reach, p[2] + reach, p[3] - reach], dtype=np.float32)
    w = int(round(max(np.linalg.norm(p[0] - p[1]), np.linalg.norm(p[3] - p[2]))))
    h = int(round(max(np.linalg.norm(p[0] - p[3]), np.linalg.norm(p[1] - p[2]))))
    if w < 2 or h < 6:  # too small to tell its letters from the ground: keep its box
        return quad
    upright = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    to_upright = cv2.getPerspectiveTransform(p, upright)
    crop = cv2.warpPerspective(gray, to_upright, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    found = letters_box(crop, sum(not ch.isspace() for ch in text))
    if found is None:
        return quad
    left, top, right, bottom = found
    margin = WORD_MARGIN * (bottom - top)
    x1, x2 = max(0.0, left - margin), min(float(w), right + margin)
    y1, y2 = max(0.0, top - margin), min(float(h), bottom + margin)
    corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], dtype=np.float32)
    return cv2.perspectiveTransform(corners, np.linalg.inv(to_upright)).reshape(4, 2)


def letters_box(crop: np.ndarray, count: int) -> tuple[int, int, int, int] | None:
    """Where the `count` letters of an upright word crop lie (left, top, right, bottom), or None if unclear.

    Otsu's threshold splits the crop in two: dark letters on light ground or light on dark. Of each side's
    pieces, the letters are those that are not a band of ground along the crop's top or bottom row (the
    detector's padding can reach beyond the plate the word is printed on) and are of about one height
    (within a factor of two of the median piece): a taller piece is a neighbouring emblem or frame that
    the word's box cuts, a small one a speck. The side whose letters number closest to what the recogniser
    read is the ink (bold letters can outweigh their ground; a plate within a label has ground both ways).
    """
    import cv2

    h, w = crop.shape[:2]
    if float(crop.max()) - float(crop.min()) < 16:  # no contrast to tell ink from ground
        return None
    threshold, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    bright = crop > threshold
    best: tuple[int, np.ndarray] | None = None
    for ink in (bright, ~bright):
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
        pieces = stats[1:]  # left, top, width, height, area; label 0 is the other side
        top, height = pieces[:, cv2.CC_STAT_TOP], pieces[:, cv2.CC_STAT_HEIGHT]
        ground = ((top == 0) | (top + height >= h)) & (pieces[:, cv2.CC_STAT_WIDTH] > w // 2)
        pieces = pieces[(pieces[:, cv2.CC_STAT_AREA] >= max(2, 0.002 * h * w)) & (height >= 3) & ~ground]
        if len(pieces) == 0:
            continue
        typical = float(np.median(pieces[:, cv2.CC_STAT_HEIGHT]))
        heights = pieces[:, cv2.CC_STAT_HEIGHT]
        letters = pieces[(heights >= 0.5 * typical) & (heights <= 2.0 * typical)]
        miss = abs(len(letters) - count)
        if best is None or miss < best[0]:
            best = (miss, letters)
    if best is None or best[0] > max(2, count // 2):  # neither side looks like the word read there
        return None
    letters = best[1]
    left, top = int(letters[:, cv2.CC_STAT_LEFT].min()), int(letters[:, cv2.CC_STAT_TOP].min())
    right = int((letters[:, cv2.CC_STAT_LEFT] + letters[:, cv2.CC_STAT_WIDTH]).max())
    bottom = int((letters[:, cv2.CC_STAT_TOP] + letters[:, cv2.CC_STAT_HEIGHT]).max())
    return (left, top, right, bottom) if bottom - top >= 3 else None


def _bbox(pts: np.ndarray) -> BBox:
    (x1, y1), (x2, y2) = pts.min(axis=0), pts.max(axis=0)
    return BBox(float(x1), float(y1), float(x2 - x1), float(y2 - y1))


def _union(boxes: Sequence[BBox]) -> BBox:
    x1, y1 = min(b.x for b in boxes), min(b.y for b in boxes)
    x2, y2 = max(b.x2 for b in boxes), max(b.y2 for b in boxes)
    return BBox(x1, y1, x2 - x1, y2 - y1)


def _clip_to(box: BBox, outline: BBox) -> BBox:
    x1, y1 = max(box.x, outline.x), max(box.y, outline.y)
    x2, y2 = min(box.x2, outline.x2), min(box.y2, outline.y2)
    return outline if x2 <= x1 or y2 <= y1 else BBox(x1, y1, x2 - x1, y2 - y1)


ENGINE = "rapidocr"  # the distribution that reads text; its wheel ships the ONNX models below
MODEL_FILES = {"Det": "PP-OCRv6_det_small.onnx", "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
               "Rec": "PP-OCRv6_rec_small.onnx"}


def engine_revision() -> str:
    from importlib.metadata import version

    return version(ENGINE)


# rapidocr's default enlarges an image until its short side is 736 px before detecting text: a 1280x720 frame
# becomes about 1312x736, which dominates its cost. A frame is detected at its own size, never above 960 px on its
# long side: 1.5x faster on the dev clips' frames with as many lines read (50 against 48; bench/bench_ocr.py,
# docs/benchmarks.md). Crops and references keep the default (small text needs the enlargement).
WHOLE_FRAME_DETECTION: dict[str, Any] = {"Det.limit_type": "max", "Det.limit_side_len": 960}


def load_engine(*, whole_frame: bool = False):
    import rapidocr
    from rapidocr import RapidOCR

    models = Path(rapidocr.__file__).parent / "models"
    paths = {task: models / name for task, name in MODEL_FILES.items()}
    missing = sorted(p.name for p in paths.values() if not p.is_file())
    if missing:
        raise RuntimeError(f"rapidocr {engine_revision()} does not ship {', '.join(missing)} in {models}: LogoTag "
                           "reads text with the models in rapidocr's wheel and never downloads any; "
                           "install the version LogoTag names (pip install 'rapidocr>=3.10,<3.11')")
    params = {"Global.log_level": "error",  # not a warning for each image without text
              # Stage 1 reads a frame per core at once: an engine using every core for each frame spins its
              # threads against the others' (on 2 cores, one thread each made the offline detector 22% faster).
              "EngineConfig.onnxruntime.intra_op_num_threads": cores_per_worker(),
              **{f"{task}.model_path": str(p) for task, p in paths.items()},
              **(WHOLE_FRAME_DETECTION if whole_frame else {})}
    return RapidOCR(params=params)


# (image hash, shape, names, min_similarity) -> where the reference shows the name, or None: each reference is
# read once per process, whoever asks (it takes up to four OCR passes, about a second), and once per machine:
# what was read is kept on disk, so a restart does not read the dictionary again (27 brands: a minute or two).
_REFERENCE_NAMES: dict[tuple, BBox | None] = {}
REFERENCE_NAMES_FILE = "reference-names.json"


def _names_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("logotag")) / REFERENCE_NAMES_FILE


def _disk_key(key: tuple) -> str:
    """The on-disk key: the memory key and the OCR engine's revision (another engine may read otherwise)."""
    return hashlib.sha1(json.dumps([*map(str, key), engine_revision()]).encode()).hexdigest()


_DISK: dict[str, list[float] | None] | None = None  # the file's entries, read once per process


def _disk() -> dict[str, list[float] | None]:
    global _DISK
    if _DISK is None:
        try:
            loaded = json.loads(_names_file().read_text(encoding="utf-8"))
            _DISK = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            _DISK = {}
    return _DISK


def _read_disk(key: tuple) -> tuple[bool, BBox | None]:
    entries, disk_key = _disk(), _disk_key(key)
    if disk_key not in entries:
        return False, None
    stored = entries[disk_key]
    return True, (BBox(*map(float, stored)) if stored is not None else None)


def _write_disk(key: tuple, found: BBox | None) -> None:
    """Best effort: a cache that cannot be written costs a re-read at the next start, nothing more. Another
    process's entries written meanwhile are kept (read again just before writing)."""
    global _DISK
    path = _names_file()
    _DISK = None
    entries = _disk()
    entries[_disk_key(key)] = [found.x, found.y, found.w, found.h] if found is not None else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(entries))
    except (OSError, OutputError) as exc:
        log.debug("could not keep the reference names in %s: %s", path, exc)


def name_in_reference(image: np.ndarray, names: Sequence[str], *, min_similarity: float = 0.8) -> BBox | None:
    """Where a reference image shows one of the brand's names, in its own pixels; None for a symbol.

    Small references are read larger. A text detector can miss words that touch the image border (PP-OCRv4
    missed FedEx, Google and Coca-Cola) and references are often cropped tight, so the crop is read with a
    border too; slanted script (Sprite) is read only once turned upright.
    """
    import cv2

    key = (hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest(), image.shape, tuple(names), min_similarity)
    if key in _REFERENCE_NAMES:
        return _REFERENCE_NAMES[key]
    known, stored = _read_disk(key)
    if known:
        _REFERENCE_NAMES[key] = stored
        return stored
    h, w = image.shape[:2]
    f = max(1.0, 400 / max(h, w))
    if f > 1.0:
        image = cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_CUBIC)
    pad = int(0.15 * max(image.shape[:2]))
    # The ground's colour (the median of the edge pixels), not the edge replicated: letters that touch the
    # edge would be drawn out into streaks, and the box of the name with them.
    channels = image.shape[2] if image.ndim == 3 else 1
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, channels)
    ground = [float(v) for v in np.median(edge, axis=0)]
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=ground)
    views = itertools.chain([(image, np.array([[1, 0, -pad], [0, 1, -pad]], dtype=np.float32)),
                             (padded, np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float32))],
                            (_rotated(padded, angle) for angle in (20, -20)))  # turned only if needed
    found = None
    for i, (view, to_view) in enumerate(views):
        lines = TextReader.read(np.ascontiguousarray(view))
        scored = sorted(((max(name_similarity(line.text, n) for n in names), k) for k, line in enumerate(lines)),
                        key=lambda item: (-item[0], item[1]))  # best first; the first read among equals
        boxes = (name_box(lines[k], names, min_similarity) for sim, k in scored if sim >= min_similarity)
        b = next((box for box in boxes if box.w > 0 < box.h), None)  # the best-named line's name, boxed
        if b is not None:
            corners = np.array([[b.x, b.y], [b.x2, b.y], [b.x2, b.y2], [b.x, b.y2]], dtype=np.float32).reshape(-1, 1, 2)
            pts = cv2.transform(corners, cv2.invertAffineTransform(to_view)).reshape(-1, 2) - pad
            (x1, y1), (x2, y2) = pts.min(axis=0) / f, pts.max(axis=0) / f
            found = BBox(float(x1), float(y1), float(x2 - x1), float(y2 - y1))
            break
        if i == 1 and not lines:  # no text at all, upright: a symbol, not worth turning
            break
    _REFERENCE_NAMES[key] = found
    _write_disk(key, found)
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
