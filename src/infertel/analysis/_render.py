"""The terminal view of a :class:`~infertel.analysis.Report` (one data model; JSON is ``as_dict``)."""

from __future__ import annotations

from datetime import datetime, timezone

from infertel.analysis._breakdown import PARTS, Breakdown
from infertel.analysis._report import Report


def _t(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _s(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _usd(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


def _breakdown_lines(b: Breakdown) -> list[str]:
    lines = [f"  {'group':<6} {'requests':>8} {'latency':>9} " + " ".join(f"{p:>16}" for p in PARTS) + "  dominant"]
    for t in b.tails:
        cells = " ".join(f"{_s(t.seconds[p]):>8} ({t.shares[p]:>4.0%})" for p in PARTS)
        lines.append(f"  {t.group:<6} {t.requests:>8} {_s(t.mean_latency_s):>9} {cells}  {t.dominant}")
    if b.unattributed:
        lines.append(f"  ({b.unattributed} requests were not streamed: no time to first token, not split)")
    if not b.queue_reported:
        lines.append("  (the server reports no queue wait: it is part of prefill)")
    return lines


def render_text(report: Report) -> str:
    """The report as plain text for the terminal.

    Example:
        >>> from infertel_exporters.sqlite import SQLiteStore
        >>> from infertel.analysis import analyze
        >>> with SQLiteStore(":memory:") as store:
        ...     "Where the time goes" in render_text(analyze(store, baseline="none"))
        True
    """
    out = [f"Window {_t(report.start_ns)} .. {_t(report.end_ns)}"]
    if report.baseline_start_ns is not None and report.baseline_end_ns is not None:
        out.append(f"Baseline {_t(report.baseline_start_ns)} .. {_t(report.baseline_end_ns)}")
    if report.requests_read < report.requests_total:
        out.append(f"Sampled: {report.requests_read} of {report.requests_total} requests read")
    out += ["", "Traffic, errors and latency per series"]
    out.append(f"  {'service':<16} {'model':<20} {'req/s':>8} {'errors':>7} {'p50':>8} {'p95':>8} {'p99':>8}"
               f" {'TTFT p95':>9} {'TPOT p95':>9} {'cost/req':>10} {'cost':>10}  tail")  # fmt: skip
    for s in report.series:
        cost = None if s.cost_per_request_usd is None else s.cost_per_request_usd * s.requests
        errors = "—" if s.error_rate is None else f"{s.error_rate:.1%}"
        out.append(
            f"  {(s.service or '—')[:16]:<16} {(s.model or '—')[:20]:<20} {s.requests_per_s:>8.2f} {errors:>7}"
            f" {_s(s.latency_s['p50']):>8} {_s(s.latency_s['p95']):>8} {_s(s.latency_s['p99']):>8}"
            f" {_s(s.ttft_s['p95']):>9} {_s(s.tpot_s['p95']):>9} {_usd(s.cost_per_request_usd):>10} {_usd(cost):>10}"
            f"  {s.tail_dominant or '—'}"
        )
        for kind, rate in s.error_rates.items():
            out.append(f"      error {kind}: {rate:.1%}")
    if not report.series:
        out.append("  no requests in the window")
    out += ["", "Where the time goes (mean per request; p95/p99: the requests at or above that latency)"]
    out += _breakdown_lines(report.breakdown)
    if report.tail_change_s:
        moved = max(report.tail_change_s, key=lambda p: abs(report.tail_change_s[p]))  # type: ignore[index]
        deltas = ", ".join(f"{p} {v * 1000:+.0f} ms" for p, v in report.tail_change_s.items())
        out.append(f"  p95 tail against the baseline: {deltas}; most changed: {moved} (tail means, not tested:")
        out.append("  see the regression test below for what is significant)")
    out += ["", "Saturation"]
    sat = report.saturation
    out.append(f"  {sat.resource or 'none'}: {sat.reason}")
    for c in sat.correlations:
        rho = "—" if c.spearman is None else f"{c.spearman:+.2f}"
        out.append(f"    {c.resource:<11} rho {rho}  points {c.points:>5}  range {c.low:.3g}..{c.high:.3g}")
    if report.regression is not None:
        r = report.regression
        out += ["", f"Regression against the baseline (Mann-Whitney U, alpha {r.alpha}, min change {r.min_change:.0%})"]
        for m in r.metrics:
            change = "—" if m.change is None else f"{m.change:+.1%}"
            p = "—" if m.p_value is None else f"{m.p_value:.2g}"
            medians = f"{_s(m.baseline_p50)} -> {_s(m.current_p50)}"
            out.append(f"  {m.metric:<8} p50 {medians} ({change}), p={p}: {m.verdict}")
        e = r.errors
        rates = "—"
        if e.baseline_rate is not None and e.current_rate is not None:
            rates = f"{e.baseline_rate:.1%} -> {e.current_rate:.1%}"
        out.append(f"  errors   {rates}: {e.verdict}")
        out.append("  REGRESSION" if r.regressed else "  no regression")
    return "\n".join(out) + "\n"
