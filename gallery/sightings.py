"""Sightings and unknown persons: faces that got no candidate, grouped by the rules of
facefind.scoring.sightings; placements, merges, naming, dismissal, retention and forgetting,
each audited in its own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from gallery.database import Connection, Database
from gallery.faces import Faces
from gallery.identities import Identities
from gallery.queries import sightings as q
from gallery.sighting_placing import Placing
from gallery.sighting_records import (
    STATES,
    Added,
    GroupChanged,
    NewSighting,
    Purged,
    Shortlist,
    Sighting,
    SightingVector,
    UnknownPerson,
    array,
    count,
)

__all__ = [
    "STATES",
    "Added",
    "GroupChanged",
    "NewSighting",
    "Placing",
    "Purged",
    "Shortlist",
    "Sighting",
    "SightingVector",
    "Sightings",
    "UnknownPerson",
]


# --- the repository ---------------------------------------------------------------------------
class Sightings:
    """Sightings and unknown persons. Naming a group writes an identity and its faces through
    the gallery's own repositories, in the naming's transaction."""

    def __init__(
        self,
        db: Database,
        identities: Identities,
        faces: Faces,
        *,
        ef_search: int = 200,
        shortlist: int = 200,
    ) -> None:
        self.db = db
        self.identities = identities
        self.faces = faces
        self.ef_search = ef_search
        self.shortlist = shortlist

    @asynccontextmanager
    async def placing(self) -> AsyncIterator[Placing]:
        """One transaction in which the groups are read, decided on and written, while no other
        placement or group decision runs (they would decide on what this one changes)."""
        async with self.db.transaction() as con:
            await con.execute(q.SIGHTINGS_LOCK, q.SIGHTINGS_LOCK_ID)
            yield Placing(self.db, con, ef_search=self.ef_search, shortlist=self.shortlist)

    # --- reading ----------------------------------------------------------------------------
    async def get(self, sighting_id: int) -> Sighting | None:
        row = await self.db.pool.fetchrow(q.SIGHTING_GET, sighting_id)
        return _sighting(row) if row else None

    async def crop(self, sighting_id: int) -> bytes | None:
        value = await self.db.pool.fetchval(q.SIGHTING_CROP, sighting_id)
        return bytes(value) if value is not None else None

    async def seen_before(self, sighting_id: int) -> list[Sighting]:
        """The other sightings of its group taken before it, oldest first: what the officer's
        reply counts ("photographed 2 times before")."""
        return [_sighting(r) for r in await self.db.pool.fetch(q.SEEN_BEFORE, sighting_id)]

    async def of_person(self, lookup_id: int, face_index: int) -> tuple[int, int | None] | None:
        """(id, group) of the sighting kept for a person of a lookup, if one was."""
        row = await self.db.pool.fetchrow(q.SIGHTING_OF_PERSON, lookup_id, face_index)
        return (int(row["id"]), row["group_id"]) if row else None

    async def of_lookup(self, lookup_id: int) -> list[Sighting]:
        return [_sighting(r) for r in await self.db.pool.fetch(q.LOOKUP_SIGHTINGS, lookup_id)]

    async def unknown_persons(
        self, model: str, *, state: str = "open", limit: int = 20, offset: int = 0
    ) -> list[UnknownPerson]:
        """Groups in a state, the last seen first."""
        rows = await self.db.pool.fetch(q.GROUPS_LIST, model, state, limit, offset)
        return [_group(r) for r in rows]

    async def unknown_person(self, group_id: int) -> tuple[UnknownPerson, list[Sighting]] | None:
        """A group with all its sightings (crops included), oldest first."""
        async with self.db.transaction() as con:
            row = await con.fetchrow(q.GROUP_GET, group_id)
            if row is None:
                return None
            sightings = [_sighting(r) for r in await con.fetch(q.GROUP_SIGHTINGS, group_id)]
        return _group(row), sightings

    # --- admins' decisions ------------------------------------------------------------------
    async def name(
        self,
        group_id: int,
        *,
        display_name: str,
        reference_ids: Sequence[int],
        actor: str,
        external_ref: str | None = None,
        notes: str | None = None,
    ) -> int | None:
        """Turn an open group into an identity whose references are the given sightings of it
        (facefind.scoring.sightings.choose_references); its sightings leave every search. The
        identity's id; None when the group is not open."""
        if not reference_ids:
            raise ValueError("naming a group needs at least one reference")
        async with self.placing() as p:
            con = p.con
            state = await con.fetchrow(q.GROUP_STATE, group_id)
            if state is None or state["state"] != "open":
                return None
            rows = await con.fetch(q.REFERENCE_ROWS, group_id, [int(i) for i in reference_ids])
            if len(rows) != len(set(reference_ids)):
                raise ValueError("every reference must be a sighting of the group")
            identity = await self.identities.create(
                display_name, actor, external_ref, notes, con=con
            )
            faces = []
            for r in rows:
                face_id = await self.faces.add(
                    identity_id=identity.id,
                    model=state["model"],
                    embedding=array(r["embedding"]),
                    det_score=float(r["det_score"]),
                    quality=dict(r["quality"]),
                    bbox=list(r["bbox"]),
                    crop_jpeg=bytes(r["crop_jpeg"]) if r["crop_jpeg"] is not None else b"",
                    source_sha256=r["source_sha256"] or f"sighting:{r['id']}",
                    actor=actor,
                    recipe=r["recipe"],
                    low_quality=bool(r["low_quality"]),
                    con=con,
                )
                faces.append(face_id)
            await con.execute(q.GROUP_NAMED, group_id, identity.id, actor)
            await con.execute(q.SIGHTINGS_NAMED, group_id)
            await self.db.audit(
                actor,
                "unknown_person.name",
                f"unknown_person:{group_id}",
                {
                    "identity_id": identity.id,
                    "references": [int(r["id"]) for r in rows],
                    "faces": faces,
                },
                con=con,
            )
        return int(identity.id)

    async def dismiss(self, group_id: int, actor: str) -> bool:
        """A wrong grouping: the group ends and its sightings are alone again, never to be
        grouped together again. False when the group is not open."""
        async with self.placing() as p:
            state = await p.con.fetchrow(q.GROUP_STATE, group_id)
            if state is None or state["state"] != "open":
                return False
            released = count(await p.con.execute(q.GROUP_RELEASE, group_id, "dismissed", True))
            await p.con.execute(q.GROUP_END, group_id, "dismissed", actor)
            await self.db.audit(
                actor,
                "unknown_person.dismiss",
                f"unknown_person:{group_id}",
                {"sightings": released},
                con=p.con,
            )
        return True

    async def release(self, sighting_id: int, actor: str) -> bool:
        """Take one wrong sighting out of its group (never to join it again); a group left with
        one sighting ends. False when the sighting is in no open group."""
        async with self.placing() as p:
            row = await p.con.fetchrow(q.SIGHTING_GET, sighting_id)
            if row is None or row["state"] != "grouped":
                return False
            group_id = int(row["group_id"])
            await p.con.execute(q.SIGHTING_RELEASE, sighting_id, group_id)
            ended = await p.settle(group_id, actor, ending="dismissed")
            await self.db.audit(
                actor,
                "sighting.release",
                f"sighting:{sighting_id}",
                {"group_id": group_id, "group_ended": ended},
                con=p.con,
            )
        return True

    # --- retention and forgetting -----------------------------------------------------------
    async def purge_before(self, cutoff: datetime, actor: str) -> Purged:
        """Retention: every sighting taken before the cutoff goes, embedding and crop with it;
        a group left with fewer than two sightings ends ('expired')."""
        async with self.placing() as p:
            groups = [int(r[0]) for r in await p.con.fetch(q.GROUPS_OF_OLD, cutoff)]
            deleted = count(await p.con.execute(q.PURGE_OLD, cutoff))
            ended = 0
            for group_id in groups:
                ended += await p.settle(group_id, actor, ending="expired")
            if deleted:
                await self.db.audit(
                    actor,
                    "sighting.purge",
                    None,
                    {"cutoff": cutoff.isoformat(), "sightings": deleted, "groups_ended": ended},
                    con=p.con,
                )
        return Purged(deleted, ended)

    async def forget_identity(
        self, identity_id: int, actor: str, *, con: Connection | None = None
    ) -> int:
        """The identity is forgotten: the sightings of the groups named as it go (in the
        caller's transaction when `con` is given). How many."""
        async with self.db.joined(con) as c:
            groups = [int(r[0]) for r in await c.fetch(q.GROUPS_OF_IDENTITY, identity_id)]
            if not groups:
                return 0
            deleted = count(await c.execute(q.FORGET_OF_GROUPS, groups))
            for group_id in groups:
                await c.execute(q.GROUP_COUNT_REFRESH, group_id)
            if deleted:
                await self.db.audit(
                    actor,
                    "sighting.forget",
                    f"identity:{identity_id}",
                    {"groups": groups, "sightings": deleted},
                    con=c,
                )
        return deleted

    async def follow_merge(
        self, source: int, target: int, actor: str, *, con: Connection | None = None
    ) -> list[int]:
        """Identity `source` was merged into `target`: the unknown persons named as `source`
        are named as `target` (in the caller's transaction when `con` is given); their ids."""
        async with self.db.joined(con) as c:
            groups = [int(r[0]) for r in await c.fetch(q.GROUPS_FOLLOW_MERGE, source, target)]
            if groups:
                await self.db.audit(
                    actor,
                    "unknown.follow_merge",
                    f"identity:{target}",
                    {"groups": groups, "from_identity": source},
                    con=c,
                )
        return groups


def _sighting(r: Any) -> Sighting:
    return Sighting(
        id=int(r["id"]),
        model=r["model"],
        group_id=r["group_id"],
        state=r["state"],
        reason=r["reason"],
        lookup_id=int(r["lookup_id"]),
        lookup_face_id=r["lookup_face_id"],
        photo_index=int(r["photo_index"]),
        user_id=r["user_id"],
        actor=r["actor"],
        quality_score=float(r["quality_score"]),
        low_quality=bool(r["low_quality"]),
        created_at=r["created_at"],
        crop_jpeg=bytes(r["crop_jpeg"]) if "crop_jpeg" in r.keys() and r["crop_jpeg"] else None,
        face_index=r["face_index"],
    )


def _group(r: Any) -> UnknownPerson:
    return UnknownPerson(
        id=int(r["id"]),
        model=r["model"],
        state=r["state"],
        sighting_count=int(r["sighting_count"]),
        identity_id=r["identity_id"],
        merged_into=r["merged_into"],
        decided_by=r["decided_by"],
        decided_at=r["decided_at"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        first_seen=r["first_seen"],
        last_seen=r["last_seen"],
    )
