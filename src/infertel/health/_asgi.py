"""The three probes over HTTP: a plain ASGI application and a mountable FastAPI router.

Both are thin views of :meth:`HealthRegistry.report`: the status code for machines (200 when
``pass`` or ``warn``, 503 when ``fail``), the ``application/health+json`` body, or with
``?verbose`` the text for humans. Nothing runs per probe but a dictionary lookup, and the first
probe starts the event-loop lag monitor on the server's loop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from infertel.health._model import LIVEZ, PROBES, READYZ, STARTUPZ
from infertel.health._registry import HealthRegistry
from infertel.health._render import HEALTH_JSON, ProbeReport
from infertel.health.web import use

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TEXT = "text/plain; charset=utf-8"
_NO_STORE = (b"cache-control", b"no-store")


def wants_verbose(query_string: bytes) -> bool:
    """Whether a query string asks for the text form (``verbose``, ``verbose=1``, ``verbose=true``).

    Example:
        >>> wants_verbose(b"verbose"), wants_verbose(b"verbose=0"), wants_verbose(b"")
        (True, False, False)
    """
    for item in query_string.split(b"&"):
        key, _, value = item.partition(b"=")
        if key == b"verbose":
            return value.lower() not in (b"0", b"false", b"no")
    return False


def _payload(report: ProbeReport, verbose: bool) -> tuple[bytes, bytes]:
    return (report.text, _TEXT.encode()) if verbose else (report.body, HEALTH_JSON.encode())


def _start_monitor(registry: HealthRegistry) -> None:
    monitor = registry.event_loop_monitor
    if monitor is not None and not monitor.watching:
        monitor.start()


def health_app(registry: HealthRegistry, *, prefix: str = "") -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A plain ASGI application answering ``{prefix}/livez``, ``/readyz`` and ``/startupz``.

    It also serves the ASGI lifespan: the registry starts with the server and stops with it.
    Other paths get 404, other methods than GET and HEAD get 405.

    Threading: one instance may serve any number of concurrent requests; exceptions are not
    expected (nothing but a lookup runs).

    Example:
        >>> import uvicorn  # doctest: +SKIP
        >>> uvicorn.run(health_app(HealthRegistry(checks=default_checks())), port=8081)  # doctest: +SKIP
    """
    use(registry)
    paths = {f"{prefix.rstrip('/')}/{probe}": probe for probe in PROBES}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(registry, receive, send)
            return
        if kind != "http":
            return
        probe = paths.get(scope["path"].rstrip("/") or "/")
        if probe is None:
            await _plain(send, 404, b"not found\n")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", ((b"allow", b"GET, HEAD"),))
            return
        _start_monitor(registry)
        report = registry.report(probe)
        body, content_type = _payload(report, wants_verbose(scope.get("query_string", b"")))
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), _NO_STORE]
        await send({"type": "http.response.start", "status": report.http_status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


async def _plain(send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    headers = [(b"content-type", _TEXT.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(registry: HealthRegistry, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            registry.start()
            _start_monitor(registry)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if registry.event_loop_monitor is not None:
                registry.event_loop_monitor.stop()
            registry.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


def terse(report: ProbeReport, verbose: bool) -> tuple[bytes, bytes]:
    """The verdict alone, for callers not shown the details: ``{"status": ...}`` or one line of text.

    Example:
        >>> from infertel.health import HealthRegistry
        >>> terse(HealthRegistry().report("livez"), False)
        (b'{"status": "pass"}', b'application/health+json')
    """
    if verbose:
        return f"{report.probe} check {'failed' if report.status == 'fail' else 'passed'}\n".encode(), _TEXT.encode()
    return json.dumps({"status": report.status}).encode(), HEALTH_JSON.encode()


def router(
    registry: HealthRegistry,
    *,
    prefix: str = "",
    tags: list[str] | None = None,
    details: Callable[[Any], bool] | None = None,
) -> Any:
    """A FastAPI ``APIRouter`` with ``{prefix}/livez``, ``/readyz`` and ``/startupz``.

    Mount it with ``app.include_router(router(registry))``. The application starts the registry
    (``registry.start()`` in its lifespan); the first probe starts the event-loop lag monitor on
    the server's loop. ``details(request) -> bool`` decides who sees the checks (their messages,
    values, paths): the others get the same status code with the verdict alone (``{"status":
    "pass"}``, or ``readyz check passed`` with ``?verbose``), so a Kubernetes probe that sends no
    credentials works while the details stay behind, e.g., the dashboard's token.

    Raises:
        ImportError: FastAPI is not installed (``pip install 'infertel[fastapi]'``).

    Example:
        >>> from fastapi import FastAPI
        >>> from infertel.health import default_checks
        >>> registry = HealthRegistry(checks=default_checks(), gates=["model-loaded"])
        >>> app = FastAPI()
        >>> app.include_router(router(registry))
    """
    try:
        from fastapi import APIRouter, Request
        from fastapi.responses import Response
    except ImportError as exc:  # pragma: no cover - fastapi is in the test environment
        raise ImportError("infertel.health.router needs FastAPI: pip install 'infertel[fastapi]'") from exc

    use(registry)
    api = APIRouter(prefix=prefix.rstrip("/"), tags=list(tags) if tags is not None else ["health"])
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "pass or warn", "content": {HEALTH_JSON: {}, _TEXT: {}}},
        503: {"description": "fail", "content": {HEALTH_JSON: {}, _TEXT: {}}},
    }
    summaries = {
        LIVEZ: "Liveness: the process works (never depends on downstreams).",
        READYZ: "Readiness: critical checks pass and every gate is open.",
        STARTUPZ: "Startup: every startup check passed once and every gate was opened once.",
    }

    def endpoint(probe: str) -> Callable[[Request], Awaitable[Response]]:
        async def probe_endpoint(request: Request) -> Response:
            _start_monitor(registry)
            report = registry.report(probe)
            verbose = wants_verbose(request.scope.get("query_string", b""))
            shown = details is None or details(request)
            body, content_type = _payload(report, verbose) if shown else terse(report, verbose)
            return Response(body, report.http_status, {"cache-control": "no-store"}, media_type=content_type.decode())

        probe_endpoint.__name__ = probe
        # FastAPI resolves annotations in the module's globals; Request is imported lazily here.
        probe_endpoint.__annotations__ = {"request": Request, "return": Response}
        return probe_endpoint

    for probe in (LIVEZ, READYZ, STARTUPZ):
        api.add_api_route(
            f"/{probe}",
            endpoint(probe),
            methods=["GET"],
            summary=summaries[probe],
            responses=responses,
            response_class=Response,
        )
    return api
