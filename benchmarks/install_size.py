"""What `pip install infertel` brings in, next to OpenLIT and Logfire (needs PyPI; not run in CI).

Each subject is installed into a fresh virtual environment under the temp folder; printed are the
number of installed distributions (``pip list`` minus pip/setuptools/wheel) and the size of
site-packages. infertel is installed from this checkout (the core with the two exporter
distributions it depends on, which an index would supply); OpenLIT and Logfire from PyPI.

Run: ``python benchmarks/install_size.py [--only infertel] [--keep]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS: dict[str, list[str]] = {
    "infertel": [
        str(ROOT / "exporters/infertel-exporter-sqlite"),
        str(ROOT / "exporters/infertel-exporter-durable"),
        str(ROOT),
    ],  # fmt: skip
    "infertel[all]": [
        str(ROOT / "exporters/infertel-exporter-sqlite"),
        str(ROOT / "exporters/infertel-exporter-durable"),
        f"{ROOT}[all]",
    ],  # fmt: skip
    # Some of OpenLIT's contrib requirements have a 0.66b2 release and others stop at 0.66b1, so pip
    # backtracks through OTel contrib releases for tens of minutes; naming the newest consistent set
    # (what it ends at) takes it there directly.
    "openlit": ["openlit", "opentelemetry-semantic-conventions==0.66b1"],
    "logfire": ["logfire"],
}
TOOLING = {"pip", "setuptools", "wheel"}


def _site_packages(venv: Path) -> Path:
    purelib = sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)})
    return Path(purelib)


def _size_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def measure(name: str, requirements: list[str], workdir: Path) -> tuple[int, int]:
    """(installed distributions, site-packages bytes) of ``requirements`` in a fresh venv."""
    venv = workdir / name.replace("[", "-").replace("]", "")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True, env=env)
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                            check=True, env=env).stdout  # fmt: skip
    packages = [p["name"] for p in json.loads(listed) if p["name"].lower() not in TOOLING]
    tooling = sum(_size_bytes(p) for p in _site_packages(venv).glob("*") if p.name.split("-")[0].lower() in TOOLING)
    return len(packages), _size_bytes(_site_packages(venv)) - tooling


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SUBJECTS), help="measure only these subjects")
    parser.add_argument("--keep", action="store_true", help="keep the virtual environments (their folder is printed)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="infertel-install-size-"))
    print(f"Fresh virtual environments, Python {sys.version.split()[0]}, pip/setuptools/wheel not counted")
    print(f"{'pip install':16} {'packages':>9} {'site-packages MiB':>18} {'size vs infertel':>17}", flush=True)
    base = 0
    for name in args.only or SUBJECTS:
        count, size = measure(name, SUBJECTS[name], workdir)
        base = base or (size if name == "infertel" else 0)
        ratio = f"{size / base:.2f}x" if base else ""
        print(f"{name:16} {count:9d} {size / 2**20:18.1f} {ratio:>17}", flush=True)
    if args.keep:
        print(f"environments kept in {workdir}")
    else:
        subprocess.run(["rm", "-rf", str(workdir)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
