"""The checked-in Prometheus rules, their promtool test and the Alertmanager config equal the generators' output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from alerting import deploy_scenario

from infertel._internal.commands.prometheus_rules import render

pytest.importorskip("yaml")

DEPLOY = deploy_scenario.ROOT / "examples" / "deploy"


def test_the_checked_in_files_are_what_the_generator_writes() -> None:
    prometheus, alertmanager = render(str(deploy_scenario.EXAMPLE))
    assert (DEPLOY / "prometheus" / "infertel-rules.yml").read_text(encoding="utf-8") == prometheus
    assert (DEPLOY / "alertmanager.yml").read_text(encoding="utf-8") == alertmanager
    assert deploy_scenario.TEST_FILE.read_text(encoding="utf-8") == deploy_scenario.render()


def test_the_example_scenario_fires_every_kind_it_can_in_two_hours() -> None:
    assert deploy_scenario.fired() == {
        "ChatP99LatencyHigh", "ChatAvailability", "ChatLatencySLO", "ChatLatencyRising",
        "InfertelHighCpu", "InfertelHighErrorRate", "ChatErrorsOffBaseline",
    }  # fmt: skip


@pytest.mark.integration
def test_promtool_checks_and_unit_tests_the_generated_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (scripts/install-peers.sh installs Debian's prometheus package)")
    folder = DEPLOY / "prometheus"
    check = subprocess.run([promtool, "check", "rules", "infertel-rules.yml"], capture_output=True, text=True,
                           cwd=folder, timeout=60)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 56 rules found" in check.stdout
    unit = subprocess.run([promtool, "test", "rules", "infertel-rules.test.yml"], capture_output=True, text=True,
                          cwd=folder, timeout=120)  # fmt: skip
    assert unit.returncode == 0, unit.stdout[-4000:] + unit.stderr[-2000:]


def test_the_cli_writes_the_same_files(tmp_path: Path) -> None:
    from infertel._internal.cli import main

    assert main(["prometheus-rules", "--rules", str(deploy_scenario.EXAMPLE), "--out-dir", str(tmp_path)]) == 0
    for relative in ("prometheus/infertel-rules.yml", "alertmanager.yml"):
        assert (tmp_path / relative).read_text(encoding="utf-8") == (DEPLOY / relative).read_text(encoding="utf-8")


@pytest.mark.integration
def test_amtool_accepts_the_generated_alertmanager_config(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (scripts/install-peers.sh installs Debian's prometheus-alertmanager)")
    from infertel.alerting import Route
    from infertel.alerting._render import render_alertmanager_config

    default = tmp_path / "default.yml"  # the default pack's config: one receiver, no channel
    default.write_text(render_alertmanager_config(Route("default"), [{"name": "default"}]))
    for path in (DEPLOY / "alertmanager.yml", default):
        result = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_without_a_rules_file_the_default_pack_is_rendered(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from infertel._internal.cli import main
    from infertel.alerting import default_rules
    from infertel.alerting._render import render_prometheus_rules

    monkeypatch.delenv("INFERTEL_ALERT_RULES", raising=False)
    assert main(["prometheus-rules"]) == 0
    assert capsys.readouterr().out == render_prometheus_rules(default_rules())
    assert main(["prometheus-rules", "--alertmanager"]) == 0
    assert "receivers:\n- name: default\n" in capsys.readouterr().out
    monkeypatch.setenv("INFERTEL_ALERT_RULES", str(deploy_scenario.EXAMPLE))
    assert main(["prometheus-rules"]) == 0
    assert capsys.readouterr().out == (DEPLOY / "prometheus" / "infertel-rules.yml").read_text(encoding="utf-8")
    assert main(["prometheus-rules", "--rules", "/nonexistent/rules.yml"]) == 2
    assert (
        capsys.readouterr().err == "infertel prometheus-rules: error: --rules: no such file: /nonexistent/rules.yml\n"
    )
