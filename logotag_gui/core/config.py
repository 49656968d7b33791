"""Run settings: one frozen record, stored with each run so results can be traced to them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

DEFAULT_SIGLIP = "google/siglip2-base-patch16-naflex"
DEFAULT_VLM = "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct"
DEFAULT_FPS = 2.0  # frames sampled per second: the seed's default, and the grid a clip is reviewed on
# Retrieval-score thresholds per proposer: cosine for siglip2 (seed default), inlier share for
# keypoints (0.25 = 10 RANSAC inliers), mean cell cosine for the shape matcher.
DEFAULT_THRESHOLDS = {"siglip2": 0.7, "keypoints": 0.25, "ocr": 0.5, "shape": 0.6, "offline": 0.25}


@dataclass(frozen=True, slots=True)
class RunConfig:
    input: str
    logos: str
    embedder: str = "auto"  # auto | siglip2 | keypoints | ocr | shape | offline (keypoints + OCR text + shape, fused)
    verifier: str = "auto"  # auto | vlm | ocr | none
    fps: float = DEFAULT_FPS
    start_frame: int = 0
    end_frame: int | None = None
    threshold: float | None = None  # None: the embedder's default
    min_margin: float = 0.0
    top_k: int = 3
    nms_iou: float = 0.4
    track_gap_s: float = 1.5
    track_verify: bool = True  # verify the best few crops of a track, carry the verdict to the rest
    track_verify_k: int = 3
    siglip_model: str = DEFAULT_SIGLIP
    siglip_revision: str | None = None
    siglip_native: bool = False  # never upsample small windows (faster; off: the processor's behaviour)
    vlm_model: str = DEFAULT_VLM
    vlm_revision: str | None = None
    trust_remote_code: bool = False
    vlm_threshold: float = 0.5
    vlm_max_new_tokens: int = 128  # the seed's deterministic decoding budget per answer
    ocr_threshold: float = 0.5
    device: str = "auto"
    batch_frames: int = 4
    allow_download: bool = False
    # Follow every confident detection through the clip where the detector missed it (video only).
    propagate: bool = True
    propagate_min_score: float = 0.5  # without a "yes" verdict, a detection must score this to be followed

    def resolved_threshold(self, embedder: str) -> float:
        return self.threshold if self.threshold is not None else DEFAULT_THRESHOLDS.get(embedder, 0.5)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def with_(self, **changes: object) -> RunConfig:
        return dataclasses.replace(self, **changes)
