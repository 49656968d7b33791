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
from logotag_gui.core.proposers.siglip2 import Siglip2Proposer, naflex_size, pooled_features
from logotag_gui.core.vision.crops import (
    WindowSpec,
    crop_resize,
    frame_pixels,
    frame_tensor,
    gather_crops,
    group_by_shape,
    make_windows,
)
from logotag_gui.core.vision.weights import model_dtype, pil_image_processor_kwargs
from tests.tiny_models import siglip2_pil_module

get_image_size_for_max_num_patches = siglip2_pil_module().get_image_size_for_max_num_patches
SEED = WindowSpec(wide=False, spread=False)


def plain_model(path):
    """The model as the hub gives it (no folded normalisation, no kept position embeddings), fp32."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(path).eval()


def normalised(inputs: dict) -> dict:
    """Our raw 0-255 pixel values → the processor's normalised ones (SigLIP: mean = std = 0.5)."""
    return {**inputs, "pixel_values": inputs["pixel_values"].float() / 127.5 - 1.0}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def iou(box: np.ndarray, windows: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(box[0], windows[:, 0]), np.maximum(box[1], windows[:, 1])
    x2 = np.minimum(box[0] + box[2], windows[:, 0] + windows[:, 2])
    y2 = np.minimum(box[1] + box[3], windows[:, 1] + windows[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (box[2] * box[3] + windows[:, 2] * windows[:, 3] - inter)


@settings(max_examples=200, deadline=None)
@given(st.integers(8, 2000), st.integers(8, 2000), st.sampled_from([64, 256, 1024]))
def test_naflex_size_matches_transformers(h, w, budget):
    assert naflex_size(h, w, 16, budget) == get_image_size_for_max_num_patches(h, w, 16, budget)


# ---- the window set -----------------------------------------------------------------------------
def test_the_seed_grid_is_the_seeds_129_windows():
    boxes = make_windows(1280, 720, SEED)
    assert len(boxes) == 129
    for size in (192, 256, 320):
        rows = boxes[boxes[:, 2] == size]
        assert (rows[:, 0] % (size // 2) == 0).all() and (rows[:, 1] % (size // 2) == 0).all()
    assert (boxes[:, 1] + boxes[:, 3]).max() == 672  # no seed window reached the bottom 48 px (80 px at 256, 320)


def test_windows_cover_the_frame_at_every_scale():
    boxes = make_windows(1280, 720, WindowSpec())
    shapes = {(int(w), int(h)) for _, _, w, h in boxes}
    assert shapes == {(192, 192), (256, 256), (320, 320), (512, 256), (640, 320)}  # 2:1 only at 256 and 320
    assert len(boxes) == 154 and (boxes[:, 2] == boxes[:, 3]).sum() == 129  # the seed's count of squares
    for w, h in shapes:  # every pixel, edges included, lies in a window of every shape
        rows = boxes[(boxes[:, 2] == w) & (boxes[:, 3] == h)]
        covered = np.zeros((720, 1280), bool)
        for x, y, _, _ in rows:
            covered[y:y + h, x:x + w] = True
        assert covered.all(), (w, h)
        for axis, side in ((0, w), (1, h)):  # steps stay within 1.5x the seed's half window
            starts = np.unique(rows[:, axis])
            assert np.diff(starts).max() <= 0.75 * side
    small = make_windows(640, 360, WindowSpec())
    assert {(w, h) for _, _, w, h in small} >= {(96, 96), (128, 128), (160, 160)}  # scaled with the frame
    assert {(int(w), int(h)) for _, _, w, h in make_windows(1280, 720, WindowSpec(wide=True))} >= {(384, 192)}
    assert len(make_windows(1280, 720, WindowSpec(wide=False))) == 129


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768), (640, 360)])
def test_windows_reach_marks_of_their_shape_anywhere(size):
    """A mark the size and shape of a window, anywhere in the frame, overlaps some window at IoU >= 0.35;
    the seed's squares leave a 2:1 mark at IoU 0.32 or less in places (its right and bottom bands)."""
    width, height = size
    scale = width / 1280
    rng = np.random.default_rng(0)
    ours, seed = make_windows(width, height, WindowSpec()), make_windows(width, height, SEED)
    for w, h in [(192, 192), (256, 256), (320, 320), (512, 256), (640, 320)]:
        w, h = round(w * scale), round(h * scale)
        marks = np.column_stack([rng.uniform(0, width - w, 400), rng.uniform(0, height - h, 400),
                                 np.full(400, w), np.full(400, h)])
        assert min(iou(m, ours).max() for m in marks) >= 0.35, (w, h)
        if w == 2 * h and width == 1280:
            assert min(iou(m, seed).max() for m in marks) < 0.35


def test_group_by_shape_keeps_first_appearance_order():
    boxes = np.array([[0, 0, 5, 5], [1, 1, 8, 4], [2, 2, 5, 5], [3, 3, 8, 4]])
    groups = group_by_shape(boxes)
    assert list(groups) == [(5, 5), (8, 4)]
    assert [g.tolist() for g in groups.values()] == [[0, 2], [1, 3]]
    assert group_by_shape(np.zeros((0, 4), np.int64)) == {}


# ---- batched crops ------------------------------------------------------------------------------
def test_gather_crops_equals_slicing():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 100, 60], [150, 50, 100, 60], [200, 140, 100, 60], [37, 11, 100, 60]])
    crops = gather_crops(frame_pixels(image), boxes)
    for i, (x, y, w, h) in enumerate(boxes):
        assert torch.equal(crops[i], torch.from_numpy(image[y:y + h, x:x + w]))
    with pytest.raises(ValueError, match="one shape"):
        gather_crops(frame_pixels(image), np.array([[0, 0, 10, 10], [0, 0, 20, 10]]))
    with pytest.raises(ValueError, match="outside"):
        gather_crops(frame_pixels(image), np.array([[250, 0, 100, 60]]))


def test_batched_crop_matches_one_by_one_crops():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (200, 300, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 100, 100], [150, 50, 100, 100], [200, 100, 100, 100]])
    batch = crop_resize(frame_tensor(image), boxes, (64, 64))  # float frame: float path
    batch_u8 = crop_resize(frame_pixels(image), boxes, (64, 64))  # uint8 frame on the CPU: uint8 path
    assert batch_u8.dtype == torch.uint8 and batch_u8.is_contiguous(memory_format=torch.channels_last)
    for i, (x, y, w, h) in enumerate(boxes):
        single = torch.nn.functional.interpolate(frame_tensor(image[y:y + h, x:x + w])[None], size=(64, 64),
                                                 mode="bilinear", antialias=True)
        assert torch.allclose(batch[i], single[0], atol=1e-5)
        one = torch.from_numpy(image[y:y + h, x:x + w].copy()).permute(2, 0, 1)[None]
        single_u8 = torch.nn.functional.interpolate(one.contiguous(memory_format=torch.channels_last), size=(64, 64),
                                                    mode="bilinear", antialias=True)
        assert torch.equal(batch_u8[i], single_u8[0])
        # ... and the processor's PIL resize, to within a grey level or two (both round to uint8)
        pil = np.asarray(Image.fromarray(image[y:y + h, x:x + w]).resize((64, 64), Image.BILINEAR))
        assert np.abs(batch_u8[i].permute(1, 2, 0).numpy().astype(int) - pil.astype(int)).max() <= 2


def test_batched_path_gives_the_per_crop_processor_features(tiny_siglip):
    """embed_windows (batched crops, resizes and patches) against the reference: one PIL crop per window
    through the Hugging Face processor and the model, as the seed did."""
    from transformers import AutoImageProcessor

    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32")
    processor = AutoImageProcessor.from_pretrained(tiny_siglip, **pil_image_processor_kwargs())
    image = np.asarray(Image.fromarray(np.random.default_rng(5).integers(0, 255, (45, 80, 3), dtype=np.uint8))
                       .resize((640, 360), Image.BICUBIC))  # smooth, like a photograph
    boxes = make_windows(640, 360, WindowSpec(wide=True))
    boxes = boxes[np.linspace(0, len(boxes) - 1, 12).astype(int)]  # every shape, squares and 2:1
    ours = proposer.embed_windows(image, boxes)
    model, reference = plain_model(tiny_siglip), []
    for x, y, w, h in boxes:
        inputs = processor(images=[Image.fromarray(image[y:y + h, x:x + w])], return_tensors="pt")
        with torch.inference_mode():
            reference.append(pooled_features(model.get_image_features(**inputs)).numpy())
    assert cosine(ours, np.vstack(reference)).min() > 0.999


def test_bf16_features_agree_with_fp32(tiny_siglip):
    image = np.random.default_rng(2).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    boxes = make_windows(640, 360, WindowSpec())[::7]
    a = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32").embed_windows(image, boxes)
    b = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="bf16").embed_windows(image, boxes)
    # bf16 keeps 8 mantissa bits; through random weights on noise the worst window of 12 random tiny
    # models agreed to 0.991 (mean 0.997 or better). A broken bf16 path (say, normalisation lost)
    # lands far below.
    agreement = cosine(a, b)
    assert agreement.mean() > 0.995 and agreement.min() > 0.98
    assert model_dtype("cpu", "fp32") == torch.float32 and model_dtype("cpu", "bf16") == torch.bfloat16
    assert model_dtype("cuda", "auto") == torch.bfloat16
    with pytest.raises(ValueError, match="precision"):
        model_dtype("cpu", "fp8")


def test_batch_size_does_not_change_features(tiny_siglip):
    image = np.random.default_rng(4).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    boxes = make_windows(640, 360, WindowSpec())
    one = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32", batch_size=1)
    auto = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32")
    assert np.allclose(one.embed_windows(image, boxes), auto.embed_windows(image, boxes), atol=1e-4)
    assert auto.batch_for(256) >= 16  # the tiny model: large batches on a CPU
    assert auto.batch_for(10**9) == 1


def test_folded_model_with_kept_position_embeddings_equals_the_librarys(tiny_siglip):
    """The normalisation folded into the patch embedding and the position embeddings kept per shape
    give the features of the model as loaded, fed the processor's normalised values."""
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32")
    plain = plain_model(tiny_siglip)
    for shape in [(3, 3, 48, 96), (2, 3, 128, 128)]:
        inputs = proposer.patchify(torch.rand(*shape))
        with torch.inference_mode():
            a = pooled_features(proposer.model.get_image_features(**inputs))
            b = pooled_features(plain.get_image_features(**normalised(inputs)))
        assert torch.allclose(a, b, atol=1e-5)
    mixed = proposer.patchify(torch.rand(2, 3, 64, 64), pad_to=64)
    mixed["spatial_shapes"][1] = torch.tensor([2, 8])  # a second image of another grid: the library's path
    mixed["pixel_attention_mask"][1, 16:] = 0
    with torch.inference_mode():
        assert torch.allclose(pooled_features(proposer.model.get_image_features(**mixed)),
                              pooled_features(plain.get_image_features(**normalised(mixed))), atol=1e-5)


def test_tensor_path_gives_the_processor_features(tiny_siglip):
    """Our patchify lays patches out as the HF processor does on an image already at its NaFlex size
    (uint8 or float), and our model gives the processor path's features."""
    from transformers import AutoImageProcessor

    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32")
    processor = AutoImageProcessor.from_pretrained(tiny_siglip, **pil_image_processor_kwargs())
    image = np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    assert naflex_size(128, 128, 16, processor.max_num_patches) == (128, 128)
    theirs = processor(images=[Image.fromarray(image)], return_tensors="pt")
    with torch.inference_mode():
        expected = pooled_features(plain_model(tiny_siglip).get_image_features(**theirs)).numpy()
    for pixels in (frame_tensor(image)[None], frame_pixels(image).permute(2, 0, 1)[None]):
        ours = proposer.patchify(pixels, pad_to=processor.max_num_patches)
        assert ours["pixel_values"].max() > 1  # raw 0-255: the normalisation lives in the patch embedding
        real = ours["pixel_attention_mask"].bool()
        assert torch.allclose(normalised(ours)["pixel_values"][real], theirs["pixel_values"][real], atol=1e-5)
        assert torch.equal(ours["pixel_attention_mask"], theirs["pixel_attention_mask"])
        assert torch.equal(ours["spatial_shapes"], theirs["spatial_shapes"])
        assert np.allclose(proposer.features(pixels), expected, atol=1e-5)


# ---- the proposer -------------------------------------------------------------------------------
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
    proposer.profile = {}
    found = proposer.propose(Frame(FrameRef(0, 0.0, 640, 360), frame_img))
    best = max(found, key=lambda c: c.score)
    assert best.brand == "acme" and best.bbox.as_list() == [0, 0, 96, 96]
    assert best.score == pytest.approx(1.0, abs=1e-4)
    assert {"crop+resize", "patchify", "model", "faiss"} <= set(proposer.profile)  # the bench's breakdown


def test_index_is_cached_and_rebuilt_when_references_change(tiny_siglip, tmp_path):
    logos = tmp_path / "logos"
    logos.mkdir()
    Image.new("RGB", (64, 64), "red").save(logos / "acme.png")
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", cache_root=str(tmp_path / "c"))
    proposer.prepare(load_dictionary(logos))
    first = proposer.index
    proposer.prepare(load_dictionary(logos))
    assert proposer.index.manifest == first.manifest  # reused
    Image.new("RGB", (64, 64), "blue").save(logos / "globex.png")
    proposer.prepare(load_dictionary(logos))
    assert proposer.index.index.ntotal == 2  # stale index rebuilt, never reused


def test_missing_weights_name_the_model_and_the_way_out(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable) as info:
        Siglip2Proposer(model_id="google/siglip2-base-patch16-naflex")
    text = str(info.value)
    assert "google/siglip2-base-patch16-naflex" in text and "hf download" in text and "keypoints" in text


def test_unpadded_batches_give_the_padded_features(tiny_siglip):
    """A batch of one shape needs no padding: the masked padding never changed the features."""
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", precision="fp32")
    crops = torch.rand(3, 3, 48, 96)  # 3 x 6 = 18 patches of a 64-patch budget
    plain = proposer.features(crops)
    inputs = proposer.patchify(crops, pad_to=64)
    out = proposer.model.get_image_features(**inputs)
    assert torch.allclose(torch.from_numpy(plain), pooled_features(out).float(), atol=1e-5)


def test_native_resolution_never_upsamples_small_windows(tiny_siglip, monkeypatch):
    seen = []
    proposer = Siglip2Proposer(model_id=str(tiny_siglip), device="cpu", native_resolution=True)
    monkeypatch.setattr(proposer, "features", lambda batch: seen.append(tuple(batch.shape[-2:])) or
                        np.zeros((len(batch), 32), np.float32))
    image = np.zeros((360, 640, 3), np.uint8)
    proposer.embed_windows(image, np.array([[0, 0, 48, 48], [0, 0, 200, 200]]))
    assert (48, 48) in seen  # kept at its own 3 x 3 patches
    assert all(h * w <= 64 * 16 * 16 for h, w in seen)  # the big one still fits the budget
