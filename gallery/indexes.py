"""The HNSW indexes searches walk: a large load drops them (as the schema owner) and builds them
once after it, each from its definition in the code."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import asyncpg

from gallery.database import Database
from gallery.queries import bulk as q

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VectorIndex:
    name: str
    definition: str  # CREATE INDEX ..., as the server describes it (pg_indexes)
    bytes: int


class VectorIndexes:
    """The vector indexes, and those a load deferred (`deferred_indexes`)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def defer(self, actor: str) -> list[str]:
        """Drop the HNSW indexes for a large load, keeping their names to rebuild them.

        Only the indexes facefind defines (q.VECTOR_INDEX_DEFINITIONS) are dropped: they are
        built again from those definitions, never from what a table holds. Dropping is the
        schema owner's: without its connection (a runtime role alone) nothing is dropped and
        the load goes into the indexes as they are, slower but complete."""
        names: list[str] = []
        try:
            async with self.db.owner_transaction() as con:
                for r in await con.fetch(q.VECTOR_INDEXES):
                    if r["indexname"] not in q.VECTOR_INDEX_DEFINITIONS:
                        logger.warning(
                            "index %s is not one facefind builds: kept through the load",
                            r["indexname"],
                        )
                        continue
                    await con.execute(q.DEFERRED_INDEX_ADD, r["indexname"], actor)
                    await con.execute(q.drop_index(r["indexname"]))
                    names.append(r["indexname"])
                if names:
                    await self.db.audit(actor, "index.defer", None, {"indexes": names}, con=con)
        except asyncpg.InsufficientPrivilegeError:
            logger.warning(
                "this role may not drop the vector indexes: loading with them in place (slower; "
                "set DATABASE_OWNER_URL for large loads)"
            )
            return []
        return names

    async def present(self) -> list[VectorIndex]:
        """The HNSW indexes that searches walk, with their definitions and sizes."""
        return [
            VectorIndex(r["indexname"], r["indexdef"], int(r["bytes"]))
            for r in await self.db.pool.fetch(q.VECTOR_INDEXES)
        ]

    async def deferred(self) -> list[str]:
        return [r["name"] for r in await self.db.pool.fetch(q.DEFERRED_INDEXES)]

    async def restore(self, actor: str, *, timings: dict[str, float] | None = None) -> list[str]:
        """Build the indexes a load deferred (also one an interrupted load left behind), each
        from its definition in the code, looked up by the name the table keeps.

        `timings`, when given, receives each built index's seconds."""
        built = []
        for name in await self.deferred():
            definition = q.VECTOR_INDEX_DEFINITIONS.get(name)
            if definition is None:
                logger.warning(
                    "deferred index %s is not one facefind defines: not built (delete its row "
                    "from deferred_indexes)",
                    name,
                )
                continue
            logger.info("building index %s", name)
            started = time.perf_counter()
            try:
                async with self.db.owner_transaction() as con:
                    await con.execute(definition)
                    await con.execute(q.DEFERRED_INDEX_DONE, name)
                    await self.db.audit(actor, "index.build", None, {"index": name}, con=con)
            except asyncpg.InsufficientPrivilegeError:
                logger.warning(
                    "index %s waits to be built by its owner: run `facefind migrate`", name
                )
                continue
            built.append(name)
            seconds = time.perf_counter() - started
            logger.info("built index %s in %.0f s", name, seconds)
            if timings is not None:
                timings[name] = seconds
        return built
