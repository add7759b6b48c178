"""The ``infertel`` command line: ``infertel demo`` and ``infertel --version``.

Every error is one line on stderr, ``infertel <command>: error: <what>``, and exit status 2,
never a traceback: bad arguments, a store that cannot be used, a rejected environment, or
anything else that stops a command (an interrupt exits with 130).

Example:
    $ infertel demo --requests 200 --concurrency 8
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import NoReturn

from infertel.version import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``infertel`` command.

    Example:
        >>> build_parser().parse_args(["demo", "--requests", "10"]).requests
        10
    """
    parser = _Parser(prog="infertel", description="OpenTelemetry-native observability for ML and LLM inference.")
    parser.add_argument("--version", action="version", version=f"infertel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="run a synthetic inference workload through infertel and summarise what was recorded",
        description="Run a synthetic inference workload (several models, streaming and non-streaming calls, "
        "a few percent of errors) through infertel, then print a per-model summary read back from the "
        "telemetry. Without OTEL_EXPORTER_OTLP_ENDPOINT the data goes to the embedded SQLite store.",
    )
    demo.add_argument("--requests", type=_positive_int, default=200, metavar="N", help="requests to make (default 200)")
    demo.add_argument(
        "--concurrency", type=_positive_int, default=8, metavar="C", help="requests in flight at once (default 8)"
    )
    demo.add_argument("--seed", type=_seed, default=42, metavar="S", help="random seed of the workload (default 42)")
    demo.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help="SQLite store file (default $INFERTEL_STORE_PATH or ~/.local/share/infertel/infertel.db)",
    )
    demo.add_argument(
        "--error-rate",
        type=_rate,
        default=0.04,
        metavar="R",
        help="fraction of requests that fail, 0..1 (default 0.04)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``infertel`` console script; returns the exit status.

    Errors exit with status 2 and one line on stderr naming what was wrong; an interrupt exits with 130.

    Example:
        >>> main(["--version"])  # doctest: +SKIP
        infertel 0.1.0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required: demo")
    try:
        from infertel._internal.demo import DemoOptions, run

        options = DemoOptions(
            requests=args.requests, concurrency=args.concurrency, seed=args.seed, store=args.store,
            error_rate=args.error_rate,
        )  # fmt: skip
        return run(options)
    except KeyboardInterrupt:
        sys.stderr.write("infertel demo: interrupted\n")
        return 130
    except ValueError as exc:  # an unusable --store, or configure() rejected the environment (OTEL_* variables)
        sys.stderr.write(f"infertel demo: error: {_one_line(str(exc))}\n")
    except Exception as exc:  # anything else that stops the command: one line, never a traceback
        sys.stderr.write(f"infertel demo: error: {type(exc).__name__}: {_one_line(str(exc))}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
