"""facefind as a child process, for the tests and benches that run it as deployed: started with
its settings in the environment, its output read as it comes (a full pipe would block it)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import app_dsn
from tests.fakebotapi import FakeBotApi


async def facefind_process(command: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """`python -m facefind COMMAND` with `env` added to the environment, output on one pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "facefind", command,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def facefind_run(data_dir: Path, **env: str) -> asyncio.subprocess.Process:
    """`python -m facefind run` on `data_dir`, its HTTP server and console on free ports."""
    defaults = {
        "FACEFIND_HTTP_LISTEN": "127.0.0.1:0",
        "FACEFIND_WEB_LISTEN": "127.0.0.1:0",
        "FACEFIND_DATA_DIR": str(data_dir),
    }
    return await facefind_process("run", defaults | env)


def process_env(
    api: FakeBotApi, owner_dsn: str, data_dir: Path, admins: list[int]
) -> dict[str, str]:
    """The settings of a bot or a worker process on the local Bot API server, as deployed."""
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "DATABASE_URL": app_dsn(owner_dsn),
        "DATABASE_OWNER_URL": owner_dsn,
        "FACEFIND_DATA_DIR": str(data_dir),
        "FACEFIND_HTTP_LISTEN": "127.0.0.1:0",
        "FACEFIND_WEB_LISTEN": "127.0.0.1:0",
        "ADMIN_IDS": ",".join(map(str, admins)),
        # one inference thread each: a worker is one machine's worth of work
        "FACEFIND_INFERENCE_WORKERS": "1",
    }


class FacefindProcess:
    """A running facefind process whose output lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, command: str, env: Mapping[str, str]) -> FacefindProcess:
        return cls(await facefind_process(command, env))

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace"))

    def log(self) -> str:
        return "".join(self.lines)

    async def wait_for_line(self, text: str, timeout: float) -> None:
        """Until a line contains `text`; fails with the output if the process ends first."""

        async def seen() -> None:
            while not any(text in line for line in self.lines):
                if self.proc.returncode is not None:
                    raise AssertionError("".join(self.lines[-30:]))
                await asyncio.sleep(0.2)

        await asyncio.wait_for(seen(), timeout)

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after 60 s; the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout=60)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        await self._reader
        return code

    async def kill_9(self) -> None:
        """SIGKILL, as a crash would end it."""
        self.proc.kill()
        await self.proc.wait()
        await self._reader
