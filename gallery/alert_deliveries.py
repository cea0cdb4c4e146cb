"""Watchlist alerts' messages, one per recipient and kind (the alert, its burst's count):
claimed by the process that sends them, sent once, retried with backoff, or withheld; each sent
or withheld message audited."""

from __future__ import annotations

from datetime import timedelta

from gallery.database import Database
from gallery.queries import watchlists as q
from gallery.watchlist_records import Delivery


class AlertDeliveries:
    """The messages of watchlist alerts (table alert_deliveries)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(self, limit: int = 100) -> list[Delivery]:
        """Messages not yet sent nor withheld, oldest first."""
        return [
            Delivery(
                alert_id=int(r["alert_id"]),
                user_id=int(r["user_id"]),
                kind=r["kind"],
                attempts=int(r["attempts"]),
                created_at=r["created_at"],
                forgotten=bool(r["forgotten"]),
            )
            for r in await self.db.pool.fetch(q.DELIVERIES_PENDING, limit)
        ]

    async def claim(
        self, limit: int = 20, *, lease: timedelta = timedelta(minutes=2)
    ) -> list[Delivery]:
        """Messages due, claimed for `lease` by the caller: another process leaves them alone
        until they are sent, fail (tried again later) or the lease runs out (its sender died)."""
        rows = await self.db.pool.fetch(q.DELIVERIES_CLAIM, limit, lease)
        return sorted(
            (
                Delivery(
                    alert_id=int(r["alert_id"]),
                    user_id=int(r["user_id"]),
                    kind=r["kind"],
                    attempts=int(r["attempts"]),
                    created_at=r["created_at"],
                    forgotten=bool(r["forgotten"]),
                )
                for r in rows
            ),
            key=lambda d: (d.created_at, d.alert_id, d.user_id, d.kind),
        )

    async def due(self) -> int:
        """Messages waiting to be sent and claimed by nobody."""
        return int(await self.db.pool.fetchval(q.DELIVERIES_DUE))

    async def may_receive(self, user_id: int) -> bool:
        """Whether the user may be sent an alert now (an approved admin)."""
        return bool(await self.db.pool.fetchval(q.RECIPIENT_ALLOWED, user_id))

    async def sent(self, alert_id: int, user_id: int, kind: str, actor: str = "system") -> bool:
        """Mark a message sent, audited; False when it was sent (or withheld) already."""
        async with self.db.transaction() as con:
            if await con.fetchval(q.DELIVERY_SENT, alert_id, user_id, kind) is None:
                return False
            await self.db.audit(
                actor,
                "watchlist.alert_sent",
                f"alert:{alert_id}",
                {"user_id": user_id, "kind": kind},
                con=con,
            )
        return True

    async def failed(self, alert_id: int, user_id: int, kind: str, error: str) -> int:
        """Count a failed try; the tries so far (0: no such message pending)."""
        value = await self.db.pool.fetchval(q.DELIVERY_FAILED, alert_id, user_id, kind, error)
        return int(value or 0)

    async def withhold(self, alert_id: int, user_id: int, kind: str, actor: str, why: str) -> bool:
        """Never send this message (its identity was forgotten, the user lost access)."""
        async with self.db.transaction() as con:
            if await con.fetchval(q.DELIVERY_WITHHELD, alert_id, user_id, kind, why) is None:
                return False
            await self.db.audit(
                actor,
                "watchlist.alert_withheld",
                f"alert:{alert_id}",
                {"user_id": user_id, "kind": kind, "why": why},
                con=con,
            )
        return True
