"""``infertel demo``: a synthetic inference workload through infertel, then a per-model summary."""

from __future__ import annotations

import argparse
from typing import Any

from infertel._internal.commands import STORE_HELP, fraction, integer, positive_int

NAME = "demo"


def add(commands: Any) -> None:
    """Add ``demo``'s parser to the subparsers ``commands``."""
    demo = commands.add_parser(
        NAME,
        help="run a synthetic inference workload through infertel and summarise what was recorded",
        description="Run a synthetic inference workload (several models, streaming and non-streaming calls, "
        "a few percent of errors) through infertel, then print a per-model summary read back from the "
        "telemetry. Without OTEL_EXPORTER_OTLP_ENDPOINT the data goes to the embedded SQLite store.",
    )
    demo.add_argument("--requests", type=positive_int, default=200, metavar="N", help="requests to make (default 200)")
    demo.add_argument(
        "--concurrency", type=positive_int, default=8, metavar="C", help="requests in flight at once (default 8)"
    )
    demo.add_argument("--seed", type=integer, default=42, metavar="S", help="random seed of the workload (default 42)")
    demo.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)
    demo.add_argument(
        "--error-rate",
        type=fraction,
        default=0.04,
        metavar="R",
        help="fraction of requests that fail, 0..1 (default 0.04)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo with the parsed ``args``; returns the exit status."""
    from infertel._internal.demo import DemoOptions
    from infertel._internal.demo import run as run_demo

    options = DemoOptions(
        requests=args.requests, concurrency=args.concurrency, seed=args.seed, store=args.store,
        error_rate=args.error_rate,
    )  # fmt: skip
    return run_demo(options)
