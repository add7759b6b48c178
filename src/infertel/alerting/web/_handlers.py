"""The JSON routes of the alerts feature, built per dashboard from ``dashboard.api_router()``.

Reads are plain ``def`` handlers (FastAPI runs them on its thread pool). Writes are ``async`` to
read the body, then run the store or engine call on the thread pool; the dashboard's route class has
already refused a cross-site request (403) before they run.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from infertel.alerting.web import _models as m
from infertel.alerting.web._routes import MAX_SILENCE_S, back_to, form_matchers, read_body
from infertel.alerting.web._view import MAX_HISTORY
from infertel.dashboard._security import CSRF_FIELD, CSRF_HEADER


def _problem(error: ValidationError | ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(error)


def _body_schema(model: type[Any]) -> dict[str, Any]:
    schema = {"schema": model.model_json_schema()}
    form = {"schema": {**model.model_json_schema(), "description": f"or as a form, with {CSRF_FIELD}"}}
    return {"requestBody": {"content": {"application/json": schema, "application/x-www-form-urlencoded": form}}}


def build(feature: Any, d: Any) -> Any:
    """The ``alerts`` API router of dashboard ``d``."""
    api = d.api_router()
    csrf = feature.csrf(d)

    async def guarded(request: Request) -> tuple[dict[str, Any], bool, Response | None]:
        """The fields, whether a form sent them, and the refusal to send (None: go on)."""
        try:
            fields, form = await read_body(request)
        except ValueError as error:
            return {}, False, JSONResponse({"detail": str(error)}, status_code=422)
        return fields, form, None

    def answer(form: bool, fields: dict[str, Any], default_page: str, *, ok: Any = None, status: int = 200,
               done: str = "", error: str = "", error_status: int = 422) -> Response:  # fmt: skip
        if form:
            target = back_to(d, fields, default_page)
            return RedirectResponse(target(error=error) if error else target(done=done), status_code=303)
        if error:
            return JSONResponse({"detail": error}, status_code=error_status)
        return JSONResponse(ok.model_dump(), status_code=status)

    @api.get("/alerts", response_model=m.AlertsOut)
    def list_alerts() -> dict[str, Any]:
        """Pending, firing and recently resolved alerts, with their silences and acknowledgements."""
        snap = feature.source(d).snapshot(0)
        return {"source": snap.source, "alerts": snap.alerts}

    @api.get("/alerts/history", response_model=m.HistoryOut)
    def alert_history(limit: int = Query(100, ge=1, le=MAX_HISTORY)) -> dict[str, Any]:
        """The alerts' history (state changes, notifications, acknowledgements, remediation), newest first."""
        snap = feature.source(d).snapshot(limit)
        return {"source": snap.source, "history": snap.history}

    @api.post(
        "/alerts/{fingerprint}/ack",
        response_model=m.AckDone,
        openapi_extra=_body_schema(m.AckIn),
        responses={403: {"description": "CSRF or origin check failed"}, 404: {"description": "not firing"}},
    )
    async def acknowledge(fingerprint: str, request: Request) -> Response:
        """Acknowledge a firing alert: no repeated notification and no escalation until it resolves."""
        fields, form, refused = await guarded(request)
        if refused is not None:
            return refused
        try:
            body = m.AckIn.model_validate({k: fields[k] for k in ("by", "comment") if k in fields})
        except ValidationError as error:
            return answer(form, fields, "/alerts", error=_problem(error))
        source = feature.source(d)
        try:
            done = await run_in_threadpool(source.acknowledge, fingerprint, by=body.by or "dashboard",
                                           comment=body.comment)  # fmt: skip
        except LookupError as error:
            return answer(form, fields, "/alerts", error=str(error), error_status=409)
        if not done:
            return answer(form, fields, "/alerts", error=f"no firing alert {fingerprint}", error_status=404)
        return answer(form, fields, "/alerts", ok=m.AckDone(fingerprint=fingerprint, acknowledged=True),
                      done=f"acknowledged {fingerprint}")  # fmt: skip

    @api.get("/silences", response_model=m.SilencesOut)
    def list_silences() -> dict[str, Any]:
        """Silences in effect or pending (and the expired ones the store still holds)."""
        snap = feature.source(d).snapshot(0)
        return {"source": snap.source, "silences": snap.silences}

    @api.post(
        "/silences",
        status_code=201,
        response_model=m.SilenceCreated,
        openapi_extra=_body_schema(m.SilenceIn),
        responses={403: {"description": "CSRF or origin check failed"}, 422: {"description": "bad silence"}},
    )
    async def create_silence(request: Request) -> Response:
        """Create a silence starting now: matchers, a duration (at most 30 days) and a comment."""
        fields, form, refused = await guarded(request)
        if refused is not None:
            return refused
        data = {k: fields[k] for k in ("matchers", "duration", "comment", "created_by") if k in fields}
        if form and isinstance(data.get("matchers"), str):  # a textarea: one matcher per line
            data["matchers"] = form_matchers(data["matchers"])
        try:
            body = m.SilenceIn.model_validate(data)
            from infertel.alerting._loader import parse_duration

            seconds = parse_duration(body.duration, "duration")
            if not 0 < seconds <= MAX_SILENCE_S:
                raise ValueError(f"duration: must be more than 0 and at most 30d; got {body.duration!r}")
            source = feature.source(d)
            silence_id = await run_in_threadpool(
                source.add_silence,
                body.matchers,
                duration_s=seconds,
                created_by=body.created_by or "dashboard",
                comment=body.comment,
            )
        except (ValidationError, ValueError) as error:
            return answer(form, fields, "/silences", error=_problem(error))
        except LookupError as error:
            return answer(form, fields, "/silences", error=str(error), error_status=409)
        return answer(form, fields, "/silences", ok=m.SilenceCreated(id=silence_id), status=201,
                      done=f"created silence {silence_id}")  # fmt: skip

    async def expire(silence_id: str, request: Request) -> Response:
        fields, form, refused = await guarded(request)
        if refused is not None:
            return refused
        source = feature.source(d)
        try:
            done = await run_in_threadpool(source.expire_silence, silence_id)
        except LookupError as error:
            return answer(form, fields, "/silences", error=str(error), error_status=409)
        if not done:
            return answer(form, fields, "/silences", error=f"no active silence {silence_id}", error_status=404)
        return answer(form, fields, "/silences", ok=m.ExpireDone(id=silence_id, expired=True),
                      done=f"expired silence {silence_id}")  # fmt: skip

    refusals = {403: {"description": "CSRF or origin check failed"}, 404: {"description": "no active silence"}}
    api.add_api_route("/silences/{silence_id}", expire, methods=["DELETE"], response_model=m.ExpireDone,
                      responses=refusals, summary="Expire a silence now (CSRF token in X-CSRF-Token)")  # fmt: skip
    api.add_api_route("/silences/{silence_id}/expire", expire, methods=["POST"], response_model=m.ExpireDone,
                      responses=refusals, summary="Expire a silence now (for HTML forms)")  # fmt: skip

    @api.get("/csrf", response_model=m.CsrfOut)
    def csrf_token(request: Request) -> dict[str, Any]:
        """The CSRF token for this request's credential: send it as X-CSRF-Token when changing state."""
        return {"csrf_token": csrf.token(request), "header": CSRF_HEADER, "field": CSRF_FIELD}

    return api
