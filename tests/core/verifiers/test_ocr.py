from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.base.records import BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.ocr import OcrVerifier
from logotag_gui.core.vision.text_reading import TextReader, name_similarity


def _text_image(text: str) -> np.ndarray:
    img = Image.new("RGB", (360, 90), "white")
    ImageDraw.Draw(img).text((20, 45), text, font=ImageFont.load_default(size=48), fill="black", anchor="lm")
    return np.asarray(img)


@pytest.mark.parametrize("read,name,expected", [
    ("NORVIK", "Norvik", 1.0), ("Norvik Sports", "norvik", 1.0), ("Norv1k", "Norvik", 0.83), ("Aquila", "Norvik", 0.0),
    ("", "Norvik", 0.0), ("N", "Norvik", 0.0), ("Shipping", "HP", 0.0), ("HP Inc.", "HP", 1.0), ("mini", "Mini", 1.0),
    ("Fored", "Ford", 0.75), ("CITROEN", "Citroën", 1.0), ("shampoo", "HP", 0.0),
])
def test_name_similarity(read, name, expected):
    assert name_similarity(read, name) == pytest.approx(expected, abs=0.01)


def test_reads_text_with_boxes():
    lines = TextReader.read(_text_image("Norvik"))
    assert any(name_similarity(line.text, "Norvik") == 1.0 for line in lines)
    assert all(line.box.w > 0 for line in lines)


def test_ocr_verdicts_use_names_and_aliases():
    ref = FrameRef(0, 0.0, 360, 90)
    verifier = OcrVerifier(names={"coca-cola": ["Coke"], "Norvik": [], "Aquila": []})
    yes, alias, no, blank = verifier.verify([
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "Norvik", 0.5, "keypoints"), _text_image("Norvik")),
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "coca-cola", 0.5, "keypoints"), _text_image("Coke")),
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "Aquila", 0.5, "keypoints"), _text_image("Norvik")),
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "Aquila", 0.5, "keypoints"), _text_image("")),
    ])
    assert yes.state is VerdictState.YES and "Norvik" in yes.rationale
    assert alias.state is VerdictState.YES and "Coke" in alias.rationale
    assert no.state is VerdictState.NO and "Norvik" in no.raw and "another brand" in no.rationale
    # Reading nothing is not evidence of absence (tests/core/test_ocr_verdicts.py has the whole rule).
    assert blank.state is VerdictState.UNSURE and blank.rationale.startswith("no text read")
