"""infertel: OpenTelemetry-native observability for ML and LLM inference.

Importing ``infertel`` loads nothing but this facade: each public name and each public submodule
(``infertel.processors``, ``infertel.resources``, ``infertel.semconv``, ...) is imported on first
use (PEP 562), so ``import infertel`` costs no more than the OpenTelemetry SDK it builds on
(``benchmarks/import_time.py``).

Example:
    >>> import infertel
    >>> @infertel.observe(model="llama-3-8b", operation="chat", provider="vllm")
    ... def generate(prompt: str) -> str:
    ...     return "hello"
    >>> infertel.resources.snapshot().host.cpu_count > 0  # doctest: +SKIP
    True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from infertel.version import __version__

if TYPE_CHECKING:  # what the names resolve to, for type checkers and IDEs
    from infertel import environment_variables, instrumentation, processors, resources, semconv  # noqa: F401
    from infertel._internal.configure import configure, shutdown
    from infertel._internal.errors import handle_internal_errors
    from infertel._internal.flush import force_flush
    from infertel._internal.instrument import Inference, current_inference, inference
    from infertel._internal.instrument.observe import observe
    from infertel._internal.lifecycle import flush_on_sigterm
    from infertel._internal.metrics import record_metrics
    from infertel._internal.metrics.scope import suppress_inference_metrics
    from infertel._internal.processors import Distribution, SeriesStats, Snapshot, stats
    from infertel._internal.resources import start_resource_metrics
    from infertel._internal.status import ComponentStatus, status

_NAMES: dict[str, str] = {
    "configure": "infertel._internal.configure",
    "shutdown": "infertel._internal.configure",
    "handle_internal_errors": "infertel._internal.errors",
    "force_flush": "infertel._internal.flush",
    "flush_on_sigterm": "infertel._internal.lifecycle",
    "Inference": "infertel._internal.instrument",
    "current_inference": "infertel._internal.instrument",
    "inference": "infertel._internal.instrument",
    "observe": "infertel._internal.instrument",
    "record_metrics": "infertel._internal.metrics",
    "suppress_inference_metrics": "infertel._internal.metrics.scope",
    "Distribution": "infertel._internal.processors",
    "SeriesStats": "infertel._internal.processors",
    "Snapshot": "infertel._internal.processors",
    "stats": "infertel._internal.processors",
    "start_resource_metrics": "infertel._internal.resources",
    "ComponentStatus": "infertel._internal.status",
    "status": "infertel._internal.status",
}
"""Each public name and the module it lives in."""

_SUBMODULES = frozenset(
    {
        "alerting", "analysis", "autoscaling", "capacity", "cost", "dashboard", "environment_variables", "forecast",
        "health", "instrumentation", "processors", "profiling", "resources", "semconv", "simulate",
    }
)  # fmt: skip
"""Public submodules, importable as attributes of ``infertel``."""

__all__ = [
    "ComponentStatus",
    "Distribution",
    "Inference",
    "SeriesStats",
    "Snapshot",
    "__version__",
    "configure",
    "current_inference",
    "flush_on_sigterm",
    "force_flush",
    "handle_internal_errors",
    "inference",
    "observe",
    "record_metrics",
    "shutdown",
    "start_resource_metrics",
    "stats",
    "status",
    "suppress_inference_metrics",
]


def __getattr__(name: str) -> Any:
    """Import a public name or submodule on first access and keep it (later accesses are plain lookups)."""
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_NAMES, *_SUBMODULES})
