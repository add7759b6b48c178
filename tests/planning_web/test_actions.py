"""The recorded-actions file (bounded JSON lines, versioned) and the settings' validation: pure Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infertel.planning_web import ACTIONS_VERSION, PlanningSettings, actions_path
from infertel.planning_web._actions import ActionLog


def _action(i: int) -> dict[str, object]:
    return {"time_ns": i, "replicas": i, "action": "manual", "desired_replicas": None, "note": f"n{i}"}


def test_the_file_is_bounded_and_keeps_the_newest(tmp_path: Path) -> None:
    log = ActionLog(actions_path(tmp_path / "s.db"), keep=3)
    sizes = []
    for i in range(1, 8):
        log.append(_action(i))
        sizes.append(len(log.path.read_text().splitlines()))
    # rewritten to the newest 3 as soon as it holds more than 6
    assert sizes == [1, 2, 3, 4, 5, 6, 3]
    assert log.read() == [{"v": ACTIONS_VERSION, **_action(i)} for i in (5, 6, 7)]
    assert log.last() == {"v": ACTIONS_VERSION, **_action(7)}
    assert not log.path.with_name(log.path.name + ".tmp").exists()


def test_unreadable_or_other_version_lines_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("not json\n" + json.dumps({"v": 99, "replicas": 1}) + "\n[1, 2]\n")
    log = ActionLog(path)
    log.append(_action(4))
    assert log.read() == [{"v": 1, **_action(4)}]
    assert log.skipped == 3
    assert [r.getMessage() for r in caplog.records] == [f"skipped 3 unreadable lines in {path}"]
    log.read()  # the same count is not logged again
    assert len(caplog.records) == 1


def test_a_missing_file_reads_empty(tmp_path: Path) -> None:
    log = ActionLog(tmp_path / "none" / "a.jsonl")
    assert (log.read(), log.last()) == ([], None)
    assert actions_path("/x/infertel.db") == Path("/x/infertel.db.autoscaling-actions.jsonl")


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="capacity_rps must be a positive number"):
        PlanningSettings(capacity_rps=0)
    with pytest.raises(ValueError, match="capacity_rps must be a positive number"):
        PlanningSettings(capacity_rps={0: 1.0})
    with pytest.raises(ValueError, match="growth must be positive multiples"):
        PlanningSettings(capacity_rps=1.0, growth=(1.0, -2.0))
    with pytest.raises(ValueError, match=r"min_replicas \(5\) must not exceed max_replicas \(2\)"):
        PlanningSettings(capacity_rps=1.0, min_replicas=5, max_replicas=2)
    with pytest.raises(ValueError, match="coverage must be in"):
        PlanningSettings(coverage=1.0)
    with pytest.raises(ValueError, match="keep_actions must be an integer >= 1"):
        PlanningSettings(keep_actions=0)
    with pytest.raises(ValueError, match=r"prices\['m'\]"):
        PlanningSettings(prices={"m": {"input_per_1k": -1}})
    with pytest.raises(ValueError, match="actions keep must be an integer >= 1"):
        ActionLog(Path("x"), keep=0)
    assert PlanningSettings(capacity_rps={4: 3.0, 1: 2.0}).capacity_table() == {4: 3.0, 1: 2.0}
    with pytest.raises(LookupError, match="no per-replica capacity set"):
        PlanningSettings().capacity_table()
