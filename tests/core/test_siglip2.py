"""SigLIP-2 stage with a tiny random model saved like a hub snapshot (plumbing, not accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.proposers.siglip2 import Siglip2Proposer, _pooled, naflex_size
from logotag_gui.core.vision.crops import WindowSpec, crop_resize, frame_tensor, make_windows
from logotag_gui.core.vision.weights import pil_image_processor_kwargs
from tests.tiny_models import siglip2_pil_module

get_image_size_for_max_num_patches = siglip2_pil_module().get_image_size_for_max_num_patches


@settings(max_examples=200, deadline=None)
@given(st.integers(8, 2000), st.integers(8, 2000), st.sampled_from([64, 256, 1024]))
def test_naflex_size_matches_transformers(h, w, budget):
    assert naflex_size(h, w, 16, budget) == get_image_size_for_max_num_patches(h, w, 16, budget)


def test_windows_cover_the_frame_at_every_scale():
    boxes = make_windows(1280, 720, WindowSpec())
    assert {(w, h) for _, _, w, h in boxes} == {(192, 192), (384, 192), (256, 256), (512, 256), (320, 320), (640, 320)}
    assert (boxes[:, 0] + boxes[:, 2]).max() == 1280 and (boxes[:, 1] + boxes[:, 3]).max() == 720
    small = make_windows(640, 360, WindowSpec())
    assert {(w, h) for _, _, w, h in small} >= {(96, 96), (128, 128), (160, 160)}  # scaled with the frame


def test_batched_crop_matches_one_by_one_crops():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 100, 100], [150, 50, 100, 100], [200, 100, 100, 100]])
    batch = crop_resize(frame_tensor(image), boxes, (64, 64))
    for i, (x, y, w, h) in enumerate(boxes):
        single = torch.nn.functional.interpolate(frame_tensor(image[y:y + h, x:x + w])[None], size=(64, 64),
                                                 mode="bilinear", antialias=True)
        assert torch.allclose(batch[i], single[0], atol=1e-5)


def test_tensor_path_gives_the_processor_features(tiny_siglip):
    """Our patchify equals the HF processor's on an image already at its NaFlex size."""
    from transformers import AutoImageProcessor

    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu")
    processor = AutoImageProcessor.from_pretrained(tiny_siglip, **pil_image_processor_kwargs())
    image = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    assert naflex_size(128, 128, 16, processor.max_num_patches) == (128, 128)
    ours = proposer._patchify(frame_tensor(image)[None], pad_to=processor.max_num_patches)
    theirs = processor(images=[Image.fromarray(image)], return_tensors="pt")
    assert torch.allclose(ours["pixel_values"], theirs["pixel_values"], atol=1e-5)
    assert torch.equal(ours["pixel_attention_mask"], theirs["pixel_attention_mask"])
    assert torch.equal(ours["spatial_shapes"], theirs["spatial_shapes"])


def test_identical_window_is_found_with_cosine_one(tiny_siglip, tmp_path):
    rng = np.random.default_rng(3)
    logo = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(logo).save(tmp_path / "acme.png")
    Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(tmp_path / "other.png")
    frame_img = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frame_img[0:96, 0:96] = logo  # exactly the first 96 px window (192 px scaled to 640 wide)
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", threshold=0.99,
                               cache_root=str(tmp_path / "cache"))
    proposer.prepare(load_dictionary(tmp_path))
    found = proposer.propose(Frame(FrameRef(0, 0.0, 640, 360), frame_img))
    best = max(found, key=lambda c: c.score)
    assert best.brand == "acme" and best.bbox.as_list() == [0, 0, 96, 96]
    assert best.score == pytest.approx(1.0, abs=1e-4)


def test_index_is_cached_and_rebuilt_when_references_change(tiny_siglip, tmp_path):
    logos = tmp_path / "logos"
    logos.mkdir()
    Image.new("RGB", (64, 64), "red").save(logos / "acme.png")
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", cache_root=str(tmp_path / "c"))
    proposer.prepare(load_dictionary(logos))
    first = proposer._index
    proposer.prepare(load_dictionary(logos))
    assert proposer._index.manifest == first.manifest  # reused
    Image.new("RGB", (64, 64), "blue").save(logos / "globex.png")
    proposer.prepare(load_dictionary(logos))
    assert proposer._index.index.ntotal == 2  # stale index rebuilt, never reused


def test_missing_weights_name_the_model_and_the_way_out(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as info:
        Siglip2Proposer(model_id="google/siglip2-base-patch16-naflex")
    text = str(info.value)
    assert "google/siglip2-base-patch16-naflex" in text and "hf download" in text and "keypoints" in text


def test_unpadded_batches_give_the_padded_features(tiny_siglip):
    """A batch of one shape needs no padding: the masked padding never changed the features."""
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu")
    crops = torch.rand(3, 3, 48, 96)  # 3 x 6 = 18 patches of a 64-patch budget
    plain = proposer._features(crops)
    inputs = proposer._patchify(crops, pad_to=64)
    out = proposer._model.get_image_features(**inputs)
    assert torch.allclose(torch.from_numpy(plain), _pooled(out).float(), atol=1e-5)


def test_native_resolution_never_upsamples_small_windows(tiny_siglip, monkeypatch):
    seen = []
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", native_resolution=True)
    monkeypatch.setattr(proposer, "_features", lambda batch: seen.append(tuple(batch.shape[-2:])) or
                        np.zeros((len(batch), 32), np.float32))
    image = np.zeros((360, 640, 3), np.uint8)
    proposer.embed_windows(image, np.array([[0, 0, 48, 48], [0, 0, 200, 200]]))
    assert (48, 48) in seen  # kept at its own 3 x 3 patches
    assert all(h * w <= 64 * 16 * 16 for h, w in seen)  # the big one still fits the budget
