"""The OCR verifier says what it knows: "no" only on positive evidence, "unsure" otherwise (issue 13).

Most tests script what OCR reads (TextReader.read) so that the rule itself is tested exactly; a few
read rendered text with the real engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from logotag_gui.core.base.records import BBox, Candidate, Frame, FrameRef, Verdict, VerdictState
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.pipeline.verification import Verification, combine_track_verdicts
from logotag_gui.core.verifiers import VerifyItem, prepare_verifier
from logotag_gui.core.verifiers.ocr import OcrVerifier
from logotag_gui.core.vision.text_reading import (
    TextLine,
    TextReader,
    allowed_edits,
    edit_distance,
    match_name,
    substring_distance,
)

YES, NO, UNSURE = VerdictState.YES, VerdictState.NO, VerdictState.UNSURE


# --- the matching rule -------------------------------------------------------------------------

@pytest.mark.parametrize("length,edits", [(1, 0), (2, 0), (3, 0), (4, 1), (7, 1), (8, 2), (20, 2)])
def test_allowed_edits_grow_with_the_name(length, edits):
    assert allowed_edits(length) == edits


@pytest.mark.parametrize("read,name,edits,names_it,near", [
    ("FORD", "Ford", 0, True, False),
    ("Fored", "Ford", 1, False, True),  # one edit from a 4-letter name: a near miss, never a "no"
    ("Fordd Motor Co", "Ford", 1, False, True),
    ("CITROEN", "Citroën", 0, True, False),  # accents and case fold away
    ("citroën", "CITROEN", 0, True, False),
    ("ŠKODA", "Skoda", 0, True, False),
    ("Nestle", "Nestlé", 0, True, False),
    ("Norv1k", "Norvik", 1, True, False),  # one slip in six letters still names it
    ("Mailtrop", "Mailtrap", 1, True, False),
    ("Open Tofu Foundation", "OpenTofu", 0, True, False),  # long names match anywhere, spaces ignored
    ("shampoo", "HP", 5, False, False),  # short names: whole words only, and no edits under 4 letters
    ("Shipping", "HP", 6, False, False),
    ("H P", "HP", 0, True, False),  # a few neighbouring words may be joined
    ("HP Inc.", "HP", 0, True, False),
    ("BMVV", "BMW", 2, False, False),
    ("profiles", "Files", 3, False, False),  # 5 letters is still short: not inside another word
    ("Aquila", "Norvik", 5, False, False),
])
def test_match_name(read, name, edits, names_it, near):
    m = match_name(read, name)
    assert m.edits == edits
    assert (m.similarity >= 0.8) is names_it
    assert (m.within and m.similarity < 0.8) is near


@settings(max_examples=200, deadline=None)
@given(st.text("abcdxyz", max_size=8), st.text("abcdxyz", max_size=8), st.text("abcdxyz", max_size=4))
def test_edit_distance_is_a_distance(a, b, c):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a) and (d == 0) == (a == b)
    assert abs(len(a) - len(b)) <= d <= max(len(a), len(b))
    assert edit_distance(a, c) <= d + edit_distance(b, c)
    assert substring_distance(a, c + a + b) == 0
    assert substring_distance(a, b) <= d


# --- the verifier, with scripted OCR ------------------------------------------------------------

@pytest.fixture
def reads(monkeypatch):
    """Script what OCR reads in the next crops: reads(("text", score), ...)."""
    script: list[tuple[str, float]] = []

    def fake_read(image):
        return [TextLine(text, score, BBox(0, 0, 10, 10)) for text, score in script]

    monkeypatch.setattr(TextReader, "read", classmethod(lambda cls, image: fake_read(image)))

    def set_script(*lines: tuple[str, float]) -> None:
        script[:] = lines

    return set_script


def _verifier(named: set[str] | None = frozenset({"Ford", "Citroën", "HP", "Norvik"})) -> OcrVerifier:
    return OcrVerifier(names={"Ford": [], "Citroën": [], "HP": [], "Norvik": ["NRVK"], "Swoosh": []},
                       named_marks=None if named is None else set(named))


def _verify(verifier: OcrVerifier, brand: str, side: int = 120) -> Verdict:
    ref = FrameRef(0, 0.0, 640, 360)
    crop = np.full((side, side, 3), 255, np.uint8)
    [v] = verifier.verify([VerifyItem(Candidate(ref, BBox(0, 0, side, side), brand, 0.5, "keypoints"), crop)])
    assert v.method == "ocr" and (v.state in (YES, NO) or (v.confidence or 0.0) < verifier.threshold)
    return v


def test_own_name_read_clearly_is_yes(reads):
    reads(("FORD", 0.97))
    v = _verify(_verifier(), "Ford")
    assert v.state is YES and v.confidence == pytest.approx(0.97) and "matches 'Ford'" in v.rationale
    reads(("CITROEN", 0.95))
    assert _verify(_verifier(), "Citroën").state is YES
    reads(("nrvk", 0.9))
    assert _verify(_verifier(), "Norvik").state is YES  # an alias


def test_own_name_read_unclearly_is_unsure(reads):
    reads(("Ford", 0.4))
    v = _verify(_verifier(), "Ford")
    assert v.state is UNSURE and v.confidence == pytest.approx(0.4) and "unclearly" in v.rationale


def test_a_near_miss_is_unsure_with_a_low_confidence(reads):
    """The issue's clear Ford badge: "no, confidence 1.00, read 'Fored', no brand name" before."""
    reads(("Fored", 0.99))
    v = _verify(_verifier(), "Ford")
    assert v.state is UNSURE and v.confidence < 0.5
    assert "one edit from 'Ford'" in v.rationale and "near miss" in v.rationale and v.raw == "Fored"


def test_another_brands_name_read_clearly_is_no(reads):
    reads(("Norvik", 0.95))
    v = _verify(_verifier(), "Ford")
    assert v.state is NO and v.confidence == pytest.approx(0.95) and "another brand, 'Norvik'" in v.rationale
    reads(("HP", 0.9))  # even for a symbol brand
    assert _verify(_verifier(), "Swoosh").state is NO
    reads(("Norvik", 0.6))  # not clearly
    assert _verify(_verifier(), "Ford").state is UNSURE


@pytest.mark.parametrize("side,brand,why", [
    (120, "Ford", "the mark may be a symbol, or too small or blurred"),
    (16, "Ford", "too small to read"),
    (120, "Swoosh", "show no readable name (a symbol)"),
])
def test_reading_nothing_is_unsure(reads, side, brand, why):
    reads()
    v = _verify(_verifier(), brand, side=side)
    assert v.state is UNSURE and v.confidence == 0.0 and why in v.rationale


def test_clear_other_text_is_no_only_where_the_mark_shows_its_name(reads):
    reads(("PREMIER LEAGUE", 0.96))
    v = _verify(_verifier(), "Ford")
    assert v.state is NO and 0.5 <= v.confidence <= 0.9 and "PREMIER LEAGUE" in v.rationale
    assert _verify(_verifier(), "Swoosh").state is UNSURE  # a symbol: the text says nothing about it
    not_prepared = _verify(_verifier(named=None), "Ford")
    assert not_prepared.state is UNSURE and "not known" in not_prepared.rationale
    reads(("PREMIER LEAGUE", 0.55))  # not clearly read
    assert _verify(_verifier(), "Ford").state is UNSURE
    reads(("10", 0.99))  # a number is not text that could have been the name
    few = _verify(_verifier(), "Ford")
    assert few.state is UNSURE and "too few letters" in few.rationale


def test_a_name_split_over_lines_or_partly_read_is_not_a_no(reads):
    """Seen on the generated benchmark: two correct boxes were "no" before these rules."""
    reads(("AK", 0.9), ("amai", 0.95))
    split = OcrVerifier(names={"Akamai": []}, named_marks={"Akamai"})
    assert _verify(split, "Akamai").state is YES
    reads(("n", 0.9), ("netct", 0.87))
    part = _verify(OcrVerifier(names={"netcup": []}, named_marks={"netcup"}), "netcup")
    assert part.state is UNSURE and "a part of 'netcup'" in part.rationale
    reads(("Rich", 0.95))  # nothing like it: a clear "no"
    assert _verify(OcrVerifier(names={"Pelican": []}, named_marks={"Pelican"}), "Pelican").state is NO


def test_hp_stays_out_of_shampoo(reads):
    reads(("shampoo", 0.95))
    v = _verify(_verifier(), "HP")
    assert v.state is NO and "shampoo" in v.rationale  # HP's mark shows its name; this text is not it
    reads(("H P", 0.95))
    assert _verify(_verifier(), "HP").state is YES


# --- the verifier, with real OCR ----------------------------------------------------------------

def _text_image(text: str, size: tuple[int, int] = (360, 90)) -> np.ndarray:
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((20, size[1] // 2), text, font=ImageFont.load_default(size=48), fill="black", anchor="lm")
    return np.asarray(img)


def _symbol_image() -> np.ndarray:
    img = Image.new("RGB", (200, 200), "white")
    draw = ImageDraw.Draw(img)
    draw.ellipse((30, 30, 170, 170), fill=(200, 30, 30))
    draw.polygon([(100, 50), (150, 150), (50, 150)], fill="white")
    return np.asarray(img)


def test_prepare_learns_names_and_which_marks_show_one(tmp_path):
    Image.fromarray(_text_image("Norvik")).save(tmp_path / "Norvik.png")
    Image.fromarray(_symbol_image()).save(tmp_path / "Kestrel.png")
    (tmp_path / "brands.json").write_text('{"Norvik": ["NRVK"]}')
    verifier = OcrVerifier()
    prepare_verifier(verifier, load_dictionary(tmp_path))
    assert verifier.names == {"Kestrel": [], "Norvik": ["NRVK"]}
    assert verifier.named_marks == {"Norvik"}


def test_real_ocr_near_miss_and_accents():
    ref = FrameRef(0, 0.0, 360, 90)
    verifier = OcrVerifier(names={"Ford": [], "Citroën": []}, named_marks={"Ford", "Citroën"})
    fored, citroen = verifier.verify([
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "Ford", 0.5, "keypoints"), _text_image("Fored")),
        VerifyItem(Candidate(ref, BBox(0, 0, 360, 90), "Citroën", 0.5, "keypoints"), _text_image("CITROEN")),
    ])
    assert fored.state is UNSURE and "near miss" in fored.rationale
    assert citroen.state is YES


# --- track verdicts -----------------------------------------------------------------------------

def test_combine_track_verdicts_counts_only_confident_verdicts():
    yes, no = Verdict(YES, 0.9, "yes"), Verdict(NO, 0.8, "no")
    unsure, hesitant = Verdict(UNSURE, 0.2, "near miss"), Verdict(NO, 0.3, "maybe not")
    assert combine_track_verdicts([unsure, unsure, yes]) is yes  # unsure crops never outvote a confident one
    assert combine_track_verdicts([unsure, no]) is no
    assert combine_track_verdicts([yes, no, no]).state is NO
    assert combine_track_verdicts([unsure, Verdict(UNSURE, 0.1)]) is unsure
    low = combine_track_verdicts([hesitant])
    assert low.state is UNSURE and "hesitant no" in low.rationale  # a low-confidence "no" is not carried as final
    split = combine_track_verdicts([yes, no])
    assert split.state is UNSURE and "disagree" in split.rationale
    assert combine_track_verdicts([]).state is VerdictState.NOT_RUN


class _Scripted:
    """A verifier answering from a list, one verdict per crop asked, in order (then the last one again)."""

    name, model_id, revision = "scripted", "", None

    def __init__(self, *answers: Verdict) -> None:
        self.answers, self.asked = list(answers), []

    def verify(self, items):
        out = []
        for item in items:
            self.asked.append(item.candidate)
            out.append(self.answers[min(len(self.asked), len(self.answers)) - 1])
        return out


def _track(n: int, start: int = 0, track: int | None = 7) -> tuple[dict[int, Frame], list[Candidate]]:
    frames, cands = {}, []
    for i in range(start, start + n):
        ref = FrameRef(i, i / 10, 64, 64)
        frames[i] = Frame(ref, np.zeros((64, 64, 3), np.uint8))
        cands.append(Candidate(ref, BBox(0, 0, 10, 10), "Ford", 0.5 + i / 1000, "keypoints", track_id=track))
    return frames, cands


def test_an_unsure_track_is_carried_as_unsure_and_verified_again():
    unsure = Verdict(UNSURE, 0.0, "no text read", "", "scripted")
    yes = Verdict(YES, 0.95, "read 'Ford'", "", "scripted")
    verifier = _Scripted(unsure, unsure, unsure, yes)
    stage = Verification(verifier, per_track=True, k=3)
    frames, cands = _track(10)
    first = stage(frames, cands)
    assert len(verifier.asked) == 3
    carried = [c.verdict for c in first if c.verdict.from_track]
    assert len(carried) == 7 and all(v.state is UNSURE for v in carried)  # never a final "no"
    frames, cands = _track(10, start=10)
    second = stage(frames, cands)  # still open: the next batch's best crops are verified too
    assert len(verifier.asked) == 6
    assert all(c.verdict.state is YES for c in second if c.verdict.from_track)
    frames, cands = _track(10, start=20)
    third = stage(frames, cands)  # settled by a confident yes: nothing more to ask
    assert len(verifier.asked) == 6 and all(c.verdict.state is YES and c.verdict.from_track for c in third)


def test_an_unreadable_track_costs_at_most_its_budget():
    verifier = _Scripted(Verdict(UNSURE, 0.0, "no text read: a symbol", "", "scripted"))
    stage = Verification(verifier, per_track=True, k=3)
    out = []
    for b in range(6):
        out += stage(*_track(10, start=10 * b))
    assert len(verifier.asked) == 9  # 3k crops, then the unsure verdict stays, marked as unsure
    assert all(c.verdict.state is UNSURE for c in out)
    assert sum(c.verdict.from_track for c in out) == 51 and "symbol" in out[-1].verdict.rationale


def test_a_confident_no_is_carried_and_a_hesitant_one_is_not():
    stage = Verification(_Scripted(Verdict(NO, 0.9, "read 'Norvik'", "", "scripted")), per_track=True, k=2)
    out = stage(*_track(5))
    assert [c.verdict.state for c in out] == [NO] * 5 and sum(c.verdict.from_track for c in out) == 3
    stage = Verification(_Scripted(Verdict(NO, 0.3, "maybe not", "", "vlm")), per_track=True, k=2)
    out = stage(*_track(5))
    carried = [c.verdict for c in out if c.verdict.from_track]
    assert len(carried) == 3 and all(v.state is UNSURE and "hesitant" in v.rationale for v in carried)


def test_seeded_tracks_resume_where_they_were():
    yes = Verdict(YES, 0.9, "read 'Ford'", "", "scripted")
    unsure = Verdict(UNSURE, 0.0, "no text read", "", "scripted")
    _, done = _track(2)
    _, open_ = _track(2, track=8)
    previous = [done[0].with_(verdict=yes), done[1].with_(verdict=Verdict(YES, 0.9, from_track=True)),
                open_[0].with_(verdict=unsure), open_[1].with_(verdict=unsure)]
    verifier = _Scripted(yes)
    stage = Verification(verifier, per_track=True, k=3)
    stage.seed(previous)
    stage.seed(previous)  # seeding twice (a resumed run, then propagation) counts each crop once
    frames, a = _track(4, start=5)
    _, b = _track(4, start=5, track=8)
    out = stage(frames, a + b)
    assert {c.track_id for c in verifier.asked} == {8} and len(verifier.asked) == 3
    assert all(c.verdict.state is YES for c in out)
    assert stage.crops_verified(8) == 5


def test_candidates_without_a_track_are_verified_one_by_one():
    verifier = _Scripted(Verdict(YES, 0.9, "", "", "scripted"))
    out = Verification(verifier, per_track=True, k=1)(*_track(4, track=None))
    assert len(verifier.asked) == 4 and not any(c.verdict.from_track for c in out)
