"""Load stage-1 and stage-2 backends, choose "auto" ones, and keep loaded models between runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from logotag_gui.core.config import RunConfig
from logotag_gui.core.embedders import Proposer, make_proposer
from logotag_gui.core.errors import ModelUnavailable
from logotag_gui.core.models import resolve_model
from logotag_gui.core.verifiers import Verifier, make_verifier
from logotag_gui.core.verifiers.vlm import REMOTE_CODE_MODELS

log = logging.getLogger(__name__)


def model_available(model_id: str, revision: str | None) -> bool:
    try:
        resolve_model(model_id, revision=revision, allow_download=False)
        return True
    except ModelUnavailable:
        return False


def choose_backends(config: RunConfig) -> tuple[str, str, list[str]]:
    """Resolve "auto": the model backends when their weights are local, else the offline pair, with notices."""
    notices: list[str] = []
    embedder, verifier = config.embedder, config.verifier
    if embedder == "auto":
        if model_available(config.siglip_model, config.siglip_revision):
            embedder = "siglip2"
        else:
            embedder = "offline"
            notices.append(f"Using the offline detector (keypoints, OCR text and the shape matcher): '{config.siglip_model}' is not in the local "
                           f"Hugging Face cache (fetch it with `hf download {config.siglip_model}`, then choose siglip2).")
    from logotag_gui.core.embedders.shape_net import missing_model_message, shape_model_installed

    if embedder == "offline" and not shape_model_installed():
        notices.append(f"The offline detector runs without its shape matcher, so it rarely finds bare symbols: "
                       f"{missing_model_message()}.")
    if verifier == "auto":
        remote_blocked = config.vlm_model in REMOTE_CODE_MODELS and not config.trust_remote_code
        if not remote_blocked and model_available(config.vlm_model, config.vlm_revision):
            verifier = "vlm"
        else:
            verifier = "ocr"
            why = ("it needs --trust-remote-code and a pinned --vlm-revision" if remote_blocked
                   else f"it is not in the local cache (`hf download {config.vlm_model}`)")
            notices.append(f"Using the offline OCR verifier instead of the VLM '{config.vlm_model}': {why}.")
    return embedder, verifier, notices


@dataclass(slots=True)
class ModelCache:
    """Loaded backends keyed by their settings: the app keeps models loaded between runs."""

    _items: dict[tuple, object] = field(default_factory=dict)

    def proposer(self, name: str, config: RunConfig, *, cache_root: str | None = None) -> Proposer:
        threshold = config.resolved_threshold(name)
        if name == "siglip2":
            key = (name, config.siglip_model, config.siglip_revision, config.device)
            options = {"model_id": config.siglip_model, "revision": config.siglip_revision, "device": config.device,
                       "allow_download": config.allow_download, "cache_root": cache_root}
        else:
            key, options = (name,), {}
        proposer = self._items.get(key)
        if proposer is None:
            proposer = self._items[key] = make_proposer(name, **options)
        if name == "siglip2":
            proposer.native_resolution = config.siglip_native  # per run, like the thresholds
        # Thresholds are per run, not per load.
        if hasattr(proposer, "threshold"):
            proposer.threshold = threshold
            proposer.top_k = config.top_k
            proposer.min_margin = config.min_margin
        return proposer  # type: ignore[return-value]

    def verifier(self, name: str, config: RunConfig, *, aliases: dict[str, list[str]]) -> Verifier:
        if name == "vlm":
            key = (name, config.vlm_model, config.vlm_revision, config.device, config.trust_remote_code)
            options = {"model_id": config.vlm_model, "revision": config.vlm_revision, "device": config.device,
                       "trust_remote_code": config.trust_remote_code, "allow_download": config.allow_download}
        else:
            key, options = (name,), {}
        verifier = self._items.get(key)
        if verifier is None:
            verifier = self._items[key] = make_verifier(name, **options)
        if name == "vlm":
            verifier.threshold = config.vlm_threshold
            verifier.max_new_tokens = config.vlm_max_new_tokens
        elif name == "ocr":
            verifier.names = aliases
            verifier.threshold = config.ocr_threshold
        return verifier  # type: ignore[return-value]

    def clear(self) -> None:
        self._items.clear()


def describe(backend: object) -> tuple[str, str, str]:
    """(name, model id, revision) for the run record."""
    model = getattr(backend, "model_id", "") or ""
    if model and Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    return getattr(backend, "name", "?"), model, getattr(backend, "revision", "") or ""
