"""The Grafana dashboard: generated from the panel model, checked in, printed by `infertel grafana-dashboard`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from infertel.dashboard import grafana
from infertel.dashboard.grafana import GRAFANA_UNITS, grafana_dashboard
from infertel.dashboard.panels import PANELS, UNITS, Panel, Threshold, panels

CHECKED_IN = Path(__file__).resolve().parents[2] / "examples" / "deploy" / "grafana-dashboard.json"


def _infertel(*args: str) -> subprocess.CompletedProcess[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "infertel._internal.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


def test_the_checked_in_dashboard_is_the_generators_output_and_the_commands() -> None:
    result = _infertel("grafana-dashboard")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    expected = json.dumps(grafana_dashboard(), indent=2, ensure_ascii=False) + "\n"
    assert result.stdout == expected
    assert CHECKED_IN.read_text(encoding="utf-8") == expected, (
        "examples/deploy/grafana-dashboard.json is stale; regenerate it: "
        "infertel grafana-dashboard > examples/deploy/grafana-dashboard.json"
    )


def test_bad_datasource_is_one_line_and_exit_2() -> None:
    result = _infertel("grafana-dashboard", "--datasource", " ")
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "infertel grafana-dashboard: error: --datasource must not be empty\n",
    )  # fmt: skip


def _panels_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] == "timeseries"]


def test_every_panel_is_rendered_with_its_query_unit_and_thresholds() -> None:
    dashboard = grafana_dashboard()
    source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    assert dashboard["__inputs"] == [{
        "name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus scraping infertel's metrics",
        "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
    }]  # fmt: skip
    assert dashboard["schemaVersion"] == 39 and dashboard["uid"] == "infertel-inference"
    assert [(v["name"], v["definition"], v["allValue"], v["includeAll"], v["multi"], v["datasource"])
            for v in dashboard["templating"]["list"]] == [
        ("service", "label_values(target_info, service_name)", ".*", True, True, source),
        ("model", "label_values(gen_ai_request_model)", ".*", True, True, source),
    ]  # fmt: skip
    rows = [(p["title"], p["gridPos"]["y"]) for p in dashboard["panels"] if p["type"] == "row"]
    assert [title for title, _ in rows] == ["Overview", "Resources"]

    rendered = _panels_of(dashboard)
    assert [p["title"] for p in rendered] == [p.title for p in PANELS]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for model, item in zip(PANELS, rendered, strict=True):
        assert item["datasource"] == source
        assert item["description"] == model.description
        (target,) = item["targets"]
        assert target["expr"] == model.promql and target["datasource"] == source and target["refId"] == "A"
        assert target["legendFormat"] == (
            " ".join(f"{{{{{label}}}}}" for label in model.prometheus_group_by) or model.title
        )
        defaults = item["fieldConfig"]["defaults"]
        assert defaults["unit"] == GRAFANA_UNITS[model.unit]
        colours = {"warn": "orange", "crit": "red"}
        assert defaults["thresholds"] == {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}]
            + [{"color": colours[t.status], "value": t.value} for t in model.thresholds],
        }
        assert defaults["custom"]["thresholdsStyle"] == {"mode": "line" if model.thresholds else "off"}
    # rows above their panels, panels in a 24-wide grid without overlaps
    cells: set[tuple[int, int]] = set()
    for item in dashboard["panels"]:
        grid = item["gridPos"]
        assert grid["x"] + grid["w"] <= 24
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, item["title"]
                cells.add((x, y))
    resources_row = dict(rows)["Resources"]
    assert all(p["gridPos"]["y"] < resources_row for p in rendered[: len(panels("overview"))])
    assert all(p["gridPos"]["y"] > resources_row for p in rendered[len(panels("overview")) :])
    assert set(GRAFANA_UNITS) == set(UNITS)


def test_a_fixed_datasource_uid_needs_no_import_input() -> None:
    dashboard = grafana_dashboard(datasource="prom-main")
    assert "__inputs" not in dashboard
    text = json.dumps(dashboard)
    assert "DS_PROMETHEUS" not in text
    assert {p["datasource"]["uid"] for p in _panels_of(dashboard)} == {"prom-main"}
    assert {v["datasource"]["uid"] for v in dashboard["templating"]["list"]} == {"prom-main"}


def test_lower_is_worse_thresholds_colour_downwards() -> None:
    speed = Panel(
        id="decode_speed", title="Decode speed", unit="tok/s", page="overview", store_query="output_tokens_per_s",
        group_by=("model",), promql="x", thresholds=(Threshold(20.0, "warn"), Threshold(5.0, "crit")),
        higher_is_worse=False,
    )  # fmt: skip
    assert grafana._steps(speed) == [
        {"color": "red", "value": None}, {"color": "orange", "value": 5.0}, {"color": "green", "value": 20.0},
    ]  # fmt: skip
