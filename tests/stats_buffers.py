"""The statistics buffer kinds, for tests that run with each (:mod:`infertel._internal.processors._buffer`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from infertel._internal.processors import _buffer

BUFFERS = ["list", "records"]
"""The statistics buffer kinds (:mod:`infertel._internal.processors._buffer`): a list, and the C extension's."""


@contextlib.contextmanager
def buffer_kind(kind: str) -> Iterator[None]:
    """New statistics buffers are of ``kind`` inside.

    ``records`` is skipped (a failure in CI) when the extension was not built.
    """
    if kind == "records" and _buffer.Records is None:
        pytest.skip("the C statistics buffer (_records.c) was not built")
    saved = _buffer.USE_EXTENSION
    _buffer.USE_EXTENSION = kind == "records"
    try:
        yield
    finally:
        _buffer.USE_EXTENSION = saved
