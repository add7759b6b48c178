"""The profiling pages and JSON routes, added to the dashboard through its extension point.

``register()`` adds them to every dashboard built afterwards (``infertel.dashboard.router()`` /
``create_app()``); their routes come from ``dashboard.api_router()``, so the dashboard's token
check and security headers apply. Profiles are started only where the dashboard runs inside the
serving process (``live``); a standalone dashboard shows the stored ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from infertel.profiling import _control, _flame, _results

_KINDS = ("cpu", "heap")


def _folder(d: Any) -> Any:
    return _results.profiles_dir(d.store_path)


def _render_list(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
    return d.render(
        "profiles.html", folder=str(_folder(d)), keep=_results.MAX_PROFILES, live=d.live,
        max_seconds=int(_control.MAX_SECONDS), running=[j.status() for j in _control.running()],
        profiles=_results.summaries(_folder(d)),
    )  # fmt: skip


def _render_one(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
    from markupsafe import Markup

    profile_id = params.get("profile_id", "")
    doc = _results.load(_folder(d), profile_id)
    values: dict[str, Any] = {"profile": doc, "profile_id": profile_id}
    if doc is not None and doc.get("kind") == "cpu":
        values.update(svg=Markup(_flame.flame_graph_svg(doc)), functions=_flame.top_functions(doc))
    elif doc is not None:
        values.update(sites=_flame.allocation_sites(doc))
    return d.render("profile.html", **values)


def _build(d: Any) -> Any:
    from fastapi import Request
    from fastapi.responses import JSONResponse, RedirectResponse, Response

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


def register() -> None:
    """Add the ``/profiles`` pages and the ``api/profiles`` routes to every dashboard built from now on.

    Example:
        >>> import infertel.profiling
        >>> infertel.profiling.register_dashboard()  # doctest: +SKIP
    """
    from infertel.dashboard import Api, Page, register_api, register_page

    register_page(Page("/profiles", "Profiles", _render_list, order=90, templates=("infertel.profiling",)))
    register_page(Page("/profiles/{profile_id}", "Profile", _render_one, nav=False, templates=("infertel.profiling",)))
    register_api(Api("profiling", _build))
