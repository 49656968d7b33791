"""Shared helpers for the benchmarks: generated frames and tiny/base-size random SigLIP-2 models."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from resources import synth


def frames_1280x720(n: int, seed: int = 0) -> list[np.ndarray]:
    marks = {name: synth.make_logo(name, *spec) for name, spec in synth.DEMO_BRANDS.items()}
    bg = synth.background(1280, 720, seed)
    return [synth.render_frame(bg, marks, synth.DEMO_PLACEMENTS, i * 10, n * 10)[0] for i in range(n)]


def save_siglip2(folder: Path, *, size: str) -> Path:
    """A random-weight SigLIP-2 NaFlex: "tiny" (pipeline overhead) or "base" (SigLIP-2 base's architecture)."""
    from transformers import Siglip2Config, Siglip2Model

    from tests.tiny_models import (
        _siglip2_pil_processor_class,  # the PIL processor on either transformers line
    )

    if size == "tiny":
        text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                "vocab_size": 64}
        vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
        config = Siglip2Config(text_config=text, vision_config=vision)
    else:
        # Siglip2Config's defaults are the base model (768 wide, 12 layers, patch 16, 256 patches).
        config = Siglip2Config(text_config={"vocab_size": 1024})
    Siglip2Model(config).save_pretrained(folder)
    _siglip2_pil_processor_class()(max_num_patches=256).save_pretrained(folder)
    return folder


def timed(fn, *, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95
