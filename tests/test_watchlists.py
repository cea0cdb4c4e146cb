"""Watchlists in PostgreSQL: entries, alerts throttled per identity (one message a burst, then a
count), each message delivered once to the right people, forgetting and least privilege."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gallery import DEFAULT_RUNTIME_ROLE, AuditKey, Gallery, RuntimeRole, create_pool, migrate
from gallery.watchlists import AlreadyWatched, NotWatchable
from tests.conftest import app_dsn

HOUR = timedelta(hours=1)
ADMINS = (11, 12)
OFFICER = 21
FORMER_ADMIN = 13


async def people(g: Gallery) -> None:
    """Two admins, an officer, and an admin whose access was revoked."""
    for user_id in (*ADMINS, OFFICER, FORMER_ADMIN):
        await g.users.set_status(user_id, "approved", "test", create=True)
    for user_id in (*ADMINS, FORMER_ADMIN):
        await g.users.set_role(user_id, "admin", "test")
    await g.users.set_status(FORMER_ADMIN, "revoked", "test")


async def identity(g: Gallery, name: str = "Wanted Person") -> int:
    return int((await g.identities.create(name, "test")).id)


async def lookup(g: Gallery) -> int:
    lookup_id = await g.lookups.create(user_id=OFFICER, actor=f"tg:{OFFICER}", source="cli")
    assert lookup_id is not None
    return lookup_id


async def actions(g: Gallery) -> list[str]:
    return [r[0] for r in await g.pool.fetch("SELECT action FROM audit_log ORDER BY id")]


async def test_an_identity_is_watched_once_and_an_expired_entry_gives_way_to_a_new_one(
    gallery: Gallery,
) -> None:
    watch = gallery.watchlists
    ident = await identity(gallery)
    entry = await watch.add(ident, "  armed   robbery ", "tg:11", recipients=[12, 11, 12])
    assert entry.reason == "armed robbery" and entry.recipients == (11, 12)
    assert entry.display_name == "Wanted Person" and entry.alert_possible
    with pytest.raises(AlreadyWatched) as again:
        await watch.add(ident, "again", "tg:12")
    assert again.value.entry_id == entry.id
    with pytest.raises(NotWatchable):
        await watch.add(ident + 999, "nobody", "tg:11")
    with pytest.raises(ValueError):
        await watch.add(ident, "   ", "tg:11")

    await gallery.pool.execute(
        "UPDATE watchlist_entries SET expires_at = now() - interval '1 minute' WHERE id = $1",
        entry.id,
    )
    assert await watch.in_force() == []
    renewed = await watch.add(ident, "still wanted", "tg:11", expires_at=datetime.now(UTC) + HOUR)
    old = await watch.get(entry.id)
    assert old is not None and old.removal_reason == "expired"
    assert [e.id for e in await watch.in_force()] == [renewed.id]
    assert [e.id for e in await watch.all()] == [entry.id, renewed.id]
    audited = await actions(gallery)
    assert audited.count("watchlist.add") == 2 and "watchlist.end" in audited


async def test_an_update_changes_only_what_is_given_and_is_audited(gallery: Gallery) -> None:
    watch = gallery.watchlists
    entry = await watch.add(await identity(gallery), "fraud", "tg:11", recipients=[11])
    changed = await watch.update(entry.id, "tg:12", alert_possible=False, recipients=None)
    assert changed is not None
    assert (changed.reason, changed.recipients, changed.alert_possible) == ("fraud", None, False)
    assert changed.updated_by == "tg:12"
    assert not changed.alerts_on("possible") and changed.alerts_on("strong")
    row = await gallery.pool.fetchrow(
        "SELECT details FROM audit_log WHERE action = 'watchlist.update'"
    )
    assert row["details"]["changed"] == {"recipients": None, "alert_possible": False}
    assert await watch.remove(entry.id, "tg:11", "caught")
    assert not await watch.remove(entry.id, "tg:11")
    assert await watch.update(entry.id, "tg:11", reason="x") is None


async def test_a_burst_of_matches_sends_one_alert_to_the_admins_then_one_count(
    gallery: Gallery,
) -> None:
    await people(gallery)
    watch = gallery.watchlists
    ident = await identity(gallery)
    entry = await watch.add(ident, "missing person", "tg:11")
    lookups = [await lookup(gallery) for _ in range(4)]

    first = await watch.record_alert(
        entry.id, lookup_id=lookups[0], band="strong", similarity=0.71, window=HOUR, actor="job"
    )
    assert first is not None and first.sent and first.recipients == ADMINS
    # the same lookup's job running again: the same alert, no second message
    again = await watch.record_alert(
        entry.id, lookup_id=lookups[0], band="strong", similarity=0.71, window=HOUR, actor="job"
    )
    assert again is not None and again.id == first.id
    later = [
        await watch.record_alert(
            entry.id, lookup_id=k, band="possible", similarity=0.4, window=HOUR, actor="job"
        )
        for k in lookups[1:]
    ]
    assert all(a is not None and a.burst_of == first.id and not a.sent for a in later)
    pending = await gallery.alerts.pending()
    assert sorted((d.alert_id, d.user_id, d.kind) for d in pending) == [
        (first.id, 11, "alert"),
        (first.id, 12, "alert"),
    ]
    assert await watch.summarise_due("job") == []  # the burst is still under way

    await gallery.pool.execute(
        "UPDATE watchlist_alerts SET window_ends_at = now() - interval '1 second' WHERE id = $1",
        first.id,
    )
    assert await watch.summarise_due("job") == [(first.id, 3)]
    assert await watch.summarise_due("job") == []
    counts = [d for d in await gallery.alerts.pending() if d.kind == "count"]
    assert sorted(d.user_id for d in counts) == list(ADMINS)
    details = await watch.alert_details(first.id)
    assert details is not None and details.summarised_count == 3
    assert (details.looked_by, details.reason, details.band) == (
        OFFICER,
        "missing person",
        "strong",
    )

    # delivered once
    assert await gallery.alerts.sent(first.id, 11, "alert")
    assert not await gallery.alerts.sent(first.id, 11, "alert")
    assert await gallery.alerts.failed(first.id, 12, "alert", "timed out") == 1
    left = {(d.user_id, d.kind) for d in await gallery.alerts.pending()}
    assert left == {(12, "alert"), (11, "count"), (12, "count")}

    # after the window a new match opens a new burst, with its own message
    fresh = await watch.record_alert(
        entry.id,
        lookup_id=await lookup(gallery),
        band="strong",
        similarity=0.6,
        window=HOUR,
        actor="job",
    )
    assert fresh is not None and fresh.sent
    audited = await actions(gallery)
    assert audited.count("watchlist.alert") == 5 and audited.count("watchlist.alert_summary") == 1
    assert (await gallery.audit.verify_chain()).ok


async def test_an_entry_alerts_its_listed_people_and_possible_only_when_switched_on(
    gallery: Gallery,
) -> None:
    await people(gallery)
    watch = gallery.watchlists
    entry = await watch.add(
        await identity(gallery),
        "witness",
        "tg:11",
        recipients=[12, FORMER_ADMIN],
        alert_possible=False,
    )
    quiet = await watch.record_alert(
        entry.id,
        lookup_id=await lookup(gallery),
        band="possible",
        similarity=0.4,
        window=HOUR,
        actor="job",
    )
    assert quiet is None
    loud = await watch.record_alert(
        entry.id,
        lookup_id=await lookup(gallery),
        band="strong",
        similarity=0.7,
        window=HOUR,
        actor="job",
    )
    # the revoked admin is listed but told nothing
    assert loud is not None and loud.recipients == (12,)
    assert [(d.user_id, d.kind) for d in await gallery.alerts.pending()] == [(12, "alert")]


async def test_forgetting_the_identity_ends_its_entries_and_withholds_undelivered_alerts(
    gallery: Gallery,
) -> None:
    await people(gallery)
    watch = gallery.watchlists
    ident = await identity(gallery)
    entry = await watch.add(ident, "suspect", "tg:11")
    alert = await watch.record_alert(
        entry.id,
        lookup_id=await lookup(gallery),
        band="strong",
        similarity=0.7,
        window=HOUR,
        actor="job",
    )
    assert alert is not None and len(await gallery.alerts.pending()) == 2
    async with gallery.db.transaction() as con:
        assert await watch.end_for_identity(ident, "tg:12", con=con) == 1
    assert await gallery.alerts.pending() == []
    assert await watch.in_force_for([ident]) == {}
    late = await watch.record_alert(
        entry.id,
        lookup_id=await lookup(gallery),
        band="strong",
        similarity=0.7,
        window=HOUR,
        actor="job",
    )
    assert late is None
    ended = await watch.get(entry.id)
    assert ended is not None and ended.removal_reason == "identity forgotten"
    assert "watchlist.end" in await actions(gallery)


async def test_the_runtime_role_can_watch_alert_and_deliver_but_never_delete(
    fresh_dsn: str, audit_key: AuditKey
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=RuntimeRole(DEFAULT_RUNTIME_ROLE))
    pool = await create_pool(app_dsn(fresh_dsn))
    try:
        g = Gallery(pool, audit_key=audit_key)
        await people(g)
        watch = g.watchlists
        entry = await watch.add(await identity(g), "runtime", "tg:11")
        updated = await watch.update(entry.id, "tg:11", alert_possible=False)
        assert updated is not None
        # bursts of no length: each alert is sent, and closed at once
        alerts = [
            await watch.record_alert(
                entry.id,
                lookup_id=await lookup(g),
                band="strong",
                similarity=0.7,
                window=timedelta(0),
                actor="job",
            )
            for _ in range(2)
        ]
        assert all(a is not None and a.sent for a in alerts)
        alert = alerts[0]
        assert alert is not None
        assert [count for _, count in await watch.summarise_due("job")] == [0, 0]
        assert await g.alerts.sent(alert.id, ADMINS[0], "alert")
        assert await g.alerts.withhold(alert.id, ADMINS[1], "alert", "job", "lost access")
        # the second alert's messages, claimed: another process finds none of them due
        claimed = await g.alerts.claim()
        second = alerts[1]
        assert second is not None
        assert {(c.alert_id, c.user_id) for c in claimed} == {(second.id, a) for a in ADMINS}
        assert await g.alerts.claim() == [] and await g.alerts.due() == 0
        assert await watch.remove(entry.id, "tg:11")
        async with pool.acquire() as con:
            for sql in (
                "DELETE FROM watchlist_entries",
                "DELETE FROM watchlist_alerts",
                "DELETE FROM alert_deliveries",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await con.execute(sql)
        assert (await g.audit.verify_chain()).ok
    finally:
        await pool.close()
