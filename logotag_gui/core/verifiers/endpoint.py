"""Endpoint verifier: asks a served VLM for a strict-JSON verdict over the OpenAI-compatible chat API.

Any server that speaks `POST {base}/chat/completions` with image parts works: vLLM, SGLang,
llama.cpp's server, TGI. Each candidate crop is one request (a PNG data URL and the same prompt the
local VLM verifier uses); `concurrency` requests are in flight at once. The JSON schema goes in
`response_format` so that servers with guided decoding answer valid JSON; a server that refuses the
field is asked again without it, and not asked with it again. The answer is parsed by the same strict
parser as the local verifier.

The API key, if the server wants one, is read from an environment variable (`api_key_env`) at each
request and sent as `Authorization: Bearer`; it is never stored on the object, logged, or put in a
message.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import io
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from PIL import Image

from logotag_gui.core.base.errors import ModelUnavailable
from logotag_gui.core.base.records import Verdict, VerdictState
from logotag_gui.core.verifiers import VerifyItem
from logotag_gui.core.verifiers.json_verdict import verdict_from_text
from logotag_gui.core.verifiers.vlm import PROMPT

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "http://localhost:8000/v1"  # vLLM's and SGLang's usual address (SGLang: port 30000)
API_KEY_ENV = "LOGOTAG_VLM_API_KEY"
MAX_RETRY_AFTER_S = 120.0  # a server's Retry-After is honoured up to this long

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
    """One request that failed; `retryable` says whether asking again may help."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, body: str = "") -> None:
        super().__init__(message)
        self.retryable, self.status, self.retry_after, self.body = retryable, status, retry_after, body


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
    timeout_s: float = 60.0
    retries: int = 3
    threshold: float = 0.5
    max_new_tokens: int = 128
    backoff_s: float = 1.0  # first retry waits about this long, doubling each time, plus jitter
    name: str = "endpoint"
    served_models: list[str] = field(default_factory=list, init=False)
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
        self.check()

    # -- HTTP ---------------------------------------------------------------------------------------

    def _api_key(self) -> str:
        return os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""

    def _redact(self, text: str) -> str:
        key = self._api_key()
        return text.replace(key, "***") if key else text

    def _request(self, method: str, path: str, payload: dict | None, *, timeout: float) -> dict:
        """One HTTP exchange; the decoded JSON body, or EndpointError (never the key in its text)."""
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
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            try:
                body = e.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException):
                body = ""
            finally:
                e.close()
            body = self._redact(body)
            retryable = e.code == 429 or e.code >= 500
            detail = " ".join(body.split())[:300]
            raise EndpointError(
                f"HTTP {e.code} from {url}" + (f": {detail}" if detail else ""), retryable=retryable,
                status=e.code, retry_after=parse_retry_after(e.headers.get("Retry-After") if e.headers else None),
                body=body) from None
        except TimeoutError:
            raise EndpointError(f"no answer from {url} within {timeout:g} s (timed out)", retryable=True) from None
        except urllib.error.URLError as e:
            reason = e.reason
            kind = "timed out" if isinstance(reason, TimeoutError) else "cannot connect"
            raise EndpointError(f"{kind}: {url} ({self._redact(str(reason))})", retryable=True) from None
        except (OSError, http.client.HTTPException) as e:  # reset, refused mid-way, incomplete read
            raise EndpointError(f"connection error with {url} ({type(e).__name__}: {self._redact(str(e))})",
                                retryable=True) from None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            snippet = self._redact(" ".join(raw[:200].decode("utf-8", "replace").split()))
            raise EndpointError(f"the answer from {url} is not JSON: {snippet!r}", retryable=False) from None

    def _backoff(self, attempt: int, error: EndpointError) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER_S)
        base = self.backoff_s * (2 ** attempt)
        return base + random.uniform(0, self.backoff_s)

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
                if not e.retryable or attempt >= self.retries:
                    raise
                wait = self._backoff(attempt, e)
                attempt += 1
                log.warning("VLM endpoint request failed (%s); retry %d of %d in %.1f s",
                            e, attempt, self.retries, wait)
                time.sleep(wait)
                continue
            try:
                content = answer["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                raise EndpointError("the answer has no choices[0].message.content", retryable=False) from None
            text = _content_text(content)
            if text is None:
                raise EndpointError("the answer's message has no text content", retryable=False)
            return text

    def _verify_one(self, item: VerifyItem) -> Verdict:
        try:
            raw = self._ask(item)
        except EndpointError as e:
            log.warning("VLM endpoint gave no verdict for a '%s' candidate: %s", item.candidate.brand, e)
            return Verdict(VerdictState.UNSURE, None, f"endpoint request failed: {e}", "", self.name)
        except Exception as e:  # one bad item never stops the run
            message = self._redact(f"{type(e).__name__}: {e}")
            log.warning("VLM endpoint verification failed for a '%s' candidate: %s", item.candidate.brand, message)
            return Verdict(VerdictState.UNSURE, None, f"endpoint request failed: {message}", "", self.name)
        return verdict_from_text(raw, threshold=self.threshold, method=self.name)

    def verify(self, items: Sequence[VerifyItem]) -> list[Verdict]:
        if not items:
            return []
        workers = min(self.concurrency, len(items))
        if workers == 1:
            return [self._verify_one(i) for i in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="logotag-endpoint") as pool:
            return list(pool.map(self._verify_one, items))
