"""Cost per call of ``@infertel.observe`` against a bare call and hand-written OpenTelemetry code.

One run measures, interleaved round by round so drift hits every case alike:

* a bare call, the OpenTelemetry API's no-op tracer, a raw OTel span with the same attributes
  (no metrics) in three hand-written forms: ``set_attribute`` calls inside
  ``start_as_current_span`` (the baseline), the attributes passed to ``start_as_current_span``
  and set once at the end (``set_attributes``), and the fastest form (``start_span(...,
  attributes=...)``, the span made current with ``context.attach``/``detach`` by hand, one
  ``set_attributes`` at the end); hand-written OTel code (the same span plus the same
  ``Histogram.record`` calls);
* ``@observe`` on a sync function, on an async function and on a 100-chunk stream, with all
  its GenAI metrics;
* ``@observe`` with ``OTEL_SDK_DISABLED`` (``Runtime.disabled``);
* the decorator target (issue 11): ``@observe`` against the raw span **inside
  ``infertel.configure()``'s full pipeline**, in a child process: ``configure()`` builds the
  TracerProvider (its processor hub: a ``BatchSpanProcessor`` with the SDK's default settings and
  the statistics processor), the MeterProvider (GenAI views, pre-aggregated histograms, a
  periodic reader, resource metrics) exactly as for a user; only the exporter is one that drops
  everything, selected the standard way (``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER``
  naming an entry point registered by ``benchmarks/_discarding.py``), so that no export work on a
  background thread competes with the measured loops, and the metric interval is an hour (no
  collection during the run). The raw spans come from the same global TracerProvider, through
  the same processors (the statistics processor counts them too): only the decorator's own work
  differs. Target: at most 1.25x the raw span (``set_attribute`` form), printed as PASS/FAIL
  with the median of per-round ratios and its interquartile range; the ratio to the fastest
  hand-written form is printed beside it;
* Traceloop's ``@task`` and Logfire's ``@logfire.instrument``, measured in their own virtual
  environment (``.cache/bench-anchors-venv``, created on first use: they register
  auto-instrumentors and would move our pins) against the same raw-span baseline, so their
  ratio to ``@observe`` is meaningful.

Outside the ``configure()`` case, spans go through a ``BatchSpanProcessor`` to an exporter that
discards them; metrics to an SDK ``MeterProvider`` whose reader never exports during the run.
Prints medians (µs per call) and ratios. Run: ``.venv/bin/python benchmarks/overhead.py`` (about
a minute once the anchors' venv exists; add ``--rounds`` to trade time for precision,
``--no-anchors`` to skip Traceloop/Logfire). On the oldest supported OpenTelemetry:
``.cache/venv-oldest/bin/python benchmarks/overhead.py --no-anchors``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path(__file__).resolve().parent
ANCHOR_VENV = ROOT / ".cache" / "bench-anchors-venv"
ANCHOR_PACKAGES = (
    "pip>=25",  # the resolver of older pips backtracks for many minutes over traceloop's instrumentations
    "traceloop-sdk==0.62.4",
    "logfire>=4,<5",  # logfire 5 needs a certifi newer than the package index here offers
    # Imported by these versions without being declared as their dependencies:
    "httpx",
    "importlib_metadata",
)
"""Installed in the anchors' own venv. They pull the OpenTelemetry SDK release they support
(logfire 4 stops before 1.45); the raw-span baseline of that run uses the same SDK, which keeps
the ratios comparable with ours."""

MODEL = "llama-3-8b"
PROMPT = "Why is the sky blue?"
RESPONSE = {"model": MODEL, "usage": {"prompt_tokens": 12, "completion_tokens": 64}}
CHUNKS = 100
DECORATOR_TARGET = 1.25
"""``@observe`` at most this many times a raw OTel span with the same attributes (configure()'s pipeline)."""
Runner = Callable[[int], int]
CLOCKS = {"wall": time.perf_counter_ns, "cpu": time.process_time_ns, "thread": time.thread_time_ns}
"""``--clock``: wall time of the loop; CPU time of the whole process (every thread: batching and the
statistics folder included); or CPU time of the calling thread only (what the application's thread
pays; the steadiest on a machine other work shares, since background rounds of the batch and
statistics threads do not land on whichever case happens to run)."""
_clock = {"name": "wall", "now": time.perf_counter_ns}


# --- shared by both environments ------------------------------------------------------------------
def _otel_setup() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DiscardingSpanExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(DiscardingSpanExporter(), max_queue_size=1 << 17, schedule_delay_millis=200)
    )
    return provider, DiscardingSpanExporter


def generate(prompt: str) -> dict[str, Any]:
    return RESPONSE


def _raw_span_function(tracer: Any) -> Callable[[str], dict[str, Any]]:
    """What a user writes by hand: a span with the same 7 attributes @observe records."""
    from opentelemetry.trace import SpanKind

    def raw(prompt: str) -> dict[str, Any]:
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.INTERNAL) as span:
            start = time.perf_counter()
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute("gen_ai.provider.name", "vllm")
            result = generate(prompt)
            usage = result["usage"]
            span.set_attribute("gen_ai.response.model", result["model"])
            span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
            span.set_attribute(
                "infertel.output_tokens_per_second", usage["completion_tokens"] / (time.perf_counter() - start)
            )
            return result

    return raw


def _attrs_span_function(tracer: Any) -> Callable[[str], dict[str, Any]]:
    """The same span with its attributes passed to ``start_as_current_span`` and set once at the end."""
    from opentelemetry.trace import SpanKind

    start_attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL, "gen_ai.provider.name": "vllm"}

    def raw_attrs(prompt: str) -> dict[str, Any]:
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.INTERNAL, attributes=start_attributes) as span:
            start = time.perf_counter()
            result = generate(prompt)
            usage = result["usage"]
            span.set_attributes(
                {
                    "gen_ai.response.model": result["model"],
                    "gen_ai.usage.input_tokens": usage["prompt_tokens"],
                    "gen_ai.usage.output_tokens": usage["completion_tokens"],
                    "infertel.output_tokens_per_second": usage["completion_tokens"] / (time.perf_counter() - start),
                }
            )
            return result

    return raw_attrs


def _fastest_span_function(tracer: Any) -> Callable[[str], dict[str, Any]]:
    """The fastest hand-written form of the same span: ``start_span(attributes=...)``, attached by hand.

    The span is current while the function runs (as with ``@observe``, so nested spans and log
    records find it); no context-manager generator, one ``set_attributes`` at the end.
    """
    from opentelemetry import context
    from opentelemetry.trace import SpanKind, set_span_in_context

    start_attributes = {"gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL, "gen_ai.provider.name": "vllm"}
    name, kind = f"chat {MODEL}", SpanKind.INTERNAL
    attach, detach = context.attach, context.detach

    def fastest(prompt: str) -> dict[str, Any]:
        span = tracer.start_span(name, kind=kind, attributes=start_attributes)
        token = attach(set_span_in_context(span))
        start = time.perf_counter()
        try:
            result = generate(prompt)
        finally:
            detach(token)
        usage = result["usage"]
        span.set_attributes(
            {
                "gen_ai.response.model": result["model"],
                "gen_ai.usage.input_tokens": usage["prompt_tokens"],
                "gen_ai.usage.output_tokens": usage["completion_tokens"],
                "infertel.output_tokens_per_second": usage["completion_tokens"] / (time.perf_counter() - start),
            }
        )
        span.end()
        return result

    return fastest


def _loop(fn: Callable[[str], Any]) -> Runner:
    def run(n: int) -> int:
        now = _clock["now"]
        start = now()
        for _ in range(n):
            fn(PROMPT)
        return now() - start

    return run


def _samples(cases: dict[str, Runner], rounds: int, batch: int) -> dict[str, list[float]]:
    """Mean µs per call of each case, per round; cases interleaved per round, every other round reversed."""
    for run in cases.values():
        run(batch // 5 or 1)  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(rounds):
        order = list(cases.items()) if r % 2 == 0 else list(reversed(cases.items()))  # cancel order effects
        for name, run in order:
            samples[name].append(run(batch) / batch / 1000)
    return samples


def _measure(cases: dict[str, Runner], rounds: int, batch: int) -> dict[str, float]:
    """Median over rounds of the mean µs per call of each case; cases interleaved per round."""
    return {name: statistics.median(values) for name, values in _samples(cases, rounds, batch).items()}


def _paired_ratio(samples: dict[str, list[float]], case: str, baseline: str) -> tuple[float, float, float]:
    """Median and interquartile range of ``case / baseline``, round by round (load drifts between rounds)."""
    ratios = [c / b for c, b in zip(samples[case], samples[baseline], strict=True)]
    if len(ratios) < 2:
        return ratios[0], ratios[0], ratios[0]
    q1, q2, q3 = statistics.quantiles(ratios, n=4)
    return q2, q1, q3


# --- the anchors' environment ---------------------------------------------------------------------
def anchors_main(rounds: int, batch: int) -> None:
    """Runs inside .cache/bench-anchors-venv: raw span, Traceloop @task, Logfire @instrument."""
    os.environ.setdefault("TRACELOOP_TELEMETRY", "false")
    os.environ.setdefault("TRACELOOP_METRICS_ENABLED", "false")
    os.environ.setdefault("TRACELOOP_LOGGING_ENABLED", "false")
    os.environ.setdefault("TRACELOOP_SYNC_ENABLED", "false")
    import logfire
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task

    provider, discarding = _otel_setup()
    raw = _raw_span_function(provider.get_tracer("bench"))

    Traceloop.init(
        app_name="bench",
        exporter=discarding(),
        disable_batch=False,
        telemetry_enabled=False,
        traceloop_sync_enabled=False,
    )
    traceloop_generate = task(name="generate")(generate)

    logfire.configure(
        send_to_logfire=False,
        console=False,
        metrics=False,
        additional_span_processors=[BatchSpanProcessor(discarding(), max_queue_size=1 << 17)],
    )
    logfire_generate = logfire.instrument("generate")(generate)

    medians = _measure(
        {
            "bare": _loop(generate),
            "raw_span": _loop(raw),
            "traceloop_task": _loop(traceloop_generate),
            "logfire_instrument": _loop(logfire_generate),
        },
        rounds,
        batch,
    )
    print(json.dumps(medians))


def _anchor_python() -> Path | None:
    python = ANCHOR_VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {ANCHOR_VENV} ({', '.join(ANCHOR_PACKAGES[1:3])}); first run only ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(ANCHOR_VENV)], check=True)
        for packages in (ANCHOR_PACKAGES[:1], ANCHOR_PACKAGES[1:]):
            subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"could not build the anchors' environment: {exc}", flush=True)
        return None
    return python


def _child_options(rounds: int, batch: int) -> list[str]:
    return ["--rounds", str(rounds), "--batch", str(batch), "--clock", _clock["name"]]


def _run_anchors(rounds: int, batch: int) -> dict[str, float] | None:
    try:
        import logfire  # noqa: F401
        import traceloop.sdk  # noqa: F401
    except ImportError:
        python = _anchor_python()
        if python is None:
            return None
        command = [str(python), __file__, "--anchors-only", *_child_options(rounds, batch)]
    else:
        command = [sys.executable, __file__, "--anchors-only", *_child_options(rounds, batch)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    if done.returncode != 0:
        print(f"anchors failed:\n{done.stderr[-2000:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- infertel's environment ---------------------------------------------------------------------
def _cases(rounds: int, batch: int) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    from opentelemetry import trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )
    from opentelemetry.trace import SpanKind

    import infertel
    from infertel._internal import state

    class DiscardingMetricExporter(MetricExporter):
        def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            pass

    tracer_provider, _ = _otel_setup()
    reader = PeriodicExportingMetricReader(DiscardingMetricExporter(), export_interval_millis=3_600_000)
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer = tracer_provider.get_tracer("bench")
    meter = meter_provider.get_meter("bench")
    duration_h = meter.create_histogram("gen_ai.server.request.duration", unit="s")
    tokens_h = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    ttft_h = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
    tpot_h = meter.create_histogram("gen_ai.server.time_per_output_token", unit="s")
    base = {"gen_ai.operation.name": "chat", "gen_ai.request.model": MODEL, "gen_ai.provider.name": "vllm"}
    metric_attrs = {**base, "gen_ai.response.model": MODEL}
    in_attrs = {**metric_attrs, "gen_ai.token.type": "input"}
    out_attrs = {**metric_attrs, "gen_ai.token.type": "output"}

    raw = _raw_span_function(tracer)
    raw_attrs = _attrs_span_function(tracer)
    fastest = _fastest_span_function(tracer)

    def hand_written(prompt: str) -> dict[str, Any]:
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.INTERNAL) as span:
            start = time.perf_counter()
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute("gen_ai.provider.name", "vllm")
            result = generate(prompt)
            usage = result["usage"]
            elapsed = time.perf_counter() - start
            span.set_attribute("gen_ai.response.model", result["model"])
            span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
            span.set_attribute("infertel.output_tokens_per_second", usage["completion_tokens"] / elapsed)
            duration_h.record(elapsed, metric_attrs)
            tokens_h.record(usage["prompt_tokens"], in_attrs)
            tokens_h.record(usage["completion_tokens"], out_attrs)
            return result

    noop_tracer = trace.NoOpTracerProvider().get_tracer("bench")
    noop = _raw_span_function(noop_tracer)
    observed = infertel.observe(
        model=MODEL, provider="vllm", tracer_provider=tracer_provider, meter_provider=meter_provider
    )(generate)

    async def agenerate(prompt: str) -> dict[str, Any]:
        return RESPONSE

    async def raw_async(prompt: str) -> dict[str, Any]:
        return raw(prompt)  # same span work; the coroutine frame is the only difference

    observed_async = infertel.observe(
        model=MODEL, provider="vllm", tracer_provider=tracer_provider, meter_provider=meter_provider
    )(agenerate)
    loop = asyncio.new_event_loop()

    def async_loop(fn: Callable[[str], Any]) -> Runner:
        async def many(n: int) -> None:
            for _ in range(n):
                await fn(PROMPT)

        def run(n: int) -> int:
            now = _clock["now"]
            start = now()
            loop.run_until_complete(many(n))
            return now() - start

        return run

    def stream(prompt: str) -> Iterator[str]:
        for _ in range(CHUNKS):
            yield "tok"

    def raw_stream(prompt: str) -> Iterator[str]:
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.INTERNAL) as span:
            start = time.perf_counter()
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute("gen_ai.provider.name", "vllm")
            first = None
            n = 0
            for chunk in stream(prompt):
                if first is None:
                    first = time.perf_counter()
                n += 1
                yield chunk
            end = time.perf_counter()
            span.set_attribute("gen_ai.response.model", MODEL)
            span.set_attribute("gen_ai.usage.output_tokens", n)
            span.set_attribute("gen_ai.response.time_to_first_chunk", first - start)
            span.set_attribute("infertel.time_per_output_token", (end - first) / (n - 1))

    def hand_stream(prompt: str) -> Iterator[str]:
        with tracer.start_as_current_span(f"chat {MODEL}", kind=SpanKind.INTERNAL) as span:
            start = time.perf_counter()
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.request.model", MODEL)
            span.set_attribute("gen_ai.provider.name", "vllm")
            first = None
            n = 0
            for chunk in stream(prompt):
                if first is None:
                    first = time.perf_counter()
                n += 1
                yield chunk
            end = time.perf_counter()
            span.set_attribute("gen_ai.response.model", MODEL)
            span.set_attribute("gen_ai.usage.output_tokens", n)
            span.set_attribute("gen_ai.response.time_to_first_chunk", first - start)
            span.set_attribute("infertel.time_per_output_token", (end - first) / (n - 1))
            duration_h.record(end - start, metric_attrs)
            ttft_h.record(first - start, metric_attrs)
            tpot_h.record((end - first) / (n - 1), metric_attrs)
            tokens_h.record(n, out_attrs)

    observed_stream = infertel.observe(
        model=MODEL, provider="vllm", tracer_provider=tracer_provider, meter_provider=meter_provider
    )(stream)

    def drain(fn: Callable[[str], Iterator[str]]) -> Callable[[str], None]:
        def run(prompt: str) -> None:
            for _ in fn(prompt):
                pass

        return run

    sync = _measure(
        {
            "bare": _loop(generate),
            "noop": _loop(noop),
            "raw": _loop(raw),
            "raw_attrs": _loop(raw_attrs),
            "fastest": _loop(fastest),
            "hand": _loop(hand_written),
            "observe": _loop(observed),
            "bare_async": async_loop(agenerate),
            "raw_async": async_loop(raw_async),
            "observe_async": async_loop(observed_async),
        },
        rounds,
        batch,
    )
    streams = _measure(
        {
            "bare": _loop(drain(stream)),
            "raw": _loop(drain(raw_stream)),
            "hand": _loop(drain(hand_stream)),
            "observe": _loop(drain(observed_stream)),
        },
        rounds,
        max(batch // 20, 10),
    )

    # OTEL_SDK_DISABLED: the decorator calls straight through (the runtime says so).
    state.install(state.Runtime(disabled=True))
    try:
        disabled_fn = infertel.observe(model=MODEL, provider="vllm")(generate)
        disabled = _measure({"bare": _loop(generate), "observe": _loop(disabled_fn)}, rounds, batch * 4)
    finally:
        state.reset()
    loop.close()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return sync, streams, disabled, 0.0


# --- configure()'s full pipeline (child process) ---------------------------------------------------
def configured_main(rounds: int, batch: int) -> None:
    """Runs in a child whose environment selects the discarding exporters: configure() builds the rest."""
    from opentelemetry import trace

    import infertel

    infertel.configure(service_name="overhead-benchmark")
    provider = trace.get_tracer_provider()
    tracer = provider.get_tracer("bench")
    observed = infertel.observe(model=MODEL, provider="vllm")(generate)
    pipeline = _describe_pipeline(provider)
    samples = _samples(
        {
            "bare": _loop(generate),
            "raw": _loop(_raw_span_function(tracer)),
            "raw_attrs": _loop(_attrs_span_function(tracer)),
            "fastest": _loop(_fastest_span_function(tracer)),
            "observe": _loop(observed),
        },
        rounds,
        batch,
    )
    flushed = infertel.shutdown(timeout_millis=10_000)
    print(
        json.dumps(
            {
                "medians": {name: statistics.median(values) for name, values in samples.items()},
                "vs_raw": _paired_ratio(samples, "observe", "raw"),
                "vs_raw_attrs": _paired_ratio(samples, "observe", "raw_attrs"),
                "vs_fastest": _paired_ratio(samples, "observe", "fastest"),
                "fastest_vs_raw": _paired_ratio(samples, "fastest", "raw"),
                "raw_attrs_vs_raw": _paired_ratio(samples, "raw_attrs", "raw"),
                "pipeline": pipeline,
                "shutdown": flushed,
                "otel_sdk": _sdk_version(),
            }
        )
    )


def _describe_pipeline(provider: Any) -> dict[str, list[str]]:
    """What configure() installed, by class name, for the report (infertel internals: printed, never relied on)."""
    try:
        from infertel._internal import configure as configured
        from infertel._internal import providers

        extras = configured._active.extras  # type: ignore[union-attr]
        exporters = extras.get("exporters_all", {})
        return {
            "span_processors": [type(p).__name__ for p in providers.span_hub(provider).delegates],
            "span_exporters": [type(e).__name__ for e in exporters.get("traces", ())],
            "metric_readers": [type(r).__name__ for r in extras.get("metric_readers", ())],
            "metric_exporters": [type(e).__name__ for e in exporters.get("metrics", ())],
        }
    except Exception:  # noqa: BLE001 - the description is informative only
        return {key: ["?"] for key in ("span_processors", "span_exporters", "metric_readers", "metric_exporters")}


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("opentelemetry-sdk")


def _run_configured(rounds: int, batch: int) -> dict[str, Any] | None:
    import _discarding

    with tempfile.TemporaryDirectory(prefix="infertel-bench-entry-points-") as folder:
        _discarding.registration(Path(folder))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
        env.update(
            OTEL_TRACES_EXPORTER=_discarding.NAME,
            OTEL_METRICS_EXPORTER=_discarding.NAME,
            OTEL_LOGS_EXPORTER="none",
            OTEL_METRIC_EXPORT_INTERVAL="3600000",  # no collection while the loops run
            PYTHONPATH=os.pathsep.join(p for p in (folder, str(BENCHMARKS), env.get("PYTHONPATH")) if p),
        )
        command = [sys.executable, __file__, "--configured", *_child_options(rounds, batch)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    if done.returncode != 0:
        print(f"configure() case failed:\n{done.stderr[-3000:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(label: str, us: float, ratio: str = "", note: str = "") -> str:
    return f"{label:<58} {us:>10.2f} {ratio:>9}  {note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=51)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="what a round measures")
    parser.add_argument("--no-anchors", action="store_true", help="skip Traceloop and Logfire")
    parser.add_argument("--anchors-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--configured", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _clock.update(name=args.clock, now=CLOCKS[args.clock])
    if args.anchors_only:
        anchors_main(args.rounds, args.batch)
        return
    if args.configured:
        configured_main(args.rounds, args.batch)
        return

    began = time.monotonic()
    anchors = None if args.no_anchors else _run_anchors(args.rounds, args.batch)
    sync, streams, disabled, _ = _cases(args.rounds, args.batch)
    configured = _run_configured(args.rounds, args.batch)

    raw = sync["raw"]
    print()
    print(
        f"infertel overhead benchmark (median of {args.rounds} rounds; {args.clock} µs per call; "
        f"Python {sys.version.split()[0]}; "
        f"OpenTelemetry SDK {_sdk_version()})"
    )
    print(_row("case", 0, "ratio", "").replace("      0.00", "  µs/call "))
    print("-" * 100)
    print(_row("bare call", sync["bare"]))
    print(_row("OTel API no-op tracer, same 7 attributes", sync["noop"], f"{sync['noop'] / raw:.2f}x", "vs raw span"))
    print(_row("raw OTel span, same 7 attributes, no metrics  [baseline]", raw, "1.00x"))
    print(
        _row(
            "  the same, attributes passed to start_as_current_span",
            sync["raw_attrs"],
            f"{sync['raw_attrs'] / raw:.2f}x",
        )
    )
    print(
        _row("  the same, fastest form: start_span(attributes=...)", sync["fastest"], f"{sync['fastest'] / raw:.2f}x")
    )
    print(_row("hand-written OTel: span + 3 Histogram.record", sync["hand"], f"{sync['hand'] / raw:.2f}x", "vs raw"))
    print(
        _row(
            "@observe sync, all GenAI metrics",
            sync["observe"],
            f"{sync['observe'] / raw:.2f}x",
            f"vs raw; {sync['observe'] / sync['fastest']:.2f}x fastest form; "
            f"{sync['observe'] / sync['hand']:.2f}x hand-written",
        )
    )
    print(_row("bare async call (awaited)", sync["bare_async"]))
    print(_row("raw OTel span in a coroutine", sync["raw_async"], "1.00x"))
    print(
        _row(
            "@observe async",
            sync["observe_async"],
            f"{sync['observe_async'] / sync['raw_async']:.2f}x",
            "vs raw span in a coroutine",
        )
    )
    print(_row(f"bare {CHUNKS}-chunk stream", streams["bare"]))
    print(_row(f"raw OTel span around a {CHUNKS}-chunk stream, no metrics", streams["raw"], "1.00x"))
    print(
        _row(
            f"hand-written OTel {CHUNKS}-chunk stream + 4 Histogram.record",
            streams["hand"],
            f"{streams['hand'] / streams['raw']:.2f}x",
            "vs raw stream span",
        )
    )
    print(
        _row(
            f"@observe {CHUNKS}-chunk stream",
            streams["observe"],
            f"{streams['observe'] / streams['raw']:.2f}x",
            f"vs raw stream span; {streams['observe'] / streams['hand']:.2f}x hand-written",
        )
    )
    overhead = disabled["observe"] - disabled["bare"]
    print(
        _row(
            "@observe with OTEL_SDK_DISABLED",
            disabled["observe"],
            "",
            f"+{overhead:.2f} µs over a bare call (target <= 2 µs)",
        )
    )
    if anchors is not None:
        observe_ratio = sync["observe"] / raw
        labels = (("traceloop_task", "Traceloop @task"), ("logfire_instrument", "Logfire @logfire.instrument"))
        for key, label in labels:
            ratio = anchors[key] / anchors["raw_span"]
            print(
                _row(
                    f"{label} (own venv; raw span there {anchors['raw_span']:.1f} µs)",
                    anchors[key],
                    f"{ratio:.2f}x",
                    f"vs raw; {ratio / observe_ratio:.2f}x the cost of @observe (target >= 2x)",
                )
            )
    else:
        print("Traceloop / Logfire anchors: not measured")
    print("-" * 100)
    if configured is not None:
        medians = configured["medians"]
        base = medians["raw"]
        pipe = configured["pipeline"]
        print(
            f"infertel.configure() pipeline (child process): span processors {pipe['span_processors']} "
            f"-> {pipe['span_exporters']}; metric readers {pipe['metric_readers']} -> {pipe['metric_exporters']}"
        )
        print(_row("bare call", medians["bare"]))
        print(_row("raw OTel span, same 7 attributes  [baseline]", base, "1.00x"))
        ratio, low, high = configured["raw_attrs_vs_raw"]
        print(_row("  attributes passed to start_as_current_span", medians["raw_attrs"], f"{ratio:.2f}x"))
        ratio, low, high = configured["fastest_vs_raw"]
        print(_row("  fastest form: start_span(attributes=...)", medians["fastest"], f"{ratio:.2f}x"))
        ratio, low, high = configured["vs_raw"]
        fastest, f_low, f_high = configured["vs_fastest"]
        print(
            _row(
                "@observe sync, all GenAI metrics",
                medians["observe"],
                f"{ratio:.2f}x",
                f"vs raw (IQR {low:.2f}-{high:.2f}); {fastest:.2f}x fastest form (IQR {f_low:.2f}-{f_high:.2f})",
            )
        )
        verdict = "PASS" if ratio <= DECORATOR_TARGET else "FAIL"
        print(
            f"{verdict}: @observe / raw OTel span = {ratio:.2f}x in configure()'s pipeline on OpenTelemetry SDK "
            f"{configured['otel_sdk']} (target <= {DECORATOR_TARGET}x; median of per-round ratios)"
        )
    else:
        print("configure() pipeline: not measured")
    print("-" * 100)
    elapsed = time.monotonic() - began
    print(f"spans: BatchSpanProcessor -> discarding exporter; metrics: SDK MeterProvider; {elapsed:.0f} s")


if __name__ == "__main__":
    main()
