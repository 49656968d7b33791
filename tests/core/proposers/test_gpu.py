"""The GPU path (bf16 on CUDA) with the tiny model: runs where a CUDA device exists, skipped elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logotag_gui.core.proposers.siglip2 import Siglip2Proposer

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


def test_siglip2_runs_in_bf16_on_cuda_and_agrees_with_cpu(tiny_siglip):
    image = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 128, 128], [100, 50, 128, 128]])
    gpu = Siglip2Proposer(model_id=str(tiny_siglip), device="auto")
    cpu = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu")
    assert gpu.device == "cuda" and gpu.dtype == torch.bfloat16
    a, b = gpu.embed_windows(image, boxes), cpu.embed_windows(image, boxes)
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() > 0.98
