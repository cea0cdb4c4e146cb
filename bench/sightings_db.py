"""Sightings at scale in PostgreSQL: how long a new face takes to be placed among N past
sightings (the live path of every lookup with an unknown face), and how long the nightly pass
takes over them (it places every sighting in no group again, so it grows with N).

Synthetic face-like vectors, loaded with COPY into a fresh embedded server (or
--database-url's): a share of the sightings are people seen 2 to 5 times (their photos score
about 0.65 with each other, as two photos of one person do with buffalo_s), the rest strangers
seen once (unrelated vectors score near 0, as unrelated faces do). All are loaded in no group,
as if never placed; the first nightly pass then groups the returning people, and the second
is a night like any other: every sighting in no group looked at again, nothing to change. The
rules and thresholds are the shipped calibration's (buffalo_s), as the service uses them.

    python -m bench.sightings_db                       # 100,000 sightings
    python -m bench.sightings_db --sightings 20000 --live 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gallery
from bench.lookup_pages import percentile
from bench.sightings import calibration
from facefind.scoring.unknown_persons import nightly_pass, place_sighting
from gallery import AuditKey, Gallery
from gallery.db import create_database, drop_database
from gallery.sighting_records import NewSighting

MODEL = "bench-sightings"
DIM = 512
# per-dimension noise around a person's centre: two of their photos score 1 / (1 + 512 s^2)
NOISE = 0.0324  # about 0.65
CHUNK = 20_000


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic(n: int, returning: float, rng: np.random.Generator) -> np.ndarray:
    """n vectors: `returning` of them people seen 2 to 5 times, the rest strangers seen once;
    in a random order, as they would arrive."""
    vectors: list[np.ndarray] = []
    left = int(n * returning)
    while left > 1:
        k = min(left, int(rng.integers(2, 6)))
        centre = unit(rng.standard_normal((1, DIM)))
        vectors.append(unit(centre + NOISE * rng.standard_normal((k, DIM))))
        left -= k
    strangers = n - sum(len(v) for v in vectors)
    vectors.append(unit(rng.standard_normal((strangers, DIM))))
    out = np.concatenate(vectors)
    return out[rng.permutation(len(out))]


async def load(pool: asyncpg.Pool, vectors: np.ndarray) -> int:
    """One lookup a sighting, all by COPY; the first lookup's id."""
    async with pool.acquire() as con:
        first = None
        for start in range(0, len(vectors), CHUNK):
            chunk = vectors[start : start + CHUNK]
            await con.copy_records_to_table(
                "lookups",
                columns=["actor", "source", "model", "status", "face_count"],
                records=[("tg:1", "telegram", MODEL, "done", 1)] * len(chunk),
            )
            if first is None:
                first = int(await con.fetchval("SELECT min(id) FROM lookups"))
            ids = range(first + start, first + start + len(chunk))
            await con.copy_records_to_table(
                "sightings",
                columns=["model", "embedding", "recipe", "det_score", "quality",
                         "quality_score", "bbox", "lookup_id", "actor", "state"],
                records=[(MODEL, v, "flip-mean", 0.8, {}, 0.5, [0.0, 0.0, 10.0, 10.0], i,
                          "tg:1", "alone") for v, i in zip(chunk, ids, strict=True)],
            )  # fmt: skip
            print(f"  {start + len(chunk):,} sightings loaded", flush=True)
        await con.execute("ANALYZE sightings")
    assert first is not None
    return first


def new_sighting(vector: np.ndarray, lookup_id: int) -> NewSighting:
    return NewSighting(
        model=MODEL, embedding=vector, recipe="flip-mean", det_score=0.8, quality={},
        quality_score=0.5, low_quality=False, bbox=(0.0, 0.0, 10.0, 10.0), crop_jpeg=None,
        lookup_id=lookup_id, actor="tg:1",
    )  # fmt: skip


async def bench(g: Gallery, pool: asyncpg.Pool, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    cal = calibration(None, "0")
    vectors = synthetic(args.sightings, args.returning, rng)
    began = time.perf_counter()
    first = await load(pool, vectors)
    print(f"load: {time.perf_counter() - began:.0f} s")

    for night in (1, 2):
        began = time.perf_counter()
        report = await nightly_pass(g.sightings, MODEL, cal, actor="bench")
        took = time.perf_counter() - began
        print(f"nightly pass {night}: {took:.1f} s ({took / max(report.looked_at, 1) * 1000:.1f} "
              f"ms a sighting in no group); {report.looked_at:,} looked at, {report.placed:,} "
              f"placed, {report.merges} merges, {report.deferred} deferred")  # fmt: skip

    # live placements: new faces, half of them returning people of the history
    probes = []
    for k in range(args.live):
        if k % 2:
            v = vectors[rng.integers(len(vectors))]
            probes.append(unit(v[None] + NOISE * rng.standard_normal((1, DIM)))[0])
        else:
            probes.append(unit(rng.standard_normal((1, DIM)))[0])
    samples, joined = [], 0
    load_before = os.getloadavg()[0]
    for k, v in enumerate(probes):
        t0 = time.perf_counter()
        placed = await place_sighting(g.sightings, new_sighting(v, first + k), cal)
        samples.append((time.perf_counter() - t0) * 1000)
        joined += placed.group_id is not None
    async with pool.acquire() as con:
        groups = await con.fetchval("SELECT count(*) FROM unknown_persons WHERE model = $1", MODEL)
    print(f"live placements among {args.sightings:,} sightings ({groups:,} unknown persons): "
          f"p50 {statistics.median(samples):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms, "
          f"max {max(samples):.1f} ms over {len(samples)}; {joined} joined or paired a group; "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after; "
          f"{os.cpu_count()} CPUs")  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="facefind-bench-sightings-") as tmp:
        server = args.database_url or await asyncio.to_thread(gallery.start_embedded, Path(tmp))
        name = f"bench_sightings_{secrets.token_hex(4)}"
        dsn = await create_database(server, name)
        try:
            key = AuditKey(secrets.token_bytes(32))  # a scratch database
            await gallery.migrate(dsn, audit_key=key, actor="bench")
            pool = await gallery.create_pool(dsn, max_size=2)
            try:
                g = Gallery(pool, audit_key=key)
                await g.models.register(MODEL, "d" * 64, "r" * 64)
                await bench(g, pool, args)
            finally:
                await pool.close()
        finally:
            await drop_database(server, name)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sightings", type=int, default=100_000)
    parser.add_argument("--returning", type=float, default=0.3,
                        help="share of sightings of people seen 2 to 5 times")  # fmt: skip
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
