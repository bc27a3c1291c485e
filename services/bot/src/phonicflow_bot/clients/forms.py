"""Request bodies for aiohttp the way both of the bot's HTTP clients send them.

Usage::

    body = form_body({"chat_id": "42"}, {"voice": ("voice.ogg", ogg_bytes, "audio/ogg")})
    await session.post(url, data=body)

Plain fields alone go form-urlencoded; with files, fields and files go as multipart parts (what
Telegram's Bot API and the backend's ``POST /process`` both accept, and what httpx sent before).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import aiohttp

#: A file part: (filename, content, content type), as python-telegram-bot gives them.
FilePart = tuple[str, bytes | IO[bytes], str]


def form_body(fields: Mapping[str, str] | None, files: Mapping[str, FilePart] | None = None) -> Any:
    """``data=`` for aiohttp: None, the fields as a dict, or a multipart form (built anew each
    call: an aiohttp form can be sent once, so every retry needs its own)."""
    if not files:
        return dict(fields) if fields else None
    form = aiohttp.FormData()
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    for name, (filename, content, content_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form
