"""Lookup throughput with one and with two `facefind worker` processes, side by side.

    flock /tmp/facefind-heavy.lock .venv/bin/python -m bench.workers --photos 40 --rounds 2

The bot (`facefind run` with FACEFIND_IN_PROCESS_WORKER=false) takes the updates from a local
Bot API server (tests/fakebotapi/) and queues one job per lookup; the workers answer them.
Each worker gets one inference thread (FACEFIND_INFERENCE_WORKERS=1), standing for one machine's
worth of recognition: on this 2-core machine two such workers can use both cores, as two
machines would. A round pushes the same photos (crops of insightface's t1.jpg, distinct bytes)
from 8 users at once and times them until every lookup's closing message has arrived. Rounds
alternate one and two workers; the ratio of the median times is printed with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from gallery import start_embedded
from gallery.db import create_database, drop_database
from tests import images
from tests.fakebotapi import FakeBotApi
from tests.processes import FacefindProcess, process_env


def photos(count: int) -> list[bytes]:
    t1 = images.read_image("t1.jpg")
    boxes = [(464, 266, 573, 415), (56, 261, 169, 398), (745, 342, 847, 480), (270, 145, 372, 270)]
    return [
        images.to_jpeg(images.crop_around(t1, boxes[k % len(boxes)], 0.4 + 0.05 * k))
        for k in range(count)
    ]


async def one_round(server: str, workers: int, blobs: list[bytes]) -> float:
    name = f"bench_workers_{uuid.uuid4().hex[:10]}"
    owner = await create_database(server, name)
    data = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    admins = list(range(901, 909))
    try:
        async with FakeBotApi() as api:
            env = {
                **process_env(api, owner, data, admins),
                "FACEFIND_RATE_LIMIT_PER_HOUR": "0",
                "FACEFIND_LOG_LEVEL": "WARNING",
            }
            bot = await FacefindProcess.start("run", {**env, "FACEFIND_IN_PROCESS_WORKER": "false"})
            started: list[FacefindProcess] = []
            try:
                await api.wait_for_call("getUpdates", timeout=180)
                for _ in range(workers):
                    proc = await FacefindProcess.start("worker", env)
                    started.append(proc)
                # the workers are ready once each has announced itself in the queue
                await asyncio.sleep(1)
                await _until_workers(owner, workers)
                users = [api.user(uid, f"U{uid}") for uid in admins]
                t0 = time.perf_counter()
                for k, blob in enumerate(blobs):
                    api.push_message(users[k % len(users)], photo=blob)

                def closing() -> int:
                    return sum(
                        1
                        for m in api.sent
                        if "Lookup #" in (m.get("text") or m.get("caption") or "")
                    )

                while closing() < len(blobs):
                    await asyncio.sleep(0.1)
                return time.perf_counter() - t0
            finally:
                for proc in [*started, bot]:
                    await proc.stop()
    finally:
        await drop_database(server, name)


async def _until_workers(dsn: str, count: int) -> None:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        for _ in range(600):
            alive = await con.fetchval("SELECT count(*) FROM procrastinate_workers")
            if alive >= count:
                return
            await asyncio.sleep(0.2)
    finally:
        await con.close()
    raise TimeoutError(f"{count} workers did not start")


async def main_async(args: argparse.Namespace) -> None:
    server = args.database_url or await asyncio.to_thread(
        start_embedded, Path(tempfile.mkdtemp(prefix="bench-workers-pg-"))
    )
    blobs = photos(args.photos)
    print(f"{len(blobs)} photos from 8 users; load average at start {os.getloadavg()[0]:.2f}")
    times: dict[int, list[float]] = {1: [], 2: []}
    for rnd in range(args.rounds):
        for workers in (1, 2) if rnd % 2 == 0 else (2, 1):
            seconds = await one_round(server, workers, blobs)
            times[workers].append(seconds)
            print(
                f"round {rnd + 1}, {workers} worker(s): {seconds:.1f} s "
                f"({len(blobs) / seconds:.2f} lookups/s)"
            )
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(
        f"\nthroughput with two workers / one worker (medians): {one / two:.2f}; "
        f"load average at end {os.getloadavg()[0]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", help="a server to create scratch databases on")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
