"""The rig of bench/bot.py: the Bot API server on a thread of its own, the service traced,
CPU and pool meters, the enrolled photos, and a driver that sends one photo through the bot."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import psutil
from aiohttp import web

from facefind.access.actors import Requester
from facefind.analysis import PoolAnalyzer
from facefind.enroll.photo import IdentitySpec
from facefind.identify import Identifier, IdentifyResult
from facefind.service import FaceFind
from recognition import Analysis
from tests import images
from tests.fakebotapi import JSON, FakeBotApi

T = TypeVar("T")

TOKEN = "424242:BENCH"
ADMIN = 1
FIRST_USER = 7001
# t1.jpg faces (analysis order) enrolled as identities; #3 is turned away, #6 stays a stranger.
ENROLLED = (
    ("Alice Ames", "REF-1", 1),
    ("Boris Brandt", "REF-2", 2),
    ("Carla Cruz", "REF-3", 4),
    ("Dmytro Dub", "REF-4", 5),
)
SUMMARY = "Lookup #"  # in the English closing text or last caption: the last reply to a photo
WAIT_S = 180.0


# --- the Bot API server, apart from the bot -----------------------------------------------------
class TimedBotApi(FakeBotApi):
    """The fake Bot API server, noting when each request and each bot message reaches it."""

    def __init__(self) -> None:
        super().__init__(TOKEN)
        # (method in lower case, or "file" for a download; arrived; answered), in arrival order
        self.requests: list[tuple[str, float, float]] = []

    async def _serve_api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await super()._serve_api(request)
        method = request.match_info["method"].lower()
        self.requests.append((method, arrived, time.perf_counter()))
        return response

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        response = await super()._serve_file(request)
        self.requests.append(("file", arrived, time.perf_counter()))
        return response

    def _send(self, chat: JSON, params: JSON, content: JSON, extra: JSON) -> JSON:
        message = super()._send(chat, params, content, extra)
        message["_bench_at"] = time.perf_counter()  # private keys never reach the bot
        return message


class FakeHost:
    """Runs the fake server on an event loop and thread of its own, as a real server runs apart
    from the bot: its JSON parsing and thumbnailing of every upload then does not stall the
    bot's loop. With `same_loop` it shares the bot's loop, as in tests/botkit.py."""

    def __init__(self, fake: TimedBotApi, *, same_loop: bool) -> None:
        self.fake = fake
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        if not same_loop:
            self.loop = asyncio.new_event_loop()
            self.thread = threading.Thread(
                target=self.loop.run_forever, name="fake-bot-api", daemon=True
            )

    async def start(self) -> None:
        if self.thread is not None:
            self.thread.start()
        await self.wait(self.fake.start)

    async def stop(self) -> None:
        await self.wait(self.fake.stop)
        if self.loop is not None and self.thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self.thread.join)
            self.loop.close()

    async def wait(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a coroutine of the fake on the fake's loop and wait for its result."""
        if self.loop is None:
            return await make()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), self.loop))

    async def call(self, fn: Callable[[], T]) -> T:
        """Run plain code that touches the fake's state on the fake's loop."""

        async def job() -> T:
            return fn()

        return await self.wait(job)


# --- the bot side, traced -------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    kind: str  # identify | render
    user_id: int | None  # the Telegram user of an identify; None for direct calls and renders
    start: float
    end: float


class TracedIdentifier(Identifier):
    """Notes when the bot's identify calls start and end."""

    def __init__(self, spans: list[Span], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans = spans

    async def identify(
        self,
        data: bytes,
        requester: Requester,
        *,
        lookup_id: int | None = None,
        reply_owed: bool = False,
    ) -> IdentifyResult:
        started = time.perf_counter()
        try:
            return await super().identify(
                data, requester, lookup_id=lookup_id, reply_owed=reply_owed
            )
        finally:
            self.spans.append(Span("identify", requester.user_id, started, time.perf_counter()))


class TracedAnalyzer(PoolAnalyzer):
    """Notes when the bot's picture renders start and end."""

    def __init__(self, spans: list[Span], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans = spans

    async def overview_picture(self, analysis: Analysis) -> bytes:
        started = time.perf_counter()
        try:
            return await super().overview_picture(analysis)
        finally:
            self.spans.append(Span("render", None, started, time.perf_counter()))

    async def comparison_picture(
        self, query_crop: np.ndarray | bytes, face_id: int, labels: tuple[str, str]
    ) -> bytes:
        started = time.perf_counter()
        try:
            return await super().comparison_picture(query_crop, face_id, labels)
        finally:
            self.spans.append(Span("render", None, started, time.perf_counter()))


class TracedFaceFind(FaceFind):
    """The service with its analyzer and identifier traced (the bot's identify and renders)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spans: list[Span] = []
        self.analysis = TracedAnalyzer(self.spans, self.analyzer, self.inference, self.gallery)
        self.identifier = TracedIdentifier(
            self.spans,
            self.gallery,
            self.analysis,
            self.bands,
            candidates_per_face=self.identifier.candidates_per_face,
        )


# --- measurement helpers --------------------------------------------------------------------------
def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (Linux /proc/stat): the bot, the fake server
    and PostgreSQL together."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def cores_busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * busy / total if total else 0.0


CPU_GROUPS = ("event loop", "inference", "fake server", "other threads", "PostgreSQL")


class CpuMeter:
    """CPU seconds by thread of this process (Linux /proc), grouped, and of the embedded
    PostgreSQL's processes: where the CPU of a lookup goes."""

    def __init__(self, postmaster_pid: int | None) -> None:
        self.postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def group(thread_name: str) -> str:
        if thread_name == "MainThread":
            return "event loop"  # the bot's loop, which the bench shares
        if thread_name.startswith("inference"):
            return "inference"
        if thread_name == "fake-bot-api":
            return "fake server"
        return "other threads"

    def sample(self) -> dict[str, float]:
        names = {t.native_id: t.name for t in threading.enumerate()}
        out = dict.fromkeys(CPU_GROUPS, 0.0)
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue  # the thread ended
            group = self.group(names.get(int(tid), ""))
            out[group] += (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime
        if self.postmaster is not None:
            for proc in [self.postmaster, *self.postmaster.children(recursive=True)]:
                try:
                    times = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                out["PostgreSQL"] += times.user + times.system
        return out

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {key: after[key] - before[key] for key in CPU_GROUPS}


class PoolSampler:
    """Samples how many inference workers are busy, to tell CPU-bound from waiting elsewhere."""

    def __init__(self, service: FaceFind, every: float = 0.005) -> None:
        self.service = service
        self.every = every
        self.running: list[int] = []
        self.queued: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PoolSampler:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _loop(self) -> None:
        while True:
            self.running.append(self.service.inference.running)
            self.queued.append(self.service.inference.queued)
            await asyncio.sleep(self.every)

    @property
    def busy_share(self) -> float:
        """Mean share of the inference workers busy over the samples."""
        if not self.running:
            return 0.0
        return statistics.fmean(self.running) / self.service.inference.workers


def most_at_once(spans: Sequence[Span]) -> int:
    """The largest number of spans in progress at the same moment."""
    edges = sorted([(s.start, 1) for s in spans] + [(s.end, -1) for s in spans])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


# --- photos -----------------------------------------------------------------------------------
def face_crop(analysis: Analysis, index: int, margin: float, scale: float, quality: int) -> bytes:
    crop = images.crop_around(analysis.image, analysis.faces[index - 1].bbox, margin)
    return images.to_jpeg(images.resize(crop, scale), quality)


@dataclass(frozen=True)
class Photos:
    t1: bytes
    faces: list[bytes]  # one query crop per enrolled person, none of them enrolled as is

    def of(self, kind: str, n: int) -> bytes:
        return self.t1 if kind == "group" else self.faces[n % len(self.faces)]


async def enroll(service: FaceFind) -> Photos:
    """Enroll four t1.jpg people from crops; return the query photos (as tests/botkit.py)."""
    t1 = images.read_bytes(images.T1)
    analysis, _ = await service.analysis.analyze(t1)
    requester = Requester(actor="bench")
    queries = []
    for name, ref, index in ENROLLED:
        reference = face_crop(analysis, index, margin=0.6, scale=1.0, quality=92)
        await service.enroller.enroll(reference, IdentitySpec(name, ref), requester)
        queries.append(face_crop(analysis, index, margin=0.9, scale=0.75, quality=70))
    return Photos(t1, queries)


# --- one lookup through the bot ------------------------------------------------------------------
@dataclass
class Lookup:
    """One photo sent to the bot; times are perf_counter seconds."""

    user_id: int
    message_id: int
    pushed: float
    since: int  # len(fake.sent) when pushed: replies come after
    replies: list[tuple[float, bool]] = field(default_factory=list)  # (arrived, is a picture)
    done: float = 0.0

    @property
    def total(self) -> float:
        return self.done - self.pushed

    @property
    def first_reply(self) -> float:
        return min(t for t, _ in self.replies) - self.pushed


class BotDriver:
    """Sends photos as Telegram updates and collects the bot's replies to each."""

    def __init__(self, host: FakeHost) -> None:
        self.host = host
        self.fake = host.fake

    async def push(self, photos: Sequence[tuple[JSON, bytes]]) -> list[Lookup]:
        """Queue one photo message per (user, photo) at once; all count as sent when the last
        is queued (the bot cannot see any of them before that)."""

        def push_all() -> list[Lookup]:
            since = len(self.fake.sent)
            pushed = [self.fake.push_message(user, photo=data) for user, data in photos]
            now = time.perf_counter()
            return [
                Lookup(u["message"]["chat"]["id"], u["message"]["message_id"], now, since)
                for u in pushed
            ]

        return await self.host.call(push_all)

    async def finish(self, lookup: Lookup) -> Lookup:
        """Wait for the summary that ends the replies to this photo, then collect them all."""

        def answers(m: JSON) -> bool:
            return bool(
                m["chat"]["id"] == lookup.user_id
                and m.get("reply_to_message", {}).get("message_id") == lookup.message_id
            )

        def is_summary(m: JSON) -> bool:
            # the closing text, or the last picture's caption when every face has a candidate
            return answers(m) and SUMMARY in str(m.get("text") or m.get("caption") or "")

        summary = await self.host.wait(
            lambda: self.fake.wait_for(is_summary, timeout=WAIT_S, since=lookup.since)
        )

        def collect() -> list[tuple[float, bool]]:
            sent = self.fake.sent[lookup.since :]
            return [(m["_bench_at"], "photo" in m) for m in sent if answers(m)]

        lookup.replies = await self.host.call(collect)
        lookup.done = summary["_bench_at"]
        return lookup

    async def run(self, photos: Sequence[tuple[JSON, bytes]]) -> list[Lookup]:
        lookups = await self.push(photos)
        return [await self.finish(lookup) for lookup in lookups]
