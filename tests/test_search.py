"""Search on a gallery large enough that PostgreSQL walks the HNSW indexes: the answers equal
exact search's, the indexes survive a bulk load's drop and rebuild, templates built in bulk
equal those built identity by identity."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from gallery import AuditKey, Gallery, Match, create_pool, migrate
from gallery.queries import search as sq

MODEL = "test-model"
IDENTITIES = 6000  # enough templates that the planner prefers their index to a scan
# below every band a deployment can have (facefind.runtime.settings); random identities stay
# under 0.2
SHOWABLE = 0.3
SEARCH_INDEXES = {"faces_embedding_hnsw", "identity_templates_hnsw"}


def assert_same_showable(found: list[Match], exact: list[Match]) -> None:
    """What a user can be shown is the same, scores included; below that, random identities
    at cosine ~0.15 are near-ties that an approximate index may order otherwise."""
    assert [m for m in found if m.similarity >= SHOWABLE] == [
        m for m in exact if m.similarity >= SHOWABLE
    ]


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
async def large(
    module_dsn: str, audit_key: AuditKey
) -> AsyncIterator[tuple[Gallery, np.ndarray, list[int]]]:
    """6,000 identities with 2 faces each, loaded as a bulk load does: indexes dropped, rows
    copied, templates built in one statement, indexes built once."""
    await migrate(module_dsn, audit_key=audit_key, actor="test")
    pool = await create_pool(module_dsn)
    g = Gallery(pool, audit_key=audit_key)
    await g.models.register(MODEL, "d" * 64, "r" * 64)
    rng = np.random.default_rng(11)
    rows = await pool.fetch(
        "INSERT INTO identities (display_name, created_by) "
        "SELECT 'Person ' || n, 'test' FROM generate_series(1, $1::int) AS n RETURNING id",
        IDENTITIES,
    )
    ids = sorted(int(r["id"]) for r in rows)
    centres = unit(rng.normal(size=(IDENTITIES, 512)))
    owner = np.arange(2 * IDENTITIES) % IDENTITIES
    faces = unit(centres[owner] + 0.6 * unit(rng.normal(size=(len(owner), 512))))
    assert set(await g.indexes.defer("test")) == SEARCH_INDEXES
    await g.faces.import_embeddings(
        MODEL, [ids[i] for i in owner], faces, actor="test", recipe="test", templates=False
    )
    assert await g.templates.rebuild(MODEL) == IDENTITIES
    await g.indexes.restore("test")
    await pool.execute("ANALYZE faces")
    await pool.execute("ANALYZE identity_templates")
    try:
        yield g, centres, ids
    finally:
        await pool.close()


async def _plan(g: Gallery, sql: str, query: np.ndarray, *, hnsw: bool) -> str:
    async with g.db.transaction() as con:
        if hnsw:
            await con.execute(sq.search_settings(g.search.ef_search, 20000))
        return "\n".join(r[0] for r in await con.fetch("EXPLAIN " + sql, query, MODEL, 200))


async def test_the_indexes_come_back_as_the_migrations_define_them(
    large: tuple[Gallery, np.ndarray, list[int]],
) -> None:
    g, _, _ = large
    definitions = {i.name: i.definition for i in await g.indexes.present()}
    assert set(definitions) == SEARCH_INDEXES
    for definition in definitions.values():
        # half-precision copies of the vectors: half the memory of the full ones
        assert "halfvec(512)) halfvec_cosine_ops" in definition


async def test_search_walks_both_half_precision_indexes_and_exact_search_walks_none(
    large: tuple[Gallery, np.ndarray, list[int]],
) -> None:
    g, centres, _ = large
    query = centres[0]
    assert "faces_embedding_hnsw" in await _plan(g, sq.SEARCH_SHORTLIST, query, hnsw=True)
    assert "identity_templates_hnsw" in await _plan(
        g, sq.SEARCH_TEMPLATE_SHORTLIST, query, hnsw=True
    )
    for sql in (sq.SEARCH_SHORTLIST_EXACT, sq.SEARCH_TEMPLATE_SHORTLIST_EXACT):
        plan = await _plan(g, sql, query, hnsw=False)
        assert "Seq Scan" in plan and "hnsw" not in plan


async def test_hnsw_search_gives_exact_search_answers_with_full_precision_scores(
    large: tuple[Gallery, np.ndarray, list[int]],
) -> None:
    g, centres, ids = large
    rng = np.random.default_rng(12)
    for n in range(0, IDENTITIES, 200):
        # a new photo of an enrolled person
        query = unit(centres[n] + 0.6 * unit(rng.normal(size=512)))
        found = await g.search.identities(query, MODEL, limit=10)
        exact = await g.search.identities(query, MODEL, limit=10, exact=True)
        assert_same_showable(found, exact)
        assert found[0].identity_id == ids[n] and found[0].similarity >= SHOWABLE
        # scored from the full vectors, not the index's half-precision copies
        face = await g.pool.fetchval("SELECT embedding FROM faces WHERE id = $1", found[0].face_id)
        expected = float(np.dot(face.to_numpy().astype(np.float64), query.astype(np.float64)))
        assert found[0].face_similarity == pytest.approx(expected, abs=1e-6)


async def test_templates_built_in_one_statement_equal_those_built_per_identity(
    large: tuple[Gallery, np.ndarray, list[int]],
) -> None:
    g, _, ids = large
    some = ids[:50]
    before = {i: await g.templates.of(i, MODEL) for i in some}
    await g.templates.refresh(some)  # identity by identity, as enrollment does
    for i in some:
        after = await g.templates.of(i, MODEL)
        assert after is not None and before[i] is not None
        np.testing.assert_array_equal(after[0], before[i][0])  # type: ignore[index]
        assert after[1] == before[i][1] == 2  # type: ignore[index]


# Citus's layout, on one server: faces and templates hash-partitioned by identity, an HNSW index
# per partition (CREATE INDEX on the parent creates one per partition, from the same definition
# as the migration's). Identities stay where they are.
SHARDS = 4
SHARDED = (
    """
CREATE SCHEMA sharded;
CREATE TABLE sharded.faces (LIKE public.faces INCLUDING DEFAULTS) PARTITION BY HASH (identity_id);
CREATE TABLE sharded.identity_templates (LIKE public.identity_templates)
    PARTITION BY HASH (identity_id);
"""
    + "".join(
        f"""
CREATE TABLE sharded.faces_{n} PARTITION OF sharded.faces
    FOR VALUES WITH (MODULUS {SHARDS}, REMAINDER {n});
CREATE TABLE sharded.identity_templates_{n} PARTITION OF sharded.identity_templates
    FOR VALUES WITH (MODULUS {SHARDS}, REMAINDER {n});"""
        for n in range(SHARDS)
    )
    + """
INSERT INTO sharded.faces SELECT * FROM public.faces;
INSERT INTO sharded.identity_templates SELECT * FROM public.identity_templates;
CREATE INDEX ON sharded.faces USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128) WHERE active;
CREATE INDEX ON sharded.identity_templates USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops)
    WITH (m = 32, ef_construction = 128);
ANALYZE sharded.faces;
ANALYZE sharded.identity_templates;
"""
)


async def test_search_sql_runs_unchanged_on_faces_sharded_by_identity(
    large: tuple[Gallery, np.ndarray, list[int]], module_dsn: str
) -> None:
    """Each partition's index gives its own top-k and the planner merges them, as Citus's
    coordinator merges its shards' (docs/scaling.md); the answers stay exact search's."""
    g, centres, ids = large
    await g.pool.execute(SHARDED)
    # asyncpg passes unknown DSN parameters on as settings: these connections see the shards,
    # and walk their indexes even though shards this small would be scanned (exactly)
    pool = await create_pool(module_dsn + "&search_path=sharded%2Cpublic&enable_seqscan=off")
    try:
        sharded = Gallery(pool)
        plan = await _plan(sharded, sq.SEARCH_SHORTLIST, centres[0], hnsw=True)
        assert sum("Index Scan using faces_" in line for line in plan.splitlines()) == SHARDS
        plan = await _plan(sharded, sq.SEARCH_TEMPLATE_SHORTLIST, centres[0], hnsw=True)
        assert plan.count("Index Scan using identity_templates_") == SHARDS
        rng = np.random.default_rng(13)
        for n in range(0, IDENTITIES, 300):
            query = unit(centres[n] + 0.6 * unit(rng.normal(size=512)))
            found = await sharded.search.identities(query, MODEL, limit=10)
            exact = await g.search.identities(query, MODEL, limit=10, exact=True)
            assert_same_showable(found, exact)
            assert found[0].identity_id == ids[n]
    finally:
        await pool.close()
