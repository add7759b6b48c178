"""Spans an SDK ``BatchSpanProcessor`` drops from a full queue make ``shutdown()`` return ``False``.

The SDK drops them silently. The hub counts what it forwards to the batch processor, the store
counts what it receives, and ``shutdown()`` compares the two once the processor has exported
everything it still held.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

import infertel
from infertel_exporters.sqlite import SQLiteStore

pytestmark = pytest.mark.usefixtures("fresh_otel")

CALLS = 300


def _stored_spans(store: Path) -> list[Any]:
    with SQLiteStore(str(store)) as opened:  # closed: Python 3.13 warns about an unclosed connection
        return opened.spans(0, 2**63 - 1)


def _burst() -> None:
    @infertel.observe(model="queue-model", operation="chat")
    def call(prompt: str) -> str:
        return prompt

    for _ in range(CALLS):
        call("hi")


def test_a_full_batch_queue_is_a_loss_that_shutdown_reports(
    fresh_otel: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A queue of 16 that is exported only every 30 s (or 16 at a time): a burst of 300 overflows it.
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "16")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "30000")
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
    _burst()
    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert infertel.shutdown(timeout_millis=10_000) is False
    stored = len(_stored_spans(fresh_otel))
    assert 0 < stored < CALLS
    lines = [r.getMessage() for r in caplog.records if "batch processor dropped" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert f"the traces batch processor dropped {CALLS - stored} items before SQLiteSpanExporter to " in lines[0]
    assert "raise OTEL_BSP_MAX_QUEUE_SIZE" in lines[0]


def test_nothing_dropped_nothing_reported(fresh_otel: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert "OTEL_BSP_MAX_QUEUE_SIZE" not in os.environ
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
    _burst()
    with caplog.at_level(logging.WARNING, logger="infertel"):
        assert infertel.shutdown(timeout_millis=10_000) is True
    assert len(_stored_spans(fresh_otel)) == CALLS
    assert "dropped" not in caplog.text


def test_a_forked_child_counts_from_zero(fresh_otel: Path) -> None:
    infertel.configure(store_path=str(fresh_otel), resource_metrics=False)
    _burst()
    pid = os.fork()
    if pid == 0:  # the child: its hub and its exporter both start from zero, so no false loss
        code = 1
        try:
            _burst()
            code = 0 if infertel.shutdown(timeout_millis=10_000) is True else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert infertel.shutdown(timeout_millis=10_000) is True
    assert len(_stored_spans(fresh_otel)) == 2 * CALLS
