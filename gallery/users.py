"""Bot users: who asked for access, their status and role, and every decision on them."""

from __future__ import annotations

from typing import Any

from gallery.database import Connection, Database
from gallery.queries import users as q
from gallery.records import User, UserActivity

USER_STATUSES = ("pending", "approved", "rejected", "revoked")
ROLES = ("officer", "admin")


class Users:
    """Bot users: who wrote to the bot, their status and role, every decision on them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def seen(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language: str | None,
    ) -> tuple[User, bool]:
        """Record that a Telegram user wrote to us; returns the user and whether it is new."""
        known = await self.get(user_id)
        if known is not None and (
            known.first_name,
            known.last_name,
            known.username,
            known.language,
        ) == (first_name or "", last_name, username, language):
            return known, False  # nothing changed: no write on every message
        async with self.db.transaction() as con:
            row = await con.fetchrow(
                q.USER_SEEN, user_id, first_name or "", last_name, username, language
            )
            assert row is not None
            inserted = bool(row["inserted"])
            if inserted:
                await self.db.audit(
                    f"tg:{user_id}",
                    "user.request_access",
                    f"user:{user_id}",
                    {"username": username},
                    con=con,
                )
        return _user(row), inserted

    async def get(self, user_id: int, *, con: Connection | None = None) -> User | None:
        row = await self.db.on(con).fetchrow(q.USER_GET, user_id)
        return _user(row) if row else None

    async def all(self, status: str | None = None) -> list[User]:
        return [_user(r) for r in await self.db.pool.fetch(q.USER_LIST, status)]

    async def activity(self, status: str | None = None) -> list[UserActivity]:
        """The users (of one status) with their lookup counts and last activity."""
        rows = await self.db.pool.fetch(q.USERS_ACTIVITY, status)
        return [UserActivity(_user(r), int(r["lookups"]), r["last_active"]) for r in rows]

    async def admins(self) -> list[User]:
        return [_user(r) for r in await self.db.pool.fetch(q.USER_ADMINS)]

    async def set_status(
        self, user_id: int, status: str, actor: str, *, create: bool = False
    ) -> User | None:
        if status not in USER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return await self._decide(user_id, q.USER_SET_STATUS, "status", status, actor, create)

    async def set_role(
        self, user_id: int, role: str, actor: str, *, create: bool = False
    ) -> User | None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        return await self._decide(user_id, q.USER_SET_ROLE, "role", role, actor, create)

    async def ensure(self, user_id: int) -> None:
        """A row for a user who never wrote to the bot (the CLI makes the first admin so)."""
        await self.db.pool.execute(q.USER_ENSURE, user_id)

    async def change(
        self,
        user_id: int,
        actor: str,
        *,
        seen: User,
        status: str | None = None,
        role: str | None = None,
    ) -> User | None:
        """Set a user's status and role only if both are still as in `seen` (compare-and-set);
        None when another decision came first, and then nothing is written or audited. Each
        field that changes is audited with what it was before."""
        status = status or seen.status
        role = role or seen.role
        if status not in USER_STATUSES or role not in ROLES:
            raise ValueError(f"unknown status or role {status!r}, {role!r}")
        async with self.db.transaction() as con:
            row = await con.fetchrow(
                q.USER_CHANGE, user_id, status, role, actor, seen.status, seen.role
            )
            if row is None:
                return None
            for field, before, after in (
                ("role", seen.role, role),
                ("status", seen.status, status),
            ):
                if before == after:
                    continue
                action = f"user.{after}" if field == "status" else f"user.role.{after}"
                await self.db.audit(
                    actor, action, f"user:{user_id}", {"from": before, "to": after}, con=con
                )
        return _user(row)

    async def _decide(
        self, user_id: int, query: str, field: str, value: str, actor: str, create: bool
    ) -> User | None:
        """Change a user's status or role, recording who did it and what it was before."""
        async with self.db.transaction() as con:
            if create:
                await con.execute(q.USER_ENSURE, user_id)
            before = await self.get(user_id, con=con)
            row = await con.fetchrow(query, user_id, value, actor)
            if row is None:
                return None
            action = f"user.{value}" if field == "status" else f"user.role.{value}"
            await self.db.audit(
                actor,
                action,
                f"user:{user_id}",
                {"from": getattr(before, field) if before else None, "to": value},
                con=con,
            )
        return _user(row)


def _user(row: Any) -> User:
    return User(**{k: row[k] for k in User.__dataclass_fields__})
