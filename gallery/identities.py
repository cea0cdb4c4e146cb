"""Identities: create, find, list, forget, restore, erase (their faces go with them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gallery.database import Connection, Database
from gallery.queries import identities as q
from gallery.records import Identity
from gallery.templates import Templates


@dataclass(frozen=True)
class Merged:
    """A merge done: the faces that joined the other identity, and those left behind (photos
    it had already), now inactive."""

    source: int
    target: int
    faces_moved: int
    faces_left: int
    watch: str | None = None  # the source's watchlist entry: "moved" to the target, or "ended"
    unknown_persons: tuple[int, ...] = ()  # unknown persons named as the source, now the target


class Identities:
    """The people the gallery knows, by name and external reference. Forgetting, restoring and
    erasing rebuild the identity's template in the same transaction."""

    def __init__(self, db: Database, templates: Templates) -> None:
        self.db = db
        self.templates = templates

    async def create(
        self,
        display_name: str,
        actor: str,
        external_ref: str | None = None,
        notes: str | None = None,
        *,
        con: Connection | None = None,
    ) -> Identity:
        name = " ".join(display_name.split())
        if not name:
            raise ValueError("an identity needs a name")
        async with self.db.joined(con) as c:
            identity_id = await c.fetchval(q.IDENTITY_INSERT, name, external_ref, notes, actor)
            await self.db.audit(
                actor,
                "identity.create",
                f"identity:{identity_id}",
                {"name": name, "external_ref": external_ref},
                con=c,
            )
            row = await c.fetchrow(q.IDENTITY_GET, identity_id)
        return identity_of(row)

    async def get(self, identity_id: int) -> Identity | None:
        row = await self.db.pool.fetchrow(q.IDENTITY_GET, identity_id)
        return identity_of(row) if row else None

    async def named(self, name: str) -> list[Identity]:
        """Active identities whose name equals `name`, ignoring case and spacing."""
        clean = " ".join(name.split())
        return [identity_of(r) for r in await self.db.pool.fetch(q.IDENTITY_BY_NAME, clean)]

    async def like(self, text: str, limit: int = 10) -> list[Identity]:
        """Active identities whose name contains `text` literally: % and _ match themselves."""
        pattern = _literal(text)
        return [
            identity_of(r) for r in await self.db.pool.fetch(q.IDENTITY_NAME_LIKE, pattern, limit)
        ]

    async def all(self, *, include_deleted: bool = False) -> list[Identity]:
        return [identity_of(r) for r in await self.db.pool.fetch(q.IDENTITY_LIST, include_deleted)]

    async def search(
        self,
        text: str | None,
        *,
        include_deleted: bool = False,
        before: int | None = None,
        limit: int = 50,
    ) -> list[Identity]:
        """Identities whose name or reference contains `text` literally (None: all), newest
        first, older than identity `before`."""
        pattern = _literal(text) if text else None
        rows = await self.db.pool.fetch(q.IDENTITY_SEARCH, pattern, include_deleted, before, limit)
        return [identity_of(r) for r in rows]

    async def edit(
        self, identity_id: int, actor: str, *, name: str, external_ref: str | None
    ) -> dict[str, dict[str, str | None]] | None:
        """Rename an identity in use, or change its reference; what changed (field: from, to),
        audited as `identity.edit` when anything did. None when it is not in use."""
        async with self.db.transaction() as con:
            row = await con.fetchrow(q.IDENTITY_EDIT, identity_id, name, external_ref)
            if row is None:
                return None
            changed = {
                field: {"from": before, "to": after}
                for field, before, after in (
                    ("name", row["old_name"], name),
                    ("external_ref", row["old_ref"], external_ref),
                )
                if before != after
            }
            if changed:
                await self.db.audit(
                    actor, "identity.edit", f"identity:{identity_id}", changed, con=con
                )
        return changed

    async def merge(
        self, source: int, target: int, actor: str, *, con: Connection | None = None
    ) -> Merged | None:
        """Merge identity `source` into `target`: its faces move (but for photos `target` has
        already), both templates are rebuilt, and `source` is left forgotten, pointing at
        `target`. Audited on both ids (`identity.merged` on the source, `identity.merge` on the
        target). None unless both are distinct identities in use. In the caller's transaction
        when `con` is given (what follows the identity goes in the same one)."""
        if source == target:
            return None
        async with self.db.joined(con) as con:
            locked = await con.fetch(q.IDENTITIES_LOCK, [source, target])
            if len(locked) != 2 or not all(r["active"] for r in locked):
                return None
            moved = _count(await con.execute(q.FACES_MOVE, source, target))
            left = _count(await con.execute(q.FACES_DEACTIVATE, source))
            await con.fetchval(q.IDENTITY_MERGED, source, target, actor)
            details = {"source": source, "into": target, "faces_moved": moved, "faces_left": left}
            await self.db.audit(actor, "identity.merged", f"identity:{source}", details, con=con)
            await self.db.audit(actor, "identity.merge", f"identity:{target}", details, con=con)
            await self.templates.refresh([source, target], con=con)
        return Merged(source, target, moved, left)

    async def forget(
        self, identity_id: int, actor: str, *, erase: bool, con: Connection | None = None
    ) -> bool:
        """The identity and its faces leave every future search; with `erase` its faces'
        embeddings and pictures (and its name) are erased in the same transaction, otherwise
        it can be restored until `erase_forgotten` runs for it. In the caller's transaction
        when `con` is given (what else goes with the identity goes in the same one)."""
        async with self.db.joined(con) as c:
            done = await c.fetchval(q.IDENTITY_SOFT_DELETE, identity_id, actor)
            if done is None:
                return False
            faces = await c.execute(q.FACES_DEACTIVATE, identity_id)
            await self.db.audit(
                actor,
                "identity.forget",
                f"identity:{identity_id}",
                {"faces_deactivated": _count(faces), "erase_now": erase},
                con=c,
            )
            if erase:
                await self._erase(c, identity_id, actor)
            await self.templates.refresh([identity_id], con=c)
        return True

    async def restore(self, identity_id: int, actor: str) -> bool:
        """Undo a forget that was not erased yet: the identity and its faces search again."""
        async with self.db.transaction() as con:
            done = await con.fetchval(q.IDENTITY_RESTORE, identity_id)
            if done is None:
                return False
            faces = await con.execute(q.FACES_REACTIVATE, identity_id)
            await self.db.audit(
                actor,
                "identity.restore",
                f"identity:{identity_id}",
                {"faces_reactivated": _count(faces)},
                con=con,
            )
            await self.templates.refresh([identity_id], con=con)
        return True

    async def erase_forgotten(self, forgotten_before: datetime, actor: str) -> list[int]:
        """Erase for good every identity forgotten before the cutoff (the end of the grace
        period); returns their ids. One transaction per identity."""
        erased: list[int] = []
        for row in await self.db.pool.fetch(q.IDENTITIES_TO_ERASE, forgotten_before):
            async with self.db.transaction() as con:
                if await self._erase(con, row["id"], actor):
                    await self.templates.refresh([row["id"]], con=con)
                    erased.append(row["id"])
        return erased

    async def _erase(self, con: Connection, identity_id: int, actor: str) -> bool:
        if await con.fetchval(q.IDENTITY_ERASE, identity_id) is None:
            return False
        faces = await con.execute(q.FACES_ERASE, identity_id)
        await self.db.audit(
            actor,
            "identity.erase",
            f"identity:{identity_id}",
            {"faces_erased": _count(faces)},
            con=con,
        )
        return True


def _literal(text: str) -> str:
    """`text` for ILIKE ... ESCAPE '!': % and _ match themselves."""
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _count(status: str) -> int:
    """Rows touched, from a command status such as 'UPDATE 3'."""
    return int(status.split()[-1])


def identity_of(row: Any) -> Identity:
    return Identity(**{k: row[k] for k in Identity.__dataclass_fields__})
