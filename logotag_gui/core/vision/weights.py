"""Find model weights locally (a folder or the Hugging Face cache) or say clearly why not.

Tests save tiny random models to a folder and pass that folder as the model id: the same code path
as a hub id, minus the network.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from logotag_gui.core.base.errors import ModelUnavailable

log = logging.getLogger(__name__)
OFFLINE_HINT = "or use the offline backends: --embedder keypoints --verifier ocr"


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def resolve_model(model_id: str, *, revision: str | None = None, allow_download: bool = False) -> str:
    """A local folder holding the model: `model_id` itself if it is a folder, else the HF cache.

    Downloads only when the user allowed it; never silently falls back to another model.
    """
    local = Path(model_id).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelUnavailable(f"Folder '{local}' holds no config.json: it is not a saved model.")
        return str(local)
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model_id, revision=revision, local_files_only=True)
    except Exception as exc:  # the hub raises several types for "not cached"
        log.info("model %s not in the local cache: %s", model_id, exc)
    if allow_download and not hub_offline():
        try:
            return snapshot_download(model_id, revision=revision)
        except Exception as exc:
            raise ModelUnavailable(
                f"Model '{model_id}' could not be downloaded ({exc.__class__.__name__}: {exc}). "
                f"Fetch it on a connected machine with `hf download {model_id}` and copy the Hugging Face "
                f"cache (~/.cache/huggingface) here, {OFFLINE_HINT}."
            ) from exc
    why = "HF_HUB_OFFLINE is set" if hub_offline() else "downloads were not allowed (--allow-download)"
    raise ModelUnavailable(
        f"Model '{model_id}' is not in the local Hugging Face cache and {why}. "
        f"Fetch it with `hf download {model_id}` (on a connected machine, then copy ~/.cache/huggingface), "
        f"pass a local folder as the model id, {OFFLINE_HINT}."
    )


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def dtype_for(device: str):
    """bf16 on a GPU, fp32 on the CPU (bf16 matmuls are slow on most CPUs)."""
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


@cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): there bf16 matmuls are about
    twice as fast as fp32; elsewhere they are emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def model_dtype(device: str, precision: str = "auto"):
    """bf16 or fp32 for the model: `precision` "fp32" / "bf16", or "auto" (bf16 on a GPU and on a CPU
    with native bf16, fp32 otherwise)."""
    import torch

    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    if device == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return dtype_for(device)

# ---- the two transformers lines (4.57.x and 5.x) ---------------------------------------------------
@cache
def transformers_version() -> tuple[int, int]:
    """(major, minor) of the installed transformers, read from its metadata: importing transformers
    costs seconds, and the remote-code check must answer before anything loads or downloads."""
    import re
    from importlib.metadata import version

    found = re.match(r"(\d+)(?:\.(\d+))?", version("transformers"))  # "4.57.6", "5.0.0rc1", "5.1.dev0"
    if found is None:
        raise ModelUnavailable(f"Cannot read the installed transformers version ({version('transformers')!r}).")
    return int(found.group(1)), int(found.group(2) or 0)


def dtype_kwargs(dtype) -> dict:
    """The from_pretrained argument that sets the weights' dtype: `dtype` since transformers 4.56,
    `torch_dtype` before it. Both supported lines (4.57, 5.x) take `dtype` and only warn that
    `torch_dtype` is deprecated; the fallback keeps an older transformers outside the range loading."""
    return {"dtype": dtype} if transformers_version() >= (4, 56) else {"torch_dtype": dtype}


def pil_image_processor_kwargs() -> dict:
    """AutoImageProcessor arguments that pick the PIL/numpy processor, which needs no torchvision:
    `backend="pil"` in transformers 5 (where `use_fast` is deprecated), `use_fast=False` in 4.x
    (which otherwise warns that it picked the slow processor)."""
    return {"backend": "pil"} if transformers_version() >= (5, 0) else {"use_fast": False}
