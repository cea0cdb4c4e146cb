"""The durable inbox: every Telegram update is stored here before Telegram is told it arrived."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from gallery import queries as q
from gallery.base import GalleryBase


class InboxStore(GalleryBase):
    async def store_updates(
        self, bot_id: int, updates: Sequence[tuple[int, dict[str, Any]]]
    ) -> list[int]:
        """Store a batch of one bot's (update id, payload) in one transaction, idempotent on the
        id; returns the ids in the batch not handled yet (new ones and earlier failures)."""
        if not updates:
            return []
        ids = [update_id for update_id, _ in updates]
        async with self.transaction() as con:
            await con.execute(
                q.INBOX_STORE, bot_id, ids, [json.dumps(payload) for _, payload in updates]
            )
            rows = await con.fetch(q.INBOX_UNHANDLED_OF, bot_id, ids)
        return [int(r["update_id"]) for r in rows]

    async def unhandled_updates(
        self, bot_id: int, exclude: Iterable[int], limit: int = 100
    ) -> list[tuple[int, dict[str, Any]]]:
        """A bot's stored updates not handled yet, oldest first, except those in `exclude`."""
        rows = await self.pool.fetch(q.INBOX_UNHANDLED, bot_id, list(exclude), limit)
        return [(int(r["update_id"]), json.loads(r["payload"])) for r in rows]

    async def mark_handled(self, bot_id: int, update_id: int) -> None:
        await self.pool.execute(q.INBOX_HANDLED, bot_id, update_id)

    async def count_unhandled(self) -> int:
        return int(await self.pool.fetchval(q.INBOX_COUNT_UNHANDLED))

    async def purge_handled(self, before: datetime) -> int:
        """Drop updates handled before `before`: they hold message texts and file ids."""
        return int((await self.pool.execute(q.INBOX_PURGE_HANDLED, before)).split()[-1])
