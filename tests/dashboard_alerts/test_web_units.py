"""The alerts/health views and the CSRF checks alone (no server): a real engine, a real store file, real requests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("pydantic")

from alerts_web_support import Clock, Gauges, iso  # noqa: E402
from starlette.requests import Request  # noqa: E402

from infertel.alerting import AlertEngine, ThresholdRule  # noqa: E402
from infertel.alerting.web import LiveAlerts, StoredAlerts  # noqa: E402
from infertel.dashboard._security import BAD_CSRF, Csrf  # noqa: E402
from infertel.health import Check, CheckResult, HealthRegistry  # noqa: E402
from infertel.health.web import HealthFeature, store_readable_check  # noqa: E402

T0 = 1_800_000_000.0
BAD_TOKEN = BAD_CSRF


def _request(*headers: tuple[str, str], query: bytes = b"") -> Request:
    raw = [(b"host", b"127.0.0.1:8686"), *((k.lower().encode(), v.encode()) for k, v in headers)]
    return Request({"type": "http", "method": "POST", "headers": raw, "query_string": query, "path": "/"})


def test_the_csrf_token_is_bound_to_the_credential_and_the_origin_is_checked() -> None:
    csrf = Csrf("abc")  # a dashboard with a token: a cookie or query credential needs the CSRF token
    anonymous, bearer = _request(), _request(("Authorization", "Bearer abc"))
    cookie = _request(("Cookie", "infertel_dashboard_token=abc"))
    tokens = {csrf.token(r) for r in (anonymous, bearer, cookie)}
    assert len(tokens) == 3 and all(len(t) == 64 for t in tokens)
    assert csrf.token(cookie) == Csrf("abc").token(cookie)  # derived from the token: every prefork worker agrees
    assert csrf.token(cookie) != Csrf("other").token(cookie) and Csrf(None).token(None) != Csrf(None).token(None)
    assert [csrf.check(r, csrf.token(r)) for r in (anonymous, bearer, cookie)] == [None, None, None]
    assert csrf.check(cookie, csrf.token(bearer)) == BAD_TOKEN
    assert csrf.check(anonymous, None) == BAD_TOKEN and csrf.check(cookie, None) == BAD_TOKEN
    # The valid bearer header is enough on its own (a browser cannot send it cross-site); a wrong one is not.
    assert csrf.check(bearer, None) is None
    assert csrf.check(_request(("Authorization", "Bearer nope")), None) == BAD_TOKEN
    token = csrf.token(cookie)
    same = [("Origin", "http://127.0.0.1:8686")], [("Origin", "null")], [("Referer", "http://127.0.0.1:8686/alerts")]
    assert [csrf.check(_request(("Cookie", "infertel_dashboard_token=abc"), *h), token) for h in same] == [None] * 3
    assert csrf.check(_request(("Origin", "http://127.0.0.1:9999")), token) == (
        "cross-origin request refused (Origin 'http://127.0.0.1:9999' is not this dashboard)")  # fmt: skip
    assert csrf.check(_request(("Origin", "null"), ("Referer", "https://evil.example/x")), token) == (
        "cross-origin request refused (the Referer is not this dashboard)")  # fmt: skip
    for site in ("cross-site", "same-site"):
        assert csrf.check(_request(("Cookie", "infertel_dashboard_token=abc"), ("Sec-Fetch-Site", site)), token) == (
            f"cross-site request refused (Sec-Fetch-Site: {site})")  # fmt: skip


def test_without_a_token_the_same_origin_check_decides_and_the_csrf_token_still_passes() -> None:
    csrf = Csrf(None)
    accepted = [
        (),  # neither Origin nor Sec-Fetch-Site: not a browser (curl, infertel profile start)
        (("Sec-Fetch-Site", "same-origin"),),
        (("Sec-Fetch-Site", "same-origin"), ("Origin", "null")),  # a page under Referrer-Policy: no-referrer
        (("Origin", "http://127.0.0.1:8686"),),
        (("Sec-Fetch-Site", "same-origin"), ("Origin", "https://proxy.example")),  # the browser's verdict counts
    ]
    assert [csrf.check(_request(*h), None) for h in accepted] == [None] * len(accepted)
    refused = {
        (("Sec-Fetch-Site", "cross-site"),): "cross-site request refused (Sec-Fetch-Site: cross-site)",
        (("Sec-Fetch-Site", "same-site"), ("Origin", "http://127.0.0.1:3000")):
            "cross-site request refused (Sec-Fetch-Site: same-site)",
        (("Origin", "https://evil.example"),): "cross-origin request refused (Origin 'https://evil.example' is not "
                                                "this dashboard)",
        (("Origin", "null"),): BAD_TOKEN,  # an old browser, or a page hiding its origin: the token decides
    }  # fmt: skip
    assert {h: csrf.check(_request(*h), None) for h in refused} == refused
    assert csrf.check(_request(("Origin", "null")), csrf.token(_request())) is None
    assert csrf.check(_request(("Sec-Fetch-Site", "cross-site")), csrf.token(_request())) == (
        "cross-site request refused (Sec-Fetch-Site: cross-site)")  # fmt: skip


def _engine(path: Path | None, clock: Clock) -> AlertEngine:
    rule = ThresholdRule("HotCpu", signal="cpu_utilization", threshold=0.8, labels={"team": "ml"})
    return AlertEngine([rule], source=Gauges(infertel_live_cpu_utilization=0.9), clock=clock,
                       store=None if path is None else str(path))  # fmt: skip


def test_the_live_and_stored_views_agree_on_what_the_engine_holds(tmp_path: Path) -> None:
    clock = Clock(T0)
    engine = _engine(tmp_path / "store.db", clock)
    engine.evaluate(T0)
    live, stored = LiveAlerts(lambda: engine), StoredAlerts(tmp_path / "store.db", clock=clock)
    silence_id = live.add_silence(['team="ml"'], duration_s=600, created_by="ops", comment="c")
    (alert,) = engine.alerts()
    expected = {
        "fingerprint": alert.fingerprint, "name": "HotCpu", "state": "firing", "severity": "warning",
        "labels": {"alertname": "HotCpu", "severity": "warning", "team": "ml"}, "annotations": {}, "value": 0.9,
        "active_at": iso(T0), "active_at_unix_nano": int(T0 * 1e9), "fired_at": iso(T0),
        "fired_at_unix_nano": int(T0 * 1e9), "resolved_at": None, "resolved_at_unix_nano": None,
        "silenced_by": [silence_id], "acknowledged": None,
    }  # fmt: skip
    assert live.snapshot().alerts == [expected] and stored.snapshot().alerts == [expected]
    assert live.snapshot().silences == stored.snapshot().silences == [{
        "id": silence_id, "matchers": ['team="ml"'], "starts_at": iso(T0), "starts_at_unix_nano": int(T0 * 1e9),
        "ends_at": iso(T0 + 600), "ends_at_unix_nano": int((T0 + 600) * 1e9), "created_by": "ops", "comment": "c",
        "state": "active"}]  # fmt: skip
    clock.now = T0 + 5
    assert stored.acknowledge(alert.fingerprint, by="bob", comment="") is True
    assert stored.acknowledge("0" * 16, by="bob", comment="") is False
    ack = {"by": "bob", "comment": "", "time": iso(T0 + 5), "time_unix_nano": int((T0 + 5) * 1e9)}
    assert stored.snapshot().alerts[0]["acknowledged"] == ack
    assert stored.expire_silence(silence_id) is True and stored.expire_silence(silence_id) is False
    assert [s["state"] for s in stored.snapshot().silences] == ["expired"]
    assert live.snapshot().silences == []  # the engine re-reads the store's silences
    assert engine.shutdown()


def test_without_an_engine_or_tables_there_is_nothing_and_nothing_is_created(tmp_path: Path) -> None:
    assert LiveAlerts(lambda: None).snapshot().source == "none"
    with pytest.raises(LookupError, match="no alert engine runs in this process"):
        LiveAlerts(lambda: None).acknowledge("f", by="", comment="")
    path = tmp_path / "absent.db"
    view = StoredAlerts(path)
    assert (view.snapshot().source, view.expire_silence("x"), view.acknowledge("f", by="", comment="")) == (
        "none", False, False)  # fmt: skip
    assert not path.exists()
    engine = _engine(None, Clock(T0))  # no store: silences in memory
    engine.evaluate(T0)
    live = LiveAlerts(lambda: engine)
    silence_id = live.add_silence(['alertname="HotCpu"'], duration_s=60, created_by="", comment="")
    assert [a["silenced_by"] for a in live.snapshot().alerts] == [[silence_id]]
    assert live.snapshot().history == []


def _milliseconds(ns: int) -> str:
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_the_health_view_reads_the_cached_results_of_every_check(tmp_path: Path) -> None:
    registry = HealthRegistry(checks=[Check("q:depth", lambda: CheckResult("warn", "deep", 7, "{item}")),
                                      Check("ok:yes", lambda: True, critical=False)], gates=["model"])  # fmt: skip
    feature = HealthFeature(registry)
    before = feature.view(object())  # not started: nothing ran, and the view runs nothing
    assert [(r["name"], r["status"], r["message"], r["last_run"]) for r in before["checks"]] == [
        ("ok:yes", "none", "not run yet", None), ("q:depth", "none", "not run yet", None)]  # fmt: skip
    assert registry.refresh(timeout_millis=10_000)
    view = feature.view(object())
    registry.stop()
    assert view["probes"] == [
        {"probe": "livez", "status": "pass", "colour": "ok", "http_status": 200},
        {"probe": "readyz", "status": "fail", "colour": "crit", "http_status": 503},
        {"probe": "startupz", "status": "fail", "colour": "crit", "http_status": 503},
    ]
    rows = {r["name"]: r for r in view["checks"]}
    observed = registry.observations()["q:depth"]
    assert rows["q:depth"] == {
        "name": "q:depth", "status": "warn", "colour": "warn", "critical": True, "message": "deep", "value": 7,
        "unit": "{item}", "last_run": _milliseconds(observed.time_unix_nano),
        "last_run_unix_nano": observed.time_unix_nano, "duration_s": observed.duration_s, "period_s": 10.0,
        "timeout_millis": 1_000, "probes": ["readyz", "startupz"],
    }  # fmt: skip
    assert (rows["ok:yes"]["status"], rows["ok:yes"]["critical"]) == ("pass", False)
    assert view["gates"] == {"model": "fail"}
    store = tmp_path / "s.db"
    assert store_readable_check(store).fn().output == f"no store at {store}"


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    from infertel_exporters.sqlite import StoreError

    path = tmp_path / "junk.db"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="alerting tables of"):
        StoredAlerts(path).snapshot()
    with pytest.raises(StoreError, match="alerting tables of"):
        StoredAlerts(path).add_silence(['a="b"'], duration_s=60, created_by="", comment="")
