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

Which configurator runs is deterministic when another distro is installed beside infertel (the
usual one is ``opentelemetry-distro``): ``opentelemetry-instrument`` itself takes the *first*
entry point it meets when ``OTEL_PYTHON_DISTRO`` / ``OTEL_PYTHON_CONFIGURATOR`` are unset, and
that order is the file system's. So infertel steps aside unless it is named: its distro hands
over to the other distro, and its configurator to the other configurator. The rule:

==================  ========================  =================  =====================================
OTEL_PYTHON_DISTRO  OTEL_PYTHON_CONFIGURATOR  distro that runs   configurator that runs
==================  ========================  =================  =====================================
(any)               ``infertel``              as named / other   infertel's (``infertel.configure()``)
``infertel``        unset                     infertel's         infertel's
(any)               another name              as named / other   the one named
unset / another     unset                     the other one      the other one
==================  ========================  =================  =====================================

With infertel's the only distro and configurator installed, both are infertel's unless named
otherwise. ``opentelemetry-distro``'s distro sets ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER=otlp``
when they are unset, so under it infertel's configurator exports over OTLP; set
``OTEL_PYTHON_DISTRO=infertel`` to keep infertel's defaults.

The contrib ``logging`` instrumentor would add its own handler to the root logger; infertel's
configurator turns that off (``OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION=false`` unless set), since
``configure()`` itself decides whether records are exported (``export_logs``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.instrumentation.environment_variables import OTEL_PYTHON_CONFIGURATOR, OTEL_PYTHON_DISTRO

from infertel._internal.compat import BaseConfigurator as _BaseConfigurator
from infertel.environment_variables import INFERTEL_FASTAPI_EXCLUDE_SPANS

_logger = logging.getLogger(__name__)

ENTRY_POINT_NAME = "infertel"
"""Name of both entry points: the value for ``OTEL_PYTHON_DISTRO`` and ``OTEL_PYTHON_CONFIGURATOR``."""

_ASGI_SPANS = ("send", "receive")
_UPSTREAM_SYSTEM_METRICS = "system_metrics"  # opentelemetry-instrumentation-system-metrics' entry point


def _configured_by_infertel() -> bool:
    from infertel._internal import configure

    return configure.active_settings() is not None


_LOG_AUTO_INSTRUMENTATION = "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION"  # opentelemetry-instrumentation-logging's


def _named(variable: str) -> str | None:
    value = os.environ.get(variable, "").strip()
    return value or None


def _other_entry_point(group: str) -> Any | None:
    """The first entry point of ``group`` that is not infertel's (another distro or configurator)."""
    from importlib.metadata import entry_points  # what opentelemetry-instrument's loader reads, in its order

    return next((ep for ep in entry_points(group=group) if ep.name != ENTRY_POINT_NAME), None)


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

    _delegate: BaseDistro | None = None

    def _configure(self, **kwargs: Any) -> None:
        other = _other_entry_point("opentelemetry_distro")
        if _named(OTEL_PYTHON_DISTRO) != ENTRY_POINT_NAME and other is not None:
            # Not named, and another distro is installed: it runs, whatever order the entry points came in.
            self._delegate = other.load()()
            self._delegate.configure(**kwargs)
            return
        # opentelemetry-instrument reads OTEL_PYTHON_CONFIGURATOR right after this call.
        os.environ.setdefault(OTEL_PYTHON_CONFIGURATOR, ENTRY_POINT_NAME)

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Instrument ``entry_point`` (called by ``opentelemetry-instrument`` for each instrumentor).

        Example:
            >>> InfertelDistro().load_instrumentor(entry_point, skip_dep_check=True)  # doctest: +SKIP
        """
        if entry_point.name == _UPSTREAM_SYSTEM_METRICS and _configured_by_infertel():
            # configure() already installed the system/process metrics (INFERTEL_RESOURCE_METRICS*),
            # under current names; upstream's would add its default set under deprecated names.
            _logger.debug("infertel: system metrics come from configure(); skipping %r", entry_point.name)
            return
        if self._delegate is not None:
            self._delegate.load_instrumentor(entry_point, **kwargs)
            return
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
        other = _other_entry_point("opentelemetry_configurator")
        if _named(OTEL_PYTHON_CONFIGURATOR) is None and other is not None:
            # Not named, and another configurator is installed: it runs, whatever the entry-point order.
            _logger.info(
                "infertel: %s=%s not set and configurator %r installed: running %r",
                OTEL_PYTHON_CONFIGURATOR,
                ENTRY_POINT_NAME,
                other.name,
                other.name,
            )
            other.load()().configure(**kwargs)
            return
        import infertel

        # configure() decides whether log records are exported (export_logs); the contrib logging
        # instrumentor, loaded next, would otherwise add a second root handler of its own.
        os.environ.setdefault(_LOG_AUTO_INSTRUMENTATION, "false")
        infertel.configure()
        _logger.debug("infertel configured by opentelemetry-instrument %s", kwargs.get("auto_instrumentation_version"))
