from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core import synth
from logotag_gui.core.embedders import make_proposer
from logotag_gui.core.embedders.offline import OfflineProposer
from logotag_gui.core.embedders.shape import ShapeProposer
from logotag_gui.core.embedders.shape_net import STRIDE, TEMPLATE, correlate, template_canvas
from logotag_gui.core.errors import ModelUnavailable
from logotag_gui.core.logos import load_dictionary
from logotag_gui.core.records import BBox, Frame, FrameRef


def test_template_keeps_the_aspect_and_masks_the_cells_the_logo_covers():
    wide = np.full((50, 200, 3), 200, np.uint8)
    canvas, mask, box = template_canvas(wide)
    assert canvas.shape == (TEMPLATE, TEMPLATE, 3)
    assert (box.w, box.h) == (48, 12) and box.y == 18  # centred, 4:1 kept
    assert mask.shape == (TEMPLATE // STRIDE,) * 2
    assert mask[2:4].all() and mask.sum() == 12  # the two rows of cells the logo covers half of or more


def test_correlation_is_the_mean_cosine_over_the_masked_cells():
    torch.manual_seed(0)
    search = torch.nn.functional.normalize(torch.randn(1, 16, 20, 20), dim=1)
    kernel = search[:, :, 5:11, 7:13].clone()
    mask = torch.zeros(1, 6, 6)
    mask[0, 1:3] = 1
    kernel[:, :, 3:] = -kernel[:, :, 3:]  # unmasked cells must not count
    scores = correlate(search, kernel, mask)
    assert scores.shape == (1, 1, 15, 15)
    assert torch.isclose(scores[0, 0, 5, 7], torch.tensor(1.0), atol=1e-5)
    assert scores[0, 0].flatten().argmax().item() == 5 * 15 + 7


def _bare_emblem(tmp_path) -> Image.Image:
    """Norvik's ring emblem without its name: a mark that carries no text for OCR."""
    mark = synth.make_logo("Norvik", *synth.DEMO_BRANDS["Norvik"]).crop((0, 0, 160, 160))
    (tmp_path / "logos").mkdir()
    mark.save(tmp_path / "logos" / "Norvik.png")
    return mark


def _scene_with(mark: Image.Image) -> tuple[Frame, Frame]:
    """(the mark at 56 px, turned 8 degrees, at (400, 150); the same scene without it)."""
    scene = Image.fromarray(synth.background(640, 360, 11))
    empty = np.asarray(scene)
    small = mark.resize((56, 56), Image.LANCZOS).rotate(8, Image.BICUBIC)
    scene.paste(small, (400, 150), small)
    return Frame(FrameRef(0, 0.0, 640, 360), np.asarray(scene.convert("RGB"))), Frame(FrameRef(1, 0.1, 640, 360), empty)


def test_shape_proposer_finds_a_bare_emblem_and_nothing_on_an_empty_scene(tmp_path):
    with_mark, empty = _scene_with(_bare_emblem(tmp_path))
    proposer = ShapeProposer()
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    found = proposer.propose(with_mark)
    assert found and found[0].brand == "Norvik" and found[0].method == "shape"
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5
    assert proposer.propose(empty) == []


def test_offline_detector_finds_the_emblem_that_keypoints_and_ocr_miss(tmp_path):
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    dictionary = load_dictionary(tmp_path / "logos")
    fused, without_shapes = OfflineProposer(), OfflineProposer(shape=None)
    fused.prepare(dictionary)
    without_shapes.prepare(dictionary)
    assert without_shapes.propose(with_mark) == []
    found = fused.propose(with_mark)
    assert [(c.brand, c.method) for c in found] == [("Norvik", "shape")]
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5


def test_missing_weights_name_the_fix(tmp_path):
    with pytest.raises(ModelUnavailable, match="train_shape_matcher"):
        ShapeProposer(weights=tmp_path / "absent.safetensors")


def test_shape_is_a_named_backend():
    assert make_proposer("shape").embedder_id.startswith("shape:")


def test_find_near_boxes_the_symbol_beside_its_name_and_nothing_elsewhere(tmp_path):
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    proposer = ShapeProposer()
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    name = BBox(462, 170, 70, 16)  # where the name would be written, right of the emblem
    near = proposer.find_near(with_mark, "Norvik", name, min_score=0.45)
    assert near is not None and near.brand == "Norvik" and near.bbox.iou(BBox(400, 150, 56, 56)) >= 0.5
    assert proposer.find_near(with_mark, "Norvik", BBox(40, 300, 70, 16), min_score=0.45) is None
    assert proposer.find_near(with_mark, "Unknown", name) is None


def test_offline_detector_looks_for_a_symbol_beside_its_read_name(tmp_path):
    """Norvik's reference is its bare emblem, so its written name only says where to look."""
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    scene = Image.fromarray(with_mark.image)
    ImageDraw.Draw(scene).text((462, 165), "NORVIK", font=ImageFont.load_default(size=24), fill=(255, 255, 255))
    frame = Frame(with_mark.ref, np.asarray(scene))
    proposer = OfflineProposer(shape=ShapeProposer(threshold=0.99))  # no peak passes on its own
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    assert not proposer.ocr.names_its_mark("Norvik")
    found = proposer.propose(frame)
    assert [(c.brand, c.method) for c in found] == [("Norvik", "shape+ocr")]
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5
