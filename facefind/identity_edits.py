"""Changing identities: a rename or a new external reference, and the merge of two identities
that are one person; the same actions, rules and audit for the console, the CLI and the bot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.errors import FaceFindError, UnknownIdentity
from facefind.user_input import REF_MAX, clean_name, clean_optional
from gallery import Gallery, Identity
from gallery.identities import Merged


class MergeRefused(FaceFindError):
    """A merge that cannot be: an identity with itself, or one that is forgotten or missing."""

    code = "merge_refused"


@dataclass(frozen=True)
class Edited:
    identity: Identity  # as it is now
    changed: dict[str, dict[str, str | None]]  # field -> {"from", "to"}; empty: nothing changed


class IdentityEditor:
    """Renames and merges. `changed` hears that the gallery's identities changed (the bands
    follow its size)."""

    def __init__(self, gallery: Gallery, changed: Callable[[], None] | None = None) -> None:
        self.gallery = gallery
        self.changed = changed or (lambda: None)

    async def edit(
        self, identity_id: int, requester: Requester, *, name: str, external_ref: str | None
    ) -> Edited:
        """Give an identity in use this name and reference (None or empty: no reference);
        admins only, audited as `identity.edit` with what changed. UnknownIdentity when there
        is no such identity in use; BadInput for a name or reference that cannot be stored."""
        require_admin(requester)
        clean = clean_name(name)
        ref = clean_optional(external_ref, what="external reference", limit=REF_MAX)
        changed = await self.gallery.identities.edit(
            identity_id, requester.actor, name=clean, external_ref=ref
        )
        if changed is None:
            raise UnknownIdentity(f"#{identity_id}")
        identity = await self.gallery.identities.get(identity_id)
        assert identity is not None  # identities are never deleted
        return Edited(identity, changed)

    async def merge(self, source: int, target: int, requester: Requester) -> Merged:
        """Merge identity `source` into `target` (they are one person): `source`'s faces join
        `target`, whose template is rebuilt, and lookups from now on name `target`; `source` is
        left forgotten, pointing at `target`, for the lookups that named it before. What
        followed `source` follows `target`, in the same transaction: its watchlist entry
        watches `target` (or ends, when `target` is watched already: one entry an identity),
        and unknown persons named as `source` are named as `target`. Admins only; audited on
        both ids. MergeRefused for one identity with itself, or one that is not in use."""
        require_admin(requester)
        if source == target:
            raise MergeRefused("an identity cannot be merged into itself")
        gallery, actor = self.gallery, requester.actor
        async with gallery.db.transaction() as con:
            merged = await gallery.identities.merge(source, target, actor, con=con)
            if merged is None:
                raise MergeRefused(f"identities #{source} and #{target} must both be in use")
            watch = await gallery.watchlists.follow_merge(source, target, actor, con=con)
            named = await gallery.sightings.follow_merge(source, target, actor, con=con)
        self.changed()
        return replace(merged, watch=watch, unknown_persons=tuple(named))
