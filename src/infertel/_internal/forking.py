"""Fork safety: one at-fork hook gives a forked child its own process state, and its own Resource.

Prefork servers (gunicorn ``--preload``, uvicorn ``--workers``) and ``multiprocessing`` fork a
process that has already run ``configure()``. Without this module the child would carry on with
its parent's statistics, in-flight spans, pre-aggregated histogram counts, locks that a parent's
thread held at the fork, and the parent's ``process.pid`` / ``service.instance.id``: workers could
not be told apart and each would report its parent's in-flight requests forever.

:func:`_after_fork_in_child` is the one ``os.register_at_fork(after_in_child=...)`` hook of the
core. In this order it

1. re-creates every module-level lock of infertel (another thread of the parent may have held one
   at the fork; in the child it would never be released);
2. empties the statistics (windows, ended-span buffer, in-flight spans, counted parents) and
   restarts their folding thread;
3. empties the pre-aggregated GenAI histograms (series counts, pending calls, what each reader
   accumulated; cumulative series restart at the fork);
4. resets the component status registry (:mod:`infertel._internal.status`);
5. forgets the parent's open streams (:mod:`infertel._internal.instrument.reaper`) and starts the
   child's own SIGTERM flush helper (:mod:`infertel._internal.lifecycle`);
6. drops the alert engines' leader lock descriptors inherited from the parent
   (:mod:`infertel.alerting._leader`): the child does not lead, and does not keep the lock alive.

Modules that were never imported have no state and are skipped (looked up in ``sys.modules``, so
this module imports nothing heavy). The exporter distributions, which may be used without
infertel's core, keep their own at-fork hooks: the SQLite store opens its own connection, the
durable exporter opens its own spool lane and threads. The OpenTelemetry SDK restarts its own batch
processor and metric reader threads.

The Resource: :class:`ProcessResource`, the Resource ``configure()`` builds, reports the
process-dependent attributes (``process.pid``, ``process.parent_pid``, ``service.instance.id``) of
the process that reads it, so every signal of a forked child carries the child's identity, on every
supported SDK version, through the public ``Resource.attributes`` only.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from typing import Any

import opentelemetry.sdk.resources as sdk_resources
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import PROCESS_PARENT_PID, PROCESS_PID, SERVICE_INSTANCE_ID, Resource
from opentelemetry.util.types import Attributes

_logger = logging.getLogger(__name__)

_instance_ids: dict[int, str] = {}


def service_instance_id() -> str:
    """This process's ``service.instance.id``: the SDK's own where it has one, else a UUID per process.

    SDKs that generate the id themselves (``ServiceInstanceIdResourceDetector``, newer than 1.37)
    regenerate it per process; asking their detector keeps infertel's id and the SDK's equal.

    Example:
        >>> service_instance_id() == service_instance_id()
        True
    """
    pid = os.getpid()
    known = _instance_ids.get(pid)
    if known is not None:
        return known
    instance_id: Any = None
    # Public where it exists; SDK 1.37 and the releases after it have no such detector (None here).
    detector_class: Any = getattr(sdk_resources, "ServiceInstanceIdResourceDetector", None)
    if detector_class is not None:
        try:
            instance_id = detector_class().detect().attributes.get(SERVICE_INSTANCE_ID)
        except Exception as exc:  # a detector failure must never stop a fork or a configure()
            _logger.debug("infertel: the SDK's service.instance.id detector failed: %r", exc)
    if not isinstance(instance_id, str) or not instance_id:
        instance_id = str(uuid.uuid4())
    _instance_ids.clear()  # one entry: the current process's
    _instance_ids[pid] = instance_id
    return instance_id


class ProcessResource(Resource):
    """A Resource whose process-dependent attributes are those of the process that reads them.

    ``process.pid`` and ``process.parent_pid`` (when detected) and ``service.instance.id`` follow
    ``os.fork()``: a forked child reads its own pid, its parent's pid and a new instance id (as the
    SDK's own fork handling does since it generates instance ids), while everything else stays as
    built. In the process that built it, a ``service.instance.id`` given by the user is kept; one is
    added where the SDK did not set it. ``merge`` returns a ProcessResource too, so an SDK that
    merges a fresh resource into its providers at fork keeps this behaviour.

    Threading: reading ``attributes`` from any thread is safe (an atomic swap after a fork).

    Args:
        attributes: The attributes as built in this process.
        schema_url: The resource's schema URL.

    Example:
        >>> resource = ProcessResource({"service.name": "chat-api", "process.pid": 1})
        >>> resource.attributes["process.pid"] == os.getpid()
        True
    """

    def __init__(self, attributes: Attributes, schema_url: str | None = None) -> None:
        super().__init__(dict(attributes or {}), schema_url)
        self._infertel_origin_pid = os.getpid()
        self._infertel_pid = -1
        self._infertel_current: BoundedAttributes = BoundedAttributes(attributes={}, immutable=True)
        self._infertel_refresh()

    def _infertel_refresh(self) -> BoundedAttributes:
        pid = os.getpid()
        values = dict(super().attributes)
        if PROCESS_PID in values:
            values[PROCESS_PID] = pid
        if pid != self._infertel_origin_pid:
            if PROCESS_PARENT_PID in values:
                values[PROCESS_PARENT_PID] = os.getppid()
            values[SERVICE_INSTANCE_ID] = service_instance_id()
        elif not values.get(SERVICE_INSTANCE_ID):
            values[SERVICE_INSTANCE_ID] = service_instance_id()
        current = BoundedAttributes(attributes=values, immutable=True)
        self._infertel_current, self._infertel_pid = current, pid
        return current

    @property
    def attributes(self) -> Attributes:  # type: ignore[override]
        """The attributes, with this process's ``process.pid`` and ``service.instance.id``."""
        if self._infertel_pid != os.getpid():
            return self._infertel_refresh()
        return self._infertel_current

    def merge(self, other: Resource) -> Resource:
        """``Resource.merge``, keeping the process-dependent attributes live (see the class docstring)."""
        merged = super().merge(other)
        return ProcessResource(merged.attributes, merged.schema_url)


# --- the at-fork hook ------------------------------------------------------------------------


def _module(name: str) -> Any:
    return sys.modules.get(f"infertel._internal.{name}")


def _renew_locks() -> None:
    """Every module-level lock a thread of the parent may have held at the fork."""
    for name, attribute, factory in (
        ("configure", "_lock", threading.RLock),
        ("state", "_lock", threading.Lock),
        ("providers", "_lock", threading.Lock),
        ("metrics.hook", "_lock", threading.Lock),
        ("metrics.recorder", "_recorders_lock", threading.Lock),
        ("processors._install", "_lock", threading.Lock),
        ("processors._folder", "_lock", threading.Lock),
        ("status", "_lock", threading.Lock),
    ):
        module = _module(name)
        if module is not None and hasattr(module, attribute):
            setattr(module, attribute, factory())
    errors = _module("errors")
    if errors is not None:
        for holder in (getattr(errors, "_reported", None), getattr(errors, "_rate_limiter", None)):
            if holder is not None and hasattr(holder, "_lock"):
                holder._lock = threading.Lock()
    recorder = _module("metrics.recorder")
    if recorder is not None:
        for each in list(getattr(recorder, "_recorders", {}).values()):
            if hasattr(each, "_lock"):
                each._lock = threading.Lock()


def _reset_statistics() -> None:
    folder = _module("processors._folder")
    if folder is None:
        return
    for stats in list(folder._live):
        stats.reset_after_fork()
    install = _module("processors._install")
    if install is not None:
        for handle in list(install._installed):
            handle.processor.reset_after_fork()
    folder.restart_after_fork()


def _reset_aggregators() -> None:
    hook = _module("metrics.hook")
    if hook is not None:
        for aggregator in list(hook._aggregators.values()):
            aggregator.reset_after_fork()


def _reset_status() -> None:
    status = _module("status")
    if status is not None:
        status.reset_after_fork()


def _reset_streams_and_exit_flush() -> None:
    # The parent's open streams are not the child's to end; the SIGTERM helper thread did not survive.
    for name in ("instrument.reaper", "lifecycle"):
        reset = getattr(_module(name), "reset_after_fork", None)
        if reset is not None:
            reset()


def _reset_hub_counts() -> None:
    # The batch processors' queues start empty in the child: so do the counts compared with them.
    providers = _module("providers")
    if providers is not None:
        providers.reset_hubs_after_fork()


def _forget_alert_leadership() -> None:
    # A flock is shared with the child through the inherited descriptor: close the child's copy, never unlock.
    leader = sys.modules.get("infertel.alerting._leader")
    if leader is not None:
        leader.reset_after_fork()


_STEPS = (
    _renew_locks,
    _reset_statistics,
    _reset_aggregators,
    _reset_status,
    _reset_streams_and_exit_flush,
    _reset_hub_counts,
    _forget_alert_leadership,
)


def _after_fork_in_child() -> None:
    """The one at-fork hook of the core (see the module docstring); never raises into ``fork()``."""
    for step in _STEPS:
        try:
            step()
        except Exception as exc:  # a failure here must not kill the child; that state stays inherited
            _logger.warning("infertel: resetting process state after fork() failed in %s: %r", step.__name__, exc)


if hasattr(os, "register_at_fork"):  # module import runs once per process: one hook
    os.register_at_fork(after_in_child=_after_fork_in_child)
