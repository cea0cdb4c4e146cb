"""Grouping sightings into unknown persons over a store: a new sighting placed at once, and the
nightly pass that merges groups on strong evidence and places the deferred again (the rules:
facefind.scoring.sightings; the store: gallery.sightings, or MemorySightings for benchmarks)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from facefind.scoring.calibration import Calibration
from facefind.scoring.sightings import (
    JOIN_TARGET,
    SHORTLIST_MARGIN,
    Candidate,
    Member,
    Placement,
    SightingThresholds,
    apart_keys,
    decide,
    group_key,
    merge_partners,
    one_person,
    sighting_key,
    thresholds_for,
)
from gallery.sighting_records import Added, NewSighting, Shortlist, SightingVector

logger = logging.getLogger(__name__)


class PlacingSession(Protocol):
    """One serialised transaction of a sighting store (gallery.sightings.Placing)."""

    async def kept(self, model: str) -> dict[int, int]: ...

    async def shortlist(
        self, embedding: np.ndarray, model: str, *, above: float, exclude: int | None = None
    ) -> Shortlist: ...

    async def groups_near(self, group_id: int, model: str, *, above: float) -> Shortlist: ...

    async def groups_of(
        self, group_ids: Sequence[int]
    ) -> dict[int, tuple[SightingVector, ...]]: ...

    async def ungrouped(
        self, model: str, *, deferred_only: bool = False, after: int = 0, limit: int = 500
    ) -> list[SightingVector]: ...

    async def open_groups(self, model: str, *, min_sightings: int = 2) -> list[int]: ...

    async def add(
        self,
        new: NewSighting,
        *,
        state: str,
        join_group: int | None = None,
        pair_with: int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Added: ...

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
    ) -> int | None: ...

    async def merge(
        self, keep: int, gone: int, *, actor: str, details: dict[str, Any] | None = None
    ) -> None: ...


class SightingStore(Protocol):
    def placing(self) -> AbstractAsyncContextManager[Any]: ...


# --- from the store's rows to the rules' candidates -------------------------------------------
def member(v: SightingVector) -> Member:
    return Member(
        id=v.id,
        embedding=v.embedding,
        apart=apart_keys(v.lookup_id, v.photo_index, v.apart),
        good=not v.low_quality,
    )


def candidates(shortlist: Shortlist) -> list[Candidate]:
    out = [
        Candidate(group_key(g), tuple(member(v) for v in vs))
        for g, vs in sorted(shortlist.groups.items())
    ]
    out += [Candidate(sighting_key(v.id), (member(v),)) for v in shortlist.alone]
    return out


def _where(placement: Placement) -> dict[str, Any]:
    """The store's arguments for a placement."""
    if placement.outcome == "joined":
        assert placement.target is not None
        kind, ident = placement.target
        if kind == "group":
            return {"state": "grouped", "join_group": ident}
        return {"state": "grouped", "pair_with": ident}
    return {"state": placement.outcome, "reason": placement.reason}


# --- a new sighting ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    sighting_id: int
    group_id: int | None  # the unknown person it joined or formed; None: in no group
    placement: Placement

    @property
    def seen_before(self) -> bool:
        return self.group_id is not None


async def place_sighting(
    store: SightingStore, new: NewSighting, cal: Calibration, *, target: float = JOIN_TARGET
) -> Placed:
    """Keep a face that got no candidate as a sighting, placed by the rules: in the one unknown
    person it matches with enough support, in a new one with the one sighting in no group it
    matches, alone, or deferred to the nightly pass. The search among past sightings is the
    gallery's: HNSW shortlists, then every named group scored exactly from all its sightings."""
    async with store.placing() as p:
        thr = thresholds_for(cal, await p.kept(new.model), target=target)
        short = await p.shortlist(new.embedding, new.model, above=thr.join - SHORTLIST_MARGIN)
        placement = decide(
            new.embedding,
            apart_keys(new.lookup_id, new.photo_index),
            candidates(short),
            thr,
            crowded=short.crowded,
        )
        added = await p.add(new, **_where(placement), details=placement.as_dict())
    return Placed(added.sighting_id, added.group_id, placement)


# --- the nightly pass -------------------------------------------------------------------------
@dataclass
class NightlyReport:
    merges: int = 0  # groups merged into another
    bridges: int = 0  # groups with strong evidence for another left apart: a look-alike between
    placed: int = 0  # sightings in no group that joined or formed one
    deferred: int = 0  # sightings still deferred after the pass
    looked_at: int = 0  # sightings in no group placed again


async def nightly_pass(
    store: SightingStore,
    model: str,
    cal: Calibration,
    *,
    actor: str,
    target: float = JOIN_TARGET,
    deferred_only: bool = False,
) -> NightlyReport:
    """Merge the groups that are one person on strong evidence, then place every sighting in no
    group again (only the deferred ones with `deferred_only`), oldest first, as if it arrived
    now. Each step is its own transaction, so live placements wait for one step, not the pass."""
    report = NightlyReport()
    async with store.placing() as p:
        group_ids = await p.open_groups(model)
    gone: set[int] = set()
    for group_id in group_ids:
        if group_id in gone:
            continue
        async with store.placing() as p:
            merged = await _merge_around(p, group_id, model, cal, target, actor, report)
            gone.update(merged)

    grouped_now: set[int] = set()
    after = 0
    while True:
        async with store.placing() as p:
            page = await p.ungrouped(model, deferred_only=deferred_only, after=after)
        if not page:
            break
        after = page[-1].id
        for s in page:
            if s.id not in grouped_now:
                await _place_again(store, s, model, cal, target, actor, report, grouped_now)
    logger.info(
        "sightings' nightly pass for %s: %d groups merged, %d left apart as bridges, "
        "%d of %d sightings in no group placed, %d still deferred",
        model,
        report.merges,
        report.bridges,
        report.placed,
        report.looked_at,
        report.deferred,
    )
    return report


async def _place_again(
    store: SightingStore,
    s: SightingVector,
    model: str,
    cal: Calibration,
    target: float,
    actor: str,
    report: NightlyReport,
    grouped_now: set[int],
) -> None:
    """Place a sighting in no group as if it arrived now (compared with all but itself)."""
    report.looked_at += 1
    async with store.placing() as p:
        kept = await p.kept(model)
        kept[1] = max(0, kept.get(1, 0) - 1)
        thr = thresholds_for(cal, kept, target=target)
        short = await p.shortlist(
            s.embedding, model, above=thr.join - SHORTLIST_MARGIN, exclude=s.id
        )
        placement = decide(
            s.embedding,
            apart_keys(s.lookup_id, s.photo_index, s.apart),
            candidates(short),
            thr,
            crowded=short.crowded,
        )
        where = _where(placement)
        group = await p.place_again(s, model, actor=actor, details=placement.as_dict(), **where)
    if group is not None:
        report.placed += 1
        if where.get("pair_with") is not None:
            grouped_now.add(int(where["pair_with"]))
    elif placement.outcome == "deferred":
        report.deferred += 1


async def _merge_around(
    p: Any,
    group_id: int,
    model: str,
    cal: Calibration,
    target: float,
    actor: str,
    report: NightlyReport,
) -> set[int]:
    """Merge `group_id` with the groups that are one person with it; the ids merged away."""
    thr = thresholds_for(cal, await p.kept(model), target=target)
    own = await p.groups_of([group_id])
    if group_id not in own:
        return set()  # merged or ended meanwhile
    group = Candidate(group_key(group_id), tuple(member(v) for v in own[group_id]))
    near = await p.groups_near(group_id, model, above=thr.support)
    if near.crowded:
        return set()
    partners = merge_partners(group, candidates(near), thr)
    if not partners:
        return set()
    by_key = {c.key: c for c in candidates(near)}
    cluster = [group] + [by_key[e.gone if e.keep == group.key else e.keep] for e in partners]
    keys = {c.key for c in cluster}
    if not one_person(cluster, thr) or not await _closed(p, cluster, keys, model, thr):
        report.bridges += 1
        return set()
    keep = min(cluster, key=lambda c: (-c.size, c.key))
    merged = set()
    for other in cluster:
        if other.key == keep.key:
            continue
        evidence = [e for e in partners if other.key in (e.keep, e.gone)]
        details = {"evidence": evidence[0].as_dict()} if evidence else {}
        details["thresholds"] = thr.as_dict()
        await p.merge(keep.key[1], other.key[1], actor=actor, details=details)
        merged.add(other.key[1])
        report.merges += 1
    return merged


async def _closed(
    p: Any,
    cluster: Sequence[Candidate],
    keys: set[tuple[str, int]],
    model: str,
    thr: SightingThresholds,
) -> bool:
    """Whether no group outside the cluster has strong evidence with one inside: else a member
    bridges to someone else, and the cluster is not merged."""
    for c in cluster[1:]:
        near = await p.groups_near(c.key[1], model, above=thr.support)
        if near.crowded:
            return False
        for e in merge_partners(c, candidates(near), thr):
            if e.keep not in keys or e.gone not in keys:
                return False
    return True
