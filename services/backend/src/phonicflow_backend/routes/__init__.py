"""The HTTP routes, one module per resource (docs/backend-api.md):

- :mod:`.turns` — ``POST /process``
- :mod:`.conversations` — ``GET /conversation/{id}``, ``GET /audio/{id}``, ``DELETE /conversation/{id}``
- :mod:`.learners` — ``GET /learner/{telegram_user_id}/session``, ``DELETE /learner/{telegram_user_id}``,
  ``GET|PATCH /learner/{telegram_user_id}/settings``, ``GET /learner/{telegram_user_id}/export``
- :mod:`.progress` — ``GET /learner/{telegram_user_id}/progress`` (JSON) and ``progress.png``
- :mod:`.reminders` — ``POST /reminders/claim``, ``POST /reminders/{claim_id}/outcome``
- :mod:`.bot` — ``POST /bot/session``, ``GET /bot/status``, ``POST /bot/metrics``
- :mod:`.practice` — ``GET /practice/next`` (adaptive with ``telegram_user_id``), ``GET /practice/{item_id}/audio``
- :mod:`.health` — ``/healthz``, ``/readyz``, ``/metrics`` (no bot key)
"""
