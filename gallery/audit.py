"""The audit log: verifying the hash chain and reading recent rows."""

from __future__ import annotations

import hashlib
from typing import Any

from gallery import queries as q
from gallery.base import GalleryBase
from gallery.records import AuditCheck

GENESIS_HASH = "0" * 64


class AuditStore(GalleryBase):
    async def verify_audit_chain(self) -> AuditCheck:
        """Recompute every row's hash here, independently of the database trigger."""
        prev = GENESIS_HASH
        count = 0
        async with self.pool.acquire() as con, con.transaction(isolation="repeatable_read"):
            async for row in con.cursor(q.AUDIT_CHAIN):
                count += 1
                if row["prev_hash"] != prev:
                    return AuditCheck(False, count, row["id"], "previous-hash link broken")
                payload = "\n".join(
                    [
                        row["prev_hash"],
                        str(row["id"]),
                        row["at_text"],
                        row["actor"],
                        row["action"],
                        row["target"] or "",
                        row["details_text"],
                    ]
                )
                if hashlib.sha256(payload.encode()).hexdigest() != row["hash"]:
                    return AuditCheck(False, count, row["id"], "row content does not match hash")
                prev = row["hash"]
        return AuditCheck(True, count)

    async def recent_audit(self, limit: int = 50) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(q.AUDIT_RECENT, limit)]
