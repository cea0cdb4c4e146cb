"""Search designs tried for 1M faces, on a gallery that bench/search.py kept: index types
(half-precision, full-precision, binary-quantized pre-filter), graph parameters, and shortlist
sizes per index (template-first included). Each design answers the same queries; agreement is
with exact search (bench.synthetic.Reference, the numpy copy of Gallery.search(exact=True)).

    flock /tmp/facefind-heavy.lock .venv/bin/python bench/search.py --sizes 1000000 \\
        --database-url URI --keep ...   # prints the database's name
    flock /tmp/facefind-heavy.lock .venv/bin/python bench/search_variants.py \\
        --database-url URI --database NAME --size 1000000 --variants shipped template-first ...

Extra indexes are built on first use (their build time is printed) and kept for later runs
unless --drop-extra-indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gallery
from bench.search import SEARCH_LIMIT, _hnsw_options, agreement, gallery_thresholds, shown
from bench.synthetic import MODEL, FaceGenerator, Reference, generate
from gallery import Gallery, Match
from gallery.db import database_dsn
from gallery.queries import bulk as q
from gallery.queries import search as sq
from gallery.search import DEFAULT_FUSION, choose_identities, rank_identities

# --- the designs ------------------------------------------------------------------------------
HALF_FACES = sq.SEARCH_SHORTLIST
HALF_TEMPLATES = sq.SEARCH_TEMPLATE_SHORTLIST
# the shortlists as they were first written: vectors instead of distances
HALF_FACES_VECTORS = """
SELECT id, identity_id, embedding FROM faces WHERE active AND model = $2
ORDER BY embedding::halfvec(512) <=> $1::halfvec(512) LIMIT $3"""
HALF_TEMPLATES_VECTORS = """
SELECT identity_id, embedding FROM identity_templates WHERE model = $2
ORDER BY embedding::halfvec(512) <=> $1::halfvec(512) LIMIT $3"""
FULL_FACES = """
SELECT id, identity_id, embedding FROM faces WHERE active AND model = $2
ORDER BY embedding <=> $1 LIMIT $3"""
FULL_TEMPLATES = """
SELECT identity_id, embedding FROM identity_templates WHERE model = $2
ORDER BY embedding <=> $1 LIMIT $3"""
# binary-quantized pre-filter: $4 candidates by Hamming distance, re-ranked by the full vectors
BIT_FACES = """
SELECT id, identity_id, embedding FROM (
    SELECT id, identity_id, embedding FROM faces WHERE active AND model = $2
    ORDER BY binary_quantize(embedding)::bit(512) <~> binary_quantize($1::vector(512))::bit(512)
    LIMIT $4) c
ORDER BY embedding <=> $1 LIMIT $3"""

# IVFFlat over the templates, on an expression of its own (same order) so that it does not
# compete with the HNSW index for the same queries
IVF_TEMPLATES = """
SELECT identity_id, l2_normalize(embedding)::halfvec(512) <=> $1::halfvec(512) AS distance
FROM identity_templates WHERE model = $2
ORDER BY distance LIMIT $3"""

# template-first: every face of the shortlisted identities, with full-precision distances
FACES_OF_TEMPLATES = """
SELECT f.id, f.identity_id, f.embedding <=> $1 AS distance FROM faces f
WHERE f.identity_id = ANY($2::bigint[]) AND f.model = $3 AND f.active"""

EXTRA_INDEXES = {
    "bench_templates_ivf": "CREATE INDEX bench_templates_ivf ON identity_templates USING ivfflat "
    "((l2_normalize(embedding)::halfvec(512)) halfvec_cosine_ops) WITH (lists = 600)",
    "bench_faces_vector": "CREATE INDEX bench_faces_vector ON faces USING hnsw "
    "(embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE active",
    "bench_templates_vector": "CREATE INDEX bench_templates_vector ON identity_templates "
    "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 128)",
    "bench_faces_bit": "CREATE INDEX bench_faces_bit ON faces USING hnsw "
    "((binary_quantize(embedding)::bit(512)) bit_hamming_ops) "
    "WITH (m = 16, ef_construction = 128) WHERE active",
}


@dataclass(frozen=True)
class Variant:
    name: str
    faces_sql: str | None
    faces_ef: int
    faces_k: int
    templates_sql: str | None
    templates_ef: int
    templates_k: int
    prefilter: int = 0  # binary pre-filter candidates ($4)
    probes: int = 0  # ivfflat.probes for an IVFFlat shortlist
    faces_of_templates: bool = False  # score every face of the shortlisted identities
    indexes: tuple[str, ...] = ()  # from EXTRA_INDEXES


def _variants() -> dict[str, Variant]:
    found = {
        "shipped": Variant("shipped", HALF_FACES, 200, 200, HALF_TEMPLATES, 200, 200),
        "shortlists-with-vectors": Variant(
            "shortlists-with-vectors",
            HALF_FACES_VECTORS,
            200,
            200,
            HALF_TEMPLATES_VECTORS,
            200,
            200,
        ),
        "template-first": Variant("template-first", None, 0, 0, HALF_TEMPLATES, 400, 200),
        "template-first-800": Variant("template-first-800", None, 0, 0, HALF_TEMPLATES, 800, 400),
        "faces-only": Variant("faces-only", HALF_FACES, 200, 200, None, 0, 0),
        "full-precision": Variant(
            "full-precision",
            FULL_FACES,
            200,
            200,
            FULL_TEMPLATES,
            200,
            200,
            indexes=("bench_faces_vector", "bench_templates_vector"),
        ),
        "binary-prefilter": Variant(
            "binary-prefilter",
            BIT_FACES,
            1000,
            200,
            HALF_TEMPLATES,
            200,
            200,
            prefilter=1000,
            indexes=("bench_faces_bit",),
        ),
    }
    for probes in (10, 20, 40, 80):
        name = f"ivf-templates200@{probes}"
        found[name] = Variant(
            name, None, 0, 0, IVF_TEMPLATES, 0, 200, probes=probes, indexes=("bench_templates_ivf",)
        )
    for te in (200, 400, 800, 1600):
        name = f"templates200@{te}"
        found[name] = Variant(name, None, 0, 0, HALF_TEMPLATES, te, 200)
        for tk in (100, 200, 400):
            name = f"template-first{tk}@{te}"
            found[name] = Variant(name, None, 0, 0, HALF_TEMPLATES, te, tk, faces_of_templates=True)
    for fk in (50, 100, 200):
        for fe in (100, 200, 400):
            for te in (200, 400, 800):
                name = f"faces{fk}@{fe}+templates200@{te}"
                found[name] = Variant(name, HALF_FACES, fe, fk, HALF_TEMPLATES, te, 200)
    return found


VARIANTS = _variants()


async def search(g: Gallery, v: Variant, query: np.ndarray) -> list[Match]:
    """Gallery.search with another pair of shortlists; the same exact re-scoring."""
    async with g.db.transaction() as con:
        face_rows: list[Any] = []
        template_rows: list[Any] = []
        if v.faces_sql is not None:
            await con.execute(sq.search_settings(v.faces_ef, max(20000, v.faces_k * 50)))
            extra = (v.prefilter,) if v.prefilter else ()
            face_rows = await con.fetch(v.faces_sql, query, MODEL, v.faces_k, *extra)
        if v.templates_sql is not None and v.probes:
            await con.execute(f"SET LOCAL ivfflat.probes = {int(v.probes)}")
        elif v.templates_sql is not None:
            await con.execute(sq.search_settings(v.templates_ef, max(20000, v.templates_k * 50)))
        if v.templates_sql is not None:
            template_rows = await con.fetch(v.templates_sql, query, MODEL, v.templates_k)
        if v.faces_of_templates:
            face_rows = await con.fetch(
                FACES_OF_TEMPLATES, query, [r["identity_id"] for r in template_rows], MODEL
            )
        chosen = choose_identities(query, face_rows, template_rows, DEFAULT_FUSION, SEARCH_LIMIT)
        faces = await con.fetch(sq.FACES_OF_IDENTITIES, chosen, MODEL)
        templates = await con.fetch(sq.TEMPLATES_OF_IDENTITIES, chosen, MODEL)
        ranked = rank_identities(query, faces, templates, DEFAULT_FUSION, SEARCH_LIMIT)
    return [
        Match(s.identity_id, "", None, int(s.face_id), s.score, s.face_similarity)
        for s in ranked
        if s.face_id is not None
    ]


async def ensure_indexes(g: Gallery, names: Sequence[str]) -> None:
    for name in names:
        if await g.pool.fetchval("SELECT to_regclass($1) IS NOT NULL", name):
            continue
        started = time.perf_counter()
        await g.pool.execute(EXTRA_INDEXES[name])
        size = await g.pool.fetchval("SELECT pg_relation_size($1::regclass)", name)
        print(f"   built {name} in {time.perf_counter() - started:.0f}s, {size / 2**20:.0f} MB")


async def rebuild_with(g: Gallery, name: str, options: dict[str, int]) -> None:
    """Re-create one of the migration's search indexes with other graph parameters."""
    [index] = [i for i in await g.indexes.present() if i.name == name]
    wanted = ", ".join(f"{k}='{v}'" for k, v in options.items())
    if f"WITH ({wanted})" in index.definition:
        return
    head, sep, tail = index.definition.partition(" WHERE ")
    definition = head.partition(" WITH (")[0] + f" WITH ({wanted})" + sep + tail
    await g.pool.execute(q.drop_index(name))
    started = time.perf_counter()
    await g.pool.execute(definition)
    built = time.perf_counter() - started
    size = await g.pool.fetchval("SELECT pg_relation_size($1::regclass)", name)
    print(f"   rebuilt {name} with {wanted} in {built:.0f}s, {size / 2**20:.0f} MB")


async def main_async(args: argparse.Namespace) -> None:
    gen = FaceGenerator(args.seed)
    gen.describe()  # the same generator calls as bench/search.py, so the same data
    data = generate(gen, args.size, args.faces_per_identity)
    pick = gen.rng.integers(0, len(data.centres), size=args.queries + args.warmup)
    queries = gen.faces(data.centres[pick])[: args.warmup + args.queries]
    pool = await gallery.create_pool(database_dsn(args.database_url, args.database), max_size=2)
    g = Gallery(pool)
    try:
        identity_ids = [
            int(r["id"]) for r in await pool.fetch("SELECT id FROM identities ORDER BY id")
        ]
        reference = await Reference.fetch(g, data.embeddings, identity_ids, data.owner)
        truth = [identity_ids[i] for i in pick[args.warmup :]]
        if args.faces_index:
            await rebuild_with(g, "faces_embedding_hnsw", args.faces_index)
        if args.templates_index:
            await rebuild_with(g, "identity_templates_hnsw", args.templates_index)
        exact = reference.search(queries[args.warmup :], 200, SEARCH_LIMIT)
        bands = gallery_thresholds(len(identity_ids), args.faces_per_identity)
        print(
            f"{args.size} faces; {args.queries} queries after {args.warmup} warm-up ones; "
            f"shown: possible >= {bands.possible:.3f}, shown@floor: the fallback's",
            flush=True,
        )
        print(
            f"{'variant':>34} {'p50 ms':>7} {'p95 ms':>7} {'R@1':>6} {'top1=exact':>10} "
            f"{'shown=exact':>11} {'shown@floor':>11} {'shown lists differing':>21}"
        )
        for name in args.variants:
            v = VARIANTS[name]
            await ensure_indexes(g, v.indexes)
            ms: list[float] = []
            results: list[list[Match]] = []
            for qi, query in enumerate(queries):
                started = time.perf_counter()
                found = await search(g, v, query)
                if qi >= args.warmup:
                    ms.append((time.perf_counter() - started) * 1000.0)
                    results.append(found)
            agree = agreement(results, exact, truth, bands)
            differing = sum(
                shown(a, bands) != shown(b, bands) for a, b in zip(results, exact, strict=True)
            )
            print(
                f"{name:>34} {statistics.median(ms):>7.2f} {np.percentile(ms, 95):>7.2f} "
                f"{agree.r_at_1:>5.1f}% {agree.top1:>9.2f}% {agree.shown:>10.2f}% "
                f"{agree.shown_floor:>10.2f}% {differing:>21}",
                flush=True,
            )
        if args.drop_extra_indexes:
            for name in EXTRA_INDEXES:
                await pool.execute(f"DROP INDEX IF EXISTS {name}")
    finally:
        await pool.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="the server bench/search.py used")
    parser.add_argument("--database", required=True, help="the database it kept")
    parser.add_argument("--size", type=int, required=True, help="its --sizes (one size)")
    parser.add_argument("--faces-per-identity", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--variants", nargs="+", default=["shipped"], choices=sorted(VARIANTS))
    parser.add_argument("--drop-extra-indexes", action="store_true")
    parser.add_argument(
        "--faces-index",
        type=_hnsw_options,
        metavar="m=16,ef_construction=128",
        help="rebuild the faces' index with these graph parameters first (kept afterwards)",
    )
    parser.add_argument("--templates-index", type=_hnsw_options, metavar="m=32,ef_construction=256")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    main()
