"""Identities as an admin looks them up: found by number or name, shown with their reference
pictures, and who looked at whom audited; the same for the bot and the console."""

from __future__ import annotations

import re
from dataclasses import dataclass

from facefind.access.actors import Requester
from facefind.access.rules import require_admin
from facefind.user_input import parse_id
from gallery import Gallery, Identity

_NUMBER = re.compile(r"#?[0-9]+", re.ASCII)


@dataclass(frozen=True)
class IdentityCard:
    identity: Identity
    pictures: list[bytes]  # its active faces' crops (imported faces may have none)


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
