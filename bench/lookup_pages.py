"""The console's /lookups pages over a synthetic history of 1M lookups: p50 / p95 of the first
page, a page deep in the history and a filtered page (one identity, one officer, one band),
each plan checked with EXPLAIN (the intended index, no sequential scan of lookups).

The history is skewed as a real one is: many officers, a few of them busy (Zipf); many
identities, a few often matched; most lookups without a candidate; a few errors, undelivered
replies and verdicts. It is loaded with COPY into a fresh embedded server (or DATABASE_URL's).

    python bench/lookup_pages.py                 # 1M lookups, 200 runs of each page
    python bench/lookup_pages.py --lookups 100000 --runs 50
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np

# run as `python bench/lookup_pages.py` as well as `python -m bench.lookup_pages`
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gallery
from gallery import AuditKey, Gallery
from gallery.db import create_database, drop_database
from gallery.lookup_pages import LookupFilters, LookupPages, plan_nodes

MODEL = "bench-lookups"
CHUNK = 100_000  # lookups per COPY round: bounds the Python side's memory
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPAN = timedelta(days=730)  # two years of history
RETENTION = timedelta(days=90)  # older query faces have no crop left
CROP = b"\xff\xd8" + bytes(600) + b"\xff\xd9"  # the size of a real thumbnail, not a picture
GOAL_MS = 100.0


@dataclass(frozen=True)
class Shape:
    lookups: int
    officers: int
    identities: int
    seed: int


def zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


# --- the synthetic history --------------------------------------------------------------------
async def load(pool: asyncpg.Pool, shape: Shape) -> dict[str, float]:
    """Users, identities (one reference face each), lookups, their faces and candidates, and
    verdicts, all by COPY; returns seconds per step."""
    rng = np.random.default_rng(shape.seed)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    async with pool.acquire() as con:
        await con.copy_records_to_table(
            "users",
            columns=["id", "first_name", "username", "role", "status", "decided_by"],
            records=[
                (n, f"Officer {n}", f"officer{n}", "officer", "approved", "bench")
                for n in range(1, shape.officers + 1)
            ],
        )
        await con.copy_records_to_table(
            "identities",
            columns=["id", "display_name", "created_by"],
            records=[(n, f"Person {n}", "bench") for n in range(1, shape.identities + 1)],
        )
        # each identity's reference: an erased face (no embedding) is enough for candidates
        await con.copy_records_to_table(
            "faces",
            columns=["id", "identity_id", "model", "det_score", "quality", "bbox", "added_by",
                     "recipe", "active"],
            records=[
                (n, n, MODEL, 0.9, {}, [0.0, 0.0, 1.0, 1.0], "bench", "bench", False)
                for n in range(1, shape.identities + 1)
            ],
        )  # fmt: skip
    seconds["users, identities"] = time.perf_counter() - started

    officer_p = zipf_weights(shape.officers, 1.1)
    identity_p = zipf_weights(shape.identities, 0.9)
    # lookup ids follow time, but not strictly: jobs finish out of order
    offsets = np.sort(rng.uniform(0, SPAN.total_seconds(), shape.lookups))
    offsets += rng.normal(0, 30, shape.lookups)
    face_id = candidate_id = 0
    timings = {"lookups": 0.0, "faces": 0.0, "candidates": 0.0, "feedback": 0.0}
    for start in range(0, shape.lookups, CHUNK):
        n = min(CHUNK, shape.lookups - start)
        officers = rng.choice(shape.officers, size=n, p=officer_p) + 1
        status = rng.choice(
            ["done", "no_face", "error", "undelivered"], size=n, p=[0.93, 0.04, 0.015, 0.015]
        )
        faces_n = rng.choice([1, 2, 3], size=n, p=[0.75, 0.17, 0.08])
        faces_n[(status == "no_face") | (status == "error")] = 0
        # per query face, drawn ahead: whether it has candidates (most have none), how many,
        # who (the often matched come up often), the top score, a strong first band, a verdict
        m = int(faces_n.sum())
        matched = rng.random(m) < 0.2
        count = rng.choice([1, 2, 3], size=m, p=[0.6, 0.25, 0.15])
        who = rng.choice(shape.identities, size=(m, 3), p=identity_p) + 1
        top = rng.uniform(0.40, 0.90, m)
        strong = rng.random(m) < 0.35
        verdict = np.where(rng.random(m) < 0.15, np.where(rng.random(m) < 0.8, 1, 2), 0)
        lookups: list[tuple[Any, ...]] = []
        faces: list[tuple[Any, ...]] = []
        candidates: list[tuple[Any, ...]] = []
        feedback: list[tuple[Any, ...]] = []
        k = 0
        for i in range(n):
            lookup_id = start + i + 1
            officer = int(officers[i])
            created = NOW - SPAN + timedelta(seconds=float(offsets[start + i]))
            st = str(status[i])
            outcome = st if st in ("error", "no_face") else "done"
            lookups.append(
                (lookup_id, officer, f"tg:{officer}", "telegram", officer, lookup_id, st,
                 outcome, int(faces_n[i]), created, created + timedelta(seconds=2), {}, {})
            )  # fmt: skip
            crop = CROP if NOW - created < RETENTION else None
            for index in range(1, int(faces_n[i]) + 1):
                face_id += 1
                faces.append((face_id, lookup_id, index, [0.0, 0.0, 10.0, 10.0], 0.9, {}, crop))
                if matched[k]:
                    # one identity once per face: a repeated draw is dropped
                    people = list(dict.fromkeys(int(w) for w in who[k, : count[k]]))
                    for rank, person in enumerate(people, start=1):
                        candidate_id += 1
                        band = "strong" if rank == 1 and strong[k] else "possible"
                        similarity = float(top[k]) - 0.04 * (rank - 1)
                        candidates.append(
                            (candidate_id, face_id, rank, person, person, similarity, band, 0.001)
                        )
                        if rank == 1 and verdict[k]:
                            word = "confirmed" if verdict[k] == 1 else "rejected"
                            feedback.append((candidate_id, officer, f"tg:{officer}", word))
                k += 1
        async with pool.acquire() as con:
            for table, columns, records in (
                ("lookups", ["id", "user_id", "actor", "source", "chat_id", "message_id",
                             "status", "outcome", "face_count", "created_at", "finished_at",
                             "timings", "bands"], lookups),
                ("lookup_faces", ["id", "lookup_id", "face_index", "bbox", "det_score",
                                  "quality", "crop_jpeg"], faces),
                ("lookup_candidates", ["id", "lookup_face_id", "rank", "identity_id", "face_id",
                                       "similarity", "band", "false_candidate_rate"], candidates),
                ("feedback", ["candidate_id", "user_id", "actor", "verdict"], feedback),
            ):  # fmt: skip
                began = time.perf_counter()
                await con.copy_records_to_table(table, columns=columns, records=records)
                timings[table.replace("lookup_", "")] += time.perf_counter() - began
        print(f"  loaded {start + n:,} lookups", flush=True)
    seconds.update({f"copy {k}": v for k, v in timings.items()})
    started = time.perf_counter()
    async with pool.acquire() as con:
        # the sequences behind the ids COPY wrote, so that later inserts do not collide
        for table in ("identities", "faces", "lookups", "lookup_faces", "lookup_candidates"):
            await con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        # as autovacuum leaves a table once it has caught up: statistics and visibility map
        await con.execute("VACUUM (ANALYZE)")
    seconds["vacuum analyze"] = time.perf_counter() - started
    return seconds


# --- the pages --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    variants: Sequence[tuple[LookupFilters, int | None]]  # (filters, before)
    indexes: tuple[str, ...]  # the plan must use one of these
    goal: bool  # one of the three pages


async def cases(pool: asyncpg.Pool, shape: Shape) -> list[Case]:
    deep_offset = int(shape.lookups * 0.9)
    async with pool.acquire() as con:
        deep = [
            int(r["id"])
            for r in await con.fetch(
                "SELECT id FROM lookups ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 20",
                deep_offset,
            )
        ]
        # (identity, officer, band) as they occur: the popular ones come up most often
        await con.execute("SELECT setseed(0.16)")
        combos = await con.fetch(
            "SELECT c.identity_id, l.user_id, c.band FROM lookup_candidates c "
            "JOIN lookup_faces lf ON lf.id = c.lookup_face_id "
            "JOIN lookups l ON l.id = lf.lookup_id "
            "WHERE c.rank = 1 ORDER BY random() LIMIT 20"
        )
        busiest = await con.fetchval(
            "SELECT user_id FROM lookups GROUP BY user_id ORDER BY count(*) DESC LIMIT 1"
        )
        top_identity = await con.fetchval(
            "SELECT identity_id FROM lookup_candidates GROUP BY identity_id "
            "ORDER BY count(*) DESC LIMIT 1"
        )
    filtered = [
        (LookupFilters(identity_id=r["identity_id"], user_id=r["user_id"], band=r["band"]), None)
        for r in combos
    ]
    # the worst combination: the most matched identity and the busiest officer
    filtered[0] = (LookupFilters(identity_id=top_identity, user_id=busiest, band="possible"), None)
    time_index = ("lookups_time_id",)
    return [
        Case("first page", [(LookupFilters(), None)], time_index, True),
        Case(f"deep page ({deep_offset:,} lookups back)", [(LookupFilters(), d) for d in deep],
             time_index, True),
        Case("identity + officer + band", filtered,
             ("lookup_candidates_identity_time", "lookups_user_time_id"), True),
        # beyond the three: one filter alone, the ones that walk the history
        Case("band strong", [(LookupFilters(band="strong"), None)], time_index, False),
        Case("feedback confirmed", [(LookupFilters(feedback="confirmed"), None)], time_index,
             False),
        Case("status error", [(LookupFilters(status="error"), None)],
             ("lookups_status_time_id",), False),
        # a busy officer's lookups are dense enough in time that walking the time index and
        # skipping the others' can be the cheaper plan
        Case("busiest officer, deep", [(LookupFilters(user_id=busiest), d) for d in deep],
             ("lookups_user_time_id", "lookups_time_id"), False),
        Case("most matched identity", [(LookupFilters(identity_id=top_identity), None)],
             ("lookup_candidates_identity_time",), False),
    ]  # fmt: skip


def check_plan(case: Case, plan: dict[str, Any]) -> tuple[str, float, str | None]:
    """The indexes a plan uses, its execution time, and what is wrong with it: a sequential
    scan of lookups, or none of the indexes the case is built on."""
    nodes = plan_nodes(plan)
    seq = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "lookups"]
    used = sorted({n["Index Name"] for n in nodes if "Index Name" in n})
    problem = None
    if seq:
        problem = "sequential scan of lookups"
    elif not set(used) & set(case.indexes):
        problem = f"none of {', '.join(case.indexes)}"
    return ", ".join(used), float(plan["Execution Time"]), problem


async def measure(pages: LookupPages, case: Case, runs: int) -> list[float]:
    for filters, before in case.variants[:3]:  # warm the cache as a used console has it
        await pages.page(filters, before=before)
    samples = []
    for i in range(runs):
        filters, before = case.variants[i % len(case.variants)]
        began = time.perf_counter()
        await pages.page(filters, before=before)
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- main -------------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> int:
    shape = Shape(args.lookups, args.officers, args.identities, args.seed)
    with tempfile.TemporaryDirectory(prefix="facefind-bench-lookups-") as tmp:
        server = args.database_url or await asyncio.to_thread(gallery.start_embedded, Path(tmp))
        name = f"bench_lookups_{secrets.token_hex(4)}"
        dsn = await create_database(server, name)
        try:
            key = AuditKey(secrets.token_bytes(32))  # a scratch database
            await gallery.migrate(dsn, audit_key=key, actor="bench")
            pool = await gallery.create_pool(dsn, max_size=2)
            try:
                g = Gallery(pool, audit_key=key)
                await g.models.register(MODEL, "d" * 64, "r" * 64)
                print(f"loading {shape.lookups:,} lookups, {shape.officers} officers, "
                      f"{shape.identities:,} identities", flush=True)  # fmt: skip
                began = time.perf_counter()
                seconds = await load(pool, shape)
                total = time.perf_counter() - began
                await report_sizes(pool)
                print("load: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
                      + f"; {total:.0f} s in all")  # fmt: skip
                return await bench(g, pool, shape, args.runs)
            finally:
                await pool.close()
        finally:
            await drop_database(server, name)


async def report_sizes(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables "
            "WHERE relname IN ('lookups', 'lookup_faces', 'lookup_candidates', 'feedback') "
            "ORDER BY relname"
        )
        bands = await con.fetch(
            "SELECT coalesce(b.band, 'none') AS band, count(*) AS n FROM lookups l "
            "LEFT JOIN LATERAL (SELECT min(c.band) AS band FROM lookup_faces lf "
            "JOIN lookup_candidates c ON c.lookup_face_id = lf.id WHERE lf.lookup_id = l.id) b "
            "ON true GROUP BY 1 ORDER BY 1"
        )
    print("rows: " + ", ".join(f"{r['relname']} {r['n_live_tup']:,}" for r in rows))
    # min() of 'possible' and 'strong' is 'possible': a lookup with both counts as possible
    # here, as strong in the page's band filter; the shares are what matter
    print("lookups by band: " + ", ".join(f"{r['band']} {r['n']:,}" for r in bands))


async def bench(g: Gallery, pool: asyncpg.Pool, shape: Shape, runs: int) -> int:
    pages = g.lookup_pages
    all_cases = await cases(pool, shape)
    load_before = os.getloadavg()
    results = []
    for case in all_cases:
        filters, before = case.variants[0]
        checked = check_plan(case, await pages.explain(filters, before=before))
        samples = await measure(pages, case, runs)
        results.append((case, samples, *checked))
    load_after = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before the timings, "
          f"{load_after[0]:.2f} after; {runs} runs of each page (50 rows, with faces and "
          "candidates); times are the whole data-layer call")  # fmt: skip
    print("| page | p50 ms | p95 ms | max ms | variants | plan: indexes | EXPLAIN ANALYZE ms |")
    print("|---|---:|---:|---:|---:|---|---:|")
    failed = False
    for case, samples, indexes, explain_ms, problem in results:
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        mark = ""
        if case.goal:
            mark = " ✓" if p95 <= GOAL_MS else " ✗"
            failed |= p95 > GOAL_MS
        failed |= problem is not None
        plan = indexes + (f" ✗ {problem}" if problem else "")
        print(f"| {case.name}{mark} | {p50:.1f} | {p95:.1f} | {max(samples):.1f} | "
              f"{len(case.variants)} | {plan} | {explain_ms:.1f} |")  # fmt: skip
    print(f"\ngoal: p95 <= {GOAL_MS:.0f} ms for the three pages marked ✓/✗, and every plan on "
          "the indexes it is built for, without a sequential scan of lookups")  # fmt: skip
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=1_000_000)
    parser.add_argument("--officers", type=int, default=400)
    parser.add_argument("--identities", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help="a server to create the scratch database on (default: an embedded one)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(run(parse_args(argv))))


if __name__ == "__main__":
    main()
