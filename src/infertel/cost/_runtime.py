"""The price table in force and the ``infertel.cost`` counter it records to.

``configure(prices=...)`` installs a :class:`CostRecorder`; span ends read :data:`active` (one
module attribute read and a ``None`` check when no price table is configured: nothing else runs).
"""

from __future__ import annotations

import logging
from typing import Any

from infertel import semconv
from infertel.cost._prices import PriceTable

_logger = logging.getLogger(__name__)

_MAX_SERIES = 1000
"""At most this many (model, operation) counter series; later ones are counted under ``model="_OTHER"``."""


class CostRecorder:
    """Prices one ended request and adds its cost to the ``infertel.cost`` counter.

    Threading: ``record`` runs on the user's thread at span end, from any thread; it takes no lock
    (the series set only grows, bounded; a race admits at most a few extra series).

    Example:
        >>> from infertel.cost import Price, PriceTable
        >>> recorder = CostRecorder(PriceTable((("m", Price(output_per_1k=1.0)),)), meter_provider=None)
        >>> recorder.record("m", "chat", 10, 1000)
        1.0
    """

    def __init__(self, table: PriceTable, *, meter_provider: Any) -> None:
        self.table = table
        self._counter = None
        if meter_provider is not None:
            meter = meter_provider.get_meter("infertel.cost")
            self._counter = meter.create_counter(
                semconv.INFERTEL_COST, unit=semconv.INFERTEL_COST_UNIT, description="Token cost of the requests priced"
            )
        self._series: set[tuple[str | None, str | None]] = set()

    def record(self, model: str | None, operation: str | None, input_tokens: Any, output_tokens: Any) -> float | None:
        """The request's cost in USD (None: not priced), added to the counter.

        Example:
            >>> from infertel.cost import Price, PriceTable
            >>> CostRecorder(PriceTable(), meter_provider=None).record("m", "chat", 1, 1) is None
            True
        """
        cost = self.table.request_cost(model, input_tokens, output_tokens)
        if cost is None or self._counter is None:
            return cost
        key = (model, operation)
        if key not in self._series:
            if len(self._series) >= _MAX_SERIES:
                key = ("_OTHER", operation)
            self._series.add(key)
        attributes = {}
        if key[0] is not None:
            attributes[semconv.GEN_AI_REQUEST_MODEL] = key[0]
        if operation is not None:
            attributes[semconv.GEN_AI_OPERATION_NAME] = operation
        self._counter.add(cost, attributes)
        return cost


active: CostRecorder | None = None
"""The recorder in force; ``None`` (the default) when no price table is configured."""


def install(table: PriceTable | None, meter_provider: Any = None) -> None:
    """Make ``table`` the price table in force (``None``: no pricing at all).

    Example:
        >>> install(None)
    """
    global active
    active = None if table is None or not table.entries else CostRecorder(table, meter_provider=meter_provider)
