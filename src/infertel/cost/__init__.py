"""Per-request cost from a user price table, recorded on spans and as counters.

Give infertel your prices, per model (``"*"`` for every other model), in USD per 1,000 input and
output tokens and/or per instance-hour, with ``infertel.configure(prices=...)`` or the
``INFERTEL_PRICES`` variable (a JSON file or JSON text). Every GenAI request that ends with token
counts then carries ``infertel.cost.usd`` on its span and adds to the ``infertel.cost`` counter
(by model and operation; the service is the resource's ``service.name``). ``infertel analyze``
shows the cost per service and model, instance-hours included. Without a price table nothing is
computed.

Owner (issue 15, point 6): helper ``h15-analysis``.

Example:
    >>> import infertel
    >>> infertel.configure(prices={"llama-3-8b": {"input_per_1k": 0.0002, "output_per_1k": 0.0006}})  # doctest: +SKIP
    >>> from infertel.cost import load_prices
    >>> load_prices({"llama-3-8b": {"output_per_1k": 0.0006}}).request_cost("llama-3-8b", 100, 1000)
    0.0006
"""

from __future__ import annotations

from infertel.cost._prices import DEFAULT_MODEL, FIELDS, Price, PriceTable, load_prices

__all__ = ["DEFAULT_MODEL", "FIELDS", "Price", "PriceTable", "load_prices"]
