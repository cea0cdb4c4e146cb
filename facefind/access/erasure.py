"""Forgetting, restoring and erasing identities, and the retention purge: one code path for the
bot, the CLI and the console.

An identity that is forgotten leaves every search at once. With a grace period
(FACEFIND_FORGET_GRACE_DAYS) it can be restored until the period ends; then (or at once, with no
grace period) its faces lose embedding, picture and photo hash, and the identity its name,
reference and notes. What stays is what the record needs: the ids, who did what and when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from gallery import Gallery, Identity


@dataclass(frozen=True)
class Forgotten:
    identity: Identity  # as it was before
    erased: bool
    restorable_until: datetime | None


class Eraser:
    """Forget, restore and purge for every front end. `grace_days` is the caller's
    FACEFIND_FORGET_GRACE_DAYS; `changed` hears that the gallery's identities changed (the
    bands follow its size)."""

    def __init__(self, gallery: Gallery, changed: Callable[[], None] | None = None) -> None:
        self.gallery = gallery
        self.changed = changed or (lambda: None)

    async def forget(
        self, identity_id: int, requester: Requester, *, grace_days: int
    ) -> Forgotten | None:
        """Leave every search at once; erased now, or restorable until the grace period ends.
        None when there is no active identity with this id. Admins only."""
        require_admin(requester)
        done = await forget_identity(
            self.gallery, identity_id, requester.actor, grace_days=grace_days
        )
        if done is not None:
            self.changed()
        return done

    async def restore(self, identity_id: int, requester: Requester, *, grace_days: int) -> Restored:
        """Undo a forget within the grace period. Admins only."""
        require_admin(requester)
        done = await restore_identity(
            self.gallery, identity_id, requester.actor, grace_days=grace_days
        )
        if done.status == "restored":
            self.changed()
        return done

    async def purge(
        self, requester: Requester, *, retention_days: int | None, grace_days: int
    ) -> PurgeReport:
        """The retention limit and the erasure of identities past their grace period (see
        `purge`); the service itself or an admin."""
        require_admin(requester)
        return await purge(
            self.gallery,
            retention_days=retention_days,
            grace_days=grace_days,
            actor=requester.actor,
        )


async def forget_identity(
    gallery: Gallery, identity_id: int, actor: str, *, grace_days: int
) -> Forgotten | None:
    """None when there is no active identity with this id."""
    before = await gallery.identities.get(identity_id)
    if before is None or before.deleted:
        return None
    erase = grace_days <= 0
    async with gallery.db.transaction() as con:
        if not await gallery.identities.forget(identity_id, actor, erase=erase, con=con):
            return None
        # in the same transaction: the sightings of unknown persons named as it, and its
        # watchlist entries (their undelivered alerts withheld)
        await gallery.sightings.forget_identity(identity_id, actor, con=con)
        await gallery.watchlists.end_for_identity(identity_id, actor, con=con)
    until = None if erase else datetime.now(UTC) + timedelta(days=grace_days)
    return Forgotten(before, erase, until)


@dataclass(frozen=True)
class Restored:
    status: str  # 'restored' | 'missing' | 'not_forgotten' | 'erased' | 'merged' | 'too_late'
    identity: Identity | None = None


async def restore_identity(
    gallery: Gallery, identity_id: int, actor: str, *, grace_days: int
) -> Restored:
    """Undo a forget within the grace period."""
    ident = await gallery.identities.get(identity_id)
    if ident is None:
        return Restored("missing")
    if ident.erased:
        return Restored("erased", ident)
    if ident.merged_into is not None:
        return Restored("merged", ident)  # its faces are the other identity's now
    if ident.deleted_at is None:
        return Restored("not_forgotten", ident)
    if ident.deleted_at + timedelta(days=grace_days) <= datetime.now(UTC):
        return Restored("too_late", ident)  # the next purge erases it
    if not await gallery.identities.restore(identity_id, actor):
        return Restored("erased", ident)  # erased meanwhile
    return Restored("restored", await gallery.identities.get(identity_id))


@dataclass(frozen=True)
class PurgeReport:
    crops: int = 0
    file_ids: int = 0
    erased: list[int] = field(default_factory=list)
    sightings: int = 0  # sightings past the retention period, deleted


async def purge(
    gallery: Gallery, *, retention_days: int | None, grace_days: int, actor: str
) -> PurgeReport:
    """Apply the retention limit and erase identities whose grace period is over.

    `retention_days`: query face crops and Telegram file ids of lookups older than this are
    removed, and sightings (embedding, crop and all) are deleted; 0 removes all of them
    (`facefind purge --days 0`); None keeps them (FACEFIND_RETENTION_DAYS=0)."""
    now = datetime.now(UTC)
    crops = files = sightings = 0
    if retention_days is not None:
        cutoff = now - timedelta(days=retention_days)
        crops, files = await gallery.lookups.purge_before(cutoff, actor)
        files += await gallery.albums.purge_before(cutoff)
        sightings = (await gallery.sightings.purge_before(cutoff, actor)).sightings
    erased = await gallery.identities.erase_forgotten(now - timedelta(days=grace_days), actor)
    return PurgeReport(crops, files, erased, sightings)
