"""Sightings and unknown persons in PostgreSQL: the database's store places and merges as the
rules do in memory, searches exactly through its HNSW index, names, dismisses, keeps nothing
past retention or a forget, audits every write, and works as the runtime role."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from facefind.scoring.calibration import Calibration
from facefind.scoring.calibration_files import read_calibration
from facefind.scoring.sighting_memory import MemorySightings
from facefind.scoring.sightings import APART, choose_references, thresholds_for
from facefind.scoring.unknown_persons import nightly_pass, place_sighting
from gallery import DEFAULT_RUNTIME_ROLE, AuditKey, Gallery, RuntimeRole, create_pool, migrate
from gallery.queries import sightings as q
from gallery.sightings import NewSighting, Sightings
from tests.conftest import app_dsn

DIM = 512
MODEL = "test-model"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cal() -> Calibration:
    shipped = read_calibration(ROOT / "facefind" / "calibrations" / "buffalo_s.json")
    return dataclasses.replace(shipped, relatives=0.0)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def person(rng: np.random.Generator, photos: int, spread: float = 0.8) -> np.ndarray:
    centre = unit(rng.normal(size=DIM))
    return unit(centre + spread * rng.normal(size=(photos, DIM)) / np.sqrt(DIM))


def new(embedding: np.ndarray, lookup: int, photo: int = 0, score: float = 1.5) -> NewSighting:
    return NewSighting(
        model=MODEL,
        embedding=embedding,
        recipe="test",
        det_score=0.9,
        quality={"ok": True},
        quality_score=score,
        low_quality=score < 1.0,
        bbox=(1.0, 2.0, 30.0, 40.0),
        crop_jpeg=b"\xff\xd8crop",
        lookup_id=lookup,
        actor="tg:7",
        photo_index=photo,
        source_sha256=f"photo-{lookup}",
    )


async def lookups(g: Gallery, n: int) -> list[int]:
    ids = []
    for _ in range(n):
        lookup_id = await g.lookups.create(user_id=None, actor="tg:7", source="cli")
        assert lookup_id is not None
        ids.append(lookup_id)
    return ids


async def actions(g: Gallery) -> list[str]:
    return [r[0] for r in await g.pool.fetch("SELECT action FROM audit_log ORDER BY id")]


def partition(members: dict[int, list[int]], order: dict[int, int]) -> set[frozenset[int]]:
    """Groups as sets of arrival numbers (ids differ between stores)."""
    return {frozenset(order[s] for s in ms) for ms in members.values() if ms}


async def state_of(repo: Sightings, group_id: int) -> str:
    found = await repo.unknown_person(group_id)
    assert found is not None
    return found[0].state


async def db_groups(g: Gallery) -> dict[int, list[int]]:
    rows = await g.pool.fetch(
        "SELECT group_id, array_agg(id ORDER BY id) AS ids FROM sightings "
        "WHERE state = 'grouped' GROUP BY group_id"
    )
    return {int(r["group_id"]): list(r["ids"]) for r in rows}


# --- the same decisions as the rules in memory ------------------------------------------------
async def test_the_database_places_and_merges_as_the_rules_do_in_memory(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(21)
    people = [person(rng, int(rng.integers(2, 5))) for _ in range(6)]
    stream = [(p, v) for p, photos in enumerate(people) for v in photos]
    stream += [(100 + k, unit(rng.normal(size=DIM))) for k in range(12)]
    order = rng.permutation(len(stream))
    ids = await lookups(gallery, len(stream) + 1)
    # two faces of one person in one photo (a mirror, a poster): never one group
    twin_photo = ids[-1]

    repo, memory = gallery.sightings, MemorySightings()
    db_order: dict[int, int] = {}
    mem_order: dict[int, int] = {}
    outcomes = []
    for step, k in enumerate(order.tolist()):
        s = new(stream[k][1], ids[step])
        d = await place_sighting(repo, s, cal)
        m = await place_sighting(memory, s, cal)
        db_order[d.sighting_id], mem_order[m.sighting_id] = step, step
        outcomes.append((d.placement.outcome, d.placement.reason))
        assert (d.placement.outcome, d.placement.reason) == (
            m.placement.outcome,
            m.placement.reason,
        )
        assert d.placement.thresholds.join == pytest.approx(m.placement.thresholds.join)
    mirrored = person(rng, 2, spread=0.3)
    for face in range(2):
        s = new(mirrored[face], twin_photo, photo=0)
        d = await place_sighting(repo, s, cal)
        m = await place_sighting(memory, s, cal)
        db_order[d.sighting_id] = mem_order[m.sighting_id] = len(stream) + face
        assert (d.placement.outcome, d.placement.reason) == (
            m.placement.outcome,
            m.placement.reason,
        )
    assert d.placement.reason == APART and d.group_id is None
    assert ("joined", None) in outcomes and ("alone", None) in outcomes

    mem_groups = {g: list(grp.members) for g, grp in memory.groups.items() if grp.state == "open"}
    assert partition(await db_groups(gallery), db_order) == partition(mem_groups, mem_order)

    d_report = await nightly_pass(repo, MODEL, cal, actor="system")
    m_report = await nightly_pass(memory, MODEL, cal, actor="system")
    assert dataclasses.asdict(d_report) == dataclasses.asdict(m_report)
    mem_groups = {g: list(grp.members) for g, grp in memory.groups.items() if grp.state == "open"}
    assert partition(await db_groups(gallery), db_order) == partition(mem_groups, mem_order)

    # every group holds one person, and the strangers none
    for members in (await db_groups(gallery)).values():
        assert (
            len({stream[order[db_order[s]]][0] for s in members if db_order[s] < len(stream)}) <= 1
        )
    # templates and counts follow the sightings
    for r in await gallery.pool.fetch(
        "SELECT u.id, u.sighting_count, (SELECT count(*) FROM sightings s WHERE s.group_id = u.id)"
        " AS n FROM unknown_persons u WHERE u.state = 'open'"
    ):
        assert r["sighting_count"] == r["n"] >= 2
    audited = await actions(gallery)
    assert audited.count("sighting.add") == len(stream) + 2
    assert "unknown_person.create" in audited
    assert (await gallery.audit.verify_chain()).ok


# --- the search: HNSW shortlist, exact scoring -------------------------------------------------
async def test_the_shortlist_walks_the_sightings_index_and_names_what_exact_search_finds(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(22)
    [lookup_id] = await lookups(gallery, 1)
    vectors = unit(rng.normal(size=(1500, DIM)))
    target = person(rng, 4)
    await gallery.pool.executemany(
        "INSERT INTO sightings (model, embedding, recipe, det_score, quality, quality_score, "
        "bbox, lookup_id, photo_index, actor, state) "
        "VALUES ($1, $2, 'test', 0.9, '{}', 1.5, '{0,0,1,1}', $3, $4, 'test', 'alone')",
        [(MODEL, v, lookup_id, i) for i, v in enumerate([*vectors, *target[:3]])],
    )
    await gallery.pool.execute("ANALYZE sightings")
    repo = gallery.sightings
    thr = thresholds_for(cal, {1: 1503})
    async with repo.placing() as p:
        # 1,500 rows: the planner would rather scan and sort; without that choice the HNSW
        # index must serve the query as written (its predicate the query's)
        await p.con.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off")
        plan = "\n".join(
            r[0]
            for r in await p.con.fetch(
                "EXPLAIN " + q.ALONE_SHORTLIST, target[3], MODEL, gallery.sightings.shortlist
            )
        )
        short = await p.shortlist(target[3], MODEL, above=thr.join - 0.02)
    assert "sightings_alone_hnsw" in plan
    assert not short.groups and not short.crowded
    exact = unit(np.array([*vectors, *target[:3]])) @ target[3]
    expected = {i + 1 for i in np.flatnonzero(exact >= thr.join - 0.02)}
    assert {s.id for s in short.alone} == expected == {1501, 1502, 1503}
    # the shortlisted rows carry the full vectors, for exact re-scoring
    for s in short.alone:
        assert np.array_equal(s.embedding, target[s.id - 1501])


# --- what people see and decide ---------------------------------------------------------------
async def test_seen_before_lists_the_earlier_sightings_of_the_group_oldest_first(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(23)
    a = person(rng, 3)
    ids = await lookups(gallery, 3)
    repo = gallery.sightings
    placed = [await place_sighting(repo, new(v, ids[k]), cal) for k, v in enumerate(a)]
    assert [p.seen_before for p in placed] == [False, True, True]
    before = await repo.seen_before(placed[2].sighting_id)
    assert [s.id for s in before] == [placed[0].sighting_id, placed[1].sighting_id]
    assert [s.lookup_id for s in before] == ids[:2] and all(s.actor == "tg:7" for s in before)
    person_, sightings = await repo.unknown_person(placed[2].group_id or 0) or (None, [])
    assert person_ is not None and person_.sighting_count == 3 and person_.state == "open"
    assert [s.crop_jpeg for s in sightings] == [b"\xff\xd8crop"] * 3
    assert [u.id for u in await repo.unknown_persons(MODEL)] == [person_.id]


async def test_naming_a_group_makes_an_identity_of_its_best_sightings_found_by_the_gallery(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(24)
    a = person(rng, 5)
    ids = await lookups(gallery, 5)
    repo = gallery.sightings
    scores = [1.2, 1.9, 0.5, 1.7, 1.1]
    placed = [
        await place_sighting(repo, new(v, ids[k], score=scores[k]), cal) for k, v in enumerate(a)
    ]
    group_id = placed[-1].group_id
    assert group_id is not None
    _, sightings = await repo.unknown_person(group_id) or (None, [])
    refs = choose_references([(s.id, not s.low_quality, s.quality_score) for s in sightings])
    assert refs == [placed[1].sighting_id, placed[3].sighting_id, placed[0].sighting_id]

    identity_id = await repo.name(
        group_id,
        display_name="Man at the gate",
        reference_ids=refs,
        actor="tg:1",
    )
    assert identity_id is not None
    faces = await gallery.faces.of_identity(identity_id)
    assert sorted(str(f.source_sha256) for f in faces) == sorted(
        f"photo-{ids[k]}" for k in (0, 1, 3)
    )
    [match, *_] = await gallery.search.identities(a[2], MODEL)
    assert match.identity_id == identity_id
    named, _ = await repo.unknown_person(group_id) or (None, [])
    assert named is not None and named.state == "named" and named.identity_id == identity_id
    # its sightings are found no more as unknown: a new face of the man starts alone
    [later] = await lookups(gallery, 1)
    again = await place_sighting(repo, new(a[2], later), cal)
    assert again.placement.outcome == "alone"
    assert await repo.name(group_id, display_name="X", reference_ids=refs, actor="tg:1") is None
    audited = await actions(gallery)
    assert "unknown_person.name" in audited and audited.count("face.add") == 3
    assert (await gallery.audit.verify_chain()).ok


async def test_a_dismissed_grouping_ends_and_its_sightings_are_never_grouped_together_again(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(25)
    a = person(rng, 2)
    ids = await lookups(gallery, 3)
    repo = gallery.sightings
    first = await place_sighting(repo, new(a[0], ids[0]), cal)
    second = await place_sighting(repo, new(a[1], ids[1]), cal)
    assert second.group_id is not None
    assert await repo.dismiss(second.group_id, "tg:1")
    assert not await repo.dismiss(second.group_id, "tg:1")
    for s in (first, second):
        got = await repo.get(s.sighting_id)
        assert got is not None and got.state == "alone" and got.group_id is None
    report = await nightly_pass(repo, MODEL, cal, actor="system")
    assert report.placed == 0 and await db_groups(gallery) == {}
    states = await gallery.pool.fetch("SELECT reason FROM sightings ORDER BY id")
    assert [r["reason"] for r in states] == [APART, APART]
    assert "unknown_person.dismiss" in await actions(gallery)


async def test_retention_deletes_old_sightings_and_ends_the_groups_left_with_one(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(26)
    a, b = person(rng, 2), person(rng, 3)
    ids = await lookups(gallery, 5)
    repo = gallery.sightings
    placed = [await place_sighting(repo, new(v, ids[k]), cal) for k, v in enumerate([*a, *b])]
    group_a, group_b = placed[1].group_id, placed[4].group_id
    assert group_a and group_b
    # the first photo of each is old
    old = [placed[0].sighting_id, placed[2].sighting_id]
    await gallery.pool.execute(
        "UPDATE sightings SET created_at = now() - interval '40 days' WHERE id = ANY($1)", old
    )
    purged = await repo.purge_before(datetime.now(UTC) - timedelta(days=30), "retention")
    assert (purged.sightings, purged.groups_ended) == (2, 1)
    assert [await repo.get(s) for s in old] == [None, None]
    ended, _ = await repo.unknown_person(group_a) or (None, [])
    assert ended is not None and ended.state == "expired"
    left = await repo.get(placed[1].sighting_id)
    assert left is not None and left.state == "alone" and left.group_id is None
    kept, sightings = await repo.unknown_person(group_b) or (None, [])
    assert kept is not None and kept.sighting_count == 2 and len(sightings) == 2
    assert "sighting.purge" in await actions(gallery)


async def test_forgetting_the_identity_a_group_was_named_as_deletes_its_sightings(
    gallery: Gallery, cal: Calibration
) -> None:
    rng = np.random.default_rng(27)
    a = person(rng, 3)
    ids = await lookups(gallery, 3)
    repo = gallery.sightings
    placed = [await place_sighting(repo, new(v, ids[k]), cal) for k, v in enumerate(a)]
    group_id = placed[-1].group_id
    assert group_id is not None
    identity_id = await repo.name(
        group_id,
        display_name="Named",
        actor="tg:1",
        reference_ids=[placed[0].sighting_id],
    )
    assert identity_id is not None
    async with gallery.db.transaction() as con:
        assert await repo.forget_identity(identity_id, "tg:1", con=con) == 3
    assert await repo.of_lookup(ids[0]) == []
    assert await gallery.pool.fetchval("SELECT count(*) FROM sightings") == 0
    assert "sighting.forget" in await actions(gallery)


# --- least privilege --------------------------------------------------------------------------
async def test_the_runtime_role_can_place_merge_name_dismiss_and_purge_sightings(
    fresh_dsn: str, audit_key: AuditKey, cal: Calibration
) -> None:
    await migrate(fresh_dsn, audit_key=audit_key, runtime_role=RuntimeRole(DEFAULT_RUNTIME_ROLE))
    pool = await create_pool(app_dsn(fresh_dsn))
    try:
        g = Gallery(pool, audit_key=audit_key)
        await g.models.register(MODEL, "d" * 64, "r" * 64)
        rng = np.random.default_rng(28)
        a, b = person(rng, 4), person(rng, 4)
        ids = await lookups(g, 8)
        repo = g.sightings
        placed = [await place_sighting(repo, new(v, ids[k]), cal) for k, v in enumerate(a)]
        group_a = placed[3].group_id
        assert group_a is not None and {p.group_id for p in placed[1:]} == {group_a}
        # b split in two groups, as if paired before anyone linked them: the nightly pass merges
        async with repo.placing() as p:
            split = []
            for k in (0, 2):
                first = await p.add(new(b[k], ids[4 + k]), state="alone")
                added = await p.add(
                    new(b[k + 1], ids[5 + k]), state="grouped", pair_with=first.sighting_id
                )
                split.append(added.group_id)
        report = await nightly_pass(repo, MODEL, cal, actor="system")
        assert report.merges == 1
        [group_b] = [
            gid for gid in split if gid is not None and await state_of(repo, gid) == "open"
        ]
        assert await repo.release(placed[3].sighting_id, "tg:1")
        assert await repo.dismiss(group_b, "tg:1")
        identity_id = await repo.name(
            group_a,
            display_name="Runtime",
            actor="tg:1",
            reference_ids=[placed[0].sighting_id],
        )
        assert identity_id is not None
        purged = await repo.purge_before(datetime.now(UTC) + timedelta(days=1), "retention")
        assert purged.sightings == 8
        async with pool.acquire() as con:
            assert await con.fetchval("SELECT current_user") == DEFAULT_RUNTIME_ROLE
            for sql in ("DELETE FROM unknown_persons", "TRUNCATE sightings"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await con.execute(sql)
        assert (await g.audit.verify_chain()).ok
    finally:
        await pool.close()
