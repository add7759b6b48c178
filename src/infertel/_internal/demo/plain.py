"""Plain-text stand-ins for rich's console, progress bar and table when ``infertel[demo]`` is absent.

``infertel demo`` works on a bare ``pip install infertel``: the output is the same text without
colours, the progress bar becomes one line per tenth of the run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, TextIO

_MARKUP = re.compile(r"\[/?(?:bold|red|yellow|green|cyan|dim)\]")


def strip_markup(text: str) -> str:
    """``text`` without the rich style tags the demo uses.

    Example:
        >>> strip_markup("[red]3[/red] errors")
        '3 errors'
    """
    return _MARKUP.sub("", text)


class PlainConsole:
    """Prints text with rich's style tags removed (the subset of ``rich.console.Console`` the demo uses).

    Example:
        >>> PlainConsole().print("[bold]done[/bold]")
        done
    """

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr

    @property
    def _file(self) -> TextIO:
        return sys.stderr if self._stderr else sys.stdout

    def print(self, text: object = "") -> None:
        """Write ``text`` and a newline."""
        print(strip_markup(str(text)), file=self._file, flush=True)


class PlainProgress:
    """A progress report of one line per tenth of the work (the part of ``rich.progress.Progress`` used).

    Example:
        >>> with PlainProgress(PlainConsole()) as progress:
        ...     task = progress.add_task("requests", total=1, errors=0)
        ...     progress.update(task, advance=1, errors=0)
        infertel demo: 1/1 requests, 0 errors
    """

    def __init__(self, console: PlainConsole) -> None:
        self._console = console
        self._total = 0
        self._done = 0
        self._shown = 0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def add_task(self, description: str, *, total: int, **fields: Any) -> int:
        """Start the (single) task of ``total`` steps."""
        self._total, self._done, self._shown = total, 0, 0
        return 0

    def update(self, task: int, *, advance: int = 0, errors: int = 0) -> None:
        """Advance the task; print a line at each further tenth of the total."""
        self._done += advance
        tenth = self._done * 10 // max(self._total, 1)
        if tenth > self._shown or self._done == self._total:
            self._shown = tenth
            self._console.print(f"infertel demo: {self._done}/{self._total} requests, {errors} errors")


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str, caption: str | None) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned.

    Example:
        >>> print(table(["model", "n"], [["a", "1"]], title="T", caption=None))
        T
        model  n
        a      1
    """
    cells = [list(header), *[list(r) for r in rows]]
    widths = [max(len(strip_markup(row[i])) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        texts = [strip_markup(c) for c in row]
        parts = [texts[0].ljust(widths[0])] + [t.rjust(w) for t, w in zip(texts[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    out = [title, *(line(r) for r in cells)]
    if caption:
        out.append(caption)
    return "\n".join(out)
