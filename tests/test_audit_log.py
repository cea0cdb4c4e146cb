"""The audit trail against whoever administers the database: sealed rows and the witness.

Each attack runs as the PostgreSQL superuser (the conftest gallery connects as one), the way
the outside drive did it; `facefind audit verify` must FAIL every time, saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from facefind.access.witness import Witness, verify
from gallery import (
    DEFAULT_RUNTIME_ROLE,
    AuditKey,
    Gallery,
    create_pool,
    migrate,
)
from gallery.db import default_migrations_dir, load_migrations
from gallery.queries import audit as audit_sql
from tests.conftest import app_dsn

# What an administrator with the database's own tools can do: the old trigger's hash function,
# recreated, then every row from `first` on rewritten and re-hashed in order.


OLD_AUDIT_PAYLOAD = """
CREATE OR REPLACE FUNCTION audit_payload(p_id bigint, p_at timestamptz, p_actor text,
    p_action text, p_target text, p_details jsonb, p_prev text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_prev || E'\\n' || p_id::text || E'\\n'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\\n'
        || p_actor || E'\\n' || p_action || E'\\n' || coalesce(p_target, '') || E'\\n'
        || p_details::text
$$"""
REHASH_FROM = """
DO $$
DECLARE
    r record;
    prev text := NULL;
BEGIN
    FOR r IN SELECT * FROM audit_log WHERE id >= {first} ORDER BY id LOOP
        prev := coalesce(prev, r.prev_hash);
        UPDATE audit_log SET prev_hash = prev, scheme = {scheme},
            hash = encode(sha256(convert_to(audit_payload(r.id, r.at, r.actor, r.action,
                                            r.target, r.details, prev), 'UTF8')), 'hex')
        WHERE id = r.id RETURNING hash INTO prev;
    END LOOP;
END
$$"""


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    return Witness(tmp_path / "audit-witness.json")


async def write_rows(gallery: Gallery, n: int, prefix: str = "row") -> None:
    for i in range(n):
        await gallery.audit.append(
            "tg:7", "test.action", f"{prefix} {i}", {"i": i, "name": "Олена"}
        )


async def as_administrator(gallery: Gallery, *statements: str) -> None:
    """Switch the append-only guards off, run the statements, switch them on again."""
    async with gallery.pool.acquire() as con:
        await con.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        try:
            for statement in statements:
                await con.execute(statement)
        finally:
            await con.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def row_id(gallery: Gallery, target: str) -> int:
    value = await gallery.pool.fetchval("SELECT id FROM audit_log WHERE target = $1", target)
    assert value is not None
    return int(value)


# --- the chain and the witness ----------------------------------------------------------------
async def test_sealed_rows_verify_and_the_witness_follows_them(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    await write_rows(gallery, 3, "later")
    verdict = await verify(gallery, witness)
    assert verdict.ok, verdict.message
    assert verdict.message.startswith("audit chain OK")
    head = await gallery.audit.head()
    assert head is not None
    assert witness.head_for(head.genesis) == head  # verify moved the witness to the new head
    assert stat.S_IMODE(witness.path.stat().st_mode) == 0o600
    # the migrations before 0004 were recorded with plain hashes; the sealed rows bind them
    before_sealing = [m for m in load_migrations() if m.version < 4]
    assert verdict.check is not None and verdict.check.legacy_rows == len(before_sealing)


async def test_cutting_the_tail_fails_verify_and_stops_the_witness(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 6)
    assert (await witness.advance(gallery)).ok
    saved = witness.path.read_text()
    last = await row_id(gallery, "row 5")
    await as_administrator(gallery, f"DELETE FROM audit_log WHERE id > {last - 3}")
    # what remains is a perfect chain: only the witness can tell
    assert (await gallery.audit.verify_chain()).ok
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"the log ends at row {last - 3}" in verdict.message
    assert f"ending with row {last}" in verdict.message and "cut" in verdict.message
    refused = await witness.advance(gallery)
    assert not refused.ok and "cut" in refused.message
    assert witness.path.read_text() == saved  # the witness keeps what it saw


async def test_a_rewritten_row_fails_verify(gallery: Gallery, witness: Witness) -> None:
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    target = await row_id(gallery, "row 2")
    await as_administrator(gallery, f"UPDATE audit_log SET actor = 'tg:666' WHERE id = {target}")
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target}" in verdict.message
    assert "does not match its seal" in verdict.message


@pytest.mark.parametrize("scheme", ["'hmac-sha256'", "'sha256'"])
async def test_a_history_rehashed_with_the_databases_own_functions_fails_verify(
    gallery: Gallery, witness: Witness, scheme: str
) -> None:
    """The attack that passed before: rewrite a row, recompute every later hash with the
    database's audit_payload. Marked as sealed rows, the seals do not check; marked as old
    plain-hash rows, they cannot come after sealed ones."""
    await write_rows(gallery, 5)
    assert (await witness.advance(gallery)).ok
    target = await row_id(gallery, "row 1")
    await as_administrator(
        gallery,
        OLD_AUDIT_PAYLOAD,
        f"UPDATE audit_log SET details = '{{\"i\": 99}}' WHERE id = {target}",
        REHASH_FROM.format(first=target, scheme=scheme),
    )
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target}" in verdict.message
    expected = "does not match its seal" if "hmac" in scheme else "plain SHA-256 hash after"
    assert expected in verdict.message


async def test_a_whole_log_rehashed_as_plain_rows_fails_verify(
    gallery: Gallery, witness: Witness
) -> None:
    await write_rows(gallery, 4)
    assert (await witness.advance(gallery)).ok
    await as_administrator(
        gallery,
        OLD_AUDIT_PAYLOAD,
        "UPDATE audit_log SET actor = 'tg:666' WHERE target = 'row 0'",
        REHASH_FROM.format(first=1, scheme="'sha256'"),
    )
    # every row now checks as a plain hash chain, and none is sealed
    chain = await gallery.audit.verify_chain()
    assert not chain.ok and chain.problem is not None and "no row is sealed" in chain.problem
    assert not (await verify(gallery, witness)).ok


async def test_a_removed_middle_row_breaks_the_link(gallery: Gallery, witness: Witness) -> None:
    await write_rows(gallery, 5)
    target = await row_id(gallery, "row 2")
    await as_administrator(gallery, f"DELETE FROM audit_log WHERE id = {target}")
    verdict = await verify(gallery, witness)
    assert not verdict.ok
    assert f"BROKEN at row {target + 1}" in verdict.message
    assert "does not link to the row before it" in verdict.message


async def test_the_database_itself_refuses_rows_that_do_not_continue_the_chain(
    gallery: Gallery,
) -> None:
    await write_rows(gallery, 2)
    async with gallery.pool.acquire() as con:
        last = await con.fetchrow("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        forged = (
            "INSERT INTO audit_log (id, at, actor, action, details, prev_hash, hash, scheme, "
            "key_id) VALUES ($1, now(), 'tg:666', 'forged', '{}', $2, 'f00', $3, 'k')"
        )
        for values in (
            (last["id"] + 1, "0" * 64, "hmac-sha256"),
            (last["id"] + 1, last["hash"], "sha256"),
        ):
            with pytest.raises(asyncpg.CheckViolationError):
                await con.execute(forged, *values)
        with pytest.raises(asyncpg.CheckViolationError):  # the same head, written twice
            await con.execute(forged, last["id"], last["hash"], "hmac-sha256")


async def test_rows_from_before_sealing_are_bound_by_the_first_sealed_row(
    fresh_dsn: str, audit_key: AuditKey, tmp_path: Path
) -> None:
    """A database from before migration 0004, with plain-hash rows, upgraded."""
    old = tmp_path / "old"
    old.mkdir()
    for name in ("0001_init.sql", "0002_hnsw_build_quality.sql"):
        shutil.copy(default_migrations_dir() / name, old / name)
    await migrate(fresh_dsn, old, audit_key=audit_key)
    con = await asyncpg.connect(fresh_dsn)
    try:
        for i in range(3):
            await con.execute(audit_sql.AUDIT_INSERT_LEGACY, "tg:7", "old.action", f"old {i}", "{}")
    finally:
        await con.close()
    await migrate(fresh_dsn, audit_key=audit_key)
    pool = await create_pool(fresh_dsn)
    try:
        gallery = Gallery(pool, audit_key=audit_key)
        check = await gallery.audit.verify_chain()
        # 0001, 0002, three old rows, then the other migrations before 0004
        legacy = 3 + len([m for m in load_migrations() if m.version < 4])
        assert check.ok and check.legacy_rows == legacy
        # rewriting an old row and re-hashing the old rows consistently is not enough: the
        # first sealed row names the old last hash, under the key
        target = await row_id(gallery, "old 1")
        await as_administrator(
            gallery,
            OLD_AUDIT_PAYLOAD,
            f"UPDATE audit_log SET actor = 'tg:666' WHERE id = {target}",
            REHASH_FROM.format(first=target, scheme="'sha256'").replace(
                "WHERE id >=", "WHERE scheme = 'sha256' AND id >="
            ),
        )
        broken = await gallery.audit.verify_chain()
        assert not broken.ok and broken.first_bad_id == legacy + 1  # the first sealed row
        assert broken.problem is not None and "does not link" in broken.problem
    finally:
        await pool.close()


WRITER = """
import asyncio, sys
from facefind.access.witness import Witness
from gallery import AuditKey, Gallery, create_pool

async def main(dsn, key, path, name):
    pool = await create_pool(dsn, max_size=2)
    gallery = Gallery(pool, audit_key=AuditKey(bytes.fromhex(key)))
    for i in range(8):
        await gallery.audit.append("tg:7", "test.parallel", f"{name} {i}")
        verdict = await Witness(__import__("pathlib").Path(path)).advance(gallery)
        assert verdict.ok, verdict.message
    await pool.close()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_several_processes_keep_one_chain_and_one_witness(
    gallery: Gallery, witness: Witness, fresh_dsn: str
) -> None:
    key = gallery.db.require_key().secret.hex()
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, fresh_dsn, key, str(witness.path), f"p{n}"
        )
        for n in range(4)
    ]
    codes = [await asyncio.wait_for(w.wait(), 120) for w in writers]
    assert codes == [0, 0, 0, 0]
    head = await gallery.audit.head()
    assert head is not None and witness.head_for(head.genesis) == head
    data = json.loads(witness.path.read_text())
    assert data["key_id"] == gallery.db.require_key().id
    verdict = await verify(gallery, witness)
    assert verdict.ok, verdict.message
    assert not [p for p in witness.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_facefind_audit_verify_from_the_command_line(fresh_dsn: str, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DATABASE_URL=app_dsn(fresh_dsn),
        DATABASE_OWNER_URL=fresh_dsn,
        FACEFIND_DATA_DIR=str(tmp_path),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "facefind", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    migrated = cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"connects as role {DEFAULT_RUNTIME_ROLE}" in migrated.stdout
    ok = cli("audit", "verify")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("audit chain OK")
    last_row = ok.stdout.split("last row ")[1].split()
    checkpoint = f"{last_row[0]}:{last_row[1]}"
    assert cli("audit", "verify", "--head", checkpoint).returncode == 0
    forged = cli("audit", "verify", "--head", f"{last_row[0]}:{'0' * 32}")
    assert forged.returncode == 1 and "not the 0000000000000000" in forged.stdout
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"""
import asyncio, asyncpg
async def cut():
    con = await asyncpg.connect({fresh_dsn!r})
    await con.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await con.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    await con.close()
asyncio.run(cut())
""",
        ],
        check=True,
        timeout=60,
    )
    cut = cli("audit", "verify")
    assert cut.returncode == 1
    assert "rows were cut" in cut.stdout
