"""A pytest plugin: in CI (``CI=true``) a skipped test is a failure, except tests marked ``gpu``.

A missing peer (Phoenix, Prometheus, gunicorn, root for a tmpfs, an optional package) must not turn
a whole layer of the suite into skips while the run stays green. CI machines have no GPU, so the
``gpu``-marked tests are the one exception. ``INFERTEL_TEST_ALLOW_SKIPS=true`` lifts the rule for the
version-matrix legs, which run a chosen subset on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

_TRUE = ("1", "true", "yes")


def skips_fail() -> bool:
    """Whether a skip counts as a failure in this run."""
    in_ci = os.environ.get("CI", "").strip().lower() in _TRUE
    return in_ci and os.environ.get("INFERTEL_TEST_ALLOW_SKIPS", "").strip().lower() not in _TRUE


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail") and item.get_closest_marker("gpu") is None and skips_fail():
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true), where every peer must be present: {_reason(report)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and skips_fail():
        report.outcome = "failed"
        report.longrepr = f"module skipped in CI (CI=true), where every peer must be present: {_reason(report)}"
