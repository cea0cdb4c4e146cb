"""Talking to Telegram reliably: retries for flood limits and network errors, safe downloads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Telegram lets bots download files up to 20 MB (getFile).
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def _transient(exc: BaseException) -> bool:
    """Network trouble worth retrying; BadRequest and Forbidden are NetworkError subclasses in
    PTB but retrying them cannot help."""
    return isinstance(exc, NetworkError) and not isinstance(
        exc, BadRequest | Forbidden | InvalidToken
    )


class RetryingRateLimiter(AIORateLimiter):
    """PTB's limiter (which retries RetryAfter) plus retries for transient network errors.

    A reply that fails on a network error is sent again, so it is not lost; on a timeout
    Telegram may already have it, and a rare duplicate is the lesser harm.
    """

    def __init__(self, *, network_retries: int = 4, backoff: float = 0.5, **kwargs: Any) -> None:
        kwargs.setdefault("max_retries", 5)
        super().__init__(**kwargs)
        self.network_retries = network_retries
        self.backoff = backoff

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
        attempt = 0
        while True:
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except RetryAfter:
                raise  # the parent already retried max_retries times
            except Exception as exc:
                if (
                    not _transient(exc)
                    or endpoint == "getUpdates"
                    or attempt >= self.network_retries
                ):
                    raise
                attempt += 1
                delay = self.backoff * 2 ** (attempt - 1)
                logger.warning("%s failed (%s); retry %d in %.1fs", endpoint, exc, attempt, delay)
                await asyncio.sleep(delay)


async def with_retries(
    op: Callable[[], Awaitable[T]], *, attempts: int = 4, backoff: float = 0.5
) -> T:
    """Retry an operation outside the rate limiter (file downloads) on transient errors."""
    for attempt in range(1, attempts + 1):
        try:
            return await op()
        except RetryAfter as exc:
            if attempt == attempts:
                raise
            retry_after = exc.retry_after
            seconds = (
                retry_after.total_seconds()
                if hasattr(retry_after, "total_seconds")
                else retry_after
            )
            await asyncio.sleep(float(seconds))
        except Exception as exc:
            if not _transient(exc) or attempt == attempts:
                raise
            await asyncio.sleep(backoff * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


class FileTooBig(Exception):
    """Over Telegram's bot download limit."""


async def download(bot: Bot, file_id: str, size_hint: int | None) -> bytes:
    """The bytes of a Telegram file; FileTooBig when Telegram will not give them to a bot."""
    if size_hint is not None and size_hint > TELEGRAM_DOWNLOAD_LIMIT:
        raise FileTooBig(size_hint)
    try:
        tg_file = await with_retries(lambda: bot.get_file(file_id))
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise FileTooBig(size_hint) from exc
        raise
    if tg_file.file_size is not None and tg_file.file_size > TELEGRAM_DOWNLOAD_LIMIT:
        raise FileTooBig(tg_file.file_size)
    return bytes(await with_retries(tg_file.download_as_bytearray))
