"""The table of counted parents: one count per request between nested GenAI spans of one series."""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

import numpy as np  # imported: the fold goes column by column once the application has imported numpy
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import StatusCode

from infertel import semconv
from infertel._internal.processors import InferenceStats, InferenceStatsSpanProcessor, _columns, _fold
from infertel._internal.quantiles import _bulk

KEYS = [("m-a", "chat"), ("m-b", "chat")]


def workload(requests: int, max_pending: int, seed: int) -> tuple[list[tuple[Any, ...]], dict[Any, int]]:
    """Span records of ``requests`` requests, up to ``max_pending`` of them open at once; the true counts.

    Each request is a GenAI child inside a parent that is a plain HTTP span (never recorded), a
    GenAI span of the same series (one request), or one of another series (two requests); the
    child ends first, except for one parent in 10 of the same series, which ends first.
    """
    rng = random.Random(seed)
    ids = iter(rng.sample(range(1, 2**63), 3 * requests))
    out: list[tuple[Any, ...]] = []
    truth = dict.fromkeys(KEYS, 0)
    pending: list[tuple[int, Any]] = []  # (parent span id, parent's key or None for an HTTP span)

    def span(key: Any, span_id: int, parent: int | None) -> tuple[Any, ...]:
        attributes = {semconv.GEN_AI_REQUEST_MODEL: key[0], semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5}
        return (1.0, key[1], attributes, span_id, 2_000_000, StatusCode.UNSET, parent)

    for _ in range(requests):
        key = rng.choice(KEYS)
        kind = rng.randrange(3)
        parent_id = next(ids)
        parent_key = None if kind == 0 else key if kind == 1 else KEYS[1 - KEYS.index(key)]
        if kind == 1 and rng.randrange(10) == 0:  # the parent ends first: both counted (unchanged)
            out.append(span(parent_key, parent_id, None))
            out.append(span(key, next(ids), parent_id))
            truth[key] += 2
            continue
        out.append(span(key, next(ids), parent_id))
        truth[key] += 1
        if parent_key is not None and parent_key != key:
            truth[parent_key] += 1
        pending.append((parent_id, parent_key))
        while len(pending) > rng.randrange(max_pending + 1):
            ended_id, ended_key = pending.pop(rng.randrange(len(pending)))
            if ended_key is not None:
                out.append(span(ended_key, ended_id, None))
    for ended_id, ended_key in pending:
        if ended_key is not None:
            out.append(span(ended_key, ended_id, None))
    return out, truth


def ordered_dict_counts(records: list[tuple[Any, ...]], bound: int) -> dict[Any, int]:
    """The counts under the previous table: an ``OrderedDict`` forgetting its oldest entry past ``bound``."""
    counted: OrderedDict[int, Any] = OrderedDict()
    counts = dict.fromkeys(KEYS, 0)
    for _, operation, attributes, span_id, _, _, parent_id in records:
        key = (attributes[semconv.GEN_AI_REQUEST_MODEL], operation)
        if span_id in counted and counted.pop(span_id) == key:
            continue
        if parent_id is not None:
            counted[parent_id] = key
            if len(counted) > bound:
                counted.popitem(last=False)
        counts[key] += 1
    return counts


def fold_counts(
    records: list[tuple[Any, ...]], seed: int, bound: int
) -> tuple[dict[Any, int], list[tuple[int, int]], list[Any]]:
    """Requests per series after folding ``records`` in batches of random sizes; the table after each batch."""
    rng = random.Random(seed)
    stats = InferenceStats(windows_s=(60,), clock=lambda: 1.0)
    sizes, tables = [], []
    with stats._lock:
        i = 0
        while i < len(records):
            n = rng.choice((1, 40, 200, 700))
            stats.buffer.extend(records[i : i + n])
            i += n
            stats._fold()
            table = stats._counted_parents
            sizes.append((len(table.young), len(table.old)))
            tables.append((list(table.old.items()), list(table.young.items())))
            assert len(table) == len(table.items())
    snapshot = stats.snapshot(60)
    return {key: snapshot[key].requests if key in snapshot else 0 for key in KEYS}, sizes, tables


@pytest.mark.parametrize("use_numpy", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_counts_equal_the_ordered_dict_within_its_bound(
    use_numpy: bool, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At most 300 requests open at once, far below the bound: nothing is ever forgotten, and the
    # counts are exactly those of the previous table (and the truth), through both fold paths.
    monkeypatch.setattr(_bulk, "USE_NUMPY", use_numpy)
    records, truth = workload(3000, 300, seed)
    counts, sizes, _ = fold_counts(records, seed, _fold.MAX_PENDING_PARENTS)
    assert counts == ordered_dict_counts(records, _fold.MAX_PENDING_PARENTS) == truth
    assert max(young for young, _ in sizes) > 900 and all(old == 0 for _, old in sizes)


def test_past_its_bound_the_table_finds_at_least_every_parent_the_ordered_dict_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bound of 64 with up to 150 requests open: both tables forget parents, and a forgotten parent
    # of the same series counts its request twice. The young and old halves keep at least the
    # newest 64 pending parents, so they never count more than the OrderedDict did, and count fewer.
    monkeypatch.setattr(_fold, "MAX_PENDING_PARENTS", 64)
    records, truth = workload(6000, 150, 3)
    taken: list[bool] = []
    fold_columns = _columns.fold_columns
    monkeypatch.setattr(_fold, "fold_columns", lambda *args: taken.append(fold_columns(*args)) or taken[-1])
    counts, sizes, tables = fold_counts(records, 3, 64)
    assert np.__name__ == "numpy" and taken.count(True) > 10  # batches of 200 and 700: by columns
    monkeypatch.setattr(_bulk, "USE_NUMPY", False)
    assert fold_counts(records, 3, 64) == (counts, sizes, tables)  # record by record: the same, batch by batch
    previous = ordered_dict_counts(records, 64)
    assert all(truth[key] <= counts[key] <= previous[key] for key in KEYS)
    assert sum(counts.values()) < sum(previous.values())
    assert all(young <= 64 and old <= 65 for young, old in sizes) and any(old > 40 for _, old in sizes)


def genai(model: str) -> dict[str, Any]:
    return {semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: model}


def test_nested_spans_through_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_fold, "MAX_PENDING_PARENTS", 4)
    provider = TracerProvider()
    processor = InferenceStatsSpanProcessor(windows_s=(60,), clock=lambda: 1.0)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    table = processor.stats._counted_parents
    # A child before its parent of the same series: one request; of another series: one each.
    with tracer.start_as_current_span("chat m", attributes=genai("m")):
        with tracer.start_as_current_span("chat m", attributes=genai("m")):
            pass
    with tracer.start_as_current_span("chat m", attributes=genai("m")):
        with tracer.start_as_current_span("chat e", attributes=genai("e")):
            pass
    # The parent ending first is counted before its child names it: both count (as before).
    parent = tracer.start_span("chat m", attributes=genai("m"))
    child = tracer.start_span("chat m", context=trace.set_span_in_context(parent), attributes=genai("m"))
    parent.end()
    child.end()
    processor.stats.snapshot(60)
    assert table.items() == [(parent.get_span_context().span_id, ("m", "chat"))]  # stale, until forgotten
    # An HTTP span is not a GenAI span when its child ends, but may become one at its own end (the
    # FastAPI middleware annotates the server span then): it is remembered, and found when it does.
    with tracer.start_as_current_span("POST /v1/chat/completions") as server:
        with tracer.start_as_current_span("chat m", attributes=genai("m")):
            pass
        processor.stats.snapshot(60)
        assert server.get_span_context().span_id in table.young
        server.set_attributes(genai("m"))
    snapshot = processor.stats.snapshot(60)
    assert (snapshot["m", "chat"].requests, snapshot["e", "chat"].requests) == (5, 1)
    # Plain HTTP spans that never become GenAI spans: remembered until young (4) becomes old (5).
    http_ids = []
    for _ in range(12):
        with tracer.start_as_current_span("POST /v1/chat/completions") as server:
            http_ids.append(server.get_span_context().span_id)
            with tracer.start_as_current_span("chat m", attributes=genai("m")):
                pass
    processor.stats.snapshot(60)
    assert (list(table.old), list(table.young)) == (http_ids[4:9], http_ids[9:])
    assert processor.stats.snapshot(60)["m", "chat"].requests == 17
    processor.stats.reset_after_fork()  # a forked child forgets its parent's table (in place)
    assert (processor.stats._counted_parents is table, len(table)) == (True, 0)
    provider.shutdown()
