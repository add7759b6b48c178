"""Build hook of the core distribution: compiles the optional C statistics buffer (``_records.c``).

The extension speeds up the statistics processor (see ``src/infertel/_internal/processors/_buffer.py``);
infertel works the same without it. When no C compiler is at hand, or ``INFERTEL_BUILD_EXTENSION=0``
is set, or the interpreter is a free-threaded build (the extension relies on the GIL), the wheel is
built without it and a line says so. An editable install compiles it in place, beside its source.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "infertel._internal.processors._records"
SOURCE = Path("src/infertel/_internal/processors/_records.c")


class ExtensionBuildHook(BuildHookInterface):
    """Compiles :data:`MODULE` with setuptools' ``build_ext`` into the wheel (or in place when editable)."""

    PLUGIN_NAME = "custom"
    _work: Path | None = None  # the compiler's temporary folder, removed once the wheel holds its output

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Compile the extension into the wheel (in place when ``version`` is ``editable``), or say why not."""
        if self.target_name != "wheel":
            return
        reason = _skip_reason()
        if reason:
            print(f"infertel: building without the C statistics buffer ({reason})", file=sys.stderr)
            return
        editable = version == "editable"
        self._work = Path(tempfile.mkdtemp(prefix="infertel-build-"))
        try:
            built = _compile(Path(self.root), self._work, inplace=editable)
        except Exception as exc:  # no compiler, no headers: the pure-Python buffer
            print(f"infertel: building without the C statistics buffer ({type(exc).__name__}: {exc})", file=sys.stderr)
            self._remove_work()
            return
        if editable:  # the module lies beside its source; the folder holds only object files
            self._remove_work()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not editable:
            build_data["force_include"][str(built)] = "/".join(MODULE.split(".")[:-1]) + "/" + built.name

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the compiler's temporary folder: the wheel at ``artifact_path`` holds the module now."""
        self._remove_work()

    def _remove_work(self) -> None:
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None


def _skip_reason() -> str | None:
    # (infertel.environment_variables.INFERTEL_BUILD_EXTENSION: the build does not import infertel)
    if os.environ.get("INFERTEL_BUILD_EXTENSION", "1").strip().lower() in ("0", "false", "no"):
        return "INFERTEL_BUILD_EXTENSION=0"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "a free-threaded Python"
    if sys.implementation.name != "cpython":
        return f"{sys.implementation.name} is not CPython"
    return None


def _compile(root: Path, work: Path, *, inplace: bool) -> Path:
    """Build the extension in ``work``; its path (in the source tree when ``inplace``, else under ``work``)."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    extension = Extension(MODULE, [str(SOURCE)])
    distribution = Distribution({"name": "infertel", "ext_modules": [extension], "package_dir": {"": "src"}})
    command = build_ext(distribution)
    command.build_temp = str(work / "temp")
    command.build_lib = str(work / "lib")
    command.inplace = inplace
    previous = Path.cwd()
    os.chdir(root)
    try:
        command.ensure_finalized()
        command.run()
        path = Path(command.get_ext_fullpath(MODULE))
    finally:
        os.chdir(previous)
    return path if path.is_absolute() else root / path
