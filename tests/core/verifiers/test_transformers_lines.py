"""What differs between the two supported transformers lines, 4.57.x and 5.x, and how LogoTag copes.

CI runs the core tests once per line (.venv holds 5.x, a second environment 4.57). Tests that only
make sense on one line say so with a skip; tests of the version logic simulate the other line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.proposers.siglip2 import pooled_features
from logotag_gui.core.verifiers import VerifyItem, vlm
from logotag_gui.core.verifiers.vlm import DEFAULT_MODEL, REMOTE_CODE_ISSUE, VlmVerifier, remote_code_blocked
from logotag_gui.core.vision import weights as models
from logotag_gui.core.vision.weights import dtype_kwargs, pil_image_processor_kwargs, transformers_version

ON_5 = transformers_version() >= (5, 0)


def _items(n):
    rng = np.random.default_rng(0)
    ref = FrameRef(0, 0.0, 100, 100)
    return [VerifyItem(Candidate(ref, BBox(0, 0, 50, 40), f"brand{i}", 0.8, "keypoints"),
                       rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for i in range(n)]


@pytest.fixture
def line(monkeypatch):
    """Pretend the installed transformers is of another line (the remote-code check reads only this)."""

    def use(major: int, minor: int) -> None:
        monkeypatch.setattr(vlm, "transformers_version", lambda: (major, minor))

    return use


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to find or fetch model files."""

    def refuse(*args, **kwargs):
        pytest.fail(f"tried to resolve or download a model: {args} {kwargs}")

    monkeypatch.setattr(vlm, "resolve_model", refuse)
    monkeypatch.setattr(models, "resolve_model", refuse)
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)


def _remote_copy(tiny_vlm: Path, folder: Path, auto_map: dict[str, str]) -> Path:
    shutil.copytree(tiny_vlm, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = auto_map
    (folder / "config.json").write_text(json.dumps(config))
    return folder


# ---- the installed line ------------------------------------------------------------------------------
def test_installed_transformers_is_a_supported_line():
    import transformers

    assert (4, 57) <= transformers_version() < (6, 0)
    assert transformers.__version__.startswith("{}.{}".format(*transformers_version()))


def test_pyproject_range_and_the_llava_ov_extra_agree():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]
    assert "transformers>=4.57,<6" in project["dependencies"]
    assert "transformers>=4.57,<4.58" in project["optional-dependencies"]["llava-ov"]


# ---- SigLIP-2: get_image_features and the processor ----------------------------------------------------
def test_pooled_takes_a_tensor_or_an_output_object():
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    t = torch.rand(2, 8)
    assert pooled_features(t) is t  # 4.57
    assert pooled_features(BaseModelOutputWithPooling(last_hidden_state=torch.rand(2, 3, 8), pooler_output=t)) is t  # 5.x
    with pytest.raises(TypeError, match="pooler_output"):
        pooled_features(object())


def test_get_image_features_differs_by_line_and_pooled_gives_rows(tiny_siglip):
    from logotag_gui.core.proposers.siglip2 import Siglip2Proposer

    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu")
    inputs = proposer.patchify(torch.rand(2, 3, 32, 48))
    with torch.inference_mode():
        out = proposer.model.get_image_features(**inputs)
    assert isinstance(out, torch.Tensor) is (not ON_5)  # the difference this test pins down
    assert tuple(pooled_features(out).shape) == (2, 32)
    assert proposer.features(torch.rand(2, 3, 32, 48)).shape == (2, 32)


def test_dtype_kwargs_load_the_weights_in_that_dtype(tiny_siglip):
    from transformers import AutoModel

    kwargs = dtype_kwargs(torch.bfloat16)
    assert kwargs == {"dtype": torch.bfloat16}  # both lines take `dtype` (4.56+); `torch_dtype` is deprecated
    model = AutoModel.from_pretrained(tiny_siglip, **kwargs)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_pil_image_processor_is_picked_on_this_line(tiny_siglip):
    from transformers import AutoImageProcessor

    assert pil_image_processor_kwargs() == ({"backend": "pil"} if ON_5 else {"use_fast": False})
    processor = AutoImageProcessor.from_pretrained(tiny_siglip, **pil_image_processor_kwargs())
    assert not type(processor).__name__.endswith("Fast")
    assert (processor.patch_size, processor.max_num_patches) == (16, 64)


# ---- VLM: processor outputs the model does not take ------------------------------------------------------
def test_token_type_ids_are_dropped_only_when_the_model_does_not_take_them(tiny_vlm):
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=4)
    inputs = verifier.processor(images=[np.zeros((40, 50, 3), np.uint8)], text=[verifier.prompt("Acme")],
                                 padding=True, return_tensors="pt")
    inputs["token_type_ids"] = torch.zeros_like(inputs["input_ids"])  # what 4.57's generic tokenizer adds
    assert "token_type_ids" not in verifier.model_inputs(inputs)

    class TakesThem(torch.nn.Module):
        def forward(self, input_ids=None, token_type_ids=None):  # Gemma 3 and others use them
            return input_ids

    verifier.model = TakesThem()
    kept = {"input_ids": torch.ones(1, 2), "token_type_ids": torch.zeros(1, 2)}
    assert "token_type_ids" in verifier.model_inputs(kept)


# ---- remote code on transformers >= 5: refused before anything is downloaded -----------------------------
def _assert_explains_the_way_out(text: str, model_id: str) -> None:
    assert model_id in text and "transformers >= 5" in text and REMOTE_CODE_ISSUE in text
    assert 'pip install "logotag[llava-ov]"' in text and "4.57" in text and "separate environment" in text
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in text and "Qwen/Qwen3-VL-8B-Instruct" in text and "--vlm-model" in text


@pytest.mark.parametrize("opt_in", [False, True])
def test_default_model_on_5_is_refused_before_any_download(line, no_download, opt_in):
    line(5, 0)
    revision = "0123456789abcdef0123456789abcdef01234567" if opt_in else None
    with pytest.raises(ModelUnavailable) as info:
        VlmVerifier(trust_remote_code=opt_in, revision=revision, allow_download=True)
    _assert_explains_the_way_out(str(info.value), DEFAULT_MODEL)
    assert "nothing was downloaded" in str(info.value)


def test_local_remote_code_folder_on_5_is_refused_before_it_loads(line, no_download, tiny_vlm, tmp_path):
    line(5, 2)
    folder = _remote_copy(tiny_vlm, tmp_path / "remote", {"AutoModelForCausalLM": "modeling_x.XModel"})
    with pytest.raises(ModelUnavailable) as info:
        VlmVerifier(model_id=str(folder), trust_remote_code=True, device="cpu")
    _assert_explains_the_way_out(str(info.value), str(folder))


def test_cached_hub_config_with_auto_map_is_read_without_the_network(line, monkeypatch, tmp_path):
    """A hub id outside REMOTE_CODE_MODELS: its cached config.json tells, before any snapshot is resolved."""
    from huggingface_hub import constants

    sha = "a" * 40
    for repo, config in {"acme/remote-vlm": {"auto_map": {"AutoModelForCausalLM": "m.M"}},
                         "acme/native-vlm": {"model_type": "llava"}}.items():
        repo_cache = tmp_path / f"models--{repo.replace('/', '--')}"
        (repo_cache / "refs").mkdir(parents=True)
        (repo_cache / "refs" / "main").write_text(sha)
        (repo_cache / "snapshots" / sha).mkdir(parents=True)
        (repo_cache / "snapshots" / sha / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    line(5, 0)
    assert remote_code_blocked("acme/remote-vlm")
    assert not remote_code_blocked("acme/native-vlm")
    assert not remote_code_blocked("acme/not-cached")  # unknown until it is here: checked again after resolving
    assert not remote_code_blocked("/no/such/folder")
    line(4, 57)
    assert not remote_code_blocked("acme/remote-vlm") and not remote_code_blocked(DEFAULT_MODEL)


def test_remote_code_seen_only_after_resolving_is_refused_before_loading(line, tiny_vlm, tmp_path, monkeypatch):
    """A hub id nobody listed and not cached yet: its config shows auto_map once resolved; still never loaded."""
    line(5, 0)
    folder = _remote_copy(tiny_vlm, tmp_path / "fetched", {"AutoModelForCausalLM": "modeling_x.XModel"})
    monkeypatch.setattr(vlm, "resolve_model", lambda *a, **k: str(folder))
    for auto in ("AutoProcessor", "AutoModelForImageTextToText", "AutoModelForCausalLM"):  # what loading calls
        monkeypatch.setattr(f"transformers.{auto}.from_pretrained",
                            lambda *a, **k: pytest.fail("loaded a remote-code model on 5"))
    with pytest.raises(ModelUnavailable) as info:
        VlmVerifier(model_id="acme/new-remote-vlm", trust_remote_code=True, revision="b" * 40)
    _assert_explains_the_way_out(str(info.value), "acme/new-remote-vlm")
    assert "nothing was downloaded" not in str(info.value)


def test_natively_supported_vlm_loads_on_5(line, tiny_vlm):
    line(5, 0)
    verifier = VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=4)
    assert verifier.verify(_items(1))[0].method == "vlm"


def test_default_model_on_the_installed_line(monkeypatch):
    """Real version, no simulation: on 5.x the refusal, on 4.57 the usual opt-in path to the cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    called = []
    real = vlm.resolve_model
    monkeypatch.setattr(vlm, "resolve_model", lambda *a, **k: called.append(a) or real(*a, **k))
    with pytest.raises(ModelUnavailable) as info:
        VlmVerifier(trust_remote_code=True, revision="0123456789abcdef0123456789abcdef01234567")
    if ON_5:
        _assert_explains_the_way_out(str(info.value), DEFAULT_MODEL)
        assert called == []
    else:
        assert "not in the local Hugging Face cache" in str(info.value) and called


# ---- remote code on 4.57: the opt-in path runs the model's own code -------------------------------------
@pytest.mark.skipif(ON_5, reason="remote code is refused on transformers >= 5")
def test_remote_code_vlm_loads_with_opt_in_on_4_57(tiny_vlm, tmp_path, monkeypatch):
    from transformers import dynamic_module_utils

    # The model's code is copied into the modules cache: keep it in a temporary folder, not ~/.cache.
    monkeypatch.setattr(dynamic_module_utils, "HF_MODULES_CACHE", str(tmp_path / "modules"))
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    folder = _remote_copy(tiny_vlm, tmp_path / "remote-vlm",
                          {"AutoModelForImageTextToText": "modeling_tiny_remote.TinyRemoteVlm"})
    (folder / "modeling_tiny_remote.py").write_text(
        "from transformers import LlavaForConditionalGeneration\n\n\n"
        "class TinyRemoteVlm(LlavaForConditionalGeneration):\n"
        "    ran_remote_code = True\n"
    )
    with pytest.raises(ModelUnavailable, match="trust_remote_code"):
        VlmVerifier(model_id=str(folder), device="cpu")
    verifier = VlmVerifier(model_id=str(folder), device="cpu", trust_remote_code=True, max_new_tokens=4,
                           answer="generate")
    assert getattr(verifier.model, "ran_remote_code", False)
    verdicts = verifier.verify(_items(2))
    assert [v.state for v in verdicts] == [VerdictState.UNPARSABLE] * 2  # random weights: kept as raw text
    odds = VlmVerifier(model_id=str(folder), device="cpu", trust_remote_code=True, unsure_band=0.0).verify(_items(2))
    assert all(v.state in (VerdictState.YES, VerdictState.NO, VerdictState.UNSURE) for v in odds)  # from its odds
