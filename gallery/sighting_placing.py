"""One placement transaction of the sightings' store: the shortlists of past sightings, the
rows exact scoring reads, and the writes of placements, merges and groups' ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gallery.database import Connection, Database
from gallery.queries import search as search_sql
from gallery.queries import sightings as q
from gallery.sighting_records import (
    Added,
    GroupChanged,
    NewSighting,
    Shortlist,
    SightingVector,
    array,
    count,
    full,
    similarity,
    vector,
)


class Placing:
    """Reads and writes of one placement transaction (Sightings.placing)."""

    def __init__(self, db: Database, con: Connection, *, ef_search: int, shortlist: int) -> None:
        self.db = db
        self.con = con
        self.ef_search = ef_search
        self.shortlist_size = shortlist
        self._settings = False

    async def kept(self, model: str) -> dict[int, int]:
        """The unknown persons kept: {sightings: open groups with that many}, each sighting in
        no group counted as a group of one."""
        kept = {int(r["n"]): int(r["groups"]) for r in await self.con.fetch(q.KEPT_GROUPS, model)}
        alone = int(await self.con.fetchval(q.KEPT_UNGROUPED, model))
        if alone:
            kept[1] = kept.get(1, 0) + alone
        return kept

    async def shortlist(
        self, embedding: np.ndarray, model: str, *, above: float, exclude: int | None = None
    ) -> Shortlist:
        """What a face could reach `above` with (every sighting of each), as the gallery
        searches: HNSW shortlists of the sightings in groups, of those in none and of the
        groups' templates, then all the sightings of what they name, for exact scoring.
        `exclude`: a sighting placed again (nightly).

        Crowded: the shortlist of sightings in no group, or of templates, came back full and
        still within reach, so one within reach may be missing. A full shortlist of grouped
        sightings is not: it is the face's own group, photographed that often, and another group
        within reach is named by its template."""
        query = np.asarray(embedding, dtype=np.float32)
        limit = self.shortlist_size
        await self._search_settings()
        grouped = await self.con.fetch(q.GROUPED_SHORTLIST, query, model, limit)
        extra = 1 if exclude is not None else 0
        alone = await self.con.fetch(q.ALONE_SHORTLIST, query, model, limit + extra)
        alone = [r for r in alone if r["id"] != exclude][:limit]
        templates = await self.con.fetch(q.GROUPS_SHORTLIST, query, model, limit)
        crowded = full(alone, limit, above) or full(templates, limit, above)
        groups = {int(r["group_id"]) for r in grouped if similarity(r) >= above}
        groups |= {int(r["id"]) for r in templates if similarity(r) >= above}
        singles = [int(r["id"]) for r in alone if similarity(r) >= above]
        return await self._members(sorted(groups), singles, crowded)

    async def groups_near(self, group_id: int, model: str, *, above: float) -> Shortlist:
        """The open groups whose template is within reach of this group's (merges)."""
        template = await self.con.fetchval(q.GROUP_TEMPLATE, group_id)
        if template is None:
            return Shortlist({}, (), False)
        limit = self.shortlist_size
        await self._search_settings()
        rows = await self.con.fetch(q.GROUPS_SHORTLIST, array(template), model, limit + 1)
        rows = [r for r in rows if r["id"] != group_id][:limit]
        near = sorted(int(r["id"]) for r in rows if similarity(r) >= above)
        return await self._members(near, [], full(rows, limit, above))

    async def groups_of(self, group_ids: Sequence[int]) -> dict[int, tuple[SightingVector, ...]]:
        return (await self._members(sorted(int(g) for g in group_ids), [], False)).groups

    async def ungrouped(
        self, model: str, *, deferred_only: bool = False, after: int = 0, limit: int = 500
    ) -> list[SightingVector]:
        """The sightings in no group after the id `after`, oldest first, a page at a time (the
        nightly pass places them again)."""
        rows = await self.con.fetch(q.UNGROUPED, model, not deferred_only, after, limit)
        return [vector(r) for r in rows]

    async def open_groups(self, model: str, *, min_sightings: int = 2) -> list[int]:
        return [int(r[0]) for r in await self.con.fetch(q.OPEN_GROUPS, model, min_sightings)]

    async def add(
        self,
        new: NewSighting,
        *,
        state: str,
        join_group: int | None = None,
        pair_with: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Added:
        """Store a new sighting where the rules placed it: in `join_group`, in a new group with
        `pair_with` (a sighting in none), or in none (`state` 'alone' or 'deferred')."""
        if join_group is not None and pair_with is not None:
            raise ValueError("a sighting joins a group or pairs with a sighting, not both")
        if join_group is None and pair_with is None and state not in ("alone", "deferred"):
            raise ValueError(f"a sighting in no group is alone or deferred, not {state!r}")
        if join_group is not None:
            await self._open(join_group)
        sighting_id = int(
            await self.con.fetchval(
                q.SIGHTING_INSERT,
                new.model,
                np.asarray(new.embedding, dtype=np.float32),
                new.recipe,
                float(new.det_score),
                new.quality,
                float(new.quality_score),
                bool(new.low_quality),
                [float(v) for v in new.bbox],
                new.crop_jpeg,
                new.source_sha256,
                new.lookup_id,
                new.lookup_face_id,
                new.photo_index,
                new.user_id,
                new.actor,
                join_group,
                "grouped" if join_group is not None else "alone" if pair_with else state,
                None if join_group is not None or pair_with else reason,
                new.face_index,
            )
        )
        group_id, created = await self._group_with(
            sighting_id, new.model, join_group, pair_with, new.actor
        )
        await self.db.audit(
            new.actor,
            "sighting.add",
            f"sighting:{sighting_id}",
            {
                "lookup_id": new.lookup_id,
                "group_id": group_id,
                "new_group": created,
                "state": "grouped" if group_id is not None else state,
                **(details or {}),
            },
            con=self.con,
        )
        return Added(sighting_id, group_id, created)

    async def place_again(
        self,
        sighting: SightingVector,
        model: str,
        *,
        state: str,
        actor: str,
        join_group: int | None = None,
        pair_with: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> int | None:
        """The nightly pass's new placement of a sighting in no group; the group it is now in.
        Written and audited only when something changed."""
        if sighting.group_id is not None:
            raise GroupChanged(f"sighting {sighting.id} is already in a group")
        if join_group is None and pair_with is None:
            changed = await self.con.fetchval(q.SIGHTING_PLACE, sighting.id, state, reason)
            if changed is not None:
                await self.db.audit(
                    actor,
                    "sighting.place",
                    f"sighting:{sighting.id}",
                    {"state": state, **(details or {})},
                    con=self.con,
                )
            return None
        if join_group is not None:
            await self._open(join_group)
            if count(await self.con.execute(q.SIGHTINGS_INTO_GROUP, [sighting.id], join_group)):
                await self.con.execute(q.GROUP_REFRESH, join_group)
            else:
                raise GroupChanged(f"sighting {sighting.id} is already in a group")
            group_id: int | None = join_group
            created = False
        else:
            group_id, created = await self._group_with(sighting.id, model, None, pair_with, actor)
        await self.db.audit(
            actor,
            "sighting.place",
            f"sighting:{sighting.id}",
            {"state": "grouped", "group_id": group_id, "new_group": created, **(details or {})},
            con=self.con,
        )
        return group_id

    async def merge(
        self, keep: int, gone: int, *, actor: str, details: dict[str, Any] | None = None
    ) -> None:
        """Move every sighting of `gone` into `keep`; `gone` ends as merged."""
        if keep == gone:
            raise ValueError("a group cannot merge with itself")
        await self._open(keep)
        await self._open(gone)
        moved = count(await self.con.execute(q.GROUP_MOVE, keep, gone))
        await self.con.execute(q.GROUP_MERGED, gone, keep, actor)
        await self.con.execute(q.GROUP_REFRESH, keep)
        await self.db.audit(
            actor,
            "unknown_person.merge",
            f"unknown_person:{keep}",
            {"merged": gone, "sightings": moved, **(details or {})},
            con=self.con,
        )

    async def settle(self, group_id: int, actor: str, *, ending: str) -> int:
        """After sightings left a group: its template and count again, or, with fewer than two
        left, its end (`ending`), the last one alone. 1 when it ended."""
        state = await self.con.fetchrow(q.GROUP_STATE, group_id)
        if state is None:
            return 0
        left = int(await self.con.fetchval(q.GROUP_LEFT, group_id))
        if state["state"] != "open":
            await self.con.execute(q.GROUP_COUNT_REFRESH, group_id)
            return 0
        if left >= 2:
            await self.con.execute(q.GROUP_REFRESH, group_id)
            return 0
        await self.con.execute(q.GROUP_RELEASE, group_id, ending, False)
        await self.con.execute(q.GROUP_END, group_id, ending, actor)
        return 1

    # --- helpers ----------------------------------------------------------------------------
    async def _search_settings(self) -> None:
        if not self._settings:
            limit = self.shortlist_size
            await self.con.execute(
                search_sql.search_settings(self.ef_search, max(20000, limit * 50))
            )
            self._settings = True

    async def _members(
        self, group_ids: list[int], alone_ids: list[int], crowded: bool
    ) -> Shortlist:
        rows = (
            await self.con.fetch(q.SIGHTINGS_OF, group_ids, alone_ids)
            if (group_ids or alone_ids)
            else []
        )
        groups: dict[int, list[SightingVector]] = {}
        alone = []
        for r in rows:
            v = vector(r)
            if v.group_id is None:
                alone.append(v)
            else:
                groups.setdefault(v.group_id, []).append(v)
        return Shortlist({g: tuple(vs) for g, vs in groups.items()}, tuple(alone), crowded)

    async def _open(self, group_id: int) -> None:
        state = await self.con.fetchrow(q.GROUP_STATE, group_id)
        if state is None or state["state"] != "open":
            raise GroupChanged(f"unknown person {group_id} is not open")

    async def _group_with(
        self,
        sighting_id: int,
        model: str,
        join_group: int | None,
        pair_with: int | None,
        actor: str,
    ) -> tuple[int | None, bool]:
        if join_group is not None:
            await self.con.execute(q.GROUP_REFRESH, join_group)
            return join_group, False
        if pair_with is None:
            return None, False
        pair = [int(pair_with), sighting_id]
        group_id = int(await self.con.fetchval(q.GROUP_CREATE, model, pair))
        if count(await self.con.execute(q.SIGHTINGS_INTO_GROUP, pair, group_id)) != 2:
            raise GroupChanged(f"sighting {pair_with} is no longer in no group")
        await self.db.audit(
            actor,
            "unknown_person.create",
            f"unknown_person:{group_id}",
            {"sightings": pair},
            con=self.con,
        )
        return group_id, True
