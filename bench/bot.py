"""Photo lookups through the bot and a local Bot API server, timed against core identify."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.bot_rig import (
    ADMIN,
    CPU_GROUPS,
    FIRST_USER,
    BotDriver,
    CpuMeter,
    FakeHost,
    Lookup,
    Photos,
    PoolSampler,
    Span,
    TimedBotApi,
    TracedFaceFind,
    cores_busy,
    cpu_ticks,
    enroll,
    most_at_once,
    ms,
    pct,
)
from bot.delivery.telegram_io import RetryingRateLimiter
from bot.runner import BotRunner
from facefind.access.actors import Requester
from facefind.runtime.settings import Settings
from gallery import start_embedded
from tests.fakebotapi import JSON


# --- latency: one photo at a time -----------------------------------------------------------------
@dataclass
class Breakdown:
    """Where the time of one lookup through the bot went, in seconds after the update."""

    delivered: float  # getUpdates answered with the update
    get_file: float  # getFile request arrived (access check and lookup record done)
    downloaded: float  # the file download answered
    identify_start: float
    identify_end: float
    first_reply: float
    last_reply: float
    render: float  # total time in comparison / overview picture calls
    server: float  # total time the fake server took to answer this lookup's requests
    requests: dict[str, int]  # Bot API requests of this lookup (getUpdates left out)
    pictures: int
    texts: int


@dataclass
class KindResult:
    kind: str
    core: list[float] = field(default_factory=list)
    bot: list[float] = field(default_factory=list)
    breakdowns: list[Breakdown] = field(default_factory=list)


def breakdown(
    lookup: Lookup, requests: Sequence[tuple[str, float, float]], spans: Sequence[Span]
) -> Breakdown:
    """Attribute the requests and spans of the one lookup in flight in [pushed, done]."""
    start, end = lookup.pushed, lookup.done
    inside = [r for r in requests if r[1] >= start and r[1] <= end]

    def first(method: str, answered: bool) -> float:
        times = [r[2] if answered else r[1] for r in requests if r[0] == method]
        return min(t for t in times if t >= start) - start

    identify = next(s for s in spans if s.kind == "identify" and s.user_id and s.start >= start)
    renders = [s for s in spans if s.kind == "render" and start <= s.start <= end]
    counts: dict[str, int] = {}
    for method, _, _ in inside:
        if method != "getupdates":
            counts[method] = counts.get(method, 0) + 1
    return Breakdown(
        delivered=first("getupdates", answered=True),
        get_file=first("getfile", answered=False),
        downloaded=first("file", answered=True),
        identify_start=identify.start - start,
        identify_end=identify.end - start,
        first_reply=lookup.first_reply,
        last_reply=lookup.total,
        render=sum(s.end - s.start for s in renders),
        server=sum(answered - arrived for m, arrived, answered in inside if m != "getupdates"),
        requests=counts,
        pictures=sum(1 for _, photo in lookup.replies if photo),
        texts=sum(1 for _, photo in lookup.replies if not photo),
    )


async def latency(
    service: TracedFaceFind,
    driver: BotDriver,
    user: JSON,
    photos: Photos,
    kind: str,
    count: int,
    warmup: int,
) -> KindResult:
    """Core identify (A) and a lookup through the bot (B) on the same photos, interleaved."""
    requester = Requester(actor="bench")
    result = KindResult(kind)

    async def core(data: bytes) -> float:
        started = time.perf_counter()
        await service.identifier.identify(data, requester)
        return time.perf_counter() - started

    async def through_bot(data: bytes) -> Lookup:
        [lookup] = await driver.run([(user, data)])
        await asyncio.sleep(0.05)  # let the handler close its chat-action task before the next
        return lookup

    for n in range(warmup):
        await core(photos.of(kind, n))
        await through_bot(photos.of(kind, n))
    for n in range(count):
        data = photos.of(kind, n)
        # alternate which goes first, so drift and caches hit both alike
        if n % 2:
            lookup = await through_bot(data)
            result.core.append(await core(data))
        else:
            result.core.append(await core(data))
            lookup = await through_bot(data)
        result.bot.append(lookup.total)
        requests = await driver.host.call(lambda: list(driver.fake.requests))
        result.breakdowns.append(breakdown(lookup, requests, service.spans))
    return result


# --- throughput: many users at once -------------------------------------------------------------
@dataclass
class Run:
    wall: float = 0.0
    cores: float = 0.0  # machine CPU cores busy on average (other processes included)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by CPU_GROUPS
    pool_busy: float = 0.0  # share of inference workers busy on average
    # the bot only
    latencies: list[float] = field(default_factory=list)  # per lookup
    first_replies: list[float] = field(default_factory=list)
    sends: int = 0  # requests the rate limiter counts: sendMessage, sendPhoto, sendChatAction
    chat_actions: int = 0
    overlap: int = 0  # most identify calls of the bot in progress at once
    overlap_one_user: int = 0  # the same, counting one user's photos only


@dataclass
class Throughput:
    lookups: int
    runs: dict[str, list[Run]] = field(default_factory=dict)

    def add(self, name: str, run: Run) -> None:
        self.runs.setdefault(name, []).append(run)


CORE_SEQUENTIAL = "core identify, one at a time"
CORE_CONCURRENT = "core identify, {users} tasks at once"
BOT = "bot, {users} users at once"


async def throughput(
    service: TracedFaceFind,
    driver: BotDriver,
    users: Sequence[JSON],
    photos: Photos,
    kind: str,
    per_user: int,
    repeat: int,
    meter: CpuMeter,
) -> Throughput:
    """The same photos through the core sequentially, in concurrent tasks, and via the bot."""
    requester = Requester(actor="bench")
    # photo k of every user, then photo k+1: the order in which they would reach Telegram
    plan = [(users[u], photos.of(kind, u + k)) for k in range(per_user) for u in range(len(users))]
    result = Throughput(len(plan))
    concurrent_name = CORE_CONCURRENT.format(users=len(users))
    bot_name = BOT.format(users=len(users))

    async def sequential() -> Run:
        for _, data in plan:
            await service.identifier.identify(data, requester)
        return Run()

    async def concurrent() -> Run:
        async def one_user(u: int) -> None:
            for user, data in plan[u :: len(users)]:
                assert user is users[u]
                await service.identifier.identify(data, requester)

        await asyncio.gather(*(one_user(u) for u in range(len(users))))
        return Run()

    async def via_bot() -> Run:
        lookups = await driver.run(plan)
        start, end = lookups[0].pushed, max(lookup.done for lookup in lookups)
        requests = await driver.host.call(lambda: list(driver.fake.requests))
        sent = [method for method, arrived, _ in requests if start <= arrived <= end]
        mine = [s for s in service.spans if s.kind == "identify" and s.user_id and s.start >= start]
        return Run(
            wall=end - start,  # from the moment all photos were queued to the last summary
            latencies=[lookup.total for lookup in lookups],
            first_replies=[lookup.first_reply for lookup in lookups],
            sends=sum(1 for m in sent if m in ("sendmessage", "sendphoto", "sendchataction")),
            chat_actions=sent.count("sendchataction"),
            overlap=most_at_once(mine),
            overlap_one_user=max(
                most_at_once([s for s in mine if s.user_id == user["id"]]) for user in users
            ),
        )

    await driver.run(plan[:1])  # warm-up: the bot's connections, the first search
    await service.identifier.identify(plan[0][1], requester)
    variants: list[tuple[str, Callable[[], Awaitable[Run]]]] = [
        (CORE_SEQUENTIAL, sequential),
        (concurrent_name, concurrent),
        (bot_name, via_bot),
    ]
    for r in range(repeat):
        shift = r % len(variants)
        for name, fn in variants[shift:] + variants[:shift]:
            ticks, cpu = cpu_ticks(), meter.sample()
            started = time.perf_counter()
            async with PoolSampler(service) as sampler:
                run = await fn()
            run.wall = run.wall or time.perf_counter() - started
            run.cpu = meter.since(cpu, meter.sample())
            run.cores = cores_busy(ticks, cpu_ticks())
            run.pool_busy = sampler.busy_share
            result.add(name, run)
            await asyncio.sleep(0.2)  # let chat-action tasks and PostgreSQL settle
    return result


# --- report -----------------------------------------------------------------------------------
def print_latency(results: Sequence[KindResult]) -> None:
    print("\n### Latency: one photo at a time (ms)\n")
    print("| photo | core A p50 | A p90 | bot B p50 | B p90 | B/A (p50s) | B/A per photo p50 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        a, b = statistics.median(r.core), statistics.median(r.bot)
        ratios = [y / x for x, y in zip(r.core, r.bot, strict=True)]
        print(
            f"| {r.kind} | {ms(a)} | {ms(pct(r.core, 90))} | {ms(b)} | {ms(pct(r.bot, 90))} "
            f"| {b / a:.2f} | {statistics.median(ratios):.2f} |"
        )
    print("\n### Where B goes (medians, ms after the update was queued)\n")
    print(
        "| photo | update delivered | getFile | downloaded | identify start | identify end "
        "| first reply | last reply | identify in bot | after identify | rendering "
        "| Bot API server |"
    )
    print("|---|" + "---:|" * 11)
    for r in results:

        def med(get: Callable[[Breakdown], float], bds: list[Breakdown] = r.breakdowns) -> str:
            return ms(statistics.median(get(b) for b in bds))

        print(
            f"| {r.kind} | {med(lambda b: b.delivered)} | {med(lambda b: b.get_file)} "
            f"| {med(lambda b: b.downloaded)} | {med(lambda b: b.identify_start)} "
            f"| {med(lambda b: b.identify_end)} | {med(lambda b: b.first_reply)} "
            f"| {med(lambda b: b.last_reply)} "
            f"| {med(lambda b: b.identify_end - b.identify_start)} "
            f"| {med(lambda b: b.last_reply - b.identify_end)} | {med(lambda b: b.render)} "
            f"| {med(lambda b: b.server)} |"
        )
    print("\nBot API traffic per lookup (median counts):")
    for r in results:
        methods = sorted({m for b in r.breakdowns for m in b.requests})
        parts = [
            f"{m} {statistics.median(b.requests.get(m, 0) for b in r.breakdowns):g}"
            for m in methods
        ]
        pictures = statistics.median(b.pictures for b in r.breakdowns)
        texts = statistics.median(b.texts for b in r.breakdowns)
        print(f"- {r.kind}: {', '.join(parts)}; replies: {pictures:g} pictures, {texts:g} texts")


def print_throughput(result: Throughput, kind: str, users: int, per_user: int) -> None:
    print(
        f"\n### Throughput: {users} users x {per_user} {kind} photos = {result.lookups} lookups "
        "(medians over repetitions)\n"
    )
    print(
        "| variant | wall s | lookups/s | vs core one at a time | inference pool busy "
        "| CPU cores: ours | machine |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = statistics.median(run.wall for run in result.runs[CORE_SEQUENTIAL])
    for name, runs in result.runs.items():
        wall = statistics.median(run.wall for run in runs)
        ours = statistics.median(sum(run.cpu.values()) / run.wall for run in runs)
        print(
            f"| {name} | {wall:.2f} | {result.lookups / wall:.1f} | {base / wall:.2f} "
            f"| {statistics.median(run.pool_busy for run in runs):.0%} | {ours:.2f} "
            f"| {statistics.median(run.cores for run in runs):.2f} |"
        )
    print("\nCPU ms per lookup (medians; ours = this process + its PostgreSQL):\n")
    print("| variant | " + " | ".join(CPU_GROUPS) + " | total |")
    print("|---|" + "---:|" * (len(CPU_GROUPS) + 1))
    for name, runs in result.runs.items():
        cells = [
            statistics.median(run.cpu[group] for run in runs) / result.lookups
            for group in CPU_GROUPS
        ]
        total = statistics.median(sum(run.cpu.values()) for run in runs) / result.lookups
        print(f"| {name} | " + " | ".join(f"{c * 1000:.1f}" for c in [*cells, total]) + " |")
    bot_runs = result.runs[BOT.format(users=users)]
    latencies = [t for run in bot_runs for t in run.latencies]
    first = [t for run in bot_runs for t in run.first_replies]
    sends_per_s = statistics.median(run.sends / run.wall for run in bot_runs)
    actions = statistics.median(run.chat_actions for run in bot_runs) / result.lookups
    print(
        f"\nBot under this load, per lookup over all repetitions: last reply p50 "
        f"{ms(statistics.median(latencies))} ms, p90 {ms(pct(latencies, 90))} ms; first reply "
        f"p50 {ms(statistics.median(first))} ms, p90 {ms(pct(first, 90))} ms. "
        f"Rate-limited Bot API requests (sendMessage, sendPhoto, sendChatAction): "
        f"{sends_per_s:.1f}/s, {actions:.2f} chat actions per lookup. Most identify calls in "
        f"progress at once: {max(run.overlap for run in bot_runs)} "
        f"(one user's: {max(run.overlap_one_user for run in bot_runs)})."
    )


def postmaster_pid(data_dir: Path) -> int | None:
    """The embedded server's postmaster (see gallery.start_embedded), to count its CPU."""
    try:
        return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


# --- main -------------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="facefind-bench-bot-") as tmp:
        dsn = args.database_url or await asyncio.to_thread(start_embedded, Path(tmp))
        service = await TracedFaceFind.open(
            Settings(database_url=dsn, data_dir=Path(tmp)), actor="bench"
        )
        assert isinstance(service, TracedFaceFind)
        host = FakeHost(TimedBotApi(), same_loop=args.same_loop)
        await host.start()
        runner: BotRunner | None = None
        try:
            photos = await enroll(service)
            user_ids = [FIRST_USER + n for n in range(args.concurrent_users)]
            users = await host.call(
                lambda: [host.fake.user(uid, f"Bench{uid}", f"bench{uid}") for uid in user_ids]
            )
            for uid in user_ids:
                await service.gallery.users.set_status(uid, "approved", "bench", create=True)
            settings = Settings(
                database_url=dsn,
                data_dir=Path(tmp),
                telegram_bot_token=host.fake.token,
                telegram_api_url=host.fake.url,
                admin_ids=(ADMIN,),
                http_listen="127.0.0.1:0",
                rate_limit_per_hour=0,
            )
            runner = BotRunner(settings, service)
            if args.no_rate_limit:
                # diagnostic only: PTB's overall limit of 30 requests/s off, retries kept
                runner.app.bot._rate_limiter = RetryingRateLimiter(overall_max_rate=0)
            await runner.start()
            driver = BotDriver(host)

            kinds = ["face", "group"] if args.kind == "both" else [args.kind]
            load_before = os.getloadavg()
            results = [
                await latency(service, driver, users[0], photos, k, args.photos, args.warmup)
                for k in kinds
                if args.photos > 0
            ]
            load = await throughput(
                service,
                driver,
                users,
                photos,
                args.throughput_kind,
                args.per_user,
                args.repeat,
                CpuMeter(None if args.database_url else postmaster_pid(Path(tmp))),
            )
        finally:
            if runner is not None:
                await runner.stop()
            await host.stop()
            await service.close()

    print(
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} before the timing and "
        f"{os.getloadavg()[0]:.1f} after; inference workers {service.inference.workers}, "
        f"ONNX threads {settings.onnx_threads}"
    )
    print(
        "fake Bot API server: "
        + ("on the bot's event loop" if args.same_loop else "own thread and event loop")
        + ("; PTB rate limiter OFF (diagnostic)" if args.no_rate_limit else "")
    )
    if results:
        print_latency(results)
    print_throughput(load, args.throughput_kind, args.concurrent_users, args.per_user)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--photos", type=int, default=30, help="timed photos per kind (0: no latency test)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed photos per kind first")
    parser.add_argument(
        "--kind",
        choices=("face", "group", "both"),
        default="both",
        help="latency photos: a one-face crop, t1.jpg with 6 faces, or both",
    )
    parser.add_argument("--concurrent-users", type=int, default=8, help="users sending at once")
    parser.add_argument("--per-user", type=int, default=5, help="photos each user sends at once")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the load test")
    parser.add_argument(
        "--throughput-kind",
        choices=("face", "group"),
        default="face",
        help="photos of the load test",
    )
    parser.add_argument(
        "--same-loop",
        action="store_true",
        help="run the fake Bot API server on the bot's event loop, as the tests do",
    )
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="diagnostic: lift PTB's overall limit of 30 requests/s (Telegram's limit stays real)",
    )
    parser.add_argument(
        "--database-url", help="default: a throwaway embedded PostgreSQL in a temp folder"
    )
    parser.add_argument("--verbose", action="store_true", help="log at INFO")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
