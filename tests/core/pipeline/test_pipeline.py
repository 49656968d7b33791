from __future__ import annotations

import pytest

from logotag_gui.core.base.config import RunConfig
from logotag_gui.core.base.errors import InputError
from logotag_gui.core.base.records import BBox, Candidate, Frame, FrameRef, Verdict, VerdictState
from logotag_gui.core.pipeline.backends import ModelCache
from logotag_gui.core.pipeline.run import run_pipeline
from logotag_gui.core.pipeline.verification import Verification, combine_track_verdicts
from logotag_gui.core.store import open_repository


def _config(clip, logos, **kw):
    return RunConfig(input=str(clip), logos=str(logos), embedder="keypoints", verifier="none", **kw)


def _recall(cands, truth, iou=0.5):
    hits = total = 0
    frames = {c.frame.index for c in cands} | set()
    for index, boxes in truth.items():
        if index % 5:  # sampled at 2 fps from 10 fps
            continue
        for brand, box in boxes:
            total += 1
            hits += any(c.frame.index == index and c.brand == brand and c.bbox.iou(box) >= iou for c in cands)
    return hits / total, frames


def test_offline_pipeline_finds_the_moving_logos_and_links_tracks(tmp_path, demo_clip, logos_dir):
    clip, truth = demo_clip
    repo = open_repository(tmp_path / "p.sqlite")
    seen = []
    result = run_pipeline(_config(clip, logos_dir), repo=repo, on_progress=seen.append)
    assert result.status == "done" and result.frames_done == result.frames_total == 12
    cands = repo.candidates(video_id=result.video_id)
    recall, _ = _recall(cands, truth)
    assert recall >= 0.6
    precision = sum(any(b == c.brand and c.bbox.iou(box) >= 0.5 for b, box in truth[c.frame.index])
                    for c in cands) / len(cands)
    assert precision >= 0.8
    norvik_tracks = {c.track_id for c in cands if c.brand == "Norvik"}
    assert len(norvik_tracks) <= 2  # one logo on screen the whole clip: one track, not twelve
    assert [p for p in seen if p.stage == "frames"][-1].done == 12
    run = repo.run_info(result.run_id)
    assert run.embedder == "keypoints" and run.status == "done" and run.timings["propose_s"] > 0


class _Boom(Exception):
    pass


def test_killed_run_resumes_where_it_stopped(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    config = _config(clip, logos_dir, batch_frames=3)
    full = open_repository(tmp_path / "full.sqlite")
    reference = run_pipeline(config, repo=full)
    expected = [(c.frame.index, c.brand, c.bbox) for c in full.candidates(video_id=reference.video_id)]

    repo = open_repository(tmp_path / "p.sqlite")
    batches = []

    def die_after_two(stored):
        batches.append(stored)
        if len(batches) == 2:
            raise _Boom("power cut")

    with pytest.raises(_Boom):
        run_pipeline(config, repo=repo, on_batch=die_after_two)
    stored_before = repo.candidates()
    assert {c.frame.index for c in stored_before} <= {0, 5, 10, 15, 20, 25}
    resumed = run_pipeline(config, repo=repo)
    assert resumed.resumed_from == 25 and resumed.run_id == reference.run_id
    got = [(c.frame.index, c.brand, c.bbox) for c in repo.candidates(video_id=resumed.video_id)]
    assert got == expected  # nothing lost, nothing twice
    # Tracks continue across the resume rather than restarting.
    assert len({c.track_id for c in repo.candidates() if c.brand == "Norvik"}) == len(
        {c.track_id for c in full.candidates() if c.brand == "Norvik"})


def test_cancel_keeps_finished_batches(tmp_path, demo_clip, logos_dir):
    clip, _ = demo_clip
    repo = open_repository(tmp_path / "p.sqlite")
    calls = {"n": 0}

    def cancel_after_first_batch():
        calls["n"] += 1
        return calls["n"] > 1

    result = run_pipeline(_config(clip, logos_dir, batch_frames=4), repo=repo, cancel=cancel_after_first_batch)
    assert result.status == "cancelled" and result.frames_done == 4
    assert repo.run_info(result.run_id).status == "cancelled"
    assert {c.frame.index for c in repo.candidates()} <= {0, 5, 10, 15}
    again = run_pipeline(_config(clip, logos_dir, batch_frames=4), repo=repo)
    assert again.resumed_from == 15 and again.frames_done == 12


@pytest.mark.slow
def test_verification_beside_stage_one_gives_the_same_results(tmp_path, demo_clip, logos_dir, monkeypatch):
    """With overlap (the default), a batch is verified on its own thread while stage 1 searches the next; the
    stored candidates and verdicts are those of the batches done one after the other."""
    import threading

    clip, _ = demo_clip
    threads: list[str] = []
    verify = Verification.__call__

    def recording(self, frames, cands):
        threads.append(threading.current_thread().name)
        return verify(self, frames, cands)

    monkeypatch.setattr(Verification, "__call__", recording)
    models = ModelCache()
    stored = {}
    for overlap in (False, True):
        threads.clear()
        repo = open_repository(tmp_path / f"{overlap}.sqlite")
        config = _config(clip, logos_dir, batch_frames=2, overlap=overlap, end_frame=29, propagate=False).with_(
            verifier="ocr")
        result = run_pipeline(config, repo=repo, models=models)
        assert result.status == "done" and result.frames_done == 6 and "verify_wait_s" in result.timings
        assert len(threads) == 3 and all(t.startswith("verify") == overlap for t in threads)
        stored[overlap] = sorted((c.frame.index, c.brand, c.bbox.as_list(), c.track_id, c.verdict.state.value)
                                 for c in repo.candidates(video_id=result.video_id))
        repo.close()
    assert stored[True] == stored[False] and any(v[-1] != "not_run" for v in stored[True])


def test_bad_inputs_fail_before_any_run_is_recorded(tmp_path, logos_dir, demo_clip):
    repo = open_repository(tmp_path / "p.sqlite")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"bad\.mp4"):
        run_pipeline(_config(bad, logos_dir), repo=repo)
    empty = tmp_path / "logos"
    empty.mkdir()
    with pytest.raises(InputError, match="no reference images"):
        run_pipeline(_config(demo_clip[0], empty), repo=repo)
    assert repo.runs() == []


@pytest.mark.slow
def test_siglip2_and_vlm_run_end_to_end_with_tiny_models(tmp_path, demo_clip, logos_dir, tiny_siglip, tiny_vlm):
    # Four new tokens cannot hold the strict JSON verdict: every answer must be kept as "unparsable" with
    # raw text, never turned into a "no" (LogoTag's rule, whatever the weights say).
    config = RunConfig(input=str(demo_clip[0]), logos=str(logos_dir), embedder="siglip2", verifier="vlm",
                       siglip_model=str(tiny_siglip), vlm_model=str(tiny_vlm), threshold=0.0, end_frame=5,
                       device="cpu", vlm_max_new_tokens=4, propagate=False, vlm_answer="generate")
    repo = open_repository(tmp_path / "p.sqlite")
    models = ModelCache()
    result = run_pipeline(config, repo=repo, models=models, cache_root=str(tmp_path / "cache"))
    cands = repo.candidates(video_id=result.video_id)
    assert result.status == "done" and cands
    assert all(c.method == "siglip2" for c in cands)
    asked = [c for c in cands if not c.verdict.from_track]
    assert asked and all(c.verdict.state is VerdictState.UNPARSABLE for c in asked)
    # The default reads the verdict from the model's odds of "yes" and "no": always a verdict, and its chance.
    odds = run_pipeline(config.with_(vlm_answer="logits", vlm_unsure_band=0.0), repo=open_repository(
        tmp_path / "odds.sqlite"), models=models, cache_root=str(tmp_path / "cache"))
    verdicts = [c.verdict for c in open_repository(tmp_path / "odds.sqlite").candidates(video_id=odds.video_id)]
    assert verdicts and all(v.state in (VerdictState.YES, VerdictState.NO, VerdictState.UNSURE) and
                            0.5 <= (v.confidence or 0) <= 1 for v in verdicts)
    run = repo.run_info(result.run_id)
    assert run.embedder_model == str(tiny_siglip.resolve()) and run.verifier == "vlm"
    # Models stay loaded between runs.
    loaded = models.loaded()
    run_pipeline(config.with_(fps=1), repo=repo, models=models, cache_root=str(tmp_path / "cache"))
    assert all(models.loaded()[k] is v for k, v in loaded.items())


class _CountingVerifier:
    """Records what it is asked; answers yes. Stands in for the verifier protocol, not for a model."""

    name, model_id, revision = "counting", "", None

    def __init__(self):
        self.asked = []

    def verify(self, items):
        self.asked += [i.candidate for i in items]
        return [Verdict(VerdictState.YES, 0.9, "ok", "{}", "counting") for _ in items]


def test_track_verification_asks_a_few_crops_per_track():
    import numpy as np

    frames, cands = {}, []
    for i in range(20):
        ref = FrameRef(i, i / 10, 64, 64)
        frames[i] = Frame(ref, np.zeros((64, 64, 3), np.uint8))
        cands.append(Candidate(ref, BBox(0, 0, 10, 10), "a", 0.5 + i / 100, "keypoints", track_id=7))
    verifier = _CountingVerifier()
    stage = Verification(verifier, per_track=True, k=3)
    out = stage(frames, cands[:10]) + stage(frames, cands[10:])
    assert len(verifier.asked) == 3  # not 20
    assert {c.frame.index for c in verifier.asked} == {7, 8, 9}  # the best-scoring crops of the first batch
    assert all(c.verdict.state is VerdictState.YES for c in out)
    assert sum(c.verdict.from_track for c in out) == 17


def test_combine_track_verdicts_majority():
    yes = Verdict(VerdictState.YES, 0.9)
    no = Verdict(VerdictState.NO, 0.6)
    bad = Verdict(VerdictState.UNPARSABLE, None, raw="??")
    assert combine_track_verdicts([yes, no, no]).state is VerdictState.NO
    assert combine_track_verdicts([bad, yes]).state is VerdictState.YES
    assert combine_track_verdicts([bad]).state is VerdictState.UNPARSABLE
