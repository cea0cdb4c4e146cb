"""Peak memory of `facefind run` under a burst of large photos, against a one-photo baseline.

`facefind run` runs as a process of its own (the real entry point) against the local Bot API
server of the tests and an embedded PostgreSQL; its resident memory (RSS, the bot process
alone: PostgreSQL is not counted) is sampled every 20 ms. Each round runs, each in a fresh
process on a fresh database: the baseline (one user, one large photo), a small burst (2 users x
2 photos: enough to fill the inference threads and the running lookups) and the burst (20
users x 6 large photos, all sent at once). The report gives medians over the rounds and the
burst's peak against the other two: memory is flat when the burst's peak is the small burst's.

    flock /tmp/facefind-heavy.lock .venv/bin/python -m bench.memory --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from gallery import start_embedded
from gallery.db import create_database, drop_database
from tests import images
from tests.fakebotapi import JSON, FakeBotApi

TOKEN = "515151:MEMORY"
FIRST_USER = 9001
SAMPLE_EVERY = 0.02
WAIT_S = 900.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    idle: int  # RSS once the bot polls, before any photo
    peak: int  # highest RSS while the photos were answered
    end: int  # RSS once every photo was answered
    seconds: float  # first photo sent to last one answered
    photos: int


def large_photos(count: int) -> list[bytes]:
    """Distinct large JPEGs (about 4000 x 2800, 3-5 MB) of t1.jpg's six faces, as a phone
    sends them "as a file": scaled, mirrored, recompressed."""
    base = images.read_image(images.T1)
    out = []
    for n in range(count):
        img = images.resize(base, 3.1 + 0.05 * n)
        if n % 2:
            img = images.flip(img)
        noise = np.random.default_rng(n).integers(0, 6, img.shape, dtype=np.uint8)
        out.append(images.to_jpeg(np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)))
    return out


async def one_run(
    server_uri: str, users: int, per_user: int, photos: list[bytes], settings: dict[str, str]
) -> Sample:
    name = f"bench_mem_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(server_uri, name)
    ids = [FIRST_USER + n for n in range(users)]
    try:
        async with FakeBotApi(TOKEN) as api:
            env = {
                **os.environ,
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.url,
                "DATABASE_URL": dsn,
                "ADMIN_IDS": ",".join(str(i) for i in ids),  # approved without a request
                "FACEFIND_HTTP_LISTEN": "127.0.0.1:0",
                "FACEFIND_WEB_LISTEN": "127.0.0.1:0",
                "FACEFIND_RATE_LIMIT_PER_HOUR": "0",
                "FACEFIND_LOG_LEVEL": "WARNING",
                **settings,
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "facefind", "run",
                env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await api.wait_for_call("getUpdates", timeout=180)
                process = psutil.Process(proc.pid)
                await asyncio.sleep(1.0)  # start-up settled
                idle = process.memory_info().rss
                peak = [idle]
                done = asyncio.Event()

                async def sample() -> None:
                    while not done.is_set():
                        peak[0] = max(peak[0], process.memory_info().rss)
                        await asyncio.sleep(SAMPLE_EVERY)

                sampler = asyncio.create_task(sample())
                started = time.perf_counter()
                sent: list[JSON] = []
                for n in range(per_user):
                    for uid in ids:
                        user = api.user(uid, f"Officer{uid}", f"officer{uid}")
                        data = photos[(n + uid) % len(photos)]
                        sent.append(
                            api.push_message(
                                user, document=(data, f"IMG_{uid}_{n}.jpg", "image/jpeg")
                            )
                        )

                def answered() -> bool:
                    return all(
                        any(
                            "Lookup #" in str(m.get("text") or m.get("caption") or "")
                            and m.get("reply_to_message", {}).get("message_id")
                            == u["message"]["message_id"]
                            for m in api.messages_to(u["message"]["chat"]["id"])
                        )
                        for u in sent
                    )

                await api.wait_for(lambda _m: answered(), timeout=WAIT_S)
                seconds = time.perf_counter() - started
                done.set()
                await sampler
                end = process.memory_info().rss
            finally:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(proc.wait(), timeout=120)
        return Sample(idle, peak[0], end, seconds, len(sent))
    finally:
        await drop_database(server_uri, name)


def mib(values: Sequence[int]) -> str:
    return f"{statistics.median(values) / MIB:.0f}"


async def run(args: argparse.Namespace) -> None:
    photos = large_photos(6)
    sizes = [len(p) / MIB for p in photos]
    print(f"photos: 6 JPEGs of {min(sizes):.1f}-{max(sizes):.1f} MB, sent as files")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="facefind-bench-mem-") as tmp:
        server_uri = await asyncio.to_thread(start_embedded, Path(tmp))
        runs = {
            "baseline": (1, 1),
            "small burst": (2, 2),
            "burst": (args.users, args.photos),
        }
        samples: dict[str, list[Sample]] = {name: [] for name in runs}
        extra = dict(kv.split("=", 1) for kv in args.env)
        for round_ in range(1, args.rounds + 1):
            for name, (users, per_user) in runs.items():
                s = await one_run(server_uri, users, per_user, photos, extra)
                samples[name].append(s)
                print(
                    f"round {round_}, {name} ({s.photos} photos): peak {s.peak / MIB:.0f} MiB, "
                    f"idle {s.idle / MIB:.0f}, after {s.end / MIB:.0f}, {s.seconds:.0f} s"
                )

    def peak(name: str) -> float:
        return statistics.median(x.peak for x in samples[name])

    print()
    print(f"medians over {args.rounds} rounds (RSS of the bot process, MiB):")
    print("| run | users x photos | idle | peak | after | seconds |")
    print("|---|---|---|---|---|---|")
    for name, (users, per_user) in runs.items():
        xs = samples[name]
        print(
            f"| {name} | {users} x {per_user} | {mib([x.idle for x in xs])} | "
            f"{mib([x.peak for x in xs])} | {mib([x.end for x in xs])} | "
            f"{statistics.median(x.seconds for x in xs):.0f} |"
        )
    print(f"burst peak / small burst peak: {peak('burst') / peak('small burst'):.2f}")
    print(f"burst peak / baseline peak: {peak('burst') / peak('baseline'):.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="baseline + burst pairs")
    parser.add_argument("--users", type=int, default=20, help="users in the burst")
    parser.add_argument("--photos", type=int, default=6, help="photos per user in the burst")
    parser.add_argument(
        "--env", nargs="*", default=[], metavar="NAME=VALUE", help="extra settings for the bot"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
