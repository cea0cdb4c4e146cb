"""The console's tables: one-time sign-in links and sessions, stored as hashes of their tokens."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gallery import console_queries as q
from gallery.base import Connection


class GalleryCore(Protocol):
    """What the console's repositories need of the gallery (gallery.base.GalleryBase has it):
    its pool, a transaction, and the sealed audit append that can join one."""

    pool: Any

    def transaction(self) -> AbstractAsyncContextManager[Connection]: ...

    async def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        con: Connection | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class ConsoleUser:
    """A user as the console sees them on each request: role and status as stored now."""

    id: int
    first_name: str
    last_name: str | None
    username: str | None
    language: str | None
    role: str
    status: str

    @property
    def is_admin(self) -> bool:
        return self.status == "approved" and self.role == "admin"

    @property
    def display(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p) or str(self.id)
        return f"{name} (@{self.username})" if self.username else name


@dataclass(frozen=True)
class LoginToken:
    user_id: int
    used_at: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class StoredSession:
    user: ConsoleUser
    method: str  # 'link' | 'webapp'
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class ConsoleStore:
    """Sign-in links and sessions. Composed with the gallery's core (pool, transactions, audit);
    methods take `con` to join the caller's transaction, so a sign-in and its audit row are
    written together."""

    def __init__(self, core: GalleryCore) -> None:
        self.core = core

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        return self.core.transaction()

    async def audit(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
        *,
        con: Connection | None = None,
    ) -> None:
        await self.core.audit(actor, action, target, details, con=con)

    def _c(self, con: Connection | None) -> Any:
        return con if con is not None else self.core.pool

    async def user(self, user_id: int, *, con: Connection | None = None) -> ConsoleUser | None:
        row = await self._c(con).fetchrow(q.CONSOLE_USER, user_id)
        return _user(row) if row else None

    # --- sign-in links --------------------------------------------------------------------
    async def add_login_token(
        self,
        token_hash: bytes,
        user_id: int,
        issued_by: str,
        created_at: datetime,
        expires_at: datetime,
        *,
        con: Connection | None = None,
    ) -> None:
        await self._c(con).execute(
            q.LOGIN_TOKEN_INSERT, token_hash, user_id, issued_by, created_at, expires_at
        )

    async def use_login_token(
        self, token_hash: bytes, now: datetime, *, con: Connection | None = None
    ) -> int | None:
        """Mark an unused, unexpired link used; its admin's id, or None when it is not such a
        link (then `login_token` tells why)."""
        value = await self._c(con).fetchval(q.LOGIN_TOKEN_USE, token_hash, now)
        return int(value) if value is not None else None

    async def login_token(
        self, token_hash: bytes, *, con: Connection | None = None
    ) -> LoginToken | None:
        row = await self._c(con).fetchrow(q.LOGIN_TOKEN_GET, token_hash)
        if row is None:
            return None
        return LoginToken(row["user_id"], row["used_at"], row["expires_at"])

    # --- sessions -------------------------------------------------------------------------
    async def add_session(
        self,
        token_hash: bytes,
        user_id: int,
        method: str,
        now: datetime,
        *,
        con: Connection | None = None,
    ) -> None:
        await self._c(con).execute(q.SESSION_INSERT, token_hash, user_id, method, now)

    async def session(
        self, token_hash: bytes, *, con: Connection | None = None
    ) -> StoredSession | None:
        row = await self._c(con).fetchrow(q.SESSION_GET, token_hash)
        if row is None:
            return None
        return StoredSession(
            user=_user(row),
            method=row["method"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            ended_at=row["ended_at"],
            end_reason=row["end_reason"],
        )

    async def touch_session(self, token_hash: bytes, now: datetime) -> None:
        await self.core.pool.execute(q.SESSION_TOUCH, token_hash, now)

    async def end_session(
        self, token_hash: bytes, now: datetime, reason: str, *, con: Connection | None = None
    ) -> tuple[int, str] | None:
        """End an open session; (its user, its method), or None if it was not open."""
        row = await self._c(con).fetchrow(q.SESSION_END, token_hash, now, reason)
        return (int(row["user_id"]), str(row["method"])) if row else None

    async def purge(self, before: datetime) -> tuple[int, int]:
        """Delete links that expired and sessions that ended or went idle before `before`;
        (links, sessions) deleted."""
        async with self.transaction() as con:
            links = await con.execute(q.LOGIN_TOKENS_PURGE, before)
            sessions = await con.execute(q.SESSIONS_PURGE, before)
        return int(links.split()[-1]), int(sessions.split()[-1])


def _user(row: Any) -> ConsoleUser:
    return ConsoleUser(
        id=row["user_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        username=row["username"],
        language=row["language"],
        role=row["role"],
        status=row["status"],
    )
