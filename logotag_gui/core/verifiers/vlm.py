"""VLM verifier: asks a vision-language model for a strict-JSON verdict on each candidate crop.

The default, LLaVA-OneVision-1.5, ships its own model code: loading it runs code from the model
repository, so it needs an explicit opt-in and a pinned revision. Natively supported VLMs
(Qwen2.5-VL, Qwen3-VL, LLaVA, ...) load through AutoModelForImageTextToText without either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from logotag_gui.core.errors import ModelUnavailable
from logotag_gui.core.models import dtype_for, pick_device, resolve_model
from logotag_gui.core.records import Verdict
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.json_verdict import verdict_from_text

log = logging.getLogger(__name__)
DEFAULT_MODEL = "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct"
# Models known to need their repository's code; any model whose config has `auto_map` does too.
REMOTE_CODE_MODELS = {DEFAULT_MODEL, "lmms-lab/LLaVA-OneVision-1.5-4B-Instruct"}
NATIVE_EXAMPLES = "Qwen/Qwen2.5-VL-7B-Instruct or Qwen/Qwen3-VL-8B-Instruct"

PROMPT = (
    "You verify logo detections. Look at the image and decide whether it shows the logo of the brand "
    '"{brand}". Reply with strict JSON only, no other text, exactly these keys: '
    '{{"verdict": "yes" or "no", "confidence": a number from 0 to 1, '
    '"visual_cues": "the shapes, colours or letters you relied on"}}'
)


def needs_remote_code(model_id: str, path: str) -> bool:
    if model_id in REMOTE_CODE_MODELS:
        return True
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(config.get("auto_map"))


@dataclass
class VlmVerifier:
    model_id: str = DEFAULT_MODEL
    revision: str | None = None
    trust_remote_code: bool = False
    device: str = "auto"
    batch_size: int = 8
    max_new_tokens: int = 128
    threshold: float = 0.5
    allow_download: bool = False
    name: str = "vlm"

    def __post_init__(self) -> None:
        is_local = Path(self.model_id).expanduser().is_dir()
        if self.model_id in REMOTE_CODE_MODELS and not self.trust_remote_code:
            raise self._remote_code_refusal()
        path = resolve_model(self.model_id, revision=self.revision, allow_download=self.allow_download)
        remote = needs_remote_code(self.model_id, path)
        if remote and not self.trust_remote_code:
            raise self._remote_code_refusal()
        if remote and not is_local and not self.revision:
            raise ModelUnavailable(
                f"Model '{self.model_id}' runs code from its repository: pin the commit you reviewed with "
                "--vlm-revision COMMIT_SHA so that a changed repository cannot run new code here."
            )
        self.device = pick_device(self.device)
        self._load(path, remote)

    def _remote_code_refusal(self) -> ModelUnavailable:
        return ModelUnavailable(
            f"Model '{self.model_id}' needs trust_remote_code, which runs Python code from the model repository. "
            "Opt in with --trust-remote-code and pin --vlm-revision COMMIT_SHA, or choose a natively supported "
            f"VLM such as {NATIVE_EXAMPLES} with --vlm-model."
        )

    def _load(self, path: str, remote: bool) -> None:
        from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

        kwargs = {"dtype": dtype_for(self.device), "trust_remote_code": remote}
        self._processor = AutoProcessor.from_pretrained(path, trust_remote_code=remote)
        try:
            model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
        except ValueError:  # remote-code VLMs often register only as causal LMs
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        self._model = model.to(self.device).eval()
        tokenizer = getattr(self._processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # batched generation needs left padding
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token

    def _prompt(self, brand: str) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT.format(brand=brand)}]}]
        return self._processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, images: Sequence[Image.Image], brands: Sequence[str]) -> list[str]:
        import torch

        texts = [self._prompt(b) for b in brands]
        inputs = self._processor(images=list(images), text=texts, padding=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = out[:, inputs["input_ids"].shape[1]:]
        return self._processor.batch_decode(new_tokens, skip_special_tokens=True)

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for start in range(0, len(items), self.batch_size):
            part = items[start:start + self.batch_size]
            images = [Image.fromarray(i.crop) for i in part]
            raws = self.generate(images, [i.candidate.brand for i in part])
            verdicts += [verdict_from_text(raw, threshold=self.threshold, method=self.name) for raw in raws]
        return verdicts
