"""The OpenTelemetry Resource every signal ``configure()`` sets up carries.

Built from the SDK's own pieces: ``Resource.create`` (``telemetry.sdk.*``, ``service.instance.id``,
``OTEL_RESOURCE_ATTRIBUTES`` and ``OTEL_SERVICE_NAME``) merged over the SDK's host, OS and process
detectors. Precedence: ``configure()`` arguments > ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` >
detected attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import (
    SERVICE_NAME,
    SERVICE_VERSION,
    OsResourceDetector,
    ProcessResourceDetector,
    Resource,
    ResourceDetector,
    get_aggregated_resources,
)

from infertel import semconv
from infertel._internal.forking import ProcessResource
from infertel.version import __version__

_logger = logging.getLogger(__name__)


def _host_detector() -> ResourceDetector | None:
    # The SDK registers its host detector (host.name, host.arch, host.id) only as an entry point.
    from importlib.metadata import entry_points

    for entry_point in entry_points(group="opentelemetry_resource_detector", name="host"):
        try:
            detector = entry_point.load()()
        except Exception as exc:  # a broken third-party plugin must not stop configure()
            _logger.debug("infertel: cannot load the host resource detector: %r", exc)
            return None
        return detector if isinstance(detector, ResourceDetector) else None
    return None


def build_resource(
    *,
    service_name: str | None = None,
    service_version: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Resource:
    """The Resource for ``configure()``'s providers.

    Args:
        service_name: ``service.name``; overrides ``OTEL_SERVICE_NAME``.
        service_version: ``service.version``.
        attributes: More resource attributes; override ``OTEL_RESOURCE_ATTRIBUTES`` and detection.

    Example:
        >>> build_resource(service_name="chat-api").attributes["service.name"]
        'chat-api'
    """
    detectors: list[ResourceDetector] = [OsResourceDetector(), ProcessResourceDetector()]
    host = _host_detector()
    if host is not None:
        detectors.insert(0, host)
    detected = get_aggregated_resources(detectors, Resource.get_empty())

    explicit: dict[str, Any] = {semconv.INFERTEL_VERSION: __version__}
    explicit.update(attributes or {})
    if service_name:
        explicit[SERVICE_NAME] = service_name
    if service_version:
        explicit[SERVICE_VERSION] = service_version
    # Resource.create adds telemetry.sdk.*, service.instance.id and the OTEL_* variables, with
    # ``explicit`` on top; detection fills in what none of those set.
    # A ProcessResource: a forked child reports its own process.pid and service.instance.id.
    merged = detected.merge(Resource.create(explicit))
    return ProcessResource(merged.attributes, merged.schema_url)
