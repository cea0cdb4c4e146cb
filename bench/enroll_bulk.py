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
alternate the two; the ratio of the medians is printed with the load average.
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


def _raw_init(threads: int) -> None:
    from bench.pipeline import RawInsightface

    global _raw
    pack = resolve_model_pack(None)
    _raw = RawInsightface(pack.detector_path, pack.recognizer_path, threads)


def _raw_shard(paths: list[str]) -> int:
    assert _raw is not None
    faces = 0
    for path in paths:
        faces += len(_raw.run(Path(path).read_bytes()).embeddings)
    return faces


def raw_run(paths: list[Path], workers: int) -> float:
    """Seconds for `workers` raw processes to detect and embed every photo."""
    started = time.perf_counter()
    shards = [[str(p) for p in paths[i::workers]] for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_raw_init, initargs=(1,)) as pool:
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
    ours: list[float] = []
    raw: list[float] = []
    for rnd in range(args.rounds):
        order = ("facefind", "raw") if rnd % 2 == 0 else ("raw", "facefind")
        for side in order:
            if side == "raw":
                seconds = await asyncio.to_thread(raw_run, paths, args.workers)
                raw.append(seconds)
                print(f"round {rnd + 1} raw insightface: {seconds:.1f} s "
                      f"({len(paths) / seconds:.1f} photos/s)")  # fmt: skip
            else:
                seconds, enrolled = await facefind_run(subset, server, args.workers)
                ours.append(seconds)
                rate = len(paths) / seconds
                print(f"round {rnd + 1} facefind enroll: {seconds:.1f} s "
                      f"({rate:.1f} photos/s, {enrolled} faces enrolled)")  # fmt: skip
    ratio = statistics.median(raw) / statistics.median(ours)
    print(
        f"\nthroughput ratio facefind / raw insightface (medians, {args.workers} processes "
        f"each): {ratio:.2f}; load average at end: {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="ROOT/<Person>/<photos>, e.g. LFW DevTrain")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, help="only the first N people")
    parser.add_argument("--database-url", help="a server to create scratch databases on")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
