"""infertel: OpenTelemetry-native observability for ML and LLM inference.

Example:
    >>> import infertel
    >>> @infertel.observe(model="llama-3-8b", operation="chat", provider="vllm")
    ... def generate(prompt: str) -> str:
    ...     return "hello"
"""

from __future__ import annotations

from infertel._internal.configure import configure, shutdown
from infertel._internal.errors import handle_internal_errors
from infertel._internal.instrument import Inference, current_inference, inference, observe
from infertel._internal.metrics import record_metrics
from infertel._internal.metrics.scope import suppress_inference_metrics
from infertel._internal.processors import Distribution, SeriesStats, Snapshot, stats
from infertel._internal.resources import start_resource_metrics
from infertel.version import __version__

__all__ = [
    "Distribution",
    "Inference",
    "SeriesStats",
    "Snapshot",
    "__version__",
    "configure",
    "current_inference",
    "handle_internal_errors",
    "inference",
    "observe",
    "record_metrics",
    "shutdown",
    "start_resource_metrics",
    "stats",
    "suppress_inference_metrics",
]
