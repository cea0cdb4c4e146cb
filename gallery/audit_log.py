"""The audit log: appending sealed rows, checking the chain, its head for the witness, reading rows.

Every row carries the previous row's hash, so the rows form one chain. Since migration 0004 each
row's hash is an HMAC-SHA256 under the application's key, computed here while the chain's
advisory lock is held (so several processes keep one chain, in commit order). Rows from before
0004 were hashed by a trigger with plain SHA-256; the first sealed row's prev_hash binds them.
Whoever administers the database can change rows, but cannot compute a seal that checks.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery.database import Database
from gallery.queries import audit as q
from gallery.records import AuditCheck, AuditHead
from gallery.seal import GENESIS_HASH, LEGACY, SEALED, AuditKey, legacy_hash, sealed_payload


@dataclass(frozen=True)
class AuditFilters:
    """Which rows a reader asks for; None: not filtered on. `since` inclusive, `until`
    exclusive; actor, action and target are matched exactly."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def params(self) -> tuple[Any, ...]:
        return (self.actor, self.action, self.target, self.since, self.until)


class AuditLog:
    """The sealed, append-only audit log: append, read, check."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append a sealed row in a transaction of its own (repositories append in theirs)."""
        await self.db.audit(actor, action, target, details)

    async def verify_chain(self, *, since: AuditHead | None = None) -> AuditCheck:
        """Recompute every row's seal (or legacy hash) and every link, here, with the key.

        With `since` (a head a witness remembers), that row must still be there with the same
        hash and the same number of rows up to it; only the rows after it are walked.
        """
        key = self.db.require_key()
        async with self.db.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            first = await con.fetchrow(q.AUDIT_FIRST)
            if first is None:
                if since is not None:
                    return AuditCheck(False, 0, None, f"the log is empty; {_seen(since)}")
                return AuditCheck(True, 0)
            genesis = first["hash"]
            if since is not None and since.genesis != genesis:
                return AuditCheck(False, 0, first["id"], f"the first row differs; {_seen(since)}")
            count = 0
            start_id = 0
            prev = GENESIS_HASH
            sealed = False
            if since is not None:
                anchor = await con.fetchrow(q.AUDIT_ROW, since.last_id)
                if anchor is None:
                    last = await con.fetchval(q.AUDIT_LAST_ID)
                    return AuditCheck(
                        False, 0, None, f"the log ends at row {last}; {_seen(since)}: rows were cut"
                    )
                if anchor["hash"] != since.last_hash:
                    return AuditCheck(
                        False, 0, since.last_id, f"row {since.last_id} differs; {_seen(since)}"
                    )
                upto = int(await con.fetchval(q.AUDIT_COUNT_UPTO, since.last_id))
                if upto != since.rows:
                    return AuditCheck(
                        False,
                        upto,
                        None,
                        f"{upto} rows up to row {since.last_id}; {_seen(since)}: rows were "
                        "removed or added",
                    )
                count, start_id, prev = upto, since.last_id, since.last_hash
                sealed = anchor["scheme"] == SEALED
            legacy = 0
            last_id = start_id
            async for row in con.cursor(q.AUDIT_CHAIN_AFTER, start_id):
                count += 1
                problem = self._check_row(row, prev, sealed, key)
                if problem:
                    return AuditCheck(False, count, row["id"], problem, legacy_rows=legacy)
                if row["scheme"] == SEALED:
                    sealed = True
                else:
                    legacy += 1
                prev = row["hash"]
                last_id = row["id"]
        if not sealed:
            return AuditCheck(
                False,
                count,
                None,
                "no row is sealed with the key: the log was rewritten with plain hashes, or "
                "facefind never wrote to it since migration 0004",
                legacy_rows=legacy,
            )
        return AuditCheck(
            True, count, head=AuditHead(genesis, count, last_id, prev), legacy_rows=legacy
        )

    @staticmethod
    def _check_row(row: Any, prev: str, sealed_before: bool, key: AuditKey) -> str | None:
        if row["prev_hash"] != prev:
            return "does not link to the row before it: a row was removed, added or reordered"
        fields = (row["id"], row["at"], row["actor"], row["action"], row["target"])
        if row["scheme"] == LEGACY:
            if sealed_before:
                return (
                    "carries a plain SHA-256 hash after the sealed chain began: it was written "
                    "or re-hashed by something that does not hold the key"
                )
            if legacy_hash(*fields, row["details_text"], row["prev_hash"]) != row["hash"]:
                return "content does not match its hash: the row was changed"
            return None
        if row["key_id"] != key.id:
            return (
                f"is sealed with key {row['key_id']}, not with this key ({key.id}): restore the "
                "audit key that wrote the log (docs/operations.md)"
            )
        payload = sealed_payload(*fields, row["details_text"], row["prev_hash"], key.id)
        if not hmac.compare_digest(key.seal(payload), row["hash"]):
            return "content does not match its seal: the row was changed"
        return None

    async def head(self) -> AuditHead | None:
        """The chain as it stands now (unchecked): first hash, row count, last row."""
        async with self.db.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            first = await con.fetchrow(q.AUDIT_FIRST)
            last = await con.fetchrow(q.AUDIT_LAST)
            rows = await con.fetchval(q.AUDIT_COUNT)
        if first is None or last is None:
            return None
        return AuditHead(first["hash"], int(rows), int(last["id"]), last["hash"])

    async def row(self, row_id: int) -> dict[str, Any] | None:
        row = await self.db.pool.fetchrow(q.AUDIT_ROW, row_id)
        return dict(row) if row else None

    async def sealing_key_id(self) -> str | None:
        """The key id of the last sealed row: the key this log expects."""
        value = await self.db.pool.fetchval(q.AUDIT_LAST_KEY_ID)
        return str(value) if value is not None else None

    async def last_of(self, action: str) -> datetime | None:
        value: datetime | None = await self.db.pool.fetchval(q.AUDIT_LAST_OF_ACTION, action)
        return value

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.db.pool.fetch(q.AUDIT_RECENT, limit)]

    async def page(
        self, filters: AuditFilters, *, before: int | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Rows newest first, older than row `before`, as the filters say."""
        async with self.db.transaction() as con:
            await con.execute(q.AUDIT_PAGE_PLANS)
            rows = await con.fetch(q.AUDIT_PAGE, *filters.params(), before, limit)
        return [dict(r) for r in rows]

    async def about(self, targets: list[str]) -> list[dict[str, Any]]:
        """Every row about one of these targets ('lookup:12', 'candidate:40'), oldest first."""
        return [dict(r) for r in await self.db.pool.fetch(q.AUDIT_OF_TARGETS, targets)]


def _seen(head: AuditHead) -> str:
    return (
        f"the witness saw {head.rows} rows ending with row {head.last_id} "
        f"(hash {head.last_hash[:16]}…)"
    )
