"""The user's price table: per model, USD per 1,000 input / output tokens and per instance-hour."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = ("input_per_1k", "output_per_1k", "instance_hour")
"""The fields of one model's price, all optional, in USD."""

DEFAULT_MODEL = "*"
"""The entry used for models the table does not name."""


@dataclass(frozen=True)
class Price:
    """What one model costs, in USD: per 1,000 input tokens, per 1,000 output tokens, per instance-hour.

    Example:
        >>> Price(input_per_1k=0.5, output_per_1k=1.5).request_cost(1000, 2000)
        3.5
    """

    input_per_1k: float | None = None
    output_per_1k: float | None = None
    instance_hour: float | None = None

    def request_cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """The token cost of one request, or None when the price or the token counts are missing.

        Example:
            >>> Price(output_per_1k=2.0).request_cost(None, 500)
            1.0
        """
        cost = None
        if self.input_per_1k is not None and input_tokens is not None:
            cost = input_tokens * self.input_per_1k / 1000.0
        if self.output_per_1k is not None and output_tokens is not None:
            cost = (cost or 0.0) + output_tokens * self.output_per_1k / 1000.0
        return cost


@dataclass(frozen=True)
class PriceTable:
    """Prices by model name; ``"*"`` prices every model the table does not name.

    Immutable and hashable (part of ``configure()``'s settings); look-ups take no lock.

    Example:
        >>> table = PriceTable((("llama-3-8b", Price(input_per_1k=0.1, output_per_1k=0.2)),))
        >>> table.request_cost("llama-3-8b", 1000, 1000)
        0.30000000000000004
        >>> table.request_cost("other", 1000, 1000) is None
        True
    """

    entries: tuple[tuple[str, Price], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_model", dict(self.entries))

    def price(self, model: str | None) -> Price | None:
        """The price of ``model`` (else the ``"*"`` entry, else None).

        Example:
            >>> PriceTable((("*", Price(instance_hour=2.0)),)).price("any").instance_hour
            2.0
        """
        by_model: dict[str, Price] = self._by_model  # type: ignore[attr-defined]
        found = by_model.get(model) if model is not None else None
        return found if found is not None else by_model.get(DEFAULT_MODEL)

    def request_cost(self, model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """The token cost in USD of one request of ``model``, or None when it cannot be priced.

        Example:
            >>> PriceTable((("m", Price(output_per_1k=1.0)),)).request_cost("m", 10, 100)
            0.1
        """
        price = self.price(model)
        return None if price is None else price.request_cost(input_tokens, output_tokens)

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The table as plain data (the shape :func:`load_prices` reads).

        Example:
            >>> PriceTable((("m", Price(output_per_1k=1.0)),)).as_dict()
            {'m': {'output_per_1k': 1.0}}
        """
        return {
            model: {name: getattr(price, name) for name in FIELDS if getattr(price, name) is not None}
            for model, price in self.entries
        }


def _number(value: Any, setting: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{setting}: {value!r} is not accepted (accepted: a finite number >= 0, in USD)")
    return float(value)


def load_prices(source: Any, setting: str = "prices") -> PriceTable:
    """A :class:`PriceTable` from a mapping, a JSON file path, or JSON text.

    The shape: ``{"<model>" or "*": {"input_per_1k": USD, "output_per_1k": USD, "instance_hour": USD}}``,
    each field optional; an outer ``{"models": {...}}`` is accepted too.

    Args:
        source: A mapping of that shape, a :class:`PriceTable`, a path to a JSON file, or JSON text.
        setting: The setting's name used in error messages (e.g. ``"INFERTEL_PRICES"``).

    Raises:
        ValueError: The source cannot be read or a field is unknown or not a number >= 0; the
            message names the setting and the field.

    Example:
        >>> load_prices({"llama-3-8b": {"input_per_1k": 0.1}}).price("llama-3-8b")
        Price(input_per_1k=0.1, output_per_1k=None, instance_hour=None)
    """
    if isinstance(source, PriceTable):
        return source
    data: Any = source
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source).strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{setting}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        else:
            from pathlib import Path  # only here: the span-end path imports this module and stays import-light

            path = Path(text).expanduser()
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ValueError(f"{setting}: cannot read the price file {str(path)!r} ({exc.strerror})") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{setting}: the price file {str(path)!r} is not valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"{setting}: expected a mapping of model name to prices, a JSON file or JSON text")
    if set(data) == {"models"} and isinstance(data["models"], Mapping):
        data = data["models"]
    entries: list[tuple[str, Price]] = []
    for model, fields in data.items():
        if not isinstance(model, str) or not model:
            raise ValueError(f"{setting}: model names must be non-empty strings, got {model!r}")
        where = f"{setting}[{model!r}]"
        if isinstance(fields, Price):
            entries.append((model, fields))
            continue
        if not isinstance(fields, Mapping):
            raise ValueError(f"{where}: expected a mapping with the fields {', '.join(FIELDS)}")
        unknown = sorted(str(k) for k in fields if k not in FIELDS)
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}: unknown field (accepted: {', '.join(FIELDS)})")
        values = {name: _number(fields[name], f"{where}.{name}") for name in FIELDS if fields.get(name) is not None}
        entries.append((model, Price(**values)))
    return PriceTable(tuple(sorted(entries)))
