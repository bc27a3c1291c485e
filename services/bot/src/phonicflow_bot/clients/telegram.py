"""python-telegram-bot's networking on aiohttp instead of httpx.

Usage::

    from phonicflow_bot.clients.telegram import AiohttpRequest

    application = (
        Application.builder()
        .token(token)
        .request(AiohttpRequest(connection_pool_size=32, timeout=30.0))
        .get_updates_request(AiohttpRequest(connection_pool_size=1, timeout=30.0, read_timeout=40.0))
        .build()
    )

Why: every voice note costs the bot half a dozen Bot API calls (chat action, getFile, download,
sendMessage, two sendVoice uploads). Measured against the emulator on this machine, httpx spends
~1.0 ms of CPU per sendMessage and ~1.9 ms per sendVoice; aiohttp 0.2 and 0.4 ms, and answers
2-4x sooner (``bench/bot.py``, docs/benchmarks.md "Bot"). PTB supports this seam officially:
:class:`telegram.request.BaseRequest` is the interface, :class:`~telegram.request.HTTPXRequest`
the default implementation, and this class mirrors it:

- parameters go as form fields, files as multipart parts, exactly as HTTPXRequest sends them;
- timeouts: ``connect`` covers waiting for a pooled connection plus connecting, ``sock_read``
  the read timeout; aiohttp has no write timeout, so the total of the four bounds each request;
- timeouts raise :class:`telegram.error.TimedOut`, other transport failures
  :class:`telegram.error.NetworkError` naming the aiohttp exception (never the URL, which holds
  the bot token);
- proxies from ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` and CA bundles from ``SSL_CERT_FILE``
  are honoured, as with httpx. The proxy is looked up once per host rather than through
  aiohttp's ``trust_env``, which re-reads the environment and ~/.netrc in a thread on every
  request (14 % of the bot's CPU in a py-spy profile).
"""

from __future__ import annotations

import ssl

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

from phonicflow_bot.clients.forms import form_body

Proxy = tuple[URL | None, aiohttp.BasicAuth | None]

#: Seconds for uploads when the caller gives no write timeout (PTB's HTTPXRequest default).
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` over one pooled :class:`aiohttp.ClientSession`."""

    __slots__ = (
        "_connect_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int,
        timeout: float,
        read_timeout: float | None = None,
    ) -> None:
        """``timeout`` bounds connecting, waiting for the pool, writing and (unless
        ``read_timeout`` is given: long polling) reading."""
        self._pool_size = connection_pool_size
        self._connect_timeout = timeout
        self._pool_timeout = timeout
        self._write_timeout = timeout
        self._read_timeout = timeout if read_timeout is None else read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str | None, int | None], Proxy] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._pool_size, ssl=ssl.create_default_context()
                ),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _proxy(self, url: str) -> Proxy:
        """The environment's proxy for this URL's origin (and its credentials), if any."""
        parsed = URL(url)
        origin = (parsed.scheme, parsed.host, parsed.port)
        if origin not in self._proxies:
            try:
                self._proxies[origin] = get_env_proxy_for_url(parsed)
            except LookupError:  # none configured, or NO_PROXY covers the host
                self._proxies[origin] = (None, None)
        return self._proxies[origin]

    @staticmethod
    def _seconds(value: ODVInput[float], default: float) -> float | None:
        if isinstance(value, DefaultValue):
            return default
        return value

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else {}
        read = self._seconds(read_timeout, self._read_timeout)
        write = self._seconds(write_timeout, MEDIA_WRITE_TIMEOUT if files else self._write_timeout)
        connect = self._seconds(connect_timeout, self._connect_timeout)
        pool = self._seconds(pool_timeout, self._pool_timeout)
        bounds = [read, write, connect, pool]
        timeout = aiohttp.ClientTimeout(
            total=None if None in bounds else sum(b for b in bounds if b is not None),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        proxy, proxy_auth = self._proxy(url)
        try:
            async with self._session.request(
                method,
                url,
                data=form_body(request_data.json_parameters if request_data else None, files),
                timeout=timeout,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are asyncio.TimeoutError subclasses
            raise TimedOut from err
        except aiohttp.ClientError as err:
            # The class name helps when the message is empty; str(err) of aiohttp's connection
            # errors names host and port only, and the log filter redacts the token regardless.
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err
