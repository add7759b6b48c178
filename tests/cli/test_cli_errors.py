"""Every error of the ``infertel`` command is one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infertel_exporters.sqlite import SQLiteStore


def _command() -> list[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "infertel._internal.cli"]


def _run(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    return subprocess.run(
        [*_command(), *args], capture_output=True, text=True, timeout=120, env={**base, **(env or {})}, **kwargs
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), r"infertel: error: a command is required: demo(, [a-z-]+)+ \(see infertel --help\)"),
        (("nosuch",), r"infertel: error: argument COMMAND: invalid choice: 'nosuch' .*\(see infertel --help\)"),
        (("--bogus",), r"infertel: error: unrecognized arguments: --bogus \(see infertel --help\)"),
        (
            ("demo", "--requests", "0"),
            r"infertel demo: error: argument --requests: expected a positive integer, got '0'",
        ),
        (
            ("demo", "--requests", "x"),
            r"infertel demo: error: argument --requests: expected a positive integer, got 'x'",
        ),
        (
            ("demo", "--error-rate", "2"),
            r"infertel demo: error: argument --error-rate: expected a fraction between 0 and 1",
        ),
        (("demo", "--concurrency"), r"infertel demo: error: argument --concurrency: expected one argument"),
    ],
)
def test_bad_arguments(args: tuple[str, ...], expected: str) -> None:
    assert re.fullmatch(expected + r".*", _one_error_line(_run(*args)))


def test_a_corrupt_store_is_refused_untouched(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    garbage = b"this is not a database \x00\x01\x02\xff" * 200
    corrupt.write_bytes(garbage)
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(corrupt)))
    assert (
        line
        == f"infertel demo: error: --store: {str(corrupt)!r} is not a usable infertel store: file is not a database"
    )
    assert corrupt.read_bytes() == garbage


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(tmp_path)))
    assert line.startswith(f"infertel demo: error: --store {tmp_path}: is a directory; accepted: ")


def test_a_store_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    store = tmp_path / "a-file" / "infertel.db"
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(store)))
    assert line.startswith(f"infertel demo: error: --store {store}: {tmp_path / 'a-file'} is not a directory; ")


def _make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o555 if path.is_dir() else 0o444)
        return
    # root writes through permission bits: the immutable attribute stops it (ext4, xfs, btrfs ...)
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and chattr +i does not work here: {done.stderr.strip()}")


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    else:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory holding a valid store, where nothing can be written (not by root either)."""
    path = tmp_path / "read-only"
    path.mkdir()
    with SQLiteStore(path / "existing.db") as store:
        store.counts()  # a valid, existing store
    made = [path / "existing.db", path]
    try:
        for each in made:
            _make_read_only(each)
        yield path
    finally:
        for each in made:
            _make_writable(each)


def test_a_read_only_store_is_refused(read_only_dir: Path) -> None:
    store = read_only_dir / "existing.db"
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(store)))
    prefix = f"infertel demo: error: --store: {str(store)!r} is not a usable infertel store: "
    assert line.startswith(prefix)
    assert line[len(prefix) :] in ("attempt to write a readonly database", "unable to open database file")


def test_a_store_in_a_read_only_directory_is_refused(read_only_dir: Path) -> None:
    store = read_only_dir / "new.db"
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(store)))
    assert line == (
        f"infertel demo: error: --store {store}: unable to open database file; accepted: an infertel store file "
        "(new or existing) in a writable directory"
    )
    assert not store.exists()


def test_a_rejected_environment_is_one_line(tmp_path: Path) -> None:
    env = {"OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    line = _one_error_line(_run("demo", "--requests", "5", "--store", str(tmp_path / "x.db"), env=env))
    assert line.startswith("infertel demo: error: ")
    assert "carrier-pigeon" in line
