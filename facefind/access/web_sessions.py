"""Signing in to the admin console: one-time links, Telegram Mini App initData, sessions, CSRF.

Every sign-in, refused sign-in and sign-out is audited. Only hashes of the link and session
tokens reach the database. Whoever holds a session is an admin only as long as the users table
says so: the role and status are read again on every request.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facefind.access.actors import Requester
from facefind.access.init_data import (
    InitDataError,
    check_init_data,
    csrf_token,
    token_hash,
)
from facefind.access.rules import NotAllowed
from gallery import Gallery, User
from gallery.database import Connection

logger = logging.getLogger(__name__)

LOGIN_LINK_TTL = timedelta(minutes=5)
SESSION_IDLE = timedelta(hours=12)
# a session's last request is written at most this often (not on every thumbnail)
TOUCH_EVERY = timedelta(minutes=1)
# Refused sign-ins audited per address and window: a flood of bad links from one address must
# not flood the audit log. Sign-ins themselves are never throttled (a token of 256 random bits
# cannot be guessed, and a throttle behind a reverse proxy would lock every admin out).
REFUSALS_AUDITED = 20
REFUSAL_WINDOW = timedelta(minutes=10)

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SignInRefused(Exception):
    """A sign-in that is not allowed. `status`: 401 (not authentic: unknown, used or expired
    link, forged or stale initData), 403 (authentic, but not an admin)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class NotAnAdmin(NotAllowed):
    """A sign-in link was asked for a user who is not an approved admin."""

    code = "not_admin"


class ConsoleOff(Exception):
    """FACEFIND_WEB_LISTEN=off: this deployment serves no console, so there is nothing to sign
    in to."""


class SessionRefused(Exception):
    """A request's session does not give the console. `status` 401: no session (none, unknown,
    ended, idle); 403: its admin lost the role or was revoked (the session is ended now)."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Session:
    """A signed-in admin. `token` is the cookie's value (never stored: only its hash)."""

    token: str = field(repr=False)
    user: User
    method: str  # 'link' | 'webapp'
    csrf: str = field(repr=False)  # the token forms and fetch() requests must send back

    @property
    def requester(self) -> Requester:
        """Who acts in the service: the admin as their record stands on this request."""
        return Requester.of(self.user)


@dataclass(frozen=True)
class LinkState:
    """What a sign-in link's page may say before it is used: 'valid', 'unknown', 'used' or
    'expired'."""

    state: str


def csrf_ok(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf.encode(), given.encode())


@dataclass
class _Refusals:
    """Refused sign-ins per remote address in the current window (in memory: a restart only
    audits another 20)."""

    counts: dict[str, tuple[datetime, int]] = field(default_factory=dict)

    def add(self, remote: str, now: datetime) -> tuple[int, datetime]:
        """Count one; (refusals in this address's window, when the window ends)."""
        start, count = self.counts.get(remote, (now, 0))
        if now - start > REFUSAL_WINDOW:
            start, count = now, 0
        self.counts[remote] = (start, count + 1)
        if len(self.counts) > 10_000:  # forget the ended windows rather than grow forever
            for key, (began, _) in list(self.counts.items()):
                if now - began > REFUSAL_WINDOW:
                    del self.counts[key]
        return count + 1, start + REFUSAL_WINDOW


class WebSessions:
    """The service side of the console's sign-in. `clock` gives the time every expiry is
    measured by (tests move it instead of sleeping)."""

    def __init__(
        self,
        gallery: Gallery,
        *,
        base_url: str | None,
        bot_token: str | None,
        clock: Clock = utc_now,
    ) -> None:
        self.gallery = gallery
        self.store = gallery.console_sessions
        # None: FACEFIND_WEB_LISTEN=off (no https:// address either, so no Mini App)
        self.enabled = base_url is not None
        self.base_url = (base_url or "").rstrip("/")
        self._bot_token = bot_token
        self.clock = clock
        self._refusals = _Refusals()

    @property
    def webapp_enabled(self) -> bool:
        """Telegram opens Mini Apps over HTTPS only, and initData needs the bot's token."""
        return self._bot_token is not None and self.base_url.startswith("https://")

    @property
    def webapp_url(self) -> str | None:
        """The Mini App's page, for the bot's menu button and /console; None without one."""
        return f"{self.base_url}/app" if self.webapp_enabled else None

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    # --- one-time links -------------------------------------------------------------------
    async def issue_login_link(self, admin_id: int, requester: Requester) -> str:
        """A link that signs `admin_id` in once within 5 minutes (the bot's /console: the admin
        asks for their own); NotAnAdmin, audited, for anyone who is not an approved admin now;
        ConsoleOff, for an admin, when this deployment serves no console."""
        actor = requester.actor
        token = secrets.token_urlsafe(32)
        now = self.clock()
        async with self.gallery.db.transaction() as con:
            user = await self.gallery.users.get(admin_id, con=con)
            allowed = user is not None and user.is_admin
            if allowed and self.enabled:
                expires = now + LOGIN_LINK_TTL
                await self.store.add_login_token(
                    token_hash(token), admin_id, actor, now, expires, con=con
                )
                await self.gallery.db.audit(
                    actor,
                    "console.link.issue",
                    f"user:{admin_id}",
                    {"expires_at": expires.isoformat()},
                    con=con,
                )
            else:
                await self.gallery.db.audit(
                    actor,
                    "console.link.refused",
                    f"user:{admin_id}",
                    {"reason": "not_admin"},
                    con=con,
                )
        if not allowed:
            raise NotAnAdmin(admin_id)
        if not self.enabled:
            raise ConsoleOff
        return f"{self.base_url}/login/{token}"

    async def link_state(self, token: str) -> LinkState:
        """Whether a link can still sign in, without using it (its page's GET: link previews
        and scanners fetch links, and must not use them up)."""
        if not _TOKEN.fullmatch(token):
            return LinkState("unknown")
        found = await self.store.login_token(token_hash(token))
        if found is None:
            return LinkState("unknown")
        if found.used_at is not None:
            return LinkState("used")
        if found.expires_at <= self.clock():
            return LinkState("expired")
        return LinkState("valid")

    async def sign_in_with_link(self, token: str, *, remote: str | None = None) -> Session:
        """Use a link: a session for its admin, or SignInRefused (audited) when the link is
        unknown, used, expired (401) or its user is no longer an admin (403)."""
        now = self.clock()
        hashed = token_hash(token) if _TOKEN.fullmatch(token) else None
        async with self.gallery.db.transaction() as con:
            user_id = await self.store.use_login_token(hashed, now, con=con) if hashed else None
            if user_id is None:
                found = await self.store.login_token(hashed, con=con) if hashed else None
                reason = (
                    "unknown"
                    if found is None
                    else "used"
                    if found.used_at is not None
                    else "expired"
                )
                owner = found.user_id if found else None
                await self._refused(con, "link", reason, owner, remote)
                refused = SignInRefused(reason, 401)
            else:
                user = await self.gallery.users.get(user_id, con=con)
                if user is not None and user.is_admin:
                    return await self._open(con, user, "link", now, remote)
                await self._refused(con, "link", "not_admin", user_id, remote)
                refused = SignInRefused("not_admin", 403)
        raise refused

    # --- the Mini App ---------------------------------------------------------------------
    async def sign_in_with_init_data(self, init_data: str, *, remote: str | None = None) -> Session:
        """Sign in with Telegram's initData: a session for an approved admin; SignInRefused
        (audited) with 401 for initData that is forged, stale or malformed, 403 for a real
        Telegram user who is not an admin."""
        now = self.clock()
        if self._bot_token is None:
            raise SignInRefused("webapp_disabled", 401)
        try:
            tg_user = check_init_data(init_data, self._bot_token, now)
        except InitDataError as exc:
            async with self.gallery.db.transaction() as con:
                await self._refused(con, "webapp", exc.reason, None, remote)
            raise SignInRefused(exc.reason, 401) from None
        async with self.gallery.db.transaction() as con:
            user = await self.gallery.users.get(tg_user.id, con=con)
            if user is not None and user.is_admin:
                return await self._open(con, user, "webapp", now, remote)
            await self._refused(con, "webapp", "not_admin", tg_user.id, remote)
        raise SignInRefused("not_admin", 403)

    # --- sessions -------------------------------------------------------------------------
    async def session(self, token: str | None) -> Session:
        """The session of a request's cookie, its admin's role read again now; SessionRefused
        otherwise. An idle session, or one whose admin was revoked or demoted, is ended here
        (and audited)."""
        if not token or not _TOKEN.fullmatch(token):
            raise SessionRefused("none", 401)
        hashed = token_hash(token)
        stored = await self.store.session(hashed)
        if stored is None:
            raise SessionRefused("unknown", 401)
        if stored.ended_at is not None:
            raise SessionRefused("ended", 401)
        now = self.clock()
        if now - stored.last_seen_at > SESSION_IDLE:
            await self._end(hashed, now, "idle", stored.user.id)
            raise SessionRefused("idle", 401)
        if not stored.user.is_admin:
            await self._end(hashed, now, "access_withdrawn", stored.user.id)
            raise SessionRefused("access_withdrawn", 403)
        if now - stored.last_seen_at >= TOUCH_EVERY:
            await self.store.touch_session(hashed, now)
        return Session(token=token, user=stored.user, method=stored.method, csrf=csrf_token(token))

    async def sign_out(self, session: Session, *, remote: str | None = None) -> None:
        now = self.clock()
        async with self.gallery.db.transaction() as con:
            ended = await self.store.end_session(
                token_hash(session.token), now, "sign_out", con=con
            )
            if ended is not None:
                await self.gallery.db.audit(
                    f"tg:{session.user.id}",
                    "console.sign_out",
                    f"user:{session.user.id}",
                    {"method": session.method, "remote": remote},
                    con=con,
                )

    async def refuse_csrf(self, session: Session, path: str, *, remote: str | None) -> None:
        """A state-changing request of a signed-in admin without the session's CSRF token: a
        page of another site trying to act in the admin's name, or a stale form."""
        logger.warning("console: request without its CSRF token refused (user %s)", session.user.id)
        await self.gallery.db.audit(
            f"tg:{session.user.id}",
            "console.csrf.refused",
            f"user:{session.user.id}",
            {"path": path, "remote": remote},
        )

    async def purge(self, older_than: timedelta = timedelta(days=30)) -> tuple[int, int]:
        """Forget links and sessions that ended more than `older_than` ago (the audit log keeps
        every sign-in)."""
        return await self.store.purge(self.clock() - older_than)

    # --- inside ---------------------------------------------------------------------------
    async def _open(
        self, con: Connection, user: User, method: str, now: datetime, remote: str | None
    ) -> Session:
        token = secrets.token_urlsafe(32)
        await self.store.add_session(token_hash(token), user.id, method, now, con=con)
        await self.gallery.db.audit(
            f"tg:{user.id}",
            "console.sign_in",
            f"user:{user.id}",
            {"method": method, "remote": remote},
            con=con,
        )
        logger.info("console: user %s signed in (%s)", user.id, method)
        return Session(token=token, user=user, method=method, csrf=csrf_token(token))

    async def _refused(
        self, con: Connection, method: str, reason: str, user_id: int | None, remote: str | None
    ) -> None:
        """Audit a refused sign-in, up to REFUSALS_AUDITED per address and window; the last
        one audited says until when the address's refusals go unaudited."""
        count, window_end = self._refusals.add(remote or "unknown", self.clock())
        if count > REFUSALS_AUDITED + 1:
            logger.debug("console: sign-in refused (%s, %s), not audited", method, reason)
            return
        details: dict[str, object] = {"method": method, "reason": reason, "remote": remote}
        if count == REFUSALS_AUDITED + 1:
            details["unaudited_until"] = window_end.isoformat()
            logger.warning(
                "console: %d sign-ins refused from %s; further refusals are not audited until %s",
                count,
                remote,
                window_end.isoformat(),
            )
        await self.gallery.db.audit(
            f"tg:{user_id}" if user_id is not None else "console",
            "console.sign_in.refused",
            f"user:{user_id}" if user_id is not None else None,
            details,
            con=con,
        )
        logger.info("console: sign-in refused (%s, %s)", method, reason)

    async def _end(self, hashed: bytes, now: datetime, reason: str, user_id: int) -> None:
        async with self.gallery.db.transaction() as con:
            ended = await self.store.end_session(hashed, now, reason, con=con)
            if ended is not None:
                await self.gallery.db.audit(
                    "console",
                    "console.session.end",
                    f"user:{user_id}",
                    {"reason": reason, "method": ended[1]},
                    con=con,
                )
