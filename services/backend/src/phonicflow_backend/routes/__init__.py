"""The HTTP routes, one module per resource (docs/backend-api.md):

- :mod:`.turns` — ``POST /process``
- :mod:`.conversations` — ``GET /conversation/{id}``, ``GET /audio/{id}``, ``DELETE /conversation/{id}``
- :mod:`.learners` — ``GET /learner/{telegram_user_id}/session``, ``DELETE /learner/{telegram_user_id}``
- :mod:`.bot` — ``POST /bot/session``, ``GET /bot/status``, ``POST /bot/metrics``
- :mod:`.practice` — ``GET /practice/next``, ``GET /practice/{item_id}/audio``
- :mod:`.health` — ``/healthz``, ``/readyz``, ``/metrics`` (no bot key)
"""
