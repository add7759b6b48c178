"""What one OpenAI-compatible request/response exchange looked like, read off the ASGI messages.

Pure bookkeeping, no ASGI and no OpenTelemetry: the middleware feeds it the request body
chunks it sees passing by, each response message and the clock; it works out the model, the
token counts (from ``usage`` or counted from the SSE chunks) and the stream timings. Every
buffer is bounded: a request body past :data:`MAX_REQUEST_BYTES` is only searched for the
model name, a non-streamed response past :data:`MAX_RESPONSE_BYTES` is not parsed, an SSE
event past :data:`MAX_EVENT_BYTES` is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 4 << 20
MAX_EVENT_BYTES = 1 << 20
MAX_MODEL_NAME = 256

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,256})"')
_EVENT_SEP = re.compile(rb"\r?\n\r?\n")
# Chunks are mostly plain token deltas: those are counted with one regex instead of a JSON parse.
# A chunk is parsed in full when it may carry something else we read (usage, a finish reason),
# and so is the first one (model and id).
_OUTPUT_RE = re.compile(rb'"(?:content|text|reasoning_content)"\s*:\s*"(?!")|"tool_calls"\s*:\s*\[')
_PARSE_RE = re.compile(rb'"usage"\s*:\s*\{|"finish_reason"\s*:\s*"')

# OpenAI request parameters recorded as gen_ai.request.* span attributes (name -> key).
REQUEST_PARAMETERS = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "seed")


class Exchange:
    """The state of one request on an instrumented route.

    Threading: one instance per request, touched only by the task serving it.

    Attributes:
        operation: ``gen_ai.operation.name`` of the route.
        start_ns: ``perf_counter_ns`` when the request reached the middleware.
        model: ``model`` of the request body, when found.
        request_params: Numeric OpenAI parameters of the request, by name.
        status: HTTP status of the response, once started.
        streaming: Whether the response is ``text/event-stream``.
        first_token_ns: When the first chunk carrying output left the server.
        last_token_ns: When the last chunk carrying output left the server.
        end_ns: When the last body message left the server (or the request ended).
        chunk_tokens: Output tokens counted from the SSE chunks (one per choice delta).
        input_tokens: ``usage`` prompt tokens, when the response carried them.
        output_tokens: ``usage`` completion tokens, when the response carried them.
        response_model: ``model`` of the response.
        response_id: ``id`` of the response.
        finish_reasons: ``finish_reason`` values seen, in order.
        chunks: Number of SSE data events (``[DONE]`` excluded).
        completed: The final body message (``more_body`` false) was handed to the server.
        completing: The final body message is being handed over (a disconnect now is no abort).
        annotated: The server span got its ``gen_ai.*`` attributes.
        disconnected: The client went away before the response completed.
        error_type: ``error.type`` of a failed request.
        server_address: Address the server listens on (``server.address``).
        server_port: Port the server listens on (``server.port``).
    """

    __slots__ = (
        "operation",
        "start_ns",
        "model",
        "request_params",
        "status",
        "streaming",
        "first_token_ns",
        "last_token_ns",
        "end_ns",
        "chunk_tokens",
        "input_tokens",
        "output_tokens",
        "response_model",
        "response_id",
        "finish_reasons",
        "chunks",
        "completed",
        "completing",
        "annotated",
        "disconnected",
        "error_type",
        "server_address",
        "server_port",
        "_request",
        "_request_overflow",
        "_response",
        "_response_overflow",
        "_pending",
    )

    def __init__(self, operation: str, start_ns: int) -> None:
        self.operation = operation
        self.start_ns = start_ns
        self.model: str | None = None
        self.request_params: dict[str, float | int] = {}
        self.status: int | None = None
        self.streaming = False
        self.first_token_ns: int | None = None
        self.last_token_ns: int | None = None
        self.end_ns: int | None = None
        self.chunk_tokens = 0
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] = []
        self.chunks = 0
        self.completed = False
        self.completing = False
        self.annotated = False
        self.disconnected = False
        self.error_type: str | None = None
        self.server_address: str | None = None
        self.server_port: int | None = None
        self._request = bytearray()
        self._request_overflow = False
        self._response = bytearray()
        self._response_overflow = False
        self._pending = bytearray()

    # --- request ------------------------------------------------------------------------------
    def on_request_body(self, body: bytes, more_body: bool) -> None:
        """Keep (a bounded prefix of) the request body; parse it once it is complete."""
        if body and not self._request_overflow:
            if len(self._request) + len(body) > MAX_REQUEST_BYTES:
                self._request += body[: MAX_REQUEST_BYTES - len(self._request)]
                self._request_overflow = True
            else:
                self._request += body
        if not more_body:
            self._parse_request()

    def _parse_request(self) -> None:
        raw = bytes(self._request)
        self._request = bytearray()
        payload: Any = None
        if not self._request_overflow:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
        if isinstance(payload, dict):
            model = payload.get("model")
            if isinstance(model, str) and model:
                self.model = model[:MAX_MODEL_NAME]
            for name in REQUEST_PARAMETERS:
                value = payload.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self.request_params[name] = value
            return
        match = _MODEL_RE.search(raw)
        if match is not None:
            self.model = match.group(1).decode("utf-8", "replace")

    def on_disconnect(self) -> None:
        """The server told the application that the client is gone."""
        if not (self.completed or self.completing):
            self.disconnected = True

    # --- response -----------------------------------------------------------------------------
    def on_response_start(self, status: int, headers: Any) -> None:
        """Note the status and whether the body is an SSE stream."""
        self.status = status
        for name, value in headers or ():
            if bytes(name).lower() == b"content-type":
                self.streaming = bytes(value).lower().startswith(b"text/event-stream")
                break

    def on_response_body(self, body: bytes, now_ns: int) -> None:
        """Account for one body message that has just left the server at ``now_ns``."""
        if self.disconnected:
            return
        self.end_ns = now_ns
        if not body:
            return
        if not self.streaming:
            if not self._response_overflow:
                if len(self._response) + len(body) > MAX_RESPONSE_BYTES:
                    self._response_overflow = True
                    self._response = bytearray()
                else:
                    self._response += body
            return
        if self._pending:
            self._pending += body
            data = bytes(self._pending)
        else:
            data = bytes(body)
        parts = _EVENT_SEP.split(data) if b"\r" in data else data.split(b"\n\n")
        rest = parts.pop()
        tokens = 0
        for event in parts:
            if event:
                tokens += self._on_event(event)
        self._pending = bytearray(rest) if rest and len(rest) <= MAX_EVENT_BYTES else bytearray()
        if tokens:
            self.chunk_tokens += tokens
            if self.first_token_ns is None:
                self.first_token_ns = now_ns
            self.last_token_ns = now_ns

    def _on_event(self, event: bytes) -> int:
        if event.startswith(b"data:") and b"\n" not in event:
            data = event[5:].strip()
        else:
            data = b"\n".join(line[5:].strip() for line in event.splitlines() if line.startswith(b"data:"))
        if not data or data == b"[DONE]":
            return 0
        self.chunks += 1
        if not data.startswith(b"{"):
            return 1  # not a JSON object: an opaque chunk of output
        if self.chunks > 1 and _PARSE_RE.search(data) is None:
            return len(_OUTPUT_RE.findall(data))
        try:
            payload = json.loads(data)
        except ValueError:
            return 1
        if not isinstance(payload, dict):
            return 1
        self._read_response_fields(payload)
        tokens = 0
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, Mapping) and _choice_has_output(choice):
                    tokens += 1
        return tokens

    def on_response_complete(self, now_ns: int) -> None:
        """The final body message left the server."""
        self.completed = True
        self.end_ns = now_ns
        if not self.streaming and self._response and not self._response_overflow:
            try:
                payload = json.loads(bytes(self._response))
            except ValueError:
                payload = None
            if isinstance(payload, dict):
                self._read_response_fields(payload)
        self._response = bytearray()
        self._pending = bytearray()

    def _read_response_fields(self, payload: Mapping[str, Any]) -> None:
        model = payload.get("model")
        if isinstance(model, str) and model:
            self.response_model = model[:MAX_MODEL_NAME]
        response_id = payload.get("id")
        if isinstance(response_id, str) and response_id:
            self.response_id = response_id[:MAX_MODEL_NAME]
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            prompt = _count(usage.get("prompt_tokens", usage.get("input_tokens")))
            completion = _count(usage.get("completion_tokens", usage.get("output_tokens")))
            if prompt is not None:
                self.input_tokens = prompt
            if completion is not None:
                self.output_tokens = completion
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, Mapping):
                    reason = choice.get("finish_reason")
                    if isinstance(reason, str) and reason and len(self.finish_reasons) < 16:
                        self.finish_reasons.append(reason)

    # --- results ------------------------------------------------------------------------------
    @property
    def total_output_tokens(self) -> int | None:
        """Output tokens: ``usage`` when the response had it, else the count from the chunks."""
        if self.output_tokens is not None:
            return self.output_tokens
        if self.streaming and self.chunk_tokens:
            return self.chunk_tokens
        return None

    def time_to_first_token_s(self) -> float | None:
        """Seconds from the request's arrival to the first output chunk leaving (streams only)."""
        if not self.streaming or self.first_token_ns is None:
            return None
        return max(self.first_token_ns - self.start_ns, 0) / 1e9

    def time_per_output_token_s(self) -> float | None:
        """``(last output chunk - first output chunk) / (output tokens - 1)`` for streams."""
        tokens = self.total_output_tokens
        if not self.streaming or self.first_token_ns is None or self.last_token_ns is None or not tokens:
            return None
        if tokens < 2:
            return None
        return max(self.last_token_ns - self.first_token_ns, 0) / 1e9 / (tokens - 1)


def _choice_has_output(choice: Mapping[str, Any]) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, Mapping):
        return bool(delta.get("content") or delta.get("tool_calls") or delta.get("reasoning_content"))
    return bool(choice.get("text"))


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
