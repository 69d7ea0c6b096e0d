"""A local chat-completions server for tests and benchmarks, with programmable misbehaviour.

It is a real HTTP server (``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port, a
background thread) speaking ``POST /v1/chat/completions`` in the OpenAI wire format, so a
judge under test goes through its real client, sockets and timeouts. What it does for each
request is programmable:

- ``reply``: the text to answer, a string or a function ``messages -> str``;
- ``delay``: seconds to wait before answering every request (simulated model latency);
- ``script``: kinds for the first requests, in order, then ``default`` for the rest. Kinds:
  ``"ok"`` (a normal answer), ``"length"`` (an answer cut off: ``finish_reason="length"``),
  ``"garbage"`` (status 200, a body that is not JSON, labelled JSON), ``"html"`` (status
  200, an HTML page, as from a misconfigured proxy), ``"hang"`` (never answers: waits until
  the server stops or ``hang_seconds`` pass, then drops the connection), ``"drop"`` (closes
  the connection without a response), or an HTTP status code such as ``"429"``, ``"500"``,
  ``"401"`` (an OpenAI-shaped error body; the 401 message repeats the key it received, as
  some servers do, so tests can check that the key is scrubbed from errors);
- ``logprobs``: when the request asks for ``logprobs``, the answer carries
  ``choices[0].logprobs.content`` in the chat-completions shape. Give either that content
  list, or a function ``messages -> list`` of ``(token, logprob, {alternative: logprob})``
  triples; ``top_logprobs`` in the request limits the alternatives returned.

Usage is counted as whitespace-separated words (prompt: all message contents; completion:
the reply), so tests can compute token counts and costs by hand.

The server records what it saw: ``requests`` (total), ``kinds`` (a Counter per kind),
``bodies`` (parsed request JSON), ``auth_headers`` (the Authorization headers received) and
``max_in_flight`` (the most requests being handled at once).

    with ChatServer(reply="perfect", delay=0.1) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Sequence

Reply = str | Callable[[list[dict]], str]
Logprobs = list | Callable[[list[dict]], list] | None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes bursts of 32+ simultaneous connects wait for SYN
    # retransmits (a full second each), which would distort the concurrency benchmark.
    request_queue_size = 256


class ChatServer:
    """See the module docstring. All counters are safe to read from the test thread."""

    def __init__(self, reply: Reply = "perfect", delay: float = 0.0, script: Sequence[str] = (),
                 default: str = "ok", logprobs: Logprobs = None, hang_seconds: float = 30.0):
        self.reply, self.delay, self.default = reply, delay, default
        self.script = list(script)
        self.logprobs, self.hang_seconds = logprobs, hang_seconds
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    # --- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> "ChatServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._stop.clear()
        self._server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()  # wakes "hang" handlers so they drop their connections
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def reset(self, script: Sequence[str] | None = None) -> None:
        """Clear the counters (and optionally set a new script) between two runs of a test."""
        with self._lock:
            if script is not None:
                self.script = list(script)
            self.requests = 0
            self.kinds: Counter[str] = Counter()
            self.bodies: list[dict] = []
            self.auth_headers: list[str | None] = []
            self.in_flight = 0
            self.max_in_flight = 0

    # --- bookkeeping used by the handler -----------------------------------------------
    def _admit(self, body: dict, auth: str | None) -> str:
        with self._lock:
            kind = self.script.pop(0) if self.script else self.default
            self.requests += 1
            self.kinds[kind] += 1
            self.bodies.append(body)
            self.auth_headers.append(auth)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return kind

    def _release(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _reply_text(self, messages: list[dict]) -> str:
        return self.reply(messages) if callable(self.reply) else self.reply

    def _logprobs_content(self, messages: list[dict], top_n: int) -> list[dict]:
        raw = self.logprobs(messages) if callable(self.logprobs) else self.logprobs
        content = []
        for entry in raw or []:
            if isinstance(entry, dict):  # already in the wire shape
                content.append({**entry, "top_logprobs": entry.get("top_logprobs", [])[:top_n]})
                continue
            token, logprob, alternatives = entry
            top = sorted(alternatives.items(), key=lambda kv: -kv[1])[:top_n]
            content.append({"token": token, "logprob": logprob, "bytes": list(token.encode()),
                            "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())}
                                             for t, lp in top]})
        return content


def _words(text: Any) -> int:
    return len(text.split()) if isinstance(text, str) else 0


def completion_body(model: str, text: str, finish_reason: str, prompt_tokens: int,
                    logprobs: list[dict] | None = None) -> dict:
    """A chat-completions response object with one choice."""
    completion_tokens = _words(text)
    return {
        "id": f"chatcmpl-test-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": finish_reason,
            "logprobs": None if logprobs is None else {"content": logprobs},
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def _make_handler(srv: ChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like real inference servers
        # Headers and body go out in separate writes; with Nagle's algorithm on, the body then
        # waits for the client's delayed ACK (~40 ms per response on Linux).
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
            else:
                self._send(404, _error("not found", "not_found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(f"no route {self.path}", "not_found"))
                return
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._send(400, _error("request body is not JSON", "invalid_request_error"))
                return
            kind = srv._admit(body, self.headers.get("Authorization"))
            try:
                if srv.delay:
                    time.sleep(srv.delay)
                self._answer(kind, body)
            finally:
                srv._release()

        def _answer(self, kind: str, body: dict) -> None:
            messages = body.get("messages") or []
            if kind == "hang":
                srv._stop.wait(srv.hang_seconds)
                self.close_connection = True
                return
            if kind == "drop":
                self.close_connection = True
                return
            if kind == "401":  # echo the key, as some servers do, to test that callers scrub it
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                self._send(401, _error(f"Incorrect API key provided: {token}", "invalid_api_key"))
                return
            if kind.isdigit():
                self._send(int(kind), _error(f"scripted status {kind}", "test_error"))
                return
            if kind == "garbage":
                self._send_raw(200, b"{this is not json", "application/json")
                return
            if kind == "html":
                self._send_raw(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
                return
            text = srv._reply_text(messages)
            finish = "length" if kind == "length" else "stop"
            logprobs = None
            if body.get("logprobs") and srv.logprobs is not None:
                logprobs = srv._logprobs_content(messages, int(body.get("top_logprobs") or 0))
            prompt_tokens = sum(_words(m.get("content")) for m in messages)
            self._send(200, completion_body(body.get("model", "test-model"), text, finish,
                                            prompt_tokens, logprobs))

        def _send(self, status: int, obj: dict) -> None:
            self._send_raw(status, json.dumps(obj).encode(), "application/json")

        def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

    return Handler


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
