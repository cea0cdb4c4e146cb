"""Sightings kept in memory, with the database store's behaviour (gallery.sightings.Placing):
the benchmark streams LFW through it, and the tests hold the database's store to it."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gallery.sighting_records import Added, GroupChanged, NewSighting, Shortlist, SightingVector

SHORTLIST = 200  # as the gallery's default shortlist


@dataclass
class _Group:
    members: list[int]
    state: str = "open"


class _Rows:
    """A growing matrix of unit vectors (rows never move: a row's index is its key)."""

    def __init__(self) -> None:
        self.matrix = np.zeros((64, 512), dtype=np.float32)
        self.live = np.zeros(64, dtype=bool)
        self.count = 0

    def put(self, row: int, vector: np.ndarray) -> None:
        while row >= len(self.matrix):
            self.matrix = np.vstack([self.matrix, np.zeros_like(self.matrix)])
            self.live = np.concatenate([self.live, np.zeros_like(self.live)])
        self.matrix[row] = vector
        self.live[row] = True
        self.count = max(self.count, row + 1)

    def ranked(
        self, query: np.ndarray, limit: int, skip: int | None = None
    ) -> list[tuple[int, float]]:
        """(row, similarity) of the `limit` most similar live rows, best first."""
        sims = self.matrix[: self.count] @ query
        sims = np.where(self.live[: self.count], sims, -np.inf)
        if skip is not None and skip < self.count:
            sims[skip] = -np.inf
        order = np.argsort(-sims, kind="stable")[:limit]
        return [(int(i), float(sims[i])) for i in order if np.isfinite(sims[i])]


class MemorySightings:
    """Every sighting and group of one model in memory; exact similarities stand in for the
    HNSW shortlists (same length, same 'crowded' rule)."""

    def __init__(self, shortlist_length: int = SHORTLIST) -> None:
        self.shortlist_length = shortlist_length
        self.sightings: dict[int, SightingVector] = {}
        self.groups: dict[int, _Group] = {}
        self.log: list[tuple[str, dict[str, Any]]] = []  # (action, details) of every write
        self._grouped = _Rows()  # row: sighting id, live while it is in an open group
        self._alone_rows = _Rows()  # row: sighting id, live while it is in no group
        self._templates = _Rows()  # row: group id, live while the group is open
        self._sizes: Counter[int] = Counter()  # open groups by their number of sightings
        self._alone = 0  # sightings in no group

    @asynccontextmanager
    async def placing(self) -> AsyncIterator[MemorySightings]:
        yield self

    # --- reads ------------------------------------------------------------------------------
    async def kept(self, model: str) -> dict[int, int]:
        kept = {n: c for n, c in self._sizes.items() if c > 0}
        if self._alone:
            kept[1] = kept.get(1, 0) + self._alone
        return kept

    async def shortlist(
        self, embedding: np.ndarray, model: str, *, above: float, exclude: int | None = None
    ) -> Shortlist:
        query = np.asarray(embedding, dtype=np.float32)
        limit = self.shortlist_length
        grouped = self._grouped.ranked(query, limit)
        alone = self._alone_rows.ranked(query, limit, exclude)
        t_rows = self._templates.ranked(query, limit)
        crowded = _full(alone, limit, above) or _full(t_rows, limit, above)
        named = {self.sightings[s].group_id for s, sim in grouped if sim >= above}
        named |= {g for g, sim in t_rows if sim >= above}
        singles = [s for s, sim in alone if sim >= above]
        return self._members(sorted(g for g in named if g is not None), singles, crowded)

    async def groups_near(self, group_id: int, model: str, *, above: float) -> Shortlist:
        if group_id not in self.groups or self.groups[group_id].state != "open":
            return Shortlist({}, (), False)
        limit = self.shortlist_length
        t = self._templates.matrix[group_id]
        others = self._templates.ranked(t, limit, group_id)
        near = sorted(g for g, sim in others if sim >= above)
        return self._members(near, [], _full(others, limit, above))

    async def groups_of(self, group_ids: Sequence[int]) -> dict[int, tuple[SightingVector, ...]]:
        return self._members(sorted(group_ids), [], False).groups

    async def ungrouped(
        self, model: str, *, deferred_only: bool = False, after: int = 0, limit: int = 500
    ) -> list[SightingVector]:
        return [
            s
            for sid, s in sorted(self.sightings.items())
            if sid > after and s.group_id is None and (not deferred_only or s.state == "deferred")
        ][:limit]

    async def open_groups(self, model: str, *, min_sightings: int = 2) -> list[int]:
        return sorted(
            g
            for g, grp in self.groups.items()
            if grp.state == "open" and len(grp.members) >= min_sightings
        )

    # --- writes -----------------------------------------------------------------------------
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
        sid = len(self.sightings) + 1
        vector = SightingVector(
            id=sid,
            group_id=None,
            embedding=np.asarray(new.embedding, dtype=np.float32),
            lookup_id=new.lookup_id,
            photo_index=new.photo_index,
            apart=(),
            low_quality=new.low_quality,
            state=state if join_group is None and pair_with is None else "alone",
        )
        self.sightings[sid] = vector
        self._alone_rows.put(sid, vector.embedding)
        self._alone += 1
        group, created = self._group_with(sid, join_group, pair_with)
        self.log.append(("sighting.add", {"sighting": sid, "group": group, **(details or {})}))
        return Added(sid, group, created)

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
        if self.sightings[sighting.id].group_id is not None:
            raise GroupChanged(f"sighting {sighting.id} is already in a group")
        if join_group is None and pair_with is None:
            self.sightings[sighting.id] = replace(self.sightings[sighting.id], state=state)
            return None
        group, _ = self._group_with(sighting.id, join_group, pair_with)
        self.log.append(("sighting.place", {"sighting": sighting.id, "group": group}))
        return group

    async def merge(
        self, keep: int, gone: int, *, actor: str, details: dict[str, Any] | None = None
    ) -> None:
        for g in (keep, gone):
            if self.groups[g].state != "open":
                raise GroupChanged(f"unknown person {g} is not open")
        for sid in self.groups[gone].members:
            self.sightings[sid] = replace(self.sightings[sid], group_id=keep)
        self._sizes[len(self.groups[keep].members)] -= 1
        self._sizes[len(self.groups[gone].members)] -= 1
        self.groups[keep].members += self.groups[gone].members
        self._sizes[len(self.groups[keep].members)] += 1
        self.groups[gone] = _Group([], "merged")
        self._templates.live[gone] = False
        self._refresh(keep)
        self.log.append(("unknown_person.merge", {"kept": keep, "merged": gone, **(details or {})}))

    # --- helpers ----------------------------------------------------------------------------
    def _group_with(
        self, sid: int, join_group: int | None, pair_with: int | None
    ) -> tuple[int | None, bool]:
        if join_group is not None:
            if self.groups[join_group].state != "open":
                raise GroupChanged(f"unknown person {join_group} is not open")
            self._put(sid, join_group)
            return join_group, False
        if pair_with is None:
            return None, False
        if self.sightings[pair_with].group_id is not None:
            raise GroupChanged(f"sighting {pair_with} is no longer in no group")
        gid = len(self.groups) + 1
        self.groups[gid] = _Group([])
        self._put(pair_with, gid)
        self._put(sid, gid)
        return gid, True

    def _put(self, sid: int, gid: int) -> None:
        if self.sightings[sid].group_id is None:
            self._alone -= 1
            self._alone_rows.live[sid] = False
            self._grouped.put(sid, self.sightings[sid].embedding)
        self.sightings[sid] = replace(self.sightings[sid], group_id=gid, state="grouped")
        members = self.groups[gid].members
        if members:
            self._sizes[len(members)] -= 1
        members.append(sid)
        self._sizes[len(members)] += 1
        self._refresh(gid)

    def _refresh(self, gid: int) -> None:
        """The group's template, as the database's GROUP_REFRESH makes it."""
        vs = [self.sightings[s] for s in self.groups[gid].members]
        chosen = [v for v in vs if not v.low_quality] or vs
        mean = np.stack([v.embedding for v in chosen]).astype(np.float64).mean(axis=0)
        self._templates.put(gid, (mean / np.linalg.norm(mean)).astype(np.float32))

    def _members(self, group_ids: list[int], alone: list[int], crowded: bool) -> Shortlist:
        groups = {
            g: tuple(self.sightings[s] for s in sorted(self.groups[g].members))
            for g in group_ids
            if self.groups[g].state == "open"
        }
        return Shortlist(groups, tuple(self.sightings[s] for s in sorted(alone)), crowded)


def _full(rows: Sequence[tuple[int, float]], limit: int, above: float) -> bool:
    return len(rows) >= limit and bool(rows) and rows[-1][1] >= above
