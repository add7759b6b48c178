"""The examples in the health modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("fastapi")  # the probe router's and the dashboard page's examples build FastAPI routers

pytestmark = pytest.mark.integration

MODULES = ["_asgi", "_builtin", "_defaults", "_looplag", "_model", "_registry", "_render", "_shedding", "web"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"infertel.health.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
