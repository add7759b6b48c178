"""The price table in force and the ``infertel.cost`` counter it records to.

``configure(prices=...)`` installs a :class:`CostRecorder`; span ends read :data:`active` (one
module attribute read and a ``None`` check when no price table is configured: nothing else runs).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from opentelemetry.metrics import Observation

from infertel import semconv
from infertel.cost._prices import PriceTable
from infertel.version import __version__

_logger = logging.getLogger(__name__)

_MAX_SERIES = 1000
"""At most this many (model, operation) counter series; later ones are counted under ``model="_OTHER"``."""


class CostRecorder:
    """Prices one ended request and adds its cost to the ``infertel.cost`` counter.

    Threading: ``record`` runs on the user's thread at span end, from any thread, and takes one
    short lock; the counter's callback runs on the metric reader's thread (never a finalizer).

    Example:
        >>> from infertel.cost import Price, PriceTable
        >>> recorder = CostRecorder(PriceTable((("m", Price(output_per_1k=1.0)),)), meter_provider=None)
        >>> recorder.record("m", "chat", 10, 1000)
        1.0
    """

    def __init__(self, table: PriceTable, *, meter_provider: Any) -> None:
        self.table = table
        self._lock = threading.Lock()
        self._sums: dict[tuple[str | None, str | None], float] = {}
        if meter_provider is not None:
            # An observable counter reads the sums at collection time: a request pays a dict update
            # under an uncontended lock (~0.3 us), not a synchronous Counter.add (~5 us).
            meter = meter_provider.get_meter("infertel.cost", __version__, schema_url=semconv.SCHEMA_URL)
            meter.create_observable_counter(
                semconv.INFERTEL_COST, callbacks=[self._observe], unit=semconv.INFERTEL_COST_UNIT,
                description="Token cost of the requests priced",
            )  # fmt: skip

    def record(self, model: str | None, operation: str | None, input_tokens: Any, output_tokens: Any) -> float | None:
        """The request's cost in USD (None: not priced), added to the counter.

        Example:
            >>> from infertel.cost import Price, PriceTable
            >>> CostRecorder(PriceTable(), meter_provider=None).record("m", "chat", 1, 1) is None
            True
        """
        cost = self.table.request_cost(model, input_tokens, output_tokens)
        if cost is None:
            return cost
        key = (model, operation)
        sums = self._sums
        with self._lock:
            if key not in sums and len(sums) >= _MAX_SERIES:
                key = ("_OTHER", operation)
            sums[key] = sums.get(key, 0.0) + cost
        return cost

    def totals(self) -> dict[tuple[str | None, str | None], float]:
        """Cost so far by (model, operation), in USD.

        Example:
            >>> CostRecorder(PriceTable(), meter_provider=None).totals()
            {}
        """
        with self._lock:
            return dict(self._sums)

    def _observe(self, options: Any) -> list[Observation]:
        out = []
        for (model, operation), total in self.totals().items():
            attributes = {}
            if model is not None:
                attributes[semconv.GEN_AI_REQUEST_MODEL] = model
            if operation is not None:
                attributes[semconv.GEN_AI_OPERATION_NAME] = operation
            out.append(Observation(total, attributes))
        return out


active: CostRecorder | None = None
"""The recorder in force; ``None`` (the default) when no price table is configured."""


def install(table: PriceTable | None, meter_provider: Any = None) -> None:
    """Make ``table`` the price table in force (``None``: no pricing at all).

    Example:
        >>> install(None)
    """
    global active
    active = None if table is None or not table.entries else CostRecorder(table, meter_provider=meter_provider)
