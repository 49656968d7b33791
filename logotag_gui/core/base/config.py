"""Run settings: one frozen record, stored with each run so results can be traced to them.

Each setting says once how it is offered: its help text (the CLI's `--option`), its label in the run
dialog (none: the CLI only), and its range. `cli.py` and the run dialog are generated from these
(`settings()`); the backends that read a setting are listed in `backends.py`'s registry.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from typing import Any

from logotag_gui.core.base.errors import InputError

DEFAULT_SIGLIP = "google/siglip2-base-patch16-naflex"
DEFAULT_VLM = "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct"
DEFAULT_FPS = 2.0  # frames sampled per second: the seed's default, and the grid a clip is reviewed on
# Choices filled in from the backend registry (backends.py), which sits above this module.
PROPOSERS, VERIFIERS = "proposers", "verifiers"
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
VLM_ANSWERS = ("logits", "generate")


def default_workers() -> int:
    """Frames proposed at once (RunConfig.workers 0): both cores of a laptop, at most four threads
    (beyond that, the libraries' own threads already fill the CPU)."""
    return max(1, min(4, os.cpu_count() or 1))


def cores_per_worker() -> int:
    """The cores each of the default workers has to itself: what a library's own thread pool should use
    while frames are proposed at once (more threads than cores spin and wait on each other)."""
    return max(1, (os.cpu_count() or 1) // default_workers())


def setting(default: Any, help: str, *, label: str | None = None, choices: tuple[str, ...] | str | None = None,
            lo: float | None = None, hi: float | None = None, step: float | None = None, cli: bool = True,
            open_choices: bool = False) -> Any:
    """A RunConfig field with what the CLI and the run dialog need to offer it (`open_choices`: the choices
    are suggestions and other values are valid too, as "cuda:1" is a device)."""
    meta = {"help": help, "label": label, "choices": choices, "range": (lo, hi, step), "cli": cli,
            "open_choices": open_choices}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class RunConfig:
    input: str = setting("", "video file or folder of images", cli=False)
    logos: str = setting("", "logo folder: <brand>.png or <brand>/<any>.png", cli=False)
    embedder: str = setting("auto", "stage 1 (auto: siglip2 when its weights are local, else offline = keypoints + "
                            "OCR text + shape)", label="Stage 1 (proposals):", choices=PROPOSERS)
    verifier: str = setting("auto", "stage 2 (auto: the VLM when usable, else OCR)", label="Stage 2 (verification):",
                            choices=VERIFIERS)
    fps: float = setting(DEFAULT_FPS, "frames sampled per second",
                         label="Frames per second:", lo=0.1, hi=240, step=0.5)
    start_frame: int = setting(0, "first frame to analyse", lo=0)
    end_frame: int | None = setting(None, "last frame to analyse (default: the last)", lo=0)
    threshold: float | None = setting(None, "retrieval score threshold (default: the embedder's own)",
                                      label="Retrieval threshold:", lo=0, hi=1, step=0.05)
    min_margin: float = setting(0.0, "top1 - top2 score margin over brands", label="Min. margin (top1 − top2):",
                                lo=0, hi=1, step=0.01)
    top_k: int = setting(3, "brands kept per window (siglip2)", lo=1)
    nms_iou: float = setting(0.4, "overlap above which the weaker of two boxes is dropped", lo=0, hi=1)
    track_gap_s: float = setting(1.5, "seconds a track may miss before it ends", lo=0)
    track_verify: bool = setting(True, "verify a track's best few crops and carry the verdict to the rest "
                                 "(--no-track-verify: verify every candidate)",
                                 label="Verify a track's best crops and carry the verdict")
    track_verify_k: int = setting(3, "crops verified per track", lo=1)
    siglip_model: str = setting(DEFAULT_SIGLIP, "SigLIP-2 model: hub id or local folder", label="SigLIP-2 model:")
    siglip_revision: str | None = setting(None, "pinned commit of the SigLIP-2 model")
    siglip_native: bool = setting(False, "never upsample small windows past their pixels (fewer patches: faster on "
                                  "a CPU)")
    vlm_model: str = setting(DEFAULT_VLM, "VLM: hub id or local folder (with --verifier endpoint: the served model's "
                             "name)", label="VLM model:")
    vlm_revision: str | None = setting(None, "pinned commit (required with --trust-remote-code)", label="VLM revision:")
    trust_remote_code: bool = setting(False, "allow the VLM's repository code to run (LLaVA-OneVision-1.5 needs it)",
                                      label="Allow the VLM's repository code to run (trust_remote_code)")
    vlm_threshold: float = setting(0.5, "accept a VLM 'yes' only at this confidence",
                                   label="VLM yes needs confidence ≥", lo=0, hi=1, step=0.05)
    vlm_max_new_tokens: int = setting(128, "the VLM's decoding budget per answer (the seed's)", lo=1)
    vlm_answer: str = setting("logits", "how the local VLM answers: logits (its verdict from its own odds of 'yes' "
                              "and 'no' where the JSON's verdict goes: one forward pass; the JSON written only where "
                              "the odds are close) or generate (the whole JSON for every crop)",
                              label="VLM answers from:", choices=VLM_ANSWERS)
    vlm_unsure_band: float = setting(0.15, "with --vlm-answer logits: a chance of 'yes' this near 0.5 also gets the "
                                     "JSON written (its visual cues)", lo=0, hi=0.5)
    vlm_endpoint: str = setting("", "with --verifier endpoint: an OpenAI-compatible server's base URL, e.g. "
                                "http://localhost:8000/v1 (vLLM, SGLang, llama.cpp, TGI); the API key is read from "
                                "$LOGOTAG_VLM_API_KEY", label="VLM endpoint URL:")
    vlm_concurrency: int = setting(8, "requests in flight to the VLM endpoint", lo=1, hi=256)
    ocr_threshold: float = setting(0.5, "the OCR verifier's 'yes' needs this name similarity", lo=0, hi=1)
    shape_threshold: float = setting(0.65, "the offline detector's shape matcher: the mean cell cosine a bare "
                                     "symbol needs (stricter than --embedder shape's own threshold, 0.6)", lo=0, hi=1)
    shape_min_standout: float = setting(5.0, "the shape matcher: standard deviations a peak must stand out of the "
                                        "reference's scores over the frame", lo=0)
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, mps", label="Device:", choices=DEVICES,
                          open_choices=True)
    precision: str = setting("auto", "number format of the neural models (SigLIP-2, the shape matcher); auto: bf16 on "
                             "a GPU and on CPUs that multiply bf16 natively (about twice as fast), else fp32",
                             label="Precision:", choices=PRECISIONS)
    batch_frames: int = setting(4, "frames per stored batch (a killed run loses at most one)", lo=1)
    workers: int = setting(0, "threads proposing frames at once with the offline backends (0: one per core, up to "
                           "four)", lo=0, hi=256)
    overlap: bool = setting(True, "verify and store a batch while stage 1 searches the next (--no-overlap: one "
                            "after the other)")
    skip_unchanged: bool = setting(True, "a sampled frame identical to the one before takes its proposals "
                                   "(--no-skip-unchanged: search every frame)")
    allow_download: bool = setting(False, "download missing model weights from the hub",
                                   label="Download missing model weights from the hub")
    propagate: bool = setting(True, "follow confident detections through the clip where the detector missed them "
                              "(--no-propagate: do not)",
                              label="Follow confident detections through the clip where the detector missed them")
    propagate_min_score: float = setting(0.5, "without a 'yes' verdict, the score a detection needs to be followed",
                                         lo=0, hi=1)
    detect_every: int = setting(1, "run stage 1 on one sampled frame in this many (the sharpest of each group, a "
                                "new group at every shot cut) and follow every detection to the frames between; 1: "
                                "detect on every sampled frame", label="Detect on one sampled frame in:", lo=1, hi=16,
                                step=1)
    keyframe_move: float = setting(0.0, "with detect_every above 1, a new keyframe also where the camera has moved "
                                   "this share of the frame since the last one (registration, as the review's "
                                   "views); 0: every detect_every frames only",
                                   label="New keyframe when the camera moved:", lo=0, hi=1)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def problems(self) -> list[str]:
        """What is wrong with these settings, one message each (option, value, allowed range): [] when nothing."""
        found = [p for s in settings() if (p := s.problem(getattr(self, s.name))) is not None]
        if self.end_frame is not None and self.start_frame > self.end_frame:
            found.append(f"--start-frame {self.start_frame} is after --end-frame {self.end_frame}: the first frame "
                         "to analyse must not come after the last; swap them or leave --end-frame out")
        return found

    def check(self) -> RunConfig:
        """These settings, or InputError naming each value out of its range (before any work starts)."""
        found = self.problems()
        if found:
            raise InputError("; ".join(found) + ".")
        return self

    def with_(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Setting:
    """One run setting as the CLI and the run dialog offer it: its value's type read once, here, from RunConfig."""

    name: str
    kind: type  # bool, int, float or str
    optional: bool  # None is a value too (the backend's default, no revision, no end frame)
    default: Any
    help: str
    label: str | None  # offered in the run dialog under this label; None: a CLI option only
    choices: tuple[str, ...] | str | None  # a str names a stage whose backends the registry lists
    range: tuple[float | None, float | None, float | None]  # low, high, step
    cli: bool
    open_choices: bool

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """A value of this setting from text ("true"/"1"/"yes" for a flag)."""
        if self.kind is bool:
            return text.strip().lower() in ("1", "true", "yes")
        return self.kind(text)

    def problem(self, value: Any, *, named: bool = True) -> str | None:
        """Why `value` cannot be this setting's (the option, the value and the allowed range), or None; `named`:
        the message starts with the option (argparse names it itself)."""
        if value is None and self.optional:
            return None
        if self.kind not in (int, float) or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        lo, hi, _ = self.range
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if lo is not None and hi is not None:
            allowed = f"from {lo:g} to {hi:g}"
        elif lo is not None:
            allowed = f"{lo:g} or more"
        elif hi is not None:
            allowed = f"{hi:g} or less"
        else:
            allowed = "a finite number"
        # nan passes every comparison: ask for a finite number first.
        if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            what = self.help.split(" (")[0]
            return f"{self.option + ' ' if named else ''}{shown} is out of range: {what} must be {allowed}"
        return None


def settings() -> list[Setting]:
    """RunConfig's settings in order, typed."""
    hints = typing.get_type_hints(RunConfig)
    out = []
    for f in dataclasses.fields(RunConfig):
        args = typing.get_args(hints[f.name]) or (hints[f.name],)
        kind = next(a for a in args if a is not type(None))
        m = f.metadata
        out.append(Setting(f.name, kind, type(None) in args, f.default, m["help"], m["label"], m["choices"],
                           m["range"], m["cli"], m["open_choices"]))
    return out
