"""VLM verifier: asks a vision-language model for a strict-JSON verdict on each candidate crop.

The default, LLaVA-OneVision-1.5, ships its own model code: loading it runs code from the model
repository, so it needs an explicit opt-in and a pinned revision. That code fails on transformers >= 5
(upstream issue below): there it is refused before anything downloads, with the two ways out.
Natively supported VLMs (Qwen2.5-VL, Qwen3-VL, LLaVA, ...) load through AutoModelForImageTextToText
without either, on transformers 4.57 and 5.

How it answers (`answer`): "logits" reads the verdict from the model's own odds of the two answers at the
verdict's place in the JSON it was asked for (the prompt, then `{"verdict": "`, then `yes"` or `no"`,
scored by teacher forcing: one forward pass of a batch holding both continuations of every crop, whatever
the tokenizer makes of them), and its chance of "yes" is the confidence; the JSON with its visual cues is
generated only where that chance falls in the unsure band. "generate" writes the whole JSON for every
crop (up to max_new_tokens), as the seed did.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import Verdict, VerdictState
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.json_verdict import verdict_from_text
from logotag_gui.core.vision.weights import (
    dtype_for,
    dtype_kwargs,
    pick_device,
    resolve_model,
    transformers_version,
)

log = logging.getLogger(__name__)
DEFAULT_MODEL = "lmms-lab/LLaVA-OneVision-1.5-8B-Instruct"
# Models known to need their repository's code; any model whose config has `auto_map` does too.
REMOTE_CODE_MODELS = {DEFAULT_MODEL, "lmms-lab/LLaVA-OneVision-1.5-4B-Instruct"}
NATIVE_EXAMPLES = "Qwen/Qwen2.5-VL-7B-Instruct or Qwen/Qwen3-VL-8B-Instruct"
REMOTE_CODE_ISSUE = "https://github.com/EvolvingLMMs-Lab/LLaVA-OneVision-2/issues/108"

PROMPT = (
    "You verify logo detections. Look at the image and decide whether it shows the logo of the brand "
    '"{brand}". Reply with strict JSON only, no other text, exactly these keys: '
    '{{"verdict": "yes" or "no", "confidence": a number from 0 to 1, '
    '"visual_cues": "the shapes, colours or letters you relied on"}}'
)
ANSWER_PREFIX = '{"verdict": "'  # the JSON's opening, up to where the verdict is written
ANSWERS = ("yes", "no")


def needs_remote_code(model_id: str, path: str) -> bool:
    if model_id in REMOTE_CODE_MODELS:
        return True
    try:
        config = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(config.get("auto_map"))


def _known_config_path(model_id: str, revision: str | None) -> str | None:
    """The folder of a config.json we can read without the network: a local model folder, or the
    model's config in the Hugging Face cache; None when neither holds it."""
    local = Path(model_id).expanduser()
    if local.is_dir():
        return str(local)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except Exception:  # a model id the hub rejects, an unreadable cache: nothing known
        return None
    return str(Path(cached).parent) if isinstance(cached, str) else None


def remote_code_blocked(model_id: str, revision: str | None = None) -> bool:
    """True when the model runs its repository's code and the installed transformers is 5 or later,
    where that code (LLaVA-OneVision-1.5's at least) fails. Reads no network and loads nothing."""
    if transformers_version() < (5, 0):
        return False
    if model_id in REMOTE_CODE_MODELS:
        return True
    folder = _known_config_path(model_id, revision)
    return folder is not None and needs_remote_code(model_id, folder)


def remote_code_transformers_message(model_id: str, *, before_download: bool = True) -> str:
    major, minor = transformers_version()
    nothing = " and nothing was downloaded" if before_download else ""
    return (
        f"Model '{model_id}' runs its own model code (trust_remote_code), and that code fails on transformers "
        f">= 5 (installed: {major}.{minor}; upstream issue {REMOTE_CODE_ISSUE}), so it was not loaded{nothing}. "
        "Either install LogoTag with that model's pins in a separate environment, "
        '`pip install "logotag[llava-ov]"` (transformers 4.57), and run it there with --trust-remote-code '
        "and --vlm-revision COMMIT_SHA; or stay here and choose a natively supported VLM with --vlm-model, "
        f"such as {NATIVE_EXAMPLES}."
    )


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
    answer: str = "logits"  # "logits" (one forward pass per batch) or "generate" (the whole JSON per crop)
    unsure_band: float = 0.15  # logits: a chance of "yes" this near 0.5 also gets the JSON written (its cues)
    name: str = "vlm"

    def __post_init__(self) -> None:
        is_local = Path(self.model_id).expanduser().is_dir()
        # Before anything downloads: on transformers >= 5 opting in cannot help, so say so first.
        if remote_code_blocked(self.model_id, self.revision):
            raise ModelUnavailable(remote_code_transformers_message(self.model_id))
        if self.model_id in REMOTE_CODE_MODELS and not self.trust_remote_code:
            raise self._remote_code_refusal()
        path = resolve_model(self.model_id, revision=self.revision, allow_download=self.allow_download)
        remote = needs_remote_code(self.model_id, path)
        if remote and transformers_version() >= (5, 0):  # a hub model whose config we saw only now
            raise ModelUnavailable(remote_code_transformers_message(self.model_id, before_download=False))
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

        kwargs = {**dtype_kwargs(dtype_for(self.device)), "trust_remote_code": remote}
        self.processor = AutoProcessor.from_pretrained(path, trust_remote_code=remote)
        try:
            model = AutoModelForImageTextToText.from_pretrained(path, **kwargs)
        except ValueError:  # remote-code VLMs often register only as causal LMs
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        self.model = model.to(self.device).eval()
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.padding_side = "left"  # batched generation needs left padding
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token

    def prompt(self, brand: str) -> str:
        content = [{"type": "image"}, {"type": "text", "text": PROMPT.format(brand=brand)}]
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, images: Sequence[Image.Image], brands: Sequence[str]) -> list[str]:
        import torch

        texts = [self.prompt(b) for b in brands]
        inputs = self.processor(images=list(images), text=texts, padding=True, return_tensors="pt")
        inputs = self.model_inputs(inputs).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    def model_inputs(self, inputs):
        """Drop what the processor returns but the model does not take.

        A tokenizer that lists `token_type_ids` among its outputs (transformers 4.x's generic fast
        tokenizer does, 5.x's does not) makes generate() refuse the batch when the model's forward has
        no such argument; models that use them (Gemma 3, ...) name it and keep it.
        """
        if "token_type_ids" in inputs and "token_type_ids" not in inspect.signature(self.model.forward).parameters:
            del inputs["token_type_ids"]
        return inputs

    def yes_probability(self, images: Sequence[Image.Image], brands: Sequence[str]) -> list[float]:
        """The model's chance of answering "yes" rather than "no" at the verdict's place, one per crop: both
        continuations scored by teacher forcing in one forward pass of the batch."""
        import torch

        texts, doubled = [], []
        for image, brand in zip(images, brands, strict=True):
            base = self.prompt(brand) + ANSWER_PREFIX
            texts += [f'{base}{answer}"' for answer in ANSWERS]
            doubled += [image, image]
        inputs = self.model_inputs(self.processor(images=doubled, text=texts, padding=True, return_tensors="pt"))
        inputs = inputs.to(self.device)
        with torch.inference_mode():
            logits = self.model(**inputs).logits.float()
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        # log P(token t | tokens before it), for every position but the first
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
        out = []
        for row in range(0, len(texts), 2):
            scores = [self._continuation(ids[r], mask[r], logprobs[r], other=ids[r + (1 if r == row else -1)],
                                         other_mask=mask[r + (1 if r == row else -1)]) for r in (row, row + 1)]
            out.append(float(torch.sigmoid(torch.tensor(scores[0] - scores[1]))))
        return out

    @staticmethod
    def _continuation(ids, mask, logprobs, *, other, other_mask) -> float:
        """The summed log-probability of the tokens where this answer's sequence departs from the other's (both
        left-padded: the real tokens are where the mask is set)."""
        mine, theirs = ids[mask.bool()], other[other_mask.bool()]
        common = 0
        while common < min(len(mine), len(theirs)) and mine[common] == theirs[common]:
            common += 1
        pad = int(len(ids) - len(mine))
        # token at unpadded position j is predicted at padded position pad + j - 1 of `logprobs`
        return float(logprobs[pad + common - 1: pad + len(mine) - 1].sum())

    def _from_probability(self, p: float) -> Verdict:
        if p >= 0.5:
            state = VerdictState.YES if p >= self.threshold else VerdictState.UNSURE
            return Verdict(state, round(p, 4), f"the model's chance of 'yes' is {p:.2f}", "", self.name)
        return Verdict(VerdictState.NO, round(1 - p, 4), f"the model's chance of 'no' is {1 - p:.2f}", "", self.name)

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        verdicts: list[Verdict] = []
        for start in range(0, len(items), self.batch_size):
            part = items[start:start + self.batch_size]
            images = [Image.fromarray(i.crop) for i in part]
            brands = [i.candidate.brand for i in part]
            if self.answer == "generate":
                raws = self.generate(images, brands)
                verdicts += [verdict_from_text(raw, threshold=self.threshold, method=self.name) for raw in raws]
                continue
            found = [self._from_probability(p) for p in self.yes_probability(images, brands)]
            unsure = [i for i, v in enumerate(found) if abs((v.confidence or 0.5) - 0.5) < self.unsure_band]
            if unsure:  # the cues the model relied on, where its odds are close
                raws = self.generate([images[i] for i in unsure], [brands[i] for i in unsure])
                for i, raw in zip(unsure, raws, strict=True):
                    written = verdict_from_text(raw, threshold=self.threshold, method=self.name)
                    cues = written.rationale if written.state is not VerdictState.UNPARSABLE else found[i].rationale
                    found[i] = Verdict(found[i].state, found[i].confidence, cues, raw, self.name)
            verdicts += found
        return verdicts
