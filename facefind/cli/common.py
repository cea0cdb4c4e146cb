"""What the command line's commands share: opening the database alone or the whole service."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from facefind.access.actors import Requester
from facefind.access.audit_key import load_audit_key
from facefind.access.witness import Witness
from facefind.runtime.database import open_pool, prepare
from facefind.runtime.settings import Settings
from facefind.scoring.bands import BandPolicy, Bands
from facefind.scoring.calibration_files import load_calibration
from facefind.service import FaceFind
from facefind.user_input import BIGINT_MAX, parse_id
from gallery import Gallery
from recognition.models import resolve_model_pack


@asynccontextmanager
async def open_gallery(settings: Settings, *, witness: bool = True) -> AsyncIterator[Gallery]:
    """The database alone (no models): for user, identity and audit commands. The witness
    learns the audit rows the command wrote."""
    key = load_audit_key(settings)
    db = await prepare(settings, key, actor=Requester.cli().actor)
    pool = await open_pool(db, key, max_size=2)
    try:
        gallery = Gallery(pool, audit_key=key, owner_dsn=db.owner_url)
        yield gallery
        if witness:
            await witness_gallery(settings, gallery)
    finally:
        await pool.close()


async def witness_gallery(settings: Settings, gallery: Gallery) -> None:
    """Move the data folder's audit witness to the log's head (a warning if it cannot)."""
    verdict = await Witness.of(settings).advance(gallery)
    if not verdict.ok:
        print(f"warning: {verdict.message}", file=sys.stderr)


def db_id(text: str) -> int:
    """An id argument, range-checked like every id a person types (PostgreSQL bigint)."""
    value = parse_id(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {BIGINT_MAX}, got {text!r}"
        )
    return value


@asynccontextmanager
async def open_service(
    settings: Settings, *, check_embeddings: bool = True
) -> AsyncIterator[FaceFind]:
    service = await FaceFind.open(
        settings, actor=Requester.cli().actor, check_embeddings=check_embeddings
    )
    try:
        yield service
        await witness_gallery(settings, service.gallery)
    finally:
        await service.close()


async def bands_in_force(settings: Settings, gallery: Gallery) -> tuple[str, Bands]:
    """The model pack's name and the bands for the gallery's size, without loading the models
    (the pack's files are hashed to find its calibration)."""
    pack = await asyncio.to_thread(resolve_model_pack, settings.model_dir)
    calibration = load_calibration(pack.name, pack.recognizer_sha256, settings.data_dir)
    policy = BandPolicy(settings, calibration, pack.name)
    return pack.name, policy.bands_for(await gallery.templates.gallery_size(pack.name))
