"""Recognition workers: the bot takes the updates, two `facefind worker` processes answer the
lookups from the queue, each exactly once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import asyncpg

from tests import images
from tests.fakebotapi import FakeBotApi
from tests.processes import FacefindProcess, process_env


async def test_two_workers_answer_every_lookup_once(fresh_dsn: str, tmp_path: Path) -> None:
    t1 = images.read_image("t1.jpg")
    photos = [
        images.to_jpeg(images.crop_around(t1, box, margin))
        for box in ((464, 266, 573, 415), (56, 261, 169, 398), (745, 342, 847, 480))
        for margin in (0.5, 0.8, 1.1, 1.4)
    ]
    admins = [801, 802, 803, 804]
    async with FakeBotApi() as api:
        env = process_env(api, fresh_dsn, tmp_path, admins)
        bot = await FacefindProcess.start("run", {**env, "FACEFIND_IN_PROCESS_WORKER": "false"})
        workers: list[FacefindProcess] = []
        try:
            await bot.wait_for_line("left to `facefind worker` processes", timeout=120)
            workers = [await FacefindProcess.start("worker", env) for _ in range(2)]
            for worker in workers:
                await worker.wait_for_line("is taking lookups", timeout=120)
            users = [api.user(uid, f"Officer {uid}") for uid in admins]
            sent = [
                api.push_message(users[k % len(users)], photo=photo)["message"]
                for k, photo in enumerate(photos)
            ]

            def closing(message: dict) -> bool:
                return "Lookup #" in (message.get("text") or message.get("caption") or "")

            async def all_answered() -> None:
                while sum(1 for m in api.sent if closing(m)) < len(sent):
                    await asyncio.sleep(0.3)

            await asyncio.wait_for(all_answered(), timeout=300)
            await asyncio.sleep(2)  # anything answered twice would arrive by now
        finally:
            codes = [await w.stop() for w in workers] + [await bot.stop()]
        assert codes == [0, 0, 0], ["".join(p.lines[-20:]) for p in [*workers, bot]]

    # every photo got exactly one closing message, answering that photo
    answered = Counter(
        (m["chat"]["id"], m["reply_to_message"]["message_id"])
        for m in api.sent
        if closing(m) and "reply_to_message" in m
    )
    assert sorted(answered) == sorted((m["chat"]["id"], m["message_id"]) for m in sent)
    assert set(answered.values()) == {1}
    texts = [m.get("text") or m.get("caption") or "" for m in api.sent if closing(m)]
    numbers = {re.findall(r"Lookup #(\d+)", text)[0] for text in texts}
    assert len(texts) == len(numbers) == len(photos)
    # the lookups were shared by the two workers, none by the bot
    con = await asyncpg.connect(fresh_dsn)
    try:
        rows = await con.fetch("SELECT status, handled_by FROM lookups ORDER BY id")
    finally:
        await con.close()
    assert [r["status"] for r in rows] == ["done"] * len(photos)
    by_worker = Counter(r["handled_by"] for r in rows)
    assert len(by_worker) == 2 and all(n >= 1 for n in by_worker.values()), by_worker
    pids = {str(w.proc.pid) for w in workers}
    assert {name.rsplit(":", 1)[1] for name in by_worker} == pids
