"""Talking to Telegram reliably: one retry policy for every Bot API call, safe downloads."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
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
    """Over Telegram's bot download limit."""


async def download(
    bot: Bot, file_id: str, size_hint: int | None, policy: RetryPolicy = DEFAULT_POLICY
) -> bytes:
    """The bytes of a Telegram file; FileTooBig when Telegram will not give them to a bot.

    getFile goes through the rate limiter (and so the policy); the download itself does not,
    so the policy is applied to it here, once.
    """
    if size_hint is not None and size_hint > TELEGRAM_DOWNLOAD_LIMIT:
        raise FileTooBig(size_hint)
    try:
        tg_file = await bot.get_file(file_id)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise FileTooBig(size_hint) from exc
        raise
    if tg_file.file_size is not None and tg_file.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise FileTooBig(tg_file.file_size)
    return bytes(await policy.run(tg_file.download_as_bytearray, "file download"))
