from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.pipeline.backends import make_proposer
from logotag_gui.core.proposers import shape as shape_module
from logotag_gui.core.proposers import shape_net
from logotag_gui.core.proposers.offline import OfflineProposer
from logotag_gui.core.proposers.shape import ShapeProposer
from logotag_gui.core.proposers.shape_net import (
    CONFIG_FILE,
    PACKAGED_MODEL,
    STRIDE,
    TEMPLATE,
    WEIGHTS_FILE,
    ShapeNet,
    correlate,
    find_shape_model,
    shape_model_installed,
    template_canvas,
    to_tensor,
)
from resources import synth
from tests.tiny_models import save_tiny_shape_matcher

# The model LogoTag ships (package data), else one installed on this machine ($LOGOTAG_SHAPE_MODEL or the
# user's folder, as found before the tests' own settings apply): these tests measure what a trained one finds.
TRAINED = PACKAGED_MODEL if shape_model_installed(PACKAGED_MODEL) else find_shape_model()
needs_trained = pytest.mark.skipif(TRAINED is None, reason="no trained shape matcher here: neither the shipped "
                                   "one (logotag_gui/resources/models/shape-matcher) nor a user's")


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


@needs_trained
@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=pytest.mark.slow)])  # bf16 is slow on CPU
def test_shape_proposer_finds_a_bare_emblem_and_nothing_on_an_empty_scene(tmp_path, precision):
    with_mark, empty = _scene_with(_bare_emblem(tmp_path))
    proposer = ShapeProposer(model=TRAINED, precision=precision)
    assert next(proposer.net.parameters()).dtype == {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    found = proposer.propose(with_mark)
    assert found and found[0].brand == "Norvik" and found[0].method == "shape"
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5
    assert proposer.propose(empty) == []


@needs_trained
def test_offline_detector_finds_the_emblem_that_keypoints_and_ocr_miss(tmp_path):
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    dictionary = load_dictionary(tmp_path / "logos")
    fused = OfflineProposer(shape=ShapeProposer(model=TRAINED, threshold=0.65))
    without_shapes = OfflineProposer(find_shape=False)  # keypoints and OCR alone
    fused.prepare(dictionary)
    without_shapes.prepare(dictionary)
    assert without_shapes.propose(with_mark) == []
    found = fused.propose(with_mark)
    assert [(c.brand, c.method) for c in found] == [("Norvik", "shape")]
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5


def test_a_model_folder_loads_through_the_users_path_and_bad_ones_say_why(tmp_path, monkeypatch):
    folder = save_tiny_shape_matcher(tmp_path / "tiny")
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", str(folder))
    proposer = make_proposer("shape")  # what --embedder shape does
    assert proposer.model == folder and proposer.embedder_id.startswith("shape:")
    torch.manual_seed(0)  # the same random network, held in memory at the precision it is saved in
    built = ShapeNet(width=8, dim=16).half().float().eval()
    image = to_tensor(synth.background(96, 64, 1))[None]
    exact = ShapeProposer(model=folder, precision="fp32")
    halved = ShapeProposer(model=folder, precision="bf16")
    with torch.inference_mode():
        features = exact.net(image)
        assert features.shape == (1, 16, 8, 12) and torch.allclose(features, built(image), atol=1e-5)
        # bf16 convolutions, fp32 unit features: each cell's feature points the same way to within a few degrees
        rough = halved.net(image)
        assert rough.dtype == torch.float32 and (rough * features).sum(dim=1).min() > 0.95
    with pytest.raises(ValueError, match="precision"):
        ShapeProposer(model=folder, precision="fp8")
    with pytest.raises(ModelUnavailable, match=r"absent has no config\.json and model\.safetensors"):
        ShapeProposer(model=tmp_path / "absent")
    (folder / CONFIG_FILE).write_text('{"architecture": "something-else"}')
    with pytest.raises(ModelUnavailable, match="not a logotag-shape-matcher model"):
        ShapeProposer(model=folder)


def _fake_scores(monkeypatch, peak_at: tuple[int, int] | None, level: int = 0):
    """Replace the network's score maps: 0 everywhere, 0.9 at (v, u) on the given pyramid level only
    (peak_at None: 0.9 everywhere, a shape that stands out nowhere)."""
    calls = []

    def scores(search, kernels, masks):
        out = torch.zeros(1, kernels.shape[0], search.shape[2] - 5, search.shape[3] - 5)
        if peak_at is None:
            out += 0.9
        elif len(calls) == level:
            out[0, :, peak_at[0], peak_at[1]] = 0.9
        calls.append(search.shape)
        return out

    monkeypatch.setattr(shape_module, "correlate", scores)
    return calls


def test_a_peak_becomes_a_box_shaped_like_the_reference_in_source_pixels(tmp_path, monkeypatch):
    (tmp_path / "logos").mkdir()
    Image.new("RGB", (200, 100), (200, 30, 40)).save(tmp_path / "logos" / "Wide.png")
    proposer = ShapeProposer(model=save_tiny_shape_matcher(tmp_path / "tiny"), smallest=24)
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    frame = Frame(FrameRef(0, 0.0, 640, 360), synth.background(640, 360, 2))
    calls = _fake_scores(monkeypatch, (10, 20))
    found = proposer.propose(frame)
    # the first level is 2x (48 px template / 24 px smallest mark); the 2:1 reference fills 48 x 24 px of the canvas
    assert calls[0][2:] == (90, 160)
    assert [(c.brand, c.method, c.score) for c in found] == [("Wide", "shape", 0.9)]
    assert found[0].bbox == BBox((20 * STRIDE + 0) / 2, (10 * STRIDE + 12) / 2, 24, 12)
    _fake_scores(monkeypatch, None)
    assert proposer.propose(frame) == []  # high everywhere: nothing stands out


def test_find_near_searches_the_window_around_the_name_only(tmp_path, monkeypatch):
    (tmp_path / "logos").mkdir()
    Image.new("RGB", (100, 100), (200, 30, 40)).save(tmp_path / "logos" / "Disc.png")
    proposer = ShapeProposer(model=save_tiny_shape_matcher(tmp_path / "tiny"))
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    frame = Frame(FrameRef(0, 0.0, 640, 360), synth.background(640, 360, 2))
    name = BBox(300, 200, 60, 12)  # the window: grown by max(60, 36) each way -> x 240..420, y 140..272
    calls = _fake_scores(monkeypatch, (1, 2))
    near = proposer.find_near(frame, "Disc", name, min_score=0.5)
    top = TEMPLATE / 12  # the first level brings a mark of the name's height to 48 px
    assert calls[0][2:] == (round(132 * top) // STRIDE, round(180 * top) // STRIDE)
    assert near is not None and near.bbox == BBox(240 + 2 * STRIDE / top, 140 + 1 * STRIDE / top, 48 / top, 48 / top)
    _fake_scores(monkeypatch, (1, 2))
    assert proposer.find_near(frame, "Disc", name, min_score=0.95) is None
    assert proposer.find_near(frame, "Unknown", name) is None


@needs_trained
def test_find_near_boxes_the_symbol_beside_its_name_and_nothing_elsewhere(tmp_path):
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    proposer = ShapeProposer(model=TRAINED)
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    name = BBox(462, 170, 70, 16)  # where the name would be written, right of the emblem
    near = proposer.find_near(with_mark, "Norvik", name, min_score=0.45)
    assert near is not None and near.brand == "Norvik" and near.bbox.iou(BBox(400, 150, 56, 56)) >= 0.5
    assert proposer.find_near(with_mark, "Norvik", BBox(40, 300, 70, 16), min_score=0.45) is None
    assert proposer.find_near(with_mark, "Unknown", name) is None


@needs_trained
def test_offline_detector_looks_for_a_symbol_beside_its_read_name(tmp_path):
    """Norvik's reference is its bare emblem, so its written name only says where to look."""
    with_mark, _ = _scene_with(_bare_emblem(tmp_path))
    scene = Image.fromarray(with_mark.image)
    ImageDraw.Draw(scene).text((462, 165), "NORVIK", font=ImageFont.load_default(size=24), fill=(255, 255, 255))
    frame = Frame(with_mark.ref, np.asarray(scene))
    proposer = OfflineProposer(shape=ShapeProposer(model=TRAINED, threshold=0.99))  # no peak alone
    proposer.prepare(load_dictionary(tmp_path / "logos"))
    assert not proposer.ocr.names_its_mark("Norvik")
    found = proposer.propose(frame)
    assert [(c.brand, c.method) for c in found] == [("Norvik", "shape+ocr")]
    assert found[0].bbox.iou(BBox(400, 150, 56, 56)) >= 0.5


def _no_model_anywhere(tmp_path, monkeypatch) -> None:
    """No shipped model, an empty user folder and an empty $LOGOTAG_SHAPE_MODEL folder."""
    monkeypatch.setattr(shape_net, "PACKAGED_MODEL", tmp_path / "package" / "shape-matcher")
    monkeypatch.setattr(shape_net, "user_model_dir", lambda: tmp_path / "user" / "shape-matcher")
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", str(tmp_path / "env-empty"))


def test_the_shipped_model_is_found_where_no_user_model_is(tmp_path, monkeypatch):
    """A wheel, an editable install and the desktop bundle all hold the model in the package folder."""
    _no_model_anywhere(tmp_path, monkeypatch)
    with pytest.raises(ModelUnavailable, match="not installed") as missing:
        ShapeProposer()
    assert "Reinstall LogoTag" in str(missing.value)  # a pip install has no bench/: not the only fix offered
    shipped = save_tiny_shape_matcher(tmp_path / "package" / "shape-matcher", seed=0)
    assert find_shape_model() == shipped and shape_model_installed()
    proposer = make_proposer("shape")  # what --embedder shape does
    assert proposer.model == shipped
    shipped_id = proposer.embedder_id
    # A model the user trained takes precedence: the user's folder, then $LOGOTAG_SHAPE_MODEL.
    users = save_tiny_shape_matcher(tmp_path / "user" / "shape-matcher", seed=1)
    assert find_shape_model() == users and ShapeProposer().embedder_id != shipped_id
    chosen = save_tiny_shape_matcher(tmp_path / "env-model", seed=2)
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", str(chosen))
    assert find_shape_model() == chosen and ShapeProposer().model == chosen
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", "none")  # run without one
    assert find_shape_model() is None and not shape_model_installed()
    with pytest.raises(ModelUnavailable, match="switched off"):
        ShapeProposer()


def test_the_package_data_covers_the_model_folder():
    tomllib = pytest.importorskip("tomllib")
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["logotag_gui"]
    relative = PACKAGED_MODEL.relative_to(root / "logotag_gui")
    for name in (CONFIG_FILE, WEIGHTS_FILE, "MODEL_CARD.md"):
        assert any(fnmatch(str(relative / name), pattern) for pattern in patterns), name
    assert (PACKAGED_MODEL / "MODEL_CARD.md").exists()
    # The bundle carries the package's whole resources folder (the shape matcher and the demo) beside it.
    spec = (root / "packaging" / "logotag.spec").read_text()
    assert '"logotag_gui" / "resources"), "logotag_gui/resources")' in spec


@pytest.mark.skipif(not shape_model_installed(PACKAGED_MODEL), reason="the trained model is not in the package folder")
def test_the_shipped_model_is_a_shape_matcher_of_this_version():
    net = shape_net.load_shape_net(PACKAGED_MODEL)
    assert sum(p.numel() for p in net.parameters()) == 443_424  # 0.9 MB in fp16


def test_a_run_says_when_the_offline_detector_has_no_shape_matcher(tmp_path, monkeypatch):
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.pipeline.backends import choose_backends

    _no_model_anywhere(tmp_path, monkeypatch)
    config = RunConfig(input="", logos="", embedder="offline", verifier="ocr")
    assert any("without its shape matcher" in n for n in choose_backends(config)[2])
    monkeypatch.setenv("LOGOTAG_SHAPE_MODEL", str(save_tiny_shape_matcher(tmp_path / "tiny")))
    assert not any("shape matcher" in n for n in choose_backends(config)[2])
