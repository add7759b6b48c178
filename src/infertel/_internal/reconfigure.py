"""One service identity for all three signals, whatever ``configure()`` is asked the second time.

An OpenTelemetry TracerProvider's Resource is fixed when it is constructed, and the global one can
be set only once per process. So once a TracerProvider exists (built by an earlier ``configure()``,
or installed by the application or ``opentelemetry-instrument``), a ``service_name``,
``service_version`` or ``resource_attributes`` that differs from its Resource cannot reach the
spans. infertel then applies it to none of the signals: the MeterProvider and LoggerProvider it
builds get the TracerProvider's Resource too, and one warning says what was not applied and why.
Applying it to metrics and logs only would split one service into two in every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource

_logger = logging.getLogger(__name__)


def consistent_resource(tracer_provider: Any, wanted: Resource, given_keys: Iterable[str]) -> Resource:
    """The Resource for every provider ``configure()`` builds: ``wanted``, unless the TracerProvider's differs.

    Args:
        tracer_provider: The TracerProvider the configuration uses (its ``resource``, if it has one, is fixed).
        wanted: The Resource the settings ask for.
        given_keys: Resource attributes the caller set explicitly (``resource_attributes``).

    Returns:
        ``wanted`` when the TracerProvider's Resource agrees with it on ``service.name``,
        ``service.version`` and ``given_keys`` (or there is no such Resource); else the
        TracerProvider's Resource, after one warning naming what could not be applied.

    Example:
        >>> from opentelemetry.sdk.trace import TracerProvider
        >>> provider = TracerProvider(resource=Resource({"service.name": "a"}))
        >>> consistent_resource(provider, Resource({"service.name": "a"}), ()).attributes["service.name"]
        'a'
    """
    existing = getattr(tracer_provider, "resource", None)
    if not isinstance(existing, Resource) or existing is wanted:
        return wanted
    keys = [SERVICE_NAME, SERVICE_VERSION, *given_keys]
    differing = {
        key: (existing.attributes.get(key), wanted.attributes.get(key))
        for key in dict.fromkeys(keys)
        if key in wanted.attributes and existing.attributes.get(key) != wanted.attributes.get(key)
    }
    if not differing:
        return wanted
    _logger.warning(
        "infertel: %s cannot be applied: the TracerProvider in use keeps the resource it was built with, so "
        "traces, metrics and logs all keep %s; set them in the first configure() (or OTEL_SERVICE_NAME / "
        "OTEL_RESOURCE_ATTRIBUTES) before any TracerProvider is installed",
        ", ".join(f"{key}={new!r}" for key, (_old, new) in differing.items()),
        ", ".join(f"{key}={old!r}" for key, (old, _new) in differing.items()),
    )
    return existing


def resource_key(resource: Resource) -> str:
    """A stable comparison key of ``resource``'s attributes (values may be lists, which do not hash)."""
    return repr(sorted((str(k), repr(v)) for k, v in resource.attributes.items()))
