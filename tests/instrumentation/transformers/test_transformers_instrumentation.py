"""TransformersInstrumentor on a real (tiny, randomly initialised) GPT-2 running on CPU."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import wrapt  # noqa: E402
from log_helpers import assert_exception_event, memory_logs, records  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from span_helpers import TIMING_KEYS, metric_points, only_span, split_timings  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402
from transformers.generation.utils import GenerationMixin  # noqa: E402
from transformers.pipelines.text_generation import TextGenerationPipeline  # noqa: E402

from infertel import semconv  # noqa: E402
from infertel_instrumentation.transformers import TransformersInstrumentor  # noqa: E402

PAD, BOS, EOS = 0, 1, 2
MODEL_NAME = "GPT2LMHeadModel"  # a model built from a config has no _name_or_path: the class name is used
PROXY_TYPES = (wrapt.ObjectProxy, getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy), wrapt.FunctionWrapper)


@pytest.fixture(scope="module")
def model() -> Any:
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64, bos_token_id=BOS, eos_token_id=EOS,
        pad_token_id=PAD,
    )  # fmt: skip
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    vocab = {"<pad>": PAD, "<bos>": BOS, "<eos>": EOS, **{f"w{i}": i for i in range(3, 100)}}
    backend = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<bos>", eos_token="<eos>", unk_token="<pad>"
    )


@pytest.fixture
def instrumented(tracer_provider: TracerProvider, meter_provider: MeterProvider) -> Iterator[None]:
    TransformersInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield
    finally:
        TransformersInstrumentor().uninstrument()


def generated_lengths(sequences: Any, prompt_length: int, eos: int | None) -> list[int]:
    """Per row, the generated tokens up to and including the first EOS (plain Python, for the oracle)."""
    lengths = []
    for row in sequences.tolist():
        generated = row[prompt_length:]
        length = len(generated)
        if eos is not None and eos in generated:
            length = generated.index(eos) + 1
        lengths.append(length)
    return lengths


def test_generate_batch_of_one(
    model: Any, instrumented: None, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> None:
    input_ids = torch.tensor([[5, 6, 7, 8]])
    output = model.generate(
        input_ids, attention_mask=torch.ones_like(input_ids), max_new_tokens=6, min_new_tokens=6, do_sample=False
    )

    assert tuple(output.shape) == (1, 10)
    span = only_span(span_exporter)
    assert span.name == f"text_completion {MODEL_NAME}"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    attributes, timings = split_timings(span)
    assert attributes == {
        semconv.GEN_AI_OPERATION_NAME: "text_completion",
        semconv.GEN_AI_REQUEST_MODEL: MODEL_NAME,
        semconv.GEN_AI_PROVIDER_NAME: "transformers",
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 6,
        semconv.GEN_AI_RESPONSE_MODEL: MODEL_NAME,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: input_ids.shape[1],
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output.shape[1] - input_ids.shape[1],
        semconv.INFERTEL_MODEL_DEVICE: "cpu",
        semconv.INFERTEL_MODEL_DTYPE: "float32",
        semconv.INFERTEL_REQUEST_BATCH_SIZE: 1,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: 6,  # one streamer put per generated step
        semconv.INFERTEL_STREAM_END_REASON: "exhausted",
    }
    duration_s = (span.end_time - span.start_time) / 1e9
    assert set(timings) == set(TIMING_KEYS)
    assert 0 < timings[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= duration_s

    points = metric_points(metric_reader)
    assert set(points) == {
        semconv.GEN_AI_SERVER_REQUEST_DURATION,
        semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
        semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
        semconv.GEN_AI_CLIENT_TOKEN_USAGE,
    }
    metric_attributes = {
        semconv.GEN_AI_OPERATION_NAME: "text_completion",
        semconv.GEN_AI_REQUEST_MODEL: MODEL_NAME,
        semconv.GEN_AI_PROVIDER_NAME: "transformers",
        semconv.GEN_AI_RESPONSE_MODEL: MODEL_NAME,
    }
    for name in (semconv.GEN_AI_SERVER_REQUEST_DURATION, semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN):
        unit, data_points = points[name]
        assert unit == "s"
        assert [(dict(p.attributes), p.count) for p in data_points] == [(metric_attributes, 1)]
    _, first = points[semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN]
    assert first[0].sum == pytest.approx(timings[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK])
    _, usage = points[semconv.GEN_AI_CLIENT_TOKEN_USAGE]
    assert {p.attributes[semconv.GEN_AI_TOKEN_TYPE]: p.sum for p in usage} == {"input": 4, "output": 6}


def test_generate_padded_batch_of_three(model: Any, instrumented: None, span_exporter: InMemorySpanExporter) -> None:
    input_ids = torch.tensor([[PAD, PAD, 5, 6], [7, 8, 9, 10], [PAD, 11, 12, 13]])
    attention_mask = (input_ids != PAD).long()
    output = model.generate(
        input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=5, min_new_tokens=5, do_sample=False
    )

    span = only_span(span_exporter)
    assert tuple(output.shape) == (3, 9)
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == int(attention_mask.sum()) == 9
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == sum(generated_lengths(output, 4, EOS)) == 15
    assert span.attributes[semconv.INFERTEL_REQUEST_BATCH_SIZE] == 3
    assert span.attributes[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 5


def test_rows_finishing_early_count_up_to_their_eos(
    model: Any, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    input_ids = torch.tensor([[5, 6, 7], [20, 30, 40], [50, 60, 70]])
    probe = model.generate(input_ids, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    eos = int(probe[1, 3])  # row 1 generates this first: make it the end of sequence
    span_exporter.clear()

    output = model.generate(input_ids, max_new_tokens=6, do_sample=False, eos_token_id=eos, pad_token_id=PAD)

    lengths = generated_lengths(output, 3, eos)
    assert lengths[1] == 1 and sum(lengths) < 3 * 6  # at least one row really finished early
    assert only_span(span_exporter).attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == sum(lengths)


def test_return_dict_and_sampling_params(model: Any, instrumented: None, span_exporter: InMemorySpanExporter) -> None:
    torch.manual_seed(1)
    input_ids = torch.tensor([[5, 6]])
    output = model.generate(
        input_ids,
        max_new_tokens=3,
        min_new_tokens=3,
        do_sample=True,
        temperature=0.7,
        top_p=0.9,
        top_k=20,
        num_return_sequences=2,
        return_dict_in_generate=True,
    )

    assert tuple(output.sequences.shape) == (2, 5)
    attributes = only_span(span_exporter).attributes
    assert attributes[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.7
    assert attributes[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attributes[semconv.GEN_AI_REQUEST_TOP_K] == 20
    assert attributes[semconv.GEN_AI_REQUEST_CHOICE_COUNT] == 2
    assert attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 2
    assert attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2 * 3


class RecordingStreamer:
    def __init__(self) -> None:
        self.values: list[list[int]] = []
        self.ended = 0

    def put(self, value: Any) -> None:
        self.values.append(value.reshape(-1).tolist())

    def end(self) -> None:
        self.ended += 1


def test_user_streamer_still_gets_everything(
    model: Any, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    streamer = RecordingStreamer()
    input_ids = torch.tensor([[5, 6, 7]])
    output = model.generate(input_ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, streamer=streamer)

    assert streamer.values[0] == [5, 6, 7]
    assert [v for values in streamer.values[1:] for v in values] == output[0, 3:].tolist()
    assert streamer.ended == 1
    span = only_span(span_exporter)
    assert span.attributes[semconv.INFERTEL_STREAM_CHUNKS] == 4
    assert 0 < span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= (span.end_time - span.start_time) / 1e9


def test_bfloat16_model_dtype(model: Any, instrumented: None, span_exporter: InMemorySpanExporter) -> None:
    half = GPT2LMHeadModel(model.config).to(torch.bfloat16).eval()
    half.generate(torch.tensor([[5, 6]]), max_new_tokens=2, min_new_tokens=2, do_sample=False)
    assert only_span(span_exporter).attributes[semconv.INFERTEL_MODEL_DTYPE] == "bfloat16"


def test_generate_error_is_recorded_and_reraised(
    model: Any,
    tracer_provider: TracerProvider,
    span_exporter: InMemorySpanExporter,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
) -> None:
    logger_provider, log_exporter = memory_logs()
    TransformersInstrumentor().instrument(
        tracer_provider=tracer_provider, meter_provider=meter_provider, logger_provider=logger_provider
    )
    streamer = RecordingStreamer()
    try:
        with pytest.raises(ValueError, match="beam search") as caught:
            model.generate(torch.tensor([[5, 6]]), max_new_tokens=2, num_beams=2, streamer=streamer)
    finally:
        TransformersInstrumentor().uninstrument()

    span = only_span(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(caught.value)
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    assert span.events == ()  # a gen_ai.client.operation.exception event record instead
    (record,) = records(log_exporter)
    assert_exception_event(record, span, caught.value, "ValueError")
    _, durations = metric_points(metric_reader)[semconv.GEN_AI_SERVER_REQUEST_DURATION]
    assert [p.attributes[semconv.ERROR_TYPE] for p in durations] == ["ValueError"]


def test_beam_search_works_without_a_streamer(
    model: Any, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    output = model.generate(torch.tensor([[5, 6]]), max_new_tokens=3, min_new_tokens=3, num_beams=2, do_sample=False)
    span = only_span(span_exporter)
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == output.shape[1] - 2 == 3
    assert semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes  # no streamer hook in beam search


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_generate_on_gpu_reports_device(model: Any, instrumented: None, span_exporter: InMemorySpanExporter) -> None:
    gpu_model = GPT2LMHeadModel(model.config).to("cuda", dtype=torch.float16).eval()
    input_ids = torch.tensor([[5, 6, 7]], device="cuda")
    output = gpu_model.generate(input_ids, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    span = only_span(span_exporter)
    assert span.attributes[semconv.INFERTEL_MODEL_DEVICE] == "cuda:0"
    assert span.attributes[semconv.INFERTEL_MODEL_DTYPE] == "float16"
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == output.shape[1] - 3 == 4
    assert 0 < span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= (span.end_time - span.start_time) / 1e9


def test_pipeline_call_is_one_span(
    model: Any, tokenizer: Any, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    pipe = transformers.pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    prompts = ["w5 w6 w7", "w8 w9"]
    results = pipe(prompts, max_new_tokens=4, min_new_tokens=4, do_sample=False, return_full_text=False)

    assert len(results) == 2
    span = only_span(span_exporter)
    assert span.name == f"text_completion {MODEL_NAME}"
    assert span.kind is SpanKind.INTERNAL
    attributes, timings = split_timings(span)
    prompt_tokens = sum(len(tokenizer(p)["input_ids"]) for p in prompts)
    assert attributes == {
        semconv.GEN_AI_OPERATION_NAME: "text_completion",
        semconv.GEN_AI_REQUEST_MODEL: MODEL_NAME,
        semconv.GEN_AI_PROVIDER_NAME: "transformers",
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 4,
        semconv.GEN_AI_RESPONSE_MODEL: MODEL_NAME,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: prompt_tokens,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 2 * 4,
        semconv.INFERTEL_MODEL_DEVICE: "cpu",
        semconv.INFERTEL_MODEL_DTYPE: "float32",
        semconv.INFERTEL_REQUEST_BATCH_SIZE: 2,
        semconv.GEN_AI_REQUEST_STREAM: True,
        semconv.INFERTEL_STREAM_CHUNKS: 4,  # the first generate() marks the first token
        semconv.INFERTEL_STREAM_END_REASON: "exhausted",
    }
    assert 0 < timings[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] <= (span.end_time - span.start_time) / 1e9


def test_pipeline_with_returned_tensors_counts_match(
    model: Any, tokenizer: Any, instrumented: None, span_exporter: InMemorySpanExporter
) -> None:
    pipe = transformers.pipeline("text-generation", model=model, tokenizer=tokenizer, device="cpu")
    result = pipe("w5 w6 w7", max_new_tokens=3, min_new_tokens=3, do_sample=False, return_tensors=True)
    generated = result[0]["generated_token_ids"]
    span = only_span(span_exporter)
    assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 3
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == len(generated) - 3 == 3


def test_uninstrument_restores_originals(
    model: Any, tracer_provider: TracerProvider, meter_provider: MeterProvider, span_exporter: InMemorySpanExporter
) -> None:
    originals = (GenerationMixin.__dict__["generate"], TextGenerationPipeline.__dict__["__call__"])
    TransformersInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        assert isinstance(GenerationMixin.__dict__["generate"], wrapt.FunctionWrapper)
        assert isinstance(TextGenerationPipeline.__dict__["__call__"], wrapt.FunctionWrapper)
    finally:
        TransformersInstrumentor().uninstrument()
    restored = (GenerationMixin.__dict__["generate"], TextGenerationPipeline.__dict__["__call__"])
    assert restored[0] is originals[0] and restored[1] is originals[1]
    assert not any(isinstance(method, PROXY_TYPES) for method in restored)
    model.generate(torch.tensor([[5, 6]]), max_new_tokens=2, min_new_tokens=2, do_sample=False)
    assert span_exporter.get_finished_spans() == ()


def test_internal_failure_never_breaks_generate(
    model: Any,
    instrumented: None,
    span_exporter: InMemorySpanExporter,
    production_errors: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from infertel_instrumentation.transformers import _tokens

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in infertel")

    monkeypatch.setattr(_tokens, "output_tokens", broken)
    output = model.generate(torch.tensor([[5, 6]]), max_new_tokens=2, min_new_tokens=2, do_sample=False)
    assert tuple(output.shape) == (1, 4)
    span = only_span(span_exporter)  # ended anyway: no exact counts, the streamer's per-step count remains
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached in the caller's context


def test_explicit_instrument_without_transformers_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # what `import transformers` sees when absent
    with pytest.raises(ImportError, match=r"pip install 'infertel-instrumentation-transformers\[instruments\]'"):
        TransformersInstrumentor().instrument()
    assert not TransformersInstrumentor().is_instrumented_by_opentelemetry


LAZY_SCRIPT = """
import json, sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from infertel_instrumentation.transformers import TransformersInstrumentor

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
report = {}
TransformersInstrumentor().instrument(tracer_provider=provider)
report["imported_by_instrument"] = sorted(m for m in ("torch", "transformers") if m in sys.modules)

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.utils import GenerationMixin
report["wrapped_on_import"] = type(GenerationMixin.__dict__["generate"]).__name__
TransformersInstrumentor().uninstrument()
report["after_uninstrument"] = type(GenerationMixin.__dict__["generate"]).__name__
TransformersInstrumentor().instrument(tracer_provider=provider)
report["after_instrument_again"] = type(GenerationMixin.__dict__["generate"]).__name__
model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, n_positions=32)).eval()
model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, min_new_tokens=2, do_sample=False)
report["spans"] = [span.name for span in exporter.get_finished_spans()]
print(json.dumps(report))
"""


@pytest.mark.slow
def test_instrument_does_not_import_the_library() -> None:
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-c", LAZY_SCRIPT], capture_output=True, text=True, timeout=240, check=True)
    # instrument() imports nothing; the post-import hook wraps generate() when the application imports it.
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "imported_by_instrument": [],
        "wrapped_on_import": "FunctionWrapper",
        "after_uninstrument": "function",
        "after_instrument_again": "FunctionWrapper",
        "spans": ["text_completion GPT2LMHeadModel"],
    }
