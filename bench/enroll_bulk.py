"""Bulk enrollment throughput: `facefind enroll DIR --workers N` against a plain insightface
script with N processes on the same photos, both timed as whole processes, side by side.

    .venv/bin/python -m bench.enroll_bulk ../shared/faces/lfw-devtrain --workers 2 --rounds 3
    .venv/bin/python -m bench.enroll_bulk ../shared/faces/lfw-devtrain --limit 300 --rounds 1

Every side is one process started by this bench and timed from its start to its exit, so each
pays for starting Python, importing, starting its workers and loading the models:

- facefind: `python -m facefind enroll DIR --workers N --no-duplicate-check` into a new database
  (its migrations included) on an embedded PostgreSQL the bench started beforehand, as a
  deployment's server is, with a new data folder. Its run does all of its work: scanning the
  folder, decoding with limits, two detector passes with a padded retry, alignment,
  mirror-image averaging (two recognizer passes a face) on the PRelu-rewritten graph, the
  quality verdict, the enrollment decisions, JPEG crops, and COPY with templates and the index;
  the process ends after the last face is stored.
- raw: `python -m bench.enroll_bulk raw ...`: N processes, each detecting with SCRFD at 640 px
  and embedding every face once with ArcFace on the model file's graph (bench/pipeline.py's
  RawInsightface), nothing stored: what a plain script does.
- raw, rewritten graph: the same script with the recognizer on the graph facefind runs
  (recognition/graph.py's PRelu rewrite): the baseline that sets the graph rewrite apart.
- with --mirror-baseline, raw, rewritten graph, mirror recipe: each face also embedded as
  facefind does (the face and its mirror image, one call): facefind against it is the cost of
  facefind's own work (decisions, crops, the database, the loader) alone.

Both take the same photos: `--limit N` (the first N photos, person by person) or `--people N`
link them into a folder of their own. Rounds rotate the order of the sides; the ratios of the
medians are printed (above 1: facefind enrolls more photos a second) with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from facefind.enroll.folder_scan import scan_folder

SIDES = {
    "facefind": "facefind enroll",
    "raw": "raw insightface, the file's graph",
    "raw-rewritten": "raw insightface, rewritten graph",
    "raw-rewritten-mirror": "raw insightface, rewritten graph, mirror recipe",
}

# --- the raw script, run as a process of its own ------------------------------------------------
_raw = None


def _raw_init(threads: int, mirror: bool, rewritten: bool) -> None:
    from bench.pipeline import RawInsightface
    from recognition.models import resolve_model_pack

    global _raw
    pack = resolve_model_pack(None)
    _raw = RawInsightface(
        pack.detector_path, pack.recognizer_path, threads, mirror=mirror, rewritten=rewritten
    )


def _raw_shard(paths: list[str]) -> int:
    assert _raw is not None
    faces = 0
    for path in paths:
        faces += len(_raw.run(Path(path).read_bytes()).embeddings)
    return faces


def raw_main(args: argparse.Namespace) -> None:
    """The plain script: N spawned processes, each loads the models and takes every Nth photo."""
    paths = args.photos.read_text().splitlines()
    shards = [paths[i :: args.workers] for i in range(args.workers)]
    ctx = multiprocessing.get_context("spawn")
    init = (1, args.mirror, args.graph == "rewritten")
    with ProcessPoolExecutor(
        args.workers, mp_context=ctx, initializer=_raw_init, initargs=init
    ) as pool:
        faces = sum(pool.map(_raw_shard, shards))
    print(json.dumps({"photos": len(paths), "faces": faces}))


# --- the bench ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    seconds: float
    faces: int  # facefind: enrolled; raw: embedded


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds from the process's start to its exit, and what it printed last."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{done.stderr[-3000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


async def facefind_side(folder: Path, server: str, workers: int, scratch: Path) -> Run:
    from gallery.db import create_database, drop_database

    name = f"bench_enroll_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(server, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env |= {
        "DATABASE_URL": dsn,
        "FACEFIND_DATA_DIR": tempfile.mkdtemp(prefix="data-", dir=scratch),
        "FACEFIND_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "facefind", "enroll", str(folder), "--workers",
               str(workers), "--no-duplicate-check", "--quiet", "--json"]  # fmt: skip
    try:
        seconds, last = await asyncio.to_thread(timed, command, env)
    finally:
        await drop_database(server, name)
    return Run(seconds, int(json.loads(last)["faces_enrolled"]))


async def raw_side(photos: Path, workers: int, side: str) -> Run:
    command = [sys.executable, "-m", "bench.enroll_bulk", "raw", str(photos), "--workers",
               str(workers), "--graph", "file" if side == "raw" else "rewritten"]  # fmt: skip
    if side.endswith("-mirror"):
        command.append("--mirror")
    seconds, last = await asyncio.to_thread(timed, command, dict(os.environ))
    return Run(seconds, int(json.loads(last)["faces"]))


def subset_folder(
    root: Path, limit: int | None, people: int | None, scratch: Path
) -> tuple[Path, list[Path]]:
    """The folder both sides read and its photos: ROOT itself, or a folder of links to the
    first `people` people, or to the first `limit` photos person by person."""
    plan = scan_folder(root)
    if people:
        plan = plan[:people]
    if limit:
        kept, left = [], limit
        for name, ref, notes, photos in plan:
            if left <= 0:
                break
            kept.append((name, ref, notes, photos[:left]))
            left -= len(photos[:left])
        plan = kept
    paths = [p for *_, photos in plan for p in photos]
    if not people and not limit:
        return root, paths
    folder = scratch / "photos"
    folder.mkdir()
    for name, *_rest, photos in plan:
        person = folder / name.replace(" ", "_")
        person.mkdir()
        for p in photos:
            (person / p.name).symlink_to(p.resolve())
    return folder, paths


async def bench_main(args: argparse.Namespace) -> None:
    # the data folders, the subset's links and the list go when the bench ends; the server's
    # folder stays (it stops when this process exits)
    with tempfile.TemporaryDirectory(prefix="enroll-bench-") as scratch:
        await bench(args, Path(scratch))


async def bench(args: argparse.Namespace, scratch: Path) -> None:
    from gallery import start_embedded

    folder, paths = subset_folder(args.root, args.limit, args.people, scratch)
    photos = scratch / "photos.txt"
    photos.write_text("\n".join(str(p) for p in paths) + "\n")
    server = args.database_url or await asyncio.to_thread(
        start_embedded, Path(tempfile.mkdtemp(prefix="enroll-bench-pg-"))
    )
    print(f"photos: {len(paths)}; workers: {args.workers}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")  # fmt: skip
    sides = ["facefind", "raw", "raw-rewritten"]
    if args.mirror_baseline:
        sides.append("raw-rewritten-mirror")
    runs: dict[str, list[Run]] = {side: [] for side in sides}
    for rnd in range(args.rounds):
        # rotate the order round by round, so no side always runs first
        order = sides[rnd % len(sides) :] + sides[: rnd % len(sides)]
        for side in order:
            if side == "facefind":
                run = await facefind_side(folder, server, args.workers, scratch)
                faces = f"{run.faces} faces enrolled"
            else:
                run = await raw_side(photos, args.workers, side)
                faces = f"{run.faces} faces embedded"
            runs[side].append(run)
            print(
                f"round {rnd + 1} {SIDES[side]}: {run.seconds:.1f} s "
                f"({len(paths) / run.seconds:.1f} photos/s, {faces})",
                flush=True,
            )
    ours = statistics.median(r.seconds for r in runs["facefind"])
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(f"throughput ratio facefind / baseline (medians of whole processes, {args.workers} "
          "processes each; above 1: facefind is faster):")  # fmt: skip
    for side in sides[1:]:
        ratio = statistics.median(r.seconds for r in runs[side]) / ours
        print(f"  {SIDES[side]}: {ratio:.2f}")


def main() -> None:
    if sys.argv[1:2] == ["raw"]:
        parser = argparse.ArgumentParser(prog="bench.enroll_bulk raw")
        parser.add_argument("photos", type=Path, help="a file with one photo path a line")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--graph", choices=["file", "rewritten"], default="file")
        parser.add_argument("--mirror", action="store_true")
        raw_main(parser.parse_args(sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="ROOT/<Person>/<photos>, e.g. LFW DevTrain")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, help="only the first N people")
    parser.add_argument("--limit", type=int, help="only the first N photos, person by person")
    parser.add_argument("--database-url", help="a server to create scratch databases on")
    parser.add_argument(
        "--mirror-baseline",
        action="store_true",
        help="also time raw processes on the rewritten graph that embed each face and its "
        "mirror image, as facefind does",
    )
    asyncio.run(bench_main(parser.parse_args()))


if __name__ == "__main__":
    main()
