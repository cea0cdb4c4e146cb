"""Talking to Telegram reliably: one retry policy for every Bot API call, safe downloads."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram lets bots download files up to 20 MB (getFile).
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def transient(exc: BaseException) -> bool:
    """Network trouble worth retrying; BadRequest and Forbidden are NetworkError subclasses in
    PTB but retrying them cannot help."""
    return isinstance(exc, NetworkError) and not isinstance(
        exc, BadRequest | Forbidden | InvalidToken
    )


@dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy for a Bot API call (and a file download): at most `attempts` tries
    in all, whatever failed; after a network error wait `backoff` seconds, doubling; after a
    flood limit (RetryAfter) wait what Telegram asks, unless that is over `max_flood_wait`.

    It covers seconds. A longer outage is the outbox's business: a lookup's reply is retried
    by its job with a backoff of minutes (bot/lookup_jobs.py), and nothing retries inside
    another retry.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_flood_wait: float = 60.0

    def delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None to give up."""
        if attempt >= self.attempts:
            return None
        if isinstance(exc, RetryAfter):
            seconds = flood_wait(exc)
            return seconds if seconds <= self.max_flood_wait else None
        if transient(exc):
            return self.backoff * 2 ** (attempt - 1)
        return None

    async def run(self, op: Callable[[], Awaitable[T]], what: str) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await op()
            except Exception as exc:
                wait = self.delay(attempt, exc)
                if wait is None:
                    raise
                logger.warning("%s failed (%s); retry %d in %.1fs", what, exc, attempt, wait)
                await asyncio.sleep(wait)


DEFAULT_POLICY = RetryPolicy()


def flood_wait(exc: RetryAfter) -> float:
    """Seconds Telegram asks us to wait, and a little more."""
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled here
        warnings.simplefilter("ignore", DeprecationWarning)
        value: float | timedelta = exc.retry_after
    return (value.total_seconds() if isinstance(value, timedelta) else float(value)) + 0.1


class RetryingRateLimiter(AIORateLimiter):
    """PTB's limiter for Telegram's message rates, with `RetryPolicy` as its only retry loop.

    A reply that fails on a network error is sent again, so it is not lost; on a timeout
    Telegram may already have it, and a rare duplicate is the lesser harm.
    """

    def __init__(self, policy: RetryPolicy = DEFAULT_POLICY, **kwargs: Any) -> None:
        kwargs["max_retries"] = 0  # the policy retries, not the parent
        super().__init__(**kwargs)
        self.policy = policy
        # with no retries of its own the parent logs every flood limit as an error with a
        # traceback ("after maximum of 0 retries"); the policy logs what it does instead
        logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if endpoint == "sendChatAction":
            # "typing..." is not a message and must not use the 30-per-second message budget
            # of the lookups it decorates; if it fails, nothing is lost
            return await callback(*args, **kwargs)
        if endpoint == "getUpdates":
            # the polling loop backs off by itself and must not hold updates back
            return await callback(*args, **kwargs)

        async def once() -> Any:
            try:
                return await super(RetryingRateLimiter, self).process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except RetryAfter as exc:
                # hold every other request back while Telegram asks us to wait, as the parent
                # class does when it retries by itself
                self._retry_after_event.clear()
                asyncio.get_running_loop().call_later(flood_wait(exc), self._retry_after_event.set)
                raise

        return await self.policy.run(once, endpoint)


class FileTooBig(Exception):
    """Over what a bot may download from Telegram (20 MB), or over FACEFIND_MAX_IMAGE_BYTES."""

    def __init__(self, size: int | None, limit: int) -> None:
        shown = f"{size} bytes" if size is not None else "more bytes"
        super().__init__(f"{shown} than the {limit} byte limit")
        self.size = size
        self.limit = limit

    @property
    def code(self) -> str:
        """The lookup's error code: Telegram's limit has a reply of its own ("send it as a
        photo"); ours is the limit every image has, with the reply a decoded one gets."""
        return "file_too_big" if self.limit >= TELEGRAM_DOWNLOAD_LIMIT else "too_large"


def oversize(size: int | None, max_bytes: int) -> FileTooBig | None:
    """The refusal of a file whose announced size is over the limit, before anything is
    downloaded; None when it may be tried."""
    limit = min(max_bytes, TELEGRAM_DOWNLOAD_LIMIT)
    return FileTooBig(size, limit) if size is not None and size > limit else None


DOWNLOAD_CHUNK = 64 * 1024
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)


async def download(
    bot: Bot,
    file_id: str,
    size_hint: int | None,
    max_bytes: int,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> bytes:
    """The bytes of a Telegram file, at most `max_bytes` (FACEFIND_MAX_IMAGE_BYTES) of them;
    FileTooBig when it is larger, or when Telegram will not give it to a bot.

    The size is checked before anything is read (the message's file_size, getFile's, the
    Content-Length) and while the file streams in: the download stops as soon as it passes the
    limit, so a file that does not say its size never sits in memory whole.

    getFile goes through the rate limiter (and so the policy); the download itself does not,
    so the policy is applied to it here, once.
    """
    limit = min(max_bytes, TELEGRAM_DOWNLOAD_LIMIT)
    if refused := oversize(size_hint, limit):
        raise refused
    try:
        tg_file = await bot.get_file(file_id)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise FileTooBig(size_hint, TELEGRAM_DOWNLOAD_LIMIT) from exc
        raise
    if refused := oversize(tg_file.file_size, limit):
        raise refused
    location = tg_file.file_path
    if location is None:
        raise BadRequest("Telegram gave no file path to download")
    if not location.startswith(("http://", "https://")):
        # a Bot API server in --local mode hands out paths on this machine
        return await asyncio.to_thread(_read_local, Path(location), limit)
    return await policy.run(lambda: _fetch(location, limit), "file download")


async def _fetch(url: str, limit: int) -> bytes:
    """GET a file, reading at most `limit` bytes. Errors name no URL: it holds the token."""
    try:
        async with (
            aiohttp.ClientSession(timeout=DOWNLOAD_TIMEOUT) as http,
            http.get(url) as response,
        ):
            if response.status != 200:
                if response.status == 429 or response.status >= 500:
                    raise NetworkError(f"file download failed: HTTP {response.status}")
                raise BadRequest(f"file download failed: HTTP {response.status}")
            if refused := oversize(response.content_length, limit):
                raise refused
            data = bytearray()
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                data += chunk
                if len(data) > limit:
                    # leaving the block closes the connection: the rest is never read
                    raise FileTooBig(None, limit)
            return bytes(data)
    except aiohttp.ClientError as exc:
        raise NetworkError(f"file download failed: {type(exc).__name__}") from None
    except TimeoutError:
        raise TimedOut("file download timed out") from None


def _read_local(path: Path, limit: int) -> bytes:
    if refused := oversize(path.stat().st_size, limit):
        raise refused
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooBig(None, limit)
    return data
