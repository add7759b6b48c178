"""The process-wide runtime that ``configure()`` installs and the hot path reads.

The decorator and context manager read :func:`current` on every call (one global lookup),
so ``configure()`` may run before or after functions are decorated. Before any
``configure()`` the runtime falls back to the global OpenTelemetry providers, so infertel
works under ``opentelemetry-instrument`` or with providers the user installed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider


@dataclass
class Runtime:
    """What the hot path needs, resolved once per ``configure()``.

    Attributes:
        tracer_provider: Provider spans are created with; ``None`` means the global one.
        meter_provider: Provider metrics are recorded with; ``None`` means the global one.
        disabled: ``OTEL_SDK_DISABLED``: decorators call straight through, no OTel at all.
        capture_content: Whether prompt/completion content may be recorded.
        content_max_length: Characters kept of captured content.
        extras: Components installed by ``configure()`` (processors, readers, collectors) keyed
            by name, so ``shutdown()`` and in-process readers can find them.
    """

    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    disabled: bool = False
    capture_content: bool = False
    content_max_length: int = 4096
    extras: dict[str, Any] = field(default_factory=dict)
    generation: int = 0


_lock = threading.Lock()
_runtime = Runtime()


def current() -> Runtime:
    """The runtime in force (cheap: a module global read)."""
    return _runtime


def install(runtime: Runtime) -> Runtime:
    """Make ``runtime`` the one in force; returns the previous one."""
    global _runtime
    with _lock:
        previous = _runtime
        runtime.generation = previous.generation + 1
        _runtime = runtime
        return previous


def reset() -> Runtime:
    """Back to the unconfigured runtime (``shutdown()`` and tests)."""
    return install(Runtime())
