"""MethodPatcher and PatchingInstrumentor: wrap on import, restore the very original object."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wrapt

from infertel.instrumentation import MethodPatcher, PatchingInstrumentor, PatchTarget

PROXY_TYPES = (wrapt.ObjectProxy, getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy), wrapt.FunctionWrapper)

LIBRARY = """
class Model:
    def generate(self, prompt):
        return "generated " + prompt

    def other(self):
        return "other"
"""


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a module on sys.path that nobody has imported yet (fresh per test)."""
    name = f"fake_library_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(LIBRARY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def tagging(target: PatchTarget) -> Any:
    tag = target[3]

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return f"{tag}({wrapped(*args, **kwargs)})"

    return wrapper


def test_patches_a_module_imported_later_and_unpatch_restores_the_original(library: str) -> None:
    patcher = MethodPatcher(((library, "Model", "generate", "traced"),))
    patcher.patch(tagging)
    assert library not in sys.modules  # patch() does not import the library

    module = importlib.import_module(library)
    assert isinstance(module.Model.__dict__["generate"], wrapt.FunctionWrapper)
    assert module.Model().generate("hi") == "traced(generated hi)"
    assert module.Model().other() == "other"  # not a target: untouched
    original = module.Model.__dict__["generate"].__wrapped__

    patcher.unpatch()
    assert module.Model.__dict__["generate"] is original
    assert not isinstance(module.Model.__dict__["generate"], PROXY_TYPES)
    assert module.Model().generate("hi") == "generated hi"


def test_already_imported_module_is_patched_at_once_and_never_twice(library: str) -> None:
    module = importlib.import_module(library)
    original = module.Model.__dict__["generate"]
    patcher = MethodPatcher(((library, "Model", "generate", "traced"),))
    patcher.patch(tagging)
    patcher.patch(tagging)
    assert module.Model().generate("x") == "traced(generated x)"
    patcher.unpatch()
    assert module.Model.__dict__["generate"] is original


def test_hook_after_unpatch_does_nothing_and_repatch_works(library: str) -> None:
    patcher = MethodPatcher(((library, "Model", "generate", "traced"),))
    patcher.patch(tagging)
    patcher.unpatch()
    module = importlib.import_module(library)  # the import hook fires while unpatched
    assert not isinstance(module.Model.__dict__["generate"], PROXY_TYPES)
    patcher.patch(tagging)
    assert module.Model().generate("x") == "traced(generated x)"
    patcher.unpatch()
    assert module.Model().generate("x") == "generated x"


def test_missing_class_or_method_is_skipped(library: str) -> None:
    patcher = MethodPatcher(((library, "Absent", "generate", "a"), (library, "Model", "absent", "b")))
    patcher.patch(tagging)
    module = importlib.import_module(library)
    assert not hasattr(module, "Absent")
    assert "absent" not in module.Model.__dict__
    assert module.Model().generate("x") == "generated x"
    patcher.unpatch()


def test_patching_instrumentor_wraps_restores_and_names_the_missing_package(library: str) -> None:
    class FakeInstrumentor(
        PatchingInstrumentor,
        targets=((library, "Model", "generate", "instrumented"),),
        requires=(library,),
        instruments=(),
        distribution="fake-instrumentation",
    ):
        def _instrument(self, **kwargs: Any) -> None:
            self._patcher.patch(tagging)

    class MissingInstrumentor(
        PatchingInstrumentor,
        targets=(),
        requires=("no_such_module_" + uuid.uuid4().hex,),
        instruments=(),
        distribution="missing-instrumentation",
    ):
        pass

    assert FakeInstrumentor().instrumentation_dependencies() == ()
    FakeInstrumentor().instrument()
    try:
        module = importlib.import_module(library)
        assert module.Model().generate("x") == "instrumented(generated x)"
    finally:
        FakeInstrumentor().uninstrument()  # a fresh handle uninstruments: the state is on the class
    assert not isinstance(module.Model.__dict__["generate"], PROXY_TYPES)
    assert module.Model().generate("x") == "generated x"

    with pytest.raises(
        ImportError, match=r"MissingInstrumentor needs the no_such_module_\w+ package: "
        r"pip install 'missing-instrumentation\[instruments\]'"
    ):  # fmt: skip
        MissingInstrumentor().instrument()
