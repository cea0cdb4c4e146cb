"""The embedded server's memory settings follow the machine and hold across restarts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg

from gallery.server_settings import (
    INCLUDE_LINE,
    SETTINGS_FILE,
    Machine,
    derive_settings,
    this_machine,
    write_settings,
)

GB = 2**30


def _mb(value: str) -> int:
    assert value.endswith("MB")
    return int(value[:-2])


def test_a_bigger_machine_gets_more_buffers_and_build_memory_and_workers() -> None:
    small = derive_settings(Machine(memory_bytes=2 * GB, cores=1))
    large = derive_settings(Machine(memory_bytes=64 * GB, cores=8))
    assert _mb(small["shared_buffers"]) == 512  # a quarter of the memory
    assert _mb(large["shared_buffers"]) == 16 * 1024
    # a 1M-face half-precision graph (about 1.3 GB, docs/benchmarks.md) is built in memory
    # on a machine of 16 GB and more
    assert _mb(derive_settings(Machine(16 * GB, 2))["maintenance_work_mem"]) >= 2048
    assert small["max_parallel_maintenance_workers"] == "0"  # the leader builds alone
    assert large["max_parallel_maintenance_workers"] == "7"  # every core but the leader's
    assert _mb(large["effective_cache_size"]) == 48 * 1024


def test_index_builds_stay_serial_where_dev_shm_cannot_hold_the_graph() -> None:
    """A parallel build keeps its graph in /dev/shm; Docker gives a container 64 MB."""
    container = derive_settings(Machine(16 * GB, 4, shm_bytes=64 * 2**20))
    assert container["max_parallel_maintenance_workers"] == "0"
    assert _mb(container["maintenance_work_mem"]) == 2048  # in the backend's own memory
    assert (
        derive_settings(Machine(16 * GB, 4, shm_bytes=8 * GB))["max_parallel_maintenance_workers"]
        == "3"
    )


def test_a_tiny_machine_keeps_postgresql_minimums() -> None:
    tiny = derive_settings(Machine(memory_bytes=256 * 2**20, cores=1))
    assert _mb(tiny["shared_buffers"]) == 128
    assert _mb(tiny["maintenance_work_mem"]) == 64
    assert _mb(tiny["work_mem"]) >= 4


def test_settings_file_is_written_once_and_rewritten_when_the_machine_changes(
    tmp_path: Path,
) -> None:
    (tmp_path / "postgresql.conf").write_text("shared_buffers = 128MB\n")
    machine = Machine(memory_bytes=8 * GB, cores=2)
    assert write_settings(tmp_path, machine) is True
    assert write_settings(tmp_path, machine) is False  # nothing changed: no restart
    conf = (tmp_path / "postgresql.conf").read_text().splitlines()
    assert conf.count(INCLUDE_LINE) == 1 and conf[0] == "shared_buffers = 128MB"
    assert "shared_buffers = '2048MB'" in (tmp_path / SETTINGS_FILE).read_text()
    assert write_settings(tmp_path, Machine(memory_bytes=16 * GB, cores=2)) is True
    assert "shared_buffers = '4096MB'" in (tmp_path / SETTINGS_FILE).read_text()
    assert (tmp_path / "postgresql.conf").read_text().splitlines().count(INCLUDE_LINE) == 1


async def _settings_mb(uri: str, names: list[str]) -> dict[str, int]:
    con = await asyncpg.connect(uri)
    try:
        rows = await con.fetch(
            "SELECT name, setting::bigint AS setting, unit FROM pg_settings "
            "WHERE name = ANY($1::text[])",
            names,
        )
    finally:
        await con.close()
    per_unit = {"8kB": 8 * 1024, "kB": 1024}
    return {r["name"]: r["setting"] * per_unit[r["unit"]] // 2**20 for r in rows}


MEMORY = ["shared_buffers", "maintenance_work_mem", "effective_cache_size", "work_mem"]


async def test_the_test_server_runs_with_this_machines_settings(pg_server: str) -> None:
    """The session's server started from a fresh data folder: the settings were written after
    initdb and applied by a restart."""
    expected = derive_settings(this_machine())
    assert await _settings_mb(pg_server, MEMORY) == {n: _mb(expected[n]) for n in MEMORY}
    con = await asyncpg.connect(pg_server)
    try:
        workers = await con.fetchval("SHOW max_parallel_maintenance_workers")
    finally:
        await con.close()
    assert workers == expected["max_parallel_maintenance_workers"]


_START_AND_SHOW = """
import asyncio, sys
from pathlib import Path
import asyncpg
from gallery import start_embedded

async def show(uri):
    con = await asyncpg.connect(uri)
    started = await con.fetchval("SELECT pg_postmaster_start_time()")
    print(await con.fetchval("SHOW shared_buffers"), started)
    await con.close()

asyncio.run(show(start_embedded(Path(sys.argv[1]))))
"""


def test_settings_hold_when_the_server_stops_and_starts_again(tmp_path: Path) -> None:
    """Two processes one after the other: each starts the server and stops it when it exits."""
    runs = [
        subprocess.run(
            [sys.executable, "-c", _START_AND_SHOW, str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.split(maxsplit=1)
        for _ in range(2)
    ]
    expected = derive_settings(this_machine())["shared_buffers"]
    assert [buffers for buffers, _ in runs] == [expected, expected]
    assert runs[0][1] != runs[1][1]  # two starts of the server, not one server kept running
