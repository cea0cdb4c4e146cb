"""The console's sign-in: one-time links and sessions, stored as hashes of their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery.database import Connection, Database
from gallery.queries import console_sessions as q
from gallery.records import User


@dataclass(frozen=True)
class LoginToken:
    user_id: int
    used_at: datetime | None
    expires_at: datetime


@dataclass(frozen=True)
class StoredSession:
    """A session with its user as stored now (role and status re-read on every request)."""

    user: User
    method: str  # 'link' | 'webapp'
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    end_reason: str | None


class ConsoleSessions:
    """Sign-in links and sessions. Methods take `con` to join the caller's transaction, so a
    sign-in and its audit row are written together."""

    def __init__(self, db: Database) -> None:
        self.db = db

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
        await self.db.on(con).execute(
            q.LOGIN_TOKEN_INSERT, token_hash, user_id, issued_by, created_at, expires_at
        )

    async def use_login_token(
        self, token_hash: bytes, now: datetime, *, con: Connection | None = None
    ) -> int | None:
        """Mark an unused, unexpired link used; its admin's id, or None when it is not such a
        link (then `login_token` tells why)."""
        value = await self.db.on(con).fetchval(q.LOGIN_TOKEN_USE, token_hash, now)
        return int(value) if value is not None else None

    async def login_token(
        self, token_hash: bytes, *, con: Connection | None = None
    ) -> LoginToken | None:
        row = await self.db.on(con).fetchrow(q.LOGIN_TOKEN_GET, token_hash)
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
        await self.db.on(con).execute(q.SESSION_INSERT, token_hash, user_id, method, now)

    async def session(self, token_hash: bytes) -> StoredSession | None:
        row = await self.db.pool.fetchrow(q.SESSION_GET, token_hash)
        if row is None:
            return None
        return StoredSession(
            user=_user(row),
            method=row["method"],
            created_at=row["session_created_at"],
            last_seen_at=row["last_seen_at"],
            ended_at=row["ended_at"],
            end_reason=row["end_reason"],
        )

    async def touch_session(self, token_hash: bytes, now: datetime) -> None:
        await self.db.pool.execute(q.SESSION_TOUCH, token_hash, now)

    async def end_session(
        self, token_hash: bytes, now: datetime, reason: str, *, con: Connection | None = None
    ) -> tuple[int, str] | None:
        """End an open session; (its user, its method), or None if it was not open."""
        row = await self.db.on(con).fetchrow(q.SESSION_END, token_hash, now, reason)
        return (int(row["user_id"]), str(row["method"])) if row else None

    async def purge(self, before: datetime) -> tuple[int, int]:
        """Delete links that expired and sessions that ended or went idle before `before`;
        (links, sessions) deleted."""
        async with self.db.transaction() as con:
            links = await con.execute(q.LOGIN_TOKENS_PURGE, before)
            sessions = await con.execute(q.SESSIONS_PURGE, before)
        return int(links.split()[-1]), int(sessions.split()[-1])


def _user(row: Any) -> User:
    return User(**{k: row[k] for k in User.__dataclass_fields__})
