"""``ProcessResource``: the Resource of ``configure()`` follows ``os.fork()`` through the public ``attributes``."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.resources import PROCESS_PARENT_PID, PROCESS_PID, SERVICE_INSTANCE_ID, Resource
from opentelemetry.sdk.trace import TracerProvider

from infertel._internal.forking import ProcessResource
from infertel._internal.resource import build_resource

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork()")

_PROCESS_KEYS = {PROCESS_PID, PROCESS_PARENT_PID, SERVICE_INSTANCE_ID}


def _in_child(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``read()`` evaluated in a forked child, returned through a pipe."""
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a multi-threaded process (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and never returns
        try:
            os.write(w, json.dumps(read()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return dict(json.loads(data), child_pid=pid)


def test_the_resource_of_configure_reports_the_reading_process() -> None:
    resource = build_resource(service_name="chat-api")
    parent = json.loads(json.dumps(dict(resource.attributes)))  # as the child's come back (tuples as lists)
    assert isinstance(resource, ProcessResource)
    assert parent[PROCESS_PID] == os.getpid()
    assert parent[SERVICE_INSTANCE_ID]
    child = _in_child(lambda: {"attributes": dict(resource.attributes)})
    attributes = child["attributes"]
    assert attributes[PROCESS_PID] == child["child_pid"]
    assert attributes[PROCESS_PARENT_PID] == os.getpid()
    assert attributes[SERVICE_INSTANCE_ID] != parent[SERVICE_INSTANCE_ID]
    assert {k: v for k, v in attributes.items() if k not in _PROCESS_KEYS} == {
        k: v for k, v in parent.items() if k not in _PROCESS_KEYS
    }
    assert json.loads(json.dumps(dict(resource.attributes))) == parent  # the parent still reads its own


def test_a_given_instance_id_is_kept_here_and_replaced_in_a_child() -> None:
    resource = ProcessResource({"service.name": "s", SERVICE_INSTANCE_ID: "given", PROCESS_PID: 1})
    assert dict(resource.attributes) == {"service.name": "s", SERVICE_INSTANCE_ID: "given", PROCESS_PID: os.getpid()}
    child = _in_child(lambda: {"attributes": dict(resource.attributes)})
    assert child["attributes"][PROCESS_PID] == child["child_pid"]
    assert child["attributes"][SERVICE_INSTANCE_ID] not in ("given", None)


def test_merge_and_providers_keep_following_forks() -> None:
    resource = ProcessResource({"service.name": "s", PROCESS_PID: 1}).merge(Resource({"extra": "x"}))
    assert isinstance(resource, ProcessResource)
    provider = TracerProvider(resource=resource)
    tracer = provider.get_tracer("t")
    # SDKs that merge a fresh resource into their providers at fork keep a ProcessResource; older ones
    # keep this very object: either way the spans of the child carry the child's pid.
    child = _in_child(
        lambda: {
            "provider": dict(provider.resource.attributes),
            "span": dict(tracer.start_span("s").resource.attributes),  # type: ignore[attr-defined]
            "pid": os.getpid(),
        }
    )
    assert child["provider"][PROCESS_PID] == child["pid"] == child["child_pid"]
    assert child["span"] == child["provider"]
    assert child["span"]["extra"] == "x"
    provider.shutdown()
