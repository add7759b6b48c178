"""Optional dependencies: each sits behind an extra of the ``infertel`` distribution.

``pip install infertel`` installs what the default path needs (the embedded store, OTLP over
HTTP/protobuf, the durable spool). The rest is imported only when a feature asks for it:

================  =======================================  ==========================================
extra             installs                                 needed by
================  =======================================  ==========================================
``otlp-grpc``     opentelemetry-exporter-otlp-proto-grpc   OTLP export over gRPC (the endpoint default)
``gpu``           nvidia-ml-py                             GPU metrics (absent, one log line, without)
``prometheus``    opentelemetry-exporter-prometheus        ``prometheus_port=`` / ``INFERTEL_PROMETHEUS_PORT``
``demo``          rich                                     the terminal UI of ``infertel demo`` (plain without)
================  =======================================  ==========================================
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

EXTRAS: dict[str, str] = {
    "otlp-grpc": "opentelemetry.exporter.otlp.proto.grpc",
    "gpu": "pynvml",
    "prometheus": "opentelemetry.exporter.prometheus",
    "demo": "rich",
}
"""Each extra and the module whose presence tells that it is installed."""


def hint(extra: str) -> str:
    """The install command for ``extra``.

    Example:
        >>> hint("gpu")
        "pip install 'infertel[gpu]'"
    """
    return f"pip install 'infertel[{extra}]'"


def require(extra: str, feature: str, module: str | None = None) -> ModuleType:
    """Import ``module`` (default: the one that marks ``extra``), or fail naming the extra.

    Call this where the user asked for ``feature`` explicitly; code that merely *could* use an
    extra (zero-code instrumentation, GPU metrics) checks :func:`installed` and skips instead.

    Raises:
        ImportError: The module is missing; the message names ``feature`` and the extra to install.

    Example:
        >>> require("otlp-grpc", "OTLP export over gRPC")  # doctest: +SKIP
        <module 'opentelemetry.exporter.otlp.proto.grpc' ...>
    """
    name = module or EXTRAS[extra]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(f"{feature} needs the '{extra}' extra ({name} is not installed): {hint(extra)}") from exc


def installed(extra: str) -> bool:
    """Whether the module marking ``extra`` can be imported (found without importing it).

    Example:
        >>> installed("otlp-grpc") in (True, False)
        True
    """
    module = EXTRAS[extra]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
