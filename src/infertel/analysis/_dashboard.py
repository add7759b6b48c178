"""The Analysis page and ``api/analysis``, added to the dashboard through its extension point.

The page and the JSON are two views of one :class:`~infertel.analysis.Report`. Each request
analyses the page's range with at most :data:`PAGE_SAMPLES` requests per window, so a page stays
fast on a large store (the CLI reads more).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infertel.analysis._breakdown import PARTS
from infertel.analysis._report import BASELINES, Report, analyze

PAGE_SAMPLES = 5_000
"""Requests read per window for the page and the API."""


def _report(d: Any, query: Mapping[str, str]) -> tuple[Report | None, Any, str]:
    window = d.range_of(query)
    baseline = query.get("baseline") or "previous-window"
    if baseline not in BASELINES:
        from fastapi import HTTPException

        raise HTTPException(422, f"baseline: expected one of {', '.join(BASELINES)}, got {baseline!r}")
    store = d.store()
    if store is None:
        return None, window, baseline
    report = analyze(
        store, start_ns=window.start_ns, end_ns=window.end_ns, baseline=baseline, model=query.get("model") or None,
        service=query.get("service") or None, max_samples=PAGE_SAMPLES,
    )  # fmt: skip
    return report, window, baseline


def _render(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
    report, window, baseline = _report(d, query)
    if report is None:  # a constant: nothing from the request or the store in it
        return '<h1>Analysis</h1><p class="empty" id="no-store">No store yet: nothing to analyse.</p>'
    return d.render(
        "analysis.html", report=report, parts=PARTS, range_name=window.name, baseline=baseline,
        model=query.get("model") or "", service=query.get("service") or "",
    )  # fmt: skip


def _build(d: Any) -> Any:
    api = d.api_router()

    @api.get("/analysis")
    def analysis(
        range: str = "1h", baseline: str = "previous-window", model: str = "", service: str = ""
    ) -> dict[str, Any]:
        """The analysis of a range (``15m``..``7d``) against a baseline: ``{"report": Report.as_dict() or null}``."""
        report, _, _ = _report(d, {"range": range, "baseline": baseline, "model": model, "service": service})
        return {"report": None if report is None else report.as_dict()}

    return api


def register() -> None:
    """Add the Analysis page (``/analysis``) and ``api/analysis`` to every dashboard built from now on.

    Example:
        >>> import infertel.analysis
        >>> infertel.analysis.register_dashboard()  # doctest: +SKIP
    """
    from infertel.dashboard import Api, Page, register_api, register_page

    register_page(Page("/analysis", "Analysis", _render, order=80, templates=("infertel.analysis",)))
    register_api(Api("analysis", _build))
