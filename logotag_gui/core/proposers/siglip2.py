"""SigLIP-2 NaFlex proposer: multi-scale windows → image features → FAISS cosine search.

Windows are cropped, resized to their NaFlex size, normalised and cut into patches with batched
tensor operations (see crops.py); the Hugging Face image processor is read only for its settings
(patch size, patch budget, mean/std), so the features match what the processor would give.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from logotag_gui.core.base.records import BBox, Candidate, Frame
from logotag_gui.core.media.logos import LogoDictionary
from logotag_gui.core.proposers.logo_index import (
    LogoIndex,
    build_index,
    index_folder,
    load_index_if_fresh,
    manifest_for,
    save_index,
)
from logotag_gui.core.vision.crops import WindowSpec, crop_resize, frame_tensor, group_by_shape, make_windows
from logotag_gui.core.vision.weights import (
    dtype_for,
    dtype_kwargs,
    pick_device,
    pil_image_processor_kwargs,
    resolve_model,
)

log = logging.getLogger(__name__)
DEFAULT_MODEL = "google/siglip2-base-patch16-naflex"


def naflex_size(height: int, width: int, patch: int, max_patches: int, eps: float = 1e-5) -> tuple[int, int]:
    """The size the NaFlex processor resizes an image to (same search as transformers')."""

    def scaled(scale: float, size: int) -> int:
        return max(patch, math.ceil(size * scale / patch) * patch)

    lo, hi = eps / 10, 100.0
    while hi - lo >= eps:
        mid = (lo + hi) / 2
        if (scaled(mid, height) / patch) * (scaled(mid, width) / patch) <= max_patches:
            lo = mid
        else:
            hi = mid
    return scaled(lo, height), scaled(lo, width)


def _pooled(features) -> torch.Tensor:
    """The pooled image embedding from `get_image_features`, on either transformers line.

    transformers 5 returns an output object (take its `.pooler_output`); 4.57 returns the pooled
    tensor itself.
    """
    if isinstance(features, torch.Tensor):
        return features
    pooled = getattr(features, "pooler_output", None)
    if pooled is None:
        raise TypeError(f"get_image_features returned {type(features).__name__} without a pooler_output")
    return pooled


@dataclass
class Siglip2Proposer:
    model_id: str = DEFAULT_MODEL
    revision: str | None = None
    device: str = "auto"
    batch_size: int = 32
    top_k: int = 3
    threshold: float = 0.7
    min_margin: float = 0.0
    windows: WindowSpec = WindowSpec()
    allow_download: bool = False
    cache_root: str | None = None
    # Never upsample a window past its own pixels (a 192 px window: 144 patches, not 256). Faster on
    # small windows; the processor always fills its patch budget, so this is off by default.
    native_resolution: bool = False
    name: str = "siglip2"

    def __post_init__(self) -> None:
        from transformers import AutoImageProcessor, AutoModel

        path = resolve_model(self.model_id, revision=self.revision, allow_download=self.allow_download)
        self.device = pick_device(self.device)
        self._dtype = dtype_for(self.device)
        self._model = AutoModel.from_pretrained(path, **dtype_kwargs(self._dtype)).to(self.device).eval()
        # Read for its settings only: the PIL processor needs no torchvision on either line.
        proc = AutoImageProcessor.from_pretrained(path, **pil_image_processor_kwargs())
        self._patch = int(proc.patch_size)
        self._max_patches = int(proc.max_num_patches)
        self._mean = torch.tensor(proc.image_mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(proc.image_std, device=self.device).view(1, 3, 1, 1)
        self._index: LogoIndex | None = None

    # ---- features -------------------------------------------------------------------------
    def _patchify(self, images: torch.Tensor, *, pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """(N, 3, h, w) in [0, 1], h and w multiples of the patch size → the model's NaFlex inputs.

        All images of a batch share one shape, so no padding is needed (`pad_to` reproduces the
        processor's padding to its patch budget, for comparison).
        """
        n, c, h, w = images.shape
        p = self._patch
        x = (images - self._mean) / self._std
        x = x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(n, (h // p) * (w // p), -1)
        real = x.shape[1]
        length = max(real, pad_to or real)
        pixel_values = torch.nn.functional.pad(x, (0, 0, 0, length - real))
        mask = torch.zeros((n, length), dtype=torch.int32, device=x.device)
        mask[:, :real] = 1
        shapes = torch.tensor([[h // p, w // p]] * n, dtype=torch.long, device=x.device)
        return {"pixel_values": pixel_values.to(self._dtype), "pixel_attention_mask": mask, "spatial_shapes": shapes}

    @torch.inference_mode()
    def _features(self, batch: torch.Tensor) -> np.ndarray:
        return _pooled(self._model.get_image_features(**self._patchify(batch))).float().cpu().numpy()

    def embed_windows(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """One feature row per box, in the order of `boxes`."""
        frame = frame_tensor(image, self.device)
        out: np.ndarray | None = None
        for (w, h), rows in group_by_shape(boxes).items():
            budget = self._max_patches
            if self.native_resolution:
                budget = min(budget, max(1, (h // self._patch) * (w // self._patch)))
            target = naflex_size(h, w, self._patch, budget)
            for start in range(0, len(rows), self.batch_size):
                part = rows[start:start + self.batch_size]
                feats = self._features(crop_resize(frame, boxes[part], target))
                if out is None:
                    out = np.zeros((len(boxes), feats.shape[1]), np.float32)
                out[part] = feats
        return out if out is not None else np.zeros((0, 0), np.float32)

    def embed_images(self, images: list[np.ndarray]) -> np.ndarray:
        rows = []
        for image in images:
            h, w = image.shape[:2]
            rows.append(self.embed_windows(image, np.array([[0, 0, w, h]])))
        return np.vstack(rows)

    # ---- protocol ------------------------------------------------------------------------
    @property
    def embedder_id(self) -> str:
        return f"siglip2:{self.model_id}"

    def prepare(self, dictionary: LogoDictionary) -> None:
        from platformdirs import user_cache_dir

        cache_root = self.cache_root or user_cache_dir("logotag")
        folder = index_folder(Path(cache_root), dictionary, self.embedder_id)
        dim = int(self._model.config.vision_config.hidden_size)
        expected = manifest_for(dictionary, embedder_id=self.embedder_id, revision=self.revision, dim=dim)
        index = load_index_if_fresh(folder, expected)
        if index is None:
            vectors = self.embed_images([r.image for r in dictionary.references])
            index = build_index(dictionary, vectors, expected)
            save_index(index, folder)
            log.info("built index of %d references at %s", len(dictionary.references), folder)
        self._index = index

    def propose(self, frame: Frame) -> list[Candidate]:
        if self._index is None:
            raise RuntimeError("prepare() must run before propose()")
        boxes = make_windows(frame.ref.width, frame.ref.height, self.windows)
        scores, ids = self._index.search(self.embed_windows(frame.image, boxes), self.top_k * 4)
        entries = self._index.entries
        out = []
        for box, row_scores, row_ids in zip(boxes.tolist(), scores, ids, strict=True):
            per_brand: dict[str, tuple[float, str]] = {}
            for s, i in zip(row_scores.tolist(), row_ids.tolist(), strict=True):
                if i < 0:
                    continue
                brand = entries[i]["brand"]
                if brand not in per_brand:  # results are sorted: first hit is the brand's best
                    per_brand[brand] = (s, entries[i]["file"])
            ranked = sorted(per_brand.items(), key=lambda kv: -kv[1][0])[: self.top_k]
            for brand, (score, ref) in ranked:
                others = [v[0] for b, v in ranked if b != brand]
                margin = score - (max(others) if others else 0.0)
                if score < self.threshold or (self.min_margin > 0 and margin < self.min_margin):
                    continue
                out.append(Candidate(frame.ref, BBox(*map(float, box)), brand, float(score), self.name,
                                     margin=float(margin), reference=ref))
        return out
