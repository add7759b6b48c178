"""The distributions: lockstep versions, an acyclic dependency graph, ranges not pins, light imports, extras."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import infertel
from infertel import environment_variables, semconv
from infertel.version import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DIST_DIRS = [ROOT, *sorted(p.parent for p in ROOT.glob("exporters/*/pyproject.toml")),
             *sorted(p.parent for p in ROOT.glob("instrumentation/*/pyproject.toml"))]  # fmt: skip


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text())


def _version_of(folder: Path) -> str:
    path = folder / _project(folder)["tool"]["hatch"]["version"]["path"]
    match = re.search(r'^__version__ = "([^"]+)"$', path.read_text(), re.MULTILINE)
    assert match, path
    return match.group(1)


PROJECTS = {_project(d)["project"]["name"]: d for d in DIST_DIRS}


def test_every_distribution_has_its_own_version_file_and_all_move_in_lockstep() -> None:
    versions = {name: _version_of(folder) for name, folder in PROJECTS.items()}
    assert versions == dict.fromkeys(PROJECTS, __version__)
    for name, folder in PROJECTS.items():
        version_file = (folder / _project(folder)["tool"]["hatch"]["version"]["path"]).resolve()
        assert version_file.is_relative_to(folder.resolve()), f"{name} reads its version from outside its folder"
        assert importlib.metadata.version(name) == __version__, f"{name}: reinstall it (pip install -e)"


def test_the_dependency_graph_is_acyclic_and_the_exporters_depend_only_on_opentelemetry() -> None:
    graph = {
        name: sorted({Requirement(r).name for r in _project(folder)["project"]["dependencies"]} & PROJECTS.keys())
        for name, folder in PROJECTS.items()
    }
    assert graph == {
        "infertel": ["infertel-exporter-durable", "infertel-exporter-sqlite"],
        "infertel-exporter-durable": [],
        "infertel-exporter-sqlite": [],
        "infertel-instrumentation-fastapi": ["infertel"],
        "infertel-instrumentation-openai": ["infertel"],
        "infertel-instrumentation-transformers": ["infertel"],
    }
    for name, folder in PROJECTS.items():
        if name.startswith("infertel-exporter-"):
            others = [Requirement(r).name for r in _project(folder)["project"]["dependencies"]]
            assert all(n.startswith("opentelemetry-") for n in others), (name, others)


def _imported_top_names(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in (folder / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


@pytest.mark.parametrize("name", ["infertel-exporter-durable", "infertel-exporter-sqlite"])
def test_the_exporters_never_import_infertel(name: str) -> None:
    imported = _imported_top_names(PROJECTS[name])
    assert sorted(m for m in imported if m == "infertel" or m.startswith("infertel.")) == []


def test_the_exporters_work_without_infertel_and_durable_http_export_without_grpc(tmp_path: Path) -> None:
    result = _python(f"""
        import sys
        sys.modules["infertel"] = None  # neither exporter may need the core
        sys.modules["grpc"] = None  # infertel-exporter-durable[grpc] not installed
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from infertel_exporters.durable import DurableSpanExporter, durable
        from infertel_exporters.sqlite import SQLiteSpanExporter
        exporter = durable(OTLPSpanExporter(endpoint="http://127.0.0.1:1/v1/traces"), spool_dir={str(tmp_path)!r})
        store = SQLiteSpanExporter({str(tmp_path / "store.db")!r})
        print(type(exporter).__name__, type(store).__name__)
        exporter.shutdown()
        store.shutdown()
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DurableSpanExporter", "SQLiteSpanExporter"]


def test_the_exporters_spell_infertels_names_identically() -> None:
    from infertel_exporters.durable import _names as durable_names
    from infertel_exporters.sqlite import _names as sqlite_names

    for module in (durable_names, sqlite_names):
        names = {k: v for k, v in vars(module).items() if k.isupper()}
        assert names
        core = {k: getattr(environment_variables, k, None) or getattr(semconv, k, None) for k in names}
        assert names == core, module.__name__


def test_requirements_are_ranges_that_admit_every_supported_release() -> None:
    oldest = {"1": Version("1.37.0"), "0": Version("0.58b0")}
    for name, folder in PROJECTS.items():
        project = _project(folder)["project"]
        requirements = [*project["dependencies"], *[r for e in project.get("optional-dependencies", {}).values()
                                                    for r in e]]  # fmt: skip
        for text in requirements:
            req = Requirement(text)
            assert not any(s.operator in ("==", "===") for s in req.specifier), (name, text)
            if req.name == name:  # an extra made of other extras (`all`)
                assert not req.specifier, (name, text)
            elif req.name in PROJECTS:
                assert req.specifier.contains(__version__), (name, text)
                next_minor = Version(__version__).release[:2]
                assert not req.specifier.contains(f"{next_minor[0]}.{next_minor[1] + 1}.0"), (name, text)
            elif req.name.startswith("opentelemetry-"):
                lowest = min((Version(s.version) for s in req.specifier if s.operator == ">="), default=None)
                assert lowest is not None, (name, text)
                assert lowest == oldest[str(lowest.major)], (name, text)


def _python(code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)  # fmt: skip


# Optional weight, and what the import path was cleared of (asyncio, importlib.metadata, the SDK configurator:
# about 60 ms together), which only configure() at run time or zero-code start-up may load.
HEAVY = ["grpc", "rich", "pynvml", "prometheus_client", "requests", "google.protobuf", "infertel_exporters",
         "asyncio", "importlib.metadata", "opentelemetry.sdk._configuration"]  # fmt: skip


def test_import_infertel_loads_no_optional_weight_and_public_submodules_are_attributes() -> None:
    result = _python(f"""
        import sys, json
        import infertel
        loaded_on_import = sorted(m for m in sys.modules if m.startswith("infertel"))
        infertel.configure, infertel.observe, infertel.processors, infertel.resources  # the facade's modules
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        snapshot = infertel.resources.snapshot()
        print(json.dumps({{
            "on_import": loaded_on_import,
            "heavy": heavy,
            "snapshot": type(snapshot).__name__,
            "processors": infertel.processors.__name__,
            "semconv": infertel.semconv.GEN_AI_REQUEST_MODEL,
        }}))
    """)
    assert result.returncode == 0, result.stderr
    # What the OTel SDK loads itself is not ours to avoid (older opentelemetry.trace imports asyncio).
    sdk = _python(f"""
        import sys
        import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs
        print(" ".join(sorted(m for m in {HEAVY!r} if m in sys.modules)))
    """)
    assert sdk.returncode == 0, sdk.stderr

    assert json.loads(result.stdout) == {
        "on_import": ["infertel", "infertel.version"],
        "heavy": sdk.stdout.split(),
        "snapshot": "ResourceSnapshot",
        "processors": "infertel.processors",
        "semconv": "gen_ai.request.model",
    }


# What only configure() needs (settings, exporters, log/span processors, statistics, resource metrics, Prometheus,
# teardown), the probe of the statistics processor's span reads (it builds a TracerProvider) and sysconfig: taken
# off the import of the working API (from infertel import configure, observe, inference; benchmarks/import_time.py).
CONFIGURE_ONLY = ["infertel._internal.components", "infertel._internal.config", "infertel._internal.exporter_build",
                  "infertel._internal.lifecycle", "infertel._internal.logs", "infertel._internal.processors",
                  "infertel._internal.prometheus", "infertel._internal.providers", "infertel._internal.reconfigure",
                  "infertel._internal.resource", "infertel._internal.resources", "infertel._internal.signal_setup",
                  "infertel._internal.status", "infertel._internal.teardown", "opentelemetry.sdk._logs.export",
                  "opentelemetry.sdk.trace.export",
                  "importlib.util", "pathlib", "sysconfig"]  # fmt: skip


def test_the_working_api_imports_what_its_first_calls_need_and_configure_the_rest(tmp_path: Path) -> None:
    result = _python(f"""
        import json, os, sys
        os.environ["INFERTEL_STORE_PATH"] = {str(tmp_path / "store.db")!r}
        os.environ["INFERTEL_SPOOL_DIR"] = {str(tmp_path / "spool")!r}
        os.environ["INFERTEL_RESOURCE_METRICS"] = "false"
        from infertel import configure, inference, observe, shutdown
        from infertel._internal import compat

        def loaded():
            return sorted(m for m in {CONFIGURE_ONLY!r} if m in sys.modules)

        report = {{"on_import": loaded(), "fork_hook": "infertel._internal.forking" in sys.modules,
                   "span_probe": "SPAN_INTERNALS" in vars(compat)}}
        @observe(model="m", operation="chat", provider="p")
        def generate(prompt):
            return prompt
        before = set(sys.modules)
        generate("hi")
        with inference(model="m", operation="chat"):
            pass
        report["first_calls"] = sorted(set(sys.modules) - before)  # no import on the hot path, before configure()
        configure(service_name="import-set")
        report["configure"] = loaded()
        report["span_probe_after_configure"] = compat.SPAN_INTERNALS
        before = set(sys.modules)
        generate("hi")
        with inference(model="m", operation="chat"):
            pass
        report["configured_calls"] = sorted(set(sys.modules) - before)  # nor after it
        report["shutdown"] = shutdown(timeout_millis=10_000)
        print(json.dumps(report))
    """)  # fmt: skip
    assert result.returncode == 0, result.stderr
    # What the OTel SDK itself loads (e.g. pathlib on some releases) is the baseline.
    sdk = _python(f"""
        import sys
        import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs
        print(" ".join(sorted(m for m in {CONFIGURE_ONLY!r} if m in sys.modules)))
    """)
    assert sdk.returncode == 0, sdk.stderr
    by_sdk = sdk.stdout.split()

    assert json.loads(result.stdout) == {
        "on_import": by_sdk,
        "fork_hook": True,  # the at-fork hook is registered before any call records anything
        "span_probe": False,
        "first_calls": [],
        "configure": sorted(set(CONFIGURE_ONLY) - {"sysconfig"} | set(by_sdk)),  # sysconfig: not even then
        "span_probe_after_configure": True,
        "configured_calls": [],
        "shutdown": True,
    }


def test_the_facade_lists_every_public_name_and_unknown_names_raise_attribute_error() -> None:
    for name in infertel.__all__:
        assert getattr(infertel, name) is not None, name
    assert set(infertel.__all__) <= set(dir(infertel))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        infertel.nope  # noqa: B018


@pytest.mark.parametrize(
    ("blocked", "call", "extra"),
    [
        ("opentelemetry.exporter.otlp.proto.grpc", "infertel.configure(endpoint='http://127.0.0.1:1')", "otlp-grpc"),
        ("opentelemetry.exporter.prometheus", "infertel.configure(prometheus_port=0)", "prometheus"),
    ],
)
def test_asking_for_a_missing_extra_raises_import_error_naming_it(tmp_path: Path, blocked: str, call: str,
                                                                   extra: str) -> None:  # fmt: skip
    result = _python(f"""
        import os, sys
        sys.modules[{blocked!r}] = None  # what `import` sees when the extra is not installed
        os.environ["INFERTEL_STORE_PATH"] = {str(tmp_path / "store.db")!r}
        os.environ["INFERTEL_SPOOL_DIR"] = {str(tmp_path / "spool")!r}
        import infertel
        try:
            {call}
        except ImportError as exc:
            print("ImportError:", exc)
        finally:
            infertel.shutdown(timeout_millis=1000)
    """)
    assert result.returncode == 0, result.stderr
    assert f"pip install 'infertel[{extra}]'" in result.stdout, result.stdout


@pytest.mark.slow
def test_the_demo_prints_plain_text_without_the_demo_extra(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = _python(f"""
        import sys
        sys.modules["rich"] = None  # infertel[demo] not installed
        from infertel._internal.cli import main
        sys.exit(main(["demo", "--requests", "12", "--concurrency", "3", "--seed", "3", "--store", {str(db)!r}]))
    """, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"infertel demo: 12 requests in [0-9.]+ s, concurrency 3, seed 3", lines[0]), lines[0]
    assert lines[1].split() == ["model", "requests", "errors", "p50", "ms", "p95", "ms", "p99", "ms", "TTFT", "p50",
                                "ms", "output", "tok/s"]  # fmt: skip
    total = next(line for line in lines if line.startswith("all "))
    assert total.split()[:2] == ["all", "12"]
    assert "[" not in "\n".join(lines[:-1])  # no rich markup left (the last line is a SQL hint)
    assert "infertel demo: 12/12 requests" in result.stderr


def _build(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", *args], capture_output=True, text=True,
                            cwd=cwd, timeout=300, env=None if env is None else {**os.environ, **env})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


EXTENSION = "infertel/_internal/processors/_records"
"""The core's optional C extension (the statistics buffer), compiled by hatch_build.py."""


def _wheel_from_sdist(name: str, tmp_path: Path, env: dict[str, str] | None = None) -> tuple[str, list[str], list[str]]:
    """Build ``name``'s sdist, then a wheel from it alone: ``(wheel name, its files, the source files)``."""
    _build(["--sdist", "--outdir", str(tmp_path / "sdist"), str(PROJECTS[name])], ROOT)
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
        assert not [f for f in archive.getnames() if f.endswith(".so")]  # (an editable install builds them in place)
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    scratch = tmp_path / "tmp"  # the build's TMPDIR: the build hook's compiler folder must not outlive it
    scratch.mkdir()
    _build(["--wheel", "--outdir", str(tmp_path / "wheel"), "."], unpacked, {**(env or {}), "TMPDIR": str(scratch)})
    assert not list(scratch.glob("infertel-build-*"))
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = sorted(f for f in archive.namelist() if ".dist-info/" not in f)
    source = PROJECTS[name] / "src"
    expected = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file() and "__pycache__" not in
                      p.parts and not p.name.endswith((".pyc", ".so", ".c")))  # fmt: skip
    return wheel.name, files, expected


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_every_distribution_builds_a_wheel_from_its_own_sdist(name: str, tmp_path: Path) -> None:
    wheel, files, expected = _wheel_from_sdist(name, tmp_path)
    if name == "infertel":  # with the C statistics buffer: a wheel for this interpreter and platform
        python = f"cp{sys.version_info.major}{sys.version_info.minor}"
        assert re.fullmatch(rf"infertel-{re.escape(__version__)}-{python}-{python}-\w+\.whl", wheel), wheel
        expected = sorted([*expected, EXTENSION + sysconfig.get_config_var("EXT_SUFFIX")])
    else:
        assert wheel == f"{name.replace('-', '_')}-{__version__}-py3-none-any.whl"
    assert files == expected


@pytest.mark.slow
def test_the_core_builds_pure_python_without_its_extension(tmp_path: Path) -> None:
    # INFERTEL_BUILD_EXTENSION=0 (as where no C compiler is at hand): a pure-Python wheel, and
    # infertel runs on the list buffer
    wheel, files, expected = _wheel_from_sdist("infertel", tmp_path, {"INFERTEL_BUILD_EXTENSION": "0"})
    assert wheel == f"infertel-{__version__}-py3-none-any.whl"
    assert files == expected
    target = tmp_path / "site"
    with zipfile.ZipFile(tmp_path / "wheel" / wheel) as archive:
        archive.extractall(target)
    result = subprocess.run(
        [sys.executable, "-c", "from infertel._internal.processors import InferenceStats, _buffer;"
         "print(_buffer.Records, type(InferenceStats().buffer).__name__)"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "list"]
