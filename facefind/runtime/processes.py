"""Which process this is, and whether a process recorded in the database is known to be dead.

A worker killed with SIGKILL cannot say that it is gone; its heartbeat only runs out later. But a
process on the same host, in the same pid namespace, can see that the pid is gone (or now belongs
to a process started at another time), and take over its work at once. Anywhere else (another
machine, another container) nothing is known, and the heartbeat decides.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import psutil

# two start times of one process read apart differ by less than this (clock ticks, rounding)
_SAME_START = 1.0


@dataclass(frozen=True)
class ProcessId:
    host: str  # for people: the host name
    pid: int
    started: float  # the process's start, seconds since the epoch
    pid_space: str  # the kernel boot and pid namespace in which `pid` names this process

    @property
    def name(self) -> str:
        """How the process is named in the logs, the queue and on lookups."""
        return f"facefind@{self.host}:{self.pid}"


def this_process() -> ProcessId:
    return _process(os.getpid())  # by pid: a forked child is another process


@functools.cache
def _process(pid: int) -> ProcessId:
    return ProcessId(socket.gethostname(), pid, psutil.Process(pid).create_time(), pid_space())


def pid_space() -> str:
    """Where a pid means one process: the boot (pids restart at each boot) and the pid
    namespace (each container has its own), read from /proc; the host name where there is no
    /proc."""
    parts = [socket.gethostname()]
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        path = Path(source)
        try:
            parts.append(os.readlink(path) if path.is_symlink() else path.read_text().strip())
        except OSError:
            continue
    return "/".join(parts)


def known_alive(process: ProcessId) -> bool:
    """True only when `process` surely still runs: in this pid space, its pid names the same
    process (started at the same time), and it has not ended."""
    if process.pid_space != this_process().pid_space:
        return False
    try:
        found = psutil.Process(process.pid)
        return (
            abs(found.create_time() - process.started) <= _SAME_START
            and found.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.Error:
        return False


def known_dead(process: ProcessId) -> bool:
    """True only when `process` surely ended: it ran in this pid space and its pid is gone or
    belongs to a process started at another time. Anything else is not known here."""
    if process.pid_space != this_process().pid_space:
        return False
    try:
        found = psutil.Process(process.pid)
        started = found.create_time()
        if abs(started - process.started) > _SAME_START:
            return True  # the pid was given to another process since
        return found.status() == psutil.STATUS_ZOMBIE  # ended, not yet reaped by its parent
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False  # it exists, but cannot be looked at: not known to be dead
