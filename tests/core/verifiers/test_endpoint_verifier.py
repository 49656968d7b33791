"""Endpoint verifier over real HTTP: a local OpenAI-compatible server (tests/chat_server.py) in a thread."""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import time

import numpy as np
import pytest
from PIL import Image

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import BBox, Candidate, FrameRef, VerdictState
from logotag_gui.core.pipeline.backends import make_verifier
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.endpoint import RESPONSE_FORMAT, EndpointVerifier, parse_retry_after
from logotag_gui.core.verifiers.json_verdict import verdict_from_text
from logotag_gui.core.verifiers.vlm import PROMPT, VlmVerifier
from tests.chat_server import DATA_URL_PREFIX, ChatServer, Step, TinyVlmBackend

YES = '{"verdict": "yes", "confidence": 0.83, "visual_cues": "red ring and white letters"}'
SECRET = "sk-test-5ecret-do-not-log-0123456789"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy in the environment must not take requests to the local server.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("LOGOTAG_VLM_API_KEY", raising=False)


@pytest.fixture(scope="module")
def tiny_vlm_model(tiny_vlm):
    return VlmVerifier(model_id=str(tiny_vlm), device="cpu", max_new_tokens=12, answer="generate")


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


def _items(n, brands=None):
    rng = np.random.default_rng(0)
    ref = FrameRef(0, 0.0, 100, 100)
    brands = brands or [f"brand{i}" for i in range(n)]
    return [VerifyItem(Candidate(ref, BBox(0, 0, 50, 40), brands[i], 0.8, "keypoints"),
                       rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)) for i in range(n)]


def _quick(url, **kwargs) -> EndpointVerifier:
    return EndpointVerifier(endpoint=url, **{"backoff_s": 0.01, "timeout_s": 5, **kwargs})


def test_tiny_vlm_behind_the_server_answers_every_item_in_order(server, tiny_vlm_model):
    srv = server(TinyVlmBackend(tiny_vlm_model))
    items = _items(4, ["Norvik", "Aster", "Calder", "Dune"])
    verifier = make_verifier("endpoint", endpoint=srv.url + "/", max_new_tokens=12, concurrency=3)
    assert isinstance(verifier, EndpointVerifier) and verifier.name == "endpoint"
    assert verifier.model_id == "tiny-vlm"  # no model named: the first one served
    verdicts = verifier.verify(items)
    assert len(verdicts) == 4
    for item, v in zip(items, verdicts, strict=True):
        expected = tiny_vlm_model.generate([Image.fromarray(item.crop)], [item.candidate.brand])[0]
        # Random weights write gibberish: kept as unparsable with the raw text, exactly as the local verifier does.
        assert v == verdict_from_text(expected, threshold=0.5, method="endpoint")
        assert v.state is VerdictState.UNPARSABLE and v.method == "endpoint" and v.raw == expected
    bodies = {r.body["messages"][0]["content"][1]["text"]: r.body for r in srv.chat_requests}
    assert len(bodies) == 4
    for item in items:
        body = bodies[PROMPT.format(brand=item.candidate.brand)]
        assert body["model"] == "tiny-vlm" and body["temperature"] == 0 and body["max_tokens"] == 12
        assert body["response_format"] == RESPONSE_FORMAT
        schema = body["response_format"]["json_schema"]
        assert schema["name"] == "logo_verdict" and schema["strict"] is True
        assert schema["schema"]["properties"]["verdict"]["enum"] == ["yes", "no"]
        assert schema["schema"]["additionalProperties"] is False
        assert set(schema["schema"]["required"]) == {"verdict", "confidence", "visual_cues"}
        image_part = body["messages"][0]["content"][0]
        assert image_part["type"] == "image_url" and image_part["image_url"]["url"].startswith(DATA_URL_PREFIX)
        png = base64.b64decode(image_part["image_url"]["url"][len(DATA_URL_PREFIX):])
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), item.crop)


def test_valid_json_content_gives_the_verdict_and_confidence(server):
    srv = server(content=YES)
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.YES and v.confidence == pytest.approx(0.83)
    assert v.rationale == "red ring and white letters" and v.raw == YES and v.method == "endpoint"
    [v] = _quick(srv.url, threshold=0.9).verify(_items(1))
    assert v.state is VerdictState.UNSURE and v.confidence == pytest.approx(0.83)
    srv.push(Step(content='{"verdict": "no", "confidence": 0.7, "visual_cues": "no ring"}'))
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.NO and v.confidence == pytest.approx(0.7)


def test_garbage_content_is_unparsable_like_the_local_vlm(server):
    srv = server(content="Sure! It looks like the logo, I would say yes.")
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.UNPARSABLE and v.confidence is None and v.method == "endpoint"
    assert v.raw == "Sure! It looks like the logo, I would say yes."
    assert v.rationale == "model output is not the JSON asked for"


def test_retries_server_errors_and_dropped_connections_then_succeeds(server):
    srv = server(content=YES, script=[Step(500), Step(drop=True), Step(502)])
    [v] = _quick(srv.url, retries=3).verify(_items(1))
    assert v.state is VerdictState.YES
    assert len(srv.chat_requests) == 4


def test_honours_retry_after_on_429(server):
    srv = server(content=YES, script=[Step(429, headers={"Retry-After": "1"})])
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.YES
    first, second = srv.chat_requests
    assert second.at - first.at >= 0.9  # waited what the server asked, not the 10 ms backoff


def test_gives_up_after_the_retries_with_a_verdict_naming_the_error(server):
    srv = server(content=YES, script=[Step(503)] * 3)
    verdicts = _quick(srv.url, retries=2, concurrency=1).verify(_items(2))
    assert len(verdicts) == 2
    failed, fine = verdicts
    assert failed.state is VerdictState.UNSURE and failed.confidence is None and failed.method == "endpoint"
    assert "HTTP 503" in failed.rationale and "scripted 503" in failed.rationale
    assert fine.state is VerdictState.YES
    assert len(srv.chat_requests) == 4  # 1 + 2 retries, then the second item


def test_other_client_errors_are_not_retried(server):
    srv = server(content=YES, script=[Step(422, body={"error": {"message": "max_tokens too large"}})])
    [v] = _quick(srv.url).verify(_items(1))
    assert v.state is VerdictState.UNSURE and "HTTP 422" in v.rationale and "max_tokens too large" in v.rationale
    assert len(srv.chat_requests) == 1


def test_a_request_past_the_timeout_is_retried_then_named(server):
    srv = server(content=YES, script=[Step(delay_s=1.0), Step(delay_s=1.0)])
    [v] = _quick(srv.url, timeout_s=0.3, retries=1).verify(_items(1))
    assert v.state is VerdictState.UNSURE and "timed out" in v.rationale
    assert len(srv.chat_requests) == 2


def test_a_server_without_json_schema_is_asked_without_it_from_then_on(server):
    srv = server(content=YES, reject_response_format=True)
    verifier = _quick(srv.url, concurrency=1)
    verdicts = verifier.verify(_items(3))
    assert [v.state for v in verdicts] == [VerdictState.YES] * 3
    with_schema = ["response_format" in r.body for r in srv.chat_requests]
    assert with_schema == [True, False, False, False]  # one refusal, then never again
    assert verifier.verify(_items(1))[0].state is VerdictState.YES
    assert "response_format" not in srv.chat_requests[-1].body


def test_a_400_about_something_else_does_not_drop_the_schema(server):
    srv = server(content=YES, script=[Step(400, body={"error": {"message": "image too large"}})])
    verifier = _quick(srv.url, concurrency=1)
    first, second = verifier.verify(_items(2))
    assert first.state is VerdictState.UNSURE and "image too large" in first.rationale
    assert second.state is VerdictState.YES
    assert all("response_format" in r.body for r in srv.chat_requests) and len(srv.chat_requests) == 2


def test_unreachable_endpoint_is_model_unavailable_naming_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelUnavailable) as info:
        EndpointVerifier(endpoint=url, model_id="x", timeout_s=2)
    message = str(info.value)
    assert url in message and "--vlm-endpoint" in message and "Start the server" in message


def test_a_model_not_served_names_the_served_ones(server):
    srv = server(models=["tiny-vlm", "Qwen/Qwen2.5-VL-7B-Instruct"])
    with pytest.raises(ModelUnavailable) as info:
        EndpointVerifier(endpoint=srv.url, model_id="llava-hf/llava-1.5-7b-hf")
    message = str(info.value)
    assert "llava-hf/llava-1.5-7b-hf" in message and "tiny-vlm" in message
    assert "Qwen/Qwen2.5-VL-7B-Instruct" in message and "--vlm-model" in message
    assert EndpointVerifier(endpoint=srv.url, model_id="Qwen/Qwen2.5-VL-7B-Instruct").served_models == srv.models


def test_a_server_that_lists_no_models_needs_a_model_name(server):
    srv = server(content=YES, list_models=False)
    with pytest.raises(ModelUnavailable, match="--vlm-model"):
        EndpointVerifier(endpoint=srv.url)
    assert _quick(srv.url, model_id="tiny-vlm").verify(_items(1))[0].state is VerdictState.YES


def test_the_api_key_is_sent_as_bearer_and_never_logged(server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LOGOTAG_VLM_API_KEY", SECRET)
    # A server that echoes the key in its error text must not get it into our messages either.
    srv = server(content=YES, api_key=SECRET,
                 script=[Step(500, body={"error": {"message": f"upstream rejected key {SECRET}"}})] * 2)
    verifier = _quick(srv.url, retries=1, concurrency=1)
    failed, fine = verifier.verify(_items(2))
    assert failed.state is VerdictState.UNSURE and "HTTP 500" in failed.rationale and "***" in failed.rationale
    assert fine.state is VerdictState.YES
    assert {r.headers.get("authorization") for r in srv.requests} == {f"Bearer {SECRET}"}
    texts = [caplog.text, repr(verifier), failed.rationale, failed.raw, fine.rationale,
             *(r.getMessage() for r in caplog.records)]
    assert caplog.records and not any(SECRET in t for t in texts)

    monkeypatch.setenv("LOGOTAG_VLM_API_KEY", SECRET + "-wrong")
    with pytest.raises(ModelUnavailable) as info:
        EndpointVerifier(endpoint=srv.url)
    assert "LOGOTAG_VLM_API_KEY" in str(info.value) and SECRET not in str(info.value)
    assert SECRET not in repr(info.value) and SECRET not in caplog.text


def test_requests_run_concurrently_up_to_the_limit(server):
    srv = server(content=YES, delay_s=0.5)
    verdicts = _quick(srv.url, concurrency=4).verify(_items(8))
    assert [v.state for v in verdicts] == [VerdictState.YES] * 8
    assert srv.max_in_flight == 4


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= parse_retry_after(later) <= 31
    assert json.dumps(RESPONSE_FORMAT)  # the schema is plain JSON
