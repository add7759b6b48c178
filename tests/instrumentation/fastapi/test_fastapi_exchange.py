"""The request/response bookkeeping alone: SSE parsing, usage, bounds, timings."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("infertel_instrumentation.fastapi")

from infertel_instrumentation.fastapi._exchange import MAX_REQUEST_BYTES, Exchange  # noqa: E402

SSE = [(b"content-type", b"text/event-stream; charset=utf-8")]


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _delta(text: str | None, finish: str | None = None) -> dict[str, object]:
    delta = {} if text is None else {"content": text}
    return {"id": "c1", "model": "m-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_request_body_in_pieces_gives_model_and_parameters() -> None:
    exchange = Exchange("chat", 0)
    body = json.dumps({"messages": [], "model": "llama", "temperature": 0.5, "max_tokens": 9, "stream": True}).encode()
    exchange.on_request_body(body[:10], True)
    exchange.on_request_body(body[10:], False)
    assert exchange.model == "llama"
    assert exchange.request_params == {"temperature": 0.5, "max_tokens": 9}


def test_oversized_request_body_is_bounded_and_searched_for_the_model() -> None:
    exchange = Exchange("chat", 0)
    prefix = b'{"model": "big-model", "messages": [{"content": "'
    exchange.on_request_body(prefix, True)
    exchange.on_request_body(b"x" * (MAX_REQUEST_BYTES + 10), True)
    exchange.on_request_body(b'"}]}', False)
    assert exchange.model == "big-model"
    assert len(exchange._request) == 0  # released after parsing


def test_sse_events_split_across_messages_are_counted_once() -> None:
    exchange = Exchange("chat", 1_000)
    exchange.on_response_start(200, SSE)
    stream = (
        _event({"id": "c1", "model": "m-1", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        + _event(_delta("a"))
        + _event(_delta("b"))
        + _event(_delta(None, "stop"))
        + b"data: [DONE]\n\n"
    )
    cut = len(stream) // 2
    exchange.on_response_body(stream[:cut], 2_000)
    exchange.on_response_body(stream[cut:], 3_000)
    exchange.on_response_complete(3_500)
    assert exchange.streaming is True
    assert exchange.chunk_tokens == 2
    assert exchange.chunks == 4
    assert exchange.total_output_tokens == 2
    assert exchange.response_model == "m-1"
    assert exchange.response_id == "c1"
    assert exchange.finish_reasons == ["stop"]
    assert exchange.first_token_ns in (2_000, 3_000)
    assert exchange.last_token_ns == 3_000


def test_stream_usage_wins_over_the_chunk_count_and_timings_follow_it() -> None:
    exchange = Exchange("chat", 0)
    exchange.on_response_start(200, SSE)
    exchange.on_response_body(_event(_delta("a")), 100_000_000)
    exchange.on_response_body(_event(_delta("b")), 300_000_000)
    usage = {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9}
    exchange.on_response_body(_event({"id": "c1", "model": "m-1", "choices": [], "usage": usage}), 310_000_000)
    exchange.on_response_complete(320_000_000)
    assert (exchange.input_tokens, exchange.total_output_tokens) == (4, 5)
    assert exchange.time_to_first_token_s() == pytest.approx(0.1)
    assert exchange.time_per_output_token_s() == pytest.approx(0.2 / 4)


def test_non_stream_json_usage() -> None:
    exchange = Exchange("text_completion", 0)
    exchange.on_response_start(200, [(b"content-type", b"application/json")])
    body = json.dumps(
        {
            "id": "r",
            "model": "m",
            "choices": [{"text": "x", "finish_reason": "length"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    ).encode()
    exchange.on_response_body(body[:5], 1)
    exchange.on_response_body(body[5:], 2)
    exchange.on_response_complete(2)
    assert (exchange.input_tokens, exchange.total_output_tokens) == (3, 2)
    assert exchange.finish_reasons == ["length"]
    assert exchange.time_to_first_token_s() is None
    assert exchange.time_per_output_token_s() is None


def test_disconnect_after_completion_is_not_a_disconnect() -> None:
    exchange = Exchange("chat", 0)
    exchange.completing = True
    exchange.on_disconnect()
    assert exchange.disconnected is False
    other = Exchange("chat", 0)
    other.on_disconnect()
    assert other.disconnected is True


def test_non_json_sse_data_counts_one_token_per_event() -> None:
    exchange = Exchange("chat", 0)
    exchange.on_response_start(200, SSE)
    exchange.on_response_body(b"data: hello\n\ndata: world\n\ndata: [DONE]\n\n", 5)
    assert exchange.chunk_tokens == 2


def test_token_chunks_counted_without_parsing_match_a_full_parse() -> None:
    exchange = Exchange("chat", 0)
    exchange.on_response_start(200, SSE)
    two_choices = {
        "id": "c1",
        "model": "m-1",
        "choices": [{"index": 0, "delta": {"content": "x"}}, {"index": 1, "delta": {"content": "y"}}],
    }
    tool_call = {"id": "c1", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0}]}}]}
    empty = {"id": "c1", "choices": [{"index": 0, "delta": {"content": ""}}]}
    quoted = {"id": "c1", "choices": [{"index": 0, "delta": {"content": 'say "content": "no"'}}]}
    for i, payload in enumerate((_delta(None), two_choices, tool_call, empty, quoted, _delta(None, "length"))):
        exchange.on_response_body(_event(payload), i + 1)
    assert exchange.chunk_tokens == 2 + 1 + 0 + 1
    assert exchange.finish_reasons == ["length"]
    assert (exchange.first_token_ns, exchange.last_token_ns) == (2, 5)


def test_crlf_separated_events() -> None:
    exchange = Exchange("text_completion", 0)
    exchange.on_response_start(200, SSE)
    exchange.on_response_body(b'data: {"choices": [{"text": "a"}]}\r\n\r\ndata: {"choices": [{"text": "b"}]}\r\n', 1)
    exchange.on_response_body(b"\r\n", 2)
    assert exchange.chunk_tokens == 2
