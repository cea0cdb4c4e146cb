"""What the command line's commands share: opening the database alone or the whole service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from facefind.actors import Requester
from facefind.bands import BandPolicy, Bands
from facefind.calibration import load_calibration
from facefind.service import FaceFind, database_url
from facefind.settings import Settings
from gallery import Gallery, create_pool, migrate
from recognition.models import resolve_model_pack


@asynccontextmanager
async def open_gallery(settings: Settings) -> AsyncIterator[Gallery]:
    """The database alone (no models): for user, identity and audit commands."""
    dsn = await database_url(settings)
    await migrate(dsn, actor=Requester.cli().actor)
    pool = await create_pool(dsn, max_size=2)
    try:
        yield Gallery(pool)
    finally:
        await pool.close()


@asynccontextmanager
async def open_service(
    settings: Settings, *, check_embeddings: bool = True
) -> AsyncIterator[FaceFind]:
    service = await FaceFind.open(
        settings, actor=Requester.cli().actor, check_embeddings=check_embeddings
    )
    try:
        yield service
    finally:
        await service.close()


async def bands_in_force(settings: Settings, gallery: Gallery) -> tuple[str, Bands]:
    """The model pack's name and the bands for the gallery's size, without loading the models
    (the pack's files are hashed to find its calibration)."""
    pack = await asyncio.to_thread(resolve_model_pack, settings.model_dir)
    calibration = load_calibration(pack.name, pack.recognizer_sha256, settings.data_dir)
    policy = BandPolicy(settings, calibration, pack.name)
    return pack.name, policy.bands_for(await gallery.gallery_size(pack.name))
