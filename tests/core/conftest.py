"""Helpers for the core instrumentation tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infertel._internal import state


@pytest.fixture
def install_runtime() -> Iterator[Any]:
    """Install a Runtime for one test and restore the unconfigured one afterwards."""

    def install(**fields: Any) -> state.Runtime:
        runtime = state.Runtime(**fields)
        state.install(runtime)
        return runtime

    yield install
    state.reset()
