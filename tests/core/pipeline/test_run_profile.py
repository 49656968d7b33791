"""A run's profile (issue 29 item 1): each stage that ran on the run's thread, adding up to no more than the wall
time; beside it the decoder, each proposer of the offline detector and verification; CPU time and memory."""

from __future__ import annotations

import pytest

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.media.logos import load_dictionary
from logotag_gui.core.media.video import open_source
from logotag_gui.core.pipeline import profile as stages
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.pipeline.profile import ProfiledProposer, RunProfile, ocr_engine_timed
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.proposers.ocr_text import OcrTextProposer
from logotag_gui.core.store import open_repository


def _run(tmp_path, clip, logos, **kw):
    repo = open_repository(tmp_path / "p.sqlite")
    config = RunConfig(input=str(clip), logos=str(logos), embedder="offline", verifier="none", **kw)
    result = run_pipeline(config, repo=repo)
    repo.close()
    return result


def test_the_profile_names_each_stage_that_ran_and_its_stages_add_up_to_at_most_the_wall_time(tmp_path, demo_clip,
                                                                                              logos_dir):
    clip, _ = demo_clip
    result = _run(tmp_path, clip, logos_dir, end_frame=24)  # five sampled frames: the offline detector is slow
    profile = result.profile
    assert result.status == "done" and profile.frames == 5
    assert list(profile.stages) == [stages.READING_LOGOS, stages.CHOOSING_BACKENDS, stages.LOADING_MODELS,
                                    stages.INDEXING_LOGOS, stages.STARTING, stages.DECODE_WAIT, stages.STAGE_ONE,
                                    stages.VERIFY_WAIT, stages.STORING, stages.FOLLOWING]
    assert all(s >= 0 for s in profile.stages.values()) and profile.stages[stages.STAGE_ONE] > 0
    assert sum(profile.stages.values()) <= profile.wall_s
    # Beside the run's thread: the decoder, the offline detector's sources (no shape matcher in the tests) and
    # the verification thread.
    assert {stages.DECODING, stages.STAGE_ONE_WORK, "keypoints", stages.OCR, stages.VERIFICATION} <= set(profile.beside)
    rows = {r.name: r for r in profile.rows()}
    parts = [r for r in profile.rows() if r.level == 1]
    assert {r.name for r in parts} >= {"keypoints", stages.FUSION} and all(r.beside for r in parts)
    assert sum(r.seconds for r in parts) == pytest.approx(profile.beside[stages.STAGE_ONE_WORK], abs=1e-6)
    assert rows[stages.OTHER].seconds == pytest.approx(profile.wall_s - sum(profile.stages.values()), abs=1e-9)
    assert sum(r.seconds for r in profile.rows() if not r.beside) == pytest.approx(profile.wall_s, abs=1e-9)
    assert profile.cpu_s > 0 and profile.cores_busy > 0
    assert profile.peak_rss_mib is not None and profile.peak_rss_mib > 50
    # The timings the run stores are the same measurements.
    assert result.timings["propose_s"] == pytest.approx(profile.stages[stages.STAGE_ONE], abs=0.01)
    assert result.timings["decode_wait_s"] == pytest.approx(profile.stages[stages.DECODE_WAIT], abs=0.01)


def test_verified_on_the_runs_thread_verifying_is_a_stage_of_its_own(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    profile = _run(tmp_path, clip, logos_dir, overlap=False, end_frame=14).profile
    assert stages.VERIFYING in profile.stages
    assert stages.VERIFY_WAIT not in profile.stages and stages.VERIFICATION not in profile.beside
    assert sum(profile.stages.values()) <= profile.wall_s


def test_a_profiled_offline_detector_proposes_what_it_proposes_and_the_one_handed_in_is_not_changed(demo_clip,
                                                                                                      logos_dir):
    clip, _ = demo_clip
    config = RunConfig(input=str(clip), logos=str(logos_dir), embedder="offline")
    detector = ModelCache().proposer("offline", config)
    detector.prepare(load_dictionary(logos_dir))
    keypoints, ocr = detector.keypoints, detector.ocr  # type: ignore[attr-defined]
    source = open_source(clip)
    try:
        frame = source.frame(0)
    finally:
        source.close()
    profile = RunProfile()
    profiled = ProfiledProposer(detector, profile)
    assert profiled.propose(frame) == detector.propose(frame)
    assert detector.keypoints is keypoints and detector.ocr is ocr  # type: ignore[attr-defined]
    assert profiled.name == "offline" and profiled.thread_safe
    assert profile.beside["keypoints"] > 0 and profile.beside[stages.OCR] > 0
    assert profile.beside["keypoints"] + profile.beside[stages.OCR] <= profile.beside[stages.STAGE_ONE_WORK]


@pytest.mark.fresh_ocr  # the engine itself must read: what the suite read before is otherwise handed back
def test_ocr_detection_and_recognition_are_timed_on_the_thread_proposing_only(demo_clip):
    clip, _ = demo_clip
    source = open_source(clip)
    try:
        frame = source.frame(0)
    finally:
        source.close()
    from rapidocr import RapidOCR

    detect, recognize = RapidOCR.detect_and_crop, RapidOCR.recognize_txt
    reader = OcrTextProposer()
    profile = RunProfile()
    with ocr_engine_timed():
        assert RapidOCR.detect_and_crop is not detect
        ProfiledProposer(reader, profile).propose(frame)
        reader.propose(frame)  # not through the profiled proposer: not this run's
    engine = profile.beside[stages.OCR_DETECTION] + profile.beside[stages.OCR_RECOGNITION]
    assert profile.beside[stages.OCR_DETECTION] > 0 and profile.beside[stages.OCR_RECOGNITION] > 0
    assert engine <= profile.beside[stages.OCR] == profile.beside[stages.STAGE_ONE_WORK]
    rows = [r.name for r in profile.rows()]
    assert rows[rows.index(stages.STAGE_ONE_WORK) + 1:] == [stages.OCR_DETECTION, stages.OCR_RECOGNITION,
                                                            stages.OCR_REST]
    # Once the run is over, the engine is rapidocr's own again.
    assert RapidOCR.detect_and_crop is detect and RapidOCR.recognize_txt is recognize
