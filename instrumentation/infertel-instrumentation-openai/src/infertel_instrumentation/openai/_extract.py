"""Read GenAI attributes out of openai request keyword arguments and response objects.

Everything here is duck-typed (``getattr`` with defaults) so that it works across openai
versions and with ``dict`` responses; it never raises on unexpected shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infertel import semconv

# openai keyword argument -> key of infertel's ``request=`` mapping (the gen_ai.request.* suffix)
_REQUEST_PARAMS = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("max_tokens", "max_tokens"),
    ("max_completion_tokens", "max_tokens"),
    ("frequency_penalty", "frequency_penalty"),
    ("presence_penalty", "presence_penalty"),
    ("seed", "seed"),
)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def get(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]`` for mappings, ``default`` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def request_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``request=`` mapping for :func:`infertel.inference` from ``create()`` keyword arguments.

    openai's ``NOT_GIVEN``/``omit`` sentinels and ``None`` are skipped because they are neither
    numbers nor strings.
    """
    params: dict[str, Any] = {}
    for argument, key in _REQUEST_PARAMS:
        value = kwargs.get(argument)
        if _is_number(value) and key not in params:
            params[key] = value
    stop = kwargs.get("stop")
    if isinstance(stop, str):
        params["stop_sequences"] = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        params["stop_sequences"] = list(stop)
    n = kwargs.get("n")
    if _is_number(n) and n != 1:
        params["choice_count"] = n
    return params


def extra_request_attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Request attributes outside ``gen_ai.request.*`` (embeddings format and size, service tier, output type)."""
    attributes: dict[str, Any] = {}
    encoding_format = kwargs.get("encoding_format")
    if isinstance(encoding_format, str):
        attributes[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding_format]
    dimensions = kwargs.get("dimensions")
    if _is_number(dimensions):
        attributes[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    service_tier = kwargs.get("service_tier")
    extra_body = kwargs.get("extra_body")
    if service_tier is None and isinstance(extra_body, Mapping):  # older clients pass it in the body
        service_tier = extra_body.get("service_tier")
    if isinstance(service_tier, str) and service_tier != "auto":
        attributes[semconv.OPENAI_REQUEST_SERVICE_TIER] = service_tier
    response_format = kwargs.get("response_format")
    if isinstance(response_format, Mapping):
        response_format = response_format.get("type")
    if isinstance(response_format, str) and response_format:
        # gen_ai.output.type is the modality: a JSON object, with or without a schema, is "json".
        attributes[semconv.GEN_AI_OUTPUT_TYPE] = _OUTPUT_TYPES.get(response_format, response_format)
    return attributes


_OUTPUT_TYPES = {"json_object": "json", "json_schema": "json"}


def server_address(instance: Any) -> tuple[str | None, int | None]:
    """Host and port of the client's ``base_url`` (the scheme's default port when none is given)."""
    client = getattr(instance, "_client", None)
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None)
    if not isinstance(host, str) or not host:
        return None, None
    port = getattr(url, "port", None)
    if not isinstance(port, int):
        scheme = getattr(url, "scheme", "")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    return host, port


def _text_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, (list, tuple)):
        for part in content:
            if get(part, "type") == "text" and isinstance(get(part, "text"), str):
                parts.append({"type": "text", "content": get(part, "text")})
    return parts


def input_messages(operation: str, kwargs: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The prompt as ``gen_ai.input.messages`` (role plus text parts), or ``None`` if there is none."""
    if operation == semconv.GEN_AI_OPERATION_CHAT:
        messages = kwargs.get("messages")
        if not isinstance(messages, (list, tuple)):
            return None
        return [{"role": str(get(m, "role", "user")), "parts": _text_parts(get(m, "content"))} for m in messages]
    prompt = kwargs.get("prompt") if operation == semconv.GEN_AI_OPERATION_TEXT_COMPLETION else kwargs.get("input")
    if isinstance(prompt, str):
        return [{"role": "user", "parts": _text_parts(prompt)}]
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return [{"role": "user", "parts": _text_parts(p)} for p in prompt]
    return None


def output_message(text: str, finish_reason: str | None) -> dict[str, Any]:
    """One choice as a ``gen_ai.output.messages`` entry."""
    message: dict[str, Any] = {"role": "assistant", "parts": _text_parts(text)}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message


def choice_text(choice: Any) -> str | None:
    """Text of a chat or completion choice (``message.content`` or ``text``)."""
    message = get(choice, "message")
    if message is not None:
        content = get(message, "content")
        return content if isinstance(content, str) else None
    text = get(choice, "text")
    return text if isinstance(text, str) else None


def delta_text(choice: Any) -> str | None:
    """Text carried by a stream chunk's choice (``delta.content`` or ``text``)."""
    delta = get(choice, "delta")
    if delta is not None:
        content = get(delta, "content")
        return content if isinstance(content, str) else None
    text = get(choice, "text")
    return text if isinstance(text, str) else None


def delta_has_output(choice: Any) -> bool:
    """Whether a stream chunk's choice carries generated output (text, refusal or a tool call)."""
    if delta_text(choice):
        return True
    delta = get(choice, "delta")
    return bool(
        delta is not None and (get(delta, "tool_calls") or get(delta, "refusal") or get(delta, "function_call"))
    )


def usage_details(usage: Any) -> dict[str, int]:
    """``gen_ai.usage.*`` detail attributes of a ``usage`` object: cached input and reasoning output tokens."""
    found: dict[str, int] = {}
    if usage is None:
        return found
    cached = get(get(usage, "prompt_tokens_details"), "cached_tokens")
    if _is_number(cached) and not isinstance(cached, float):
        found[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = get(get(usage, "completion_tokens_details"), "reasoning_tokens")
    if _is_number(reasoning) and not isinstance(reasoning, float):
        found[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return found


def usage_tokens(usage: Any) -> tuple[int | None, int | None]:
    """(input, output) token counts of an openai ``usage`` object; ``None`` where absent."""
    if usage is None:
        return None, None
    prompt = get(usage, "prompt_tokens")
    completion = get(usage, "completion_tokens")
    return (prompt if _is_number(prompt) else None, completion if _is_number(completion) else None)
