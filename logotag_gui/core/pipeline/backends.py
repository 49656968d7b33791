"""The one registry of stage-1 and stage-2 backends: load them, choose "auto" ones, keep loaded models between runs.

Each backend says here, once: its name, what it is, how it is built from a run's settings (the
settings that need a new load form its cache key), which settings it takes per run, and (for
proposers) its default score threshold. The CLI's choices, the run dialog's lists and `make_proposer`
/ `make_verifier` all come from this table. A run gets its own copy of a cached backend with that
run's settings: a loaded model is shared, a setting never leaks from one run into the next.
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from logotag_gui.core.base.config import DEFAULT_VLM, RunConfig
from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.proposers import Proposer
from logotag_gui.core.verifiers import Verifier
from logotag_gui.core.vision.weights import resolve_model

log = logging.getLogger(__name__)
T = TypeVar("T")
Options = Callable[[RunConfig], dict[str, Any]]


def _none(config: RunConfig) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Backend:
    name: str
    summary: str
    target: str  # "module:Class", imported only when used (torch, transformers, rapidocr load lazily)
    load: Options = _none  # constructor options; a change means a new load
    per_run: Options = _none  # attributes a run sets on its own copy
    threshold: float | None = None  # proposers: the retrieval score a candidate needs by default

    def reads(self) -> frozenset[str]:
        """The run settings this backend takes: those its load and per-run options read (recorded on a
        default RunConfig, so the registry stays the one place that says it)."""
        seen: set[str] = set()
        defaults = RunConfig(input="", logos="")

        class Recorder:
            def __getattr__(self, name: str) -> Any:
                seen.add(name)
                return getattr(defaults, name)

        recorder: Any = Recorder()
        self.load(recorder)
        self.per_run(recorder)
        return frozenset(seen)

    def build(self, **options: Any) -> Any:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)(**options)


def _siglip_load(c: RunConfig) -> dict[str, Any]:
    return {"model_id": c.siglip_model, "revision": c.siglip_revision, "device": c.device,
            "precision": c.precision, "allow_download": c.allow_download}


def _vlm_load(c: RunConfig) -> dict[str, Any]:
    return {"model_id": c.vlm_model, "revision": c.vlm_revision, "device": c.device,
            "trust_remote_code": c.trust_remote_code, "allow_download": c.allow_download}


PROPOSERS: dict[str, Backend] = {b.name: b for b in [
    Backend("siglip2", "SigLIP-2 NaFlex windows matched to the logos with FAISS (needs the model's weights)",
            "logotag_gui.core.proposers.siglip2:Siglip2Proposer", load=_siglip_load,
            per_run=lambda c: {"threshold": resolved_threshold(c, "siglip2"), "top_k": c.top_k,
                               "min_margin": c.min_margin, "native_resolution": c.siglip_native},
            threshold=0.7),  # cosine: the seed's default
    Backend("offline", "keypoints + OCR text + the shipped shape matcher, fused (no download)",
            "logotag_gui.core.proposers.offline:OfflineProposer", load=lambda c: {"precision": c.precision},
            per_run=lambda c: {"shape_threshold": c.shape_threshold, "shape_min_standout": c.shape_min_standout},
            threshold=0.25),
    Backend("keypoints", "SIFT keypoints matched to each reference, RANSAC homography (no download)",
            "logotag_gui.core.proposers.keypoints:KeypointProposer", threshold=0.25),  # 10 inliers of 40
    Backend("ocr", "text that names a brand (rapidocr, no download)",
            "logotag_gui.core.proposers.ocr_text:OcrTextProposer", threshold=0.5),
    Backend("shape", "the shipped shape matcher alone: bare symbols (no download)",
            "logotag_gui.core.proposers.shape:ShapeProposer", load=lambda c: {"precision": c.precision},
            per_run=lambda c: {"threshold": resolved_threshold(c, "shape"), "min_standout": c.shape_min_standout},
            threshold=0.6),  # mean cell cosine
]}

VERIFIERS: dict[str, Backend] = {b.name: b for b in [
    Backend("vlm", "a vision-language model answers strict JSON per crop (needs the model's weights)",
            "logotag_gui.core.verifiers.vlm:VlmVerifier", load=_vlm_load,
            per_run=lambda c: {"threshold": c.vlm_threshold, "max_new_tokens": c.vlm_max_new_tokens,
                               "answer": c.vlm_answer, "unsure_band": c.vlm_unsure_band}),
    Backend("endpoint", "a VLM served over the OpenAI-compatible API (vLLM, SGLang, llama.cpp, TGI)",
            "logotag_gui.core.verifiers.endpoint:EndpointVerifier",
            # The local default VLM's name means "whatever the server serves".
            load=lambda c: {"endpoint": c.vlm_endpoint, "model_id": "" if c.vlm_model == DEFAULT_VLM else c.vlm_model},
            per_run=lambda c: {"threshold": c.vlm_threshold, "max_new_tokens": c.vlm_max_new_tokens,
                               "concurrency": c.vlm_concurrency}),
    Backend("ocr", "reads the crop's text: yes when it names the brand, no when it clearly names another "
            "(no download)", "logotag_gui.core.verifiers.ocr:OcrVerifier",
            per_run=lambda c: {"threshold": c.ocr_threshold}),
    Backend("none", "no verification: every candidate stays unverified", "logotag_gui.core.verifiers:NoVerifier"),
]}


def choices(stage: str) -> list[str]:
    """The names offered for a stage ("proposers" or "verifiers"), "auto" first."""
    table = PROPOSERS if stage == "proposers" else VERIFIERS
    return ["auto", *table]


def explain(stage: str) -> str:
    """One line per backend of a stage, for help texts: "name: what it is"."""
    table = PROPOSERS if stage == "proposers" else VERIFIERS
    return "; ".join(f"{b.name}: {b.summary}" for b in table.values())


# What "auto" may pick in each stage (resolve_backends): a setting of either may matter.
AUTO_PICKS = {"proposers": ("siglip2", "offline"), "verifiers": ("vlm", "ocr")}


# Settings the pipeline applies to every proposer's candidates (run.py: filter_candidates), besides any
# backend's own use of them.
RUN_WIDE = frozenset({"threshold", "min_margin"})


def users_of(setting: str) -> dict[str, list[str]]:
    """stage -> the backends that take `setting`; empty for a setting of the whole run."""
    if setting in RUN_WIDE:
        return {}
    found = {stage: [name for name, b in table.items() if setting in b.reads()]
             for stage, table in (("proposers", PROPOSERS), ("verifiers", VERIFIERS))}
    return {stage: names for stage, names in found.items() if names}


def applies(setting: str, embedder: str, verifier: str) -> bool:
    """Whether `setting` matters with these stage choices ("auto" counts as whatever it may pick)."""
    users = users_of(setting)
    if not users:
        return True
    for stage, chosen in (("proposers", embedder), ("verifiers", verifier)):
        picks = AUTO_PICKS[stage] if chosen == "auto" else (chosen,)
        if any(name in users.get(stage, ()) for name in picks):
            return True
    return False


def default_thresholds() -> str:
    return ", ".join(f"{b.name} {b.threshold:g}" for b in PROPOSERS.values() if b.threshold is not None)


def resolved_threshold(config: RunConfig, embedder: str) -> float:
    if config.threshold is not None:
        return config.threshold
    backend = PROPOSERS.get(embedder)
    return backend.threshold if backend is not None and backend.threshold is not None else 0.5


def _lookup(table: dict[str, Backend], name: str, what: str) -> Backend:
    if name not in table:
        raise ValueError(f"unknown {what} '{name}': choose {', '.join(table)}")
    return table[name]


def make_proposer(name: str, **options: Any) -> Proposer:
    """A stage-1 backend by name, built with these constructor options (tests and benches call this directly)."""
    return _lookup(PROPOSERS, name, "embedder").build(**options)


def make_verifier(name: str, **options: Any) -> Verifier:
    return _lookup(VERIFIERS, name, "verifier").build(**options)


def model_available(model_id: str, revision: str | None) -> bool:
    try:
        resolve_model(model_id, revision=revision, allow_download=False)
        return True
    except ModelUnavailable:
        return False


def choose_backends(config: RunConfig) -> tuple[str, str, list[str]]:
    """Resolve "auto": the model backends when their weights are local, else the offline pair, with notices."""
    from logotag_gui.core.verifiers.vlm import (
        REMOTE_CODE_MODELS,
        remote_code_blocked,
        remote_code_transformers_message,
    )

    notices: list[str] = []
    embedder, verifier = config.embedder, config.verifier
    if embedder == "auto":
        if model_available(config.siglip_model, config.siglip_revision):
            embedder = "siglip2"
        else:
            embedder = "offline"
            notices.append(f"Using the offline detector (keypoints, OCR text and the shape matcher): "
                           f"'{config.siglip_model}' is not in the local Hugging Face cache (fetch it with "
                           f"`hf download {config.siglip_model}`, then choose siglip2).")
    from logotag_gui.core.proposers.shape_net import missing_model_message, shape_model_installed

    if embedder == "offline" and not shape_model_installed():
        notices.append(f"The offline detector runs without its shape matcher, so it rarely finds bare symbols: "
                       f"{missing_model_message()}.")
    if verifier == "auto" and remote_code_blocked(config.vlm_model, config.vlm_revision):
        # Its own code fails on this transformers line: opting in cannot help, so say what does.
        verifier = "ocr"
        notices.append(f"Using the offline OCR verifier instead of the VLM '{config.vlm_model}': "
                       f"{remote_code_transformers_message(config.vlm_model)}")
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
    """Loaded backends keyed by their load settings: the app keeps models loaded between runs."""

    _items: dict[tuple, Any] = field(default_factory=dict)

    def _get(self, backend: Backend, config: RunConfig, extra: dict[str, Any]) -> Any:
        options = {**backend.load(config), **extra}
        key = (backend.target, tuple(sorted((k, repr(v)) for k, v in options.items())))
        loaded = self._items.get(key)
        if loaded is None:
            loaded = self._items[key] = backend.build(**options)
        return with_options(loaded, backend.per_run(config))

    def loaded(self) -> dict[tuple, Any]:
        """What is loaded, by its load settings (a copy): a run that reuses a model adds nothing here."""
        return dict(self._items)

    def proposer(self, name: str, config: RunConfig, *, cache_root: str | None = None) -> Proposer:
        backend = _lookup(PROPOSERS, name, "embedder")
        return self._get(backend, config, {"cache_root": cache_root} if name == "siglip2" else {})

    def verifier(self, name: str, config: RunConfig) -> Verifier:
        return self._get(_lookup(VERIFIERS, name, "verifier"), config, {})

    def clear(self) -> None:
        self._items.clear()


def with_options(loaded: T, options: dict[str, Any]) -> T:
    """A loaded backend with a run's own settings (thresholds, answer mode): a shallow copy, so the weights are
    shared and the cached object is never changed. A setting the backend does not have is an error, not a new
    attribute nobody reads."""
    unknown = sorted(name for name in options if not hasattr(loaded, name))
    if unknown:
        raise TypeError(f"{type(loaded).__name__} has no setting {', '.join(unknown)}")
    run_copy = copy.copy(loaded)
    for name, value in options.items():
        setattr(run_copy, name, value)
    return run_copy


def describe(backend: object) -> tuple[str, str, str]:
    """(name, model id, revision) for the run record."""
    model = getattr(backend, "model_id", "") or ""
    if model and Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    return getattr(backend, "name", "?"), model, getattr(backend, "revision", "") or ""
