"""Gallery search latency and recall: facefind's HNSW search against exact search, side by side."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import numpy as np

import gallery
from facefind.matching import assign_jointly
from facefind.settings import FALLBACK_THRESHOLDS, Thresholds
from gallery import AuditKey, Gallery
from gallery import queries as q
from gallery.db import create_database, drop_database

MODEL = "bench-synthetic"
DIM = 512
# facefind.service.SEARCH_DEPTH: identify asks every face's search for 10 identities.
SEARCH_LIMIT = 10
DEFAULT_EF = 200
DEFAULT_SHORTLIST = 200
HNSW_INDEX = "faces_embedding_hnsw"
# What a user is shown for one face: up to 3 identities above the "possible" threshold.
THRESHOLDS = Thresholds(*FALLBACK_THRESHOLDS)
CANDIDATES_SHOWN = 3


# --- synthetic face-like embeddings ---------------------------------------------------------------
class FaceGenerator:
    """Unit vectors with the rough geometry of ArcFace embeddings, not isotropic noise.

    Identity centre = 0.35 * a mean direction shared by every face (real embeddings have a
    non-zero mean) + 0.6 * a random point of a 32-dimensional "identity" subspace (faces vary
    along few directions) + the rest isotropic, normalised. Different centres then have cosine
    ~0.12 on average instead of ~0.
    A face = centre + s * noise, normalised, where noise is 60% isotropic and 40% from a separate
    32-dimensional "nuisance" subspace (pose, light, age move every identity the same way) and
    the noise scale s is uniform in [0.45, 1.1] for 95% of faces and in [1.1, 1.8] for 5% "hard"
    faces (profile, blur). Two faces of one identity then have cosine ~0.6 (5th-95th percentile
    ~0.44-0.77, with a tail down to ~0.35), two faces of different identities ~0.08
    (~-0.03-0.18): the ranges ArcFace gives on LFW. `describe` prints the measured values.
    """

    def __init__(self, seed: int, *, rank: int = 32, hard_fraction: float = 0.05) -> None:
        self.rng = np.random.default_rng(seed)
        self.rank = rank
        self.hard_fraction = hard_fraction
        self.mean = _unit(self.rng.normal(size=DIM))
        self.identity_basis = np.linalg.qr(self.rng.normal(size=(DIM, rank)))[0].T
        self.nuisance_basis = np.linalg.qr(self.rng.normal(size=(DIM, rank)))[0].T

    def centres(self, n: int) -> np.ndarray:
        iso = _unit(self.rng.normal(size=(n, DIM)))
        low = _unit(self.rng.normal(size=(n, self.rank)) @ self.identity_basis)
        shared, structured = 0.35, 0.6
        rest = np.sqrt(1.0 - shared**2 - structured**2)
        return _unit(shared * self.mean + structured * low + rest * iso)

    def faces(self, centres: np.ndarray) -> np.ndarray:
        """One new face per row of `centres`."""
        n = len(centres)
        scale = self.rng.uniform(0.45, 1.1, size=(n, 1))
        hard = self.rng.random((n, 1)) < self.hard_fraction
        scale = np.where(hard, self.rng.uniform(1.1, 1.8, size=(n, 1)), scale)
        iso = _unit(self.rng.normal(size=(n, DIM)))
        low = _unit(self.rng.normal(size=(n, self.rank)) @ self.nuisance_basis)
        noise = _unit(np.sqrt(0.6) * iso + np.sqrt(0.4) * low)
        return _unit(centres + scale * noise).astype(np.float32)

    def describe(self, n: int = 4000) -> str:
        """Measured cosine percentiles of same- and different-identity face pairs."""
        centres = self.centres(n)
        a, b = self.faces(centres), self.faces(centres)
        same = (a * b).sum(axis=1)
        other = (a * np.roll(b, 1, axis=0)).sum(axis=1)
        pct = (5, 50, 95)
        return (
            "same identity cosine p5/p50/p95 = "
            + "/".join(f"{v:.2f}" for v in np.percentile(same, pct))
            + "; different identity = "
            + "/".join(f"{v:.2f}" for v in np.percentile(other, pct))
        )


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# --- gallery set-up ---------------------------------------------------------------------------
@dataclass
class Loaded:
    gallery: Gallery
    dsn: str
    identity_ids: list[int]
    centres: np.ndarray
    build_s: dict[str, float]
    index: str  # the HNSW index as built, from pg_get_indexdef


async def load_gallery(
    server_uri: str,
    database: str,
    gen: FaceGenerator,
    size: int,
    faces_per_identity: int,
    *,
    index_after_load: bool,
    maintenance_work_mem: str,
    parallel_workers: int,
    plain_storage: bool,
    hnsw_with: dict[str, int],
) -> Loaded:
    """A fresh migrated database holding `size` synthetic faces, indexed and analysed."""
    timings: dict[str, float] = {}
    dsn = await create_database(server_uri, database)
    key = AuditKey(secrets.token_bytes(32))  # a scratch database: its audit log is thrown away
    await gallery.migrate(dsn, audit_key=key, actor="bench")
    pool = await gallery.create_pool(dsn, max_size=4)
    g = Gallery(pool, audit_key=key, ef_search=DEFAULT_EF, shortlist=DEFAULT_SHORTLIST)
    await g.register_model(MODEL, "d" * 64, "r" * 64)

    n_identities = -(-size // faces_per_identity)
    started = time.perf_counter()
    # The gallery has no bulk identity creation and create_identity (one transaction and audit
    # row each) takes minutes for 33k identities, so the bench inserts them in one statement.
    # Identities carry no embedding: search results do not depend on how they were created.
    rows = await pool.fetch(
        "INSERT INTO identities (display_name, created_by) "
        "SELECT 'Synthetic ' || n, 'bench' FROM generate_series(1, $1::int) AS n RETURNING id",
        n_identities,
    )
    identity_ids = sorted(int(r["id"]) for r in rows)
    timings["identities"] = time.perf_counter() - started

    centres = gen.centres(n_identities)
    owner = np.arange(size) % n_identities
    embeddings = gen.faces(centres[owner])

    if plain_storage:
        # Experiment, not the shipped schema: pgvector's `vector` is EXTERNAL storage, and a
        # 512-d vector (2,056 bytes) is just over the TOAST threshold, so every embedding read
        # goes through the TOAST table. PLAIN keeps it in the row (3 rows per 8 kB page).
        await pool.execute("ALTER TABLE faces ALTER COLUMN embedding SET STORAGE PLAIN")
    index_def = await pool.fetchval("SELECT pg_get_indexdef($1::regclass)", HNSW_INDEX)
    if hnsw_with:
        # Experiment: other graph parameters than the migration's (pgvector's defaults)
        options = ", ".join(f"{key} = {int(value)}" for key, value in hnsw_with.items())
        head, sep, tail = index_def.partition(" WHERE ")
        index_def = f"{head} WITH ({options}){sep}{tail}"
    if index_after_load:
        # Building the graph once over loaded rows beats inserting 100k rows into it one by
        # one; the index is re-created from the migration's own definition.
        await pool.execute(f"DROP INDEX {HNSW_INDEX}")
    started = time.perf_counter()
    await g.import_faces(
        MODEL, [identity_ids[i] for i in owner], embeddings, actor="bench", recipe="synthetic"
    )
    timings["copy"] = time.perf_counter() - started

    if index_after_load:
        started = time.perf_counter()
        async with pool.acquire() as con:
            await con.execute(
                "SELECT set_config('maintenance_work_mem', $1, false)", maintenance_work_mem
            )
            await con.execute(
                "SELECT set_config('max_parallel_maintenance_workers', $1, false)",
                str(parallel_workers),
            )
            await con.execute(index_def)
            await con.execute("RESET maintenance_work_mem")
            await con.execute("RESET max_parallel_maintenance_workers")
        timings["index"] = time.perf_counter() - started

    started = time.perf_counter()
    await pool.execute("VACUUM ANALYZE faces")
    await pool.execute("ANALYZE identities")
    timings["analyze"] = time.perf_counter() - started
    built = await pool.fetchval("SELECT pg_get_indexdef($1::regclass)", HNSW_INDEX)
    return Loaded(g, dsn, identity_ids, centres, timings, built.partition(" USING ")[2])


# --- measurement ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    label: str
    ef_search: int | None  # None: exact search
    shortlist: int


@dataclass
class Samples:
    ms: list[float] = field(default_factory=list)
    top1: list[int | None] = field(default_factory=list)
    topk: list[tuple[int, ...]] = field(default_factory=list)
    shown: list[tuple[tuple[int, float], ...]] = field(default_factory=list)  # (id, sim)


async def run_queries(
    g: Gallery,
    configs: Sequence[Config],
    queries: np.ndarray,
    warmup: int,
    rounds: int,
    seed: int,
) -> dict[Config, Samples]:
    """Each config answers every query in one block; blocks run in a new order each round.

    Blocks, not configs interleaved query by query: exact search reads every embedding through
    the TOAST table and so evicts the HNSW index's pages from shared buffers, while HNSW
    configs run back to back on one query find the same graph pages already cached. Either
    would bias the ratio; rounds in shuffled order cancel drift instead. Each block starts with
    `warmup` untimed queries. Results are recorded in the first round (searches are
    deterministic); times in every round.
    """
    galleries = {
        c: Gallery(
            g.pool,
            audit_key=g.audit_key,
            ef_search=c.ef_search or DEFAULT_EF,
            shortlist=c.shortlist,
        )
        for c in configs
    }
    samples = {c: Samples() for c in configs}
    order_rng = random.Random(seed)
    for round_no in range(rounds):
        order = list(configs)
        order_rng.shuffle(order)
        for config in order:
            search = galleries[config].search
            exact = config.ef_search is None
            for qi, query in enumerate(queries):
                started = time.perf_counter()
                found = await search(query, MODEL, limit=SEARCH_LIMIT, exact=exact)
                elapsed = (time.perf_counter() - started) * 1000.0
                if qi < warmup:
                    continue
                s = samples[config]
                s.ms.append(elapsed)
                if round_no == 0:
                    s.top1.append(found[0].identity_id if found else None)
                    s.topk.append(tuple(m.identity_id for m in found))
                    [shown] = assign_jointly([found], THRESHOLDS, CANDIDATES_SHOWN)
                    s.shown.append(tuple((cand.identity_id, cand.similarity) for cand in shown))
    return samples


async def uses_index(g: Gallery, config: Config, query: np.ndarray) -> bool:
    """Whether the planner walks the HNSW index for this config's shortlist query.

    Depends on ef_search and the table size (pgvector's cost estimate), so it is checked
    rather than assumed: a sequential scan gives exact results at exact-search speed.
    """
    async with g.transaction() as con:
        if config.ef_search is None:
            await con.execute(q.SEARCH_EXACT_SETTINGS)
        else:
            await con.execute(
                q.SEARCH_SETTINGS, config.ef_search, max(20000, config.shortlist * 50)
            )
        plan = await con.fetch("EXPLAIN " + q.SEARCH_SHORTLIST, query, MODEL, config.shortlist)
    return any(HNSW_INDEX in row[0] for row in plan)


def _p95(values: Sequence[float]) -> float:
    return float(np.percentile(values, 95))


def _share(flags: Sequence[bool]) -> float:
    return 100.0 * sum(flags) / len(flags)


def report(
    size: int,
    n_identities: int,
    configs: Sequence[Config],
    exact: Config,
    samples: dict[Config, Samples],
    truth: Sequence[int],
    plans: dict[Config, bool],
) -> list[str]:
    base = samples[exact]
    base_med = statistics.median(base.ms)
    lines = [
        f"{'faces':>7} {'idents':>6} {'ef':>4} {'short':>5} {'plan':>5} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'exact p50':>9} {'exact p95':>9} {'ratio':>6} {'R@1':>6} {'exact R@1':>9} "
        f"{'top1=exact':>10} {'shown=exact':>11} {'top10=exact':>11}"
    ]
    for c in configs:
        if c is exact:
            continue
        s = samples[c]
        med = statistics.median(s.ms)
        recall = _share([a == t for a, t in zip(s.top1, truth, strict=True)])
        exact_recall = _share([a == t for a, t in zip(base.top1, truth, strict=True)])
        same_top1 = _share([a == b for a, b in zip(s.top1, base.top1, strict=True)])
        same_shown = _share([_ids(a) == _ids(b) for a, b in zip(s.shown, base.shown, strict=True)])
        same_topk = _share([a == b for a, b in zip(s.topk, base.topk, strict=True)])
        lines.append(
            f"{size:>7} {n_identities:>6} {c.ef_search:>4} {c.shortlist:>5} "
            f"{'hnsw' if plans[c] else 'seq':>5} {med:>7.2f} "
            f"{_p95(s.ms):>7.2f} {base_med:>9.2f} {_p95(base.ms):>9.2f} {med / base_med:>6.3f} "
            f"{recall:>5.1f}% {exact_recall:>8.1f}% {same_top1:>9.1f}% {same_shown:>10.1f}% "
            f"{same_topk:>10.1f}%"
        )
    for c in configs:
        if c.ef_search == DEFAULT_EF and c.shortlist == DEFAULT_SHORTLIST:
            lines.append(_shown_differences(samples[c].shown, base.shown))
    return lines


def _ids(shown: tuple[tuple[int, float], ...]) -> tuple[int, ...]:
    return tuple(ident for ident, _ in shown)


def _shown_differences(
    approx: Sequence[tuple[tuple[int, float], ...]], exact: Sequence[tuple[tuple[int, float], ...]]
) -> str:
    """What the differing candidate lists of the default config look like."""
    missed: list[float] = []
    extra: list[float] = []
    differing = 0
    for a, e in zip(approx, exact, strict=True):
        if _ids(a) == _ids(e):
            continue
        differing += 1
        missed.extend(sim for ident, sim in e if ident not in _ids(a))
        extra.extend(sim for ident, sim in a if ident not in _ids(e))
    if not differing:
        return "   default config: every shown candidate list equals exact search's"
    return (
        f"   default config: {differing} shown lists differ; candidates only exact search "
        f"shows: {len(missed)} (similarity {_range(missed)}), only HNSW shows: {len(extra)} "
        f"(similarity {_range(extra)})"
    )


def _range(values: Sequence[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}" if values else "-"


async def bench_size(
    server_uri: str,
    gen: FaceGenerator,
    size: int,
    args: argparse.Namespace,
) -> list[str]:
    database = f"bench_search_{size}_{uuid.uuid4().hex[:8]}"
    loaded = await load_gallery(
        server_uri,
        database,
        gen,
        size,
        args.faces_per_identity,
        index_after_load=args.index_build == "after",
        maintenance_work_mem=args.maintenance_work_mem,
        parallel_workers=args.parallel_workers,
        plain_storage=args.embedding_storage == "plain",
        hnsw_with=args.hnsw_with,
    )
    try:
        n_identities = len(loaded.identity_ids)
        pick = gen.rng.integers(0, n_identities, size=args.queries + args.warmup)
        # a new photo of an enrolled person: a fresh noisy sample, never a stored face
        queries = gen.faces(loaded.centres[pick])
        truth = [loaded.identity_ids[i] for i in pick[args.warmup :]]
        exact = Config("exact", None, DEFAULT_SHORTLIST)
        if size >= args.sweep_from:
            approx = [Config("hnsw", ef, sl) for sl in args.shortlists for ef in args.ef_search]
        else:
            approx = [Config("hnsw", DEFAULT_EF, DEFAULT_SHORTLIST)]
        configs = [exact, *approx]
        plans = {c: await uses_index(loaded.gallery, c, queries[0]) for c in configs}
        started = time.perf_counter()
        samples = await run_queries(
            loaded.gallery, configs, queries, args.warmup, args.rounds, args.seed + size
        )
        query_s = time.perf_counter() - started
        build = ", ".join(f"{k} {v:.1f}s" for k, v in loaded.build_s.items())
        head = (
            f"-- {size} faces, {n_identities} identities: load {build}; queries {query_s:.0f}s"
            f"\n   index: {loaded.index}"
        )
        return [head, *report(size, n_identities, configs, exact, samples, truth, plans)]
    finally:
        await loaded.gallery.pool.close()
        if not args.keep:
            await drop_database(server_uri, database)


async def main_async(args: argparse.Namespace) -> None:
    gen = FaceGenerator(args.seed)
    print(f"generator: {gen.describe()}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="facefind-bench-") as tmp:
        server_uri = args.database_url or await asyncio.to_thread(gallery.start_embedded, Path(tmp))
        con = await asyncpg.connect(server_uri)
        try:
            version = await con.fetchval("SHOW server_version")
            print(
                f"PostgreSQL {version}, shared_buffers {await con.fetchval('SHOW shared_buffers')}"
            )
        finally:
            await con.close()
        print(
            f"{args.queries} queries per size, search limit {SEARCH_LIMIT}; each config runs "
            f"them in a block (after {args.warmup} warm-up queries), {args.rounds} rounds in "
            "shuffled order; ratio = HNSW p50 / exact p50"
        )
        for size in args.sizes:
            for line in await bench_size(server_uri, gen, size, args):
                print(line, flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} at end (other processes share the CPUs)")


def _hnsw_options(text: str) -> dict[str, int]:
    options: dict[str, int] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in ("m", "ef_construction") or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"expected m=N,ef_construction=N, got {text!r}")
        options[key] = int(value)
    return options


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed queries at the start of each block"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="timed passes over the queries per config"
    )
    parser.add_argument("--faces-per-identity", type=int, default=3)
    parser.add_argument(
        "--database-url",
        help="a server where the bench may CREATE and DROP databases (default: a throwaway "
        "embedded PostgreSQL)",
    )
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--shortlists", type=int, nargs="+", default=[50, 200])
    parser.add_argument(
        "--sweep-from",
        type=int,
        default=100_000,
        help="sweep ef_search x shortlist on galleries at least this large (smaller ones use "
        f"the defaults ef_search={DEFAULT_EF}, shortlist={DEFAULT_SHORTLIST})",
    )
    parser.add_argument(
        "--index-build",
        choices=["after", "during"],
        default="after",
        help="build the HNSW index after the COPY (default) or keep the migration's index "
        "while loading",
    )
    parser.add_argument(
        "--embedding-storage",
        choices=["schema", "plain"],
        default="schema",
        help="keep the migration's column storage (default), or store embeddings inline "
        "(an experiment: see load_gallery)",
    )
    parser.add_argument(
        "--hnsw-with",
        type=_hnsw_options,
        default={},
        metavar="m=16,ef_construction=64",
        help="build the index with these graph parameters instead of the migration's "
        "(an experiment; needs --index-build after)",
    )
    parser.add_argument("--maintenance-work-mem", default="1GB")
    parser.add_argument("--parallel-workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases (with --database-url)"
    )
    args = parser.parse_args(argv)
    if args.hnsw_with and args.index_build != "after":
        parser.error("--hnsw-with needs --index-build after")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    main()
