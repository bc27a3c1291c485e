"""Health, readiness and Prometheus metrics (no bot key: probes and scrapers call them)."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from phonicflow_backend.db.store import is_unavailable
from phonicflow_backend.errors import error_body
from phonicflow_backend.state import StateDep
from phonicflow_common.contract import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Not ready"}},
)
async def readyz(state: StateDep) -> Response:
    checks = {"engines": "ok" if state.pipeline else state.not_ready_reason()}
    try:
        await state.store.ping()
        checks["database"] = "ok" if state.database_ready else "migrating"
    except Exception as exc:  # any failure to reach it means "not ready", with the reason
        kind = "unreachable" if is_unavailable(exc) else "error"
        checks["database"] = f"{kind}: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ok" if ready else "not_ready", "checks": checks}
    if not ready:
        failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
        body.update(error_body(f"not ready: {failing}", "not_ready"))
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(state: StateDep) -> Response:
    # the other metrics still matter while the database is away
    with contextlib.suppress(Exception):
        state.metrics.sessions.set(await state.store.count_sessions())
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
