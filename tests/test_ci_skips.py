"""The CI rule of tests/ci_skips.py, run on a throwaway suite in a child pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SUITE = """
import pytest
pytest.importorskip("{module}")

def test_skips():
    pytest.skip("peer missing")

@pytest.mark.gpu
def test_gpu():
    pytest.skip("no GPU here")

def test_passes():
    pass
"""


def _run(tmp_path: Path, module: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_suite.py").write_text(SUITE.format(module=module))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    gpu: needs a GPU\n")
    child_env = {k: v for k, v in os.environ.items() if k not in ("CI", "INFERTEL_TEST_ALLOW_SKIPS")}
    child_env.update(env, PYTHONPATH=str(TESTS))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "ci_skips", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=tmp_path,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "1 passed, 2 skipped"),
        ({"CI": "true"}, "1 failed, 1 passed, 1 skipped"),
        ({"CI": "true", "INFERTEL_TEST_ALLOW_SKIPS": "true"}, "1 passed, 2 skipped"),
    ],
)
def test_only_gpu_tests_may_skip_in_ci(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    result = _run(tmp_path, "os", **env)
    assert expected in result.stdout, result.stdout
    if "failed" in expected:
        assert result.returncode == 1
        assert "skipped in CI (CI=true), where every peer must be present: Skipped: peer missing" in result.stdout
    else:
        assert result.returncode == 0


def test_a_module_skipped_for_a_missing_package_fails_in_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, "no_such_module_for_infertel_tests", CI="true")
    assert result.returncode != 0
    assert "module skipped in CI (CI=true)" in result.stdout
    assert _run(tmp_path, "no_such_module_for_infertel_tests").returncode == 5  # all skipped: nothing ran
