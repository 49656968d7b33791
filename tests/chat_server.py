"""A small OpenAI-compatible chat-completions server for tests (standard library only).

It serves `GET /v1/models` and `POST /v1/chat/completions` on 127.0.0.1 (a free port) in a thread.
Answers come from a backend (`TinyVlmBackend`: the real `VlmVerifier.generate` over the tiny random
VLM the tests build), a fixed content string, or a script of steps consumed one per chat request
(HTTP errors, Retry-After, a dropped connection, a delay past the client's timeout). Every request
is recorded with its headers, body and arrival time, and the server counts how many chat requests
were in flight at once.

Hostile steps play a served VLM that tries to break the client: a redirect elsewhere (a 3xx status with
a `Location` header), an answer trickled a byte at a time (`trickle_s`, headers included when
`trickle_headers`), a huge body (`body` as a long string), a deeply nested `content`. Everything stays
on 127.0.0.1 and ends when the server stops.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from logotag_gui.core.verifiers.vlm import PROMPT

DATA_URL_PREFIX = "data:image/png;base64,"
_PROMPT_HEAD, _PROMPT_TAIL = PROMPT.format(brand="\0").split("\0")

# A backend answers (image, prompt text, max_tokens) with the assistant's text.
Backend = Callable[[Image.Image, str, int], str]


def brand_from_prompt(text: str) -> str | None:
    """The brand a LogoTag prompt asks about, or None when the text is not that prompt."""
    if text.startswith(_PROMPT_HEAD) and text.endswith(_PROMPT_TAIL) and len(text) >= len(_PROMPT_HEAD) + len(_PROMPT_TAIL):
        return text[len(_PROMPT_HEAD):len(text) - len(_PROMPT_TAIL)]
    return None


class TinyVlmBackend:
    """Runs the local verifier's real generate() on the decoded image; one generation at a time."""

    def __init__(self, vlm, *, max_tokens_cap: int = 16) -> None:
        self.vlm, self.cap = vlm, max_tokens_cap
        self._lock = threading.Lock()

    def __call__(self, image: Image.Image, text: str, max_tokens: int) -> str:
        brand = brand_from_prompt(text)
        if brand is None:
            raise ValueError("the text part is not LogoTag's prompt")
        with self._lock:
            self.vlm.max_new_tokens = max(1, min(max_tokens, self.cap))
            return self.vlm.generate([image], [brand])[0]


@dataclass
class Step:
    """One scripted answer to a chat request."""

    status: int = 200
    content: str | None = None  # the assistant's text for a 200; None: the server's usual answer
    body: dict | str | None = None  # a whole body instead (errors, redirects, a hostile 200)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (past the client's timeout: a timeout)
    drop: bool = False  # close the connection without an answer
    trickle_s: float = 0.0  # send the body one byte at a time, this long apart (a stalling server)
    trickle_headers: bool = False  # trickle the status line and headers too, not only the body


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    at: float


class ChatServer:
    def __init__(self, backend: Backend | None = None, *, models: Iterable[str] = ("tiny-vlm",),
                 content: str | None = None, delay_s: float = 0.0, api_key: str | None = None,
                 reject_response_format: bool = False, list_models: bool = True,
                 script: Iterable[Step] = (), models_redirect: str | None = None) -> None:
        self.backend, self.models, self.content, self.delay_s = backend, list(models), content, delay_s
        self.api_key, self.reject_response_format, self.list_models = api_key, reject_response_format, list_models
        self.script: deque[Step] = deque(script)
        self.models_redirect = models_redirect  # GET /v1/models answers 302 to this URL
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._count = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # ends trickling answers when the server stops

    # -- life cycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ChatServer:
        server = self

        class Handler(_Handler):
            chat = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="chat-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def push(self, *steps: Step) -> None:
        with self._lock:
            self.script.extend(steps)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- answers ------------------------------------------------------------------------------------

    def _next_step(self) -> Step | None:
        with self._lock:
            return self.script.popleft() if self.script else None

    def _authorised(self, headers: dict[str, str]) -> bool:
        return self.api_key is None or headers.get("authorization") == f"Bearer {self.api_key}"

    def answer_models(self, headers: dict[str, str]) -> tuple[int, dict, dict]:
        if not self._authorised(headers):
            return 401, {"error": {"message": "invalid API key", "type": "authentication_error"}}, {}
        if self.models_redirect:
            return 302, {}, {"Location": self.models_redirect}
        if not self.list_models:
            return 404, {"error": {"message": "not found"}}, {}
        return 200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "test"} for m in self.models]}, {}

    def answer_chat(self, headers: dict[str, str], body: dict | None) -> tuple[tuple[int, dict | str, dict] | None,
                                                                             Step | None]:
        """The answer (None: drop the connection) and the step it came from (how to send it)."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        step = self._next_step()
        try:
            return self._chat(headers, body, step), step
        finally:
            with self._lock:
                self.in_flight -= 1

    def _chat(self, headers: dict[str, str], body: dict | None,
              step: Step | None) -> tuple[int, dict | str, dict] | None:
        delay = step.delay_s if step is not None and step.delay_s else self.delay_s
        if delay:
            time.sleep(delay)
        if step is not None and step.drop:
            return None
        if not self._authorised(headers):
            return _error(401, "invalid API key")
        if not isinstance(body, dict):
            return _error(400, "the body is not a JSON object")
        if self.reject_response_format and "response_format" in body:
            return _error(400, "response_format of type json_schema is not supported by this server")
        if step is not None and (step.status != 200 or step.body is not None):  # errors, redirects, odd bodies
            return step.status, step.body if step.body is not None else {"error": {"message": f"scripted {step.status}"}}, step.headers
        model = body.get("model")
        if model not in self.models:
            return _error(404, f"The model `{model}` does not exist.")
        try:
            image, text = _image_and_text(body)
        except ValueError as e:
            return _error(400, str(e))
        if step is not None and step.content is not None:
            content = step.content
        elif self.content is not None:
            content = self.content
        elif self.backend is not None:
            content = self.backend(image, text, int(body.get("max_tokens") or 16))
        else:
            return _error(500, "no backend")
        with self._lock:
            self._count += 1
            number = self._count
        return 200, {
            "id": f"chatcmpl-{number}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }, {}


def _error(status: int, message: str) -> tuple[int, dict, dict]:
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": status}}, {}


def _image_and_text(body: dict) -> tuple[Image.Image, str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    parts = messages[-1].get("content")
    if not isinstance(parts, list):
        raise ValueError("the user message must have content parts")
    urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    texts = [p["text"] for p in parts if p.get("type") == "text"]
    if len(urls) != 1 or len(texts) != 1:
        raise ValueError("expected one image_url part and one text part")
    if not urls[0].startswith(DATA_URL_PREFIX):
        raise ValueError("the image must be a PNG data URL")
    image = Image.open(io.BytesIO(base64.b64decode(urls[0][len(DATA_URL_PREFIX):], validate=True)))
    image.load()
    return image.convert("RGB"), texts[0]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # a client that gave up (timeout) is expected
        pass


class _Handler(BaseHTTPRequestHandler):
    chat: ChatServer

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def _record(self, body: dict | None) -> dict[str, str]:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.chat._lock:
            self.chat.requests.append(Recorded(self.command, self.path, headers, body, time.monotonic()))
        return headers

    def _send(self, status: int, payload: dict | str, headers: dict[str, str], step: Step | None = None) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode("utf-8")
        if step is not None and step.trickle_s:
            self._trickle(status, data, headers, step)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, status: int, data: bytes, headers: dict[str, str], step: Step) -> None:
        """Send the answer a byte at a time; stops when the client hangs up or the server stops."""
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", "Content-Type: application/json",
                f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in headers.items())]
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        self.close_connection = True
        try:
            if not step.trickle_headers:
                self.wfile.write(head_bytes)
                self.wfile.flush()
            for byte in (head_bytes + data if step.trickle_headers else data):
                if self.chat.stopping.wait(step.trickle_s):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:  # the client gave up: what a trickling server is for
            return

    def do_GET(self) -> None:
        headers = self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            self._send(*self.chat.answer_models(headers))
        else:
            self._send(*_error(404, f"no route {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        headers = self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(*_error(404, f"no route {self.path}"))
            return
        answer, step = self.chat.answer_chat(headers, body)
        if answer is None:  # a dropped connection
            self.close_connection = True
            return
        self._send(*answer, step=step)
