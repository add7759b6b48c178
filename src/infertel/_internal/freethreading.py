"""Free-threaded CPython (3.13t): infertel needs the GIL, and says so at import.

The hot path (span processors, the statistics buffer, the durable queue's fast path, metric
handle caches) relies on the GIL making single dict and deque operations atomic. Under a
free-threaded build with the GIL disabled that no longer holds, and it has not been verified,
so ``import infertel`` refuses with an ``ImportError`` that says how to run it: with the GIL
re-enabled (``PYTHON_GIL=1`` or ``python -X gil=1``), which free-threaded builds support.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

MESSAGE = (
    "infertel needs the GIL: this free-threaded Python runs with the GIL disabled, and infertel's "
    "hot path is not verified without it. Run with the GIL re-enabled (PYTHON_GIL=1 or python -X gil=1)."
)
"""The ``ImportError`` message on a free-threaded interpreter with the GIL disabled."""

_UNSET: object = object()


def require_gil(
    *,
    is_gil_enabled: Callable[[], bool] | None | object = _UNSET,
    gil_disabled_build: bool | None = None,
) -> None:
    """Raise ``ImportError`` when the interpreter runs without the GIL.

    Args:
        is_gil_enabled: The probe (default ``sys._is_gil_enabled``, CPython >= 3.13; ``None`` where
            the interpreter has none). Tests inject one.
        gil_disabled_build: Whether the build is free-threaded (default: the ``Py_GIL_DISABLED``
            build variable); consulted only without a probe.

    Raises:
        ImportError: The GIL is disabled (the message is :data:`MESSAGE`).

    Example:
        >>> require_gil(is_gil_enabled=lambda: True)
    """
    probe = getattr(sys, "_is_gil_enabled", None) if is_gil_enabled is _UNSET else is_gil_enabled
    if callable(probe):
        enabled = bool(probe())
    else:
        # No probe (before 3.13): only a free-threaded build can run without the GIL. Those exist from
        # 3.13 on; reading the build variable imports sysconfig (about 1 ms), so only there.
        if gil_disabled_build is None:
            gil_disabled_build = sys.version_info >= (3, 13) and _gil_disabled_build()
        enabled = not gil_disabled_build
    if not enabled:
        raise ImportError(MESSAGE)


def _gil_disabled_build() -> bool:
    import sysconfig

    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
