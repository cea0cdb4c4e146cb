"""Identities as an admin looks them up: found by number or name, shown with their reference
pictures, and who looked at whom audited; the same for the bot and the console."""

from __future__ import annotations

import re
from dataclasses import dataclass

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.user_input import parse_id
from gallery import Face, Gallery, Identity

_NUMBER = re.compile(r"#?[0-9]+", re.ASCII)


@dataclass(frozen=True)
class IdentityCard:
    identity: Identity
    pictures: list[bytes]  # its active faces' crops (imported faces may have none)


@dataclass(frozen=True)
class IdentityPage:
    """An identity as the console shows it: its reference faces (poor ones flagged)."""

    identity: Identity
    faces: list[Face]
    merged_into: Identity | None  # where its faces went, when it was merged away


@dataclass(frozen=True)
class FacePicture:
    """A reference face's crop: `found` False for an unknown face; `jpeg` None when it has
    none (imported without one, or erased)."""

    found: bool
    jpeg: bytes | None


class IdentityCards:
    """Finding an identity and showing it."""

    def __init__(self, gallery: Gallery) -> None:
        self.gallery = gallery

    async def find(self, query: str) -> list[Identity]:
        """'#12' or '12': that identity (forgotten ones too); else the active identities named
        so (ignoring case and spacing), else those whose name contains the text."""
        identities = self.gallery.identities
        if _NUMBER.fullmatch(query):
            identity_id = parse_id(query)
            one = await identities.get(identity_id) if identity_id else None
            return [one] if one else []
        return await identities.named(query) or await identities.like(query)

    async def view(self, identity: Identity, requester: Requester) -> IdentityCard:
        """An identity with its pictures; admins only, audited as `identity.view`."""
        require_admin(requester)
        # who looked at whom is part of the record
        await self.gallery.audit.append(requester.actor, "identity.view", f"identity:{identity.id}")
        return IdentityCard(identity, await self.pictures(identity.id))

    async def pictures(self, identity_id: int) -> list[bytes]:
        """The pictures of an identity's active faces (imported faces may have none)."""
        faces = await self.gallery.faces.of_identity(identity_id)
        return [f.crop_jpeg for f in faces if f.crop_jpeg]

    async def listing(
        self,
        requester: Requester,
        query: str | None = None,
        *,
        include_forgotten: bool = False,
        before: int | None = None,
        limit: int = 50,
    ) -> list[Identity]:
        """Identities whose name or reference contains `query` (None: all), newest first, older
        than identity `before`; admins only, audited as `identities.list`."""
        require_admin(requester)
        found = await self.gallery.identities.search(
            query, include_deleted=include_forgotten, before=before, limit=limit
        )
        details: dict[str, object] = {"query": query, "rows": len(found)}
        if before is not None:
            details["before"] = before
        await self.gallery.audit.append(requester.actor, "identities.list", None, details)
        return found

    async def page(self, identity_id: int, requester: Requester) -> IdentityPage | None:
        """An identity with its reference faces (None: no such identity); admins only,
        audited as `identity.view` like the bot's /identity."""
        require_admin(requester)
        identity = await self.gallery.identities.get(identity_id)
        if identity is None:
            return None
        await self.gallery.audit.append(requester.actor, "identity.view", f"identity:{identity.id}")
        faces = await self.gallery.faces.of_identity(identity.id)
        into = (
            await self.gallery.identities.get(identity.merged_into)
            if identity.merged_into is not None
            else None
        )
        return IdentityPage(identity, faces, into)

    async def face_picture(self, face_id: int, requester: Requester) -> FacePicture:
        """A reference face's crop for a page that shows it; admins only, not audited one by
        one (the page that showed it was)."""
        require_admin(requester)
        face = await self.gallery.faces.get(face_id)
        if face is None:
            return FacePicture(False, None)
        return FacePicture(True, face.crop_jpeg)
