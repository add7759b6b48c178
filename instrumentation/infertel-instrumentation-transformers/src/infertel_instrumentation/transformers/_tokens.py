"""Token counts, model facts and request parameters read from transformers/torch objects.

Counts come from the tensors themselves: input tokens are the attended prompt positions
(``attention_mask.sum()``, else every position of ``input_ids``), output tokens are, per returned
row, the generated positions up to and including the first end-of-sequence token (the padding a
finished row receives afterwards is not output), summed over the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from infertel import semconv

# generate() keyword argument -> key of infertel's ``request=`` mapping (the gen_ai.request.* suffix)
_REQUEST_PARAMS = (
    ("max_new_tokens", "max_tokens"),
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_tensor(value: object) -> TypeGuard[Any]:
    return hasattr(value, "shape") and hasattr(value, "dim")


def model_name(model: Any) -> str:
    """``config._name_or_path`` of the model, else its class name."""
    config = getattr(model, "config", None)
    name = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    if isinstance(name, str) and name:
        return name
    return type(model).__name__


def model_attributes(model: Any) -> dict[str, Any]:
    """Device and dtype of the model's parameters (absent when the model does not say)."""
    attributes: dict[str, Any] = {}
    device = getattr(model, "device", None)
    if device is not None:
        attributes[semconv.INFERTEL_MODEL_DEVICE] = str(device)
    dtype = getattr(model, "dtype", None)
    if dtype is not None:
        attributes[semconv.INFERTEL_MODEL_DTYPE] = str(dtype).removeprefix("torch.")
    return attributes


def request_params(*sources: Mapping[str, Any] | None, generation_config: Any = None) -> dict[str, Any]:
    """The ``request=`` mapping from generation keyword arguments (first source wins).

    ``generation_config`` (a ``GenerationConfig`` the caller passed) fills what the keyword
    arguments leave out.
    """
    params: dict[str, Any] = {}
    for argument, key in _REQUEST_PARAMS:
        for source in sources:
            value = source.get(argument) if source is not None else None
            if _is_number(value):
                params[key] = value
                break
        else:
            value = getattr(generation_config, argument, None) if generation_config is not None else None
            if _is_number(value):
                params[key] = value
    for source in sources:
        n = source.get("num_return_sequences") if source is not None else None
        if _is_number(n):
            if n != 1:
                params["choice_count"] = n
            break
    return params


class Inputs:
    """What generate() was given: prompt rows, prompt tokens and the prompt length inside the output."""

    def __init__(self, args: Sequence[Any], kwargs: Mapping[str, Any], model: Any) -> None:
        input_ids = args[0] if args else kwargs.get("inputs")
        if input_ids is None:
            input_ids = kwargs.get("input_ids")
        embeds = kwargs.get("inputs_embeds")
        mask = kwargs.get("attention_mask")
        config = getattr(model, "config", None)
        encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
        self.rows = 0
        self.tokens = 0
        # Positions of each output row that are prompt, not generated.
        self.prompt_length_in_output = 0
        source = input_ids if _is_tensor(input_ids) else embeds if _is_tensor(embeds) else None
        if source is not None and source.dim() >= 2:
            self.rows = int(source.shape[0])
            if _is_tensor(mask) and tuple(mask.shape) == tuple(source.shape[:2]):
                self.tokens = int(mask.sum())
            else:
                self.tokens = int(source.shape[0] * source.shape[1])
            if source is input_ids and not encoder_decoder:
                self.prompt_length_in_output = int(input_ids.shape[1])
        if encoder_decoder:
            decoder_ids = kwargs.get("decoder_input_ids")
            self.prompt_length_in_output = int(decoder_ids.shape[1]) if _is_tensor(decoder_ids) else 1


def eos_token_ids(model: Any, kwargs: Mapping[str, Any]) -> list[int]:
    """End-of-sequence ids in force for this call (keyword argument, passed config, model config)."""
    candidates = (
        kwargs.get("eos_token_id"),
        getattr(kwargs.get("generation_config"), "eos_token_id", None),
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    )
    for value in candidates:
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, int) for v in value):
            return list(value)
        if _is_tensor(value):
            return [int(v) for v in value.reshape(-1).tolist()]
    return []


def output_tokens(result: Any, prompt_length: int, eos_ids: Sequence[int]) -> int | None:
    """Generated tokens in ``result`` (a tensor or a ``GenerateOutput``), summed over the rows."""
    sequences = getattr(result, "sequences", result)
    if not _is_tensor(sequences) or sequences.dim() != 2:
        return None
    import torch

    generated = sequences[:, prompt_length:]
    rows, width = int(generated.shape[0]), int(generated.shape[1])
    if width == 0 or rows == 0:
        return 0
    if not eos_ids:
        return rows * width
    is_eos = torch.isin(generated, torch.tensor(list(eos_ids), device=generated.device))
    finished = is_eos.any(dim=1)
    first_eos = is_eos.to(torch.int8).argmax(dim=1)
    counts = torch.where(finished, first_eos + 1, torch.full_like(first_eos, width))
    return int(counts.sum())
