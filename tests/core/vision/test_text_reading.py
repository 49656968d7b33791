"""The text reader: the engine that `pip install logotag` brings reads offline, and its boxes hug the words.

The proposer grows a word's box into the whole mark by the margins its reference shows, and the keypoint
search looks around the written name: both need the box of the name itself, not the detector's padded
line (PP-OCRv6 pads a line by about half its height and, on a small logo, takes in the emblem beside it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.base.records import BBox
from logotag_gui.core.vision import text_reading
from logotag_gui.core.vision.text_reading import (
    MODEL_FILES,
    TextLine,
    TextReader,
    letters_box,
    name_box,
    name_similarity,
)
from resources import synth

REPO_ROOT = Path(__file__).resolve().parents[3]

# This module is about reading itself: every image is read by the engine (tests/conftest.py reads each once).
pytestmark = pytest.mark.fresh_ocr


def _ink_box(mask: np.ndarray) -> BBox:
    ys, xs = np.nonzero(mask)
    return BBox(float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()), float(ys.max() + 1 - ys.min()))


def _written(text: str, size: int, *, ground=None, ink=(0, 0, 0), at=None) -> tuple[np.ndarray, BBox]:
    """A word drawn on white (or on `ground`), and the box of its ink."""
    w, h = 40 + int(size * len(text) * 0.75), 2 * size
    image = Image.new("RGB", (w, h), "white") if ground is None else Image.fromarray(ground.copy())
    at = at or (20, image.height // 2)
    font = ImageFont.load_default(size=size)
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(image).text(at, text, font=font, fill=ink, anchor="lm")
    ImageDraw.Draw(mask).text(at, text, font=font, fill=255, anchor="lm")
    return np.asarray(image), _ink_box(np.asarray(mask) > 127)


def _covers(box: BBox, ink: BBox, slack: float = 2.0) -> bool:
    return (box.x <= ink.x + slack and box.y <= ink.y + slack and box.x2 >= ink.x2 - slack
            and box.y2 >= ink.y2 - slack)


@pytest.mark.parametrize("text,size,on_texture", [
    ("Norvik", 20, False), ("Kestrel", 48, False), ("AQUILA", 40, False), ("Osprey", 60, False), ("HP", 40, False),
    ("AQUILA", 40, True),
])
def test_a_words_box_hugs_its_letters(text, size, on_texture):
    if on_texture:  # white letters on the synthetic scenery the demo clip uses
        image, ink = _written(text, size, ground=synth.background(800, 450, 3), ink=(255, 255, 255), at=(300, 220))
    else:
        image, ink = _written(text, size)
    [line] = [line for line in TextReader.read(image) if name_similarity(line.text, text) == 1.0]
    assert _covers(line.box, ink)  # every letter inside
    # ... with a margin of a fraction of the letters' height, not the detector's half a line (about 2.5x the area)
    assert line.box.area <= 1.8 * ink.area
    assert line.box.h <= 1.6 * ink.h


def test_a_small_logos_name_is_boxed_without_its_emblem():
    """At 100 px wide, the detector's line takes in the ring beside "Norvik"; the box of the name does not."""
    mark = synth.make_logo("Norvik", *synth.DEMO_BRANDS["Norvik"])  # ring (x 8..152 of 160) then the word
    word_mask = np.asarray(mark)[:, :, 3] > 127
    word_mask[:, :160] = False
    flat = np.asarray(Image.alpha_composite(Image.new("RGBA", mark.size, (245, 245, 245, 255)), mark).convert("RGB"))
    f = 100 / flat.shape[1]
    small = cv2.resize(flat, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    frame = synth.background(1280, 720, 5).copy()
    x, y = 400, 300
    frame[y:y + small.shape[0], x:x + small.shape[1]] = small
    w = _ink_box(word_mask)
    ink = BBox(x + w.x * f, y + w.y * f, w.w * f, w.h * f)
    [line] = [line for line in TextReader.read(frame) if name_similarity(line.text, "Norvik") == 1.0]
    assert _covers(line.box, ink)
    assert line.box.x >= x + 152 * f - 2  # right of the ring
    assert line.box.iou(ink) >= 0.5


def _crop(ground: int, ink: int, *, stroke: int = 10) -> np.ndarray:
    """An upright word crop: ground bands beyond a plate at top and bottom, a tall emblem cut at the left,
    four letters of 20 px (one with a 28 px ascender) and a speck."""
    crop = np.full((60, 120), ground, np.uint8)
    crop[:8] = crop[-6:] = ink  # ground beyond the plate, as dark (or light) as the letters
    crop[6:56, :6] = ink  # the edge of an emblem the word's box cuts
    for i, x in enumerate(range(20, 100, 20)):
        crop[22 - (8 if i == 1 else 0):42, x:x + stroke] = ink
    crop[50, 60] = ink
    return crop


@pytest.mark.parametrize("ground,ink", [(240, 20), (20, 240)])  # dark on light, light on dark
@pytest.mark.parametrize("stroke", [10, 16])  # bold letters outweigh their ground
def test_the_letters_of_a_crop_are_found_apart_from_ground_emblem_and_specks(ground, ink, stroke):
    assert letters_box(_crop(ground, ink, stroke=stroke), 4) == (20, 14, 80 + stroke, 42)


def test_a_crop_without_contrast_or_without_the_words_letters_has_none():
    assert letters_box(np.full((40, 100), 128, np.uint8), 4) is None
    stripes = np.full((40, 100), 240, np.uint8)
    stripes[10:30] = 20  # one bar: not the nine letters the recogniser read
    assert letters_box(stripes, 9) is None


def test_the_engine_reads_offline_with_the_models_its_wheel_ships(monkeypatch):
    import rapidocr

    models = Path(rapidocr.__file__).parent / "models"
    assert all((models / name).is_file() for name in MODEL_FILES.values())

    def no_network(*args, **kwargs):
        raise AssertionError("the OCR engine tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr("rapidocr.utils.download_file.DownloadFile.run", no_network)
    engine = text_reading.load_engine()  # afresh, under the guard
    image, _ = _written("Norvik", 48)
    read = engine(np.ascontiguousarray(image[:, :, ::-1]))  # rapidocr takes BGR
    assert any(name_similarity(str(text), "Norvik") == 1.0 for text in read.txts or ())


def test_the_engine_names_its_missing_models(monkeypatch, tmp_path):
    import rapidocr

    monkeypatch.setattr(rapidocr, "__file__", str(tmp_path / "rapidocr" / "__init__.py"))
    with pytest.raises(RuntimeError, match="never downloads"):
        text_reading.load_engine()


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (8, 2), (16, 4)])
def test_the_engine_shares_the_cores_with_the_frames_proposed_at_once(monkeypatch, cores, threads):
    """A frame per core is read at once (at most four): each engine call gets the cores of one worker."""
    import rapidocr

    seen = {}

    class Engine:
        def __init__(self, params):
            seen.update(params)

    monkeypatch.setattr(rapidocr, "RapidOCR", Engine)
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    text_reading.load_engine()
    assert seen["EngineConfig.onnxruntime.intra_op_num_threads"] == threads
    assert all(Path(seen[f"{task}.model_path"]).is_file() for task in MODEL_FILES)


def _requirements(dist: str, seen: set[str]) -> set[str]:
    """The installed distributions that `dist` needs (its base requirements, not its extras), transitively."""
    from packaging.requirements import Requirement

    for line in metadata.requires(dist) or []:
        req = Requirement(line)
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        with contextlib.suppress(metadata.PackageNotFoundError):  # an optional one that is not installed
            _requirements(name, seen)
    return seen


def test_a_plain_pip_install_brings_the_ocr_engine_and_only_the_headless_opencv():
    """`pip install logotag` resolves the OCR engine without opencv-python, whose Qt plugins clash with PySide6."""
    needed = _requirements("logotag", set())
    assert {"rapidocr", "onnxruntime", "opencv-python-headless"} <= needed
    assert "opencv-python" not in needed and "rapidocr-onnxruntime" not in needed
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("opencv-python")


def test_the_name_box_is_the_run_of_words_that_names_the_brand():
    stylised, plain, tagline = BBox(0, 10, 60, 20), BBox(70, 0, 80, 40), BBox(160, 10, 90, 20)
    line = TextLine("Bata Bata Shoes", 0.9, BBox(0, 0, 250, 40), (("Bata", stylised), ("Bata", plain), ("Shoes", tagline)))
    assert name_box(line, ["Bata"], 0.8) == plain  # one word rather than "Bata Bata"; the taller of the two
    assert name_box(line, ["Shoes"], 0.8) == tagline
    coca = TextLine("Coca Cola", 0.9, BBox(0, 0, 100, 20), (("Coca", BBox(0, 0, 45, 20)), ("Cola", BBox(55, 0, 45, 20))))
    assert name_box(coca, ["Coca-Cola"], 0.8) == BBox(0, 0, 100, 20)  # only the whole line names it
    assert name_box(coca, ["Pepsi"], 0.8) == coca.box  # nothing names it: the line
    unknown = TextLine("Bata Bata", 0.9, BBox(5, 5, 90, 20))  # the recogniser placed no words
    assert name_box(unknown, ["Bata"], 0.8) == unknown.box


def test_a_name_read_in_a_line_with_other_words_is_boxed_alone():
    """rapidocr reads "Norvik Sports" at 24 px as one line; the name's box is the word "Norvik", not the line."""
    _, ink = _written("Norvik", 24)
    scene, _ = _written("Norvik Sports", 24)
    lines = [line for line in TextReader.read(scene) if "norvik" in line.text.lower()]
    assert lines and [word for word, _ in lines[0].words] == ["Norvik", "Sports"]
    box = name_box(lines[0], ["Norvik"], 0.8)
    assert _covers(box, ink, slack=3) and box.x2 < ink.x2 + ink.h < lines[0].box.x2 - 50  # without "Sports"


_READ_A_REFERENCE = """
import json, sys
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from logotag_gui.core.vision import text_reading
if len(sys.argv) > 1:
    text_reading.engine_revision = lambda: sys.argv[1]  # as another version of the engine would be
reads = []
real_read = text_reading.TextReader.read.__func__
text_reading.TextReader.read = classmethod(lambda cls, img: reads.append(1) or real_read(cls, img))
pil = Image.fromarray(np.full((120, 420, 3), 255, dtype=np.uint8))
ImageDraw.Draw(pil).text((20, 60), "Kestrel", font=ImageFont.load_default(size=56), fill="black", anchor="lm")
box = text_reading.name_in_reference(np.asarray(pil), ["Kestrel"])
print(json.dumps({"box": None if box is None else box.as_list(), "reads": len(reads)}))
"""


def test_a_references_name_is_read_once_per_machine_not_at_every_start(tmp_path):
    """Each start is a new process: the first reads the reference and keeps what it read on disk, the next
    reads nothing, and another engine reads again."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def start(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-c", _READ_A_REFERENCE, *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = start()
    assert first["box"] is not None and first["reads"] > 0
    assert (tmp_path / "cache" / "logotag" / text_reading.REFERENCE_NAMES_FILE).exists()
    assert start() == {"box": first["box"], "reads": 0}  # from the disk
    again = start("another engine")
    assert again["box"] is not None and again["reads"] > 0
