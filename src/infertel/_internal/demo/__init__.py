"""``infertel demo``: a synthetic inference workload through infertel, then a summary read back.

With no OTLP endpoint the telemetry goes to the embedded SQLite store and the summary is
computed from the spans read back from it (so the table proves the data arrived); with
``OTEL_EXPORTER_OTLP_ENDPOINT`` the same run ships OTLP and the summary comes from the demo's
own measurements.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import logging
import shlex
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import infertel
from infertel import semconv
from infertel._internal import config
from infertel._internal.demo import plain, report
from infertel._internal.demo.engine import Engine, Outcome, Plan, make_plans

_logger = logging.getLogger(__name__)

SERVICE_NAME = "infertel-demo"


@dataclass(frozen=True)
class DemoOptions:
    """What ``infertel demo`` was asked to do (validated by the CLI)."""

    requests: int = 200
    concurrency: int = 8
    seed: int = 42
    store: str | None = None
    error_rate: float = 0.04


async def _drive(engine: Engine, plans: list[Plan], concurrency: int, done: Callable[[Outcome], None]) -> None:
    loop = asyncio.get_running_loop()
    # Sync calls run in threads: one per concurrent request, so they never queue behind each other.
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="infertel-demo")
    loop.set_default_executor(executor)
    pending = iter(plans)

    async def worker() -> None:
        for plan in pending:  # a shared iterator: each plan is taken by exactly one worker
            done(await engine.run(plan))

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        executor.shutdown(wait=True)


def _consoles(console: Any | None) -> tuple[Any, Any, Any]:
    """The output console, the error console and a progress factory: rich's, or plain ones without it."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    except ImportError:  # infertel[demo] is not installed: the same text, no colours
        errors = plain.PlainConsole(stderr=True)
        return console or plain.PlainConsole(), errors, lambda: plain.PlainProgress(errors)
    if console is None:
        console = Console()
        if not console.is_terminal:  # a log or a pipe: do not squeeze the table into 80 columns
            console = Console(width=120)
    errors_console = Console(stderr=True)

    def progress() -> Any:
        return Progress(
            SpinnerColumn(), TextColumn("[bold]infertel demo[/bold]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("requests  [red]{task.fields[errors]}[/red] errors"), TimeElapsedColumn(),
            console=errors_console, transient=False,
        )  # fmt: skip

    return console, errors_console, progress


def run(options: DemoOptions, console: Any | None = None) -> int:
    """Run the demo; returns the process exit status.

    Raises:
        ValueError: ``configure()`` rejected the environment (e.g. a malformed OTLP endpoint), or the
            store cannot be used (``--store`` names a corrupt, foreign or unwritable file).

    Example:
        >>> run(DemoOptions(requests=20, concurrency=4, store="/tmp/demo.db"))  # doctest: +SKIP
        0
    """
    console, errors_console, make_progress = _consoles(console)
    run_id = uuid.uuid4().hex[:12]
    settings = config.resolve(service_name=SERVICE_NAME, store_path=options.store)
    to_store = settings.traces.endpoint is None
    store_path = Path(settings.store_path) if settings.store_path is not None else config.default_store_path()
    if to_store:
        _check_store(store_path)
    infertel.configure(
        service_name=SERVICE_NAME,
        store_path=options.store,
        resource_attributes={semconv.INFERTEL_DEMO_RUN_ID: run_id},
    )
    plans = make_plans(options.requests, seed=options.seed, error_rate=options.error_rate)
    engine = Engine()
    outcomes: list[Outcome] = []
    since_ns = time.time_ns()
    started = time.perf_counter()
    progress = make_progress()
    try:
        with progress:
            task = progress.add_task("requests", total=len(plans), errors=0)

            def done(outcome: Outcome) -> None:
                outcomes.append(outcome)
                failed = sum(1 for o in outcomes if o.error_type is not None)
                progress.update(task, advance=1, errors=failed)

            asyncio.run(_drive(engine, plans, options.concurrency, done))
    except KeyboardInterrupt:
        errors_console.print("[yellow]interrupted; flushing what was recorded[/yellow]")
        infertel.shutdown(timeout_millis=5_000)
        return 130
    elapsed = time.perf_counter() - started
    flushed = infertel.shutdown(timeout_millis=30_000)
    title = (
        f"infertel demo: {len(plans):,} requests in {elapsed:.1f} s, concurrency {options.concurrency}, "
        f"seed {options.seed}"
    )
    if not to_store:
        console.print(report.table(report.from_outcomes(outcomes), title=title,
                                   caption="measured in-process (telemetry went over OTLP)"))  # fmt: skip
        endpoint = config.redact_url(settings.traces.endpoint)
        console.print(f"Telemetry sent over OTLP ({settings.traces.protocol}) to [bold]{endpoint}[/bold]"
                      f"{'' if flushed else ' [yellow](some exports did not complete)[/yellow]'}.")  # fmt: skip
        return 0
    return _report_from_store(console, store_path, run_id, since_ns, title, len(plans))


def _check_store(path: Path) -> None:
    """Fail before the run, with one line naming ``--store``, when the store cannot be written.

    Raises:
        ValueError: ``path`` is not a usable infertel store (garbage, a directory, a newer schema)
            or cannot be written (a read-only file or place).
    """
    try:
        from infertel_exporters.sqlite import SQLiteStore
    except ImportError:  # reported after the run, with the install hint
        return
    accepted = "accepted: an infertel store file (new or existing) in a writable directory"
    if path.is_dir():
        raise ValueError(f"--store {path}: is a directory; {accepted}")
    try:
        with SQLiteStore(path) as store:
            store.counts()  # opens it, creating or checking its schema
        with contextlib.closing(sqlite3.connect(path, timeout=5.0)) as conn:
            conn.execute("BEGIN IMMEDIATE")  # takes the write lock: fails where nothing can be written
            conn.rollback()
    except (OSError, sqlite3.Error, ValueError) as exc:
        raise ValueError(f"--store {path}: {_reason(exc)}; {accepted}") from None
    except Exception as exc:  # the store's own StoreError, which names the file: not a usable infertel store
        raise ValueError(f"--store: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return f"{exc.filename} is not a directory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


def _report_from_store(console: Any, path: Path, run_id: str, since_ns: int, title: str, expected: int) -> int:
    try:
        from infertel_exporters.sqlite import SQLiteStore
    except ImportError:
        console.print("[red]infertel-exporter-sqlite is not installed: pip install infertel-exporter-sqlite[/red]")
        return 1
    with SQLiteStore(path) as store:
        spans = [
            s for s in store.spans(since_ns, None, limit=None) if s.resource.get(semconv.INFERTEL_DEMO_RUN_ID) == run_id
        ]
        points = store.counts()["metric_points"]
    rows = report.from_spans(spans)
    console.print(report.table(rows, title=title, caption="read back from the SQLite store"))
    console.print(f"Telemetry stored in [bold]{path}[/bold]: {len(spans):,} spans of this run "
                  f"(with gen_ai.* attributes), {points:,} metric points in the store.")  # fmt: skip
    if len(spans) != expected:
        console.print(f"[yellow]{expected - len(spans):,} of {expected:,} spans did not reach the store "
                      "(sampling, or an export failure logged above).[/yellow]")  # fmt: skip
    console.print(f'Explore it: sqlite3 {path} "SELECT model, count(*), '
                  'count(*) FILTER (WHERE status_code = \'ERROR\') FROM spans GROUP BY model"')  # fmt: skip
    console.print("See it in a browser at http://127.0.0.1:8686/ after running:")
    console.print(dashboard_command(path))
    return 0


def dashboard_command(path: Path) -> Any:
    """The demo's closing line: the command that opens the dashboard on ``path`` (with the extra it needs).

    A rich ``Text`` in bold that never wraps (one line to copy; no markup parsing, so
    ``infertel[dashboard]`` survives) with ``infertel[demo]`` installed, else the same plain string.

    Example:
        >>> str(dashboard_command(Path("/tmp/demo.db")))  # doctest: +SKIP
        'infertel dashboard --store /tmp/demo.db'
    """
    command = f"infertel dashboard --store {shlex.quote(str(path))}"
    if not all(importlib.util.find_spec(name) for name in ("fastapi", "uvicorn", "jinja2")):
        command = f"pip install 'infertel[dashboard]' && {command}"
    try:
        from rich.text import Text
    except ImportError:
        return command
    return Text(command, style="bold", no_wrap=True, overflow="ignore")
