from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logotag_gui.core.base.records import VerdictState
from logotag_gui.core.verifiers.json_verdict import balanced_objects, parse_verdict, verdict_from_text


@pytest.mark.parametrize("text,verdict,conf", [
    ('{"verdict": "yes", "confidence": 0.92, "visual_cues": "red ring"}', "yes", 0.92),
    ('```json\n{"verdict": "no", "confidence": 0.3, "visual_cues": "none"}\n```', "no", 0.3),
    ('Sure! Here you go: {\u201cverdict\u201d: \u201cyes\u201d, \u201cconfidence\u201d: 0.8, \u201cvisual_cues\u201d: \u201cit\u2019s red\u201d} hope it helps',
     "yes", 0.8),
    ("{'verdict': 'YES', 'confidence': '85%', 'visual_cues': 'letters'}", "yes", 0.85),
    ('{"Verdict": "no", "confidence": 1, "visual_cues": "a {curly} thing"}', "no", 1.0),
    ('{"note": "first object is not it"} then {"verdict": "yes", "confidence": 0.7, "visual_cues": ""}', "yes", 0.7),
    ('{"verdict": "yes", "confidence": 0.6, "visual_cues": "don\'t know",}', "yes", 0.6),
])
def test_extracts_the_verdict_from_messy_output(text, verdict, conf):
    parsed = parse_verdict(text)
    assert parsed is not None and parsed.verdict == verdict and parsed.confidence == pytest.approx(conf)


@pytest.mark.parametrize("text", [
    "", "yes", "The logo is clearly there.", '{"verdict": "maybe", "confidence": 0.5}',
    '{"verdict": "yes"}', '{"verdict": "yes", "confidence": 7.5e9}', '{"verdict": "yes", "confidence": "high"}',
    '{"verdict": "yes", "confidence": 0.9', '{"verdict": "yes", "confidence": NaN}', "}}}{{{",
])
def test_hostile_outputs_are_unparsable_and_keep_the_raw_text(text):
    v = verdict_from_text(text, threshold=0.5, method="vlm")
    assert v.state is VerdictState.UNPARSABLE and v.raw == text


def test_yes_below_threshold_is_unsure_not_yes():
    v = verdict_from_text('{"verdict": "yes", "confidence": 0.4, "visual_cues": "blurry"}', threshold=0.5, method="vlm")
    assert v.state is VerdictState.UNSURE and v.confidence == 0.4
    assert verdict_from_text('{"verdict":"yes","confidence":0.5,"visual_cues":""}', threshold=0.5,
                             method="vlm").state is VerdictState.YES


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text):
    verdict_from_text(text, threshold=0.5, method="vlm")


@settings(max_examples=200, deadline=None)
@given(prefix=st.text().filter(lambda s: "{" not in s), suffix=st.text(),
       verdict=st.sampled_from(["yes", "no"]), conf=st.floats(0, 1), cues=st.text())
def test_valid_object_inside_any_prose_is_found(prefix, suffix, verdict, conf, cues):
    obj = json.dumps({"verdict": verdict, "confidence": conf, "visual_cues": cues})
    parsed = parse_verdict(prefix + obj + suffix)
    assert parsed is not None and parsed.verdict == verdict and parsed.confidence == pytest.approx(conf)


def test_balanced_objects_respect_strings():
    assert balanced_objects('a {"x": "}"} b {"y": 1}') == ['{"x": "}"}', '{"y": 1}']


def test_a_hesitant_no_stays_no_but_is_not_a_final_track_verdict():
    """The verdict keeps what the model said; a track carries it to its other crops only when it is confident."""
    from logotag_gui.core.pipeline.verification import combine_track_verdicts

    hesitant = verdict_from_text('{"verdict": "no", "confidence": 0.3, "visual_cues": "blurry"}', threshold=0.5,
                                 method="vlm")
    assert hesitant.state is VerdictState.NO and hesitant.confidence == 0.3
    assert combine_track_verdicts([hesitant]).state is VerdictState.UNSURE
    firm = verdict_from_text('{"verdict": "no", "confidence": 0.8, "visual_cues": "other brand"}', threshold=0.5,
                             method="vlm")
    assert combine_track_verdicts([hesitant, firm]) is firm
