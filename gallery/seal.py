"""Sealing audit rows: the key, what a seal covers, and appending one row to the chain."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gallery.queries import audit as q

GENESIS_HASH = "0" * 64
SEALED = "hmac-sha256"
LEGACY = "sha256"
KEY_BYTES = 32


@dataclass(frozen=True)
class AuditKey:
    """The secret that seals audit rows; `id` (not secret) names it in every row it sealed."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) < KEY_BYTES:
            raise ValueError(f"an audit key has at least {KEY_BYTES} bytes")

    @property
    def id(self) -> str:
        return hmac.new(self.secret, b"facefind audit key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, payload: bytes) -> str:
        return hmac.new(self.secret, payload, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never in a log or a traceback
        return f"AuditKey(id={self.id})"


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sealed_payload(
    row_id: int,
    at: datetime,
    actor: str,
    action: str,
    target: str | None,
    details_text: str,
    prev_hash: str,
    key_id: str,
) -> bytes:
    """What a seal covers: every column, as a JSON array (no separator can be forged)."""
    fields = ["facefind-audit-1", row_id, at_text(at), actor, action, target, details_text]
    fields += [prev_hash, key_id]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def legacy_hash(
    row_id: int,
    at: datetime,
    actor: str,
    action: str,
    target: str | None,
    details_text: str,
    prev_hash: str,
) -> str:
    """The hash the pre-0004 trigger computed (its audit_payload function), recomputed here."""
    payload = "\n".join(
        [prev_hash, str(row_id), at_text(at), actor, action, target or "", details_text]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def append_sealed(
    con: Any,
    key: AuditKey,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
) -> tuple[int, str]:
    """Append one sealed row inside the caller's transaction; returns its id and hash.

    The lock is held to commit, so the head read here is still the head when the row commits.
    """
    if not con.is_in_transaction():
        raise RuntimeError("an audit row is appended inside a transaction")
    await con.execute(q.AUDIT_LOCK, q.AUDIT_LOCK_ID)
    head = await con.fetchrow(q.AUDIT_NEXT, details)
    row_id = int(head["last_id"] or 0) + 1
    prev = head["last_hash"] or GENESIS_HASH
    at: datetime = head["now"]
    seal = key.seal(
        sealed_payload(row_id, at, actor, action, target, head["details_text"], prev, key.id)
    )
    await con.execute(
        q.AUDIT_APPEND, row_id, at, actor, action, target, head["details_text"], prev, seal, key.id
    )
    return row_id, seal


class AuditKeyMismatch(RuntimeError):
    """The log was sealed with another key: writing on would break the chain for good."""


async def check_audit_key(con: Any, key: AuditKey) -> None:
    """Refuse to write with a key other than the one that sealed the log so far."""
    if not await con.fetchval(q.AUDIT_SEALED_SCHEME):
        return
    expected = await con.fetchval(q.AUDIT_LAST_KEY_ID)
    if expected is not None and expected != key.id:
        raise AuditKeyMismatch(
            f"the audit log is sealed with key {expected}, and this facefind has key {key.id}: "
            "restore the audit key that wrote it (audit.key in FACEFIND_DATA_DIR, or "
            "FACEFIND_AUDIT_KEY) from your backup; see docs/operations.md"
        )
