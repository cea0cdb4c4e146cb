"""The gallery: one object for all database access, composed of one store per area."""

from __future__ import annotations

import logging

from gallery import queries as q
from gallery.audit import AuditStore
from gallery.bulk import BulkStore
from gallery.identities import IdentityStore
from gallery.inbox import InboxStore
from gallery.jobs import JobStore
from gallery.lookups import LookupStore
from gallery.search import SearchStore
from gallery.users import UserStore

logger = logging.getLogger(__name__)


class ModelMismatch(RuntimeError):
    """A model name is recorded with other file hashes: embeddings are not comparable."""


class Gallery(
    UserStore, IdentityStore, BulkStore, SearchStore, LookupStore, JobStore, InboxStore, AuditStore
):
    """All database access (see each store for its area)."""

    # --- models ---------------------------------------------------------------------------
    async def register_model(
        self, name: str, detector_sha256: str, recognizer_sha256: str, dim: int = 512
    ) -> None:
        """Record a model's hashes on first use; refuse a name whose files changed."""
        async with self.transaction() as con:
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
