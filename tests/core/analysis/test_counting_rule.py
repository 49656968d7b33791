"""Counting rules (issue 30): presets, validation, the truth files' rule, and seconds under a rule."""

from __future__ import annotations

import dataclasses
import json
import math

import cv2
import numpy as np
import pytest

from logotag_gui.core.analysis.evaluate import load_truth
from logotag_gui.core.analysis.exposure import BAND_NAMES, ExposureRules, clip_exposure, visible_share
from logotag_gui.core.analysis.sharpness import box_sharpness
from logotag_gui.core.base.counting import (
    DEFAULT,
    MAKERS_RULE,
    PRESETS,
    CountingRule,
    RuleError,
    add_truth_rule,
    custom,
    from_dict,
    preset,
    read_truth_rule,
    rule_from_truth,
    truth_rule,
)
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, Review, ReviewState

W, H = 1000, 600  # frame area 600,000


def det(frame, brand="a", x=0, y=0, w=100, h=60, cid=None):
    """An accepted detection on sampled frame `frame` (2 fps: t = frame / 2)."""
    return Candidate(FrameRef(frame, frame / 2, W, H), BBox(x, y, w, h), brand, 0.9, "keypoints",
                     review=Review(ReviewState.ACCEPTED), id=cid)


# ---- the rule as data -------------------------------------------------------------------------------------
def test_presets_are_named_after_their_anchors_and_any_is_the_default():
    assert DEFAULT is PRESETS["any"] and CountingRule() == DEFAULT
    assert (DEFAULT.min_visible, DEFAULT.min_sharpness, DEFAULT.min_size, DEFAULT.min_exposure_s,
            DEFAULT.join_gap_s, DEFAULT.one_per_frame) == (0, 0, 0, 0, 1.0, True)  # what was counted before rules
    strict, mrc = preset("strict"), preset("mrc")
    assert strict.min_visible == 0.9 and strict.min_sharpness > 0 and strict.min_size > 0 and strict.needs_pixels
    assert (mrc.min_visible, mrc.min_exposure_s, mrc.join_gap_s) == (0.5, 2.0, 0.0) and not mrc.needs_pixels
    assert "a mark counts where at least 50% of it is in view;" in mrc.describe() and "shorter than 2 s" in mrc.describe()
    with pytest.raises(RuleError, match=r"No counting rule preset 'nielsen'.*any, strict, mrc"):
        preset("nielsen")


def test_custom_values_and_the_stored_form():
    rule = custom("mrc", min_exposure_s=5.0)
    assert rule.name == "custom" and rule.min_visible == 0.5 and rule.min_exposure_s == 5.0
    assert custom("mrc", min_exposure_s=2.0).name == "mrc"  # nothing changed: still the preset
    assert from_dict(rule.as_dict()) == rule
    assert from_dict({"name": "client-x", "min_size": 0.01}) == CountingRule("client-x", min_size=0.01)
    with pytest.raises(RuleError, match=r"Unknown counting rule field.*min_seconds"):
        custom("any", min_seconds=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT.min_size = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("min_visible", 1.5, r"min_visible \(the share of the mark in view\) is 1.5, outside 0-1"),
    ("min_visible", -0.1, r"min_visible .* is -0.1, outside 0-1"),
    ("min_sharpness", 2, r"min_sharpness \(the normalised sharpness inside the box\) is 2, outside 0-1"),
    ("min_size", math.nan, r"min_size .* is nan, outside 0-1"),
    ("min_exposure_s", -1.0, r"min_exposure_s \(the shortest exposure that counts, in seconds\) is -1.0, outside"),
    ("join_gap_s", math.inf, r"join_gap_s .* is inf, outside 0-86400"),
    ("min_exposure_s", "2", r"min_exposure_s .* is '2', not a number"),
    ("min_size", True, r"min_size .* is True, not a number"),
    ("one_per_frame", "yes", r"one_per_frame is 'yes'; give true or false"),
    ("name", "", r"Counting rule name ''"),
])
def test_a_bad_value_is_refused_naming_the_field_and_its_range(field, value, message):
    with pytest.raises(RuleError, match=message):
        CountingRule(**{field: value})
    with pytest.raises(RuleError, match=message):
        from_dict({"name": "client", field: value} if field != "name" else {"name": value})


def test_the_truth_files_state_their_rule_and_a_file_without_one_reads_as_the_makers(tmp_path):
    assert truth_rule({"fps": 25, "boxes": {}}) == MAKERS_RULE == {"min_visible": 0.6}
    assert truth_rule({"rule": {"min_visible": 0.6, "max_hidden": 0.5}}) == {"min_visible": 0.6, "max_hidden": 0.5}
    assert rule_from_truth({"rule": {"min_visible": 0.6, "max_hidden": 0.5}}) == CountingRule("truth", min_visible=0.6)
    with pytest.raises(RuleError, match=r"rule\.max_hidden is 2"):
        truth_rule({"rule": {"max_hidden": 2}})
    with pytest.raises(RuleError, match="expected"):
        truth_rule({"rule": [0.6]})

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"fps": 25, "frames": 3, "boxes": {"0": [["acme", 1, 2, 3, 4]]}}))
    assert read_truth_rule(gt) == CountingRule("truth", min_visible=0.6)  # made before the makers stated it
    assert add_truth_rule(gt, {"min_visible": 0.6, "max_hidden": 0.5}) is True
    assert add_truth_rule(gt, {"min_visible": 0.6, "max_hidden": 0.5}) is False
    data = json.loads(gt.read_text())
    assert data["boxes"] == {"0": [["acme", 1, 2, 3, 4]]} and data["rule"]["max_hidden"] == 0.5
    truth = load_truth(gt)  # the truth reader takes a file that states its rule
    assert truth.kind == "video" and truth.fps == 25 and [b.brand for b in truth.boxes[0]] == ["acme"]
    assert read_truth_rule(gt) == CountingRule("truth", min_visible=0.6)
    with pytest.raises(RuleError):
        add_truth_rule(gt, {"min_visible": 7})


# ---- seconds under a rule ---------------------------------------------------------------------------------
def figures(out):
    return {b: (s.seconds, s.exposures, s.frames, s.excluded_small, s.excluded_brief, s.solus_seconds,
                s.centre_seconds, s.edge_seconds) for b, s in out.items()}


def test_seconds_under_any_are_todays_figures():
    """The "any" rule and the rule-less call (what every caller made before rules) count alike, to the digit, and
    as the hand count says: a on 5 frames (its two copies on frame 0 once), a 2 s gap past the 1 s join gap: two
    exposures; b on two frames 4 s apart."""
    dets = [det(0), det(0, x=500), det(1), det(2), det(6), det(7), det(1, "b", x=700, y=400),
            det(9, "b", w=10, h=6)]
    today = clip_exposure(dets, interval_s=0.5)
    assert figures(clip_exposure(dets, interval_s=0.5, rule=PRESETS["any"])) == figures(today)
    assert figures(clip_exposure(dets, interval_s=0.5, rules=ExposureRules(counting=DEFAULT))) == figures(today)
    assert figures(today) == {"a": (2.5, 2, 5, 0, 0, 2.0, 0.0, 2.5), "b": (1.0, 2, 2, 0, 0, 0.5, 0.0, 1.0)}
    assert today["a"].seen_seconds == today["a"].seconds and today["a"].partial_exposures == 0


def test_a_strict_rule_drops_small_boxes_and_short_exposures():
    big = dict(w=300, h=200)  # 10% of the frame
    dets = ([det(f, **big) for f in range(0, 6)]  # 3 s, big
            + [det(f, w=20, h=12) for f in range(10, 16)]  # 3 s of a mark at 0.04% of the frame
            + [det(20, **big)])  # a 0.5 s flash
    rule = custom("any", min_size=0.001, min_exposure_s=1.0, join_gap_s=0.0)
    any_ = clip_exposure(dets, interval_s=0.5)["a"]
    strict = clip_exposure(dets, interval_s=0.5, rule=rule)["a"]
    assert any_.seconds == 6.5 and any_.exposures == 3
    assert strict.seconds == 3.0 and strict.exposures == 1
    assert strict.excluded_small == 6 and strict.excluded_brief == 1 and strict.excluded_brief_seconds == 0.5
    assert strict.seen_seconds == 6.5  # seen at all: beside the counted seconds


def test_the_join_gap_joins_appearances_and_never_counts_the_gap():
    dets = [det(f) for f in (0, 1, 2)] + [det(f) for f in (5, 6, 7)]  # 1.5 s, a 1 s gap (2 frames), 1.5 s
    apart = custom("any", join_gap_s=0.0, min_exposure_s=2.0)
    joined = custom("any", join_gap_s=1.0, min_exposure_s=2.0)
    assert clip_exposure(dets, interval_s=0.5, rule=apart)["a"].seconds == 0.0  # two 1.5 s flashes: neither counts
    out = clip_exposure(dets, interval_s=0.5, rule=joined)["a"]
    assert out.exposures == 1 and out.seconds == 3.0  # one exposure of 3 s: the gap's 1 s is not counted
    assert out.timeline[-1][1] == 3.0
    mrc = clip_exposure(dets, interval_s=0.5, rule=preset("mrc"))["a"]
    assert mrc.seconds == 0.0 and mrc.excluded_brief == 2  # MRC: 2 continuous seconds, no gap joins


def test_the_join_gap_is_time_on_a_grid_sampled_below_the_clips_rate():
    """At 25 fps sampled at 5 fps the grid steps 5 frames (0.2 s): a missing sampled frame is a 0.2 s gap, which
    a zero join gap does not join and a 0.2 s one does."""
    def on(index):
        return Candidate(FrameRef(index, index / 25, W, H), BBox(0, 0, 100, 60), "a", 0.9, "keypoints",
                         review=Review(ReviewState.ACCEPTED))

    grid = list(range(0, 100, 5))
    dets = [on(f) for f in (0, 5, 10, 20, 25)]
    assert clip_exposure(dets, interval_s=0.2, grid=grid, rule=custom("any", join_gap_s=0.0))["a"].exposures == 2
    out = clip_exposure(dets, interval_s=0.2, grid=grid, rule=custom("any", join_gap_s=0.2))["a"]
    assert out.exposures == 1 and out.seconds == pytest.approx(1.0)


def test_a_grid_of_uneven_steps_is_one_continuous_appearance():
    """25 fps sampled at 2 fps steps 12 and 13 frames (0.48 and 0.52 s): five sampled frames in a row are 2.5
    continuous seconds, which MRC's 2 s (no gap joins) counts; a missing sampled frame still breaks it."""
    def on(index):
        return Candidate(FrameRef(index, index / 25, W, H), BBox(0, 0, 100, 60), "a", 0.9, "keypoints",
                         review=Review(ReviewState.ACCEPTED))

    grid = [0, 12, 25, 37, 50, 62, 75, 87, 100]
    out = clip_exposure([on(f) for f in (0, 12, 25, 37, 50)], interval_s=0.5, grid=grid, rule=preset("mrc"))["a"]
    assert out.exposures == 1 and out.seconds == pytest.approx(2.5)
    broken = clip_exposure([on(f) for f in (0, 12, 25, 50, 62)], interval_s=0.5, grid=grid, rule=preset("mrc"))
    assert broken["a"].seconds == 0.0 and broken["a"].excluded_brief == 2


def test_a_box_past_the_frame_edge_counts_by_its_share_in_view_and_makes_an_exposure_partial():
    out_of_frame = det(2, x=-60, w=100)  # 40% in view
    assert visible_share(out_of_frame) == pytest.approx(0.4) and visible_share(det(2)) == 1.0
    dets = [det(0), det(1), out_of_frame, det(10)]
    anyway = clip_exposure(dets, interval_s=0.5)["a"]
    assert anyway.seconds == 2.0 and (anyway.full_exposures, anyway.partial_exposures) == (1, 1)
    half = clip_exposure(dets, interval_s=0.5, rule=custom("any", min_visible=0.5))["a"]
    assert half.seconds == 1.5 and half.excluded_hidden == 1
    assert (half.full_exposures, half.partial_exposures) == (1, 1)  # frames 0-1 lost the mark partly at frame 2


def test_sharpness_is_portable_and_a_rule_drops_blurred_marks():
    img = np.full((300, 600, 3), 235, np.uint8)
    cv2.putText(img, "ACME", (30, 220), cv2.FONT_HERSHEY_SIMPLEX, 6, (20, 20, 180), 14, cv2.LINE_AA)
    box = BBox(0, 0, 600, 300)
    crisp = box_sharpness(img, box)
    blurred = box_sharpness(cv2.GaussianBlur(img, (0, 0), 12), box)
    assert crisp > 0.5 and blurred < 0.15
    assert box_sharpness((img * 0.3 + 90).astype(np.uint8), box) == pytest.approx(crisp, abs=0.02)  # contrast
    big = cv2.resize(img, (1800, 900), interpolation=cv2.INTER_CUBIC)
    assert box_sharpness(big, BBox(0, 0, 1800, 900)) == pytest.approx(crisp, abs=0.05)  # resolution
    assert box_sharpness(np.full((50, 50, 3), 128, np.uint8), BBox(0, 0, 50, 50)) == 0.0  # nothing drawn

    dets = [det(0, cid=1), det(1, cid=2), det(2, cid=3)]
    rule = custom("any", min_sharpness=0.3)
    out = clip_exposure(dets, interval_s=0.5, rule=rule, sharpness={1: crisp, 2: blurred, 3: crisp})["a"]
    assert out.seconds == 1.0 and out.excluded_blurred == 1
    unmeasured = clip_exposure(dets, interval_s=0.5, rule=rule, sharpness={1: crisp})["a"]
    assert unmeasured.seconds == 1.5 and unmeasured.unmeasured == 2  # counted, and said to be unmeasured


def test_size_bands_and_one_copy_per_frame():
    dets = [det(0, w=100, h=60),  # 1%
            det(1, w=200, h=120),  # 4%
            det(2, w=300, h=150), det(2, x=600, w=100, h=60),  # 7.5% and a small copy
            det(3, w=500, h=300)]  # 25%
    out = clip_exposure(dets, interval_s=0.5)["a"]
    assert dict(zip(BAND_NAMES, out.band_seconds, strict=True)) == {
        "under 2.5%": 0.5, "2.5-5%": 0.5, "5-10%": 0.5, "over 10%": 0.5}
    assert out.seconds == 2.0
    each = clip_exposure(dets, interval_s=0.5, rule=custom("any", one_per_frame=False))["a"]
    assert each.seconds == 2.5 and each.frames == 4  # the copy on frame 2 counts its interval too


@pytest.mark.parametrize(("maker", "rule"), [("make_pan_bench.py", {"min_visible": 0.6}),
                                             ("make_broadcast_clip.py", {"min_visible": 0.6, "max_hidden": 0.5})])
def test_the_clip_makers_state_their_rule_in_a_truth_made_before(tmp_path, maker, rule):
    """What each maker keeps as on screen (the pan tool: 60% of the box in the frame; the broadcast clip: that, and
    at most half of it behind the player), written into an existing gt.json without making the clip again."""
    import subprocess
    import sys
    from pathlib import Path

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"fps": 25, "frames": 1, "boxes": {"0": [["acme", 1, 2, 3, 4]]}}))
    script = Path(__file__).resolve().parents[3] / "bench" / maker
    subprocess.run([sys.executable, str(script), "--add-rule", str(gt)], check=True, capture_output=True)
    data = json.loads(gt.read_text())
    assert data["rule"] == rule and data["boxes"] == {"0": [["acme", 1, 2, 3, 4]]}
