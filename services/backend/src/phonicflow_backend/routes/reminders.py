"""What the reminder sender needs: claim the reminders due now, report how each send went.

Any number of senders may call these at once: each reminder is handed to one of them
(docs/backend-api.md "Reminders", db/learners.py).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from phonicflow_backend.errors import ApiError, error_responses
from phonicflow_backend.state import StateDep, require_bot_key
from phonicflow_common.contract import (
    ReminderClaimRequest,
    ReminderClaimResponse,
    ReminderOutcomeRequest,
    ReminderOutcomeResponse,
)

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(require_bot_key)], tags=["reminders"])


@router.post(
    "/reminders/claim",
    response_model=ReminderClaimResponse,
    responses=error_responses(401, 422, 503),
    summary="Claim the reminders and weekly summaries due now (each goes to one caller only)",
)
async def claim(state: StateDep, body: ReminderClaimRequest | None = None) -> ReminderClaimResponse:
    body = body or ReminderClaimRequest()
    reminders = await state.store.reminders.claim(now=body.now, limit=body.limit)
    if reminders:
        log.info("reminders claimed", extra={"count": len(reminders)})
    return ReminderClaimResponse(reminders=reminders)


@router.post(
    "/reminders/{claim_id}/outcome",
    response_model=ReminderOutcomeResponse,
    responses=error_responses(401, 404, 422, 503),
    summary="Report a claimed reminder: sent, failed (offered again later) or blocked (403)",
)
async def outcome(
    state: StateDep,
    claim_id: Annotated[str, Path(max_length=64)],
    body: ReminderOutcomeRequest,
) -> ReminderOutcomeResponse:
    status = await state.store.reminders.report(claim_id, body.outcome, now=body.now)
    if status is None:
        raise ApiError(
            404,
            "unknown_claim",
            "no such claim: its lease ran out and the reminder was offered again",
        )
    return ReminderOutcomeResponse(claim_id=claim_id, status=status)
