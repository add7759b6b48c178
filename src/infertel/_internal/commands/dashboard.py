"""``infertel dashboard``: the web dashboard over the local store (needs ``infertel[dashboard]``)."""

from __future__ import annotations

import argparse
import gc
import os
import socket
from pathlib import Path
from typing import Any

from infertel._internal.commands import STORE_HELP, CommandError, integer

NAME = "dashboard"


def _port(text: str) -> int:
    value = integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return value


def _refresh(text: str) -> int:
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0 (0: no reload), got {text!r}")
    return value


def add(commands: Any) -> None:
    """Add ``dashboard``'s parser to the subparsers ``commands``."""
    parser = commands.add_parser(
        NAME,
        help="serve the web dashboard (overview, resources, traces, logs, alerts, health) over the local store",
        description="Serve server-rendered pages and a JSON API over the embedded SQLite store, read-only: "
        "per-model request rate, errors, latency, TTFT, tokens/s, resources, traces with their waterfall, logs. "
        "Binds 127.0.0.1 unless told otherwise; a non-loopback --host needs a token. /livez, /readyz and /startupz "
        "report this process's health (status code and verdict without the token, the checks with it).",
    )
    parser.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8686, help="port to bind (default 8686)")
    parser.add_argument(
        "--refresh", type=_refresh, default=10, metavar="SECONDS", help="reload pages every SECONDS (10; 0: never)"
    )
    parser.add_argument(
        "--trace-url",
        default=None,
        metavar="URL",
        help="link each trace to another UI, e.g. 'http://127.0.0.1:16686/trace/{trace_id}' (Jaeger)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token every request must carry (default $INFERTEL_DASHBOARD_TOKEN; required off loopback)",
    )
    parser.add_argument(
        "--capacity-rps",
        type=_positive_float,
        default=None,
        metavar="RPS",
        help="requests/s one replica sustains within the SLO: enables the autoscaling recommendation and the "
        "capacity plan pages (the forecast and cost pages work without it)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted; returns the exit status."""
    from infertel.environment_variables import INFERTEL_DASHBOARD_TOKEN

    token = args.token if args.token is not None else os.environ.get(INFERTEL_DASHBOARD_TOKEN, "").strip() or None
    if args.token is not None and not args.token.strip():
        raise CommandError("--token must not be empty")
    from infertel.dashboard._hosts import is_loopback

    if not is_loopback(args.host) and token is None:
        raise CommandError(
            f"refusing to serve on non-loopback --host {args.host} without a token "
            f"(set --token or ${INFERTEL_DASHBOARD_TOKEN})"
        )
    if args.trace_url is not None and "{trace_id}" not in args.trace_url:
        raise CommandError(f"--trace-url must contain {{trace_id}}, got {args.trace_url!r}")
    if args.store is not None:
        path = Path(args.store).expanduser()
    else:
        from infertel_exporters.sqlite import default_path

        path = default_path()
    if not path.is_file():
        raise CommandError(f"no store at {path} (run `infertel demo`, or an app with infertel.configure(), first)")
    try:
        import uvicorn

        from infertel.dashboard import create_app
    except ImportError as exc:
        missing = exc.name or "its extra"
        raise CommandError(f"the dashboard needs {missing}: pip install 'infertel[dashboard]'") from None
    # Without a token on loopback, only loopback Host headers: no DNS-rebinding page can read the dashboard.
    hosts = None if token is not None else ["127.0.0.1", "localhost", "::1", "[::1]", args.host.strip("[]")]
    from infertel.alerting.web import register as register_alerts
    from infertel.dashboard._security import TokenGate
    from infertel.health import router as probes
    from infertel.health.web import dashboard_registry
    from infertel.health.web import register as register_health

    registry = dashboard_registry(path)  # this process's health: the store readable, memory, the store's disk
    register_alerts()  # the alerts, silences and health pages over the store's alerting tables
    register_health(registry, own=True)
    _register_planning(args)
    app = create_app(path, token=token, refresh_s=args.refresh, trace_url=args.trace_url, allowed_hosts=hosts)
    # /livez /readyz /startupz answer Kubernetes (which sends no token) with the status code and verdict only;
    # the checks themselves (messages, the store's path) need the dashboard's token, as every other route.
    gate = TokenGate(token, "")
    app.include_router(probes(registry, details=lambda request: gate.check(request, page=False) is None))
    sock = _listen(args.host, args.port)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    print(f"infertel dashboard: http://{_url_host(args.host)}:{args.port}/  (store {path}; Ctrl-C to stop)", flush=True)
    registry.start()
    # The startup objects (FastAPI, pydantic, Jinja, the store) move to the permanent generation, so the cyclic
    # GC's full passes stop rescanning them on requests (h13-browser measured the trace page's p95 40 -> 15 ms).
    gc.collect()
    gc.freeze()
    try:
        server.run(sockets=[sock])
    finally:
        registry.stop()
    return 0


def _register_planning(args: argparse.Namespace) -> None:
    """The Analysis, Autoscaling, Capacity plan, Cost and Profiles pages over the same store."""
    import infertel.analysis
    import infertel.profiling
    from infertel.planning_web import PlanningSettings
    from infertel.planning_web import register_dashboard as register_planning

    infertel.analysis.register_dashboard()
    infertel.profiling.register_dashboard()
    try:
        register_planning(PlanningSettings(capacity_rps=args.capacity_rps))
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (uvicorn serves on it), or a one-line error (in use, no such address)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    family, socktype, proto, _, address = infos[0]
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP; without it every
    # response on a keep-alive connection waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socktype, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
