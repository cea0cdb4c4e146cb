"""Data commands: moving a gallery between deployments (gallery export / import)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from facefind.actors import Requester
from facefind.cli_common import open_gallery
from facefind.settings import Settings
from recognition.models import resolve_model_pack


async def cmd_gallery(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facefind.transfer import (
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
        await gallery.register_model(pack.name, pack.detector_sha256, pack.recognizer_sha256)
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
