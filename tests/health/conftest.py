"""Each health test leaves no registry "in use": dashboards built by later tests show no automatic health page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_registry_left_in_use() -> Iterator[None]:
    yield
    from infertel.health import web

    left = web.in_use()  # e.g. an example's registry kept alive by FastAPI's caches of its routes
    if left is not None:
        left.stop()
    assert web.in_use() is None
