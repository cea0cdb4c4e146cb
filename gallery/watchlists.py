"""Watchlists: identities whose appearance as a candidate alerts chosen people, the alerts
throttled per identity (one message a burst, then a count), and each message's delivery; every
change audited in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from gallery.database import Connection, Database
from gallery.queries import watchlists as q
from gallery.watchlist_records import (
    BANDS,
    KINDS,
    Alert,
    AlertDetails,
    AlreadyWatched,
    Delivery,
    NotWatchable,
    WatchEntry,
    alert_of,
    entry_of,
)

__all__ = [
    "BANDS",
    "KINDS",
    "Alert",
    "AlertDetails",
    "AlreadyWatched",
    "Delivery",
    "NotWatchable",
    "WatchEntry",
    "Watchlists",
]


_UNSET: Any = object()


class Watchlists:
    """Watchlist entries, alerts and their deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- entries ----------------------------------------------------------------------------
    async def add(
        self,
        identity_id: int,
        reason: str,
        actor: str,
        *,
        expires_at: datetime | None = None,
        recipients: Sequence[int] | None = None,
        alert_possible: bool = True,
    ) -> WatchEntry:
        """Put an identity on the watchlist. An entry of it that expired is ended first; one
        in force raises AlreadyWatched."""
        text = " ".join(reason.split())
        if not text:
            raise ValueError("a watchlist entry needs a reason")
        people = _recipients(recipients)
        try:
            async with self.db.transaction() as con:
                if await con.fetchval(q.IDENTITY_ACTIVE, identity_id) is None:
                    raise NotWatchable(f"no active identity {identity_id}")
                for old in await con.fetch(q.ENTRY_OPEN_FOR_IDENTITY, identity_id):
                    if not old["expired"]:
                        raise AlreadyWatched(int(old["id"]))
                    await con.execute(q.ENTRY_END, old["id"], actor, "expired")
                    await self.db.audit(
                        actor,
                        "watchlist.end",
                        f"watchlist:{old['id']}",
                        {"identity_id": identity_id, "why": "expired"},
                        con=con,
                    )
                entry_id = await con.fetchval(
                    q.ENTRY_INSERT, identity_id, text, expires_at, people, alert_possible, actor
                )
                await self.db.audit(
                    actor,
                    "watchlist.add",
                    f"watchlist:{entry_id}",
                    {
                        "identity_id": identity_id,
                        "reason": text,
                        "expires_at": expires_at.isoformat() if expires_at else None,
                        "recipients": people,
                        "alert_possible": alert_possible,
                    },
                    con=con,
                )
                row = await con.fetchrow(q.ENTRY_GET, entry_id)
        except asyncpg.UniqueViolationError:
            # another admin put the identity on the list at the same moment
            other = await self.db.pool.fetchval(q.ENTRY_OPEN_ID, identity_id)
            raise AlreadyWatched(int(other or 0)) from None
        return entry_of(row)

    async def update(
        self,
        entry_id: int,
        actor: str,
        *,
        reason: str = _UNSET,
        expires_at: datetime | None = _UNSET,
        recipients: Sequence[int] | None = _UNSET,
        alert_possible: bool = _UNSET,
    ) -> WatchEntry | None:
        """Change what is given of an entry not removed; None when there is none."""
        async with self.db.transaction() as con:
            row = await con.fetchrow(q.ENTRY_GET, entry_id)
            if row is None or row["removed_at"] is not None:
                return None
            current = entry_of(row)
            before = _values(current)
            values = dict(before)
            if reason is not _UNSET:
                values["reason"] = " ".join(reason.split())
                if not values["reason"]:
                    raise ValueError("a watchlist entry needs a reason")
            if expires_at is not _UNSET:
                values["expires_at"] = expires_at
            if recipients is not _UNSET:
                values["recipients"] = _recipients(recipients)
            if alert_possible is not _UNSET:
                values["alert_possible"] = bool(alert_possible)
            await con.execute(
                q.ENTRY_UPDATE,
                entry_id,
                values["reason"],
                values["expires_at"],
                values["recipients"],
                values["alert_possible"],
                actor,
            )
            changed = {
                k: v.isoformat() if isinstance(v, datetime) else v
                for k, v in values.items()
                if v != before[k]
            }
            await self.db.audit(
                actor, "watchlist.update", f"watchlist:{entry_id}", {"changed": changed}, con=con
            )
            row = await con.fetchrow(q.ENTRY_GET, entry_id)
        return entry_of(row)

    async def remove(self, entry_id: int, actor: str, why: str | None = None) -> bool:
        """Take an entry off the watchlist (kept on record); False when it was not on."""
        async with self.db.transaction() as con:
            if await con.fetchval(q.ENTRY_END, entry_id, actor, why) is None:
                return False
            await self.db.audit(
                actor, "watchlist.remove", f"watchlist:{entry_id}", {"why": why}, con=con
            )
        return True

    async def end_for_identity(
        self, identity_id: int, actor: str, *, con: Connection | None = None
    ) -> int:
        """The identity is forgotten: its entries end, and alerts about it not yet delivered
        are withheld (in the caller's transaction when `con` is given). Entries ended."""
        async with self.db.joined(con) as c:
            ended = [
                int(r[0])
                for r in await c.fetch(
                    q.ENTRIES_END_FOR_IDENTITY, identity_id, actor, "identity forgotten"
                )
            ]
            withheld = _count(
                await c.execute(q.DELIVERIES_WITHHOLD_FOR_IDENTITY, identity_id, "forgotten")
            )
            if ended or withheld:
                await self.db.audit(
                    actor,
                    "watchlist.end",
                    f"identity:{identity_id}",
                    {"entries": ended, "deliveries_withheld": withheld, "why": "forgotten"},
                    con=c,
                )
        return len(ended)

    async def follow_merge(
        self, source: int, target: int, actor: str, *, con: Connection | None = None
    ) -> str | None:
        """Identity `source` was merged into `target`: its entry in force now watches `target`
        ("moved"), or ends when `target` is watched already ("ended"); None when it had none.
        In the caller's transaction when `con` is given; audited."""
        async with self.db.joined(con) as c:
            moved = [int(r[0]) for r in await c.fetch(q.ENTRY_FOLLOW_MERGE, source, target)]
            if moved:
                await self.db.audit(
                    actor,
                    "watchlist.move",
                    f"identity:{target}",
                    {"entries": moved, "from_identity": source, "why": "merged"},
                    con=c,
                )
                return "moved"
            why = f"merged into identity #{target}, already watched"
            ended = [
                int(r[0]) for r in await c.fetch(q.ENTRIES_END_FOR_IDENTITY, source, actor, why)
            ]
            if ended:
                await self.db.audit(
                    actor,
                    "watchlist.end",
                    f"identity:{source}",
                    {"entries": ended, "why": "merged", "into": target},
                    con=c,
                )
                return "ended"
        return None

    async def get(self, entry_id: int) -> WatchEntry | None:
        row = await self.db.pool.fetchrow(q.ENTRY_GET, entry_id)
        return entry_of(row) if row else None

    async def in_force(self) -> list[WatchEntry]:
        return [entry_of(r) for r in await self.db.pool.fetch(q.ENTRIES_IN_FORCE)]

    async def all(self) -> list[WatchEntry]:
        """Every entry ever made, removed ones included."""
        return [entry_of(r) for r in await self.db.pool.fetch(q.ENTRIES_ALL)]

    async def in_force_for(self, identity_ids: Sequence[int]) -> dict[int, WatchEntry]:
        """The entries in force for these identities (a lookup's candidates), by identity."""
        rows = await self.db.pool.fetch(q.ENTRIES_IN_FORCE_FOR, [int(i) for i in identity_ids])
        return {int(r["identity_id"]): entry_of(r) for r in rows}

    # --- alerts -----------------------------------------------------------------------------
    async def record_alert(
        self,
        entry_id: int,
        *,
        lookup_id: int,
        band: str,
        similarity: float,
        window: timedelta,
        actor: str,
        candidate_id: int | None = None,
    ) -> Alert | None:
        """A lookup gave the entry's identity as a candidate. The first alert of a burst (none
        for this identity whose window lasts) gets a message to each recipient; later ones in
        the window are counted in it. The same lookup again (its job ran twice) returns its
        alert. None when the entry is not in force or does not alert on this band."""
        if band not in BANDS:
            raise ValueError(f"unknown band {band!r}")
        async with self.db.transaction() as con:
            entry = await con.fetchrow(q.ENTRY_LOCK, entry_id)
            if entry is None:
                return None
            existing = await con.fetchrow(q.ALERT_OF_LOOKUP, entry_id, lookup_id)
            if existing is not None:
                return alert_of(existing)
            if entry["removed_at"] is not None or entry["expired"] or entry["forgotten"]:
                return None
            if band == "possible" and not entry["alert_possible"]:
                return None
            identity_id = int(entry["identity_id"])
            opener = await con.fetchval(q.BURST_OPEN, identity_id)
            people = [int(r[0]) for r in await con.fetch(q.RECIPIENTS, entry["recipients"])]
            row = await con.fetchrow(
                q.ALERT_INSERT,
                entry_id,
                identity_id,
                lookup_id,
                candidate_id,
                band,
                float(similarity),
                people,
                opener,
                window,
                actor,
            )
            assert row is not None
            if opener is None:
                await con.execute(q.DELIVERIES_ADD, row["id"], people, "alert")
            await self.db.audit(
                actor,
                "watchlist.alert",
                f"lookup:{lookup_id}",
                {
                    "alert_id": int(row["id"]),
                    "entry_id": entry_id,
                    "identity_id": identity_id,
                    "band": band,
                    "similarity": round(float(similarity), 4),
                    "recipients": people,
                    "burst_of": opener,
                },
                con=con,
            )
        return alert_of(row)

    async def summarise_due(self, actor: str, *, limit: int = 100) -> list[tuple[int, int]]:
        """Close the bursts whose window is over: each one with alerts counted in it gets a
        message to its recipients with the count. (first alert id, count) of each closed."""
        closed = []
        for r in await self.db.pool.fetch(q.BURSTS_DUE, limit):
            async with self.db.transaction() as con:
                row = await con.fetchrow(q.BURST_LOCK, r["id"])
                if row is None:
                    continue  # closed by another process meanwhile
                count = int(await con.fetchval(q.BURST_FOLLOWERS, row["id"]))
                await con.execute(q.BURST_SUMMARISED, row["id"], count)
                if count:
                    await con.execute(q.DELIVERIES_ADD, row["id"], list(row["recipients"]), "count")
                    await self.db.audit(
                        actor,
                        "watchlist.alert_summary",
                        f"lookup:{row['lookup_id']}",
                        {
                            "alert_id": int(row["id"]),
                            "identity_id": row["identity_id"],
                            "count": count,
                        },
                        con=con,
                    )
            closed.append((int(row["id"]), count))
        return closed

    async def get_alert(self, alert_id: int) -> Alert | None:
        row = await self.db.pool.fetchrow(q.ALERT_GET, alert_id)
        return alert_of(row) if row else None

    async def burst_lookups(self, alert_id: int) -> list[int]:
        """The lookups counted in a burst after its first alert, in order."""
        return [int(r[0]) for r in await self.db.pool.fetch(q.BURST_LOOKUPS, alert_id)]

    async def alerts_of_lookup(self, lookup_id: int) -> list[Alert]:
        return [alert_of(r) for r in await self.db.pool.fetch(q.ALERTS_OF_LOOKUP, lookup_id)]

    async def alert_details(self, alert_id: int) -> AlertDetails | None:
        row = await self.db.pool.fetchrow(q.ALERT_DETAILS, alert_id)
        if row is None:
            return None
        return AlertDetails(**{k: row[k] for k in AlertDetails.__dataclass_fields__})


def _values(entry: WatchEntry) -> dict[str, Any]:
    """What an update may change, as the statements take it."""
    return {
        "reason": entry.reason,
        "expires_at": entry.expires_at,
        "recipients": list(entry.recipients) if entry.recipients is not None else None,
        "alert_possible": entry.alert_possible,
    }


def _recipients(recipients: Sequence[int] | None) -> list[int] | None:
    if recipients is None:
        return None
    people = sorted({int(u) for u in recipients})
    if not people:
        raise ValueError("an entry alerts every admin (None) or a list of at least one user")
    return people


def _count(status: str) -> int:
    return int(status.split()[-1])
