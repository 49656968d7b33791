"""A served VLM that tries to break the run (issue 27, rows 1-4 and 20): a hostile answer costs its candidate a
verdict, never the run; no credential leaves its origin; every request ends within its deadline; a server that
keeps failing is marked down and the rest of the run goes on without it.

The server is tests/chat_server.py on 127.0.0.1; deadlines are about a second, so no test waits long.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.verifiers import VerifyItem, json_verdict
from logotag_gui.core.verifiers.endpoint import EndpointVerifier
from logotag_gui.core.verifiers.json_verdict import verdict_from_text
from tests.chat_server import ChatServer, Step

YES = '{"verdict": "yes", "confidence": 0.83, "visual_cues": "red ring and white letters"}'
SECRET = "sk-test-5ecret-do-not-send-elsewhere-42"
MAX_RAW_CHARS = 64 * 1024  # what a verdict keeps of the raw answer
DEEP = '{"a": ' + "[" * 200_000 + "]" * 200_000 + "}"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("LOGOTAG_VLM_API_KEY", raising=False)


@pytest.fixture
def server():
    started: list[ChatServer] = []

    def start(*args, **kwargs) -> ChatServer:
        s = ChatServer(*args, **kwargs).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def _items(n: int) -> list[VerifyItem]:
    rng = np.random.default_rng(0)
    ref = FrameRef(0, 0.0, 100, 100)
    return [VerifyItem(Candidate(ref, BBox(0, 0, 50, 40), f"brand{i}", 0.8, "keypoints"),
                       rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)) for i in range(n)]


def _quick(url: str, **kwargs) -> EndpointVerifier:
    return EndpointVerifier(endpoint=url, **{"backoff_s": 0.01, "timeout_s": 5, "concurrency": 1, **kwargs})


# -- row 1: one hostile answer costs its candidate a verdict, never the run ------------------------------


def test_a_deeply_nested_answer_costs_only_its_candidate_a_verdict(server):
    srv = server(content=YES, script=[Step(content=DEEP)])
    first, second = _quick(srv.url).verify(_items(2))
    assert first.state is VerdictState.UNPARSABLE and first.confidence is None
    assert "nested more than" in first.rationale
    assert len(first.raw) <= MAX_RAW_CHARS + 200  # the raw answer is kept, capped
    assert second.state is VerdictState.YES


def test_a_deeply_nested_response_body_is_unsure_and_named(server):
    srv = server(content=YES, script=[Step(body='{"choices": ' + "[" * 200_000 + "]" * 200_000 + "}")])
    first, second = _quick(srv.url).verify(_items(2))
    assert first.state is VerdictState.UNSURE and "nested more than" in first.rationale
    assert second.state is VerdictState.YES


def test_any_failure_to_read_an_answer_is_unsure_with_the_reason(server, monkeypatch):
    def broken(text: str):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(json_verdict, "parse_verdict", broken)
    v = verdict_from_text(YES, threshold=0.5, method="vlm")  # the local VLM's path too
    assert v.state is VerdictState.UNSURE and "RecursionError" in v.rationale and v.raw == YES
    srv = server(content=YES)
    assert [v.state for v in _quick(srv.url).verify(_items(2))] == [VerdictState.UNSURE] * 2


# -- row 2: a redirect is refused, and the key never reaches another origin -----------------------------


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_origin_is_refused_without_sending_the_key(server, monkeypatch, status):
    monkeypatch.setenv("LOGOTAG_VLM_API_KEY", SECRET)
    elsewhere = server(content=YES)
    srv = server(content=YES, api_key=SECRET,
                 script=[Step(status, body={}, headers={"Location": elsewhere.url + "/chat/completions"})])
    verifier = _quick(srv.url)
    first, second = verifier.verify(_items(2))
    assert elsewhere.requests == []  # nothing at all went there, let alone the key
    assert first.state is VerdictState.UNSURE and f"HTTP {status}" in first.rationale
    assert "redirect" in first.rationale and "--vlm-endpoint" in first.rationale
    assert SECRET not in first.rationale
    assert second.state is VerdictState.YES
    assert len(srv.chat_requests) == 2  # a redirect is not retried


# -- row 3: a total deadline per request, and a breaker for a server that keeps failing ------------------


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_trickling_server_is_cut_off_at_the_request_deadline(server, headers_too):
    # One byte every 30 ms: never a second without a byte, so a per-read timeout alone never fires.
    srv = server(content=YES, script=[Step(trickle_s=0.03, trickle_headers=headers_too)])
    started = time.monotonic()
    first, second = _quick(srv.url, timeout_s=1, retries=0).verify(_items(2))
    assert time.monotonic() - started < 6  # generous: the deadline is 1 s
    assert first.state is VerdictState.UNSURE and "1 s" in first.rationale and "deadline" in first.rationale
    assert second.state is VerdictState.YES


def test_a_server_that_keeps_failing_is_marked_down_and_the_rest_left_unsure(server):
    srv = server(content=YES, script=[Step(503)] * 50)
    verifier = _quick(srv.url, retries=1, breaker_failures=3, breaker_cooldown_s=60)
    verdicts = verifier.verify(_items(6))
    assert len(verdicts) == 6 and all(v.state is VerdictState.UNSURE for v in verdicts)
    assert len(srv.chat_requests) == 3  # 2 for the first candidate, 1 for the second, then none
    down = verdicts[-1]
    assert "marked down" in down.rationale and "run again" in down.rationale and "HTTP 503" in down.rationale


def test_a_marked_down_server_is_tried_again_after_the_cooldown(server):
    srv = server(content=YES, script=[Step(503)] * 2)
    verifier = _quick(srv.url, retries=0, breaker_failures=2, breaker_cooldown_s=0.3)
    assert all(v.state is VerdictState.UNSURE for v in verifier.verify(_items(3)))
    assert len(srv.chat_requests) == 2
    time.sleep(0.4)
    assert [v.state for v in verifier.verify(_items(2))] == [VerdictState.YES] * 2


def test_the_breaker_holds_with_requests_in_parallel(server):
    srv = server(content=YES, script=[Step(500)] * 200)
    verdicts = _quick(srv.url, retries=2, concurrency=4, breaker_failures=4).verify(_items(40))
    assert all(v.state is VerdictState.UNSURE for v in verdicts)
    assert len(srv.chat_requests) <= 4 + 4  # the failures that opened it, and those already in flight


# -- row 4: the body read is capped, and so is the raw answer stored per verdict -------------------------


def test_a_huge_body_is_refused_at_the_cap(server):
    srv = server(content=YES, script=[Step(content="x" * 3_000_000)])
    first, second = _quick(srv.url, max_body_bytes=1_000_000).verify(_items(2))
    assert first.state is VerdictState.UNSURE and "1 MB" in first.rationale
    assert second.state is VerdictState.YES
    assert len(srv.chat_requests) == 2  # not retried: it would be as large again


def test_the_raw_answer_stored_is_capped_and_the_cut_marked(server):
    srv = server(content=YES + " " + "y" * 300_000)
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.YES and v.confidence == pytest.approx(0.83)
    assert len(v.raw) <= MAX_RAW_CHARS + 200 and v.raw.startswith(YES)
    assert v.raw.endswith(f"[{len(YES) + 300_001 - MAX_RAW_CHARS:,} more characters cut]")


# -- row 20: Retry-After is honoured only within the request's deadline ----------------------------------


def test_a_retry_after_past_the_deadline_is_not_waited_for(server):
    srv = server(content=YES, script=[Step(429, headers={"Retry-After": "100000"})])
    started = time.monotonic()
    first, second = _quick(srv.url, timeout_s=1).verify(_items(2))
    assert time.monotonic() - started < 6
    assert first.state is VerdictState.UNSURE and "HTTP 429" in first.rationale
    assert "100000" in first.rationale and "1 s" in first.rationale
    assert second.state is VerdictState.YES
    assert len(srv.chat_requests) == 2


def test_a_rate_limit_waited_out_does_not_mark_the_server_down(server):
    srv = server(content=YES, script=[Step(429, headers={"Retry-After": "0.05"})] * 4)
    verdicts = _quick(srv.url, timeout_s=2, retries=5, breaker_failures=2).verify(_items(3))
    assert [v.state for v in verdicts] == [VerdictState.YES] * 3


def test_a_short_retry_after_is_still_honoured(server):
    srv = server(content=YES, script=[Step(429, headers={"Retry-After": "0.5"})])
    [v] = _quick(srv.url, timeout_s=2).verify(_items(1))
    assert v.state is VerdictState.YES
    first, second = srv.chat_requests
    assert second.at - first.at >= 0.45


def test_an_endpoint_that_redirects_at_startup_is_named(server, monkeypatch):
    monkeypatch.setenv("LOGOTAG_VLM_API_KEY", SECRET)
    elsewhere = server(content=YES)
    srv = server(content=YES, models_redirect=elsewhere.url + "/models")
    with pytest.raises(ModelUnavailable, match="redirect") as info:
        EndpointVerifier(endpoint=srv.url, timeout_s=2)
    assert elsewhere.requests == [] and SECRET not in str(info.value)


# -- a whole run against a hostile server: it finishes, and every candidate is stored ---------------------


def _photo_folder(tmp_path, demo_clip):
    from PIL import Image

    from logotag_gui.core.media.video import open_source

    folder = tmp_path / "photos"
    folder.mkdir()
    source = open_source(demo_clip[0])
    for i, frame in enumerate(source.sample(fps=1)):
        Image.fromarray(frame.image).save(folder / f"{i:02d}.png")
        if i == 5:
            break
    source.close()
    return folder


@pytest.mark.parametrize("hostile", ["deep", "down"])
def test_a_run_against_a_hostile_server_finishes_with_every_candidate_stored(server, tmp_path, demo_clip,
                                                                           logos_dir, hostile):
    from logotag_gui.core.base.config import RunConfig
    from logotag_gui.core.pipeline.run import run_pipeline
    from logotag_gui.core.store import open_repository

    srv = server(content=DEEP) if hostile == "deep" else server(content=YES, script=[Step(503)] * 1000)
    config = RunConfig(input=str(_photo_folder(tmp_path, demo_clip)), logos=str(logos_dir), embedder="keypoints",
                       verifier="endpoint", vlm_endpoint=srv.url, vlm_concurrency=2)
    repo = open_repository(tmp_path / "p.sqlite")
    result = run_pipeline(config, repo=repo)
    assert result.status == "done"
    stored = repo.candidates()
    assert stored and all(c.verdict.method == "endpoint" for c in stored)
    if hostile == "deep":
        # judged: unparsable, the raw answer kept capped; boxes that carry their track's verdict: unsure
        assert {c.verdict.state for c in stored if not c.verdict.from_track} == {VerdictState.UNPARSABLE}
        assert all(len(c.verdict.raw) <= MAX_RAW_CHARS + 200 for c in stored)
    else:
        assert {c.verdict.state for c in stored} == {VerdictState.UNSURE}
        assert len(srv.chat_requests) <= 5 + 2 + 2  # marked down after 5 failures; the rest not asked
        assert any("marked down" in c.verdict.rationale for c in stored)
