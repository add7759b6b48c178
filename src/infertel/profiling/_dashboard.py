"""The profiling pages and JSON routes, added to the dashboard through its extension point.

``register()`` adds them to every dashboard built afterwards (``infertel.dashboard.router()`` /
``create_app()``); their routes come from ``dashboard.api_router()``, so the dashboard's token
check, its CSRF check of the start route (the page's forms carry the token) and the security headers
apply. Profiles are started only where the dashboard runs inside the serving process (``live``); a
standalone dashboard shows the stored ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infertel.profiling import _control, _flame, _results


def _folder(d: Any) -> Any:
    return _results.profiles_dir(d.store_path)


def _render_list(d: Any, query: Mapping[str, str], params: Mapping[str, str]) -> str:
    from infertel.dashboard._security import CSRF_FIELD, REQUEST

    return d.render(
        "profiles.html", folder=str(_folder(d)), keep=_results.MAX_PROFILES, live=d.live,
        max_seconds=int(_control.MAX_SECONDS), running=[j.status() for j in _control.running()],
        profiles=_results.summaries(_folder(d)), csrf_field=CSRF_FIELD, csrf_token=d.gate.csrf.token(REQUEST.get()),
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
    from infertel.profiling._routes import build  # FastAPI is needed only once a dashboard is built

    return build(d)


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
