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
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu", batch_size=2, max_new_tokens=12)
    verdicts = verifier.verify(_items(3))
    assert len(verdicts) == 3
    for v in verdicts:
        # Random weights write gibberish: it must be kept as unparsable with its raw text, not a "no".
        assert v.state is VerdictState.UNPARSABLE and v.method == "vlm" and isinstance(v.raw, str)


def test_prompt_goes_through_the_chat_template(tiny_vlm):
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu")
    prompt = verifier._prompt("Norvik")
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
