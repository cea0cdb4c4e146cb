"""The durable inbox: every Telegram update is stored here before Telegram is told it arrived."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from gallery.database import Database
from gallery.queries import inbox as q


class Inbox:
    """Telegram updates by bot and update id, with the lease of the process handling each."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(
        self,
        bot_id: int,
        updates: Sequence[tuple[int, dict[str, Any]]],
        claimer: str,
        lease: float,
    ) -> list[int]:
        """Store a batch of one bot's (update id, payload) in one transaction, idempotent on the
        id; returns the ids in the batch not handled yet (new ones and earlier failures), now
        leased to `claimer` for `lease` seconds; those another process holds are left out."""
        if not updates:
            return []
        ids = [update_id for update_id, _ in updates]
        async with self.db.transaction() as con:
            await con.execute(
                q.INBOX_STORE, bot_id, ids, [json.dumps(payload) for _, payload in updates]
            )
            rows = await con.fetch(q.INBOX_CLAIM_OF, bot_id, ids, claimer, lease)
        return sorted(int(r["update_id"]) for r in rows)

    async def claim(
        self, bot_id: int, claimer: str, lease: float, exclude: Iterable[int], limit: int = 100
    ) -> list[tuple[int, dict[str, Any]]]:
        """Lease up to `limit` of a bot's unhandled updates to `claimer`, oldest first: those
        nobody holds, or whose lease ran out, or that `claimer` holds already but for `exclude`
        (being handled); rows another process is claiming at this moment are skipped."""
        rows = await self.db.pool.fetch(q.INBOX_CLAIM, bot_id, list(exclude), claimer, lease, limit)
        found = sorted((int(r["update_id"]), r["payload"]) for r in rows)
        return [(update_id, json.loads(payload)) for update_id, payload in found]

    async def renew(
        self, bot_id: int, claimer: str, lease: float, update_ids: Iterable[int]
    ) -> None:
        """The updates `claimer` is still handling: their lease runs `lease` seconds more."""
        await self.db.pool.execute(q.INBOX_RENEW, bot_id, list(update_ids), claimer, lease)

    async def release(self, bot_id: int) -> int:
        """Drop every lease on a bot's unhandled updates: for the one process running that bot,
        at its start (whoever held them is gone)."""
        return int((await self.db.pool.execute(q.INBOX_RELEASE, bot_id)).split()[-1])

    async def mark_handled(self, bot_id: int, update_id: int) -> None:
        await self.db.pool.execute(q.INBOX_HANDLED, bot_id, update_id)

    async def count_unhandled(self) -> int:
        return int(await self.db.pool.fetchval(q.INBOX_COUNT_UNHANDLED))

    async def purge_handled(self, before: datetime) -> int:
        """Drop updates handled before `before`: they hold message texts and file ids."""
        return int((await self.db.pool.execute(q.INBOX_PURGE_HANDLED, before)).split()[-1])
