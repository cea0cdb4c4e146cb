"""The audit witness: what keeps the audit log honest from outside the database.

The witness (audit-witness.json in the data folder) remembers the chain's head: row count, last
row and its seal. It only moves forward over rows that check under the key, so a log cut back,
or re-hashed, no longer contains what the witness remembers.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facefind.runtime.settings import Settings
from gallery import AuditCheck, AuditHead, Gallery

logger = logging.getLogger(__name__)

WITNESS_FILE = "audit-witness.json"
# the shortest prefix of a seal that a person may quote back (--head); 64 bits
HEAD_PREFIX_MIN = 16


@dataclass(frozen=True)
class Verdict:
    """The outcome of `facefind audit verify` (or of a witness update)."""

    ok: bool
    message: str
    check: AuditCheck | None = None


_process_locks: dict[Path, asyncio.Lock] = {}


class Witness:
    """The chain heads this data folder has seen, one per chain (named by its first row)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    @classmethod
    def of(cls, settings: Settings) -> Witness:
        return cls(settings.data_dir / WITNESS_FILE)

    def read(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "chains": {}}
        return data

    def head_for(self, genesis: str) -> AuditHead | None:
        entry = self.read().get("chains", {}).get(genesis)
        if entry is None:
            return None
        return AuditHead(genesis, int(entry["rows"]), int(entry["last_id"]), entry["last_hash"])

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """One writer across threads and processes: an asyncio lock, then a file lock."""
        lock = _process_locks.setdefault(self.lock_path, asyncio.Lock())
        async with lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    async def advance(self, gallery: Gallery) -> Verdict:
        """Check the rows written since the witnessed head, then remember the new head.

        Nothing is written when the check fails: the witness keeps what it saw, and the failure
        is returned for the caller to raise the alarm."""
        key = gallery.db.require_key()
        async with self._locked():
            data = self.read()
            if data.get("key_id") not in (None, key.id):
                return Verdict(False, _other_key(data["key_id"], key.id))
            head = await gallery.audit.head()
            if head is None:
                return Verdict(True, "the audit log is empty")
            seen = self.head_for(head.genesis)
            check = await gallery.audit.verify_chain(since=seen)
            if not check.ok or check.head is None:
                return Verdict(False, _broken(check), check)
            if seen is None or check.head.last_id > seen.last_id:
                data["key_id"] = key.id
                data.setdefault("chains", {})[head.genesis] = {
                    "rows": check.head.rows,
                    "last_id": check.head.last_id,
                    "last_hash": check.head.last_hash,
                    "witnessed_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
                data["version"] = 1
                await asyncio.to_thread(self._write, data)
            return Verdict(True, f"witnessed {check.head.rows} rows", check)


async def verify(
    gallery: Gallery, witness: Witness, *, expect: tuple[int, str] | None = None
) -> Verdict:
    """Every seal and link under the key, the witnessed head still in the chain, and (with
    `expect`) a head an admin received from the bot; the witness then moves forward."""
    key = gallery.db.require_key()
    problems: list[str] = []
    full = await gallery.audit.verify_chain()
    if not full.ok:
        problems.append(_broken(full))
    head = await gallery.audit.head()
    if head is None:
        return Verdict(False, "the audit log is empty: a migrated database always has rows")
    known = witness.read()
    seen = witness.head_for(head.genesis)
    if known.get("key_id") not in (None, key.id):
        problems.append(_other_key(known["key_id"], key.id))
    elif seen is None:
        chains = known.get("chains", {})
        problems.append(
            f"no witness for this audit log in {witness.path} "
            + (
                f"(it knows {len(chains)} other chain(s): a data folder of another database, or "
                "the log's first rows were replaced)"
                if chains
                else "(restore it from backup; a cut tail cannot be detected without it)"
            )
        )
    else:
        against = await gallery.audit.verify_chain(since=seen)
        if not against.ok and against.problem not in (full.problem, None):
            problems.append(_broken(against))
    if expect is not None:
        row_id, prefix = expect
        row = await gallery.audit.row(row_id)
        if row is None or not row["hash"].startswith(prefix.lower()):
            found = "is missing" if row is None else f"has seal {row['hash'][:16]}…"
            problems.append(f"row {row_id} {found}, not the {prefix[:16]}… the check-point named")
    if problems or full.head is None or seen is None:
        return Verdict(False, "\n".join(problems), full)
    advanced = await witness.advance(gallery)
    if not advanced.ok:
        return advanced
    legacy = f" ({full.legacy_rows} from before sealing)" if full.legacy_rows else ""
    return Verdict(
        True,
        f"audit chain OK: {full.rows} rows{legacy}, sealed with key {key.id}, "
        f"witnessed up to row {seen.last_id}; last row {full.head.last_id} "
        f"{full.head.last_hash[:32]}",
        full,
    )


def parse_head(text: str) -> tuple[int, str]:
    """'ROW:SEAL-PREFIX' as an admin copies it from the bot's daily check-point."""
    row, _, prefix = text.partition(":")
    if not row.isascii() or not row.isdigit() or len(prefix) < HEAD_PREFIX_MIN:
        raise ValueError(f"expected ROW:SEAL with {HEAD_PREFIX_MIN}+ hex characters")
    int(prefix, 16)
    return int(row), prefix


def _broken(check: AuditCheck) -> str:
    where = f"row {check.first_bad_id}" if check.first_bad_id is not None else "the log"
    return f"audit chain BROKEN at {where}: {check.problem}"


def _other_key(witness_key: str, key_id: str) -> str:
    return (
        f"the witness was written under key {witness_key}, and this is key {key_id}: restore the "
        "audit key of this data folder (docs/operations.md)"
    )
