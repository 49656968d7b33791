"""VLM stage with a tiny random LLaVA saved like a hub snapshot: loading, batching, storage of raw output."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.verifiers import VerifyItem, vlm
from logotag_gui.core.verifiers.vlm import PROMPT, VlmVerifier


@pytest.fixture
def on_4_57(monkeypatch):
    """The opt-in rules are those of transformers 4.57, where remote code runs; on 5.x it is refused
    before these checks (tests/core/test_transformers_lines.py)."""
    monkeypatch.setattr(vlm, "transformers_version", lambda: (4, 57))


def _items(n):
    rng = np.random.default_rng(0)
    ref = FrameRef(0, 0.0, 100, 100)
    return [VerifyItem(Candidate(ref, BBox(0, 0, 50, 40), f"brand{i}", 0.8, "keypoints"),
                       rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)) for i in range(n)]


def test_tiny_vlm_loads_by_path_and_answers_every_item_in_batches(tiny_vlm):
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu", batch_size=2, max_new_tokens=12, answer="generate")
    verdicts = verifier.verify(_items(3))
    assert len(verdicts) == 3
    for v in verdicts:
        # Random weights write gibberish: it must be kept as unparsable with its raw text, not a "no".
        assert v.state is VerdictState.UNPARSABLE and v.method == "vlm" and isinstance(v.raw, str)


def test_prompt_goes_through_the_chat_template(tiny_vlm):
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu")
    prompt = verifier.prompt("Norvik")
    assert "<image>" in prompt and PROMPT.format(brand="Norvik") in prompt and prompt.endswith("assistant: ")


def test_default_model_needs_explicit_opt_in(on_4_57):
    with pytest.raises(ModelUnavailable) as info:
        VlmVerifier()
    assert "trust-remote-code" in str(info.value) and "Qwen" in str(info.value)


def test_remote_code_models_need_opt_in_and_a_pinned_revision(tiny_vlm, tmp_path, monkeypatch, on_4_57):
    remote = tmp_path / "remote-vlm"
    remote.mkdir()
    for f in tiny_vlm.iterdir():
        (remote / f.name).write_bytes(f.read_bytes())
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_x.XModel"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailable, match="trust_remote_code"):
        VlmVerifier(model_id=str(remote), device="cpu")


def test_missing_vlm_weights_are_named(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match=re.escape("Qwen/Qwen2.5-VL-3B-Instruct")):
        VlmVerifier(model_id="Qwen/Qwen2.5-VL-3B-Instruct")


def _chance_by_hand(path, image, brand) -> float:
    """The model's chance of "yes" against "no", one next token at a time (no batch, no padding): what the
    verifier's one padded, batched forward pass must give."""
    import torch
    from PIL import Image
    from transformers import AutoProcessor, LlavaForConditionalGeneration

    processor = AutoProcessor.from_pretrained(path)
    model = LlavaForConditionalGeneration.from_pretrained(path).eval()
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": PROMPT.format(brand=brand)}]}]
    base = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + vlm.ANSWER_PREFIX
    sequences = [processor(images=[Image.fromarray(image)], text=[f'{base}{a}"'], return_tensors="pt")
                 for a in vlm.ANSWERS]
    ids = [s["input_ids"][0] for s in sequences]
    common = next(i for i in range(min(map(len, ids))) if ids[0][i] != ids[1][i])
    scores = []
    for s, row in zip(sequences, ids, strict=True):
        total = 0.0
        for k in range(common, len(row)):
            with torch.inference_mode():
                logits = model(input_ids=row[None, :k], pixel_values=s["pixel_values"]).logits[0, -1]
            total += float(torch.log_softmax(logits.float(), -1)[row[k]])
        scores.append(total)
    return float(torch.sigmoid(torch.tensor(scores[0] - scores[1])))


def test_the_verdict_from_the_odds_is_the_models_own_chance_of_yes(tiny_vlm):
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu", batch_size=3)
    items = _items(3)
    from PIL import Image

    images = [Image.fromarray(i.crop) for i in items]
    brands = [i.candidate.brand for i in items]
    batched = verifier.yes_probability(images, brands)  # one padded forward pass of six sequences
    alone = [verifier.yes_probability([im], [b])[0] for im, b in zip(images, brands, strict=True)]
    assert batched == pytest.approx(alone, abs=1e-4)
    assert batched[0] == pytest.approx(_chance_by_hand(tiny_vlm, items[0].crop, brands[0]), abs=1e-4)


def test_the_json_is_written_only_where_the_odds_are_close(tiny_vlm):
    sure = VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=8, unsure_band=0.0)
    verdicts = sure.verify(_items(3))
    assert all(v.state in (VerdictState.YES, VerdictState.NO, VerdictState.UNSURE) for v in verdicts)
    assert all(0.5 <= v.confidence <= 1 and v.raw == "" and "chance" in v.rationale for v in verdicts)
    close = VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=8, unsure_band=0.5)
    written = close.verify(_items(3))
    assert all(w.raw for w in written)  # every one was within the band: its JSON was asked for (gibberish here)
    assert [w.state for w in written] == [v.state for v in verdicts]  # the verdict stays the odds'
    seed_way = VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=8, answer="generate")
    assert all(v.state is VerdictState.UNPARSABLE for v in seed_way.verify(_items(2)))
