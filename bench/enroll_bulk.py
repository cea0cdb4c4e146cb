"""Bulk enrollment throughput: `facefind enroll DIR --workers N` against N raw insightface
processes on the same photos, side by side, as a ratio of photos per second.

    flock /tmp/facefind-heavy.lock .venv/bin/python -m bench.enroll_bulk \\
        /work/shared/faces/lfw-devtrain --workers 2 --rounds 2

The baseline is what a plain script does with the same models: N processes, each detecting with
SCRFD at 640 px and embedding every face once with ArcFace (bench/pipeline.py's RawInsightface),
nothing stored. facefind's run does all of its work: decoding with limits, two detector passes
with a padded retry, alignment, mirror-image averaging (two recognizer passes per face), the
quality verdict, the enrollment decisions, JPEG crops, and COPY into a scratch database with
templates and the index. Both include starting their processes and loading the models. Rounds
alternate the order; the ratio of the medians is printed with the load average.

`--mirror-baseline` adds a third side: the raw processes embedding each face as facefind does
(the face and its mirror image, two recognizer passes). facefind against it is the cost of
facefind's own work (decisions, crops, the database, the loader process) apart from the recipe.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from facefind.actors import Requester
from facefind.folders import scan_folder
from facefind.service import FaceFind
from facefind.settings import Settings
from gallery import start_embedded
from gallery.db import create_database, drop_database
from recognition.models import resolve_model_pack

_raw = None


def _raw_init(threads: int, mirror: bool) -> None:
    from bench.pipeline import RawInsightface

    global _raw
    pack = resolve_model_pack(None)
    _raw = RawInsightface(pack.detector_path, pack.recognizer_path, threads, mirror=mirror)


def _raw_shard(paths: list[str]) -> int:
    assert _raw is not None
    faces = 0
    for path in paths:
        faces += len(_raw.run(Path(path).read_bytes()).embeddings)
    return faces


def raw_run(paths: list[Path], workers: int, mirror: bool = False) -> float:
    """Seconds for `workers` raw processes to detect and embed every photo."""
    started = time.perf_counter()
    shards = [[str(p) for p in paths[i::workers]] for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    init = (1, mirror)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_raw_init, initargs=init) as pool:
        list(pool.map(_raw_shard, shards))
    return time.perf_counter() - started


async def facefind_run(root: Path, server: str, workers: int) -> tuple[float, int]:
    """Seconds for facefind to enroll the folder with `workers` processes into a new database."""
    name = f"bench_enroll_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(server, name)
    try:
        service = await FaceFind.open(Settings(database_url=dsn, data_dir=Path(tempfile.mkdtemp())))
        try:
            plan = await asyncio.to_thread(scan_folder, root)
            started = time.perf_counter()
            report = await service.enroll_plan(
                plan, Requester(actor="bench"), workers=workers, check_duplicates=False
            )
            return time.perf_counter() - started, report.enrolled
        finally:
            await service.close()
    finally:
        await drop_database(server, name)


async def main_async(args: argparse.Namespace) -> None:
    plan = scan_folder(args.root)
    if args.people:
        plan = plan[: args.people]
    paths = [p for *_, photos in plan for p in photos]
    subset = args.root
    if args.people:
        # the same people for both sides: a folder of links to the first N people
        subset = Path(tempfile.mkdtemp(prefix="enroll-bench-"))
        for name, *_rest, photos in plan:
            folder = subset / name.replace(" ", "_")
            folder.mkdir()
            for p in photos:
                (folder / p.name).symlink_to(p)
    server = args.database_url or await asyncio.to_thread(
        start_embedded, Path(tempfile.mkdtemp(prefix="enroll-bench-pg-"))
    )
    print(f"photos: {len(paths)} of {len(plan)} people; workers: {args.workers}; "
          f"load average at start: {os.getloadavg()[0]:.2f}")  # fmt: skip
    sides = ["facefind", "raw"] + (["raw-mirror"] if args.mirror_baseline else [])
    seconds_of: dict[str, list[float]] = {side: [] for side in sides}
    for rnd in range(args.rounds):
        # rotate the order round by round, so no side always runs first
        order = sides[rnd % len(sides) :] + sides[: rnd % len(sides)]
        for side in order:
            if side == "facefind":
                seconds, enrolled = await facefind_run(subset, server, args.workers)
                what = f"facefind enroll: {seconds:.1f} s"
                extra = f", {enrolled} faces enrolled"
            else:
                mirror = side == "raw-mirror"
                seconds = await asyncio.to_thread(raw_run, paths, args.workers, mirror)
                what = f"raw insightface{' (mirror recipe)' if mirror else ''}: {seconds:.1f} s"
                extra = ""
            seconds_of[side].append(seconds)
            print(f"round {rnd + 1} {what} ({len(paths) / seconds:.1f} photos/s{extra})")
    ours = statistics.median(seconds_of["facefind"])
    ratio = statistics.median(seconds_of["raw"]) / ours
    print(
        f"\nthroughput ratio facefind / raw insightface (medians, {args.workers} processes "
        f"each): {ratio:.2f}; load average at end: {os.getloadavg()[0]:.2f}"
    )
    if args.mirror_baseline:
        mirrored = statistics.median(seconds_of["raw-mirror"]) / ours
        print(f"throughput ratio facefind / raw insightface with the mirror recipe: {mirrored:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="ROOT/<Person>/<photos>, e.g. LFW DevTrain")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, help="only the first N people")
    parser.add_argument("--database-url", help="a server to create scratch databases on")
    parser.add_argument(
        "--mirror-baseline",
        action="store_true",
        help="also time raw processes that embed each face and its mirror image, as facefind does",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
