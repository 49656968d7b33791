from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.base.records import BBox, Candidate, Frame, FrameRef
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.proposers.keypoints import KeypointProposer, synthesized_views
from logotag_gui.core.proposers.ocr_text import OcrTextProposer, is_mention
from logotag_gui.core.proposers.offline import OfflineProposer, fuse
from resources import synth


def _frame_with_text(text: str, at=(300, 200), *, plain: bool = False) -> Frame:
    bg = np.full((450, 800, 3), (90, 110, 130), np.uint8) if plain else synth.background(800, 450, 3)
    img = Image.fromarray(bg)
    ImageDraw.Draw(img).text(at, text, font=ImageFont.load_default(size=40), fill=(255, 255, 255))
    return Frame(FrameRef(0, 0.0, 800, 450), np.asarray(img))


def test_ocr_proposes_a_box_where_the_brand_name_is_written(logos_dir):
    proposer = OcrTextProposer()
    proposer.prepare(load_dictionary(logos_dir))
    found = proposer.propose(_frame_with_text("AQUILA"))  # an alias (upper case) from brands.json
    assert [c.brand for c in found] == ["Aquila"]
    box = found[0].bbox  # the written word, grown to where Aquila's emblem would sit left of it
    assert box.contains_point(310, 220) and box.contains_point(420, 220) and box.x < 300 and box.h < 80
    assert proposer.propose(_frame_with_text("nothing here")) == []


def test_fusion_reinforces_agreeing_sources():
    ref = FrameRef(0, 0, 100, 100)
    kp = [Candidate(ref, BBox(0, 0, 60, 30), "a", 0.5, "keypoints"), Candidate(ref, BBox(70, 70, 20, 20), "b", 0.4, "keypoints")]
    text = [Candidate(ref, BBox(25, 5, 30, 20), "a", 0.8, "ocr"), Candidate(ref, BBox(0, 80, 10, 10), "c", 0.9, "ocr")]
    fused = fuse(kp, text)
    a = next(c for c in fused if c.brand == "a")
    assert a.method == "keypoints+ocr" and a.bbox == kp[0].bbox and a.score == 1 - 0.5 * 0.2
    assert {(c.brand, c.method) for c in fused} == {("a", "keypoints+ocr"), ("b", "keypoints"), ("c", "ocr")}


def test_synthesized_views_keep_the_outline_and_help_tilted_logos(logos_dir):
    mark = np.asarray(Image.open(logos_dir / "Norvik.png").convert("RGB"))
    views = synthesized_views(mark)
    assert len(views) == 5 and all(v.shape == mark.shape for v, _ in views)
    dictionary = load_dictionary(logos_dir)
    plain, rich = KeypointProposer(), KeypointProposer(synthesize=True)
    plain.prepare(dictionary)
    rich.prepare(dictionary)
    assert rich.described_views > 3 * plain.described_views // 2


def test_offline_proposer_finds_the_demo_logos(demo_clip, logos_dir):
    from logotag_gui.core.media.video import open_source

    clip, truth = demo_clip
    proposer = OfflineProposer()
    proposer.prepare(load_dictionary(logos_dir))
    source = open_source(clip)
    frame = source.frame(40)
    found = proposer.propose(frame)
    for brand, box in truth[40]:
        assert any(c.brand == brand and c.bbox.iou(box) >= 0.5 for c in found), brand


def test_ocr_box_grows_from_the_word_to_the_whole_mark(logos_dir, demo_clip):
    """The references show where the emblem sits around the name, so the box covers the logo."""
    from logotag_gui.core.media.video import open_source

    clip, truth = demo_clip
    proposer = OcrTextProposer()
    proposer.prepare(load_dictionary(logos_dir))
    margins = {brand: proposer.mark_around_name(brand) for brand in ("Norvik", "Aquila", "Fennel")}
    assert None not in margins.values()
    left, _, _, _ = margins["Norvik"]
    assert left > 0.5  # the ring emblem sits left of the word
    frame = open_source(clip).frame(40)
    found = {c.brand: c.bbox for c in proposer.propose(frame)}
    for brand, box in truth[40]:
        assert found[brand].iou(box) >= 0.5, brand


def test_a_second_reference_per_brand_finds_what_the_first_misses(tmp_path):
    """A strongly tilted logo defeats one frontal reference; a second reference of the brand finds it."""
    import cv2

    mark = synth.make_logo("Norvik", *synth.DEMO_BRANDS["Norvik"])
    flat = np.asarray(Image.alpha_composite(Image.new("RGBA", mark.size, (245, 245, 245, 255)), mark).convert("RGB"))
    h, w = flat.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0.42 * h], [0.55 * w, 0], [0.55 * w, h], [0, 0.58 * h]])  # turned about 70 degrees
    warp = cv2.getPerspectiveTransform(src, dst)
    tilted = cv2.warpPerspective(flat, warp, (int(0.55 * w), h), borderValue=(245, 245, 245))
    frame_img = synth.background(800, 450, 5)
    frame_img[100:100 + tilted.shape[0], 200:200 + tilted.shape[1]] = tilted
    frame = Frame(FrameRef(0, 0.0, 800, 450), frame_img)
    truth = BBox(200, 100, tilted.shape[1], tilted.shape[0])

    one = tmp_path / "one"
    (one / "Norvik").mkdir(parents=True)
    Image.fromarray(flat).save(one / "Norvik" / "front.png")
    two = tmp_path / "two"
    shutil.copytree(one, two)
    side = cv2.warpPerspective(flat, warp, (int(0.55 * w), h), borderValue=(245, 245, 245))
    Image.fromarray(cv2.resize(side, None, fx=1.3, fy=1.3)).save(two / "Norvik" / "side.png")

    def found(folder):
        proposer = KeypointProposer()
        proposer.prepare(load_dictionary(folder))
        return any(c.brand == "Norvik" and c.bbox.iou(truth) >= 0.5 for c in proposer.propose(frame))

    assert not found(one)
    assert found(two)


@pytest.mark.parametrize("text", ["www.redbullusa.com", "puma.com", "APC1424@YAHOO.COM", "https://intel.example",
                                  "Yahoo Mail, which remains the most popular webmail app"])
def test_addresses_and_sentences_that_name_a_brand_are_not_its_mark(text):
    names = ["Yahoo", "Puma", "RedBull", "Intel"]
    assert is_mention(text, names)


@pytest.mark.parametrize("text", ["Coca-Cola", "intel inside", "FedEx Express", "YAHOO!"])
def test_a_name_with_a_short_tagline_is_a_mark(text):
    assert not is_mention(text, ["Coca-Cola", "Intel", "FedEx", "Yahoo"])


def _norvik_frame(width: int, at=(400, 300)) -> tuple[Frame, BBox]:
    import cv2

    mark = synth.make_logo("Norvik", *synth.DEMO_BRANDS["Norvik"])
    flat = np.asarray(Image.alpha_composite(Image.new("RGBA", mark.size, (245, 245, 245, 255)), mark).convert("RGB"))
    f = width / flat.shape[1]
    small = cv2.resize(flat, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    image = synth.background(1280, 720, 5).copy()
    x, y = at
    image[y:y + small.shape[0], x:x + small.shape[1]] = small
    return Frame(FrameRef(0, 0.0, 1280, 720), image), BBox(x, y, small.shape[1], small.shape[0])


def test_matching_near_the_written_name_finds_the_whole_mark(logos_dir):
    frame, truth = _norvik_frame(100)
    dictionary = load_dictionary(logos_dir)
    keypoints, ocr = KeypointProposer(synthesize=True), OcrTextProposer()
    keypoints.prepare(dictionary)
    ocr.prepare(dictionary)
    feats = keypoints.frame_features(frame)
    [hit] = ocr.read_names(frame)
    assert hit.brand == "Norvik" and hit.box.area < 0.6 * truth.area  # the word alone is not the logo
    local = keypoints.match_near(frame, feats, "Norvik", hit.box)
    assert local is not None and local.bbox.iou(truth) >= 0.7
    assert keypoints.match_near(frame, feats, "Norvik", BBox(1000, 600, 80, 20)) is None  # nothing there
    assert keypoints.match_near(frame, feats, "Aquila", hit.box) is None  # another brand's name


def test_offline_boxes_cover_the_mark_not_just_its_name(logos_dir):
    frame, truth = _norvik_frame(100)
    proposer = OfflineProposer()
    proposer.prepare(load_dictionary(logos_dir))
    found = [c for c in proposer.propose(frame) if c.brand == "Norvik" and "ocr" in c.method]
    assert found and found[0].method.startswith("keypoints+ocr") and found[0].bbox.iou(truth) >= 0.7


def _word(text: str, size: int = 60, color=(200, 20, 20)) -> np.ndarray:
    img = Image.new("RGB", (40 + size * len(text) * 2 // 3, size + 40), (250, 250, 250))
    ImageDraw.Draw(img).text((20, 15), text, font=ImageFont.load_default(size=size), fill=color)
    return np.asarray(img)


def test_a_reference_cropped_tight_around_its_name_is_still_read(monkeypatch):
    """A reference cropped tight around its name is the name: read it, and its margins are nil.

    A text detector can miss a word that touches the image border (PP-OCRv4 did; FedEx, Google and
    Coca-Cola references needed it), so the reference is read with a border too: here the reader is made to
    miss the bare crop, as such a detector does, and the bordered view still finds the name.
    """
    from logotag_gui.core.vision import text_reading
    from logotag_gui.core.vision.text_reading import TextReader

    loose = _word("Kestrel")
    ys, xs = np.where(loose.min(axis=2) < 200)
    tight = loose[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    margins = OcrTextProposer().name_margins(tight, ["Kestrel"])
    assert margins is not None and max(margins) < 0.1  # the name is the whole mark

    bare = tight.copy()
    bare[0, 0] = (bare[0, 0].astype(int) + 1) % 256  # another image: read afresh, not from the cache
    f = max(1.0, 400 / max(bare.shape[:2]))  # name_in_reference reads small references larger
    bare_shape = (int(bare.shape[0] * f), int(bare.shape[1] * f))
    real_read = TextReader.read.__func__

    def misses_the_bare_crop(cls, image):
        return [] if image.shape[:2] == bare_shape else real_read(cls, image)

    monkeypatch.setattr(TextReader, "read", classmethod(misses_the_bare_crop))
    box = text_reading.name_in_reference(bare, ["Kestrel"])
    assert box is not None and box.iou(BBox(0, 0, bare.shape[1], bare.shape[0])) >= 0.7


def test_a_symbol_brands_written_name_is_only_a_hint(tmp_path):
    """A reference with no name in it (a bare symbol) defines the mark: the name alone is not proposed."""
    import cv2

    logos = tmp_path / "logos"
    logos.mkdir()
    symbol = np.full((240, 240, 3), 250, np.uint8)
    cv2.circle(symbol, (120, 120), 100, (200, 20, 20), -1)
    cv2.circle(symbol, (150, 95), 35, (250, 250, 250), -1)
    Image.fromarray(symbol).save(logos / "Kestrel.png")
    Image.fromarray(_word("Osprey", color=(20, 60, 200))).save(logos / "Osprey.png")
    dictionary = load_dictionary(logos)
    # No disc in sight: a disc beside the name would rightly be taken for the symbol (test_shape_matcher).
    frame = _frame_with_text("Kestrel", plain=True)
    ocr = OcrTextProposer()
    ocr.prepare(dictionary)
    assert not ocr.names_its_mark("Kestrel") and ocr.names_its_mark("Osprey")
    assert [c.brand for c in ocr.propose(frame)] == ["Kestrel"]  # the OCR backend alone reports the name
    offline = OfflineProposer()
    offline.prepare(dictionary)
    assert [c for c in offline.propose(frame) if c.brand == "Kestrel"] == []
    assert [c.brand for c in offline.propose(_frame_with_text("Osprey"))] == ["Osprey"]


def test_shapes_confirm_boxes_of_their_brand_and_yield_to_other_brands():
    ref = FrameRef(0, 0, 200, 200)
    found = [Candidate(ref, BBox(0, 0, 50, 50), "a", 0.5, "keypoints"), Candidate(ref, BBox(100, 100, 40, 40), "b", 0.6, "ocr")]
    shapes = [Candidate(ref, BBox(2, 2, 48, 48), "a", 0.7, "shape"), Candidate(ref, BBox(100, 100, 40, 40), "c", 0.9, "shape"),
              Candidate(ref, BBox(150, 0, 30, 30), "d", 0.8, "shape")]
    fused = fuse(found, shapes, yield_to_other_brands=True)
    assert [(c.brand, c.method) for c in fused] == [("a", "keypoints+shape"), ("b", "ocr"), ("d", "shape")]
    assert fused[0].score == round(1 - 0.5 * 0.3, 4)
    # a box that a shape already made is not confirmed again by another shape peak
    again = fuse([fused[0].with_(method="shape+ocr")], [shapes[0]], yield_to_other_brands=True)
    assert [(c.method, c.score) for c in again] == [("shape+ocr", fused[0].score)]
