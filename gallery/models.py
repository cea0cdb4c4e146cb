"""Model packs the gallery's embeddings were made with: a name stands for one pair of files."""

from __future__ import annotations

import logging

from gallery.database import Database
from gallery.queries import identities as q

logger = logging.getLogger(__name__)


class ModelMismatch(RuntimeError):
    """A model name is recorded with other file hashes: embeddings are not comparable."""


class Models:
    """The model packs by name, with the hashes of their files."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(
        self, name: str, detector_sha256: str, recognizer_sha256: str, dim: int = 512
    ) -> None:
        """Record a model's hashes on first use; refuse a name whose files changed."""
        async with self.db.transaction() as con:
            await con.execute(q.MODEL_INSERT, name, detector_sha256, recognizer_sha256, dim)
            row = await con.fetchrow(q.MODEL_GET, name)
        assert row is not None
        if row["recognizer_sha256"] != recognizer_sha256 or row["dim"] != dim:
            raise ModelMismatch(
                f"model {name!r} is recorded with recognizer {row['recognizer_sha256'][:12]}…, "
                f"but the loaded file is {recognizer_sha256[:12]}…: embeddings would not be "
                "comparable. Use a different model directory name, or re-embed the gallery."
            )
        if row["detector_sha256"] != detector_sha256:
            logger.warning("model %s: detector file differs from the one first recorded", name)
