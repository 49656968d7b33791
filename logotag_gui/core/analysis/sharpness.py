"""How sharp a mark is inside its box: what a counting rule's `min_sharpness` reads (base/counting.py).

The variance of the Laplacian (the usual focus measure, as `media/views.py` picks a view's key frame) is made
portable: the box is measured at 64 px on its long side (a larger box is shrunk by area averaging, a smaller one is
left as it is, so a 4K frame and an SD frame of the same mark read alike), divided by the variance of its grey
levels (a dim or low-contrast board reads like a bright one: the ratio ignores gain and offset), and squashed into
0-1 by r / (r + 1). A crisp word mark reads about 0.6, one soft but readable (a 1.5 px blur at 64 px) about 0.3, a
blur that hides it under 0.1; a flat box (nothing drawn) 0. White noise reads about 0.94: the measure says focus,
not that a mark is there.

Measured lazily: only where a rule needs it (`CountingRule.needs_pixels`), once per box and frame, in a cache
keyed by the clip's path, its size and modification time, the frame and the box, so changing the rule again
decodes nothing.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Iterable

import cv2
import numpy as np

from logotag_gui.core.base.records import BBox, Candidate

log = logging.getLogger(__name__)
SIDE = 64  # the long side a box is measured at
FLAT = 1e-5  # grey-level variance (0-1 scale) below which a box holds nothing to be sharp
CACHE_SIZE = 200_000
_cache: OrderedDict[tuple, float] = OrderedDict()


def box_sharpness(image: np.ndarray, box: BBox) -> float:
    """The normalised sharpness (0-1) of `image` (RGB or grey, uint8) inside `box` (clipped to the image)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box.clipped(width, height).as_int_xyxy()
    crop = image[y1:y2, x1:x2]
    if crop.shape[0] < 3 or crop.shape[1] < 3:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    g = grey.astype(np.float32) / 255.0
    scale = SIDE / max(g.shape)
    if scale < 1:
        g = cv2.resize(g, (max(3, round(g.shape[1] * scale)), max(3, round(g.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    spread = float(g.var())
    if spread < FLAT:
        return 0.0
    r = float(cv2.Laplacian(g, cv2.CV_32F, ksize=1).var()) / spread
    return r / (r + 1.0)


def _clip_key(path: str) -> tuple:
    try:
        st = os.stat(path)
        return (path, st.st_size, st.st_mtime_ns)
    except OSError:
        return (path, None, None)


def _box_key(c: Candidate) -> tuple:
    b = c.final_bbox
    return (c.frame.index, round(b.x, 1), round(b.y, 1), round(b.w, 1), round(b.h, 1))


def cached(path: str, candidates: Iterable[Candidate]) -> dict[int, float]:
    """The sharpness of the boxes already measured (candidate id -> sharpness); nothing is decoded."""
    clip = _clip_key(path)
    out = {}
    for c in candidates:
        value = _cache.get((clip, _box_key(c)))
        if value is not None and c.id is not None:
            out[c.id] = value
    return out


def measure(path: str, candidates: Iterable[Candidate]) -> dict[int, float]:
    """The sharpness of each candidate's box on its frame of the clip at `path` (candidate id -> 0-1), decoding each
    frame that holds an unmeasured box once, in frame order. A frame that cannot be read leaves its boxes out (a
    rule then counts them as unmeasured; the log says so)."""
    from logotag_gui.core.base.errors import LogoTagError
    from logotag_gui.core.media.video import open_source

    clip = _clip_key(path)
    boxes = [c for c in candidates if c.has_box and c.id is not None]
    todo: dict[int, list[Candidate]] = {}
    for c in boxes:
        if (clip, _box_key(c)) not in _cache:
            todo.setdefault(c.frame.index, []).append(c)
    if todo:
        try:
            source = open_source(path)
        except LogoTagError as exc:
            log.warning("sharpness not measured: %s", exc)
            return cached(path, boxes)
        try:
            for index in sorted(todo):
                try:
                    frame = source.frame(index)
                except (LogoTagError, IndexError, OSError) as exc:
                    log.warning("sharpness not measured on frame %d of '%s': %s", index, path, exc)
                    continue
                for c in todo[index]:
                    _cache[(clip, _box_key(c))] = box_sharpness(frame.image, c.final_bbox)
                    _cache.move_to_end((clip, _box_key(c)))
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        finally:
            source.close()
    return cached(path, boxes)
