"""``opentelemetry-instrument`` support: infertel's distro and configurator.

With infertel installed, ``opentelemetry-instrument python app.py`` finds
:class:`InfertelDistro` through the ``opentelemetry_distro`` entry point and
:class:`InfertelConfigurator` through ``opentelemetry_configurator``. The configurator calls
:func:`infertel.configure` with no arguments, exactly as a user's own ``infertel.configure()``
would run: the same ``OTEL_*`` and ``INFERTEL_*`` environment variables, the same providers,
span processors and resource metrics. The instrumentors (ours and contrib's) are then loaded by
``opentelemetry-instrument`` from the ``opentelemetry_instrumentor`` entry point, after the
providers exist, so they pick the configured ones up as the global providers;
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` disables any of them by entry-point name
(``infertel_fastapi``, ``infertel_openai``, ``infertel_transformers``, ``fastapi`` ...).

When several distros or configurators are installed, ``opentelemetry-instrument`` takes the one
named by ``OTEL_PYTHON_DISTRO`` / ``OTEL_PYTHON_CONFIGURATOR`` (``infertel``), else the first
entry point it meets. Selecting the infertel distro also selects the infertel configurator
unless ``OTEL_PYTHON_CONFIGURATOR`` says otherwise.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR
from opentelemetry.sdk._configuration import _BaseConfigurator

from infertel.environment_variables import INFERTEL_FASTAPI_EXCLUDE_SPANS

_logger = logging.getLogger(__name__)

ENTRY_POINT_NAME = "infertel"
"""Name of both entry points: the value for ``OTEL_PYTHON_DISTRO`` and ``OTEL_PYTHON_CONFIGURATOR``."""

_ASGI_SPANS = ("send", "receive")


def excluded_asgi_spans(value: str | None = None) -> list[str]:
    """The ``exclude_spans`` given to the contrib FastAPI instrumentation (``INFERTEL_FASTAPI_EXCLUDE_SPANS``).

    Raises:
        ValueError: An item is not ``send``, ``receive`` or ``none``.

    Example:
        >>> excluded_asgi_spans("send")
        ['send']
    """
    if value is None:
        value = os.environ.get(INFERTEL_FASTAPI_EXCLUDE_SPANS, ",".join(_ASGI_SPANS))
    items = [item.strip().lower() for item in value.split(",") if item.strip()]
    if items in ([], ["none"]):
        return []
    for item in items:
        if item not in _ASGI_SPANS:
            raise ValueError(
                f"{INFERTEL_FASTAPI_EXCLUDE_SPANS}: {item!r} is not one of 'send', 'receive' "
                "(comma-separated) or 'none'"
            )
    return list(dict.fromkeys(items))


class InfertelDistro(BaseDistro):
    """The ``opentelemetry_distro`` entry point ``infertel``.

    It makes the infertel configurator the one ``opentelemetry-instrument`` runs (unless
    ``OTEL_PYTHON_CONFIGURATOR`` names another) and loads instrumentors the standard way, except
    that the contrib FastAPI instrumentation (entry point ``fastapi``) gets
    ``exclude_spans=["send", "receive"]`` (``INFERTEL_FASTAPI_EXCLUDE_SPANS``): one span per SSE
    chunk is unbounded span volume for a streaming inference server.

    Example:
        $ OTEL_PYTHON_DISTRO=infertel opentelemetry-instrument python serve.py
    """

    def _configure(self, **kwargs: Any) -> None:
        # opentelemetry-instrument reads OTEL_PYTHON_CONFIGURATOR right after this call.
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, ENTRY_POINT_NAME)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Instrument ``entry_point`` (called by ``opentelemetry-instrument`` for each instrumentor).

        Example:
            >>> InfertelDistro().load_instrumentor(entry_point, skip_dep_check=True)  # doctest: +SKIP
        """
        if entry_point.name == "fastapi" and "exclude_spans" not in kwargs:
            excluded = excluded_asgi_spans()
            if excluded:
                kwargs["exclude_spans"] = excluded
        super().load_instrumentor(entry_point, **kwargs)


class InfertelConfigurator(_BaseConfigurator):
    """The ``opentelemetry_configurator`` entry point ``infertel``: runs ``infertel.configure()``.

    A configuration mistake (an invalid ``OTEL_*`` or ``INFERTEL_*`` value) raises
    ``ValueError``, which ``opentelemetry-instrument`` logs before running the application
    uninstrumented.

    Example:
        $ OTEL_SERVICE_NAME=chat-api opentelemetry-instrument python serve.py
    """

    def _configure(self, **kwargs: Any) -> None:
        import infertel

        infertel.configure()
        _logger.debug("infertel configured by opentelemetry-instrument %s", kwargs.get("auto_instrumentation_version"))
