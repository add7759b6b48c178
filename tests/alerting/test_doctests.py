"""The examples in the alerting modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("yaml")

MODULES = ["_history", "_expr", "_signals", "_templates", "_rules", "_slo", "_state", "_routing", "_dispatch",
           "_persist", "_sources", "_engine", "_engine_thread", "_leader", "_defaults", "_loader", "_render",
           "_configure"]  # fmt: skip


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"infertel.alerting.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
