"""The ``infertel`` command line: the subcommands of :mod:`infertel._internal.commands` and ``--version``.

Every error is one line on stderr, ``infertel <command>: error: <what>``, and exit status 2,
never a traceback: bad arguments, a store that cannot be used, a rejected environment, or
anything else that stops a command (an interrupt exits with 130).

Example:
    $ infertel demo --requests 200 --concurrency 8
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from infertel._internal.commands import COMMANDS
from infertel.version import __version__


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _commands() -> dict[str, ModuleType]:
    modules = [importlib.import_module(f"infertel._internal.commands.{name}") for name in COMMANDS]
    return {module.NAME: module for module in modules}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``infertel`` command.

    Example:
        >>> build_parser().parse_args(["demo", "--requests", "10"]).requests
        10
    """
    parser = _Parser(prog="infertel", description="OpenTelemetry-native observability for ML and LLM inference.")
    parser.add_argument("--version", action="version", version=f"infertel {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _commands().values():
        module.add(subparsers)
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
    commands = _commands()
    if args.command is None:
        parser.error(f"a command is required: {', '.join(commands)}")
    name = args.command
    try:
        return int(commands[name].run(args))
    except KeyboardInterrupt:
        sys.stderr.write(f"infertel {name}: interrupted\n")
        return 130
    except BrokenPipeError:  # `infertel traces | head`: the reader left; not an error of ours
        return 0
    except ValueError as exc:  # a bad option value found late, an unusable --store, a rejected environment
        sys.stderr.write(f"infertel {name}: error: {_one_line(str(exc))}\n")
    except Exception as exc:  # anything else that stops the command: one line, never a traceback
        from infertel._internal.commands import CommandError

        what = str(exc) if isinstance(exc, CommandError) else f"{type(exc).__name__}: {exc}"
        sys.stderr.write(f"infertel {name}: error: {_one_line(what)}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
