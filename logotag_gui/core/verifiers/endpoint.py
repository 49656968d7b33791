"""Endpoint verifier: asks a served VLM for a strict-JSON verdict over the OpenAI-compatible chat API.

Any server that speaks `POST {base}/chat/completions` with image parts works: vLLM, SGLang,
llama.cpp's server, TGI. Each candidate crop is one request (a PNG data URL and the same prompt the
local VLM verifier uses); `concurrency` requests are in flight at once. The JSON schema goes in
`response_format` so that servers with guided decoding answer valid JSON; a server that refuses the
field is asked again without it, and not asked with it again. The answer is parsed by the same strict
parser as the local verifier.

The API key, if the server wants one, is read from an environment variable (`api_key_env`) at each
request and sent as `Authorization: Bearer`; it is never stored on the object, logged, or put in a
message. Redirects are never followed: one to another origin would carry the key there, and urllib
turns a redirected POST into a GET without the image; a redirect is an error naming where it points.

A server that misbehaves costs its candidates a verdict (UNSURE, the reason given), never the run or the
machine: each request has a total deadline (`timeout_s`, however slowly the server trickles its bytes),
the body read is capped (`max_body_bytes`), a Retry-After longer than the deadline is not waited for, and
after `breaker_failures` failed requests in a row the server is marked down: the remaining candidates are
left UNSURE at once, and one request tries it again every `breaker_cooldown_s`.
"""

from __future__ import annotations

import base64
import contextlib
import email.message
import email.utils
import http.client
import io
import json
import logging
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO

from PIL import Image

from logotag_gui.core.base import safe_json
from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import Verdict, VerdictState
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.json_verdict import verdict_from_text
from logotag_gui.core.verifiers.vlm import PROMPT

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:8000/v1"  # vLLM's and SGLang's usual address (SGLang: port 30000)
API_KEY_ENV = "LOGOTAG_VLM_API_KEY"
MAX_BODY_BYTES = 4_000_000  # an answer is a few hundred bytes; this leaves room for any honest server
MAX_ERROR_BODY_BYTES = 64 * 1024  # what is read of an error's body (its message is shown cut to 300 characters)
READ_CHUNK = 64 * 1024
MAX_ANSWER_DEPTH = 32  # a chat completion nests about 5 levels

VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["yes", "no"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "visual_cues": {"type": "string"},
    },
    "required": ["verdict", "confidence", "visual_cues"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "logo_verdict", "strict": True, "schema": VERDICT_SCHEMA},
}


class EndpointError(Exception):
    """One request that failed; `retryable` says whether asking again may help; `down`: not asked at all,
    the server being marked down."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, body: str = "", down: bool = False) -> None:
        super().__init__(message)
        self.retryable, self.status, self.retry_after, self.body = retryable, status, retry_after, body
        self.down = down


class _Redirected(Exception):
    def __init__(self, code: int, target: str) -> None:
        super().__init__(code, target)
        self.code, self.target = code, target


class _Deadline:
    """A request's total time limit. When it passes, the request's sockets are shut down, so that a server
    trickling a byte a second (never idle long enough for a per-read timeout) is cut off all the same."""

    _current = threading.local()  # the deadline of the request this thread is making; its connections join it

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _Deadline._current.value = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _Deadline._current.value = None

    @classmethod
    def attach(cls, sock: socket.socket) -> None:
        deadline = getattr(cls._current, "value", None)
        if deadline is None:
            return
        with deadline._lock:
            deadline._sockets.append(sock)
            expired = deadline.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)  # a read blocked in another thread returns at once


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _Deadline.attach(self.sock)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _Deadline.attach(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: to another origin it would take the API key along, and urllib turns a
    redirected POST into a GET without the image (whose "yes" would be stored as a verdict)."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: email.message.Message, newurl: str) -> urllib.request.Request | None:
        fp.close()
        raise _Redirected(code, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # Built per request: the proxy settings are read from the environment as it is now, as urlopen does.
    return urllib.request.build_opener(_RefuseRedirects, _HTTPHandler, _HTTPSHandler)


class CircuitBreaker:
    """Marks a server down after `failures` failed requests in a row (a success resets the count). While it is
    down, requests are refused at once; once `cooldown_s` has passed, one request may try it again, and its
    success brings the server back."""

    def __init__(self, *, failures: int, cooldown_s: float) -> None:
        self.failures, self.cooldown_s = max(1, failures), cooldown_s
        self._lock = threading.Lock()
        self._count = 0
        self._down_since: float | None = None
        self._probing = False
        self._last = ""

    def refusal(self) -> str | None:
        """Why a request must not be made now, or None (it may: the server is up, or this is the probe)."""
        with self._lock:
            if self._down_since is None:
                return None
            if not self._probing and time.monotonic() - self._down_since >= self.cooldown_s:
                self._probing = True
                return None
            return (f"the server was marked down after {self.failures} failed requests in a row "
                    f"(the last: {self._last})")

    def success(self) -> None:
        with self._lock:
            self._count, self._down_since, self._probing = 0, None, False

    def failure(self, error: str) -> bool:
        """Count a failed request; True when it marks the server down."""
        with self._lock:
            self._count += 1
            self._last = error
            if self._probing:  # the server still fails: down for another cooldown
                self._probing, self._down_since = False, time.monotonic()
                return False
            if self._down_since is None and self._count >= self.failures:
                self._down_since = time.monotonic()
                return True
            return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _png_data_url(crop) -> str:
    buffer = io.BytesIO()
    Image.fromarray(crop).convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _content_text(content: object) -> str | None:
    """The assistant's text: a string, or (some servers) a list of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "".join(parts) if parts else None
    return None


def _mentions_response_format(body: str) -> bool:
    lowered = body.lower()
    return any(word in lowered for word in ("response_format", "json_schema", "response format", "json schema"))


@dataclass
class EndpointVerifier:
    endpoint: str = DEFAULT_ENDPOINT
    model_id: str = ""  # the served model's name; empty: the first model the server lists
    revision: str | None = None  # recorded with the run; the server decides what it serves
    api_key_env: str = API_KEY_ENV
    concurrency: int = 8
    timeout_s: float = 60.0  # the total deadline of one request, connection to last byte
    retries: int = 3
    threshold: float = 0.5
    max_new_tokens: int = 128
    backoff_s: float = 1.0  # first retry waits about this long, doubling each time, plus jitter
    max_body_bytes: int = MAX_BODY_BYTES  # an answer larger than this is refused unread
    breaker_failures: int = 5  # failed requests in a row that mark the server down
    breaker_cooldown_s: float = 30.0  # while down, one request tries the server again this often
    name: str = "endpoint"
    served_models: list[str] = field(default_factory=list, init=False)
    _breaker: CircuitBreaker = field(init=False, repr=False)
    _use_schema: bool = field(default=True, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.endpoint = self.endpoint.strip().rstrip("/")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ModelUnavailable(
                f"The VLM endpoint '{self.endpoint}' is not an http(s) URL: pass --vlm-endpoint "
                "http://HOST:PORT/v1 (the base URL of an OpenAI-compatible server such as vLLM).")
        self.concurrency = max(1, int(self.concurrency))
        self.retries = max(0, int(self.retries))
        self._breaker = CircuitBreaker(failures=self.breaker_failures, cooldown_s=self.breaker_cooldown_s)
        self.check()

    # -- HTTP ---------------------------------------------------------------------------------------

    def _api_key(self) -> str:
        return os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""

    def _redact(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, "***") if key else text

    def _request(self, method: str, path: str, payload: dict | None, *, timeout: float) -> dict:
        """One HTTP exchange within `timeout` seconds in all; the decoded JSON body, or EndpointError (never the
        key in its text)."""
        url = f"{self.endpoint}{path}"
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        key = self._api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        late = EndpointError(f"timed out: no complete answer from {url} within {timeout:g} s (the request's "
                             "deadline; the server is stalled or overloaded)", retryable=True)
        with _Deadline(timeout) as deadline:
            try:
                with _opener().open(request, timeout=timeout) as response:
                    raw = self._read_capped(response, url)
            except _Redirected as e:
                raise self._redirect_error(url, e.code, e.target) from None
            except urllib.error.HTTPError as e:
                if deadline.expired:
                    raise late from None
                raise self._http_error(url, e) from None
            except TimeoutError:
                raise late from None
            except urllib.error.URLError as e:
                if deadline.expired or isinstance(e.reason, TimeoutError):
                    raise late from None
                raise EndpointError(f"cannot connect: {url} ({self._redact(str(e.reason))})", retryable=True) from None
            except (OSError, http.client.HTTPException) as e:  # reset, refused mid-way, incomplete read
                if deadline.expired:
                    raise late from None
                raise EndpointError(f"connection error with {url} ({type(e).__name__}: {self._redact(str(e))})",
                                    retryable=True) from None
            if deadline.expired:  # the socket was shut mid-body: what came is not the whole answer
                raise late
        try:
            return safe_json.loads(raw.decode("utf-8"), max_depth=MAX_ANSWER_DEPTH)  # type: ignore[return-value]
        except safe_json.JsonTooDeep as e:
            raise EndpointError(f"the answer from {url} is JSON {e}, not an OpenAI-compatible answer",
                                retryable=False) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            snippet = self._redact(" ".join(raw[:200].decode("utf-8", "replace").split()))
            raise EndpointError(f"the answer from {url} is not JSON: {snippet!r}", retryable=False) from None

    def _too_large(self, url: str, size: str) -> EndpointError:
        return EndpointError(
            f"the answer from {url} is larger than {self.max_body_bytes / 1e6:g} MB ({size}); a verdict is a few "
            "hundred bytes: check that --vlm-endpoint is an OpenAI-compatible chat server", retryable=False)

    def _read_capped(self, response: http.client.HTTPResponse, url: str) -> bytes:
        """The body, read a chunk at a time up to `max_body_bytes` (a larger one is refused, not read on)."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            raise self._too_large(url, f"Content-Length {int(length):,} bytes")
        chunks, size = [], 0
        while chunk := response.read1(READ_CHUNK):  # one socket read at most: the deadline can cut it short
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large(url, "read so far")
            chunks.append(chunk)
        return b"".join(chunks)

    def _redirect_error(self, url: str, code: int, target: str) -> EndpointError:
        where = f" to {self._redact(target)[:200]}" if target else ""
        return EndpointError(
            f"HTTP {code} from {url}: a redirect{where}, not followed (it could take the API key to another server, "
            "and would turn the request into one without the image); pass the server's own address with "
            "--vlm-endpoint", retryable=False, status=code)

    def _http_error(self, url: str, e: urllib.error.HTTPError) -> EndpointError:
        if 300 <= e.code < 400:  # a redirect without a usable Location
            e.close()
            return self._redirect_error(url, e.code, "")
        try:
            body = e.read(MAX_ERROR_BODY_BYTES).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            body = ""
        finally:
            e.close()
        body = self._redact(body)
        retryable = e.code == 429 or e.code >= 500
        detail = " ".join(body.split())[:300]
        return EndpointError(
            f"HTTP {e.code} from {url}" + (f": {detail}" if detail else ""), retryable=retryable,
            status=e.code, retry_after=parse_retry_after(e.headers.get("Retry-After") if e.headers else None),
            body=body)

    def _backoff(self, attempt: int, error: EndpointError) -> float:
        """The wait before the next try: the server's Retry-After when it fits within one request's deadline
        (a longer one gives up on this candidate: EndpointError saying so), else exponential with jitter."""
        if error.retry_after is not None:
            if error.retry_after > self.timeout_s:
                raise EndpointError(
                    f"{error}; the server asks to retry after {error.retry_after:.0f} s (Retry-After), longer than "
                    f"the {self.timeout_s:g} s LogoTag waits for one request, so not retried", retryable=False,
                    status=error.status)
            return error.retry_after
        base = self.backoff_s * (2 ** attempt)
        return min(base + random.uniform(0, self.backoff_s), self.timeout_s)

    # -- start-up check -----------------------------------------------------------------------------

    def check(self) -> None:
        """Ask the server which models it serves; ModelUnavailable when it cannot be used."""
        url = f"{self.endpoint}/models"
        fix = (f"Start the server (for example `vllm serve {self.model_id or 'Qwen/Qwen2.5-VL-7B-Instruct'}`) "
               "or check --vlm-endpoint (the base URL ending in /v1).")
        try:
            answer = self._request("GET", "/models", None, timeout=min(self.timeout_s, 30.0))
        except EndpointError as e:
            if e.status in (401, 403):
                raise ModelUnavailable(
                    f"The VLM endpoint {self.endpoint} refused the request (HTTP {e.status}): set the server's API "
                    f"key in the environment variable {self.api_key_env}.") from None
            if e.status == 404:
                if not self.model_id:
                    hint = "" if self.endpoint.endswith("/v1") else " (does the URL need /v1 at the end?)"
                    raise ModelUnavailable(
                        f"The VLM endpoint {self.endpoint} does not list its models at {url} (HTTP 404){hint}: "
                        "name the served model with --vlm-model.") from None
                log.info("%s does not list models (HTTP 404); using model '%s'", url, self.model_id)
                return
            raise ModelUnavailable(f"The VLM endpoint {self.endpoint} cannot be reached ({e}). {fix}") from None
        data = answer.get("data") if isinstance(answer, dict) else None
        self.served_models = [str(m["id"]) for m in data or [] if isinstance(m, dict) and m.get("id")]
        if not self.served_models:
            if not self.model_id:
                raise ModelUnavailable(
                    f"The VLM endpoint {self.endpoint} lists no models at {url}: name the served model with "
                    "--vlm-model, or check that the server finished loading.")
            return
        if not self.model_id:
            self.model_id = self.served_models[0]
            log.info("VLM endpoint %s: using its first served model '%s'", self.endpoint, self.model_id)
        elif self.model_id not in self.served_models:
            raise ModelUnavailable(
                f"The VLM endpoint {self.endpoint} does not serve model '{self.model_id}'; it serves: "
                f"{', '.join(self.served_models)}. Pass one of them with --vlm-model.")

    # -- verification -------------------------------------------------------------------------------

    def _payload(self, item: VerifyItem, image_url: str, *, schema: bool) -> dict:
        payload = {
            "model": self.model_id,
            "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": image_url}},
                {"type": "text", "text": PROMPT.format(brand=item.candidate.brand)},
            ]}],
            "temperature": 0,
            "max_tokens": self.max_new_tokens,
        }
        if schema:
            payload["response_format"] = RESPONSE_FORMAT
        return payload

    def _ask(self, item: VerifyItem) -> str:
        """The model's text for one item, after retries; EndpointError when it finally fails."""
        image_url = _png_data_url(item.crop)
        attempt = 0
        while True:
            refusal = self._breaker.refusal()
            if refusal is not None:
                raise EndpointError(refusal, retryable=False, down=True)
            schema = self._use_schema
            try:
                answer = self._request("POST", "/chat/completions", self._payload(item, image_url, schema=schema),
                                       timeout=self.timeout_s)
            except EndpointError as e:
                if schema and e.status == 400 and _mentions_response_format(e.body):
                    with self._lock:
                        if self._use_schema:
                            self._use_schema = False
                            log.warning("VLM endpoint %s does not take a JSON schema in response_format; "
                                        "asking without it (answers are parsed all the same)", self.endpoint)
                    continue  # asked again at once, without the schema; not counted as a retry
                wait = None
                if e.retryable and attempt < self.retries:
                    try:
                        wait = self._backoff(attempt, e)
                    except EndpointError as refused:  # a Retry-After past the deadline: given up on
                        e = refused
                # A rate limit waited out is the server pacing us, not failing: only the rest counts as down.
                if (e.status != 429 or wait is None) and self._breaker.failure(str(e)):
                    log.warning("VLM endpoint %s marked down after %d failed requests in a row (the last: %s); "
                                "the candidates left are not asked and stay unsure; one request tries it again "
                                "every %g s", self.endpoint, self._breaker.failures, e, self.breaker_cooldown_s)
                if wait is None:
                    raise e from None
                attempt += 1
                log.warning("VLM endpoint request failed (%s); retry %d of %d in %.1f s",
                            e, attempt, self.retries, wait)
                time.sleep(wait)
                continue
            self._breaker.success()
            try:
                content = answer["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                raise EndpointError("the answer has no choices[0].message.content", retryable=False) from None
            text = _content_text(content)
            if text is None:
                raise EndpointError("the answer's message has no text content", retryable=False)
            return text

    def _verify_one(self, item: VerifyItem) -> Verdict:
        """One candidate's verdict; whatever the server does, an UNSURE one with the reason, never an exception:
        asking, parsing and judging the answer are guarded together."""
        try:
            raw = self._ask(item)
            return verdict_from_text(raw, threshold=self.threshold, method=self.name)
        except EndpointError as e:
            if e.down:
                log.debug("VLM endpoint is down; a '%s' candidate is left unsure", item.candidate.brand)
                return Verdict(VerdictState.UNSURE, None, f"not verified: {e}; check the server and run again to "
                               "verify these candidates", "", self.name)
            log.warning("VLM endpoint gave no verdict for a '%s' candidate: %s", item.candidate.brand, e)
            return Verdict(VerdictState.UNSURE, None, f"endpoint request failed: {e}", "", self.name)
        except Exception as e:  # one bad item never stops the run
            message = self._redact(f"{type(e).__name__}: {e}")[:500]
            log.warning("VLM endpoint verification failed for a '%s' candidate: %s", item.candidate.brand, message)
            return Verdict(VerdictState.UNSURE, None, f"endpoint request failed: {message}", "", self.name)

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        if not items:
            return []
        workers = min(self.concurrency, len(items))
        if workers == 1:
            return [self._verify_one(i) for i in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="logotag-endpoint") as pool:
            return list(pool.map(self._verify_one, items))
