"""HealthRegistry: background refresh, timeouts, criticality, gates, probes and their renderings."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from infertel import health
from infertel._internal.status import ComponentStatus
from infertel.health import Check, CheckResult, HealthRegistry

ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def _without_times(document: dict[str, Any]) -> dict[str, Any]:
    checks = {}
    for name, entries in document["checks"].items():
        checks[name] = [{k: v for k, v in entry.items() if k != "time"} for entry in entries]
    return {**document, "checks": checks}


@pytest.fixture
def registry() -> Any:
    created: list[HealthRegistry] = []

    def make(**kwargs: Any) -> HealthRegistry:
        created.append(HealthRegistry(**kwargs))
        return created[-1]

    yield make
    for r in created:
        r.stop()


def test_readyz_livez_startupz_documents_and_text(registry: Any) -> None:
    calls = {"n": 0}

    def counted() -> CheckResult:
        calls["n"] += 1
        return CheckResult("pass", observed_value=3, observed_unit="{request}", component_type="component")

    async def slow_async() -> CheckResult:
        await asyncio.sleep(0.01)
        return CheckResult("warn", "queue filling", 0.8, "1", "component")

    r = registry(
        checks=[
            Check("queue:depth", counted, period_s=60),
            Check("queue:fill", slow_async, period_s=60),
            Check("cache:hit", lambda: False, critical=False, period_s=60),
            Check("self:threads", lambda: True, probes={"livez"}, period_s=60),
        ],
        gates=["model-loaded"],
        service={"version": "1.2.3", "serviceId": "chat"},
    )
    r.start()
    assert r.refresh()
    ready = r.report("readyz")
    assert (ready.status, ready.http_status) == ("fail", 503)  # the gate is closed
    document = json.loads(ready.body)
    assert document == ready.document
    for entries in document["checks"].values():
        for entry in entries:
            if entry.get("componentType") != "gate":
                assert __import__("re").match(ISO, entry["time"])
    assert _without_times(document) == {
        "status": "fail",
        "description": "readyz",
        "version": "1.2.3",
        "serviceId": "chat",
        "checks": {
            "cache:hit": [{"status": "warn", "output": "the check returned False"}],
            "queue:depth": [
                {"status": "pass", "componentType": "component", "observedValue": 3, "observedUnit": "{request}"}
            ],
            "queue:fill": [
                {
                    "status": "warn",
                    "componentType": "component",
                    "observedValue": 0.8,
                    "observedUnit": "1",
                    "output": "queue filling",
                }
            ],
            "gate:model-loaded": [{"componentType": "gate", "status": "fail", "output": "closed"}],
        },
    }
    assert ready.text.decode() == (
        "[+]cache:hit warn: the check returned False\n"
        "[+]queue:depth ok\n"
        "[+]queue:fill warn: queue filling\n"
        "[-]gate:model-loaded failed: closed\n"
        "readyz check failed\n"
    )
    live = r.report("livez")
    assert (live.http_status, live.text.decode()) == (200, "[+]self:threads ok\nlivez check passed\n")
    assert r.report("startupz").http_status == 503

    r.open_gate("model-loaded")
    ready = r.report("readyz")
    assert (ready.status, ready.http_status) == ("warn", 200)
    assert r.report("startupz").status == "warn"  # cache:hit never passed: a non-critical warn
    # Probes read the cache: no check ran because of them.
    before = calls["n"]
    for _ in range(100):
        r.report("readyz")
    assert calls["n"] == before


def test_critical_failure_exception_and_timeout(registry: Any) -> None:
    release = threading.Event()

    def hangs() -> bool:
        release.wait(5)
        return True

    def raises() -> bool:
        raise ConnectionError("db down " + "x" * 400)

    r = registry(
        checks=[
            Check("db:ping", raises, period_s=60),
            Check("model:warm", hangs, timeout_millis=100, period_s=60),
        ]
    )
    r.start()
    try:
        assert r.refresh(timeout_millis=5_000)
        ready = r.report("readyz")
        assert ready.http_status == 503
        checks = ready.document["checks"]
        assert checks["model:warm"][0]["status"] == "fail"
        assert checks["model:warm"][0]["output"] == "timed out after 100 ms"
        output = checks["db:ping"][0]["output"]
        assert output.startswith("ConnectionError: db down xxx") and len(output) == 300
        # A hung check is not started again while its run is still going.
        observed = r.observations()["model:warm"]
        time.sleep(0.2)
        assert r.observations()["model:warm"] == observed
    finally:
        release.set()


def test_period_refreshes_in_background_and_startup_latches(registry: Any) -> None:
    state = {"status": "pass"}
    r = registry(checks=[Check("dep:state", lambda: CheckResult(state["status"]), period_s=0.05)])
    r.start()
    assert r.refresh()
    assert r.report("startupz").status == "pass"
    state["status"] = "fail"
    deadline = time.monotonic() + 5
    while r.report("readyz").status != "fail" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.report("readyz").status == "fail"
    startup = r.report("startupz")
    assert startup.status == "pass"  # passed once: startup stays complete
    assert startup.document["checks"]["dep:state"][0]["output"].startswith("passed once")
    r.drain()
    state["status"] = "pass"
    time.sleep(0.2)
    ready = r.report("readyz")
    assert ready.status == "fail"
    assert ready.document["checks"]["infertel:draining"] == [
        {"componentType": "component", "status": "fail", "output": "shutting down"}
    ]


def test_close_gate_again_fails_readiness_not_startup(registry: Any) -> None:
    r = registry(gates=["model-loaded"])
    r.open_gate("model-loaded")
    r.close_gate("model-loaded")
    assert r.report("readyz").http_status == 503
    assert r.report("startupz").http_status == 200
    assert r.report("livez").document == {"status": "pass", "description": "livez", "checks": {}}


def test_wedged_refresher_fails_livez(registry: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from infertel.health import _registry

    monkeypatch.setattr(_registry, "_HEARTBEAT_STALE_S", 0.3)
    r = registry()
    r.start()
    assert r.report("livez").status == "pass"
    with r._lock:  # the scheduler thread blocks on it: no heartbeat, as in a wedged process
        time.sleep(0.6)
        live = r.report("livez")
    assert (live.http_status, live.document["checks"]) == (
        503,
        {
            "infertel:refresher": [
                {"componentType": "component", "status": "fail", "output": "the health refresher stopped beating"}
            ]
        },
    )
    time.sleep(0.2)
    assert r.report("livez").status == "pass"


def test_bad_definitions_are_value_errors() -> None:
    with pytest.raises(ValueError, match="timeout_millis"):
        Check("a:b", lambda: True, timeout_millis=0)
    with pytest.raises(ValueError, match="period_s"):
        Check("a:b", lambda: True, period_s=-1)
    with pytest.raises(ValueError, match="probes"):
        Check("a:b", lambda: True, probes={"ready"})
    with pytest.raises(ValueError, match="name"):
        Check(" ", lambda: True)
    with pytest.raises(ValueError, match="status"):
        CheckResult("ok")
    with pytest.raises(ValueError, match="max_workers"):
        HealthRegistry(max_workers=0)
    with pytest.raises(ValueError, match="memory_check"):
        health.memory_check(warn=0.9, fail=0.5)


def test_builtin_checks_on_canned_sources() -> None:
    memory = health.memory_check(source=lambda: SimpleNamespace(percent=96.5))
    assert memory.fn() == CheckResult("fail", "96% used", 0.965, "1", "system")
    disk = health.disk_check("/data", source=lambda path: SimpleNamespace(percent=86.0))
    assert disk.fn() == CheckResult("warn", "86% used on /data", 0.86, "1", "system")

    components = {
        "exporter.traces": ComponentStatus(
            "exporter.traces",
            "durable-otlp",
            "http://c:4318",
            "failing",
            "x",
            1,
            {"dropped": 0, "delivered": 3, "backlog": 12_000},
        ),
        "exporter.logs": ComponentStatus(
            "exporter.logs",
            "sqlite-store",
            "/nonexistent-dir/t.db",
            "degraded",
            "x",
            1,
            {"dropped": 1, "written": 5, "errors": 2},
        ),
    }
    exporters = health.exporters_check(status=lambda: components, backlog_fail=50_000)
    assert exporters.fn() == CheckResult(
        "fail", "exporter.logs degraded; exporter.traces failing; backlog 12000 items", 12_000, "{item}", "component"
    )
    store = health.store_check(status=lambda: components)
    assert store.fn() == CheckResult(
        "fail", "/nonexistent-dir is not writable; exporter.logs degraded", 2, "{error}", "datastore"
    )


def test_gpu_check_with_canned_source() -> None:
    from infertel.resources import GpuDevice, GpuReadError, GpuReading

    ok = GpuDevice(index=0, uuid="GPU-a", name="gpu0", model="L4")
    full = GpuDevice(index=1, uuid="GPU-b", name="gpu1", model="L4")
    lost = GpuDevice(index=2, uuid="GPU-c", name="gpu2", model="L4")

    class Source:
        def devices(self) -> tuple[GpuDevice, ...]:
            return (ok, full, lost)

        def read(self, device: GpuDevice) -> GpuReading:
            if device is lost:
                raise GpuReadError("lost")
            used = 98 if device is full else 10
            return GpuReading(device, memory_used_bytes=used, memory_total_bytes=100)

    assert health.gpu_check(source=Source()).fn() == CheckResult(
        "fail", "gpu1 memory 98%; gpu2 does not answer", 2, "{gpu}", "system"
    )


def test_load_shedding_and_loop_lag_checks() -> None:
    shedder = health.LoadShedder()
    check = health.load_shedding_check(shedder)
    assert check.fn().status == "pass"
    shedder.activate("HighLatency", retry_after_s=12.5)
    assert (shedder.active, shedder.retry_after_header) == (True, b"13")
    assert check.fn() == CheckResult("warn", "shedding load for HighLatency", 0, "{request}", "component")
    shedder.release("HighLatency")
    assert not shedder.active
    with pytest.raises(ValueError, match="retry_after_s"):
        shedder.activate("x", retry_after_s=0)

    monitor = health.EventLoopLagMonitor(interval_s=0.01)
    lag = health.event_loop_lag_check(monitor, warn_s=0.05, fail_s=0.2)

    async def block_the_loop() -> None:
        monitor.start()
        await asyncio.sleep(0.03)
        time.sleep(0.3)  # a handler that blocks the loop
        await asyncio.sleep(0.03)
        monitor.stop()

    asyncio.run(block_the_loop())
    result = lag.fn()
    assert result.status == "fail" and 0.25 < result.observed_value < 1.0
    assert result.observed_unit == "s"


def test_builtin_checks_read_the_configured_store(fresh_otel: Any) -> None:
    import infertel

    infertel.configure(service_name="health-test", resource_metrics=False)
    registry = HealthRegistry(checks=[health.exporters_check(), health.store_check(), health.disk_check()])
    registry.start()
    try:
        assert registry.refresh()
        checks = registry.report("readyz").document["checks"]
    finally:
        registry.stop()
    statuses = infertel.status()
    assert {c.kind for c in statuses.values()} == {"sqlite-store"}
    assert checks["exporters:state"][0]["status"] == "pass"
    assert checks["exporters:state"][0]["output"] == f"{len(statuses)} exporters ok"
    assert checks["store:writable"][0] == {
        "status": "pass",
        "componentType": "datastore",
        "observedValue": 0,
        "observedUnit": "{error}",
        "time": checks["store:writable"][0]["time"],
    }
    # The disk check follows the store's folder by default.
    assert checks["disk:utilization"][0]["output"].endswith(f"used on {fresh_otel.parent}")


@pytest.mark.gpu
def test_gpu_check_on_a_real_gpu() -> None:
    from infertel.resources import NvmlSource

    source = NvmlSource()
    try:
        devices = list(source.devices())
        if not devices:
            pytest.skip(f"no NVIDIA GPU with NVML ({source.unavailable_reason})")
        result = health.gpu_check(source=source).fn()
    finally:
        source.close()
    assert result.status in ("pass", "warn") and result.observed_value == len(devices)
    assert (result.observed_unit, result.component_type) == ("{gpu}", "system")
