"""The ``infertel`` subcommands, one module each.

Each module named in :data:`COMMANDS` provides

* ``NAME``: the subcommand's name;
* ``add(commands)``: adds its parser to the ``argparse`` subparsers ``commands``;
* ``run(args) -> int``: runs it, returning the exit status.

:func:`infertel._internal.cli.main` turns every error a command raises into one line on stderr
(``infertel <command>: error: <what>``) and exit status 2, and an interrupt into 130, so a command
raises ``ValueError`` (or :class:`CommandError`) with a one-line message instead of printing it.
Modules are imported when the parser is built; keep their top level light (import heavy
dependencies inside ``run``).
"""

from __future__ import annotations

import argparse
import math

COMMANDS: tuple[str, ...] = (
    "demo", "dashboard", "traces", "trace", "stats", "logs", "grafana_dashboard", "prometheus_rules", "silence",
    "analyze", "profile", "capacity_plan",
)  # fmt: skip
"""Module names under ``infertel._internal.commands``, in the order ``infertel --help`` lists them."""


class CommandError(Exception):
    """A command cannot go on: its one-line message is printed after ``infertel <command>: error:``."""


def positive_int(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1.

    Example:
        >>> positive_int("3")
        3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An ``argparse`` type: a number from 0 to 1.

    Example:
        >>> fraction("0.25")
        0.25
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def integer(text: str) -> int:
    """An ``argparse`` type: any integer.

    Example:
        >>> integer("-2")
        -2
    """
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


STORE_HELP = "SQLite store file (default $INFERTEL_STORE_PATH or ~/.local/share/infertel/infertel.db)"
"""The ``--store`` option's help, the same in every command that reads or writes the store."""
