"""SigLIP-2 NaFlex proposer: multi-scale windows → image features → FAISS cosine search.

Windows are cropped and resized with batched tensor operations on the model's device (crops.py),
then cut into NaFlex patches for the whole batch with one reshape-permute copy; the processor's
normalisation is folded into the model's patch embedding, so the patches need one dtype conversion
and nothing else. The Hugging Face image processor is read only for its settings (patch size, patch
budget, mean/std), so the features match what the processor would give (the bench prints the
cosine). Each window shape is one batch of at most `batch_size` windows.

On a CPU with native bf16 dot products (AVX512-BF16, AMX) the model runs in bf16, about twice as
fast as fp32 there with features at cosine > 0.9999 to fp32's; elsewhere on a CPU in fp32, on a GPU
in bf16 (`precision` overrides).
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from logotag_gui.core.vision.crops import WindowSpec, crop_resize, frame_pixels, group_by_shape, make_windows
from logotag_gui.core.vision.weights import (
    dtype_kwargs,
    model_dtype,
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


def pooled_features(features) -> torch.Tensor:
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


def _fold_normalisation(model, mean, std, patch: int) -> None:
    """Fold the processor's (x / 255 - mean) / std into the patch embedding (a Linear over patches laid
    out (row, column, channel)), so it takes raw 0-255 pixel values.

    Normalising is affine and the embedding linear, so W((x/255 - m)/s) + b = (W/(255 s)) x + (b - W m/s):
    the same features, and a batch of patches costs one uint8 → float conversion instead of three
    passes over its largest tensor. Done in fp32 on this proposer's own model, before any cast.
    """
    embed = model.vision_model.embeddings.patch_embedding
    mean_t = torch.as_tensor(mean, dtype=torch.float32).repeat(patch * patch)  # channel is the fastest axis
    std_t = torch.as_tensor(std, dtype=torch.float32).repeat(patch * patch)
    if embed.weight.shape[1] != mean_t.numel():
        raise ValueError(f"patch embedding takes {embed.weight.shape[1]} values, not {mean_t.numel()} per patch")
    with torch.no_grad():
        weight = embed.weight.float()
        embed.bias.copy_(embed.bias.float() - weight @ (mean_t / std_t))
        embed.weight.copy_(weight / (255.0 * std_t))


def _cache_position_embeddings(model) -> None:
    """Resize the position embeddings once per window shape, not once per window and batch.

    Siglip2VisionEmbeddings resizes its position grid to every image's patch grid on each call
    (transformers 5: a batched weight computation; 4.57: one interpolate per image), which costs a
    tiny model as much as its encoder. Our batches hold one shape, so the result for one image is
    computed by the library's own function, kept, and broadcast over the batch; mixed batches still
    take the library's path. Set on this model instance only (ours: loaded by this proposer).
    """
    embeddings = getattr(getattr(model, "vision_model", None), "embeddings", None)
    original = getattr(type(embeddings), "resize_positional_embeddings", None)
    if embeddings is None or original is None:
        return
    kept: dict[tuple, torch.Tensor] = {}

    def resize(positional_embeddings: torch.Tensor, spatial_shapes: torch.Tensor, max_length: int) -> torch.Tensor:
        n = spatial_shapes.shape[0]
        # One image (a reference) gains nothing; mixed shapes take the library's path.
        if n < 2 or torch.is_grad_enabled() or not bool((spatial_shapes == spatial_shapes[0]).all()):
            return original(positional_embeddings, spatial_shapes, max_length=max_length)
        h, w = (int(v) for v in spatial_shapes[0].tolist())
        key = (h, w, int(max_length), positional_embeddings.dtype, positional_embeddings.device)
        if key not in kept:
            if len(kept) >= 32:  # a frame has a handful of window shapes; never grow without bound
                kept.clear()
            kept[key] = original(positional_embeddings, spatial_shapes[:1], max_length=max_length)
        return kept[key].expand(n, -1, -1)

    embeddings.resize_positional_embeddings = resize


@dataclass
class Siglip2Proposer:
    model_id: str = DEFAULT_MODEL
    revision: str | None = None
    device: str = "auto"
    batch_size: int = 0  # windows per model call; 0: as many as fit (see batch_for)
    top_k: int = 3
    threshold: float = 0.7
    min_margin: float = 0.0
    windows: WindowSpec = WindowSpec()
    allow_download: bool = False
    cache_root: str | None = None
    # Never upsample a window past its own pixels (a 192 px window: 144 patches, not 256). Faster on
    # small windows; the processor always fills its patch budget, so this is off by default.
    native_resolution: bool = False
    precision: str = "auto"  # model dtype: auto, fp32 or bf16 (see model_dtype)
    name: str = "siglip2"
    # One model call at a time: the model batches a frame's windows itself, and torch's own threads fill the CPU.
    thread_safe = False
    # Seconds spent per stage when a dict is set here (bench/bench_siglip2.py --profile); the device is
    # synchronised at each stage's end only then.
    profile: dict[str, float] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        from transformers import AutoImageProcessor, AutoModel

        path = resolve_model(self.model_id, revision=self.revision, allow_download=self.allow_download)
        self.device = pick_device(self.device)
        self.dtype = model_dtype(self.device, self.precision)
        # Loaded in fp32, the processor's normalisation folded into the patch embedding, then cast.
        model = AutoModel.from_pretrained(path, **dtype_kwargs(torch.float32)).eval()
        # Read for its settings only: the PIL processor needs no torchvision on either line.
        proc = AutoImageProcessor.from_pretrained(path, **pil_image_processor_kwargs())
        self._patch = int(proc.patch_size)
        self._max_patches = int(proc.max_num_patches)
        _fold_normalisation(model, proc.image_mean, proc.image_std, self._patch)
        _cache_position_embeddings(model)
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.index: LogoIndex | None = None

    # ---- timing (bench only) ----------------------------------------------------------------
    @contextmanager
    def _stage(self, name: str):
        if self.profile is None:
            yield
            return
        t0 = time.perf_counter()
        yield
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        self.profile[name] = self.profile.get(name, 0.0) + time.perf_counter() - t0

    # ---- features -------------------------------------------------------------------------
    def patchify(self, images: torch.Tensor, *, pad_to: int | None = None) -> dict[str, torch.Tensor]:
        """(N, C, h, w) images, h and w multiples of the patch size → the model's NaFlex inputs.

        uint8 images hold 0-255, float ones 0-1 (torchvision's convention). The patch layout is cut
        in the input dtype with one reshape-permute copy for the whole batch (in uint8: a quarter of
        float's traffic), then converted to the model's dtype. The pixel values stay 0-255: this
        model's patch embedding holds the processor's (x / 255 - mean) / std (`_fold_normalisation`).
        All images of a batch share one shape, so no padding is needed (`pad_to` reproduces the
        processor's padding to its patch budget, for comparison).
        """
        n, c, h, w = images.shape
        p = self._patch
        gh, gw = h // p, w // p
        patches = (images.permute(0, 2, 3, 1)  # (n, h, w, c): a view, contiguous for channels-last images
                   .reshape(n, gh, p, gw, p, c).permute(0, 1, 3, 2, 4, 5).reshape(n, gh * gw, p * p, c))
        # The patch embedding takes raw 0-255 values (the normalisation is folded into it): one conversion.
        x = patches.to(self.dtype)
        if images.dtype != torch.uint8:
            x.mul_(255.0)
        x = x.view(n, gh * gw, p * p * c)
        real = gh * gw
        length = max(real, pad_to or real)
        if length > real:
            x = torch.nn.functional.pad(x, (0, 0, 0, length - real))
        mask = torch.zeros((n, length), dtype=torch.int32, device=x.device)
        mask[:, :real] = 1
        shapes = torch.tensor([[gh, gw]], dtype=torch.long, device=x.device).repeat(n, 1)
        return {"pixel_values": x, "pixel_attention_mask": mask, "spatial_shapes": shapes}

    @torch.inference_mode()
    def features(self, batch: torch.Tensor) -> np.ndarray:
        with self._stage("patchify"):
            inputs = self.patchify(batch)
        with self._stage("model"):
            pooled = pooled_features(self.model.get_image_features(**inputs))
        with self._stage("to host"):
            return pooled.float().cpu().numpy()

    def batch_for(self, patches: int) -> int:
        """Windows per model call for windows of `patches` patches.

        On a GPU, as many as memory allows at base size (256 k tokens). On a CPU, as many as keep the
        largest tensor (the pixel values, or the MLP's activations) under 32 MB: on Linux, glibc
        hands larger blocks back to the OS on every free, and touching fresh pages again costs more
        than the larger matmuls gain (measured: batches of 16-20 base windows beat 64).
        """
        if self.batch_size > 0:
            return self.batch_size
        if self.device != "cpu":
            return max(1, 262_144 // max(1, patches))
        vision = self.model.config.vision_config
        per_token = max(3 * self._patch ** 2, int(vision.intermediate_size)) * self.dtype.itemsize
        return max(1, (32 << 20) // (max(1, patches) * per_token))

    def embed_windows(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """One feature row per box, in the order of `boxes`."""
        boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        with self._stage("upload"):
            pixels = frame_pixels(image, self.device)
        out: np.ndarray | None = None
        for (w, h), rows in group_by_shape(boxes).items():
            budget = self._max_patches
            if self.native_resolution:
                budget = min(budget, max(1, (h // self._patch) * (w // self._patch)))
            target = naflex_size(h, w, self._patch, budget)
            step = self.batch_for((target[0] // self._patch) * (target[1] // self._patch))
            step = math.ceil(len(rows) / math.ceil(len(rows) / step))  # equal batches: 36 + 36, not 64 + 8
            for start in range(0, len(rows), step):
                part = rows[start:start + step]
                with self._stage("crop+resize"):
                    crops = crop_resize(pixels, boxes[part], target)
                feats = self.features(crops)
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

    def prepare(self, dictionary: LogoDictionary, *, cache: bool = True) -> None:
        """Embed the dictionary's references into a FAISS index (kept on disk by the dictionary's files, unless
        `cache` is off: the views review taught are not files and change with every decision)."""
        from platformdirs import user_cache_dir

        dim = int(self.model.config.vision_config.hidden_size)
        expected = manifest_for(dictionary, embedder_id=self.embedder_id, revision=self.revision, dim=dim)
        if not cache:
            self.index = build_index(dictionary, self.embed_images([r.image for r in dictionary.references]),
                                      expected)
            return
        cache_root = self.cache_root or user_cache_dir("logotag")
        folder = index_folder(Path(cache_root), dictionary, self.embedder_id)
        index = load_index_if_fresh(folder, expected)
        if index is None:
            vectors = self.embed_images([r.image for r in dictionary.references])
            index = build_index(dictionary, vectors, expected)
            save_index(index, folder)
            log.info("built index of %d references at %s", len(dictionary.references), folder)
        self.index = index

    def propose(self, frame: Frame) -> list[Candidate]:
        if self.index is None:
            raise RuntimeError("prepare() must run before propose()")
        with self._stage("windows"):
            boxes = make_windows(frame.ref.width, frame.ref.height, self.windows)
        features = self.embed_windows(frame.image, boxes)
        with self._stage("faiss"):
            scores, ids = self.index.search(features, self.top_k * 4)
        with self._stage("candidates"):
            return self._candidates(frame, boxes, scores, ids)

    def _candidates(self, frame: Frame, boxes: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> list[Candidate]:
        entries = self.index.entries if self.index is not None else []
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
