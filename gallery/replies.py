"""The outbox's state of a lookup's reply: how far it got, delivered, given up, withdrawn, and
whether its next message may go out."""

from __future__ import annotations

from gallery.database import Database
from gallery.queries import lookups as q
from gallery.records import DeliveryCheck


class Replies:
    """What the outbox records of each reply, message by message."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def progress(self, lookup_id: int, sent: int) -> None:
        """Record that the first `sent` messages of the reply arrived."""
        await self.db.pool.execute(q.LOOKUP_REPLY_PROGRESS, lookup_id, sent)

    async def delivered(self, lookup_id: int) -> str | None:
        """The whole reply arrived: the lookup takes its outcome as status (None if it was not
        waiting for its reply)."""
        status = await self.db.pool.fetchval(q.LOOKUP_REPLY_DELIVERED, lookup_id)
        return str(status) if status is not None else None

    async def undelivered(self, lookup_id: int, actor: str, error: str) -> bool:
        """Delivery was given up: audited, counted, visible to admins."""
        async with self.db.transaction() as con:
            done = await con.fetchval(q.LOOKUP_REPLY_UNDELIVERED, lookup_id, error)
            if done is None:
                return False
            await self.db.audit(
                actor, "lookup.undelivered", f"lookup:{lookup_id}", {"error": error}, con=con
            )
        return True

    async def check(self, lookup_id: int) -> DeliveryCheck:
        """May the reply's next message go out, and without which identities."""
        row = await self.db.pool.fetchrow(q.LOOKUP_DELIVERY_CHECK, lookup_id)
        if row is None:
            return DeliveryCheck(False, frozenset())
        return DeliveryCheck(bool(row["allowed"]), frozenset(int(i) for i in row["withheld"]))

    async def withdrawn(self, lookup_id: int, actor: str, reason: str) -> bool:
        """The requester may no longer be answered: the lookup is closed without (the rest of)
        its reply, as `error` with `reason`, and audited; False if it was not waiting for it."""
        async with self.db.transaction() as con:
            row = await con.fetchrow(q.LOOKUP_REPLY_WITHDRAWN, lookup_id, reason)
            if row is None:
                return False
            await self.db.audit(
                actor,
                "lookup.withdrawn",
                f"lookup:{lookup_id}",
                {"reason": reason, "outcome": row["outcome"], "messages_sent": row["reply_sent"]},
                con=con,
            )
        return True
