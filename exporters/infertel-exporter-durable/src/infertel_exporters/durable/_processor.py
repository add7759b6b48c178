"""DurableBatchSpanProcessor: the SDK batch processor's job, without its drops."""

from __future__ import annotations

import logging

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from infertel_exporters.durable._exporter import DurableSpanExporter

_logger = logging.getLogger(__name__)


class DurableBatchSpanProcessor(SpanProcessor):
    """Hands every ended, sampled span to a :class:`DurableSpanExporter`'s queue.

    Compared with the SDK's ``BatchSpanProcessor`` (2,048-span queue that drops silently, 512-span
    batches encoded and sent on one worker), the queue is bigger and bounded, a full queue makes
    ``on_end`` wait at most ``enqueue_timeout_millis`` before dropping (counted in
    ``infertel.exporter.spool.dropped``; ``force_flush()`` then returns ``False``), batches are
    larger, encoding happens on the writer thread and delivery on the sender thread, with the
    spool in between, so a slow or absent collector never costs spans.

    Threading and exceptions (as the SDK's ``SpanProcessor`` contract): ``on_start``/``on_end``
    run on the thread that starts/ends the span, do no I/O and never raise (a failure is logged
    and the span dropped and counted); ``force_flush``/``shutdown`` may be called from any thread.

    Args:
        exporter: A :class:`DurableSpanExporter`, or any ``SpanExporter``, which is then wrapped
            in one with default options.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        >>> provider = TracerProvider()
        >>> provider.add_span_processor(DurableBatchSpanProcessor(OTLPSpanExporter()))  # doctest: +SKIP
    """

    def __init__(self, exporter: DurableSpanExporter | SpanExporter) -> None:
        self.exporter = exporter if isinstance(exporter, DurableSpanExporter) else DurableSpanExporter(exporter)
        self._offer_one = self.exporter._pipeline.offer_one

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue the span if it is sampled."""
        try:
            context = span.context
            if context is not None and context.trace_flags.sampled:
                self._offer_one(span)
        except Exception:  # noqa: BLE001 - the SDK does not guard processors: never raise into span.end()
            _logger.warning("durable span processor dropped a span", exc_info=True)
            self.exporter._pipeline.drop(1, "processor_error")

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver everything; ``False`` on timeout or after any drop since the last flush."""
        return self.exporter.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Shut the exporter down (spooled data stays for the next process)."""
        self.exporter.shutdown()
