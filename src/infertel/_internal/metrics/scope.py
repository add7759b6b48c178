"""Which layer records a request's GenAI server metrics: the HTTP server or the in-process call.

An inference server instrumented at the HTTP layer (infertel-instrumentation-fastapi) measures
each request as its chunks leave the server and records ``gen_ai.server.*`` once. If the
request handler also runs the model inside ``@infertel.observe`` / ``infertel.inference`` (kind
``internal``), that call would record the same request a second time. Inside
:func:`suppress_inference_metrics` such calls still produce their spans but no metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SUPPRESSED: ContextVar[bool] = ContextVar("infertel_inference_metrics_suppressed", default=False)


def suppressed() -> bool:
    """Whether in-process inference calls in this context leave metrics to an enclosing layer."""
    return _SUPPRESSED.get()


@contextmanager
def suppress_inference_metrics() -> Iterator[None]:
    """In-process (``kind="internal"``) inference calls in this block record spans but no metrics.

    For an HTTP server layer that records the GenAI server metrics of the request itself, so a
    request is counted once. Threads and tasks started inside inherit it through ``contextvars``.

    Example:
        >>> import infertel
        >>> with infertel.suppress_inference_metrics():
        ...     pass  # the HTTP layer records gen_ai.server.* for this request
    """
    token = _SUPPRESSED.set(True)
    try:
        yield
    finally:
        _SUPPRESSED.reset(token)
