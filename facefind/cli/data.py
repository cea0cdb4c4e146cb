"""Data commands: the schema (migrate), moving a gallery between deployments (gallery export /
import), and backing up and restoring the embedded database (backup / restore)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from facefind.access.actors import Requester
from facefind.access.audit_key import load_audit_key
from facefind.cli.common import open_gallery, witness_gallery
from facefind.runtime.database import open_pool, prepare
from facefind.runtime.settings import Settings
from gallery import Gallery
from recognition.models import resolve_model_pack


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    key = load_audit_key(settings)
    db = await prepare(settings, key, actor=Requester.cli().actor)
    print("applied: " + ", ".join(db.applied) if db.applied else "database is up to date")
    if db.runtime_role is not None:
        print(f"the application connects as role {db.runtime_role.name}")
    pool = await open_pool(db, key, max_size=1)
    try:
        gallery = Gallery(pool, audit_key=key, owner_dsn=db.owner_url)
        built = await gallery.indexes.restore(Requester.cli().actor)
        await witness_gallery(settings, gallery)
    finally:
        await pool.close()
    if built:
        print("built the vector indexes an interrupted load left out: " + ", ".join(built))
    return 0


async def cmd_gallery(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facefind.enroll.transfer import (
        TransferPathError,
        TransferRefused,
        check_export_path,
        check_import_path,
        export_gallery,
        import_gallery,
        read_manifest,
    )
    from recognition.pipeline import EMBEDDING_RECIPE

    try:  # before any work, so a mistyped path costs nothing
        if args.action == "export":
            await asyncio.to_thread(check_export_path, args.file, overwrite=args.force)
        else:
            await asyncio.to_thread(check_import_path, args.file)
    except TransferPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pack = await asyncio.to_thread(resolve_model_pack, settings.model_dir)
    actor = Requester.cli().actor
    async with open_gallery(settings) as gallery:
        await gallery.models.register(pack.name, pack.detector_sha256, pack.recognizer_sha256)
        try:
            if args.action == "export":
                with tqdm(unit="face", disable=args.quiet, file=sys.stderr) as bar:
                    summary = await export_gallery(
                        gallery,
                        pack,
                        EMBEDDING_RECIPE,
                        args.file,
                        actor,
                        bar.update,
                        overwrite=args.force,
                    )
                print(
                    f"exported {summary.identities} identities and {summary.faces} faces of "
                    f"model {pack.name} to {args.file} (biometric data: keep it as safe as the "
                    "database)"
                )
                return 0
            total = (await asyncio.to_thread(read_manifest, args.file))["faces"]
            with tqdm(total=total, unit="face", disable=args.quiet, file=sys.stderr) as bar:
                summary = await import_gallery(
                    gallery, pack, EMBEDDING_RECIPE, args.file, actor, bar.update
                )
        except TransferRefused as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 1
        except TransferPathError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # a full disk, a file system that refuses: one line, not a trace
            print(f"error: cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    print(
        f"imported {args.file}: {summary.identities_created} new identities, "
        f"{summary.faces_added} new faces (of {summary.identities} and {summary.faces} in the "
        f"file; templates agree to {summary.template_max_diff:.1e})"
    )
    if summary.forgotten_here:
        print(f"{summary.forgotten_here} identities were forgotten here and were not restored")
    return 0


async def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from facefind.backup import BackupRefused, backup
    from facefind.enroll.transfer import TransferPathError
    from gallery.dump import DumpError

    try:
        done = await backup(
            settings,
            args.file,
            actor=Requester.cli().actor,
            with_key=args.with_key,
            overwrite=args.force,
        )
    except TransferPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BackupRefused, DumpError) as exc:
        print(
            f"refused: {exc}" if isinstance(exc, BackupRefused) else f"error: {exc}",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"error: cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"backed up the database ({done.dump_bytes:,} bytes) and the audit witness to {args.file} "
        "(biometric data: keep it as safe as the database)"
    )
    if not done.witness.ok:
        print(f"warning: the audit log did not check: {done.witness.message}", file=sys.stderr)
    if done.head is not None:
        print(
            f"audit log witnessed up to row {done.head.last_id}; keep this line apart from the "
            f"file, and check a restored copy with: facefind audit verify --head "
            f"{done.head.last_id}:{done.head.last_hash[:32]}"
        )
    if done.with_key:
        print(
            f"warning: the file holds the audit key {done.key_id}: whoever has it and can write "
            "to a database restored from it can forge the audit log. Keep it where the "
            "database's administrators cannot read it",
            file=sys.stderr,
        )
    else:
        print(
            f"the audit key ({done.key_id}) is not in the file: a restore needs it. Keep "
            f"{settings.data_dir / 'audit.key'} apart from the backup (or use --with-key)"
        )
    return 0


async def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from facefind.backup import BackupRefused, restore
    from facefind.enroll.transfer import TransferPathError
    from gallery.dump import DumpError

    try:
        done = await restore(settings, args.file, actor=Requester.cli().actor, force=args.force)
    except TransferPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BackupRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    except DumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"restored the database of {done.created_at} from {args.file}")
    if done.key_installed:
        print(f"installed the backup's audit key {done.key_id} in {settings.data_dir}")
    if done.witness_set_aside is not None:
        print(f"the data folder's previous audit witness is kept as {done.witness_set_aside}")
    if done.applied:
        print("applied: " + ", ".join(done.applied))
    print(done.verdict.message)
    return 0 if done.verdict.ok else 1


def add_migrate_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gallery", help="move the gallery between deployments: export FILE / import FILE"
    )
    gsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("export", "write every identity and face (crops, templates, model hashes) to FILE"),
        ("import", "add FILE's identities and faces (same model only; a repeat adds nothing)"),
    ):
        gp = gsub.add_parser(action, help=text)
        gp.add_argument("file", type=Path)
        gp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if action == "export":
            gp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_gallery)

    p = sub.add_parser(
        "backup",
        help="back up the embedded database and the audit witness to FILE (while the bot runs)",
    )
    p.add_argument("file", type=Path)
    p.add_argument(
        "--with-key",
        action="store_true",
        help="also put the audit key in FILE (then keep FILE from the database's administrators)",
    )
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore the embedded database from a backup FILE (the bot and workers stopped), "
        "then verify its audit log",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--force", action="store_true", help="replace a database that is not empty")
    p.set_defaults(func=cmd_restore)
