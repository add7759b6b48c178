"""The ready-made registry (every built-in check) and an ASGI lifespan that runs it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from infertel.health._builtin import default_checks
from infertel.health._looplag import EventLoopLagMonitor
from infertel.health._model import Check
from infertel.health._registry import HealthRegistry
from infertel.health._shedding import LoadShedder, load_shedder
from infertel.health.web import use


def default_registry(
    *,
    gates: Iterable[str] = (),
    checks: Iterable[Check] = (),
    gpu: bool = True,
    shedder: LoadShedder = load_shedder,
    service: Mapping[str, str] | None = None,
) -> HealthRegistry:
    """A registry with every built-in check (see :func:`default_checks`), the given gates and checks.

    Example:
        >>> registry = default_registry(gates=["model-loaded"], gpu=False)
        >>> "memory:utilization" in registry.observations()
        True
    """
    monitor = EventLoopLagMonitor()
    registry = HealthRegistry(
        checks=[*default_checks(monitor=monitor, shedder=shedder, gpu=gpu), *checks],
        gates=gates,
        service=service,
        event_loop_monitor=monitor,
    )
    use(registry)  # the application's registry: a mounted dashboard shows its health page
    return registry


def lifespan(registry: HealthRegistry) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI/Starlette ``lifespan`` that starts ``registry`` (and its loop monitor) and stops it.

    Example:
        >>> from fastapi import FastAPI
        >>> app = FastAPI(lifespan=lifespan(default_registry(gpu=False)))
    """
    use(registry)

    @contextlib.asynccontextmanager
    async def run(_app: Any) -> AsyncIterator[None]:
        registry.start()
        if registry.event_loop_monitor is not None:
            registry.event_loop_monitor.start()
        try:
            yield
        finally:
            if registry.event_loop_monitor is not None:
                registry.event_loop_monitor.stop()
            registry.stop()

    return run
