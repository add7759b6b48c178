"""The profiling JSON routes (FastAPI is imported here only, when a dashboard is built)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from infertel.profiling import _control, _flame, _results

_KINDS = ("cpu", "heap")


def _folder(d: Any) -> Any:
    return _results.profiles_dir(d.store_path)


def build(d: Any) -> APIRouter:
    """The JSON routes under ``<prefix>/api/profiles`` of dashboard ``d`` (its token check and headers apply)."""
    api = d.api_router()

    @api.get("/profiles")
    def list_profiles() -> dict[str, Any]:
        """Stored profiles (newest first, without their stacks) and the running ones."""
        return {"profiles": _results.summaries(_folder(d)), "running": [j.status() for j in _control.running()]}

    @api.post("/profiles/{kind}", status_code=202)
    async def start(kind: str, request: Request) -> Response:
        """Start a CPU profile or heap snapshot (``seconds`` from the query or a form); 409 if one runs."""
        if kind not in _KINDS:
            return JSONResponse({"detail": f"kind must be one of {', '.join(_KINDS)}"}, status_code=404)
        if not d.live:
            detail = "profiles are started in the serving process: mount infertel.dashboard.router() there"
            return JSONResponse({"detail": detail}, status_code=409)
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        fields = parse_qs((await request.body()).decode("utf-8", "replace")) if form else {}
        raw = request.query_params.get("seconds") or (fields.get("seconds") or ["10"])[0]
        try:
            seconds = float(raw)
            starter = _control.start_cpu if kind == "cpu" else _control.start_heap
            job = starter(seconds, directory=_folder(d))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc) if "seconds" in str(exc) else f"seconds: {raw!r}"}, 422)
        except RuntimeError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        if form:  # a browser's form: back to the page, which lists the running profile
            return RedirectResponse(d.url("/profiles"), status_code=303)
        return JSONResponse(job.status(), status_code=202)

    @api.get("/profiles/{profile_id}")
    def get_profile(profile_id: str) -> Response:
        """One stored profile as JSON (404 when unknown)."""
        doc = _results.load(_folder(d), profile_id)
        if doc is None:
            return JSONResponse({"detail": f"no profile {profile_id!r}"}, status_code=404)
        return JSONResponse(doc)

    @api.get("/profiles/{profile_id}/flamegraph.svg")
    def flame_graph(profile_id: str) -> Response:
        """A CPU profile's flame graph as SVG (404 when unknown or a heap snapshot)."""
        doc = _results.load(_folder(d), profile_id)
        if doc is None or doc.get("kind") != "cpu":
            return JSONResponse({"detail": f"no CPU profile {profile_id!r}"}, status_code=404)
        return Response(_flame.flame_graph_svg(doc), media_type="image/svg+xml")

    return api
