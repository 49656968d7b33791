"""Offline proposer: a small learned shape matcher that ships with LogoTag (no download).

Keypoints need texture and OCR needs a name; a bare symbol of 30-60 px (an apple, three stripes)
has neither. This proposer compares learned feature maps instead: a small CNN (stride 8) embeds
the frame at several scales and each reference once; the reference's feature cells, restricted to
the cells the logo covers, slide over the frame's map, and the score is their mean cosine
similarity. Peaks above the threshold become boxes shaped like the reference.

The network is trained by `bench/train_shape_matcher.py` on generated pairs only: CC0
simple-icons marks (none of FlickrLogos-27's brands, none of the generated benchmark's), MIT
generic icons and wordmarks in freely licensed fonts, composited onto freely licensed photographs
and generated textures. LogoTag ships the trained model folder (config.json + model.safetensors)
as package data, with its model card; a model the user trains ($LOGOTAG_SHAPE_MODEL or the user's
data folder) takes precedence (`shape_net.find_shape_model()`).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from hashlib import sha1
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Candidate, Frame
from logotag_gui.core.media.logos import LogoDictionary
from logotag_gui.core.proposers.shape_net import (
    MODEL_ENV,
    STRIDE,
    SWITCHED_OFF,
    TEMPLATE,
    WEIGHTS_FILE,
    correlate,
    find_shape_model,
    load_shape_net,
    missing_model_message,
    shape_model_installed,
    template_canvas,
    to_tensor,
)
from logotag_gui.core.vision.weights import model_dtype

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Template:
    brand: str
    file: str
    box: BBox  # the logo inside the template canvas


@dataclass
class ShapeProposer:
    # Mean cosine over the reference's cells, and how many standard deviations the peak stands out
    # of the reference's scores over the whole frame: simple shapes (a ring, a bar) score high
    # everywhere, and a cosine threshold alone over-fires on them. Chosen on FlickrLogos-27 photos
    # (README: "How good is the offline detector").
    threshold: float = 0.6
    min_standout: float = 5.0
    smallest: int = 20  # smallest logo side searched for, in source pixels
    largest_share: float = 0.9  # largest logo side, as a share of the frame's shorter side
    # The largest pyramid level: HD frames are searched for marks from 48 px, 500 px photos from 20 px.
    max_level_side: int = 1280
    per_brand: int = 3
    precision: str = "auto"  # the convolutions' dtype: auto (bf16 where the CPU has it natively), fp32 or bf16
    model: Path | None = None  # a model folder; None: shape_net.find_shape_model() (the user's, else the shipped one)
    thread_safe = True  # frames may be proposed on several threads at once (stage_one.py)
    name: str = "shape"
    model_id: str = "logotag-shape-matcher"
    revision: str | None = None
    _templates: list[_Template] = field(default_factory=list)
    _kernels: torch.Tensor | None = None
    _masks: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.model is None:
            env = os.environ.get(MODEL_ENV, "").strip()
            if env and env.lower() not in SWITCHED_OFF and not shape_model_installed(Path(env)):
                log.warning("%s=%s holds no shape matcher model: using the next one found", MODEL_ENV, env)
            self.model = find_shape_model()
            if self.model is None:
                raise ModelUnavailable(missing_model_message())
        self.model = Path(self.model)
        self.net = load_shape_net(self.model)
        # On a CPU with native bf16 the convolutions run in bf16, channels last: the pyramid of a 1280x720
        # frame takes half the time (README: speed), and the scores differ by a few thousandths.
        if model_dtype("cpu", self.precision) == torch.bfloat16:
            net: Any = self.net  # Module.to takes memory_format, which its type stubs leave out
            self.net = net.to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        self.revision = sha1((self.model / WEIGHTS_FILE).read_bytes()).hexdigest()[:12]

    @property
    def embedder_id(self) -> str:
        return f"shape:{self.revision}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        self._templates, canvases, masks = [], [], []
        for ref in dictionary.references:
            canvas, mask, box = template_canvas(ref.image)
            self._templates.append(_Template(ref.brand, str(ref.path.relative_to(dictionary.root)), box))
            canvases.append(to_tensor(canvas))
            masks.append(torch.from_numpy(mask.astype(np.float32)))
        self._kernels = self._masks = None
        if canvases:
            with torch.inference_mode():
                self._kernels = self.net(torch.stack(canvases))
            self._masks = torch.stack(masks)

    def _scales(self, h: int, w: int) -> list[float]:
        """Half an octave apart: logos from `smallest` px to most of the frame are brought to the template's 48 px."""
        top = min(TEMPLATE / self.smallest, self.max_level_side / max(h, w))
        bottom = TEMPLATE / (self.largest_share * min(h, w))
        n = max(1, math.floor(2 * math.log2(top / bottom)) + 1)
        return [top * 2 ** (-k / 2) for k in range(n)]

    def _score_maps(self, image: np.ndarray, kernels: torch.Tensor,
                    masks: torch.Tensor) -> list[tuple[float, torch.Tensor]]:
        h, w = image.shape[:2]
        levels = []
        with torch.inference_mode():
            for s in self._scales(h, w):
                size = (round(w * s), round(h * s))
                if min(size) < TEMPLATE:
                    break
                level = cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
                levels.append((s, correlate(self.net(to_tensor(level)[None]), kernels, masks)[0]))
        return levels

    def propose(self, frame: Frame, *, threshold: float | None = None,
                min_standout: float | None = None) -> list[Candidate]:
        """Peaks over the thresholds (None: this matcher's own), best few per brand."""
        threshold = self.threshold if threshold is None else threshold
        min_standout = self.min_standout if min_standout is None else min_standout
        if self._kernels is None or self._masks is None:  # set together by prepare(): no references
            return []
        levels = self._score_maps(frame.image, self._kernels, self._masks)
        if not levels:
            return []
        flat = torch.cat([m.flatten(1) for _, m in levels], dim=1)
        mean, std = flat.mean(dim=1)[:, None, None], flat.std(dim=1).clamp(min=1e-3)[:, None, None]
        found: list[Candidate] = []
        for s, scores in levels:
            peaks = ((scores >= threshold) & ((scores - mean) / std >= min_standout)
                     & (scores == F.max_pool2d(scores[None], 3, 1, 1)[0]))
            for k, v, u in peaks.nonzero().tolist():
                t = self._templates[k]
                box = BBox((u * STRIDE + t.box.x) / s, (v * STRIDE + t.box.y) / s, t.box.w / s, t.box.h / s)
                found.append(Candidate(frame=frame.ref, bbox=box.clipped(frame.ref.width, frame.ref.height),
                                       brand=t.brand, score=round(float(scores[k, v, u]), 4), method="shape",
                                       reference=t.file))
        return _best(found, self.per_brand)


    def find_near(self, frame: Frame, brand: str, anchor: BBox, *, min_score: float = 0.4) -> Candidate | None:
        """The brand's best match around its read name: a symbol-only brand's mark sits beside its name.

        Searches the window `KeypointProposer.match_near` uses (`BBox.around_name`)
        at scales a quarter octave apart, for marks from the name's height up to 25 times its area;
        the region is small, so the finer pyramid is cheap, and it sizes the box better.
        """
        picked = [i for i, t in enumerate(self._templates) if t.brand == brand]
        if self._kernels is None or self._masks is None or not picked:
            return None
        x1, y1, x2, y2 = anchor.around_name().clipped(frame.ref.width, frame.ref.height).as_int_xyxy()
        region = frame.image[y1:y2, x1:x2]
        if min(region.shape[:2]) < 8:
            return None
        kernels, masks = self._kernels[picked], self._masks[picked]
        top = min(TEMPLATE / max(anchor.h, 8), 1024 / max(region.shape[:2]))
        bottom = TEMPLATE / min(region.shape[:2])
        best: tuple[float, BBox, int] | None = None
        with torch.inference_mode():
            for k in range(max(1, math.floor(4 * math.log2(top / bottom)) + 1)):
                s = top * 2 ** (-k / 4)
                size = (round(region.shape[1] * s), round(region.shape[0] * s))
                if min(size) < TEMPLATE:
                    break
                level = cv2.resize(region, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
                scores = correlate(self.net(to_tensor(level)[None]), kernels, masks)[0]
                for j, i in enumerate(picked):
                    t = self._templates[i]
                    w, h = t.box.w / s, t.box.h / s
                    if max(w, h) < anchor.h or w * h > 25 * anchor.area:
                        continue
                    value, at = scores[j].flatten().max(dim=0)
                    if best is None or value > best[0]:
                        v, u = divmod(int(at), scores.shape[-1])
                        box = BBox(x1 + (u * STRIDE + t.box.x) / s, y1 + (v * STRIDE + t.box.y) / s, w, h)
                        best = (float(value), box, i)
        if best is None or best[0] < min_score:
            return None
        return Candidate(frame=frame.ref, bbox=best[1], brand=brand, score=round(best[0], 4), method="shape",
                         reference=self._templates[best[2]].file)


def _best(found: list[Candidate], per_brand: int) -> list[Candidate]:
    """Greedy NMS over every scale and reference: overlapping peaks (any brand) keep the strongest."""
    kept: list[Candidate] = []
    for cand in sorted(found, key=lambda c: -c.score):
        if any(cand.bbox.overlaps(k.bbox) for k in kept):
            continue
        if sum(k.brand == cand.brand for k in kept) < per_brand:
            kept.append(cand)
    return kept
