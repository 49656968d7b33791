"""Training pairs for the shape matcher, generated on the fly from the material in bench/.cache/ (seeded).

A mark is a simple-icons brand mark or a generic icon, a wordmark (a brand title or a made-up word in
one of many fonts, sometimes tracked, slanted, outlined or on two lines) or a lockup (a mark beside
or above its word). It is drawn in a random style (flat, two-coloured, on a badge, gradient) once as
the reference, cut from its own background like an analyst's crop, and once more, often restyled,
inside a 256 px scene at about the reference's scale, turned, tilted, blurred, relit, partly hidden
and JPEG-compressed. A scene holds several such marks (each with its reference), other marks as
distractors and, often, words; backgrounds are photos, photo mosaics, generated textures, stripes
and checks, clutter and signage.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bench.shape_material import BACKGROUNDS, FL27, FONTS, ICONS, load_backgrounds, squash
from logotag_gui.core.proposers.shape_net import TEMPLATE, template_canvas

SCENE = 256
FONT_SIZE = 48  # wordmarks are drawn at this size, then warped to their size in the image
MAX_SIDE = 192  # a mark's longest side before warping (it is never drawn larger than 140 px)
VAL_EVERY = 25  # one mark in 25 (by the hash of its name) is kept out of training, for validation
CONSONANTS, VOWELS = "bcdfghjklmnprstvwxyzbcdkmnprst", "aeiouaeioy"
LATIN_CHARS = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0xA0, 0x180)}


def _tight(a: np.ndarray, level: float = 25) -> np.ndarray:
    mask = a[:, :, 3] if a.ndim == 3 else a
    ys, xs = np.nonzero(mask > level)
    if len(ys) == 0:
        return a
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _cap(a: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    f = side / max(a.shape[:2])
    if f >= 1:
        return a
    size = (max(1, round(a.shape[1] * f)), max(1, round(a.shape[0] * f)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, 3).astype(np.float32)


class Material:
    """What a worker draws from (loaded once per worker): marks, words, fonts and photos."""

    def __init__(self, split: str = "train", icons: Path = ICONS, fonts: Path = FONTS,
                 backgrounds: Path = BACKGROUNDS) -> None:
        stored = np.load(icons)
        alphas = stored["alphas"]
        n = len(alphas)
        names = stored["names"] if "names" in stored else np.array([f"mark{i}" for i in range(n)])
        titles = stored["titles"]
        sources = stored["sources"] if "sources" in stored else np.array(["simple-icons"] * n)
        self.excluded = [str(e) for e in stored["excluded"]] if "excluded" in stored else sorted(FL27)
        held_out = np.array([zlib.crc32(str(name).encode()) % VAL_EVERY == 0 for name in names])
        keep = held_out if split == "val" else ~held_out
        # Tight alphas once: every use crops them otherwise.
        self.alphas = [_tight(a) for a in alphas[keep]]
        self.titles = [str(t) for t in titles[keep]]
        brand = sources[keep] == "simple-icons"
        weights = np.where(brand, 0.5 / max(1, brand.sum()), 0.5 / max(1, (~brand).sum()))
        self.cdf = np.cumsum(weights / weights.sum())
        self.brand = brand
        self.words = [t for t, b in zip(self.titles, brand, strict=True) if b and self.allowed(t)]
        self.font_files = sorted(p for p in Path(fonts).glob("*") if p.suffix.lower() in (".ttf", ".otf"))
        self.photos = [self._pyramid(p) for p in (load_backgrounds() if Path(backgrounds).exists() else _skimage_photos())]
        self._noise: np.ndarray | None = None

    @staticmethod
    def _pyramid(img: np.ndarray) -> list[np.ndarray]:
        levels = [img]
        while min(levels[-1].shape[:2]) >= 2 * SCENE and len(levels) < 3:
            levels.append(cv2.pyrDown(levels[-1]))
        return levels

    def allowed(self, word: str) -> bool:
        """No word that spells a left-out brand, and only letters the fonts were cut down to."""
        s = squash(word)
        if not s or len(word) > 18 or not set(word) <= LATIN_CHARS:
            return False
        return not any(e in s if len(e) >= 4 else (s == e or s.startswith(e)) for e in self.excluded)

    def mark_index(self, rng: np.random.Generator) -> int:
        return int(min(np.searchsorted(self.cdf, rng.random()), len(self.cdf) - 1))

    def font(self, rng: np.random.Generator, size: int = FONT_SIZE):
        if not self.font_files:
            return _default_font(size)
        return _font(str(self.font_files[rng.integers(len(self.font_files))]), size)

    def word(self, rng: np.random.Generator) -> str:
        for _ in range(20):
            if self.words and rng.random() < 0.45:
                w = self.words[rng.integers(len(self.words))]
            else:
                w = "".join(rng.choice(list(CONSONANTS)) + rng.choice(list(VOWELS)) for _ in range(rng.integers(1, 5)))
                w = w[:-1] if rng.random() < 0.4 else w
                if rng.random() < 0.15:
                    w += str(rng.integers(1, 100))
            case = rng.random()
            w = w.upper() if case < 0.35 else w.title() if case < 0.7 else w.lower() if case < 0.9 else w
            if self.allowed(w):
                return w
        return "Logo"

    def noise(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """A crop of a per-worker bank of Gaussian noise (drawing fresh noise per image costs more than the rest)."""
        if self._noise is None:
            self._noise = rng.standard_normal((2 * SCENE, 2 * SCENE, 3), dtype=np.float32)
        y, x = rng.integers(0, self._noise.shape[0] - shape[0] + 1), rng.integers(0, self._noise.shape[1] - shape[1] + 1)
        return self._noise[y:y + shape[0], x:x + shape[1]]


@lru_cache(maxsize=4096)
def _font(path: str, size: int):
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=8)
def _default_font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font only
        return ImageFont.load_default()


def _skimage_photos() -> list[np.ndarray]:
    """Without backgrounds.npz: the photos bundled with scikit-image, read in place."""
    from skimage import data

    from bench.shape_material import SKIMAGE_PHOTOS

    photos = []
    for name in SKIMAGE_PHOTOS:
        try:
            img = np.asarray(getattr(data, name)())
        except Exception:
            continue
        img = (img > 0).astype(np.uint8) * 255 if img.dtype == bool else img
        img = np.stack([img] * 3, axis=-1) if img.ndim == 2 else img[:, :, :3]
        photos.append(np.ascontiguousarray(img.astype(np.uint8)))
    return photos


# ---------------------------------------------------------------- marks


def word_alpha(text: str, font, rng: np.random.Generator) -> np.ndarray:
    """A word's coverage (uint8, tight): sometimes tracked, outlined, hollow or slanted."""
    stroke = int(rng.integers(1, 4)) if rng.random() < 0.15 else 0
    hollow = stroke > 0 and rng.random() < 0.5
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    track = int(font.size * rng.uniform(0.05, 0.4)) if rng.random() < 0.15 and len(text) > 1 else 0
    pad = 4 + stroke
    img = Image.new("L", (right - left + 2 * pad + track * len(text), bottom - top + 2 * pad), 0)
    draw = ImageDraw.Draw(img)
    kwargs = {"font": font, "fill": 0 if hollow else 255, "stroke_width": stroke, "stroke_fill": 255}
    if track:
        x = pad - left
        for ch in text:
            draw.text((x, pad - top), ch, **kwargs)
            x += font.getlength(ch) + track
    else:
        draw.text((pad - left, pad - top), text, **kwargs)
    a = np.asarray(img)
    if rng.random() < 0.15:  # slanted
        k = rng.uniform(-0.35, 0.35)
        h, w = a.shape
        a = cv2.warpAffine(a, np.float32([[1, k, max(0, -k * h)], [0, 1, 0]]), (w + int(abs(k) * h) + 1, h))
    return _tight(a)


def _stack(parts: list[np.ndarray], *, side_by_side: bool, gap: int, align: float = 0.5) -> np.ndarray:
    """Place uint8 masks in a row (or a column), centred across; overlapping parts merge (max)."""
    if side_by_side:
        h = max(p.shape[0] for p in parts)
        w = sum(p.shape[1] for p in parts) + gap * (len(parts) - 1)
    else:
        h = sum(p.shape[0] for p in parts) + gap * (len(parts) - 1)
        w = max(p.shape[1] for p in parts)
    out = np.zeros((h, w), np.uint8)
    at = 0
    for p in parts:
        if side_by_side:
            y = int((h - p.shape[0]) * align)
            out[y:y + p.shape[0], at:at + p.shape[1]] = np.maximum(out[y:y + p.shape[0], at:at + p.shape[1]], p)
            at += p.shape[1] + gap
        else:
            x = int((w - p.shape[1]) * align)
            out[at:at + p.shape[0], x:x + p.shape[1]] = np.maximum(out[at:at + p.shape[0], x:x + p.shape[1]], p)
            at += p.shape[0] + gap
    return out


def _height(a: np.ndarray, h: float) -> np.ndarray:
    f = max(2.0, h) / a.shape[0]
    size = (max(1, round(a.shape[1] * f)), max(2, round(a.shape[0] * f)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)


def make_mark(mat: Material, rng: np.random.Generator, index: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A mark's shape: (coverage uint8, the part that is its word or None). An icon, a wordmark or a lockup."""
    i = mat.mark_index(rng) if index is None else index
    kind = rng.random()
    if kind < 0.55:
        return mat.alphas[i], None
    title = mat.titles[i] if mat.brand[i] and mat.allowed(mat.titles[i]) and rng.random() < 0.6 else mat.word(rng)
    word = word_alpha(title, mat.font(rng), rng)
    if rng.random() < 0.15:  # two lines
        second = word_alpha(mat.word(rng), mat.font(rng), rng)
        second = _height(second, word.shape[0] * rng.uniform(0.4, 1.0))
        word = _stack([word, second], side_by_side=False, gap=int(word.shape[0] * rng.uniform(0.1, 0.3)),
                      align=float(rng.choice([0.0, 0.5])))
    word = _cap(word)
    if kind < 0.75:  # a wordmark
        return word, word
    icon = mat.alphas[i]
    layout = rng.random()
    if layout < 0.65:  # beside (usually after) its word
        word = _height(word, icon.shape[0] * rng.uniform(0.3, 0.8))
        parts = [icon, word] if layout < 0.55 else [word, icon]
        how = {"side_by_side": True, "gap": int(icon.shape[0] * rng.uniform(0.08, 0.35))}
    else:  # above its word
        word = _cap(word, int(icon.shape[1] * rng.uniform(1.0, 2.5)))
        parts = [icon, word]
        how = {"side_by_side": False, "gap": int(icon.shape[0] * rng.uniform(0.05, 0.25))}
    out = _stack(parts, **how)
    text = _stack([np.zeros_like(p) if p is icon else p for p in parts], **how)
    if max(out.shape) > MAX_SIDE:
        out, text = _cap(out), _cap(text)
    return out, text


def styled(alpha: np.ndarray, text: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """One rendering of a mark: RGBA float32, cropped to its outline."""
    a = alpha.astype(np.float32)[:, :, None] / 255
    h, w = alpha.shape
    c1, c2 = _colour(rng), _colour(rng)
    kind = rng.random()
    if kind < 0.5:  # flat, or its word in a second colour
        rgb = np.broadcast_to(c1, (h, w, 3))
        if text is not None and text.shape == alpha.shape and rng.random() < 0.4:
            t = text.astype(np.float32)[:, :, None] / 255
            rgb = c1 * (1 - t) + c2 * t
        rgba = np.concatenate([rgb, a * 255], axis=2)
    elif kind < 0.75:  # cut out of a badge: a disc, an ellipse or a plate
        pad = int(min(h, w) * rng.uniform(0.15, 0.35)) + 2
        H, W = h + 2 * pad, w + 2 * pad
        badge = np.zeros((H, W), np.uint8)
        shape = rng.random()
        if shape < 0.3 and 0.7 < w / h < 1.4:
            cv2.circle(badge, (W // 2, H // 2), min(H, W) // 2, 255, -1, cv2.LINE_AA)
        elif shape < 0.5:
            cv2.ellipse(badge, (W // 2, H // 2), (int(W * 0.62), int(H * 0.62)), 0, 0, 360, 255, -1, cv2.LINE_AA)
        else:
            r = int(min(H, W) * rng.uniform(0, 0.3))
            cv2.rectangle(badge, (r, 0), (W - 1 - r, H - 1), 255, -1)
            cv2.rectangle(badge, (0, r), (W - 1, H - 1 - r), 255, -1)
            for cx, cy in ((r, r), (W - 1 - r, r), (r, H - 1 - r), (W - 1 - r, H - 1 - r)):
                cv2.circle(badge, (cx, cy), r, 255, -1, cv2.LINE_AA)
        inner = np.zeros((H, W), np.float32)
        inner[pad:pad + h, pad:pad + w] = a[:, :, 0]
        rgb = c1 * (1 - inner[:, :, None]) + c2 * inner[:, :, None]
        rgba = np.concatenate([rgb, badge[:, :, None].astype(np.float32)], axis=2)
    else:  # gradient fill
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        if rng.random() < 0.5:
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        rgb = np.broadcast_to(c1 * (1 - t) + c2 * t, (h, w, 3))
        rgba = np.concatenate([rgb, a * 255], axis=2)
    return _tight(np.ascontiguousarray(rgba, np.float32))


def paste(canvas: np.ndarray, rgba: np.ndarray, centre: tuple[float, float], long_side: float, rng: np.random.Generator,
          *, tilt: float, turn: float) -> tuple[float, float, float, float]:
    """Warp a mark onto the canvas (in place) centred at `centre`; returns its box x0, y0, x1, y1."""
    H, W = canvas.shape[:2]
    mh, mw = rgba.shape[:2]
    corners = np.float32([[0, 0], [mw, 0], [mw, mh], [0, mh]])
    src = corners + rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * np.float32([mw, mh])
    rot = cv2.getRotationMatrix2D((mw / 2, mh / 2), rng.uniform(-turn, turn), long_side / max(mw, mh))
    dst = cv2.transform(src.reshape(-1, 1, 2), rot).reshape(-1, 2)
    dst += np.float32(centre) - (dst.min(axis=0) + dst.max(axis=0)) / 2
    # Warp into the mark's own region of the canvas only: most marks are small.
    pad = 3 + int(long_side / 16)
    rx0, ry0 = (np.floor(dst.min(axis=0)) - pad).astype(int).clip(0, [W, H])
    rx1, ry1 = (np.ceil(dst.max(axis=0)) + pad).astype(int).clip(0, [W, H])
    if rx1 - rx0 < 2 or ry1 - ry0 < 2:
        return tuple(map(float, (*dst.min(axis=0), *dst.max(axis=0))))
    warp = cv2.getPerspectiveTransform(corners, (dst - np.float32([rx0, ry0])).astype(np.float32))
    warped = cv2.warpPerspective(rgba, warp, (int(rx1 - rx0), int(ry1 - ry0)), flags=cv2.INTER_AREA
                                 if long_side < max(mw, mh) / 2 else cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    sigma = rng.uniform(0, 1.5) * long_side / 48
    if sigma > 0.4:
        warped = cv2.GaussianBlur(warped, (0, 0), sigma)
    alpha = warped[:, :, 3:4] * np.float32(1 / 255)
    shade = np.float32(rng.uniform(0.6, 1.3)) * np.linspace(1, rng.uniform(0.7, 1.3), warped.shape[1], dtype=np.float32)[None, :, None]
    roi = canvas[ry0:ry1, rx0:rx1]
    roi += (np.minimum(warped[:, :, :3] * shade, 255) - roi) * alpha
    x0, y0 = dst.min(axis=0)
    x1, y1 = dst.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def put_words(canvas: np.ndarray, mat: Material, rng: np.random.Generator, count: int) -> None:
    """Signage: words in random fonts, colours and sizes, upright (in place)."""
    H, W = canvas.shape[:2]
    for _ in range(count):
        h = rng.uniform(6, 40)
        size = next((b for b in (16, 24, 32) if b >= 1.3 * h), FONT_SIZE)  # small words from a small size: cheaper
        a = _height(word_alpha(mat.word(rng), mat.font(rng, size), rng), h)
        a = a[:, :W]
        h, w = a.shape
        x, y = int(rng.integers(-w // 2, W - w // 2)), int(rng.integers(-h // 2, H - h // 2))
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        alpha = a[y0 - y:y1 - y, x0 - x:x1 - x, None] * np.float32(1 / 255)
        roi = canvas[y0:y1, x0:x1]
        roi += (_colour(rng) - roi) * alpha


# ---------------------------------------------------------------- backgrounds


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    return xs, ys


def _photo(mat: Material, size: int, rng: np.random.Generator) -> np.ndarray:
    levels = mat.photos[rng.integers(len(mat.photos))]
    side = min(levels[0].shape[:2]) / rng.uniform(1.0, 3.5)  # a square of the photo, resized
    k = 0
    while k + 1 < len(levels) and side / 2 ** (k + 1) >= size:
        k += 1
    img, s = levels[k], max(2, int(side / 2 ** k))
    s = min(s, *img.shape[:2])
    y, x = rng.integers(0, img.shape[0] - s + 1), rng.integers(0, img.shape[1] - s + 1)
    out = cv2.resize(img[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return out[:, :, rng.permutation(3)].astype(np.float32)


def _noise_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    t = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    start = int(rng.integers(1, 4))
    for cells in (2, 4, 8, 16, 32, 64)[start:start + int(rng.integers(2, 5))]:
        t += cv2.resize(rng.random((cells, cells), dtype=np.float32), (size, size), interpolation=cv2.INTER_CUBIC) * amp
        total += amp
        amp *= rng.uniform(0.3, 0.8)
    t = np.clip((t / total - 0.5) * rng.uniform(1, 4) + 0.5, 0, 1)[:, :, None]
    return _colour(rng) * (1 - t) + _colour(rng) * t


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    xs, ys = _grid(size)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(6, 80)
    u = (xs * math.cos(angle) + ys * math.sin(angle)) / period
    on = (u % 1) < rng.uniform(0.2, 0.8)
    if rng.random() < 0.35:  # checks
        v = (-xs * math.sin(angle) + ys * math.cos(angle)) / (period * rng.uniform(0.5, 2))
        on ^= (v % 1) < 0.5
    return np.where(on[:, :, None], _colour(rng), _colour(rng)).astype(np.float32)


def _clutter(size: int, rng: np.random.Generator) -> np.ndarray:
    t = np.linspace(0, 1, size, dtype=np.float32)[None, :, None]
    out = np.ascontiguousarray(np.broadcast_to(_colour(rng) * (1 - t) + _colour(rng) * t, (size, size, 3)), np.uint8)
    for _ in range(rng.integers(3, 12)):
        p, q = rng.integers(0, size, 2), rng.integers(0, size, 2)
        colour = tuple(int(v) for v in _colour(rng))
        if rng.random() < 0.4:
            cv2.line(out, tuple(map(int, p)), tuple(map(int, q)), colour, int(rng.integers(1, 12)))
        elif rng.random() < 0.6:
            cv2.circle(out, tuple(map(int, p)), int(rng.integers(4, 60)), colour, int(rng.integers(-1, 6)))
        else:
            cv2.rectangle(out, tuple(map(int, p)), tuple(map(int, q)), colour, int(rng.integers(-1, 6)))
    return out.astype(np.float32)


def background(mat: Material, size: int, rng: np.random.Generator, *, plain: float = 0.0) -> np.ndarray:
    """float32 RGB: a photo crop, a mosaic of photos, a texture, stripes or checks, clutter, or a plain fill."""
    kind = rng.random()
    if kind < plain:
        t = np.linspace(0, 1, size, dtype=np.float32)[None, :, None] * rng.uniform(0, 0.5)
        c = _colour(rng)
        return np.ascontiguousarray(np.broadcast_to(c * (1 - t) + _colour(rng) * t, (size, size, 3)), np.float32)
    kind = rng.random()
    if kind < 0.5:
        out = _photo(mat, size, rng)
    elif kind < 0.6:  # a mosaic: boards, screens and stands side by side
        out = _photo(mat, size, rng)
        for _ in range(rng.integers(1, 4)):
            cut = int(rng.integers(size // 5, 4 * size // 5))
            other = _photo(mat, size, rng)
            if rng.random() < 0.5:
                out[:, cut:] = other[:, cut:]
            else:
                out[cut:] = other[cut:]
    elif kind < 0.75:
        out = _noise_texture(size, rng)
    elif kind < 0.87:
        out = _stripes(size, rng)
    else:
        out = _clutter(size, rng)
    if rng.random() < 0.3:
        put_words(out, mat, rng, int(rng.integers(1, 6)))
    if rng.random() < 0.6:
        out = out * np.float32(rng.uniform(0.6, 1.3)) + np.float32(rng.uniform(-30, 30))
    return np.ascontiguousarray(np.clip(out, 0, 255), dtype=np.float32)


def degrade(mat: Material, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera and codec: blur or low resolution sometimes, noise, JPEG. Returns uint8."""
    r = rng.random()
    if r < 0.15:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.3))
    elif r < 0.3:  # a lower-resolution source, scaled up
        h, w = image.shape[:2]
        f = rng.uniform(0.4, 0.8)
        image = cv2.resize(cv2.resize(image, (max(8, int(w * f)), max(8, int(h * f))), interpolation=cv2.INTER_AREA),
                           (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.6:
        image = image + mat.noise(image.shape, rng) * np.float32(rng.uniform(0, 8))
    noisy = np.clip(image, 0, 255).astype(np.uint8)
    _, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


# ---------------------------------------------------------------- pairs


def _reference(mat: Material, alpha: np.ndarray, text: np.ndarray | None, rng: np.random.Generator):
    """The reference: the mark on some background, cut out with a small margin, as an analyst crops it.

    Returns (canvas, mask, the mark's centre in the canvas, the mark's long side in canvas pixels).
    """
    look = styled(alpha, text, rng)
    ref_bg = background(mat, 128, rng, plain=0.3)
    ref_box = paste(ref_bg, look, (64, 64), rng.uniform(56, 90), rng, tilt=0.03, turn=4)
    margin = rng.uniform(0, 0.12) * (ref_box[2] - ref_box[0])
    x0, y0 = max(0, int(ref_box[0] - margin)), max(0, int(ref_box[1] - margin))
    x1, y1 = min(128, int(math.ceil(ref_box[2] + margin))), min(128, int(math.ceil(ref_box[3] + margin)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        x0, y0, x1, y1 = 0, 0, 128, 128
    crop = degrade(mat, ref_bg, rng)[y0:y1, x0:x1]
    canvas, mask, inner = template_canvas(np.ascontiguousarray(crop))
    fit = TEMPLATE / max(crop.shape[:2])  # canvas pixels per crop pixel
    # Where the reference's mark centre sits in the canvas: the offset that aligns it with the scene's.
    anchor = np.float32([inner.x + inner.w / 2, inner.y + inner.h / 2]) + (
        np.float32([(ref_box[0] + ref_box[2]) / 2 - (x0 + x1) / 2, (ref_box[1] + ref_box[3]) / 2 - (y0 + y1) / 2]) * fit)
    long_side = max(ref_box[2] - ref_box[0], ref_box[3] - ref_box[1]) * fit
    return canvas, mask, anchor, long_side


def sample(mat: Material, rng: np.random.Generator, targets: int = 2):
    """(reference canvases (T, 48, 48, 3) uint8, masks (T, 6, 6), scene (256, 256, 3) uint8, offsets (T, 2)).

    offsets[t]: where reference t's canvas lies in the scene when its mark lies on the scene's.
    """
    scene = background(mat, SCENE, rng)
    for _ in range(rng.integers(0, 4)):  # distractors: other marks, words, lockups
        alpha, text = make_mark(mat, rng)
        paste(scene, styled(alpha, text, rng), tuple(rng.uniform(0, SCENE, 2)), rng.uniform(16, 140), rng,
              tilt=0.08, turn=20)
    canvases, masks, offsets, placed = [], [], [], []
    for _ in range(targets):
        alpha, text = make_mark(mat, rng)
        canvas, mask, anchor, ref_long = _reference(mat, alpha, text, rng)
        look = styled(alpha, text, rng)  # in the scene: often restyled (the reference's colours are its own)
        long_side = ref_long * 2 ** rng.uniform(-0.3, 0.3)
        for _ in range(12):  # apart from the other targets
            centre = rng.uniform(TEMPLATE / 2, SCENE - TEMPLATE / 2, 2)
            if all(np.abs(centre - c).max() > 0.55 * (long_side + s) for c, s in placed):
                break
        placed.append((centre, long_side))
        paste(scene, look, tuple(centre), long_side, rng, tilt=0.08, turn=15)
        if rng.random() < 0.25:  # something in front of part of it
            ow, oh = long_side * rng.uniform(0.15, 0.4), long_side * rng.uniform(0.3, 0.9)
            ox, oy = centre + rng.uniform(-0.5, 0.5, 2) * long_side
            cv2.rectangle(scene, (int(ox), int(oy)), (int(ox + ow), int(oy + oh)), tuple(float(v) for v in _colour(rng)), -1)
        canvases.append(canvas)
        masks.append(mask.astype(np.float32))
        offsets.append((centre - anchor).astype(np.float32))
    return np.stack(canvases), np.stack(masks), degrade(mat, scene, rng), np.stack(offsets)
